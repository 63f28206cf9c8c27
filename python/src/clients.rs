//! The course's clients: `EchoClient` and `sum`, run by `reseau_host`.

use std::fs::File;
use std::io::{self, BufReader, Cursor, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::pybacked::{PyBackedBytes, PyBackedStr};
use pyo3::types::PyBytes;
use reseau_host::echo::EchoError;
use reseau_host::tls::client::TlsClient;

use crate::codec;
use crate::errors;
use crate::net::{join_host_port, repr_str};
use crate::wait;

/// The course's echo client: run(message) connects to host:port, sends the
/// message, half-closes, and returns all the server sends back. With
/// tls=True (or a ca), over TLS: the server's certificate is checked
/// against ca (a PEM file) or the system's roots, and against host.
#[pyclass(frozen, module = "reseau")]
pub struct EchoClient {
    host: String,
    port: u16,
    tls: Option<TlsClient>,
}

/// The TLS settings of `tls=` and `ca=`: a ca implies TLS (a CA to trust
/// means a TLS server to check; forgetting tls=True must not send in
/// clear). A ca that cannot be used raises here, as
/// `ssl.create_default_context(cafile=...)` does.
fn tls_client(tls: bool, ca: Option<PathBuf>) -> PyResult<Option<TlsClient>> {
    if !tls && ca.is_none() {
        return Ok(None);
    }
    TlsClient::new(ca.as_deref()).map(Some).map_err(errors::ca)
}

/// A str (sent as UTF-8) or bytes-like message.
#[derive(FromPyObject)]
enum Message {
    Text(PyBackedStr),
    Bytes(PyBackedBytes),
}

impl AsRef<[u8]> for Message {
    fn as_ref(&self) -> &[u8] {
        match self {
            Message::Text(text) => text.as_bytes(),
            Message::Bytes(bytes) => bytes,
        }
    }
}

#[pymethods]
impl EchoClient {
    #[new]
    #[pyo3(signature = (host = "127.0.0.1", port = 6000, tls = false, ca = None))]
    fn new(host: &str, port: u16, tls: bool, ca: Option<PathBuf>) -> PyResult<Self> {
        Ok(EchoClient {
            host: host.to_owned(),
            port,
            tls: tls_client(tls, ca)?,
        })
    }

    /// True when the client speaks TLS.
    #[getter]
    fn tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The server's host.
    #[getter]
    fn host(&self) -> &str {
        &self.host
    }

    /// The server's port.
    #[getter]
    fn port(&self) -> u16 {
        self.port
    }

    /// Sends message (str, as UTF-8, or bytes) and returns the echoed
    /// bytes, read until the server closes. Connection failures raise
    /// OSError (ConnectionRefusedError when no server listens); with TLS,
    /// a certificate that fails a check raises
    /// ssl.SSLCertVerificationError, another failed handshake ssl.SSLError.
    /// The GIL is released during the exchange, and Ctrl-C interrupts it.
    fn run<'py>(
        &self,
        py: Python<'py>,
        message: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let message: Message = message.extract().map_err(|_| {
            PyTypeError::new_err(format!(
                "message must be str or bytes, not {}",
                message
                    .get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            ))
        })?;
        let addr = join_host_port(&self.host, self.port);
        let message = message.as_ref().to_vec();
        let tls = self.tls.clone();
        let sent = wait::interruptible(py, "echo-client", move || {
            let mut echoed = Vec::new();
            reseau_host::echo::send(&addr, Some(&message), &mut echoed, tls.as_ref(), None)
                .map(|_| echoed)
        })?;
        match sent {
            Ok(echoed) => Ok(PyBytes::new(py, &echoed)),
            Err(EchoError::Connect { error, .. } | EchoError::Io(error)) => Err(error.into()),
            Err(EchoError::Tls { addr, error }) => Err(errors::tls(&addr, *error)),
        }
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "EchoClient(host={}, port={}{})",
            repr_str(py, &self.host),
            self.port,
            if self.tls.is_some() { ", tls=True" } else { "" }
        )
    }
}

/// Asks the adder server at host:port for the sum of ints, as the course's
/// client does: one frame, then the reply.
///
/// ints is any iterable of ints, read once and encoded as it goes
/// (encoding "pickle", the course's format, whose reply carries a sum from
/// 0 to 4294967295; or "native", 64-bit sums and error replies). The
/// frame's header needs the payload's length, so the payload is sent once
/// encoded; from 16 MiB on it goes to a temporary file (already unlinked),
/// so a long iterable never has to fit in memory. The request is sent and
/// the reply awaited without the GIL; Ctrl-C interrupts the wait.
///
/// With tls=True (or a ca, a PEM file of the CAs to trust instead of the
/// system's roots), over TLS, the server's certificate checked against
/// host.
///
/// Raises OverflowError for an int the format cannot carry, SumRefused
/// when the server refuses (a native error reply, or a course-format server
/// that closes without replying), OSError (ConnectionRefusedError, ...)
/// for network failures, ssl.SSLCertVerificationError when the server's
/// certificate fails a check (the message says which), ssl.SSLError for
/// another failed handshake or a ca without a certificate.
#[pyfunction]
#[pyo3(signature = (ints, host = "127.0.0.1", port = 6001, encoding = "pickle", tls = false, ca = None))]
#[allow(clippy::too_many_arguments)]
pub fn sum(
    py: Python<'_>,
    ints: &Bound<'_, PyAny>,
    host: &str,
    port: u16,
    encoding: &str,
    tls: bool,
    ca: Option<PathBuf>,
) -> PyResult<i64> {
    let format = errors::parse_format(encoding)?;
    let tls = tls_client(tls, ca)?;
    // The frame's header needs the payload's length: a payload of 16 MiB
    // and more goes to a spool file as it is encoded, so a long iterable
    // never has to fit in memory.
    let mut payload = Vec::new();
    let mut file: Option<File> = None;
    let len = {
        let mut spill = |bytes: &[u8]| -> io::Result<()> {
            let file = match &mut file {
                Some(file) => file,
                None => file.insert(reseau_host::adder::spool()?),
            };
            file.write_all(bytes)
        };
        codec::encode_payload(ints, format, &mut payload, Some(&mut spill))?
    };
    let mut reader: Box<dyn Read + Send> = match file {
        Some(mut file) => {
            file.seek(SeekFrom::Start(0))?;
            Box::new(BufReader::with_capacity(64 * 1024, file).chain(Cursor::new(payload)))
        }
        None => Box::new(Cursor::new(payload)),
    };
    let addr = join_host_port(host, port);
    wait::interruptible(py, "sum", move || {
        reseau_host::adder::send_payload(&addr, format, len, &mut reader, tls.as_ref(), None)
    })?
    .map_err(errors::sum)
}
