//! Green threads in C: spawn, join, kill, exit, sleep, yield, names, deadlines, run.

use std::ffi::{c_char, c_int, c_void};
use std::time::Duration;

use super::{call, check_out, gh_sock, gh_thread, handle, opt_str};
use greenhub::thread::{self as green, SpawnOptions};
use greenhub::{Errno, Result};

/// Entry of a green thread. Its return value is the thread's status: 0 for success; any other
/// value is reported (through the log sink) as a failure. May end early with gh_exit().
#[allow(non_camel_case_types)]
pub type gh_fn = Option<unsafe extern "C-unwind" fn(arg: *mut c_void) -> c_int>;

/// Status a joined thread reports when it overflowed its stack (it died alone).
pub const GH_STATUS_STACK_OVERFLOW: i32 = i32::MIN;

const _: () = assert!(GH_STATUS_STACK_OVERFLOW == greenhub::STATUS_STACK_OVERFLOW);

/// Options of gh_spawn_ex(). Zero-initialise it (`gh_spawn_opts o = {0};`) and set what you need.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct gh_spawn_opts {
    /// Stack size in bytes; 0 uses the default (gh_set_stack_size).
    pub stack_size: usize,
    /// Name for reports, copied (at most 31 bytes kept); NULL for none.
    pub name: *const c_char,
    /// A socket handed to the new thread, which then owns it: it is closed when the thread
    /// ends, however it ends. 0 for none. If the spawn fails, ownership does not change.
    pub sock: gh_sock,
    /// true: like gh_spawn_n(), the thread cannot be joined.
    pub detached: bool,
}

fn spawn(f: gh_fn, arg: *mut c_void, opts: SpawnOptions) -> Result<gh_thread> {
    let entry = f.ok_or(Errno(libc::EINVAL))?;
    let arg = arg as usize;
    // SAFETY: the C caller promises `entry` may be called with `arg`; it runs on the hub thread.
    let id = green::spawn_with(opts, move || unsafe { entry(arg as *mut c_void) })?;
    Ok(id as gh_thread)
}

/// Starts a joinable green thread running `fn(arg)`. It first runs when the caller blocks or
/// yields. Returns its id, or -1: EINVAL (fn is NULL), ENOMEM/EAGAIN (no stack could be had).
/// Join it with gh_join() to free its record.
#[no_mangle]
pub extern "C" fn gh_spawn(f: gh_fn, arg: *mut c_void) -> gh_thread {
    call(-1, || spawn(f, arg, SpawnOptions::default()))
}

/// Starts a detached green thread (fire and forget); as gh_spawn() otherwise. The id it
/// returns can be killed, named and given sockets, but not joined (EINVAL).
#[no_mangle]
pub extern "C" fn gh_spawn_n(f: gh_fn, arg: *mut c_void) -> gh_thread {
    let opts = SpawnOptions {
        detached: true,
        ..SpawnOptions::default()
    };
    call(-1, || spawn(f, arg, opts))
}

/// Spawn options from a C `gh_spawn_opts` (NULL: defaults).
pub(crate) fn spawn_options(opts: *const gh_spawn_opts) -> Result<SpawnOptions> {
    // SAFETY: NULL or, as the caller promises, a valid gh_spawn_opts.
    let Some(o) = (unsafe { opts.as_ref() }) else {
        return Ok(SpawnOptions::default());
    };
    Ok(SpawnOptions {
        stack_size: (o.stack_size != 0).then_some(o.stack_size),
        // SAFETY: NULL or a NUL-terminated string, as the field's contract says. Only the
        // part kept is copied, however long the string.
        name: unsafe { opt_str(o.name) }?.map(|n| green::name_kept(n).to_string()),
        socket: if o.sock == 0 {
            None
        } else {
            Some(handle(o.sock)?)
        },
        detached: o.detached,
    })
}

/// Starts a green thread with options (NULL `opts` = defaults). EBADF if `opts->sock` is not
/// a live socket; EINVAL for a stack size below 16 KiB or a name that is not UTF-8.
#[no_mangle]
pub extern "C" fn gh_spawn_ex(f: gh_fn, arg: *mut c_void, opts: *const gh_spawn_opts) -> gh_thread {
    call(-1, || spawn(f, arg, spawn_options(opts)?))
}

/// Waits until thread `t` ends and writes its status to `*status` (may be NULL). A thread is
/// joined once: afterwards its id is stale (EBADF). EINVAL: detached thread. EDEADLK: `t` is
/// the caller, or (in the root) nothing could ever end the wait. ECANCELED/ETIMEDOUT: the
/// caller was killed or its deadline passed (`t` is still joinable).
#[no_mangle]
pub extern "C" fn gh_join(t: gh_thread, status: *mut c_int) -> c_int {
    call(-1, || {
        let s = green::join(handle(t)?)?;
        if !status.is_null() {
            // SAFETY: non-NULL, and the caller promises it points to a writable int.
            unsafe { *status = s };
        }
        Ok(0)
    })
}

/// Cancels thread `t` cooperatively: its pending blocking call and every later one fail with
/// ECANCELED, so it can clean up and return. Killing an ended thread does nothing; EINVAL for
/// the root (0); EBADF for an unknown id.
#[no_mangle]
pub extern "C" fn gh_kill(t: gh_thread) -> c_int {
    call(-1, || green::kill(handle(t)?).map(|()| 0))
}

/// Makes the blocking call thread `t` (0: the root) is waiting in fail with EINTR, once, without
/// killing it; a thread that is not waiting is not affected. For bindings that raise an
/// exception into a thread. EBADF for an unknown or ended thread.
#[no_mangle]
pub extern "C" fn gh_interrupt(t: gh_thread) -> c_int {
    call(-1, || green::interrupt(handle(t)?).map(|()| 0))
}

/// Ends the calling green thread with `status`, like returning it from the entry function.
/// The frames between the entry and this call are discarded without running C cleanup code
/// (like pthread_exit); the C code needs unwind tables, the default of gcc and clang on
/// x86-64 and aarch64 Linux. Sockets the thread owns are closed. In the root it returns
/// with errno EPERM.
#[no_mangle]
pub extern "C-unwind" fn gh_exit(status: c_int) {
    // Not behind `call`: the unwind must reach the bottom of the green thread.
    let err = green::exit(status);
    super::set_errno(err);
}

/// The calling green thread's id; 0 in the root.
#[no_mangle]
pub extern "C" fn gh_self() -> gh_thread {
    call(0, || Ok(green::current() as gh_thread))
}

/// Sleeps `ms` milliseconds; 0 just yields. EINVAL for ms < 0; ECANCELED if killed;
/// ETIMEDOUT if the thread's deadline comes first.
#[no_mangle]
pub extern "C" fn gh_sleep(ms: i64) -> c_int {
    call(-1, || {
        let ms = u64::try_from(ms).map_err(|_| Errno(libc::EINVAL))?;
        green::sleep(Duration::from_millis(ms)).map(|()| 0)
    })
}

/// Lets every other runnable green thread run once; due timers fire and ready I/O is noticed
/// before the caller runs again, in the root as in a green thread (see README, "Scheduling
/// order"). ECANCELED if the caller was killed.
#[no_mangle]
pub extern "C" fn gh_yield() -> c_int {
    call(-1, || green::yield_now().map(|()| 0))
}

/// Names thread `t` (0 = the root) for reports; copied, at most 31 bytes kept.
/// EINVAL for NULL or a name that is not UTF-8.
#[no_mangle]
pub extern "C" fn gh_set_name(t: gh_thread, name: *const c_char) -> c_int {
    call(-1, || {
        // SAFETY: NULL or a NUL-terminated string, as the caller promises.
        let name = unsafe { opt_str(name) }?.ok_or(Errno(libc::EINVAL))?;
        green::set_name(handle(t)?, name).map(|()| 0)
    })
}

/// Writes thread `t`'s name (empty if none) as a NUL-terminated string into `buf` of `len`
/// bytes. ERANGE if it does not fit (nothing written).
#[no_mangle]
pub extern "C" fn gh_get_name(t: gh_thread, buf: *mut c_char, len: usize) -> c_int {
    call(-1, || {
        let name = green::name(handle(t)?)?.unwrap_or_default();
        check_out(buf)?;
        if name.len() + 1 > len {
            return Err(Errno(libc::ERANGE));
        }
        // SAFETY: `buf` is non-NULL and, as the caller promises, holds `len` >= name + 1 bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(name.as_ptr(), buf.cast::<u8>(), name.len());
            *buf.add(name.len()) = 0;
        }
        Ok(0)
    })
}

/// Root only: runs the hub until every green thread has ended. EDEADLK if called in a green
/// thread, or if the remaining threads wait for each other and nothing can wake them.
#[no_mangle]
pub extern "C" fn gh_run() -> c_int {
    call(-1, || green::run().map(|()| 0))
}

/// Opens a deadline scope for the calling thread: any blocking call made after `ms`
/// milliseconds fails with ETIMEDOUT. Scopes nest and the earliest deadline applies; ms < 0
/// opens a scope that adds no deadline. Close each scope with gh_deadline_pop().
#[no_mangle]
pub extern "C" fn gh_deadline_push(ms: i64) -> c_int {
    call(-1, || {
        let after = u64::try_from(ms).ok().map(Duration::from_millis);
        green::deadline_push(after).map(|()| 0)
    })
}

/// Closes the innermost deadline scope. EINVAL if none is open.
#[no_mangle]
pub extern "C" fn gh_deadline_pop() -> c_int {
    call(-1, || green::deadline_pop().map(|()| 0))
}
