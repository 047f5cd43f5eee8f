//! Data transfer on connected sockets.

use std::io::IoSlice;

use super::buffer::Delimiter;
use super::socket::{self, transfer, Turn};
use crate::error::{Errno, Result};
use crate::runtime::{self, Direction};
use crate::sys;

/// Receives up to `buf.len()` bytes (buffered bytes first); `Ok(0)` means end of stream.
pub fn recv(id: u64, buf: &mut [u8]) -> Result<usize> {
    if buf.is_empty() {
        return runtime::with(|h| socket::get(h, id).map(|_| 0));
    }
    transfer(id, Direction::Read, Turn::Fair, |s| {
        if !s.rbuf.is_empty() {
            return Ok((s.rbuf.take_into(buf), false));
        }
        let n = sys::recv(s.raw(), buf)?;
        Ok((n, s.drained_by(n, buf.len())))
    })
}

/// Sends some of `buf` (at least one byte unless it is empty); never raises SIGPIPE.
pub fn send(id: u64, buf: &[u8]) -> Result<usize> {
    if buf.is_empty() {
        return runtime::with(|h| socket::get(h, id).map(|_| 0));
    }
    transfer(id, Direction::Write, Turn::Free, |s| {
        let n = sys::send(s.raw(), buf)?;
        Ok((n, s.drained_by(n, buf.len())))
    })
}

/// Sends all of `buf`.
pub fn sendall(id: u64, buf: &[u8]) -> Result<()> {
    let mut sent = 0;
    while sent < buf.len() {
        sent += send(id, &buf[sent..])?;
    }
    if buf.is_empty() {
        runtime::with(|h| socket::get(h, id).map(|_| ()))?;
    }
    Ok(())
}

/// Sends all of `bufs`, in order, with as few sendmsg(2) calls as the socket allows (one when
/// it takes them whole). `more`: the caller sends more at once (MSG_MORE), so the kernel may
/// join these bytes with the next ones in one segment.
pub fn sendall_vectored(id: u64, bufs: &mut [IoSlice<'_>], more: bool) -> Result<()> {
    let mut bufs = bufs;
    IoSlice::advance_slices(&mut bufs, 0); // skip leading empty buffers
    if bufs.is_empty() {
        return runtime::with(|h| socket::get(h, id).map(|_| ()));
    }
    while !bufs.is_empty() {
        // What one sendmsg(2) may take: at most IOV_MAX buffers.
        let offered: usize = bufs.iter().take(sys::IOV_MAX).map(|b| b.len()).sum();
        let n = transfer(id, Direction::Write, Turn::Free, |s| {
            let n = sys::send_vectored(s.raw(), bufs, more)?;
            Ok((n, s.drained_by(n, offered)))
        })?;
        IoSlice::advance_slices(&mut bufs, n);
    }
    Ok(())
}

/// Copies up to `out.len()` of the bytes the next read returns first into `out`, without
/// consuming them; waits until there is at least one. `Ok(0)` means end of stream. What it
/// receives stays in the socket's buffer, for the reads after it.
pub fn peek(id: u64, out: &mut [u8]) -> Result<usize> {
    if out.is_empty() {
        return runtime::with(|h| socket::get(h, id).map(|_| 0));
    }
    // Free: a peek serves nothing by itself; the read after it takes the thread's turn.
    transfer(id, Direction::Read, Turn::Free, |s| {
        let mut drained = false;
        if s.rbuf.is_empty() {
            let want = s.rbuf.next_read_size(out.len());
            let fd = s.raw();
            let n = sys::recv_append(fd, s.rbuf.spare(), want)?;
            if n == 0 {
                return Ok((0, false));
            }
            drained = s.drained_by(n, want);
        }
        let buffered = s.rbuf.buffered();
        let n = buffered.len().min(out.len());
        out[..n].copy_from_slice(&buffered[..n]);
        Ok((n, drained))
    })
}

/// Puts `bytes` back in front of the socket's buffered data: the next read returns them first
/// (a reader that took more than it could use, or was interrupted after taking a part).
pub fn unread(id: u64, bytes: &[u8]) -> Result<()> {
    runtime::with(|h| {
        socket::get(h, id)?.rbuf.unread(bytes);
        Ok(())
    })
}

/// Reads up to and including `delim` into `out`. A piece longer than `out` comes back as
/// `out.len()` bytes; at end of stream whatever is left comes back, then `Ok(0)`.
///
/// With nothing buffered it receives straight into `out`, and only bytes that arrive after the
/// delimiter are kept in the socket's buffer: a peer that sends a line at a time costs no
/// buffer and no copy.
pub fn read_until(id: u64, delim: &[u8], out: &mut [u8]) -> Result<usize> {
    if delim.is_empty() {
        return Err(Errno(libc::EINVAL));
    }
    read_until_delimiter(id, Delimiter::Sequence(delim), out)
}

/// [`read_until`] stopping after the first byte that is one of `set`'s: a text reader's line
/// (`b"\r\n"`: a line ends at either, and the reader looks at the byte after a '\r' itself).
pub fn read_until_any(id: u64, set: &[u8], out: &mut [u8]) -> Result<usize> {
    if set.is_empty() {
        return Err(Errno(libc::EINVAL));
    }
    read_until_delimiter(id, Delimiter::AnyByte(set), out)
}

fn read_until_delimiter(id: u64, delim: Delimiter<'_>, out: &mut [u8]) -> Result<usize> {
    if out.is_empty() {
        return Err(Errno(libc::EINVAL));
    }
    let mut filled = 0; // bytes of the current piece already received into `out`
    let result = transfer(id, Direction::Read, Turn::Fair, |s| {
        if filled == 0 && !s.rbuf.is_empty() {
            return read_buffered(s, delim, out);
        }
        loop {
            let asked = out.len() - filled;
            let n = sys::recv(s.raw(), &mut out[filled..])?;
            if n == 0 {
                // End of stream: the unterminated rest.
                return Ok((std::mem::take(&mut filled), false));
            }
            let from = filled.saturating_sub(delim.overlap());
            filled += n;
            if let Some(found) = delim.end_in(&out[from..filled]) {
                let end = from + found;
                s.rbuf.stash(&out[end..filled]);
                filled = 0;
                return Ok((end, s.drained_by(n, asked)));
            }
            if filled == out.len() {
                return Ok((std::mem::take(&mut filled), false));
            }
            // A short read without the delimiter: receive again, though it most likely says
            // EAGAIN. Taking it for drained here would wait for an edge that may never come:
            // the end of stream can be queued behind these bytes, its event consumed by the
            // wake-up that led to this read.
        }
    });
    if result.is_err() && filled > 0 {
        // Timed out, killed or reset mid-line: keep what arrived for the next read.
        let _ = runtime::with(|h| {
            if let Ok(s) = socket::get(h, id) {
                s.rbuf.stash(&out[..filled]);
            }
            Ok(())
        });
    }
    result
}

/// The read-until of a socket that has bytes buffered: serve from the buffer, refilling it.
/// Also says whether its last receive left the kernel's buffer drained.
fn read_buffered(
    s: &mut socket::Socket,
    delim: Delimiter<'_>,
    out: &mut [u8],
) -> Result<(usize, bool)> {
    let mut drained = false;
    loop {
        if let Some(n) = s.rbuf.take_until(delim, out) {
            return Ok((n, drained));
        }
        // (After a short receive too: see read_until_delimiter.)
        let want = s.rbuf.next_read_size(out.len());
        let fd = s.raw();
        let n = sys::recv_append(fd, s.rbuf.spare(), want)?;
        if n == 0 {
            // End of stream: hand out the unterminated rest (or 0 when nothing is left).
            return Ok((s.rbuf.take_into(out), false));
        }
        drained = s.drained_by(n, want);
    }
}
