//! The socket table entry and what every socket call shares: lookup, ownership, readiness
//! waits, close, options and addresses.
//!
//! mio rules kept here: each socket is registered once (readable and writable, edge-triggered)
//! and stays registered until it is closed; it is deregistered before its fd is closed. I/O is
//! tried first, unless the socket's I/O slot remembers it drained (EAGAIN or a short transfer
//! on a stream since the last event): then the thread waits at once, sparing a system call
//! that could only say EAGAIN.
//!
//! Fair service: a read that found data serves a request, and a thread is served at most
//! once per poll round; its next read in the same round first yields to I/O (behind every
//! thread the next poll wakes). Without it a handler whose client answers faster than the
//! handler runs is served again and again while every other ready connection waits.

use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use super::buffer::ReadBuffer;
use crate::error::{Errno, Result};
use crate::runtime::io::{await_io, begin_io_wait};
use crate::runtime::{self, Cx, Direction, Hub, Object, Wait, Wake};
use crate::sys;

pub(crate) struct Socket {
    pub(crate) fd: OwnedFd,
    /// Its I/O slot in the driver (the fd's reader and writer waiters).
    io: u64,
    /// `None`: wait forever; zero: never wait (EAGAIN); otherwise ETIMEDOUT after it.
    timeout: Option<Duration>,
    /// A TCP socket: a short read or write means the kernel's buffer was drained. Not so for
    /// datagrams and records (more may be queued behind a short one), nor for AF_UNIX
    /// streams (a read stops after a message that carries descriptors or credentials).
    tcp: bool,
    pub(crate) rbuf: ReadBuffer,
}

impl Socket {
    pub(crate) fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Whether a transfer of `n` bytes out of `asked` says the kernel's buffer was drained
    /// (see [`transfer`]): on a TCP socket, a short one. End of stream is not (a read after it
    /// returns at once, and no event would come to end a wait). TCP urgent data is the one
    /// exception (a read stops at its mark with data behind it); the driver watches for it
    /// (`IoSlot`'s urgent flag) and then no longer takes short reads for drained.
    pub(crate) fn drained_by(&self, n: usize, asked: usize) -> bool {
        self.tcp && n > 0 && n < asked
    }
}

impl Object for Socket {
    fn kind(&self) -> &'static str {
        "socket"
    }

    /// "read on socket fd 5"; a read wait on a listening socket is an accept.
    fn describe_wait(&self, what: &'static str, out: &mut String) {
        let what = if what == "read" && sys::is_listening(self.raw()) {
            "accept"
        } else {
            what
        };
        out.push_str(&format!("{what} on socket fd {}", self.raw()));
    }

    /// Wakes its waiters with EBADF (those of gh_poll on its fd too), deregisters, closes
    /// the fd.
    fn close(self: Box<Self>, cx: &mut Cx<'_>) {
        super::poll::closing(cx.sched, cx.driver, self.raw());
        // Deregister before close: epoll would otherwise keep the registration of a dup'd fd.
        let waiters = cx.driver.deregister(self.io, self.raw());
        cx.sched
            .wake_all(waiters.into_iter().flatten(), Wake::Closed);
    }
}

pub(crate) fn get(h: &mut Hub, id: u64) -> Result<&mut Socket> {
    h.objects.get_mut::<Socket>(id).ok_or(Errno(libc::EBADF))
}

/// Puts a new non-blocking socket under the hub, owned by the running thread; `tcp`: it is a
/// TCP socket (see `Socket::tcp`). On failure the fd comes back with the error (so a caller
/// that was lent it can return it).
pub(crate) fn try_adopt(
    h: &mut Hub,
    fd: OwnedFd,
    tcp: bool,
) -> std::result::Result<u64, (Errno, OwnedFd)> {
    let io = match h.driver.register(fd.as_raw_fd()) {
        Ok(io) => io,
        Err(e) => return Err((e, fd)),
    };
    let socket = Socket {
        fd,
        io,
        timeout: None,
        tcp,
        rbuf: ReadBuffer::default(),
    };
    h.adopt(socket).map_err(|socket| {
        h.driver.deregister(socket.io, socket.raw());
        (Errno(libc::EMFILE), socket.fd)
    })
}

/// Puts a new non-blocking socket under the hub, owned by the running thread (closed on
/// failure); `tcp` as for [`try_adopt`].
pub(crate) fn adopt(h: &mut Hub, fd: OwnedFd, tcp: bool) -> Result<u64> {
    try_adopt(h, fd, tcp).map_err(|(e, _fd)| e)
}

/// Registers the running thread as `id`'s waiter in `dir` (the caller saw EAGAIN).
fn register_waiter(h: &mut Hub, id: u64, dir: Direction) -> Result<runtime::Waiter> {
    let sock = get(h, id)?;
    let deadline = match sock.timeout {
        Some(t) if t.is_zero() => return Err(Errno(libc::EAGAIN)),
        Some(t) => Some(Instant::now() + t),
        None => None,
    };
    let what = match dir {
        Direction::Read => Wait::external("read", id),
        Direction::Write => Wait::external("write", id),
    };
    let io = sock.io;
    begin_io_wait(h, io, dir, what, deadline)
}

/// Waits until `id` may be ready in `dir`; the caller then retries its I/O.
pub(crate) fn wait_ready(id: u64, dir: Direction) -> Result<()> {
    let (io, waiter) = runtime::with(|h| {
        let waiter = register_waiter(h, id, dir)?;
        Ok((get(h, id)?.io, waiter))
    })?;
    await_io(io, dir, waiter)
}

/// Whether a call serves a request and so takes its thread's turn (see the module docs).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Turn {
    /// A read of data: at most one per thread and poll round before it yields to I/O.
    Fair,
    /// Anything else (writes, accepts): never held back.
    Free,
}

/// What [`transfer`]'s loop does next.
enum Step<T> {
    Done(T),
    Wait(u64, runtime::Waiter),
    YieldToIo,
}

/// Runs `op` on the socket until it stops saying EAGAIN, waiting for readiness in between.
/// Trying and, on EAGAIN, registering the wait happen under one borrow of the hub.
pub(crate) fn retry_io<T>(
    id: u64,
    dir: Direction,
    mut op: impl FnMut(&mut Socket) -> Result<T>,
) -> Result<T> {
    run_io(id, dir, Turn::Free, false, |s| {
        op(s).map(|value| (value, false))
    })
}

/// [`retry_io`] for calls that know the kernel's buffer: `op` returns its value and whether
/// it left the buffer drained ([`Socket::drained_by`]: the next call may wait at once), and
/// it always makes its system call when nothing is buffered here, so
/// while the socket is known drained it is not run at all: the thread waits. (An op that may
/// finish without I/O, such as a body read at its end, goes through [`retry_io`].) `turn`:
/// whether it serves a request.
pub(crate) fn transfer<T>(
    id: u64,
    dir: Direction,
    turn: Turn,
    op: impl FnMut(&mut Socket) -> Result<(T, bool)>,
) -> Result<T> {
    run_io(id, dir, turn, true, op)
}

/// The loop of [`retry_io`] and [`transfer`]; `skip_when_drained`: `op` is one of the
/// latter's.
fn run_io<T>(
    id: u64,
    dir: Direction,
    turn: Turn,
    skip_when_drained: bool,
    mut op: impl FnMut(&mut Socket) -> Result<(T, bool)>,
) -> Result<T> {
    loop {
        let step = runtime::with(|h| {
            // One lookup of the socket (the hub's fields are borrowed apart, so the slot and
            // the scheduler can be reached while it is held).
            let sock = h.objects.get_mut::<Socket>(id).ok_or(Errno(libc::EBADF))?;
            let io = sock.io;
            let buffered = dir == Direction::Read && !sock.rbuf.is_empty();
            let nonblocking = sock.timeout == Some(Duration::ZERO);
            if skip_when_drained && !buffered && h.driver.slot(io)?.is_drained(dir) {
                // No event since it was drained (and no bytes buffered here): wait without
                // asking the kernel. A socket that must not wait (zero timeout) or a thread
                // past its deadline still tries the call, as it always did.
                if let Ok(waiter) = register_waiter(h, id, dir) {
                    return Ok(Step::Wait(io, waiter));
                }
                let result = op(get(h, id)?);
                return after_op(h, id, dir, io, result);
            }
            if turn == Turn::Fair && !nonblocking && !h.sched.take_io_turn() {
                // (A socket that must not wait never switches either: it is non-blocking.)
                return Ok(Step::YieldToIo);
            }
            let result = op(sock);
            after_op(h, id, dir, io, result)
        })?;
        match step {
            Step::Done(value) => return Ok(value),
            Step::Wait(io, waiter) => await_io(io, dir, waiter)?,
            Step::YieldToIo => runtime::io::yield_to_io()?,
        }
    }
}

/// What [`run_io`] makes of `op`'s result: EAGAIN or a drained transfer marks the I/O slot,
/// and EAGAIN waits.
fn after_op<T>(
    h: &mut Hub,
    id: u64,
    dir: Direction,
    io: u64,
    result: Result<(T, bool)>,
) -> Result<Step<T>> {
    match result {
        Err(Errno(libc::EAGAIN)) => {
            h.driver.slot(io)?.set_drained(dir);
            register_waiter(h, id, dir).map(|w| Step::Wait(io, w))
        }
        Ok((value, drained)) => {
            if drained {
                h.driver.slot(io)?.set_drained(dir);
            }
            Ok(Step::Done(value))
        }
        Err(err) => Err(err),
    }
}

/// Puts an existing socket `fd` of any family and type (stream, datagram, seqpacket, raw)
/// under the hub (made non-blocking), owned by the calling thread. ENOTSOCK if it is not a
/// socket. On failure the fd comes back with the error, still open.
pub fn adopt_fd(fd: OwnedFd) -> std::result::Result<u64, (Errno, OwnedFd)> {
    let tcp = match (
        sys::socket_type(fd.as_raw_fd()),
        sys::socket_family(fd.as_raw_fd()),
    ) {
        (Ok(kind), Ok(family)) => {
            kind == libc::SOCK_STREAM && (family == libc::AF_INET || family == libc::AF_INET6)
        }
        (Err(e), _) | (_, Err(e)) => return Err((e, fd)),
    };
    if let Err(e) = sys::set_nonblocking(fd.as_raw_fd()) {
        return Err((e, fd));
    }
    let mut lent = Some(fd);
    match runtime::with(|h| Ok(try_adopt(h, lent.take().expect("taken once"), tcp))) {
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
    runtime::with(|h| h.close::<Socket>(id))
}

/// Hands ownership of `id` to green thread `to` (the root with 0): it is closed when `to` ends.
/// EBADF if `to` has already ended.
pub fn give(id: u64, to: u64) -> Result<()> {
    runtime::with(|h| {
        get(h, id)?;
        h.give(id, to)
    })
}

pub fn shutdown(id: u64, how: i32) -> Result<()> {
    if ![libc::SHUT_RD, libc::SHUT_WR, libc::SHUT_RDWR].contains(&how) {
        return Err(Errno(libc::EINVAL));
    }
    runtime::with(|h| sys::shutdown(get(h, id)?.raw(), how))
}

pub fn fileno(id: u64) -> Result<RawFd> {
    runtime::with(|h| Ok(get(h, id)?.raw()))
}

/// The socket's address family (AF_INET, AF_INET6, AF_UNIX, ...).
pub fn family(id: u64) -> Result<i32> {
    runtime::with(|h| sys::socket_family(get(h, id)?.raw()))
}

pub fn local_addr(id: u64) -> Result<SocketAddr> {
    runtime::with(|h| sys::local_addr(get(h, id)?.raw()))
}

pub fn peer_addr(id: u64) -> Result<SocketAddr> {
    runtime::with(|h| sys::peer_addr(get(h, id)?.raw()))
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
    runtime::with(|h| sys::set_option(get(h, id)?.raw(), level, name, value))
}

/// Reads an option into `out` (at most [`SOCKOPT_MAX`] bytes); returns the option's length.
pub fn get_option(id: u64, level: i32, name: i32, out: &mut [u8]) -> Result<usize> {
    check_option_len(out.len())?;
    runtime::with(|h| sys::get_option(get(h, id)?.raw(), level, name, out))
}

/// `None`: calls wait as long as needed; zero: they fail with EAGAIN instead of waiting;
/// otherwise a wait longer than `timeout` fails with ETIMEDOUT.
pub fn set_timeout(id: u64, timeout: Option<Duration>) -> Result<()> {
    runtime::with(|h| {
        get(h, id)?.timeout = timeout;
        Ok(())
    })
}

pub fn timeout(id: u64) -> Result<Option<Duration>> {
    runtime::with(|h| Ok(get(h, id)?.timeout))
}
