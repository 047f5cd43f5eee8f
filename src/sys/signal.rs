//! The dump signal (`GREENHUB_DUMP_SIGNAL`): a handler that only counts the request and wakes
//! every hub through an eventfd each of them polls, so the dump is written by a hub at its next
//! loop turn and never from inside the handler. Also the coarse clock waits are stamped with
//! and writing a whole buffer to a file descriptor (the dump's output).

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};

use super::retry;
use crate::error::{Errno, Result};

/// Dump requests so far (signals received): a hub dumps when this moves past what it has seen.
static REQUESTS: AtomicU64 = AtomicU64::new(0);
/// The eventfd every hub polls, -1 before [`install_dump_handler`].
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);

/// Dump requests received so far.
pub(crate) fn dump_requests() -> u64 {
    REQUESTS.load(Ordering::Relaxed)
}

/// The eventfd the handler writes to, once installed.
pub(crate) fn dump_wake_fd() -> Option<RawFd> {
    Some(WAKE_FD.load(Ordering::Relaxed)).filter(|&fd| fd >= 0)
}

/// Empties the eventfd (non-blocking: nothing to read is fine).
pub(crate) fn drain_dump_wake_fd() {
    if let Some(fd) = dump_wake_fd() {
        let mut count = 0u64;
        // SAFETY: reads at most 8 bytes into `count`, which is 8 bytes long.
        unsafe { libc::read(fd, (&mut count as *mut u64).cast(), 8) };
    }
}

extern "C" fn on_dump_signal(_signal: libc::c_int) {
    // Only async-signal-safe work: an atomic add and a write(2); errno is kept for the code
    // the signal interrupted.
    // SAFETY: __errno_location is this thread's errno slot.
    let errno = unsafe { *libc::__errno_location() };
    REQUESTS.fetch_add(1, Ordering::Relaxed);
    let fd = WAKE_FD.load(Ordering::Relaxed);
    if fd >= 0 {
        let one = 1u64;
        // SAFETY: writes 8 bytes from `one` to the eventfd; a full counter just fails.
        unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}

/// The number of a signal name: "USR2", "SIGUSR2" or a number.
pub(crate) fn signal_number(name: &str) -> Option<libc::c_int> {
    let name = name.trim();
    if let Ok(n) = name.parse::<libc::c_int>() {
        return (1..libc::SIGRTMAX()).contains(&n).then_some(n);
    }
    let bare = name.strip_prefix("SIG").unwrap_or(name);
    const NAMES: [(&str, libc::c_int); 14] = [
        ("HUP", libc::SIGHUP),
        ("INT", libc::SIGINT),
        ("QUIT", libc::SIGQUIT),
        ("USR1", libc::SIGUSR1),
        ("USR2", libc::SIGUSR2),
        ("ALRM", libc::SIGALRM),
        ("TERM", libc::SIGTERM),
        ("CONT", libc::SIGCONT),
        ("TTIN", libc::SIGTTIN),
        ("TTOU", libc::SIGTTOU),
        ("URG", libc::SIGURG),
        ("WINCH", libc::SIGWINCH),
        ("PWR", libc::SIGPWR),
        ("PROF", libc::SIGPROF),
    ];
    NAMES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(bare))
        .map(|&(_, s)| s)
}

/// Creates the eventfd and installs the handler for `signal` (SA_RESTART: the program's own
/// system calls go on as if nothing happened; epoll_wait returns, which the hub ignores).
pub(crate) fn install_dump_handler(signal: libc::c_int) -> Result<()> {
    // SAFETY: eventfd has no memory preconditions.
    let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
    if fd < 0 {
        return Err(Errno::last());
    }
    WAKE_FD.store(fd, Ordering::Relaxed);
    // SAFETY: a zeroed sigaction is a valid "no flags, empty mask" value; the handler is an
    // `extern "C" fn(c_int)` doing only async-signal-safe work.
    let installed = unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_dump_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART | libc::SA_ONSTACK;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(signal, &action, std::ptr::null_mut())
    };
    if installed != 0 {
        return Err(Errno::last());
    }
    Ok(())
}

/// Milliseconds of CLOCK_MONOTONIC_COARSE (a few ms of resolution, a fraction of the cost of a
/// precise read): what a wait's start is stamped with.
pub(crate) fn coarse_ms() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000
}

/// Writes all of `buf` to `fd`, waiting while a non-blocking fd is full.
pub(crate) fn write_all(fd: RawFd, mut buf: &[u8]) -> Result<()> {
    while !buf.is_empty() {
        // SAFETY: `buf` is valid for reads of its length.
        match retry(|| unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) }) {
            Ok(n) => buf = &buf[n as usize..],
            Err(Errno(libc::EAGAIN)) => {
                let mut pfd = libc::pollfd {
                    fd,
                    events: libc::POLLOUT,
                    revents: 0,
                };
                // SAFETY: one valid pollfd.
                unsafe { libc::poll(&mut pfd, 1, 1000) };
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// True if `fd` is a listening socket (SO_ACCEPTCONN).
pub(crate) fn is_listening(fd: RawFd) -> bool {
    let mut buf = [0u8; 4];
    super::get_option(fd, libc::SOL_SOCKET, libc::SO_ACCEPTCONN, &mut buf).is_ok()
        && i32::from_ne_bytes(buf) != 0
}

/// The calling OS thread's kernel id (what `ps -L` and gdb show).
pub(crate) fn os_thread_id() -> i64 {
    // SAFETY: gettid has no preconditions.
    i64::from(unsafe { libc::gettid() })
}
