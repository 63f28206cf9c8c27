//! Addresses between Python's `(host, port)` and Rust's `host:port`, and
//! the course's host-name look-ups (`resolve`).

use std::net::SocketAddr;

use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

/// Python's `repr()` of a string (`'text'`), for the `__repr__`s.
pub fn repr_str(py: Python<'_>, text: &str) -> String {
    PyString::new(py, text)
        .repr()
        .map(|r| r.to_string())
        .unwrap_or_else(|_| format!("{text:?}"))
}

/// `host:port`, with brackets around an IPv6 host.
pub fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// A socket address as Python's `(host, port)`.
pub fn address(addr: SocketAddr) -> (String, u16) {
    (addr.ip().to_string(), addr.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_hosts_get_brackets() {
        assert_eq!(join_host_port("127.0.0.1", 6001), "127.0.0.1:6001");
        assert_eq!(join_host_port("::1", 6001), "[::1]:6001");
        assert_eq!(join_host_port("[::1]", 6001), "[::1]:6001");
        assert_eq!(join_host_port("localhost", 0), "localhost:0");
        let v6: SocketAddr = "[::1]:80".parse().unwrap_or_else(|_| unreachable!());
        assert_eq!(address(v6), ("::1".to_owned(), 80));
    }
}

/// The course's four host-name look-ups for name (a host name or an
/// address), through the C library's resolver as Python's socket module
/// does them, as `reseau resolve` prints them: a dict with "fqdn"
/// (socket.getfqdn), "hostname" (socket.gethostname, this machine),
/// "addresses" (getaddrinfo, IPv4 and IPv6, each once) and "reverse" (each
/// address's name, socket.gethostbyaddr, or None). A name that does not
/// resolve raises OSError. The GIL is released while the resolver works.
#[pyfunction]
#[pyo3(signature = (name, /))]
pub fn resolve<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyDict>> {
    let lookups = py
        .detach(|| reseau_host::resolve::lookup(name))
        .map_err(|error| PyOSError::new_err(error.to_string()))?;
    let dict = PyDict::new(py);
    dict.set_item("fqdn", &lookups.fqdn)?;
    dict.set_item("hostname", &lookups.hostname)?;
    let addresses: Vec<String> = lookups.addresses.iter().map(|a| a.to_string()).collect();
    dict.set_item("addresses", addresses)?;
    let reverse = PyDict::new(py);
    for (address, name) in &lookups.reverse {
        reverse.set_item(address.to_string(), name.as_deref())?;
    }
    dict.set_item("reverse", reverse)?;
    Ok(dict)
}
