//! Datagram sockets: bind, sendto, recvfrom. Every socket type shares `Socket` (its waits,
//! timeout and close); only these calls keep each datagram's address.

use std::net::SocketAddr;

use super::addr::resolve;
use super::socket::{self, retry_io};
use super::tcp::family;
use crate::error::Result;
use crate::runtime::{self, Direction};
use crate::sys;

/// A UDP socket bound to `host:port` (`None`/empty host: all IPv4 addresses; port 0: any free
/// port), owned by the calling thread. Names resolve on the thread pool (errors as connect).
pub fn bind_udp(host: Option<&str>, port: u16) -> Result<u64> {
    let addr = resolve(host, port)?[0];
    let fd = sys::socket_of_type(family(&addr), libc::SOCK_DGRAM)?;
    sys::bind(sys::raw(&fd), &addr)?;
    runtime::with(|h| socket::adopt(h, fd, false))
}

/// Sends `buf` as one datagram to `to` (`None`: to the connected peer). Waits while the
/// socket's send buffer is full; EMSGSIZE if the datagram is too long for the socket.
pub fn send_to(id: u64, buf: &[u8], to: Option<&SocketAddr>) -> Result<usize> {
    retry_io(id, Direction::Write, |s| sys::send_to(s.raw(), buf, to))
}

/// Receives one datagram into `buf` (the rest of a longer one is discarded, as recvfrom(2)
/// does); returns its length and sender (`None` when the sender is not an IP address).
pub fn recv_from(id: u64, buf: &mut [u8]) -> Result<(usize, Option<SocketAddr>)> {
    retry_io(id, Direction::Read, |s| sys::recv_from(s.raw(), buf))
}
