//! `reseau explain`: an adder message byte by byte, for people.
//!
//! The rows and verdicts come from `reseau_core::adder::explain` (the
//! server's own decoders and session); this module only says them: as a
//! table like `pickletools.dis`, as JSON lines, or as a summary that
//! counts the fields of a message too long to list. The same words are
//! used by the traces ([`crate::trace`]) and the Python binding.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::io::{self, Read, Write};

use reseau_core::adder::explain::{
    Field, HEAD, Item, ReplyExplainer, RequestExplainer, Row, Verdict, error_code_name,
};
use reseau_core::adder::native::{self, Reply};
use reseau_core::adder::pickle::Argument;
use reseau_core::adder::{AdderConfig, Error, Event, Format};
use reseau_core::frame;

/// Bytes shown in the table's "bytes" column (JSON shows [`HEAD`]).
const SHOWN: usize = 8;

/// A row's value, as JSON prints it: an int, a name, or nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// No value (MARK, STOP, ...).
    None,
    /// A number (exact: pickle ints reach 128 bits).
    Int(i128),
    /// A name (a native reply's error code).
    Name(&'static str),
}

/// The value a field carries.
pub fn value(field: &Field) -> Value {
    match *field {
        Field::Length(len) => Value::Int(i128::from(len)),
        Field::Pickle { argument, .. } => match argument {
            Argument::None | Argument::Memo(None) => Value::None,
            Argument::Int(value) => Value::Int(value),
            Argument::Protocol(p) => Value::Int(i128::from(p)),
            Argument::Frame(len) => Value::Int(i128::from(len)),
            Argument::Memo(Some(index)) => Value::Int(i128::from(index)),
        },
        Field::Magic => Value::Int(i128::from(native::MAGIC)),
        Field::Version(v) => Value::Int(i128::from(v)),
        Field::Int { value, .. } => Value::Int(i128::from(value)),
        Field::Reply(sum) => Value::Int(i128::from(sum)),
        Field::NativeReply(Reply::Sum(sum)) => Value::Int(i128::from(sum)),
        Field::NativeReply(Reply::Error(code)) => Value::Name(error_code_name(code)),
        Field::Unread => Value::None,
    }
}

/// The running sum a field shows, for an int.
pub fn running_sum(field: &Field) -> Option<i128> {
    match *field {
        Field::Pickle {
            argument: Argument::Int(_),
            sum,
            ..
        }
        | Field::Int { sum, .. } => sum,
        _ => None,
    }
}

/// What a field means, in a few words.
pub fn meaning(row: &Row) -> String {
    let sum = |sum: Option<i128>| match sum {
        Some(sum) => format!(", sum {sum}"),
        None => ", sum beyond 128 bits".to_string(),
    };
    match row.field {
        Field::Length(len) => format!("{len} bytes of payload follow"),
        Field::Pickle {
            code,
            argument,
            sum: running,
        } => match argument {
            Argument::Int(value) => format!("int {value}{}", sum(running)),
            Argument::Protocol(p) => format!("pickle protocol {p}"),
            Argument::Frame(len) => format!("a frame of {len} bytes"),
            Argument::Memo(Some(index)) => format!("memo {index} = the list"),
            Argument::Memo(None) => "memo the list".to_string(),
            Argument::None => match code {
                b'(' => "mark: the ints that follow go together".to_string(),
                b']' => "an empty list".to_string(),
                b'l' => "a list of the ints since the mark".to_string(),
                b'a' => "append the int to the list".to_string(),
                b'e' => "append the ints since the mark to the list".to_string(),
                b'.' => "end of the pickle: the list is the result".to_string(),
                _ => String::new(),
            },
        },
        Field::Magic => "reseau's native format".to_string(),
        Field::Version(v) => format!("native format version {v}"),
        Field::Int { value, sum: s } => format!("int {value}{}", sum(s)),
        Field::Reply(value) => format!("the sum, {value}"),
        Field::NativeReply(Reply::Sum(value)) => format!("the sum, {value}"),
        Field::NativeReply(Reply::Error(code)) => format!("refused: {code}"),
        Field::Unread => {
            let plural = if row.len == 1 { "" } else { "s" };
            format!("{} byte{plural} not read", row.len)
        }
    }
}

/// What the server does with a request, in one sentence. Offsets are
/// the input's, and the payload's too for a pickle; only the payload's
/// with `bare_payload` (the input had no frame header).
pub fn verdict_text(verdict: &Verdict, bare_payload: bool) -> String {
    let reply = hex(&verdict.reply, verdict.reply.len(), " ");
    match verdict.event {
        Event::Answered { ints, sum, .. } => {
            let plural = if ints == 1 { "" } else { "s" };
            format!("the server answers {sum} ({ints} int{plural}): {reply}")
        }
        Event::Rejected(error) => {
            let place = match (verdict.at, error) {
                (Some(at), Error::Pickle(_)) => {
                    let payload = at.saturating_sub(verdict.frame + frame::HEADER_LEN as u64);
                    if bare_payload {
                        format!(" at byte {payload}")
                    } else {
                        format!(" at byte {at} (byte {payload} of the payload)")
                    }
                }
                (Some(at), _) => format!(" at byte {at}"),
                (None, _) => String::new(),
            };
            let then = if error.is_fatal() {
                "the server closes the connection without an answer".to_string()
            } else {
                format!("the server answers an error frame: {reply}")
            };
            format!("refused{place}: {error}; {then}")
        }
    }
}

/// `bytes` in hex, at most `max` of them, joined by `sep`.
fn hex(bytes: &[u8], max: usize, sep: &str) -> String {
    let mut text = String::new();
    for (i, byte) in bytes.iter().take(max).enumerate() {
        if i > 0 {
            text.push_str(sep);
        }
        let _ = write!(text, "{byte:02x}");
    }
    text
}

/// The table's header line.
pub const TABLE_HEADER: &str = "  offset  bytes                    field        meaning";

/// One row of the table.
pub fn row_line(row: &Row) -> String {
    let mut bytes = hex(&row.head, SHOWN, " ");
    if row.len > SHOWN as u64 {
        bytes.push_str(" …");
    }
    format!(
        "{:>8}  {:<24} {:<12} {}",
        row.offset,
        bytes,
        row.field.name(),
        meaning(row)
    )
}

/// One row as a JSON object (one line, no newline).
pub fn row_json(row: &Row) -> String {
    let mut line = format!(
        "{{\"offset\": {}, \"len\": {}, \"hex\": \"{}\", \"field\": \"{}\"",
        row.offset,
        row.len,
        hex(&row.head, HEAD, ""),
        row.field.name()
    );
    match value(&row.field) {
        Value::None => {}
        Value::Int(v) => {
            let _ = write!(line, ", \"value\": {v}");
        }
        Value::Name(name) => {
            let _ = write!(line, ", \"value\": \"{name}\"");
        }
    }
    if let Some(sum) = running_sum(&row.field) {
        let _ = write!(line, ", \"sum\": {sum}");
    }
    line.push('}');
    line
}

/// A verdict as a JSON object (one line, no newline); `shift` is taken
/// off its offset (a bare payload's made-up header).
pub fn verdict_json(verdict: &Verdict, shift: u64) -> String {
    match verdict.event {
        Event::Answered { ints, sum, .. } => {
            format!("{{\"verdict\": \"sum\", \"ints\": {ints}, \"sum\": {sum}}}")
        }
        Event::Rejected(error) => {
            let at = verdict.at.map_or("null".to_string(), |at| {
                at.saturating_sub(shift).to_string()
            });
            // The messages are the core's: ASCII, no quote or backslash.
            let message = error.to_string().replace(['"', '\\'], "'");
            format!("{{\"verdict\": \"refused\", \"offset\": {at}, \"error\": \"{message}\"}}")
        }
    }
}

/// Which side of the connection the input is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The client's requests, each in its frame.
    Request,
    /// A request's payload alone, without its frame header.
    Payload,
    /// The server's replies.
    Reply,
}

/// How `reseau explain` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// A table, then the verdicts.
    Table,
    /// JSON lines.
    Json,
    /// Counts per field, then the verdicts.
    Summary,
    /// Counts per field as JSON, then the verdicts as JSON.
    JsonSummary,
}

/// The first bytes of an input tell a request frame from a bare payload:
/// a frame's 4-byte length is within the limit and its payload starts as
/// a pickle or a native payload does; a bare payload starts that way
/// itself.
pub fn guess_side(start: &[u8]) -> Side {
    let starts_payload = Format::could_start_payload;
    match start.first_chunk::<4>() {
        Some(header)
            if u32::from_le_bytes(*header) <= frame::DEFAULT_MAX_FRAME
                && (start.len() == 4 || starts_payload(&start[4..])) =>
        {
            Side::Request
        }
        _ if starts_payload(start) => Side::Payload,
        _ => Side::Request,
    }
}

/// Explains `input` (read to its end in pieces) onto `out`; returns the
/// number of requests refused.
pub fn explain(
    input: &mut dyn Read,
    side: Side,
    style: Style,
    out: &mut dyn Write,
) -> io::Result<u64> {
    let mut printer = Printer {
        style,
        out,
        counts: BTreeMap::new(),
        refused: 0,
        bytes: 0,
        error: None,
        shift: 0,
    };
    if matches!(style, Style::Table) {
        printer.line(TABLE_HEADER.to_string());
    }
    let mut buf = vec![0u8; 64 * 1024];
    match side {
        Side::Request | Side::Payload => {
            let mut explainer = RequestExplainer::new(AdderConfig::default());
            if side == Side::Payload {
                // A bare payload: read it whole (it is at most a frame's
                // limit), then explain it in a frame of its length, shown
                // from its own first byte.
                let mut payload = Vec::new();
                input
                    .take(u64::from(frame::DEFAULT_MAX_FRAME) + 1)
                    .read_to_end(&mut payload)?;
                printer.shift = made_up_header(&mut explainer, payload.len());
                explainer.feed(&payload, &mut |item| printer.item(item));
            } else {
                loop {
                    let n = read_some(input, &mut buf)?;
                    if n == 0 {
                        break;
                    }
                    explainer.feed(&buf[..n], &mut |item| printer.item(item));
                    printer.check()?;
                }
            }
            explainer.finish(&mut |item| printer.item(item));
        }
        Side::Reply => {
            let n = read_some(input, &mut buf)?;
            let mut explainer = ReplyExplainer::for_input(&buf[..n]);
            let mut n = n;
            while n > 0 {
                explainer.feed(&buf[..n], &mut |item| printer.item(item));
                printer.check()?;
                n = read_some(input, &mut buf)?;
            }
            explainer.finish(&mut |item| printer.item(item));
        }
    }
    printer.end()?;
    Ok(printer.refused)
}

/// Explains bytes held in memory (the Python binding's `explain`): the
/// items in order, each row's offset from the input's first byte, and how
/// many bytes of made-up header a bare payload got (take them off a
/// verdict's offsets; [`verdict_text`] says them right when told).
pub fn explain_all(data: &[u8], side: Side) -> (Vec<Item>, u64) {
    let mut items = Vec::new();
    let shift = match side {
        Side::Request | Side::Payload => {
            let mut explainer = RequestExplainer::new(AdderConfig::default());
            let shift = if side == Side::Payload {
                made_up_header(&mut explainer, data.len())
            } else {
                0
            };
            let mut take = |item| items.push(item);
            explainer.feed(data, &mut take);
            explainer.finish(&mut take);
            shift
        }
        Side::Reply => {
            let mut explainer = ReplyExplainer::for_input(data);
            let mut take = |item| items.push(item);
            explainer.feed(data, &mut take);
            explainer.finish(&mut take);
            0
        }
    };
    for item in &mut items {
        if let Item::Row(row) = item {
            row.offset -= shift;
        }
    }
    (items, shift)
}

/// Feeds `explainer` the frame header of a payload of `len` bytes given
/// alone, and drops its row: the payload's rows are then shown from the
/// payload's first byte, once the returned header length is taken off.
fn made_up_header(explainer: &mut RequestExplainer, len: usize) -> u64 {
    let len = u32::try_from(len).unwrap_or(u32::MAX);
    explainer.feed(&frame::encode_header(len), &mut |_| {});
    frame::HEADER_LEN as u64
}

/// Reads what is there, retrying on interruption.
fn read_some(input: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match input.read(buf) {
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

/// Writes the items of one explanation in a style.
struct Printer<'a> {
    style: Style,
    out: &'a mut dyn Write,
    counts: BTreeMap<&'static str, u64>,
    refused: u64,
    bytes: u64,
    /// The first write error (the reader may have gone: `| head`).
    error: Option<io::Error>,
    /// Bytes of a made-up frame header, not shown (a bare payload).
    shift: u64,
}

impl Printer<'_> {
    fn line(&mut self, line: String) {
        if self.error.is_none()
            && let Err(error) = writeln!(self.out, "{line}")
        {
            self.error = Some(error);
        }
    }

    fn check(&mut self) -> io::Result<()> {
        self.error.take().map_or(Ok(()), Err)
    }

    fn item(&mut self, item: Item) {
        match item {
            Item::Row(mut row) => {
                // A bare payload's rows, from its own first byte.
                row.offset -= self.shift;
                self.bytes += row.len;
                match self.style {
                    Style::Table => self.line(row_line(&row)),
                    Style::Json => self.line(row_json(&row)),
                    Style::Summary | Style::JsonSummary => {
                        *self.counts.entry(row.field.name()).or_default() += 1
                    }
                }
            }
            Item::Verdict(verdict) => {
                if let Event::Rejected(_) = verdict.event {
                    self.refused += 1;
                }
                self.summary_lines();
                match self.style {
                    Style::Table | Style::Summary => {
                        let text = verdict_text(&verdict, self.shift > 0);
                        self.line(format!("verdict: {text}"));
                    }
                    Style::Json | Style::JsonSummary => {
                        self.line(verdict_json(&verdict, self.shift))
                    }
                }
            }
        }
    }

    /// The counts of the fields since the last verdict (summary styles).
    fn summary_lines(&mut self) {
        if self.counts.is_empty() {
            return;
        }
        let counts = std::mem::take(&mut self.counts);
        let bytes = std::mem::take(&mut self.bytes);
        match self.style {
            Style::Summary => {
                self.line(format!("{bytes} bytes:"));
                for (name, count) in counts {
                    self.line(format!("  {name:<12} {count}"));
                }
            }
            Style::JsonSummary => {
                let mut line = format!("{{\"bytes\": {bytes}, \"fields\": {{");
                for (i, (name, count)) in counts.into_iter().enumerate() {
                    let comma = if i > 0 { ", " } else { "" };
                    let _ = write!(line, "{comma}\"{name}\": {count}");
                }
                line.push_str("}}");
                self.line(line);
            }
            Style::Table | Style::Json => {}
        }
    }

    fn end(&mut self) -> io::Result<()> {
        self.summary_lines();
        self.check()?;
        self.out.flush()
    }
}

/// Why a command-line input is not bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError(pub String);

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The bytes typed on the command line: hex digits (spaces, `:` and a
/// `0x` prefix allowed), or a Python bytes literal as `print` shows one
/// (`b'\x80\x03K\x0c.'`), which is how the course's slides print them.
pub fn parse_bytes(text: &str) -> Result<Vec<u8>, InputError> {
    let text = text.trim();
    if let Some(body) = text
        .strip_prefix("b'")
        .and_then(|t| t.strip_suffix('\''))
        .or_else(|| text.strip_prefix("b\"").and_then(|t| t.strip_suffix('"')))
    {
        return parse_literal(body);
    }
    let digits: Vec<u8> = text
        .strip_prefix("0x")
        .unwrap_or(text)
        .bytes()
        .filter(|b| !b.is_ascii_whitespace() && *b != b':')
        .collect();
    if !digits.len().is_multiple_of(2) {
        return Err(InputError(format!(
            "odd number of hex digits ({}): each byte is two",
            digits.len()
        )));
    }
    digits
        .chunks(2)
        .enumerate()
        .map(|(i, pair)| {
            let text = std::str::from_utf8(pair).unwrap_or("??");
            u8::from_str_radix(text, 16).map_err(|_| {
                InputError(format!(
                    "byte {i} is not two hex digits: {}",
                    crate::escape::Quoted(pair)
                ))
            })
        })
        .collect()
}

/// The body of a Python bytes literal: printable ASCII and the escapes
/// Python writes (`\xNN`, `\n`, `\r`, `\t`, `\\`, `\'`, `\"`), and the
/// other escapes it reads (`\a`, `\b`, `\f`, `\v`, octal `\NNN`).
fn parse_literal(body: &str) -> Result<Vec<u8>, InputError> {
    let mut out = Vec::new();
    let bytes = body.as_bytes();
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        i += 1;
        if !byte.is_ascii() || byte.is_ascii_control() {
            return Err(InputError(
                "a bytes literal holds ASCII only: write other bytes as \\xNN".to_string(),
            ));
        }
        if byte != b'\\' {
            out.push(byte);
            continue;
        }
        let Some(&escape) = bytes.get(i) else {
            return Err(InputError(
                "the literal ends with a lone backslash".to_string(),
            ));
        };
        i += 1;
        let value = match escape {
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'a' => 0x07,
            b'b' => 0x08,
            b'f' => 0x0c,
            b'v' => 0x0b,
            b'\\' | b'\'' | b'"' => escape,
            b'x' => {
                let pair = bytes.get(i..i + 2).unwrap_or_default();
                i += 2;
                std::str::from_utf8(pair)
                    .ok()
                    .and_then(|t| u8::from_str_radix(t, 16).ok())
                    .ok_or_else(|| {
                        InputError("\\x must be followed by two hex digits".to_string())
                    })?
            }
            b'0'..=b'7' => {
                let mut value = u32::from(escape - b'0');
                for _ in 0..2 {
                    match bytes.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            value = value * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                u8::try_from(value)
                    .map_err(|_| InputError("an octal escape is at most \\377".to_string()))?
            }
            other => {
                return Err(InputError(format!(
                    "unknown escape \\{}",
                    crate::escape::Quoted(&[other])
                )));
            }
        };
        out.push(value);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &[u8], side: Side, style: Style) -> String {
        let mut out = Vec::new();
        explain(&mut &input[..], side, style, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_slides_literal_and_hex_are_the_same_bytes() {
        assert_eq!(
            parse_bytes("b'\\x80\\x03K\\x0c.'").unwrap(),
            b"\x80\x03K\x0c."
        );
        assert_eq!(parse_bytes("80 03 4b 0c 2e").unwrap(), b"\x80\x03K\x0c.");
        assert_eq!(parse_bytes("0x80034b0c2e").unwrap(), b"\x80\x03K\x0c.");
        assert_eq!(parse_bytes("b'(lp0\\nI1\\na.'").unwrap(), b"(lp0\nI1\na.");
        assert_eq!(parse_bytes("b'\\0\\101'").unwrap(), b"\0A");
        assert!(parse_bytes("803").is_err());
        assert!(parse_bytes("zz").is_err());
        assert!(parse_bytes("b'\\x8'").is_err());
        assert!(parse_bytes("b'\\q'").is_err());
    }

    #[test]
    fn a_request_as_json_lines() {
        // struct.pack('I', 13) + pickle.dumps([1, 300], protocol=2)
        let request = b"\x0d\x00\x00\x00\x80\x02]q\x00(K\x01M,\x01e.";
        let text = run(request, Side::Request, Style::Json);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                r#"{"offset": 0, "len": 4, "hex": "0d000000", "field": "length", "value": 13}"#,
                r#"{"offset": 4, "len": 2, "hex": "8002", "field": "PROTO", "value": 2}"#,
                r#"{"offset": 6, "len": 1, "hex": "5d", "field": "EMPTY_LIST"}"#,
                r#"{"offset": 7, "len": 2, "hex": "7100", "field": "BINPUT", "value": 0}"#,
                r#"{"offset": 9, "len": 1, "hex": "28", "field": "MARK"}"#,
                r#"{"offset": 10, "len": 2, "hex": "4b01", "field": "BININT1", "value": 1, "sum": 1}"#,
                r#"{"offset": 12, "len": 3, "hex": "4d2c01", "field": "BININT2", "value": 300, "sum": 301}"#,
                r#"{"offset": 15, "len": 1, "hex": "65", "field": "APPENDS"}"#,
                r#"{"offset": 16, "len": 1, "hex": "2e", "field": "STOP"}"#,
                r#"{"verdict": "sum", "ints": 2, "sum": 301}"#,
            ]
        );
    }

    #[test]
    fn a_bare_payload_is_shown_from_its_own_first_byte() {
        let payload = b"\x80\x02]q\x00K\x07a.";
        assert_eq!(guess_side(payload), Side::Payload);
        let text = run(payload, Side::Payload, Style::Table);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[1].split_whitespace().take(3).collect::<Vec<_>>(),
            ["0", "80", "02"]
        );
        assert_eq!(
            lines.last().unwrap(),
            &"verdict: the server answers 7 (1 int): 07 00 00 00"
        );
    }

    #[test]
    fn a_refusal_names_its_byte_in_the_input_and_in_the_payload() {
        let request = b"\x0a\x00\x00\x00\x80\x02cos\nsystem\n";
        let text = run(request, Side::Request, Style::Table);
        assert_eq!(
            text.lines().last().unwrap(),
            "verdict: refused at byte 6 (byte 2 of the payload): pickle opcode GLOBAL (0x63) at byte 2 is not allowed: only a list of ints is accepted; the server closes the connection without an answer"
        );
    }

    #[test]
    fn guesses() {
        assert_eq!(guess_side(b"\x0e\x00\x00\x00\x80\x02"), Side::Request);
        assert_eq!(guess_side(b"(lp0\nI1\na."), Side::Payload);
        assert_eq!(guess_side(b"]q\x00(K\x01"), Side::Payload);
        // pickle.dumps(list(range(60)), 4): FRAME of 0x100 bytes; its
        // first 4 bytes read as a length within the limit, but what
        // follows is no payload start.
        assert_eq!(
            guess_side(b"\x80\x04\x95\x00\x01\x00\x00\x00\x00\x00\x00]"),
            Side::Payload
        );
    }

    #[test]
    fn a_summary_counts_fields() {
        let mut request = Vec::new();
        let payload = {
            let mut p = b"\x80\x02]q\x00(".to_vec();
            for _ in 0..1000 {
                p.extend_from_slice(b"K\x02");
            }
            p.extend_from_slice(b"e.");
            p
        };
        request.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        request.extend_from_slice(&payload);
        let text = run(&request, Side::Request, Style::Summary);
        assert!(text.contains("  BININT1      1000\n"), "{text}");
        assert!(text.ends_with("verdict: the server answers 2000 (1000 ints): d0 07 00 00\n"));
    }
}
