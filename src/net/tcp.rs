//! Listening, accepting and connecting.

use std::net::SocketAddr;
use std::time::Duration;

use super::addr::resolve;
use super::socket::{self, wait_ready};
use crate::error::{Errno, Result};
use crate::runtime::{self, Direction};
use crate::sys;

/// Longest pause when accept runs out of file descriptors.
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Listens on `host:port` with SO_REUSEADDR. `None`/empty host: all IPv4 addresses.
pub fn listen(host: Option<&str>, port: u16, backlog: i32) -> Result<u64> {
    let addr = resolve(host, port)?[0];
    let fd = sys::socket(family(&addr))?;
    let raw = sys::raw(&fd);
    sys::set_int_option(raw, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    sys::bind(raw, &addr)?;
    sys::listen(raw, backlog.max(1))?;
    runtime::with(|h| socket::adopt(h, fd, true))
}

/// Accepts a connection; the new socket belongs to the calling thread, with the peer's address
/// if it is an IP one (`None` for another family, e.g. AF_UNIX). Survives running out of
/// file descriptors: it waits (backing off up to a second) and tries again, without spinning.
pub fn accept(listener: u64) -> Result<(u64, Option<SocketAddr>)> {
    let mut backoff = Duration::from_millis(10);
    loop {
        let accepted = socket::retry_io(listener, Direction::Read, |s| loop {
            match sys::accept(s.raw()) {
                // That connection died in the queue; others may be behind it, and with
                // edge-triggered readiness no new event would announce them: try again now.
                Err(Errno(libc::ECONNABORTED | libc::EPROTO)) => continue,
                other => return other,
            }
        });
        match accepted {
            Ok((fd, peer)) => {
                let tcp = peer.is_some(); // an IP peer: a TCP connection (else AF_UNIX)
                return Ok((runtime::with(|h| socket::adopt(h, fd, tcp))?, peer));
            }
            Err(Errno(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)) => {
                crate::runtime::thread::sleep(backoff)?;
                backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
            }
            Err(e) => return Err(e),
        }
    }
}

/// Connects to `host:port`, trying each resolved address in turn.
pub fn connect(host: &str, port: u16) -> Result<u64> {
    let mut last = Errno(libc::ECONNREFUSED);
    for addr in resolve(Some(host), port)? {
        match connect_addr(&addr) {
            Ok(id) => return Ok(id),
            Err(e @ Errno(libc::ECANCELED | libc::ETIMEDOUT)) => return Err(e),
            Err(e) => last = e,
        }
    }
    Err(last)
}

fn connect_addr(addr: &SocketAddr) -> Result<u64> {
    let fd = sys::socket(family(addr))?;
    let raw = sys::raw(&fd);
    let started = sys::connect(raw, addr);
    if let Err(e) = started {
        if e.0 != libc::EINPROGRESS && e.0 != libc::EALREADY {
            return Err(e);
        }
    }
    let id = runtime::with(|h| socket::adopt(h, fd, true))?;
    let outcome = match started {
        Ok(()) => Ok(()),
        Err(_) => finish_connect(id, raw),
    };
    match outcome {
        Ok(()) => Ok(id),
        Err(e) => {
            let _ = socket::close(id);
            Err(e)
        }
    }
}

/// Waits for a non-blocking connect to complete (mio: writable, then SO_ERROR, then a peer).
fn finish_connect(id: u64, raw: std::os::fd::RawFd) -> Result<()> {
    loop {
        wait_ready(id, Direction::Write)?;
        match sys::take_socket_error(raw)? {
            0 => {}
            err => return Err(Errno(err)),
        }
        match sys::peer_addr(raw) {
            Ok(_) => return Ok(()),
            Err(Errno(libc::ENOTCONN)) => continue, // a spurious wake-up: still connecting
            Err(e) => return Err(e),
        }
    }
}

pub(crate) fn family(addr: &SocketAddr) -> i32 {
    match addr {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    }
}
