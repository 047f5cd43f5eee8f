//! Socket system calls: creation, options, addresses, accept, connect, data transfer.

use std::ffi::CStr;
use std::mem::{self, MaybeUninit};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr;

use super::retry;
use crate::error::{Errno, Result};

pub(crate) fn socket(family: libc::c_int) -> Result<OwnedFd> {
    socket_of_type(family, libc::SOCK_STREAM)
}

/// A non-blocking, close-on-exec socket of `family` and `kind` (SOCK_STREAM, SOCK_DGRAM...).
pub(crate) fn socket_of_type(family: libc::c_int, kind: libc::c_int) -> Result<OwnedFd> {
    let flags = kind | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: plain system call with integer arguments.
    let fd = retry(|| unsafe { libc::socket(family, flags, 0) })?;
    // SAFETY: `fd` was just returned by socket(2), is valid and owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub(crate) fn set_nonblocking(fd: RawFd) -> Result<()> {
    // SAFETY: fcntl with F_GETFL/F_SETFL and integer arguments on a caller-owned fd.
    let flags = retry(|| unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
    // SAFETY: as above.
    retry(|| unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) })?;
    Ok(())
}

/// The type of socket `fd` (SOCK_STREAM, SOCK_DGRAM, ...); ENOTSOCK if it is not a socket.
pub(crate) fn socket_type(fd: RawFd) -> Result<i32> {
    let mut buf = [0u8; 4];
    get_option(fd, libc::SOL_SOCKET, libc::SO_TYPE, &mut buf)?;
    Ok(i32::from_ne_bytes(buf))
}

/// The address family of socket `fd` (SO_DOMAIN).
pub(crate) fn socket_family(fd: RawFd) -> Result<i32> {
    let mut buf = [0u8; 4];
    get_option(fd, libc::SOL_SOCKET, libc::SO_DOMAIN, &mut buf)?;
    Ok(i32::from_ne_bytes(buf))
}

pub(crate) fn set_int_option(fd: RawFd, level: i32, name: i32, value: i32) -> Result<()> {
    set_option(fd, level, name, &value.to_ne_bytes())
}

pub(crate) fn set_option(fd: RawFd, level: i32, name: i32, value: &[u8]) -> Result<()> {
    let len = libc::socklen_t::try_from(value.len()).map_err(|_| Errno(libc::EINVAL))?;
    // SAFETY: `value` is valid for reads of `len` bytes for the duration of the call.
    retry(|| unsafe { libc::setsockopt(fd, level, name, value.as_ptr().cast(), len) })?;
    Ok(())
}

/// Reads an option into `out`; returns how many bytes the kernel wrote.
pub(crate) fn get_option(fd: RawFd, level: i32, name: i32, out: &mut [u8]) -> Result<usize> {
    let mut len = libc::socklen_t::try_from(out.len()).map_err(|_| Errno(libc::EINVAL))?;
    // SAFETY: `out` is valid for writes of `len` bytes; the kernel updates `len`.
    retry(|| unsafe { libc::getsockopt(fd, level, name, out.as_mut_ptr().cast(), &mut len) })?;
    Ok((len as usize).min(out.len()))
}

/// The pending error of a socket (SO_ERROR), e.g. the outcome of a non-blocking connect.
pub(crate) fn take_socket_error(fd: RawFd) -> Result<i32> {
    let mut buf = [0u8; 4];
    get_option(fd, libc::SOL_SOCKET, libc::SO_ERROR, &mut buf)?;
    Ok(i32::from_ne_bytes(buf))
}

pub(crate) fn bind(fd: RawFd, addr: &SocketAddr) -> Result<()> {
    let (storage, len) = to_sockaddr(addr);
    // SAFETY: `storage` holds a valid sockaddr of `len` bytes.
    retry(|| unsafe { libc::bind(fd, ptr::addr_of!(storage).cast(), len) })?;
    Ok(())
}

pub(crate) fn listen(fd: RawFd, backlog: i32) -> Result<()> {
    // SAFETY: plain system call with integer arguments.
    retry(|| unsafe { libc::listen(fd, backlog) })?;
    Ok(())
}

/// Starts a non-blocking connect; `Err(EINPROGRESS)` means "wait for writable".
pub(crate) fn connect(fd: RawFd, addr: &SocketAddr) -> Result<()> {
    let (storage, len) = to_sockaddr(addr);
    // SAFETY: `storage` holds a valid sockaddr of `len` bytes.
    retry(|| unsafe { libc::connect(fd, ptr::addr_of!(storage).cast(), len) })?;
    Ok(())
}

/// Accepts a connection: its fd and, for an IP socket, the peer's address (`None` for other
/// families, e.g. AF_UNIX, whose connection is accepted all the same).
pub(crate) fn accept(fd: RawFd) -> Result<(OwnedFd, Option<SocketAddr>)> {
    let mut storage = MaybeUninit::<libc::sockaddr_storage>::zeroed();
    let mut len = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    let flags = libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: `storage` is valid for writes of `len` bytes; the kernel updates `len`.
    let new = retry(|| unsafe { libc::accept4(fd, storage.as_mut_ptr().cast(), &mut len, flags) })?;
    // SAFETY: `new` was just returned by accept4(2) and is owned by nobody else.
    let owned = unsafe { OwnedFd::from_raw_fd(new) };
    // SAFETY: the kernel initialised `len` bytes of the zeroed storage.
    let addr = from_sockaddr(unsafe { &storage.assume_init() });
    Ok((owned, addr))
}

/// sendto(2) of one datagram to `to` (or to the connected peer with `None`); never SIGPIPE.
pub(crate) fn send_to(fd: RawFd, buf: &[u8], to: Option<&SocketAddr>) -> Result<usize> {
    let flags = libc::MSG_NOSIGNAL;
    let n = match to {
        Some(addr) => {
            let (storage, len) = to_sockaddr(addr);
            // SAFETY: `buf` is valid for reads of its length; `storage` holds a sockaddr of
            // `len` bytes.
            retry(|| unsafe {
                libc::sendto(
                    fd,
                    buf.as_ptr().cast(),
                    buf.len(),
                    flags,
                    ptr::addr_of!(storage).cast(),
                    len,
                )
            })?
        }
        // SAFETY: `buf` is valid for reads of `buf.len()` bytes.
        None => retry(|| unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), flags) })?,
    };
    Ok(n as usize)
}

/// recvfrom(2): one datagram (cut to `buf.len()`) and its sender, `None` if the sender is not
/// an IP address (or the socket is connected and the kernel gave none).
pub(crate) fn recv_from(fd: RawFd, buf: &mut [u8]) -> Result<(usize, Option<SocketAddr>)> {
    let mut storage = MaybeUninit::<libc::sockaddr_storage>::zeroed();
    let mut len = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: `buf` is valid for writes of its length; `storage` for writes of `len` bytes,
    // which the kernel updates.
    let n = retry(|| unsafe {
        libc::recvfrom(
            fd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            0,
            storage.as_mut_ptr().cast(),
            &mut len,
        )
    })?;
    // SAFETY: zeroed, then (partly) filled in by the kernel.
    let addr = from_sockaddr(unsafe { &storage.assume_init() });
    Ok((n as usize, addr))
}

pub(crate) fn recv(fd: RawFd, buf: &mut [u8]) -> Result<usize> {
    // read(2) is recv(2) without flags, and the kernel's path for it is shorter.
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes.
    let n = retry(|| unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) })?;
    Ok(n as usize)
}

/// Index of the first `byte` in `hay`.
pub(crate) fn memchr(byte: u8, hay: &[u8]) -> Option<usize> {
    // SAFETY: memchr reads at most `hay.len()` bytes from `hay`, which are valid for reads.
    let p = unsafe { libc::memchr(hay.as_ptr().cast(), byte.into(), hay.len()) };
    // The result is NULL or a pointer into `hay`, so the difference is its index.
    (!p.is_null()).then(|| p as usize - hay.as_ptr() as usize)
}

/// Receives at most `max` bytes into the spare capacity of `buf` (no zero-filling).
pub(crate) fn recv_append(fd: RawFd, buf: &mut Vec<u8>, max: usize) -> Result<usize> {
    buf.reserve(max);
    let spare = &mut buf.spare_capacity_mut()[..max];
    // SAFETY: `spare` is valid for writes of `spare.len()` bytes.
    let n = retry(|| unsafe { libc::read(fd, spare.as_mut_ptr().cast(), spare.len()) })?;
    let n = n as usize;
    // SAFETY: the kernel initialised the first `n` bytes of the spare capacity.
    unsafe { buf.set_len(buf.len() + n) };
    Ok(n)
}

pub(crate) fn send(fd: RawFd, buf: &[u8]) -> Result<usize> {
    // MSG_NOSIGNAL: a peer that went away gives EPIPE, never SIGPIPE.
    let flags = libc::MSG_NOSIGNAL;
    // SAFETY: `buf` is valid for reads of `buf.len()` bytes.
    let n = retry(|| unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), flags) })?;
    Ok(n as usize)
}

/// Most buffers one sendmsg(2) takes (Linux's UIO_MAXIOV).
pub(crate) const IOV_MAX: usize = 1024;

/// Sends some of the buffers `bufs`, in order, with one sendmsg(2); `more` adds MSG_MORE (the
/// caller sends more right after: the kernel may hold a partial segment for it). Returns the
/// bytes sent across all buffers.
pub(crate) fn send_vectored(fd: RawFd, bufs: &[std::io::IoSlice<'_>], more: bool) -> Result<usize> {
    let flags = libc::MSG_NOSIGNAL | if more { libc::MSG_MORE } else { 0 };
    // SAFETY: a zeroed msghdr is valid (no address, no control data).
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    // IoSlice is ABI-compatible with iovec (std guarantees it on Unix); the kernel only reads it.
    msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = bufs.len().min(IOV_MAX) as _;
    // SAFETY: `msg` points to `msg_iovlen` iovecs, each valid for reads of its length.
    let n = retry(|| unsafe { libc::sendmsg(fd, &msg, flags) })?;
    Ok(n as usize)
}

/// Zero-copy file to socket; advances `offset`. sendfile(2) has no MSG_NOSIGNAL and raises
/// SIGPIPE even when it returns a partial count, so unless the program ignores SIGPIPE, the
/// signal is blocked around the call and one it raised is taken off before unblocking.
pub(crate) fn sendfile(out: RawFd, file: RawFd, offset: &mut i64, count: usize) -> Result<usize> {
    let mut off: libc::off_t = *offset;
    // SAFETY: `off` is a valid off_t the kernel reads and updates.
    let mut call = || retry(|| unsafe { libc::sendfile(out, file, &mut off, count) });
    let n = if sigpipe_ignored() {
        call()
    } else {
        without_sigpipe(call)
    };
    *offset = off;
    Ok(n? as usize)
}

/// Whether SIGPIPE is ignored, asked once: a program that ignores it keeps ignoring it.
fn sigpipe_ignored() -> bool {
    static IGNORED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *IGNORED.get_or_init(|| {
        let mut old = MaybeUninit::<libc::sigaction>::zeroed();
        // SAFETY: queries the current action into `old` without changing it.
        let ok = unsafe { libc::sigaction(libc::SIGPIPE, ptr::null(), old.as_mut_ptr()) } == 0;
        // SAFETY: filled in by sigaction when it succeeded.
        ok && unsafe { old.assume_init() }.sa_sigaction == libc::SIG_IGN
    })
}

/// Runs `f` with SIGPIPE blocked for this thread, discarding a SIGPIPE raised meanwhile.
fn without_sigpipe<T>(f: impl FnOnce() -> T) -> T {
    let mut pipe = MaybeUninit::<libc::sigset_t>::zeroed();
    let mut old = MaybeUninit::<libc::sigset_t>::zeroed();
    // SAFETY: the sets are valid sigset_t storage; this changes only the calling thread's mask.
    unsafe {
        libc::sigemptyset(pipe.as_mut_ptr());
        libc::sigaddset(pipe.as_mut_ptr(), libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_BLOCK, pipe.as_ptr(), old.as_mut_ptr());
    }
    let result = f();
    let zero = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: takes a pending SIGPIPE (if any) off this thread without waiting, then restores
    // the mask saved above; all pointers are valid.
    unsafe {
        libc::sigtimedwait(pipe.as_ptr(), ptr::null_mut(), &zero);
        libc::pthread_sigmask(libc::SIG_SETMASK, old.as_ptr(), ptr::null_mut());
    }
    result
}

pub(crate) fn shutdown(fd: RawFd, how: i32) -> Result<()> {
    // SAFETY: plain system call with integer arguments.
    retry(|| unsafe { libc::shutdown(fd, how) })?;
    Ok(())
}

pub(crate) fn local_addr(fd: RawFd) -> Result<SocketAddr> {
    name_of(fd, libc::getsockname)
}

pub(crate) fn peer_addr(fd: RawFd) -> Result<SocketAddr> {
    name_of(fd, libc::getpeername)
}

type NameFn = unsafe extern "C" fn(RawFd, *mut libc::sockaddr, *mut libc::socklen_t) -> i32;

fn name_of(fd: RawFd, f: NameFn) -> Result<SocketAddr> {
    let mut storage = MaybeUninit::<libc::sockaddr_storage>::zeroed();
    let mut len = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: `storage` is valid for writes of `len` bytes; `f` is getsockname or getpeername.
    retry(|| unsafe { f(fd, storage.as_mut_ptr().cast(), &mut len) })?;
    // SAFETY: zeroed, then filled in by the kernel.
    from_sockaddr(unsafe { &storage.assume_init() }).ok_or(Errno(libc::EAFNOSUPPORT))
}

/// glibc's EAI_ADDRFAMILY (the name has no address of the asked family), which the libc crate
/// does not define.
const EAI_ADDRFAMILY: i32 = -9;

/// The stream-socket addresses of `host` (getaddrinfo(3)), each with port `port`.
///
/// A name that does not resolve (EAI_NONAME, EAI_NODATA, EAI_ADDRFAMILY, EAI_FAIL, or no
/// address) is ENXIO, which connect(2) never gives, so a caller can tell it from an address it
/// cannot reach; a temporary failure (EAI_AGAIN: no answer from the name server now) is
/// EAGAIN; EAI_MEMORY is ENOMEM; EAI_SYSTEM gives its errno.
pub(crate) fn resolve_name(host: &CStr, port: u16) -> Result<Vec<SocketAddr>> {
    // SAFETY: addrinfo is plain data for which all-zero bytes are valid (no flags, any family).
    let mut hints: libc::addrinfo = unsafe { mem::zeroed() };
    hints.ai_socktype = libc::SOCK_STREAM;
    let mut list: *mut libc::addrinfo = ptr::null_mut();
    // SAFETY: `host` is NUL-terminated, `hints` is valid, and `list` receives a list we free.
    let rc = unsafe { libc::getaddrinfo(host.as_ptr(), ptr::null(), &hints, &mut list) };
    if rc != 0 {
        return Err(match rc {
            libc::EAI_NONAME | libc::EAI_NODATA | EAI_ADDRFAMILY | libc::EAI_FAIL => {
                Errno(libc::ENXIO)
            }
            libc::EAI_AGAIN => Errno(libc::EAGAIN),
            libc::EAI_MEMORY => Errno(libc::ENOMEM),
            libc::EAI_SYSTEM => match Errno::last() {
                Errno(0) => Errno(libc::EIO),
                e => e,
            },
            _ => Errno(libc::EINVAL), // a flag, family or type we never pass
        });
    }
    let mut addrs = Vec::new();
    let mut entry = list;
    while !entry.is_null() {
        // SAFETY: a non-NULL entry of the list getaddrinfo returned, freed only below.
        let ai = unsafe { &*entry };
        let len = ai.ai_addrlen as usize;
        if !ai.ai_addr.is_null() && len <= mem::size_of::<libc::sockaddr_storage>() {
            // SAFETY: sockaddr_storage is plain data for which all-zero bytes are valid.
            let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
            // SAFETY: `ai_addr` holds `len` bytes, which fit in `storage` (checked above).
            unsafe {
                ptr::copy_nonoverlapping(
                    ai.ai_addr.cast::<u8>(),
                    ptr::addr_of_mut!(storage).cast::<u8>(),
                    len,
                )
            };
            if let Some(mut addr) = from_sockaddr(&storage) {
                addr.set_port(port);
                addrs.push(addr);
            }
        }
        entry = ai.ai_next;
    }
    // SAFETY: `list` came from a successful getaddrinfo and is freed once; no entry is used
    // after this.
    unsafe { libc::freeaddrinfo(list) };
    if addrs.is_empty() {
        return Err(Errno(libc::ENXIO));
    }
    Ok(addrs)
}

fn to_sockaddr(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data for which all-zero bytes are valid.
    let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and suitably aligned for sockaddr_in.
            unsafe { ptr::write(ptr::addr_of_mut!(storage).cast(), sin) };
            mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: sockaddr_storage is larger than and suitably aligned for sockaddr_in6.
            unsafe { ptr::write(ptr::addr_of_mut!(storage).cast(), sin6) };
            mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

fn from_sockaddr(storage: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match i32::from(storage.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let sin: &libc::sockaddr_in = unsafe { &*ptr::from_ref(storage).cast() };
            let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
            Some(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let sin6: &libc::sockaddr_in6 = unsafe { &*ptr::from_ref(storage).cast() };
            let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            Some(SocketAddr::V6(SocketAddrV6::new(
                ip,
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// Borrowed raw fd of an owned one (for readability at call sites).
pub(crate) fn raw(fd: &OwnedFd) -> RawFd {
    fd.as_raw_fd()
}
