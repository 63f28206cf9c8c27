//! Reading machine ints straight out of a Python `list`: the binding's one
//! use of `unsafe`, and why it is sound.
//!
//! `encode_sum_request` of a million ints must beat `pickle.dumps` twice
//! over, and most of its time is reading the list. pyo3's safe iteration
//! takes a new reference to each item (a write to every int object, most of
//! them cache misses) and converts it through `PyLong_AsLong`, which calls
//! `PyLong_AsLongAndOverflow`: 3.5 ms for a million ints, against 1.9 ms
//! reading borrowed items with `PyLong_AsLongAndOverflow` directly
//! (`python/bench/results-2026-11-26.md`, A.6).
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
//! Under the limited API (the abi3 wheel, built for every CPython from
//! 3.9 on) the list's struct is not ours to read: `PyList_GET_ITEM` is not
//! in it. The item is then read with `PyList_GetItem`, a function of the
//! stable ABI that returns the same borrowed reference (after checking the
//! index), and `PyLong_CheckExact` compares the item's type pointer with
//! `PyLong_Type`, which the stable ABI exports (`Py_TYPE` is, in an
//! abi3-py39 build, an inline read of the object header's `ob_type`, as in
//! CPython's own limited-API headers before 3.14: the stable ABI fixes that
//! header). pyo3's safe path is
//! slower there than with the full API: `encode_sum_request` of a million
//! ints took 16.3 ms with it against 5.5 ms for the full-API build, and
//! takes 6 ms with this module's reads (`python/bench/wheel_figures.sh`).

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
        // SAFETY: we hold the GIL (`list` is a `Bound`) and `index` is
        // below the list's length read above. Nothing between that read and
        // here ran Python code (only the two calls below, on exact ints),
        // so the list still has that length and owns the item: the
        // borrowed pointer is valid, and it is not kept past this turn.
        let item = unsafe { borrowed_item(ptr, index) };
        if item.is_null() {
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

/// The item at `index` of the list `list`, borrowed: the list's own
/// pointer, read from its struct (`PyList_GET_ITEM`).
///
/// # Safety
///
/// The GIL is held, `list` is a list, and `index` is below its length.
#[cfg(not(any(Py_LIMITED_API, Py_GIL_DISABLED, PyPy, GraalPy)))]
#[allow(unsafe_code)]
unsafe fn borrowed_item(
    list: *mut pyo3::ffi::PyObject,
    index: pyo3::ffi::Py_ssize_t,
) -> *mut pyo3::ffi::PyObject {
    // SAFETY: the caller's promise; the macro reads `ob_item[index]`.
    unsafe { pyo3::ffi::PyList_GET_ITEM(list, index) }
}

/// The item at `index` of the list `list`, borrowed, under the limited API:
/// `PyList_GetItem` (stable ABI) returns the same pointer as
/// `PyList_GET_ITEM`, after checking that `list` is a list and `index` in
/// range. It cannot fail under the caller's promise; if it did, it would
/// return null with an `IndexError` set: the error is cleared here, and the
/// null stops the caller's direct reads (the list's own path, through pyo3,
/// then reads its length again).
///
/// # Safety
///
/// The GIL is held, `list` is a list, and `index` is below its length.
#[cfg(all(Py_LIMITED_API, not(any(Py_GIL_DISABLED, PyPy, GraalPy))))]
#[allow(unsafe_code)]
unsafe fn borrowed_item(
    list: *mut pyo3::ffi::PyObject,
    index: pyo3::ffi::Py_ssize_t,
) -> *mut pyo3::ffi::PyObject {
    // SAFETY: the caller's promise (the GIL is held, `list` is valid).
    let item = unsafe { pyo3::ffi::PyList_GetItem(list, index) };
    if item.is_null() {
        // SAFETY: the GIL is held.
        unsafe { pyo3::ffi::PyErr_Clear() };
    }
    item
}

/// Where lists cannot be read directly, every item takes the safe path.
#[cfg(any(Py_GIL_DISABLED, PyPy, GraalPy))]
pub fn read_exact_ints(_list: &Bound<'_, PyList>, _start: usize, _buf: &mut [i64]) -> usize {
    0
}
