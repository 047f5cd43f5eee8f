//! Green sockets in C: TCP, and what every socket shares (see udp.rs for datagrams).

use std::ffi::{c_char, c_int, c_void};
use std::net::SocketAddr;
use std::os::fd::{FromRawFd, IntoRawFd};
use std::time::Duration;

use super::{call, check_out, gh_sock, gh_thread, handle, in_buf, opt_str, out_buf, ssize};
use greenhub::net;
use greenhub::Errno;

/// Size of gh_addr.host: room for any numeric IPv6 address and its NUL (INET6_ADDRSTRLEN).
pub const GH_HOST_MAX: usize = 46;

/// Longest option value gh_setsockopt() and gh_getsockopt() take, in bytes: EINVAL past it.
/// CPython's getsockopt has the same limit; TCP_INFO, the longest TCP option, is about 250.
pub const GH_SOCKOPT_MAX: usize = 1024;

const _: () = assert!(GH_SOCKOPT_MAX == net::SOCKOPT_MAX);

/// A socket address in printable form.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct gh_addr {
    /// AF_INET or AF_INET6.
    pub family: c_int,
    /// Port, in host byte order.
    pub port: u16,
    /// Numeric address, NUL-terminated: "127.0.0.1", "::1".
    pub host: [c_char; GH_HOST_MAX],
}

pub(crate) fn write_addr(out: *mut gh_addr, addr: SocketAddr) {
    let mut host = [0 as c_char; GH_HOST_MAX];
    for (dst, src) in host.iter_mut().zip(addr.ip().to_string().bytes()) {
        *dst = src as c_char;
    }
    let family = match addr {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    };
    // SAFETY: `out` was checked non-NULL by the caller of this helper and, as the C caller
    // promises, points to a writable gh_addr.
    unsafe {
        out.write(gh_addr {
            family,
            port: addr.port(),
            host,
        })
    };
}

/// The gh_addr of a peer outside AF_INET and AF_INET6: its family, port 0, an empty host.
fn write_other_family(out: *mut gh_addr, family: c_int) {
    // SAFETY: as in write_addr.
    unsafe {
        out.write(gh_addr {
            family,
            port: 0,
            host: [0; GH_HOST_MAX],
        })
    };
}

/// Listens for TCP connections on `host:port` (SO_REUSEADDR set). `host` NULL or "" means all
/// IPv4 addresses, "::" all IPv6 ones; names are resolved without blocking the hub (errors as
/// gh_connect()). Port 0 picks a free port (see gh_local_addr). Returns the listening socket,
/// owned by the caller. EADDRNOTAVAIL: the address is not one of this machine's.
/// `backlog` is listen(2)'s: connections the kernel completes before they are accepted (capped
/// at net.core.somaxconn). When it is full, a connecting client waits for TCP's retransmission
/// (1 s, 3 s, ...): a server facing bursts passes SOMAXCONN.
#[no_mangle]
pub extern "C" fn gh_listen(host: *const c_char, port: u16, backlog: c_int) -> gh_sock {
    call(-1, || {
        // SAFETY: NULL or a NUL-terminated string, as the caller promises.
        let host = unsafe { opt_str(host) }?;
        Ok(net::listen(host, port, backlog)? as gh_sock)
    })
}

/// Waits for a connection and returns its socket, owned by the calling thread. Writes the
/// peer's address to `*peer` if not NULL (for a family other than AF_INET and AF_INET6, such
/// as AF_UNIX: that family, port 0 and an empty host). Running out of file descriptors
/// (EMFILE, ENFILE) does not fail: it waits, backing off, and tries again.
#[no_mangle]
pub extern "C" fn gh_accept(listener: gh_sock, peer: *mut gh_addr) -> gh_sock {
    call(-1, || {
        let (sock, addr) = net::accept(handle(listener)?)?;
        if !peer.is_null() {
            match addr {
                Some(addr) => write_addr(peer, addr),
                None => write_other_family(peer, net::family(sock)?),
            }
        }
        Ok(sock as gh_sock)
    })
}

/// Connects to `host:port`, trying every address the name resolves to (names are resolved on
/// the thread pool, see gh_tpool_execute, so the hub keeps running). A name that does not
/// resolve fails with ENXIO ("no such device or address"), an errno connect(2) never gives,
/// so it cannot be mistaken for an address that cannot be reached (EADDRNOTAVAIL,
/// ENETUNREACH, ...): getaddrinfo said EAI_NONAME, EAI_NODATA, EAI_ADDRFAMILY or EAI_FAIL.
/// EAGAIN: resolving failed for now (EAI_AGAIN: the name server did not answer; or no worker
/// thread could be started); try again later. Otherwise connect(2)'s errno (ECONNREFUSED...).
#[no_mangle]
pub extern "C" fn gh_connect(host: *const c_char, port: u16) -> gh_sock {
    call(-1, || {
        // SAFETY: NULL or a NUL-terminated string, as the caller promises.
        let host = unsafe { opt_str(host) }?.ok_or(Errno(libc::EINVAL))?;
        Ok(net::connect(host, port)? as gh_sock)
    })
}

/// Receives up to `len` bytes into `buf` (data buffered by gh_readline comes first).
/// Returns the byte count, 0 at end of stream. A connection the peer reset fails with
/// ECONNRESET (the Python shim reads that as end of file, as Eventlet does).
#[no_mangle]
pub extern "C" fn gh_recv(s: gh_sock, buf: *mut c_void, len: usize) -> libc::ssize_t {
    call(-1, || {
        // SAFETY: NULL or valid for `len` writable bytes, as the caller promises.
        let buf = unsafe { out_buf(buf, len) }?;
        ssize(net::recv(handle(s)?, buf))
    })
}

/// Sends part of `buf` (at least one byte unless `len` is 0); returns the count sent.
/// A vanished peer gives EPIPE or ECONNRESET, never SIGPIPE.
#[no_mangle]
pub extern "C" fn gh_send(s: gh_sock, buf: *const c_void, len: usize) -> libc::ssize_t {
    call(-1, || {
        // SAFETY: NULL or valid for `len` readable bytes, as the caller promises.
        let buf = unsafe { in_buf(buf, len) }?;
        ssize(net::send(handle(s)?, buf))
    })
}

/// Sends all `len` bytes of `buf`; returns 0 once all are sent.
#[no_mangle]
pub extern "C" fn gh_sendall(s: gh_sock, buf: *const c_void, len: usize) -> c_int {
    call(-1, || {
        // SAFETY: NULL or valid for `len` readable bytes, as the caller promises.
        let buf = unsafe { in_buf(buf, len) }?;
        net::sendall(handle(s)?, buf).map(|()| 0)
    })
}

/// Reads one line, up to and including '\n', into `buf` of `max` bytes; returns its length.
/// A line longer than `max` comes back in pieces of `max` bytes. At end of stream the
/// unterminated rest comes back, then 0. Memory stays bounded by `max` plus 64 KiB.
#[no_mangle]
pub extern "C" fn gh_readline(s: gh_sock, buf: *mut c_void, max: usize) -> libc::ssize_t {
    gh_read_until(s, b"\n".as_ptr().cast(), 1, buf, max)
}

/// Like gh_readline() with any delimiter of `delim_len` bytes (EINVAL if 0 or `max` is 0).
#[no_mangle]
pub extern "C" fn gh_read_until(
    s: gh_sock,
    delim: *const c_void,
    delim_len: usize,
    buf: *mut c_void,
    max: usize,
) -> libc::ssize_t {
    call(-1, || {
        // SAFETY: NULL or valid for the given lengths, as the caller promises.
        let (delim, buf) = unsafe { (in_buf(delim, delim_len)?, out_buf(buf, max)?) };
        ssize(net::read_until(handle(s)?, delim, buf))
    })
}

/// Like gh_read_until() stopping after the first byte that is any of the `set_len` bytes of
/// `set` (EINVAL if 0 or `max` is 0). A text reader's line: `set` "\r\n" ends it at either
/// byte, and the reader looks at the byte after a '\r' (gh_peek()) to join a "\r\n".
#[no_mangle]
pub extern "C" fn gh_read_until_any(
    s: gh_sock,
    set: *const c_void,
    set_len: usize,
    buf: *mut c_void,
    max: usize,
) -> libc::ssize_t {
    call(-1, || {
        // SAFETY: NULL or valid for the given lengths, as the caller promises.
        let (set, buf) = unsafe { (in_buf(set, set_len)?, out_buf(buf, max)?) };
        ssize(net::read_until_any(handle(s)?, set, buf))
    })
}

/// Copies up to `len` of the bytes the next read will return into `buf` without consuming
/// them, waiting until there is at least one; returns the count, 0 at end of stream. What it
/// receives stays buffered for the next reads (gh_recv(), gh_readline(), ...).
#[no_mangle]
pub extern "C" fn gh_peek(s: gh_sock, buf: *mut c_void, len: usize) -> libc::ssize_t {
    call(-1, || {
        // SAFETY: NULL or valid for `len` writable bytes, as the caller promises.
        let buf = unsafe { out_buf(buf, len) }?;
        ssize(net::peek(handle(s)?, buf))
    })
}

/// Puts `len` bytes back in front of the socket's buffered data, so that the next read
/// (gh_recv(), gh_readline(), gh_peek(), ...) returns them first: for a reader that took more
/// than it could use, or was interrupted after taking part of what it reads. Never waits.
#[no_mangle]
pub extern "C" fn gh_unread(s: gh_sock, buf: *const c_void, len: usize) -> c_int {
    call(-1, || {
        // SAFETY: NULL or valid for `len` readable bytes, as the caller promises.
        let buf = unsafe { in_buf(buf, len) }?;
        net::unread(handle(s)?, buf).map(|()| 0)
    })
}

/// Sends `count` bytes of the file open as `fd`, from `offset` (the file position is neither
/// used nor moved). Returns the bytes sent: fewer than `count` only if the file ended first.
/// `count` is clamped to SSIZE_MAX (the return type's limit), so SIZE_MAX means "to the end".
///
/// It never blocks the hub on the file. Data in the page cache of a local filesystem (ext4,
/// xfs, btrfs, tmpfs, overlayfs, ...) goes with sendfile(2), without a copy through user space.
/// Data that is not cached, and every file on FUSE or a network filesystem, is read on the
/// thread pool, 1 MiB at a time, and sent from memory: only the calling thread waits for the
/// file. After each 1 MiB the caller yields, so a fast reader cannot keep the hub. If the call
/// fails part way (peer gone, killed, timed out) the bytes already sent are not reported.
/// EBADF if `s` or `fd` is not open; EINVAL if `offset` is negative; ESPIPE if `fd` is not
/// seekable (a pipe or socket).
#[no_mangle]
pub extern "C" fn gh_sendfile(s: gh_sock, fd: c_int, offset: i64, count: usize) -> libc::ssize_t {
    call(-1, || {
        ssize(greenhub::fs::sendfile(handle(s)?, fd, offset, count))
    })
}

/// Shuts down reading (SHUT_RD), writing (SHUT_WR: the peer sees end of stream) or both.
#[no_mangle]
pub extern "C" fn gh_shutdown(s: gh_sock, how: c_int) -> c_int {
    call(-1, || net::shutdown(handle(s)?, how).map(|()| 0))
}

/// Closes the socket. Threads blocked on it fail with EBADF (gh_poll() and gh_wait_fd() waits
/// on its fd too); the handle becomes stale.
#[no_mangle]
pub extern "C" fn gh_close(s: gh_sock) -> c_int {
    call(-1, || net::close(handle(s)?).map(|()| 0))
}

/// The socket's file descriptor, for system calls greenhub does not wrap. It stays owned by
/// greenhub: do not close it, and do not block on it.
#[no_mangle]
pub extern "C" fn gh_fileno(s: gh_sock) -> c_int {
    call(-1, || net::fileno(handle(s)?))
}

/// Writes the socket's local address to `*out`.
#[no_mangle]
pub extern "C" fn gh_local_addr(s: gh_sock, out: *mut gh_addr) -> c_int {
    call(-1, || {
        check_out(out)?;
        write_addr(out, net::local_addr(handle(s)?)?);
        Ok(0)
    })
}

/// Writes the connected peer's address to `*out` (ENOTCONN if none).
#[no_mangle]
pub extern "C" fn gh_peer_addr(s: gh_sock, out: *mut gh_addr) -> c_int {
    call(-1, || {
        check_out(out)?;
        write_addr(out, net::peer_addr(handle(s)?)?);
        Ok(0)
    })
}

/// setsockopt(2) on the socket: `len` bytes of `val`. EINVAL if `len` > GH_SOCKOPT_MAX.
#[no_mangle]
pub extern "C" fn gh_setsockopt(
    s: gh_sock,
    level: c_int,
    name: c_int,
    val: *const c_void,
    len: usize,
) -> c_int {
    call(-1, || {
        // SAFETY: NULL or valid for `len` readable bytes, as the caller promises.
        let val = unsafe { in_buf(val, len) }?;
        net::set_option(handle(s)?, level, name, val).map(|()| 0)
    })
}

/// getsockopt(2) on the socket: `*len` is the size of `val` on entry (EINVAL if more than
/// GH_SOCKOPT_MAX) and the option's length on success.
#[no_mangle]
pub extern "C" fn gh_getsockopt(
    s: gh_sock,
    level: c_int,
    name: c_int,
    val: *mut c_void,
    len: *mut usize,
) -> c_int {
    call(-1, || {
        check_out(len)?;
        // SAFETY: `len` is non-NULL and points to the size of `val`, as the caller promises.
        let cap = unsafe { *len };
        if cap > GH_SOCKOPT_MAX {
            return Err(Errno(libc::EINVAL));
        }
        // SAFETY: NULL or valid for `cap` writable bytes, as the caller promises.
        let val = unsafe { out_buf(val, cap) }?;
        // Read into a copy so `val` is written only on success; bounded, so nothing any
        // argument says is allocated.
        let mut tmp = [0u8; GH_SOCKOPT_MAX];
        let n = net::get_option(handle(s)?, level, name, &mut tmp[..cap])?;
        val[..n].copy_from_slice(&tmp[..n]);
        // SAFETY: checked non-NULL above.
        unsafe { *len = n };
        Ok(0)
    })
}

/// Sets the socket's timeout, like Python's settimeout: ms < 0 waits as long as needed (the
/// default); 0 never waits (EAGAIN instead); otherwise a call that waits longer than `ms`
/// milliseconds fails with ETIMEDOUT. The thread's deadline applies too; the earlier wins.
#[no_mangle]
pub extern "C" fn gh_settimeout(s: gh_sock, ms: i64) -> c_int {
    call(-1, || {
        let timeout = u64::try_from(ms).ok().map(Duration::from_millis);
        net::set_timeout(handle(s)?, timeout).map(|()| 0)
    })
}

/// Writes the socket's timeout in milliseconds to `*ms` (-1: none).
#[no_mangle]
pub extern "C" fn gh_gettimeout(s: gh_sock, ms: *mut i64) -> c_int {
    call(-1, || {
        check_out(ms)?;
        let value = net::timeout(handle(s)?)?.map_or(-1, |d| d.as_millis() as i64);
        // SAFETY: checked non-NULL above; the caller promises it is writable.
        unsafe { *ms = value };
        Ok(0)
    })
}

/// Takes over an existing socket of any family and type (a stream socket listening or
/// connected, a datagram, seqpacket or raw socket) as a green socket owned by the calling
/// thread, e.g. one set up with options greenhub does not offer. The fd is made non-blocking
/// and now belongs to greenhub (gh_close closes it); on failure it is left untouched. ENOTSOCK
/// if it is not a socket. gh_recv and gh_send work on every type (one datagram per call on a
/// connected datagram socket); gh_sendto and gh_recvfrom keep datagrams' addresses.
#[no_mangle]
pub extern "C" fn gh_adopt(fd: c_int) -> gh_sock {
    call(-1, || {
        if fd < 0 {
            return Err(Errno(libc::EBADF));
        }
        // SAFETY: the caller hands over `fd`, an open fd it owns, and must not use or close it
        // afterwards, as documented; if adopt_fd refuses it (not a stream socket, ...), it is
        // given back below without being closed.
        let owned = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
        match net::adopt_fd(owned) {
            Ok(id) => Ok(id as gh_sock),
            Err((e, owned)) => {
                let _ = owned.into_raw_fd(); // still the caller's: do not close it
                Err(e)
            }
        }
    })
}

/// Waits until the socket may be readable, for operations greenhub does not wrap (then try
/// them; on EAGAIN wait again). Socket timeout, deadline and kill apply; EBUSY if another
/// thread already waits to read it.
#[no_mangle]
pub extern "C" fn gh_wait_readable(s: gh_sock) -> c_int {
    call(-1, || net::wait(handle(s)?, false).map(|()| 0))
}

/// Waits until the socket may be writable (e.g. a non-blocking connect completed); as
/// gh_wait_readable().
#[no_mangle]
pub extern "C" fn gh_wait_writable(s: gh_sock) -> c_int {
    call(-1, || net::wait(handle(s)?, true).map(|()| 0))
}

/// Hands ownership of the socket to green thread `t` (0: the root, which never closes it on
/// its own): the socket is closed when `t` ends. EBADF if the socket is not live or `t` has
/// ended.
#[no_mangle]
pub extern "C" fn gh_sock_give(s: gh_sock, t: gh_thread) -> c_int {
    call(-1, || net::give(handle(s)?, handle(t)?).map(|()| 0))
}
