//! Frames and the adder's payloads: `encode_frame`, `FrameDecoder`,
//! `encode_sum_request`, `decode_sum_request`, `sum_request`.
//!
//! Every rule is `reseau_core`'s ([`reseau_core::frame`],
//! [`reseau_core::adder`]); this module only moves bytes and ints between
//! Python and those state machines, without the GIL when the input is large.

use std::sync::Mutex;

use pyo3::exceptions::PyOverflowError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyBytes, PyList, PyTuple};
use reseau_core::adder::native::{NativeDecoder, NativeSummer};
use reseau_core::adder::pickle::{PickleDecoder, PickleSummer};
use reseau_core::adder::{Format, RequestEncoder};
use reseau_core::frame::{self, DEFAULT_MAX_FRAME, HEADER_LEN, Item};
use reseau_core::writer::Writer;

use crate::errors;

const _: () = assert!(DEFAULT_MAX_FRAME == 67_108_864);

/// Inputs at least this long are parsed without the GIL: below it, releasing
/// and taking it back costs more than it frees.
const DETACH_AT: usize = 64 * 1024;

/// A frame: `struct.pack('I', len(payload)) + payload`.
///
/// The 4-byte little-endian length of the course's adder, then the payload.
/// Raises FrameTooLarge if the payload is longer than 4 bytes can say.
#[pyfunction]
#[pyo3(signature = (payload, /))]
pub fn encode_frame<'py>(py: Python<'py>, payload: PyBackedBytes) -> PyResult<Bound<'py, PyBytes>> {
    let len = u32::try_from(payload.len()).map_err(|_| {
        errors::FrameTooLarge::new_err(format!(
            "a payload of {} bytes is longer than a 4-byte length can say",
            payload.len()
        ))
    })?;
    PyBytes::new_with(py, HEADER_LEN + payload.len(), |buf| {
        let (header, body) = buf.split_at_mut(HEADER_LEN);
        header.copy_from_slice(&frame::encode_header(len));
        body.copy_from_slice(&payload);
        Ok(())
    })
}

struct DecoderState {
    decoder: frame::FrameDecoder,
    /// The payload of the frame being read.
    current: Vec<u8>,
}

/// Cuts a byte stream into frames (4-byte little-endian length, payload).
///
/// Feed it the bytes as they come from recv(), cut anywhere; each call
/// returns the payloads completed so far. A header that announces more than
/// max_frame bytes raises FrameTooLarge, checked on the header alone; the
/// decoder then stays failed, since the stream cannot be re-synchronised
/// (frames completed earlier in the same feed() are lost with it).
#[pyclass(frozen, module = "reseau")]
pub struct FrameDecoder {
    state: Mutex<DecoderState>,
}

#[pymethods]
impl FrameDecoder {
    #[new]
    // A literal, so that Python's signature shows it: DEFAULT_MAX_FRAME.
    #[pyo3(signature = (max_frame = 67108864))]
    fn new(max_frame: u32) -> Self {
        FrameDecoder {
            state: Mutex::new(DecoderState {
                decoder: frame::FrameDecoder::new(max_frame),
                current: Vec::new(),
            }),
        }
    }

    /// The limit on a frame's payload, in bytes (64 MiB by default).
    #[getter]
    fn max_frame(&self) -> u32 {
        self.lock().decoder.max_frame()
    }

    /// True between frames: no byte of a next frame has been fed.
    #[getter]
    fn is_idle(&self) -> bool {
        self.lock().decoder.is_idle()
    }

    /// Feeds the next bytes of the stream; returns the payloads of the
    /// frames they complete (a list of bytes, maybe empty).
    fn feed<'py>(&self, py: Python<'py>, data: PyBackedBytes) -> PyResult<Bound<'py, PyList>> {
        // No Python object is made while the lock is held: making one may
        // run Python code, and another thread waiting for the lock with
        // the GIL would then never get it back.
        let frames = {
            let mut state = self.lock();
            let DecoderState { decoder, current } = &mut *state;
            let mut frames = Vec::new();
            let mut input: &[u8] = &data;
            loop {
                let (used, item) = decoder.decode(input).map_err(errors::frame)?;
                input = input.get(used..).unwrap_or_default();
                match item {
                    Some(Item::Start { len }) => {
                        // Reserve what is here at most: a header alone must
                        // not make us allocate its announced length.
                        *current = Vec::with_capacity((len as usize).min(input.len()));
                    }
                    Some(Item::Data(piece)) => current.extend_from_slice(piece),
                    Some(Item::End) => frames.push(std::mem::take(current)),
                    None => break,
                }
            }
            frames
        };
        PyList::new(py, frames.iter().map(|frame| PyBytes::new(py, frame)))
    }

    fn __repr__(&self) -> String {
        let state = self.lock();
        format!(
            "FrameDecoder(max_frame={}){}",
            state.decoder.max_frame(),
            if state.decoder.is_idle() {
                ""
            } else {
                " <inside a frame>"
            }
        )
    }
}

impl FrameDecoder {
    fn lock(&self) -> std::sync::MutexGuard<'_, DecoderState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One Python int as an i128 (bool counts as 0 or 1, as in `sum`).
fn int_of(item: &Bound<'_, PyAny>) -> PyResult<i128> {
    match item.extract::<i64>() {
        Ok(value) => Ok(i128::from(value)),
        Err(_) => item.extract::<i128>().map_err(|error| {
            if error.is_instance_of::<PyOverflowError>(item.py()) {
                let bits = item
                    .call_method0("bit_length")
                    .and_then(|b| b.extract::<u64>())
                    .unwrap_or_default();
                PyOverflowError::new_err(format!(
                    "an int of {bits} bits does not fit in 128 bits, the most a request carries"
                ))
            } else {
                error
            }
        }),
    }
}

/// Calls `f` with each int of `ints` (a list, a tuple or any iterable),
/// with the GIL, one at a time.
pub fn for_each_int(
    ints: &Bound<'_, PyAny>,
    mut f: impl FnMut(i128) -> PyResult<()>,
) -> PyResult<()> {
    if let Ok(list) = ints.cast::<PyList>() {
        for item in list.iter() {
            f(int_of(&item)?)?;
        }
    } else if let Ok(tuple) = ints.cast::<PyTuple>() {
        for item in tuple.iter() {
            f(int_of(&item)?)?;
        }
    } else {
        for item in ints.try_iter()? {
            f(int_of(&item?)?)?;
        }
    }
    Ok(())
}

/// Encodes `ints` as a request payload in `format`, appended to `out`;
/// returns the payload's length.
pub fn encode_payload(
    ints: &Bound<'_, PyAny>,
    format: Format,
    out: &mut Vec<u8>,
) -> PyResult<usize> {
    /// The encoder writes into this much stack at a time, moved to `out`
    /// when nearly full: one copy per 16 KiB, not one per int.
    const CHUNK: usize = 16 * 1024;
    let start = out.len();
    if let Ok(n) = ints.len() {
        // Most ints take 2 to 5 bytes.
        out.reserve(n.saturating_mul(3));
    }
    let mut chunk = [0u8; CHUNK];
    let mut filled = 0;
    let mut encoder = RequestEncoder::new(format);
    let mut w = Writer::new(&mut chunk);
    encoder.begin(&mut w);
    filled += w.len();
    for_each_int(ints, |value| {
        if CHUNK - filled < RequestEncoder::MAX_WRITE {
            out.extend_from_slice(chunk.get(..filled).unwrap_or_default());
            filled = 0;
        }
        let mut w = Writer::new(chunk.get_mut(filled..).unwrap_or_default());
        encoder.push(value, &mut w).map_err(errors::encode)?;
        filled += w.len();
        Ok(())
    })?;
    if CHUNK - filled < RequestEncoder::MAX_WRITE {
        out.extend_from_slice(chunk.get(..filled).unwrap_or_default());
        filled = 0;
    }
    let mut w = Writer::new(chunk.get_mut(filled..).unwrap_or_default());
    encoder.finish(&mut w);
    filled += w.len();
    out.extend_from_slice(chunk.get(..filled).unwrap_or_default());
    Ok(out.len() - start)
}

/// A whole adder request: the frame of `ints` in the course's pickle
/// (encoding="pickle", byte for byte `pickle.dumps(ints, protocol=2)`) or
/// in reseau's native format (encoding="native", postcard i64s).
///
/// ints is any iterable of ints, read once. An int the format cannot carry
/// (beyond 128 bits for pickle, 64 bits for native) raises OverflowError;
/// a non-int raises TypeError.
#[pyfunction]
#[pyo3(signature = (ints, encoding = "pickle"))]
pub fn encode_sum_request<'py>(
    py: Python<'py>,
    ints: &Bound<'py, PyAny>,
    encoding: &str,
) -> PyResult<Bound<'py, PyBytes>> {
    let format = errors::parse_format(encoding)?;
    let mut out = vec![0u8; HEADER_LEN];
    let len = encode_payload(ints, format, &mut out)?;
    let len = u32::try_from(len).map_err(|_| {
        errors::FrameTooLarge::new_err(format!(
            "a request of {len} bytes is longer than a 4-byte length can say"
        ))
    })?;
    if let Some(header) = out.get_mut(..HEADER_LEN) {
        header.copy_from_slice(&frame::encode_header(len));
    }
    Ok(PyBytes::new(py, &out))
}

/// The ints of a request payload (the frame's payload, without its
/// header), in either format: native if it starts with 0xFE, pickle
/// otherwise.
///
/// Pickles are read without the pickle machine: only the opcodes of a
/// list of ints are accepted, every other one (GLOBAL, REDUCE, ...) raises
/// PickleError, so it is safe on untrusted bytes, unlike `pickle.loads`.
/// A malformed native payload raises MalformedRequest. Large payloads are
/// read without the GIL.
#[pyfunction]
#[pyo3(signature = (payload, /))]
pub fn decode_sum_request<'py>(
    py: Python<'py>,
    payload: PyBackedBytes,
) -> PyResult<Bound<'py, PyList>> {
    let decode = |payload: &[u8]| -> PyResult<Ints> {
        // A pickled int takes 2 bytes or more, a native one 1 or more:
        // reserve for the usual sizes, not the worst case.
        let mut ints = Ints::Small(Vec::with_capacity(payload.len() / 4));
        match Format::of_first_byte(payload.first().copied().unwrap_or_default()) {
            Format::Native => {
                let mut decoder = NativeDecoder::new();
                decoder.feed(payload, |value| ints.push(i128::from(value)));
                decoder.finish().map_err(errors::native)?;
            }
            Format::Pickle => {
                let mut decoder = PickleDecoder::new();
                decoder
                    .feed(payload, |value| {
                        ints.push(value);
                        Ok(())
                    })
                    .map_err(errors::pickle)?;
                decoder.finish().map_err(errors::pickle)?;
            }
        }
        Ok(ints)
    };
    let ints = if payload.len() >= DETACH_AT {
        py.detach(|| decode(&payload))?
    } else {
        decode(&payload)?
    };
    match ints {
        Ints::Small(ints) => PyList::new(py, ints),
        Ints::Big(ints) => PyList::new(py, ints),
    }
}

/// Decoded ints: 64-bit ones while they all fit (the usual case, half
/// the memory and a faster conversion), 128-bit ones from the first that
/// does not.
enum Ints {
    Small(Vec<i64>),
    Big(Vec<i128>),
}

impl Ints {
    #[inline]
    fn push(&mut self, value: i128) {
        match self {
            Ints::Small(ints) => match i64::try_from(value) {
                Ok(value) => ints.push(value),
                Err(_) => {
                    let mut big: Vec<i128> = Vec::with_capacity(ints.capacity());
                    big.extend(ints.iter().map(|&v| i128::from(v)));
                    big.push(value);
                    *self = Ints::Big(big);
                }
            },
            Ints::Big(ints) => ints.push(value),
        }
    }
}

/// The sum of a request payload's ints, in either format, computed while
/// parsing: the list is never built.
///
/// Same checks as decode_sum_request. A pickle's sum is exact up to 128
/// bits; a native payload's sum must fit in 64 bits, as the native reply
/// carries it (OverflowError otherwise). Large payloads are summed without
/// the GIL.
#[pyfunction]
#[pyo3(signature = (payload, /))]
pub fn sum_request(py: Python<'_>, payload: PyBackedBytes) -> PyResult<i128> {
    let sum = |payload: &[u8]| -> PyResult<i128> {
        match Format::of_first_byte(payload.first().copied().unwrap_or_default()) {
            Format::Native => {
                let mut summer = NativeSummer::new();
                summer.feed(payload);
                summer.finish().map(i128::from).map_err(errors::native)
            }
            Format::Pickle => {
                let mut summer = PickleSummer::new();
                summer.feed(payload).map_err(errors::pickle)?;
                summer.finish().map_err(errors::pickle)
            }
        }
    };
    if payload.len() >= DETACH_AT {
        py.detach(|| sum(&payload))
    } else {
        sum(&payload)
    }
}
