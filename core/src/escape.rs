//! Text from the network, made safe for a terminal or a log line.
//!
//! Whatever a peer sends (a chat datagram, an echoed message, a name a
//! resolver returns) is shown through [`Escaped`] before it reaches a
//! terminal or a log: the reader sees every byte, and no byte acts on the
//! terminal. The rule, one for every program:
//!
//! - printable Unicode (letters, digits, punctuation, spaces, emoji, any
//!   script) is shown as it is;
//! - `\` is shown as `\\`, so that an escape in the output always means a
//!   byte that was escaped, never text the peer typed;
//! - tab, newline and carriage return are shown as `\t`, `\n` and `\r`;
//!   the other C0 controls (U+0000 to U+001F) and DEL (U+007F) as `\xHH`
//!   (`\x1b` for ESC, `\x08` for a backspace): no escape sequence (clear
//!   screen, window title, colours, cursor moves) can run, and no line can
//!   be split in two or overwritten;
//! - the C1 controls (U+0080 to U+009F, `\u{9b}` is a one-character CSI
//!   to some terminals), the bidirectional marks, embeddings, overrides and
//!   isolates (U+061C, U+200E, U+200F, U+202A to U+202E, U+2066 to U+2069),
//!   which reorder what the reader sees, and the Unicode line and paragraph
//!   separators (U+2028, U+2029) are shown as `\u{hex}`;
//! - a byte that is not part of valid UTF-8 is shown as `\xHH` (always 80
//!   to FF, so it cannot be mistaken for an escaped ASCII control).
//!
//! Written once for every shape: the `reseau` binary's terminals and logs,
//! the Python binding's traces and a firmware's UART.
//!
//! Nothing else is changed, so the escaped text of printable UTF-8 is the
//! text itself, and the original bytes can be read back from the output.

use core::fmt::{self, Write};

/// Displays `bytes` escaped by the rule of this module.
///
/// ```
/// use reseau_core::escape::Escaped;
///
/// let shown = Escaped(b"\x1b[2Jhi\nfake\xff \xe2\x80\xaecaf\xc3\xa9").to_string();
/// assert_eq!(shown, r"\x1b[2Jhi\nfake\xff \u{202e}café");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Escaped<'a>(pub &'a [u8]);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_escaped(f, self.0, false)
    }
}

/// Displays `bytes` between double quotes, escaped by the rule of this
/// module, with `"` shown as `\"` too: for a log line where the text is
/// one field among others (`echo: PEER: "TEXT" (N bytes); ...`).
#[derive(Debug, Clone, Copy)]
pub struct Quoted<'a>(pub &'a [u8]);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        write_escaped(f, self.0, true)?;
        f.write_char('"')
    }
}

/// Whether `c` is shown as an escape rather than as itself.
pub fn must_escape(c: char) -> bool {
    matches!(
        c,
        '\u{0}'..='\u{1f}'
            | '\u{7f}'..='\u{9f}'
            | '\u{61c}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
    )
}

/// Writes `bytes` to `out` escaped by the rule of this module; with
/// `quote`, `"` is escaped too (as [`Quoted`] does, without the quotes).
pub fn write_escaped(out: &mut impl Write, bytes: &[u8], quote: bool) -> fmt::Result {
    for chunk in bytes.utf8_chunks() {
        let valid = chunk.valid();
        // Runs of characters that need no escape are written at once.
        let mut start = 0;
        for (at, c) in valid.char_indices() {
            let escaped = must_escape(c) || c == '\\' || (quote && c == '"');
            if !escaped {
                continue;
            }
            out.write_str(valid.get(start..at).unwrap_or_default())?;
            start = at + c.len_utf8();
            match c {
                '\\' => out.write_str("\\\\")?,
                '"' => out.write_str("\\\"")?,
                '\t' => out.write_str("\\t")?,
                '\n' => out.write_str("\\n")?,
                '\r' => out.write_str("\\r")?,
                c if c.is_ascii() => write!(out, "\\x{:02x}", c as u32)?,
                c => write!(out, "\\u{{{:x}}}", c as u32)?,
            }
        }
        out.write_str(valid.get(start..).unwrap_or_default())?;
        for byte in chunk.invalid() {
            write!(out, "\\x{byte:02x}")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::format;
    use std::string::{String, ToString};
    use std::vec::Vec;

    use super::*;

    fn shown(bytes: &[u8]) -> String {
        Escaped(bytes).to_string()
    }

    #[test]
    fn printable_text_is_unchanged() {
        let text = "Hello, café, Ελληνικά, 日本語, emoji 👩‍💻, quotes \"'`";
        assert_eq!(shown(text.as_bytes()), text);
    }

    #[test]
    fn every_c0_control_and_del_is_escaped() {
        for byte in (0u8..0x20).chain([0x7f]) {
            let expected = match byte {
                b'\t' => "\\t".to_string(),
                b'\n' => "\\n".to_string(),
                b'\r' => "\\r".to_string(),
                _ => format!("\\x{byte:02x}"),
            };
            assert_eq!(shown(&[byte]), expected, "byte {byte:#x}");
        }
    }

    #[test]
    fn every_c1_control_is_escaped() {
        for c in '\u{80}'..='\u{9f}' {
            let mut buf = [0; 4];
            let bytes = c.encode_utf8(&mut buf).as_bytes();
            assert_eq!(shown(bytes), format!("\\u{{{:x}}}", c as u32));
        }
    }

    #[test]
    fn bidi_controls_and_separators_are_escaped() {
        for c in [
            '\u{61c}', '\u{200e}', '\u{200f}', '\u{2028}', '\u{2029}', '\u{202a}', '\u{202b}',
            '\u{202c}', '\u{202d}', '\u{202e}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
        ] {
            let text = format!("a{c}b");
            assert_eq!(shown(text.as_bytes()), format!("a\\u{{{:x}}}b", c as u32));
        }
        // Their neighbours are printable and stay.
        for c in ['\u{200d}', '\u{202f}', '\u{2065}', '\u{206a}'] {
            assert!(!must_escape(c), "{c:?}");
        }
    }

    #[test]
    fn invalid_utf8_is_escaped_byte_by_byte() {
        assert_eq!(shown(b"caf\xe9 \xff\xfe ok"), "caf\\xe9 \\xff\\xfe ok");
        // A character cut short: each of its bytes.
        assert_eq!(shown(b"a\xe2\x80"), "a\\xe2\\x80");
    }

    #[test]
    fn a_backslash_is_doubled_so_escapes_are_unambiguous() {
        assert_eq!(shown(b"\\x1b"), "\\\\x1b");
        assert_eq!(shown(b"\x1b"), "\\x1b");
    }

    #[test]
    fn the_output_has_no_control_character() {
        let all: Vec<u8> = (0..=255u8).collect();
        let text = shown(&all);
        assert!(text.chars().all(|c| !must_escape(c)), "{text:?}");
    }

    #[test]
    fn quoted_escapes_the_quote_too() {
        assert_eq!(Quoted(b"say \"hi\"\n").to_string(), "\"say \\\"hi\\\"\\n\"");
        assert_eq!(Escaped(b"say \"hi\"").to_string(), "say \"hi\"");
    }
}
