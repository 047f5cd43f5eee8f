//! File to socket: zero-copy from the page cache, in bounded chunks, the rest through the pool.

use std::os::fd::RawFd;

use super::{read_on_pool, residency};
use crate::error::{Errno, Result};
use crate::net::socket::{self, retry_io};
use crate::net::{sendall, SocketId};
use crate::runtime::{self, thread, Direction};
use crate::sys;

/// Most bytes sent before the sender lets the other threads run: a fast reader of a cached file
/// would otherwise keep the hub as long as its socket takes data.
pub(crate) const SEND_CHUNK: usize = 1 << 20;

/// Sends `count` bytes of file `fd` from `offset` to socket `id`; returns the bytes sent, fewer
/// than `count` only when the file ended first. `count` is clamped to `isize::MAX`.
///
/// A chunk (at most [`SEND_CHUNK`]) whose pages are all in the page cache of a local filesystem
/// goes with sendfile(2), which then cannot block on the file. Any other chunk is read on the
/// thread pool into memory and sent from there, so a slow disk or FUSE file stalls only this
/// thread. After each cached chunk the sender yields (a chunk read on the pool has let the
/// others run already).
pub fn sendfile(id: SocketId, fd: RawFd, offset: i64, count: usize) -> Result<usize> {
    if fd < 0 {
        return Err(Errno(libc::EBADF));
    }
    if offset < 0 {
        return Err(Errno(libc::EINVAL));
    }
    let count = count.min(isize::MAX as usize);
    runtime::with(|h| socket::get(h, id).map(|_| ()))?; // EBADF before any work on the file
    let local = residency::is_local(fd)?;
    let mut offset = offset;
    let mut resident_end = offset; // the bytes before this offset were found in the page cache
    let mut sent = 0;
    while sent < count {
        let left = count - sent;
        if local && offset >= resident_end {
            let chunk = left.min(SEND_CHUNK);
            if residency::resident(fd, offset as u64, chunk) {
                resident_end = offset.saturating_add(chunk as i64);
            }
        }
        let n = if offset < resident_end {
            // What a partial send left of a checked chunk goes without checking it again.
            let len = left.min((resident_end - offset) as usize);
            let n = retry_io(id, Direction::Write, |s| {
                sys::sendfile(s.raw(), fd, &mut offset, len)
            })?;
            if n == len && n < left {
                thread::yield_now()?; // a whole chunk went and the socket takes more: others' turn
            }
            n
        } else {
            // Only this thread waits for the read; the others run meanwhile.
            let data = read_on_pool(fd, offset, left.min(SEND_CHUNK))?;
            sendall(id, &data)?;
            offset += data.len() as i64;
            data.len()
        };
        if n == 0 {
            break;
        }
        sent += n;
    }
    Ok(sent)
}
