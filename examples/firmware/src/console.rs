//! The console's lines: the bytes typed on the UART, gathered into lines
//! for the chat's commands, with a bound. A line longer than the buffer is
//! dropped whole, never cut into a shorter command.

/// A line typed on the console, as the chat reads it.
pub struct LineReader<const N: usize> {
    buf: [u8; N],
    len: usize,
    /// The line being typed is longer than `N`: it is dropped at its end.
    overflow: bool,
}

/// What [`LineReader::push`] made of a byte.
pub enum Line<'a> {
    /// Not the end of a line yet.
    Partial,
    /// A whole line, without its end (`\n`, `\r` or `\r\n`).
    Complete(&'a [u8]),
    /// A line longer than the reader's buffer ended: it was dropped.
    TooLong,
}

impl<const N: usize> Default for LineReader<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> LineReader<N> {
    /// An empty line.
    pub const fn new() -> Self {
        LineReader {
            buf: [0; N],
            len: 0,
            overflow: false,
        }
    }

    /// Adds a received byte.
    pub fn push(&mut self, byte: u8) -> Line<'_> {
        if byte == b'\n' || byte == b'\r' {
            let (len, overflow) = (self.len, self.overflow);
            self.len = 0;
            self.overflow = false;
            return match (overflow, len) {
                (true, _) => Line::TooLong,
                // The `\n` of a `\r\n`, or an empty line.
                (false, 0) => Line::Partial,
                (false, len) => Line::Complete(self.buf.get(..len).unwrap_or_default()),
            };
        }
        match self.buf.get_mut(self.len) {
            Some(slot) => {
                *slot = byte;
                self.len += 1;
            }
            None => self.overflow = true,
        }
        Line::Partial
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::vec::Vec;

    use super::{Line, LineReader};

    /// What `reader` makes of `input`: the complete lines, and `None` for
    /// each one too long.
    fn lines<const N: usize>(input: &[u8]) -> Vec<Option<Vec<u8>>> {
        let mut reader = LineReader::<N>::new();
        let mut out = Vec::new();
        for &byte in input {
            match reader.push(byte) {
                Line::Partial => {}
                Line::Complete(line) => out.push(Some(line.to_vec())),
                Line::TooLong => out.push(None),
            }
        }
        out
    }

    #[test]
    fn lines_end_at_lf_cr_or_crlf_and_empty_lines_are_skipped() {
        assert_eq!(
            lines::<16>(b"/join 1.2.3.4 5\r\n\n/send a\rx"),
            [Some(b"/join 1.2.3.4 5".to_vec()), Some(b"/send a".to_vec())]
        );
    }

    #[test]
    fn a_line_longer_than_the_buffer_is_dropped_whole() {
        assert_eq!(
            lines::<4>(b"abcd\nabcde\nab\n"),
            [Some(b"abcd".to_vec()), None, Some(b"ab".to_vec())]
        );
    }
}
