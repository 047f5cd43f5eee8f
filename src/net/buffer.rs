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

    /// Puts `bytes` back in front of what is buffered: they are read first.
    pub(crate) fn unread(&mut self, bytes: &[u8]) {
        self.scanned = 0;
        if bytes.len() <= self.start {
            self.start -= bytes.len();
            self.data[self.start..self.start + bytes.len()].copy_from_slice(bytes);
        } else {
            let mut data = Vec::with_capacity(bytes.len() + self.data.len() - self.start);
            data.extend_from_slice(bytes);
            data.extend_from_slice(self.buffered());
            self.data = data;
            self.start = 0;
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
    pub(crate) fn take_until(&mut self, delim: Delimiter<'_>, out: &mut [u8]) -> Option<usize> {
        let max = out.len();
        let avail = self.buffered();
        let end = avail.len().min(max);
        let from = self.scanned.saturating_sub(delim.overlap()).min(end);
        if let Some(found) = delim.end_in(&avail[from..end]) {
            return Some(self.take_into(&mut out[..from + found]));
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

/// What a read-until stops after.
#[derive(Clone, Copy)]
pub(crate) enum Delimiter<'a> {
    /// This sequence of bytes (not empty).
    Sequence(&'a [u8]),
    /// Any one of these bytes (not empty): a text reader's line ends, b"\r\n".
    AnyByte(&'a [u8]),
}

impl Delimiter<'_> {
    /// Where the first delimiter in `haystack` ends (the length of the piece it closes).
    pub(crate) fn end_in(self, haystack: &[u8]) -> Option<usize> {
        match self {
            Delimiter::Sequence(needle) => find(haystack, needle).map(|at| at + needle.len()),
            Delimiter::AnyByte(set) => find_any(haystack, set).map(|at| at + 1),
        }
    }

    /// How many bytes at the end of a searched stretch may be the start of a delimiter that
    /// more bytes complete: the next search starts that far back.
    pub(crate) fn overlap(self) -> usize {
        match self {
            Delimiter::Sequence(needle) => needle.len().saturating_sub(1),
            Delimiter::AnyByte(_) => 0,
        }
    }
}

/// Where the first of the bytes of `set` occurs in `haystack`: one `memchr` per byte of the
/// set, each over what is left before the best match so far.
fn find_any(haystack: &[u8], set: &[u8]) -> Option<usize> {
    let mut best = None;
    let mut limit = haystack.len();
    for &byte in set {
        if let Some(at) = crate::sys::memchr(byte, &haystack[..limit]) {
            best = Some(at);
            limit = at;
        }
    }
    best
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
        let lf = Delimiter::Sequence(b"\n");
        let mut b = filled(b"ab\ncdefg\nh");
        let mut out = [0u8; 4];
        assert_eq!(b.take_until(lf, &mut out), Some(3));
        assert_eq!(&out[..3], b"ab\n");
        assert_eq!(b.take_until(lf, &mut out), Some(4)); // longer than max: a piece
        assert_eq!(&out, b"cdef");
        assert_eq!(b.take_until(lf, &mut out), Some(2));
        assert_eq!(&out[..2], b"g\n");
        assert_eq!(b.take_until(lf, &mut out), None);
        assert_eq!(b.buffered(), b"h");
        let crlf = Delimiter::Sequence(b"\r\n");
        let mut b = filled(b"x\r");
        let mut out = [0u8; 16];
        assert_eq!(b.take_until(crlf, &mut out), None);
        b.spare().extend_from_slice(b"\ny");
        assert_eq!(b.take_until(crlf, &mut out), Some(3));
        assert_eq!(&out[..3], b"x\r\n");
    }

    #[test]
    fn any_byte_stops_at_the_first_of_the_set() {
        let ends = Delimiter::AnyByte(b"\r\n");
        let mut b = filled(b"ab\ncd\ref\r\ngh");
        let mut out = [0u8; 16];
        let mut pieces = Vec::new();
        while let Some(n) = b.take_until(ends, &mut out) {
            pieces.push(out[..n].to_vec());
        }
        assert_eq!(pieces, [&b"ab\n"[..], b"cd\r", b"ef\r", b"\n"]);
        assert_eq!(b.buffered(), b"gh"); // no delimiter yet
        assert_eq!(find_any(b"xyz", b"\r\n"), None);
        let mut out = [0u8; 1];
        assert_eq!(b.take_into(&mut out), 1);
        b.unread(b"g"); // into the room the take left
        b.unread(b"ef"); // in front of it, with no room left
        assert_eq!(b.buffered(), b"efgh");
        assert_eq!(find_any(b"", b"\r\n"), None);
    }
}
