//! The exceptions of `reseau`, and how Rust errors become them.
//!
//! Protocol mistakes are [`ProtocolError`]s, a `ValueError`: the bytes or
//! the line are wrong, not the network. Network failures are `OSError`s
//! (`ConnectionRefusedError`, `TimeoutError`, ...), from the `io::Error`
//! itself, as the course's `except OSError` expects.

use std::io;

use pyo3::create_exception;
use pyo3::exceptions::{PyOSError, PyOverflowError, PyTimeoutError, PyValueError};
use pyo3::prelude::*;
use reseau_core::adder::native::ErrorCode;
use reseau_core::adder::pickle::PickleError as CorePickleError;
use reseau_core::adder::{EncodeError, Format};
use reseau_core::frame::FrameError;
use reseau_host::adder::SumError;
use reseau_host::tls::client::{CaError, TlsError};

// TLS failures raise the classes of Python's own `ssl` module, as the
// course's `ssl.create_default_context(cafile=...)` clients do, so that
// `except ssl.SSLCertVerificationError` (a `ValueError` and an `OSError`)
// and `except ssl.SSLError` catch them the same way.
pyo3::import_exception!(ssl, SSLError);
pyo3::import_exception!(ssl, SSLCertVerificationError);

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
        SumError::Tls { addr, error } => tls(&addr, *error),
        SumError::Closed(_) | SumError::Refused(_) => SumRefused::new_err(error.to_string()),
        SumError::BadReply | SumError::NotAnInt(_) => ProtocolError::new_err(error.to_string()),
    }
}

/// A failed TLS handshake with `addr`: `ssl.SSLCertVerificationError` when
/// a check of the server's certificate failed (the message says which:
/// unknown issuer, name mismatch, expired), `TimeoutError` for a
/// handshake that never ends, `OSError` for the socket's own failures,
/// `ssl.SSLError` for the rest (an alert, a server that does not speak
/// TLS).
pub fn tls(addr: &str, error: TlsError) -> PyErr {
    let message = format!("TLS with {addr} failed: {error}");
    match error {
        TlsError::Certificate { .. } => SSLCertVerificationError::new_err(message),
        TlsError::Timeout => PyTimeoutError::new_err(message),
        TlsError::Io(error) => PyErr::from(error),
        TlsError::BadName(_) => PyValueError::new_err(message),
        TlsError::Alert(_) | TlsError::Closed | TlsError::Protocol(_) => SSLError::new_err(message),
    }
}

/// A `ca` that cannot be used: the `OSError` of a file that cannot be read
/// (`FileNotFoundError`, ...), as `ssl.create_default_context(cafile=...)`
/// raises; `ssl.SSLError` for a file with no valid certificate.
pub fn ca(error: CaError) -> PyErr {
    let message = error.to_string();
    match error {
        CaError::Read { error, .. } => PyErr::from(io::Error::new(error.kind(), message)),
        _ => SSLError::new_err(message),
    }
}

/// An `OSError` that says `what` is closed (a closed chat, a stopped server).
pub fn closed(what: &str) -> PyErr {
    PyOSError::new_err(format!("{what} is closed"))
}
