//! What the fuzz targets of reseau-host share: a driver for
//! [`web::http::Connection`] that feeds it bytes in arbitrary pieces and
//! records what comes out, an encoder of structured requests, the config
//! file's canonical rendering, and an independent oracle for `/api/sum`.
//!
//! Each target (in `fuzz_targets/`) checks invariants with these, not only
//! that nothing panics.

pub mod http;
pub mod json;
pub mod request;
