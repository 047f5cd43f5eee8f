//! Datagram (UDP) sockets in C: bind, sendto, recvfrom, with addresses as gh_addr.

use std::ffi::{c_char, c_void};
use std::net::{IpAddr, SocketAddr};

use super::net::{gh_addr, write_addr, GH_HOST_MAX};
use super::{call, gh_sock, handle, in_buf, opt_str, out_buf, ssize};
use greenhub::net;
use greenhub::{Errno, Result};

/// The address a gh_addr names: `host` numeric, NUL-terminated within GH_HOST_MAX, of the
/// family `family` says (EINVAL otherwise).
fn read_addr(a: &gh_addr) -> Result<SocketAddr> {
    let bytes: Vec<u8> = a.host.iter().map(|&c| c as u8).collect();
    let end = bytes
        .iter()
        .position(|&b| b == 0)
        .ok_or(Errno(libc::EINVAL))?;
    debug_assert!(end < GH_HOST_MAX);
    let text = std::str::from_utf8(&bytes[..end]).map_err(|_| Errno(libc::EINVAL))?;
    let ip: IpAddr = text.parse().map_err(|_| Errno(libc::EINVAL))?;
    match (a.family, ip) {
        (libc::AF_INET, IpAddr::V4(_)) | (libc::AF_INET6, IpAddr::V6(_)) => {
            Ok(SocketAddr::new(ip, a.port))
        }
        _ => Err(Errno(libc::EINVAL)),
    }
}

/// A UDP socket bound to `host:port`, owned by the caller. `host` NULL or "" means all IPv4
/// addresses, "::" all IPv6 ones; names resolve without blocking the hub (errors as
/// gh_connect()); port 0 picks a free port (see gh_local_addr). Timeouts, ownership and
/// gh_close are as for any green socket; a connected one (see gh_adopt) takes gh_send/gh_recv.
#[no_mangle]
pub extern "C" fn gh_udp_bind(host: *const c_char, port: u16) -> gh_sock {
    call(-1, || {
        // SAFETY: NULL or a NUL-terminated string, as the caller promises.
        let host = unsafe { opt_str(host) }?;
        Ok(net::bind_udp(host, port)? as gh_sock)
    })
}

/// Sends `len` bytes of `buf` as one datagram to `*to` (a numeric host of to->family, EINVAL
/// otherwise), or to the connected peer if `to` is NULL. Returns the count sent (all of it:
/// a datagram is never split); waits while the send buffer is full. EMSGSIZE if it is too long.
#[no_mangle]
pub extern "C" fn gh_sendto(
    s: gh_sock,
    buf: *const c_void,
    len: usize,
    to: *const gh_addr,
) -> libc::ssize_t {
    call(-1, || {
        // SAFETY: NULL or valid for `len` readable bytes, as the caller promises.
        let buf = unsafe { in_buf(buf, len) }?;
        // SAFETY: NULL or a readable gh_addr, as the caller promises.
        let to = match unsafe { to.as_ref() } {
            Some(a) => Some(read_addr(a)?),
            None => None,
        };
        ssize(net::send_to(handle(s)?, buf, to.as_ref()))
    })
}

/// Receives one datagram into `buf` of `len` bytes (the rest of a longer one is discarded, as
/// with recvfrom(2)); returns the bytes stored. Writes the sender to `*from` if not NULL (for
/// a sender that is not an IP address: family AF_UNSPEC, port 0, empty host). Waits (green)
/// for a datagram; socket timeout, deadline and kill apply; EBUSY if another thread already
/// waits to read the socket.
#[no_mangle]
pub extern "C" fn gh_recvfrom(
    s: gh_sock,
    buf: *mut c_void,
    len: usize,
    from: *mut gh_addr,
) -> libc::ssize_t {
    call(-1, || {
        // SAFETY: NULL or valid for `len` writable bytes, as the caller promises.
        let buf = unsafe { out_buf(buf, len) }?;
        let (n, sender) = net::recv_from(handle(s)?, buf)?;
        if !from.is_null() {
            match sender {
                Some(addr) => write_addr(from, addr),
                // SAFETY: non-NULL, and by the caller's promise a writable gh_addr.
                None => unsafe {
                    from.write(gh_addr {
                        family: libc::AF_UNSPEC,
                        port: 0,
                        host: [0; GH_HOST_MAX],
                    })
                },
            }
        }
        Ok(n as libc::ssize_t)
    })
}
