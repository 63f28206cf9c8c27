//! `reseau._native`: the Python face of reseau's core and servers.
//!
//! Built with pyo3 and maturin into the `reseau` package (`python/pysrc`),
//! which re-exports it. Every protocol rule is `reseau_core`'s and every
//! socket `reseau_host`'s: this crate only converts between Python values
//! and theirs, and releases the GIL while Rust blocks or works on large
//! inputs.
//!
//! - [`codec`]: frames and the adder's payloads.
//! - [`chat`]: chat commands and the chat peer.
//! - [`servers`]: the adder, echo and web servers.
//! - [`clients`]: the echo client and the adder's `sum`.
//! - [`explain`]: `explain` and the servers' traces, as dicts.
//! - [`errors`]: the exceptions.
//! - [`list_ints`]: reading a list of ints fast (the one `unsafe`).

pub mod chat;
pub mod clients;
pub mod codec;
pub mod errors;
pub mod explain;
pub mod list_ints;
pub mod net;
pub mod servers;
pub mod wait;

use pyo3::prelude::*;

/// The Rust core of the reseau package; import reseau instead.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_function(wrap_pyfunction!(codec::encode_frame, m)?)?;
    m.add_function(wrap_pyfunction!(codec::encode_sum_request, m)?)?;
    m.add_function(wrap_pyfunction!(codec::decode_sum_request_array, m)?)?;
    m.add_function(wrap_pyfunction!(codec::decode_sum_request, m)?)?;
    m.add_function(wrap_pyfunction!(codec::sum_request, m)?)?;
    m.add_class::<codec::FrameDecoder>()?;
    m.add_function(wrap_pyfunction!(chat::parse_command, m)?)?;
    m.add_class::<chat::Command>()?;
    m.add_class::<chat::Chat>()?;
    m.add_class::<servers::AdderServer>()?;
    m.add_class::<servers::EchoServer>()?;
    m.add_class::<servers::WebServer>()?;
    m.add_class::<clients::EchoClient>()?;
    m.add_function(wrap_pyfunction!(clients::sum, m)?)?;
    m.add_function(wrap_pyfunction!(explain::explain_rows, m)?)?;
    m.add_function(wrap_pyfunction!(net::resolve, m)?)?;
    m.add("ProtocolError", py.get_type::<errors::ProtocolError>())?;
    m.add("FrameTooLarge", py.get_type::<errors::FrameTooLarge>())?;
    m.add(
        "MalformedRequest",
        py.get_type::<errors::MalformedRequest>(),
    )?;
    m.add("PickleError", py.get_type::<errors::PickleError>())?;
    m.add("CommandError", py.get_type::<errors::CommandError>())?;
    m.add("SumRefused", py.get_type::<errors::SumRefused>())?;
    Ok(())
}
