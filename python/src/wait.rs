//! Blocking calls that Ctrl-C can interrupt.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use pyo3::prelude::*;

/// How long the waiting thread sleeps between two looks at Ctrl-C.
const SLICE: Duration = Duration::from_millis(50);

/// Runs `f` on a Rust thread and waits for it without the GIL, looking at
/// Python's signals between short waits: Ctrl-C raises KeyboardInterrupt
/// at once. The thread is then left to finish on its own (its socket
/// closes when the peer closes or the process ends).
pub fn interruptible<T, F>(py: Python<'_>, name: &str, f: F) -> PyResult<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (tx, rx) = mpsc::sync_channel(1);
    thread::Builder::new()
        .name(format!("reseau-{name}"))
        .spawn(move || {
            let _ = tx.send(f());
        })?;
    let mut rx = rx;
    loop {
        // The receiver goes into the closure and comes back: it is Send,
        // not Sync.
        let (got, back) = py.detach(move || (rx.recv_timeout(SLICE), rx));
        rx = back;
        match got {
            Ok(value) => return Ok(value),
            Err(mpsc::RecvTimeoutError::Timeout) => py.check_signals()?,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(pyo3::exceptions::PyRuntimeError::new_err(format!(
                    "the {name} thread panicked"
                )));
            }
        }
    }
}
