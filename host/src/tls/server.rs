//! A server's side of TLS: its certificate and key, and the transport of one connection.
