//! The exit codes of the `reseau` command, in one table. Each command's
//! error type says its code with an `exit_code()` that returns one of these
//! constants; `main` prints the error's one line (`reseau: ...`) and exits
//! with that code, and with 0 on success.
//!
//! | code | constant | meaning | the failures |
//! |---|---|---|---|
//! | 0 | | done | a server stopped by SIGINT or SIGTERM once drained; `echo send` to a server that echoed less or nothing (said on stderr) |
//! | 1 | [`FAILED`] | started, then failed | `adder sum`: the server closed without a reply, refused the request (a native error reply) or sent an unreadable reply; `echo send`: reading or writing after the connection was made; `chat`: reading stdin or the socket; a server's event loop (`web`, `serve`, `adder serve`, `echo serve`) or one of `serve`'s server threads failed; `bench`: some requests failed; `nic`: waiting or the signals failed while running |
//! | 2 | [`SETUP`] | could not start: bad input, or nothing to talk to | a flag clap refuses (unknown, missing, `--threads` over 1024); `adder sum`: a word that is not an int, an int the encoding cannot carry, a request over 4 GiB, no server, reading stdin or the socket; `echo send`: no server; `resolve`: a name the resolver refuses; `web`, `serve`: the config file (its `FILE:LINE: message`), `--bind` not `HOST:PORT`, the database (a SQLite file that cannot be opened, a `postgresql://` URL that is malformed or whose server cannot be reached; the password masked), the static folder or a log file; every server: the address cannot be bound, the signals cannot be handled, the TLS certificate or key (unreadable, no certificate or no key in it, a key that does not match the certificate, a certificate expired or not yet valid, `server.ssl_module` other than `builtin` or `pyopenssl`); `adder sum`, `echo send`, `bench` with `--tls`: the `--ca` file or the system's roots cannot be used, the TLS handshake fails (a certificate check, an alert, a server that does not speak TLS, none within 10 s); `cert`: a file exists (without `--force`), a `--host` that is neither a name nor an address, a file cannot be written; `chat`: the address cannot be bound; `bench`: `--duration` outside 0 to 86400 s, the load cannot start; `nic`: `--address` or `--gateway` malformed, the TAP device cannot be opened |

/// The command started and then failed: the peer would not answer, the
/// run broke off.
pub const FAILED: u8 = 1;

/// The command could not start: bad input, or nothing to talk to or bind.
/// clap's own usage errors exit with it too.
pub const SETUP: u8 = 2;
