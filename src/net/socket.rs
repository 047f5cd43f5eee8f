//! The socket table entry and what every socket call shares: lookup, ownership, readiness
//! waits, close, options and addresses.
//!
//! mio rules kept here: each socket is registered once (readable and writable, edge-triggered)
//! and stays registered until it is closed; it is deregistered before its fd is closed; I/O is
//! always tried first and a thread waits only after EAGAIN.

use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Interest, Token};

use super::buffer::ReadBuffer;
use crate::error::{Errno, Result};
use crate::hub::{self, Hub, WaitKind, Waiter, Wake, ROOT};
use crate::sys;

pub(crate) struct Socket {
    pub(crate) fd: OwnedFd,
    owner: u64,
    reader: Option<Waiter>,
    writer: Option<Waiter>,
    /// `None`: wait forever; zero: never wait (EAGAIN); otherwise ETIMEDOUT after it.
    timeout: Option<Duration>,
    pub(crate) rbuf: ReadBuffer,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Read,
    Write,
}

impl Socket {
    pub(crate) fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    fn slot(&mut self, dir: Direction) -> &mut Option<Waiter> {
        match dir {
            Direction::Read => &mut self.reader,
            Direction::Write => &mut self.writer,
        }
    }
}

pub(crate) fn get(h: &mut Hub, id: u64) -> Result<&mut Socket> {
    h.sockets.get_mut(id).ok_or(Errno(libc::EBADF))
}

/// Puts a new non-blocking fd under the hub, owned by the running thread. On failure the fd
/// comes back with the error (so a caller that was lent it can return it).
pub(crate) fn try_adopt(h: &mut Hub, fd: OwnedFd) -> std::result::Result<u64, (Errno, OwnedFd)> {
    let raw = fd.as_raw_fd();
    let owner = h.current;
    let socket = Socket {
        fd,
        owner,
        reader: None,
        writer: None,
        timeout: None,
        rbuf: ReadBuffer::default(),
    };
    let id = match h.sockets.try_insert(socket) {
        Ok(id) => id,
        Err(socket) => return Err((Errno(libc::EMFILE), socket.fd)),
    };
    let interest = Interest::READABLE | Interest::WRITABLE;
    if let Err(err) = h
        .poll
        .registry()
        .register(&mut SourceFd(&raw), Token(id as usize), interest)
    {
        let sock = h.sockets.remove(id).expect("inserted above");
        return Err((err.into(), sock.fd));
    }
    if owner != ROOT {
        h.current_task().owned.push(id);
    }
    Ok(id)
}

/// Puts a new non-blocking fd under the hub, owned by the running thread (closed on failure).
pub(crate) fn adopt(h: &mut Hub, fd: OwnedFd) -> Result<u64> {
    try_adopt(h, fd).map_err(|(e, _fd)| e)
}

/// Closes `id` inside the hub: wakes its waiters with EBADF, deregisters, closes the fd.
pub(crate) fn close_in(h: &mut Hub, id: u64) -> bool {
    let Some(sock) = h.sockets.remove(id) else {
        return false;
    };
    for waiter in [sock.reader, sock.writer].into_iter().flatten() {
        h.wake(waiter, Wake::Closed);
    }
    if sock.owner != ROOT {
        if let Some(task) = h.task_mut(sock.owner) {
            if let Some(pos) = task.owned.iter().position(|&s| s == id) {
                task.owned.swap_remove(pos);
            }
        }
    }
    // Deregister before close: epoll would otherwise keep the registration of a dup'd fd alive.
    let _ = h.poll.registry().deregister(&mut SourceFd(&sock.raw()));
    drop(sock);
    true
}

/// Readiness reported by the poller for socket `id`.
pub(crate) fn on_ready(h: &mut Hub, id: u64, read: bool, write: bool) {
    let Some(sock) = h.sockets.get_mut(id) else {
        return; // closed since the event was queued
    };
    let reader = if read { sock.reader.take() } else { None };
    let writer = if write { sock.writer.take() } else { None };
    for waiter in [reader, writer].into_iter().flatten() {
        h.wake(waiter, Wake::Ready);
    }
}

/// Registers the running thread as `id`'s waiter in `dir` (the caller saw EAGAIN).
fn register_waiter(h: &mut Hub, id: u64, dir: Direction) -> Result<Waiter> {
    let sock = get(h, id)?;
    if sock.slot(dir).is_some() {
        return Err(Errno(libc::EBUSY)); // another thread already waits in this direction
    }
    let deadline = match sock.timeout {
        Some(t) if t.is_zero() => return Err(Errno(libc::EAGAIN)),
        Some(t) => Some(Instant::now() + t),
        None => None,
    };
    let waiter = h.begin_wait(WaitKind::External, deadline)?;
    *get(h, id)?.slot(dir) = Some(waiter);
    Ok(waiter)
}

/// Waits for `waiter`; on failure takes it out of the socket's slot again.
fn await_ready(id: u64, dir: Direction, waiter: Waiter) -> Result<()> {
    let result = hub::wait(waiter);
    if result.is_err() {
        hub::with(|h| {
            if let Some(sock) = h.sockets.get_mut(id) {
                let slot = sock.slot(dir);
                if *slot == Some(waiter) {
                    *slot = None;
                }
            }
            Ok(())
        })?;
    }
    result
}

/// Waits until `id` may be ready in `dir`; the caller then retries its I/O.
pub(crate) fn wait_ready(id: u64, dir: Direction) -> Result<()> {
    let waiter = hub::with(|h| register_waiter(h, id, dir))?;
    await_ready(id, dir, waiter)
}

/// Runs `op` on the socket until it stops saying EAGAIN, waiting for readiness in between.
/// Trying and, on EAGAIN, registering the wait happen under one borrow of the hub.
pub(crate) fn retry_io<T>(
    id: u64,
    dir: Direction,
    mut op: impl FnMut(&mut Socket) -> Result<T>,
) -> Result<T> {
    loop {
        let attempt = hub::with(|h| match op(get(h, id)?) {
            Err(Errno(libc::EAGAIN)) => register_waiter(h, id, dir).map(Err),
            other => other.map(Ok),
        })?;
        match attempt {
            Ok(value) => return Ok(value),
            Err(waiter) => await_ready(id, dir, waiter)?,
        }
    }
}

/// Puts an existing stream socket `fd` under the hub (made non-blocking), owned by the calling
/// thread. On failure the fd comes back with the error, still open.
pub fn adopt_fd(fd: OwnedFd) -> std::result::Result<u64, (Errno, OwnedFd)> {
    if let Err(e) = sys::set_nonblocking(fd.as_raw_fd()) {
        return Err((e, fd));
    }
    let mut lent = Some(fd);
    match hub::with(|h| Ok(try_adopt(h, lent.take().expect("taken once")))) {
        Ok(result) => result,
        // The hub could not be created: the closure never ran and the fd is still here.
        Err(e) => Err((e, lent.take().expect("closure did not run"))),
    }
}

/// Waits until the socket may be readable (or writable): for calls greenhub does not wrap.
/// Honours the socket timeout, the thread's deadline and kill; EBUSY if another thread waits.
pub fn wait(id: u64, writable: bool) -> Result<()> {
    let dir = if writable {
        Direction::Write
    } else {
        Direction::Read
    };
    wait_ready(id, dir)
}

/// Closes a socket; threads waiting on it get EBADF.
pub fn close(id: u64) -> Result<()> {
    hub::with(|h| {
        if close_in(h, id) {
            Ok(())
        } else {
            Err(Errno(libc::EBADF))
        }
    })
}

/// Hands ownership of `id` to green thread `to` (the root with 0): it is closed when `to` ends.
/// EBADF if `to` has already ended.
pub fn give(id: u64, to: u64) -> Result<()> {
    hub::with(|h| give_in(h, id, to))
}

pub(crate) fn give_in(h: &mut Hub, id: u64, to: u64) -> Result<()> {
    if !h.is_alive(to) {
        return Err(Errno(libc::EBADF)); // an ended thread would never close it
    }
    let from = get(h, id)?.owner;
    if from == to {
        return Ok(());
    }
    if let Some(task) = h.task_mut(from).filter(|_| from != ROOT) {
        task.owned.retain(|&s| s != id);
    }
    if to != ROOT {
        h.task_mut(to).expect("checked above").owned.push(id);
    }
    get(h, id)?.owner = to;
    Ok(())
}

pub fn shutdown(id: u64, how: i32) -> Result<()> {
    if ![libc::SHUT_RD, libc::SHUT_WR, libc::SHUT_RDWR].contains(&how) {
        return Err(Errno(libc::EINVAL));
    }
    hub::with(|h| sys::shutdown(get(h, id)?.raw(), how))
}

pub fn fileno(id: u64) -> Result<RawFd> {
    hub::with(|h| Ok(get(h, id)?.raw()))
}

pub fn local_addr(id: u64) -> Result<SocketAddr> {
    hub::with(|h| sys::local_addr(get(h, id)?.raw()))
}

pub fn peer_addr(id: u64) -> Result<SocketAddr> {
    hub::with(|h| sys::peer_addr(get(h, id)?.raw()))
}

/// Longest option value [`set_option`] and [`get_option`] take, in bytes (EINVAL past it).
/// CPython's getsockopt has the same limit; the longest option of a TCP socket, TCP_INFO, is
/// about 250 bytes.
pub const SOCKOPT_MAX: usize = 1024;

fn check_option_len(len: usize) -> Result<()> {
    if len > SOCKOPT_MAX {
        return Err(Errno(libc::EINVAL));
    }
    Ok(())
}

/// Sets an option to `value` (at most [`SOCKOPT_MAX`] bytes).
pub fn set_option(id: u64, level: i32, name: i32, value: &[u8]) -> Result<()> {
    check_option_len(value.len())?;
    hub::with(|h| sys::set_option(get(h, id)?.raw(), level, name, value))
}

/// Reads an option into `out` (at most [`SOCKOPT_MAX`] bytes); returns the option's length.
pub fn get_option(id: u64, level: i32, name: i32, out: &mut [u8]) -> Result<usize> {
    check_option_len(out.len())?;
    hub::with(|h| sys::get_option(get(h, id)?.raw(), level, name, out))
}

/// `None`: calls wait as long as needed; zero: they fail with EAGAIN instead of waiting;
/// otherwise a wait longer than `timeout` fails with ETIMEDOUT.
pub fn set_timeout(id: u64, timeout: Option<Duration>) -> Result<()> {
    hub::with(|h| {
        get(h, id)?.timeout = timeout;
        Ok(())
    })
}

pub fn timeout(id: u64) -> Result<Option<Duration>> {
    hub::with(|h| Ok(get(h, id)?.timeout))
}
