//! What the fuzz targets of reseau-host share: a driver for
//! `web::http::Connection` that feeds it bytes in arbitrary pieces and
//! checks what comes out ([`http`]), an encoder of structured requests
//! ([`request`]), and an oracle for `/api/sum` written without the site's
//! code ([`json`]).
//!
//! Each target (in `fuzz_targets/`) checks invariants with these, not only
//! that nothing panics.

pub mod http;
pub mod json;
pub mod request;
