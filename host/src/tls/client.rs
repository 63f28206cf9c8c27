//! The clients' side of TLS: `--tls` and `--ca`.
