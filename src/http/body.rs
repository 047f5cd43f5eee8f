//! The request body: Content-Length bytes, or chunks decoded on the fly, read from the socket's
//! buffer first and then straight into the caller's buffer (no copy for large bodies).

use crate::error::{Errno, Result};
use crate::net::socket::Socket;
use crate::sys;

/// Longest chunk-size line (with its extensions) or trailer field accepted.
const CHUNK_LINE_MAX: usize = 4096;
/// Most trailer bytes accepted after the last chunk.
const TRAILERS_MAX: usize = 64 << 10;

/// Where the reader is in the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Body {
    /// Nothing (left) to read.
    Done,
    /// Bytes of a Content-Length body left.
    Length(u64),
    /// Chunked: waiting for a chunk-size line.
    Size,
    /// Chunked: bytes of the current chunk left.
    Data(u64),
    /// Chunked: the CRLF after a chunk's data.
    DataEnd,
    /// Chunked: trailer fields after the last chunk; bytes of them read so far.
    Trailers(usize),
}

impl Body {
    pub(crate) fn of(content_length: i64) -> Body {
        match content_length {
            -1 => Body::Size,
            0 => Body::Done,
            n => Body::Length(n as u64),
        }
    }

    /// Bytes known to be left, if the body's end is known without reading it.
    pub(crate) fn left(&self) -> Option<u64> {
        match *self {
            Body::Done => Some(0),
            Body::Length(n) => Some(n),
            _ => None,
        }
    }
}

/// A malformed chunked body (EPROTO), a body cut short by the peer (ECONNRESET).
const BAD: Errno = Errno(libc::EPROTO);
const CUT: Errno = Errno(libc::ECONNRESET);

/// Reads some body bytes into `out` (a non-empty buffer); `Ok(0)` at the body's end. EAGAIN
/// when the socket has nothing yet: `st` keeps the progress, so the caller waits and calls
/// again.
pub(crate) fn read(s: &mut Socket, st: &mut Body, out: &mut [u8]) -> Result<usize> {
    loop {
        match *st {
            Body::Done => return Ok(0),
            Body::Length(left) | Body::Data(left) => {
                let want = out.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                let n = if s.rbuf.is_empty() {
                    sys::recv(s.raw(), &mut out[..want])?
                } else {
                    s.rbuf.take_into(&mut out[..want])
                };
                if n == 0 {
                    return Err(CUT);
                }
                let left = left - n as u64;
                *st = match (*st, left) {
                    (Body::Length(_), 0) => Body::Done,
                    (Body::Length(_), _) => Body::Length(left),
                    (_, 0) => Body::DataEnd,
                    _ => Body::Data(left),
                };
                return Ok(n);
            }
            Body::Size => {
                let line = fill_line(s, CHUNK_LINE_MAX)?;
                let head = s.rbuf.buffered();
                // httparse takes an empty size as 0: a size needs a digit.
                if !head[0].is_ascii_hexdigit() {
                    return Err(BAD);
                }
                match httparse::parse_chunk_size(&head[..line]) {
                    Ok(httparse::Status::Complete((used, size))) if used == line => {
                        s.rbuf.consume(used);
                        *st = if size == 0 {
                            Body::Trailers(0)
                        } else {
                            Body::Data(size)
                        };
                    }
                    _ => return Err(BAD),
                }
            }
            Body::DataEnd => {
                fill(s, 2)?;
                if &s.rbuf.buffered()[..2] != b"\r\n" {
                    return Err(BAD);
                }
                s.rbuf.consume(2);
                *st = Body::Size;
            }
            Body::Trailers(seen) => {
                let line = fill_line(s, CHUNK_LINE_MAX)?;
                let empty = line == 2 && s.rbuf.buffered().starts_with(b"\r\n");
                if !empty && (s.rbuf.buffered()[line - 2] != b'\r' || seen + line > TRAILERS_MAX) {
                    return Err(BAD);
                }
                s.rbuf.consume(line);
                *st = if empty {
                    Body::Done
                } else {
                    Body::Trailers(seen + line)
                };
            }
        }
    }
}

/// Makes the buffer hold at least `n` bytes (EAGAIN while they are on their way).
fn fill(s: &mut Socket, n: usize) -> Result<()> {
    while s.rbuf.buffered().len() < n {
        receive(s)?;
    }
    Ok(())
}

/// Makes the buffer hold a whole line (CRLF-terminated, at most `max` bytes); returns its
/// length with the line end.
fn fill_line(s: &mut Socket, max: usize) -> Result<usize> {
    let mut from = 0;
    loop {
        let buffered = s.rbuf.buffered();
        if let Some(i) = crate::net::buffer::find(&buffered[from..], b"\n") {
            let len = from + i + 1;
            if len < 2 || buffered[len - 2] != b'\r' {
                return Err(BAD); // a bare LF inside a chunked body
            }
            return Ok(len);
        }
        if buffered.len() >= max {
            return Err(BAD);
        }
        from = buffered.len();
        receive(s)?;
    }
}

fn receive(s: &mut Socket) -> Result<()> {
    let fd = s.raw();
    match sys::recv_append(fd, s.rbuf.spare(), 4096)? {
        0 => Err(CUT),
        _ => Ok(()),
    }
}
