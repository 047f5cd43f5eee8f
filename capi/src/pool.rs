//! Green pools and gh_serve() in C.

use std::ffi::{c_int, c_void};

use super::thread::{gh_fn, gh_spawn_opts, spawn_options};
use super::{call, gh_sock, gh_thread, handle};
use greenhub::pool;
use greenhub::{Errno, Result};

/// A green pool handle.
#[allow(non_camel_case_types)]
pub type gh_pool = i64;

/// A connection handler for gh_serve(): runs in its own green thread, which owns `sock`.
#[allow(non_camel_case_types)]
pub type gh_serve_fn =
    Option<unsafe extern "C-unwind" fn(sock: gh_sock, arg: *mut c_void) -> c_int>;

/// A gh_serve() handler returning this stops the accept loop (not reported as a failure).
pub const GH_SERVE_STOP: i32 = -2147483646;

const _: () = assert!(GH_SERVE_STOP == pool::SERVE_STOP);

fn size(n: i64) -> Result<usize> {
    usize::try_from(n)
        .ok()
        .filter(|&n| n > 0)
        .ok_or(Errno(libc::EINVAL))
}

/// A pool letting at most `size` (>= 1, else EINVAL) of its threads run at once.
#[no_mangle]
pub extern "C" fn gh_pool_new(size: i64) -> gh_pool {
    call(-1, || Ok(pool::new(self::size(size)?)? as gh_pool))
}

/// Starts `fn(arg)` as a thread of pool `p` (options as gh_spawn_ex(); NULL: joinable), first
/// waiting in FIFO order while the pool is full. Deadline and kill apply to that wait.
#[no_mangle]
pub extern "C" fn gh_pool_spawn(
    p: gh_pool,
    f: gh_fn,
    arg: *mut c_void,
    opts: *const gh_spawn_opts,
) -> gh_thread {
    call(-1, || {
        let entry = f.ok_or(Errno(libc::EINVAL))?;
        let options = spawn_options(opts)?;
        let arg = arg as usize;
        // SAFETY: the C caller promises `entry` may be called with `arg`.
        let id = pool::spawn(handle(p)?, options, move || unsafe {
            entry(arg as *mut c_void)
        })?;
        Ok(id as gh_thread)
    })
}

/// Waits until no thread of the pool runs.
#[no_mangle]
pub extern "C" fn gh_pool_wait(p: gh_pool) -> c_int {
    call(-1, || pool::wait(handle(p)?).map(|()| 0))
}

/// Changes the pool's limit (>= 1); growing lets waiting spawners in at once.
#[no_mangle]
pub extern "C" fn gh_pool_resize(p: gh_pool, size: i64) -> c_int {
    call(-1, || {
        pool::resize(handle(p)?, self::size(size)?).map(|()| 0)
    })
}

/// Writes the limit, running threads and waiting spawners (any may be NULL).
#[no_mangle]
pub extern "C" fn gh_pool_stat(
    p: gh_pool,
    size: *mut i64,
    running: *mut i64,
    waiting: *mut i64,
) -> c_int {
    call(-1, || {
        let (s, r, w) = pool::stat(handle(p)?)?;
        for (out, v) in [(size, s), (running, r), (waiting, w)] {
            if !out.is_null() {
                // SAFETY: non-NULL, and the caller promises it points to a writable int64_t.
                unsafe { out.write(v as i64) };
            }
        }
        Ok(0)
    })
}

/// Destroys the pool; waiting spawners and gh_pool_wait() callers fail with EBADF; its running
/// threads go on.
#[no_mangle]
pub extern "C" fn gh_pool_free(p: gh_pool) -> c_int {
    call(-1, || pool::free(handle(p)?).map(|()| 0))
}

/// Accepts connections on `listener` forever: each runs `handler(sock, arg)` in its own green
/// thread, which owns `sock` (closed when the handler returns); at most `concurrency` (>= 1)
/// handlers run at once, accepting waits meanwhile. Returns 0 once a handler returned
/// GH_SERVE_STOP (handlers still running go on), or -1 if accepting fails (listener closed:
/// EBADF). Deadline and kill of the calling thread apply.
#[no_mangle]
pub extern "C" fn gh_serve(
    listener: gh_sock,
    handler: gh_serve_fn,
    arg: *mut c_void,
    concurrency: i64,
) -> c_int {
    call(-1, || {
        let handler = handler.ok_or(Errno(libc::EINVAL))?;
        let arg = arg as usize;
        // SAFETY: the C caller promises `handler` may be called with a socket and `arg`.
        let run = move |sock: u64| unsafe { handler(sock as gh_sock, arg as *mut c_void) };
        pool::serve(handle(listener)?, size(concurrency)?, run).map(|()| 0)
    })
}
