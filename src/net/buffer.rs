//! The per-socket read buffer behind readline and read-until. Bounded: it never holds more than
//! the caller's maximum plus one receive chunk, so a peer sending an endless line cannot make it
//! grow.

/// Largest single receive into the buffer.
const CHUNK_MAX: usize = 64 * 1024;
/// Smallest receive, so short lines are read many at a time.
const CHUNK_MIN: usize = 4 * 1024;

#[derive(Default)]
pub(crate) struct ReadBuffer {
    data: Vec<u8>,
    start: usize,
    /// Bytes after `start` already searched for the delimiter without success.
    scanned: usize,
}

impl ReadBuffer {
    pub(crate) fn buffered(&self) -> &[u8] {
        &self.data[self.start..]
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.start == self.data.len()
    }

    /// Keeps `bytes` after what is buffered (bytes received past a delimiter).
    pub(crate) fn stash(&mut self, bytes: &[u8]) {
        if !bytes.is_empty() {
            self.spare().extend_from_slice(bytes);
        }
    }

    /// Moves up to `out.len()` buffered bytes into `out`.
    pub(crate) fn take_into(&mut self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.data.len() - self.start);
        out[..n].copy_from_slice(&self.data[self.start..self.start + n]);
        self.consume(n);
        n
    }

    pub(crate) fn consume(&mut self, n: usize) {
        self.start += n;
        self.scanned = 0;
        if self.start == self.data.len() {
            self.data.clear();
            self.start = 0;
            if self.data.capacity() > CHUNK_MAX {
                self.data = Vec::new(); // give a huge line's memory back
            }
        }
    }

    /// A complete piece for a read-until: up to and including `delim` if it occurs within
    /// `out.len()` bytes, or `out.len()` bytes if that many are buffered without it.
    pub(crate) fn take_until(&mut self, delim: &[u8], out: &mut [u8]) -> Option<usize> {
        let max = out.len();
        let avail = self.buffered();
        let end = avail.len().min(max);
        let from = self.scanned.saturating_sub(delim.len() - 1).min(end);
        let window = &avail[from..end];
        if let Some(pos) = find(window, delim) {
            let end = from + pos + delim.len();
            if end <= max {
                return Some(self.take_into(&mut out[..end]));
            }
        }
        if avail.len() >= max {
            return Some(self.take_into(out));
        }
        self.scanned = avail.len();
        None
    }

    /// How much the next receive may read for a caller wanting lines of at most `max` bytes.
    pub(crate) fn next_read_size(&self, max: usize) -> usize {
        let missing = max.saturating_sub(self.data.len() - self.start);
        missing.clamp(CHUNK_MIN, CHUNK_MAX)
    }

    /// Makes room at the end by dropping consumed bytes.
    pub(crate) fn spare(&mut self) -> &mut Vec<u8> {
        if self.start > 0 {
            self.data.drain(..self.start);
            self.start = 0;
        }
        &mut self.data
    }
}

/// Where `needle` first occurs in `haystack`. Candidates are found with libc's vectorised
/// `memchr`: a byte-at-a-time scan of each received line cost more than its system call.
pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let mut from = 0;
    while let Some(i) = crate::sys::memchr(first, &haystack[from..]) {
        let at = from + i;
        if haystack[at + 1..].starts_with(rest) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(bytes: &[u8]) -> ReadBuffer {
        let mut b = ReadBuffer::default();
        b.spare().extend_from_slice(bytes);
        b
    }

    #[test]
    fn lines_pieces_and_delimiters() {
        let mut b = filled(b"ab\ncdefg\nh");
        let mut out = [0u8; 4];
        assert_eq!(b.take_until(b"\n", &mut out), Some(3));
        assert_eq!(&out[..3], b"ab\n");
        assert_eq!(b.take_until(b"\n", &mut out), Some(4)); // longer than max: a piece
        assert_eq!(&out, b"cdef");
        assert_eq!(b.take_until(b"\n", &mut out), Some(2));
        assert_eq!(&out[..2], b"g\n");
        assert_eq!(b.take_until(b"\n", &mut out), None);
        assert_eq!(b.buffered(), b"h");
        let mut crlf = filled(b"x\r");
        let mut out = [0u8; 16];
        assert_eq!(crlf.take_until(b"\r\n", &mut out), None);
        crlf.spare().extend_from_slice(b"\ny");
        assert_eq!(crlf.take_until(b"\r\n", &mut out), Some(3));
        assert_eq!(&out[..3], b"x\r\n");
    }
}
