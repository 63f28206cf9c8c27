//! `explain_rows` and the servers' traces, as Python values: the rows and
//! verdicts of `reseau_host::explain` (the core's decoders), and the
//! events of `reseau_host::trace`, as dicts that the pure-Python
//! `reseau.show` turns into tables and sequence diagrams.

use std::time::UNIX_EPOCH;

use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyDict, PyList};
use reseau_core::adder::Event;
use reseau_core::adder::explain::{HEAD, Item, Row, Verdict};
use reseau_host::explain::{self as words, Side, Value};
use reseau_host::trace::{TraceEvent, What};

/// The hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A row as `reseau explain --json` prints it, with its meaning.
pub fn row_dict<'py>(py: Python<'py>, row: &Row) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item("offset", row.offset)?;
    dict.set_item("len", row.len)?;
    dict.set_item("hex", hex(row.head.get(..HEAD).unwrap_or(&row.head)))?;
    dict.set_item("field", row.field.name())?;
    match words::value(&row.field) {
        Value::None => dict.set_item("value", py.None())?,
        Value::Int(value) => dict.set_item("value", value)?,
        Value::Name(name) => dict.set_item("value", name)?,
    }
    dict.set_item("sum", words::running_sum(&row.field))?;
    dict.set_item("meaning", words::meaning(row))?;
    Ok(dict)
}

/// A verdict as `--json` prints it, with a sentence and the reply's hex.
fn verdict_dict<'py>(
    py: Python<'py>,
    verdict: &Verdict,
    shift: u64,
) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    match verdict.event {
        Event::Answered { ints, sum, .. } => {
            dict.set_item("verdict", "sum")?;
            dict.set_item("ints", ints)?;
            dict.set_item("sum", sum)?;
            dict.set_item("offset", py.None())?;
            dict.set_item("error", py.None())?;
        }
        Event::Rejected(error) => {
            dict.set_item("verdict", "refused")?;
            dict.set_item("ints", py.None())?;
            dict.set_item("sum", py.None())?;
            dict.set_item("offset", verdict.at.map(|at| at.saturating_sub(shift)))?;
            dict.set_item("error", error.to_string())?;
        }
    }
    dict.set_item("text", words::verdict_text(verdict, shift > 0))?;
    dict.set_item("reply", hex(&verdict.reply))?;
    Ok(dict)
}

/// The bytes of an adder message, field by field, as reseau's server reads
/// them: one dict per field ({"offset", "len", "hex", "field", "value",
/// "sum", "meaning"}) in byte order, and after each request a verdict
/// ({"verdict": "sum" or "refused", "ints", "sum", "offset", "error",
/// "text", "reply"}). data is request frames, or a payload alone
/// (pickle.dumps(...)), as its first bytes tell; with reply=True, the
/// server's replies. The same rows as `reseau explain --json`; reseau.explain
/// shows them as a table.
#[pyfunction]
#[pyo3(signature = (data, reply = false))]
pub fn explain_rows<'py>(
    py: Python<'py>,
    data: PyBackedBytes,
    reply: bool,
) -> PyResult<Bound<'py, PyList>> {
    let side = if reply {
        Side::Reply
    } else {
        words::guess_side(data.get(..16).unwrap_or(&data))
    };
    let (items, shift) = py.detach(|| words::explain_all(&data, side));
    let list = PyList::empty(py);
    for item in &items {
        match item {
            Item::Row(row) => list.append(row_dict(py, row)?)?,
            Item::Verdict(verdict) => list.append(verdict_dict(py, verdict, shift)?)?,
        }
    }
    Ok(list)
}

/// A trace event as a dict (see `AdderServer.trace_events`).
pub fn event_dict<'py>(py: Python<'py>, event: &TraceEvent) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    let time = event
        .at
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    dict.set_item("time", time)?;
    dict.set_item("service", event.service)?;
    dict.set_item("peer", event.peer.to_string())?;
    dict.set_item("from", event.from.name())?;
    dict.set_item("to", event.to().name())?;
    let (kind, len, summary) = match &event.what {
        What::Open => ("open", 0, "connects".to_string()),
        What::Eof => ("eof", 0, "half-closes (FIN)".to_string()),
        What::Close => ("close", 0, "closes the connection".to_string()),
        What::Message(message) => ("message", message.len, message.summary.clone()),
    };
    dict.set_item("kind", kind)?;
    dict.set_item("len", len)?;
    dict.set_item("summary", summary)?;
    let rows = PyList::empty(py);
    let (mut skipped, mut verdict) = (0, None);
    if let What::Message(message) = &event.what {
        for row in &message.rows {
            rows.append(row_dict(py, row)?)?;
        }
        skipped = message.skipped;
        verdict = message.verdict.clone();
    }
    dict.set_item("rows", rows)?;
    dict.set_item("skipped", skipped)?;
    dict.set_item("verdict", verdict)?;
    Ok(dict)
}
