//! Text from the network, made safe for a terminal or a log line: the rule
//! is the core's ([`reseau_core::escape`]); this module adds what needs std,
//! a `String` and a [`TerminalWriter`].

pub use reseau_core::escape::{Escaped, Quoted, must_escape, write_escaped};

/// `bytes` escaped by the rule of [`reseau_core::escape`], as a `String`.
///
/// ```
/// use reseau_host::escape::escape;
///
/// assert_eq!(escape(b"\x1b[2Jhi\n"), r"\x1b[2Jhi\n");
/// ```
pub fn escape(bytes: &[u8]) -> String {
    Escaped(bytes).to_string()
}

/// A writer for a terminal: what goes through it is escaped by the rule of
/// this module, except the newline, which still ends a line (a stream of
/// lines stays lines). A UTF-8 character split between two writes is
/// joined again; one left incomplete at the end is shown as `\xHH` by
/// [`TerminalWriter::finish`].
#[derive(Debug)]
pub struct TerminalWriter<W: std::io::Write> {
    inner: W,
    /// The start of a UTF-8 character cut by the end of the last write
    /// (at most 3 bytes).
    pending: Vec<u8>,
    text: String,
}

impl<W: std::io::Write> TerminalWriter<W> {
    /// Escapes what is written before it reaches `inner`.
    pub fn new(inner: W) -> Self {
        TerminalWriter {
            inner,
            pending: Vec::new(),
            text: String::new(),
        }
    }

    /// Writes out a character left incomplete, escaped, and flushes.
    pub fn finish(&mut self) -> std::io::Result<()> {
        let rest = std::mem::take(&mut self.pending);
        self.emit(&rest)?;
        self.inner.flush()
    }

    fn emit(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.text.clear();
        for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
            if i > 0 {
                self.text.push('\n');
            }
            // Writing to a String cannot fail.
            let _ = write_escaped(&mut self.text, line, false);
        }
        self.inner.write_all(self.text.as_bytes())
    }
}

impl<W: std::io::Write> std::io::Write for TerminalWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut bytes = std::mem::take(&mut self.pending);
        bytes.extend_from_slice(buf);
        // Keep back the start of a character the next write may complete.
        let keep = incomplete_tail(&bytes);
        let cut = bytes.len() - keep;
        self.pending = bytes.split_off(cut);
        self.emit(&bytes)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// How many bytes at the end of `bytes` start a UTF-8 character that is
/// not complete yet (0 to 3).
fn incomplete_tail(bytes: &[u8]) -> usize {
    for back in 1..=3.min(bytes.len()) {
        let Some(&byte) = bytes.get(bytes.len() - back) else {
            return 0;
        };
        let needed = match byte {
            0xc2..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf4 => 4,
            0x80..=0xbf => continue,
            _ => return 0,
        };
        return if needed > back { back } else { 0 };
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    #[test]
    fn terminal_writer_keeps_lines_and_joins_split_characters() {
        let mut out = TerminalWriter::new(Vec::new());
        let bytes = "é\x1b[2J\nline two\r\u{202e}\n".as_bytes();
        // Split at every byte: the same output.
        for &byte in bytes {
            out.write_all(&[byte]).unwrap();
        }
        out.finish().unwrap();
        assert_eq!(
            String::from_utf8(out.inner).unwrap(),
            "é\\x1b[2J\nline two\\r\\u{202e}\n"
        );
    }

    #[test]
    fn terminal_writer_shows_a_cut_character_at_the_end() {
        let mut out = TerminalWriter::new(Vec::new());
        out.write_all(b"ok\xe2\x80").unwrap();
        out.finish().unwrap();
        assert_eq!(String::from_utf8(out.inner).unwrap(), "ok\\xe2\\x80");
    }
}
