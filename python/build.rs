//! Passes on the interpreter's configuration as cfgs (`Py_GIL_DISABLED`,
//! `Py_LIMITED_API`, ...): `list_ints.rs` reads lists directly only where
//! that is sound.

fn main() {
    pyo3_build_config::use_pyo3_cfgs();
}
