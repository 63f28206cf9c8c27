//! Frames and the adder's payloads: `encode_frame`, `FrameDecoder`,
//! `encode_sum_request`, `decode_sum_request`, `decode_sum_request_array`,
//! `sum_request`.
//!
//! Every rule is `reseau_core`'s ([`reseau_core::frame`],
//! [`reseau_core::adder`]); this module only moves bytes and ints between
//! Python and those state machines, without the GIL when the input is large.

use std::sync::Mutex;

use pyo3::exceptions::{PyOverflowError, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyList, PyTuple, PyType};
use reseau_core::adder::{
    Error as AdderError, Format, RequestDecoder, RequestEncoder, RequestSummer,
};
use reseau_core::frame::{self, DEFAULT_MAX_FRAME, HEADER_LEN, Item};
use reseau_core::writer::Writer;

use crate::{errors, list_ints};

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

/// One Python int that did not fit in an i64, as an i128 (the callers
/// tried i64 first: an `__index__` runs once per attempt).
fn big_int(item: &Bound<'_, PyAny>) -> PyResult<i128> {
    item.extract::<i128>().map_err(|error| {
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
    })
}

/// What [`for_each_run`] hands over: machine ints a run at a time, or one
/// int too large for 64 bits.
enum Run<'a> {
    /// Ints that fit in an `i64`, in order.
    Machine(&'a [i64]),
    /// One int that does not.
    Big(i128),
}

/// Ints read out of Python before they are handed over as one run: the
/// encoder's bookkeeping is then paid per run, not per int.
const RUN: usize = 256;

/// Calls `f` with the ints of `ints` (a list, a tuple or any iterable),
/// in order, with the GIL: runs of machine ints, and any int beyond 64
/// bits on its own.
fn for_each_run(ints: &Bound<'_, PyAny>, f: impl FnMut(Run<'_>) -> PyResult<()>) -> PyResult<()> {
    if let Ok(list) = ints.cast::<PyList>() {
        list_runs(list, f)
    } else if let Ok(tuple) = ints.cast::<PyTuple>() {
        runs_of(tuple.iter().map(Ok), f)
    } else {
        runs_of(ints.try_iter()?, f)
    }
}

/// [`for_each_run`] over a list: exact ints are read straight out of it
/// ([`list_ints`]), anything else one item at a time through pyo3.
fn list_runs(list: &Bound<'_, PyList>, mut f: impl FnMut(Run<'_>) -> PyResult<()>) -> PyResult<()> {
    let mut buf = [0i64; RUN];
    let mut len = 0;
    let mut next = 0;
    loop {
        let read = list_ints::read_exact_ints(list, next, buf.get_mut(len..).unwrap_or_default());
        len += read;
        next += read;
        if len < RUN {
            // The end of the list, or an item to read through pyo3, which
            // may run Python code (`__index__`) that changes the list: the
            // next read looks at its length again.
            if next >= list.len() {
                break;
            }
            let Ok(item) = list.get_item(next) else {
                break;
            };
            next += 1;
            match (item.extract::<i64>(), buf.get_mut(len)) {
                (Ok(value), Some(slot)) => {
                    *slot = value;
                    len += 1;
                }
                _ => {
                    if len > 0 {
                        f(Run::Machine(buf.get(..len).unwrap_or_default()))?;
                        len = 0;
                    }
                    f(Run::Big(big_int(&item)?))?;
                }
            }
        }
        if len == RUN {
            f(Run::Machine(&buf))?;
            len = 0;
        }
    }
    if len > 0 {
        f(Run::Machine(buf.get(..len).unwrap_or_default()))?;
    }
    Ok(())
}

/// [`for_each_run`] over any other iterable.
fn runs_of<'py>(
    mut items: impl Iterator<Item = PyResult<Bound<'py, PyAny>>>,
    mut f: impl FnMut(Run<'_>) -> PyResult<()>,
) -> PyResult<()> {
    let mut buf = [0i64; RUN];
    let mut ended = false;
    while !ended {
        let mut len = 0;
        let mut big = None;
        for slot in &mut buf {
            let Some(item) = items.next() else {
                ended = true;
                break;
            };
            let item = item?;
            match item.extract::<i64>() {
                Ok(value) => {
                    *slot = value;
                    len += 1;
                }
                Err(_) => {
                    big = Some(big_int(&item)?);
                    break;
                }
            }
        }
        let run = buf.get(..len).unwrap_or_default();
        if !run.is_empty() {
            f(Run::Machine(run))?;
        }
        if let Some(value) = big {
            f(Run::Big(value))?;
        }
    }
    Ok(())
}

/// The most a spool grows by at a time.
const CHUNK: usize = 16 * 1024;

/// A payload this large is handed to the spill, when there is one.
const SPILL_AT: usize = 16 * 1024 * 1024;

/// The longest payload a frame can carry.
const MAX_PAYLOAD: u64 = u32::MAX as u64;

/// Where a payload goes once it is 16 MiB long (a file), so
/// that a long iterable never has to fit in memory.
pub type Spill<'a> = &'a mut dyn FnMut(&[u8]) -> std::io::Result<()>;

/// The encoder's writers, straight over a growing `Vec`: it is extended
/// with zeros a chunk at a time, written in place, and cut to what was
/// written at the end (no copy through a buffer of our own).
struct Spool<'a, 's> {
    out: &'a mut Vec<u8>,
    /// Where the payload starts in `out`.
    start: usize,
    /// Where the next byte goes in `out`.
    filled: usize,
    /// Bytes handed to `spill` so far.
    spilled: u64,
    spill: Option<Spill<'s>>,
}

impl Spool<'_, '_> {
    /// Calls `f` with a writer that has at least `MAX_WRITE` bytes of room.
    fn write<R>(&mut self, f: impl FnOnce(&mut Writer<'_>) -> R) -> PyResult<R> {
        if self.out.len() - self.filled < RequestEncoder::MAX_WRITE {
            self.grow()?;
        }
        let mut w = Writer::new(self.out.get_mut(self.filled..).unwrap_or_default());
        let result = f(&mut w);
        self.filled += w.len();
        Ok(result)
    }

    /// The payload's length so far.
    fn len(&self) -> u64 {
        self.spilled + (self.filled - self.start) as u64
    }

    fn grow(&mut self) -> PyResult<()> {
        if self.len() > MAX_PAYLOAD {
            return Err(errors::FrameTooLarge::new_err(format!(
                "a request of more than {MAX_PAYLOAD} bytes is longer than a 4-byte length can say"
            )));
        }
        if let Some(spill) = &mut self.spill
            && self.filled - self.start >= SPILL_AT
        {
            spill(self.out.get(self.start..self.filled).unwrap_or_default())?;
            self.spilled += (self.filled - self.start) as u64;
            self.filled = self.start;
            return Ok(());
        }
        // Into the room already reserved, when there is some.
        let grow = (self.out.capacity() - self.filled).clamp(256, CHUNK);
        self.out.resize(self.filled + grow, 0);
        Ok(())
    }

    /// Cuts `out` to what was written; returns the payload's length.
    fn finish(self) -> u64 {
        let len = self.len();
        self.out.truncate(self.filled);
        len
    }
}

/// Encodes `ints` as a request payload in `format`, appended to `out`;
/// returns the payload's length. With a `spill`, `out` is handed to it
/// (and emptied) whenever it holds 16 MiB of the payload: the payload is
/// what the spill got, then what is left in `out`. A payload that
/// outgrows a frame raises FrameTooLarge as soon as it does.
pub fn encode_payload(
    ints: &Bound<'_, PyAny>,
    format: Format,
    out: &mut Vec<u8>,
    spill: Option<Spill<'_>>,
) -> PyResult<u64> {
    if let Ok(n) = ints.len() {
        // Most ints take 2 to 5 bytes.
        let mut room = n.saturating_mul(5).saturating_add(64);
        if spill.is_some() {
            room = room.min(SPILL_AT + CHUNK);
        }
        out.reserve(room);
    }
    let start = out.len();
    let mut spool = Spool {
        out,
        start,
        filled: start,
        spilled: 0,
        spill,
    };
    let mut encoder = RequestEncoder::new(format);
    spool.write(|w| encoder.begin(w))?;
    for_each_run(ints, |run| match run {
        Run::Machine(mut rest) => {
            while !rest.is_empty() {
                let n = spool.write(|w| encoder.push_i64s(rest, w))?;
                if n == 0 {
                    // The encoder takes an int whenever MAX_WRITE bytes are
                    // free, which `write` ensures: never, but not a hang.
                    return Err(PyRuntimeError::new_err("the encoder wrote no int"));
                }
                rest = rest.get(n..).unwrap_or_default();
            }
            Ok(())
        }
        Run::Big(value) => spool
            .write(|w| encoder.push(value, w))?
            .map_err(errors::encode),
    })?;
    spool.write(|w| encoder.finish(w))?;
    Ok(spool.finish())
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
    let len = encode_payload(ints, format, &mut out, None)?;
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
    match decode_ints(py, &payload)? {
        Ints::Small(ints) => PyList::new(py, ints),
        Ints::Big(ints) => PyList::new(py, ints),
    }
}

/// The ints of a request payload as an `array.array('q')` of 64-bit ints,
/// which numpy reads without a copy (`numpy.asarray`).
///
/// decode_sum_request without the million int objects: several times
/// faster than `pickle.loads` on large payloads, where a list cannot be
/// (making the objects is most of the time, in both). Same checks and
/// exceptions, plus OverflowError for a pickled int beyond 64 bits.
#[pyfunction]
#[pyo3(signature = (payload, /))]
pub fn decode_sum_request_array<'py>(
    py: Python<'py>,
    payload: PyBackedBytes,
) -> PyResult<Bound<'py, PyAny>> {
    let ints = match decode_ints(py, &payload)? {
        Ints::Small(ints) => ints,
        Ints::Big(_) => {
            return Err(PyOverflowError::new_err(
                "an int of the payload does not fit in 64 bits: use decode_sum_request",
            ));
        }
    };
    static ARRAY: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    // The ints' bytes in machine order ('q' is a C long long, an i64),
    // then `array('q').frombytes(...)`: the buffer protocol that could
    // write into the array is not in the limited API before Python 3.11,
    // and the wheel is built for 3.9 and later (abi3-py39). This costs a
    // copy more than writing into the array: 3.1 ms instead of 2.7 for a
    // million ints.
    let bytes = PyBytes::new_with(py, ints.len() * 8, |buf| {
        for (chunk, value) in buf.chunks_exact_mut(8).zip(&ints) {
            chunk.copy_from_slice(&value.to_ne_bytes());
        }
        Ok(())
    })?;
    let array = ARRAY.import(py, "array", "array")?.call1(("q",))?;
    array.call_method1("frombytes", (bytes,))?;
    Ok(array)
}

/// A request payload's error as its exception: a pickle's, or a native
/// payload's error code.
fn request_error(error: AdderError) -> PyErr {
    match error {
        AdderError::Pickle(error) => errors::pickle(error),
        AdderError::Native(code) => errors::native(code),
        // Not a payload's errors: no reader of a payload returns them.
        other => errors::ProtocolError::new_err(other.to_string()),
    }
}

/// Decodes a request payload in either format; without the GIL when it
/// is large.
fn decode_ints(py: Python<'_>, payload: &[u8]) -> PyResult<Ints> {
    let decode = |payload: &[u8]| -> PyResult<Ints> {
        // A pickled int takes 2 bytes (1 for a bool) or more, a native one
        // 1 or more: room for the usual case without growing, within
        // reason (16 M ints, 128 MiB) for a huge payload.
        let mut ints = Ints::Small(Vec::with_capacity((payload.len() / 2).min(1 << 24)));
        let mut decoder = RequestDecoder::new(Format::of_payload(payload));
        decoder
            .feed(payload, |value| ints.push(value))
            .and_then(|()| decoder.finish())
            .map_err(request_error)?;
        Ok(ints)
    };
    if payload.len() >= DETACH_AT {
        py.detach(|| decode(payload))
    } else {
        decode(payload)
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
    #[inline(always)]
    fn push(&mut self, value: i128) {
        match (&mut *self, i64::try_from(value)) {
            (Ints::Small(ints), Ok(value)) => ints.push(value),
            _ => self.push_big(value),
        }
    }

    /// The first int beyond 64 bits, and every int after it.
    #[cold]
    #[inline(never)]
    fn push_big(&mut self, value: i128) {
        match self {
            Ints::Small(ints) => {
                let mut big: Vec<i128> = Vec::with_capacity(ints.capacity());
                big.extend(ints.iter().map(|&v| i128::from(v)));
                big.push(value);
                *self = Ints::Big(big);
            }
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
        let mut summer = RequestSummer::new(Format::of_payload(payload));
        summer
            .feed(payload)
            .and_then(|()| summer.finish())
            .map_err(request_error)
    };
    if payload.len() >= DETACH_AT {
        py.detach(|| sum(&payload))
    } else {
        sum(&payload)
    }
}
