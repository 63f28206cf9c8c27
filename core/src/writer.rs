//! A cursor over a caller's buffer, for the encoders.

/// A cursor over a caller's buffer.
///
/// Writes past the end are dropped and remembered; the encoders' callers
/// give at least their `MAX_WRITE` bytes, so that never happens in practice,
/// and [`overflowed`](Self::overflowed) tells if it did.
#[derive(Debug)]
pub struct Writer<'a> {
    buf: &'a mut [u8],
    len: usize,
    overflowed: bool,
}

impl<'a> Writer<'a> {
    /// A writer at the start of `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Writer {
            buf,
            len: 0,
            overflowed: false,
        }
    }

    /// Bytes written.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Bytes left before the end of the buffer.
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.len)
    }

    /// True if nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes written.
    pub fn written(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }

    /// True if a write did not fit.
    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    /// Runs `f` with a writer of its own over the room left, then counts
    /// what it wrote as written here.
    ///
    /// For loops that write many small pieces: the inner writer is a
    /// local, so the compiler keeps its length in a register instead of
    /// storing it after every piece (it cannot prove that the bytes written
    /// do not land on the outer writer's fields).
    #[inline]
    pub fn nested<R>(&mut self, f: impl FnOnce(&mut Writer<'_>) -> R) -> R {
        let mut inner = Writer::new(self.buf.get_mut(self.len..).unwrap_or_default());
        let result = f(&mut inner);
        self.len += inner.len;
        self.overflowed |= inner.overflowed;
        result
    }

    /// Appends `bytes`, or marks the writer overflowed.
    #[inline]
    pub fn put(&mut self, bytes: &[u8]) {
        match self.buf.get_mut(self.len..self.len + bytes.len()) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                self.len += bytes.len();
            }
            None => self.overflowed = true,
        }
    }
}
