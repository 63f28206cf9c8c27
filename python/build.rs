//! Passes on the interpreter's configuration as cfgs (`Py_GIL_DISABLED`,
//! `Py_LIMITED_API`, ...): `list_ints.rs` reads lists directly only where
//! that is sound.

fn main() {
    pyo3_build_config::use_pyo3_cfgs();
    // The configuration comes from pyo3-ffi's build script (its `links`
    // metadata), whose reruns rerun this one. Without this line, any change
    // to a file under python/ (a test, the README) would rerun this script
    // and rebuild the module.
    println!("cargo:rerun-if-changed=build.rs");
}
