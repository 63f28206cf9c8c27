//! Addresses between Python's `(host, port)` and Rust's `host:port`.

use std::net::SocketAddr;

use pyo3::prelude::*;
use pyo3::types::PyString;

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
