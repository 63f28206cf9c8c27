//! Reading machine ints straight out of a Python `list`: the binding's one
//! use of `unsafe`, and why it is sound.
//!
//! `encode_sum_request` of a million ints must beat `pickle.dumps` twice
//! over, and most of its time is reading the list. pyo3's safe iteration
//! takes a new reference to each item (a write to every int object, most of
//! them cache misses) and converts it through `PyLong_AsLong`, which calls
//! `PyLong_AsLongAndOverflow`: 3.5 ms for a million ints, against 1.9 ms
//! reading borrowed items with `PyLong_AsLongAndOverflow` directly
//! (`python/bench/results-2026-11-26.md`, A.6). The module is built for the
//! limited API (abi3, one wheel for every CPython from 3.9 on), where
//! pyo3's safe path costs more still: `encode_sum_request` of a million
//! ints took 16.3 ms through it against 6 ms with this module's reads
//! (`python/bench/wheel_figures.sh`).
//!
//! Only exact `int`s take this path: converting one runs no Python code
//! (no `__index__`, no `__del__`, no allocation), so nothing can change
//! the list while we read it, and a borrowed item stays alive. Anything
//! else (a bool, an int subclass, an object with `__index__`, an int beyond
//! 64 bits, a non-int) stops the run and is read through pyo3's safe API
//! by the caller, which may run Python code and so re-reads the list's
//! length afterwards. Where another thread could change the list while we
//! hold it (free-threaded CPython) or where lists are not CPython's
//! (PyPy, GraalPy), this module reads nothing and everything goes through
//! the safe path.
//!
//! Every call is in the limited API: `PyList_GetItem` (the borrowed item,
//! after checking the index; the `PyList_GET_ITEM` macro, which reads the
//! list's struct, is not in it), `PyLong_AsLongAndOverflow`, and
//! `PyLong_CheckExact`, which compares the item's type with `PyLong_Type`
//! (exported by the stable ABI); its `Py_TYPE` is, in an abi3-py39 build,
//! an inline read of the object header's `ob_type`, as in CPython's own
//! limited-API headers before 3.14: the stable ABI fixes that header.

use pyo3::prelude::*;
use pyo3::types::PyList;

/// Reads items `start..` of `list` into `buf` while they are exact `int`s
/// that fit in an `i64`; returns how many it read. 0 means the end of the
/// list, or an item at `start` that the caller must read itself.
#[cfg(not(any(Py_GIL_DISABLED, PyPy, GraalPy)))]
#[allow(unsafe_code)]
pub fn read_exact_ints(list: &Bound<'_, PyList>, start: usize, buf: &mut [i64]) -> usize {
    use pyo3::ffi;

    let ptr = list.as_ptr();
    let len = list.len();
    let mut read = 0;
    for (index, slot) in (start..len).zip(buf.iter_mut()) {
        let Ok(index) = ffi::Py_ssize_t::try_from(index) else {
            break;
        };
        // SAFETY: we hold the GIL (`list` is a `Bound`), `ptr` is a list
        // and `index` is below the list's length read above. Nothing
        // between that read and here ran Python code (only the calls of
        // this loop, on exact ints), so the list still has that length and
        // owns the item: the borrowed pointer is valid, and it is not kept
        // past this turn. The index is in range, so this cannot fail; if
        // it did, it would return null with an `IndexError` set, which is
        // cleared below, and the null stops the direct reads (the caller's
        // own path, through pyo3, then reads the length again).
        let item = unsafe { ffi::PyList_GetItem(ptr, index) };
        if item.is_null() {
            // SAFETY: we hold the GIL.
            unsafe { ffi::PyErr_Clear() };
            break;
        }
        // SAFETY: `item` is a valid object (above).
        if unsafe { ffi::PyLong_CheckExact(item) } == 0 {
            break;
        }
        let mut overflow = 0;
        // SAFETY: `item` is an exact int, so this reads its digits and
        // returns: it calls no `__index__`, allocates nothing and sets no
        // error (an int beyond a C long sets `overflow` instead).
        let value = unsafe { ffi::PyLong_AsLongAndOverflow(item, &mut overflow) };
        if overflow != 0 {
            break;
        }
        // A C long is 32 bits on some platforms (Windows): it always fits.
        #[allow(clippy::useless_conversion)]
        let value = i64::from(value);
        *slot = value;
        read += 1;
    }
    read
}

/// Where lists cannot be read directly, every item takes the safe path.
#[cfg(any(Py_GIL_DISABLED, PyPy, GraalPy))]
pub fn read_exact_ints(_list: &Bound<'_, PyList>, _start: usize, _buf: &mut [i64]) -> usize {
    0
}
