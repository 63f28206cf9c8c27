//! The exceptions of `reseau`, and how Rust errors become them.
//!
//! Protocol mistakes are [`ProtocolError`]s, a `ValueError`: the bytes or
//! the line are wrong, not the network. Network failures are `OSError`s
//! (`ConnectionRefusedError`, `TimeoutError`, ...), from the `io::Error`
//! itself, as the course's `except OSError` expects.

use pyo3::create_exception;
use pyo3::exceptions::{PyOSError, PyOverflowError, PyValueError};
use pyo3::prelude::*;
use reseau_core::adder::native::ErrorCode;
use reseau_core::adder::pickle::PickleError as CorePickleError;
use reseau_core::adder::{EncodeError, Format};
use reseau_core::frame::FrameError;
use reseau_host::adder::SumError;

create_exception!(
    reseau,
    ProtocolError,
    PyValueError,
    "Bytes or a line that break one of the course's protocols (a ValueError)."
);
create_exception!(
    reseau,
    FrameTooLarge,
    ProtocolError,
    "A frame header announces more payload than the limit allows, or a payload is longer than a 4-byte length can say."
);
create_exception!(
    reseau,
    MalformedRequest,
    ProtocolError,
    "An adder request payload is not a list of ints in the pickle or the native format."
);
create_exception!(
    reseau,
    PickleError,
    MalformedRequest,
    "A pickle payload is not a list of ints, or uses an opcode outside the safe subset (GLOBAL, REDUCE, strings, ...)."
);
create_exception!(
    reseau,
    CommandError,
    ProtocolError,
    "A chat line that is no valid command, or a message the chat's rules refuse (no peer joined, too long for one datagram)."
);
create_exception!(
    reseau,
    SumRefused,
    ProtocolError,
    "The adder server refused the request: a native error reply, or (course format) it closed the connection without a reply."
);

/// A frame error as [`FrameTooLarge`].
pub fn frame(error: FrameError) -> PyErr {
    FrameTooLarge::new_err(error.to_string())
}

/// A pickle error as [`PickleError`] (an overflow of the 128-bit sum as
/// `OverflowError`).
pub fn pickle(error: CorePickleError) -> PyErr {
    match error {
        CorePickleError::Overflow => PyOverflowError::new_err(error.to_string()),
        _ => PickleError::new_err(error.to_string()),
    }
}

/// A native error code, from decoding a payload: [`MalformedRequest`], or
/// `OverflowError` for a sum outside the 64-bit range.
pub fn native(code: ErrorCode) -> PyErr {
    match code {
        ErrorCode::Overflow => PyOverflowError::new_err(code.to_string()),
        ErrorCode::Malformed | ErrorCode::Version => {
            MalformedRequest::new_err(format!("native payload: {code}"))
        }
    }
}

/// An int the format cannot carry, as `OverflowError`.
pub fn encode(error: EncodeError) -> PyErr {
    PyOverflowError::new_err(error.to_string())
}

/// An unknown encoding name, as `ValueError`.
pub fn parse_format(encoding: &str) -> PyResult<Format> {
    match encoding {
        "pickle" => Ok(Format::Pickle),
        "native" => Ok(Format::Native),
        other => Err(PyValueError::new_err(format!(
            "encoding {other:?} is not \"pickle\" or \"native\""
        ))),
    }
}

/// What `reseau.sum` raises for each failure of the client.
pub fn sum(error: SumError) -> PyErr {
    match error {
        SumError::Encode(error) => encode(error),
        SumError::TooLong(_) => FrameTooLarge::new_err(error.to_string()),
        SumError::Connect { error, .. } | SumError::Io(error) => PyErr::from(error),
        SumError::Closed(_) | SumError::Refused(_) => SumRefused::new_err(error.to_string()),
        SumError::BadReply | SumError::NotAnInt(_) => ProtocolError::new_err(error.to_string()),
    }
}

/// An `OSError` that says `what` is closed (a closed chat, a stopped server).
pub fn closed(what: &str) -> PyErr {
    PyOSError::new_err(format!("{what} is closed"))
}
