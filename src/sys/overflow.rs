//! The `generator` crate's "coroutine has overflowed its stack" line, through greenhub's log
//! sink instead of straight onto fd 2. The crate's guard-page handler writes that line itself
//! (with write(2), from the signal handler) before it switches back to the resumer, which
//! greenhub then reports as a stack overflow through the sink. So greenhub wraps the crate's
//! SIGSEGV/SIGBUS handler: the wrapper points fd 2 at /dev/null (dup/dup2, async-signal-safe)
//! around the crate's handler; the hub puts fd 2 back as soon as the overflowed coroutine has
//! switched back ([`restore_stderr`]), and so does the wrapper if the crate's handler returns
//! (a fault that is not a guard page: the crate has re-installed the previous handler, and the
//! fault repeats under it). Another OS thread writing to stderr in those microseconds loses
//! that write: a stack overflow is rare, and its report is what matters.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::OnceLock;

type Handler = unsafe extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void);

/// The crate's handler, as found when the wrapper was installed (one for both signals: the
/// crate installs the same one for SIGSEGV and SIGBUS).
static CRATE_HANDLER: OnceLock<usize> = OnceLock::new();
/// A copy of the real fd 2 while it points at /dev/null, else -1.
static SAVED_STDERR: AtomicI32 = AtomicI32::new(-1);

unsafe extern "C" fn on_fault(
    signal: libc::c_int,
    info: *mut libc::siginfo_t,
    ctx: *mut libc::c_void,
) {
    let Some(&handler) = CRATE_HANDLER.get() else {
        return;
    };
    // SAFETY: open, dup, dup2 and close are async-signal-safe (no fd is kept open for the
    // process's life: /dev/null is opened here, only for the moment).
    unsafe {
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        let saved = libc::dup(libc::STDERR_FILENO);
        if null >= 0 && saved >= 0 && libc::dup2(null, libc::STDERR_FILENO) >= 0 {
            SAVED_STDERR.store(saved, Ordering::Relaxed);
        } else if saved >= 0 {
            libc::close(saved);
        }
        if null >= 0 {
            libc::close(null);
        }
        // SAFETY: `handler` is the crate's SA_SIGINFO handler, taken from its sigaction.
        let crate_handler = std::mem::transmute::<usize, Handler>(handler);
        crate_handler(signal, info, ctx);
    }
    restore_stderr(); // not a guard page: the crate gave the fault back
}

/// Points fd 2 back where it was, after the crate's handler ran (a no-op otherwise).
pub(crate) fn restore_stderr() {
    let saved = SAVED_STDERR.swap(-1, Ordering::Relaxed);
    if saved >= 0 {
        // SAFETY: `saved` is the copy of fd 2 the wrapper made; it is put back and closed once.
        unsafe {
            libc::dup2(saved, libc::STDERR_FILENO);
            libc::close(saved);
        }
    }
}

/// Wraps the crate's guard-page handler, once, after the crate has installed it (the caller has
/// run a coroutine). Does nothing if the handler found is not an SA_SIGINFO one.
pub(crate) fn wrap_overflow_handler() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: sigaction queries into zeroed structs; the wrapper is installed only if the
        // crate's SA_SIGINFO handler was found, with the crate's flags (SA_ONSTACK) and mask.
        unsafe {
            let mut current: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(libc::SIGSEGV, std::ptr::null(), &mut current) != 0
                || current.sa_flags & libc::SA_SIGINFO == 0
                || current.sa_sigaction == on_fault as Handler as libc::sighandler_t
            {
                return;
            }
            let _ = CRATE_HANDLER.set(current.sa_sigaction);
            let mut wrapper = current;
            wrapper.sa_sigaction = on_fault as Handler as libc::sighandler_t;
            for signal in [libc::SIGSEGV, libc::SIGBUS] {
                libc::sigaction(signal, &wrapper, std::ptr::null_mut());
            }
        }
    });
}
