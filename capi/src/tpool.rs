//! The thread pool in C: blocking calls on native worker threads.

use std::ffi::{c_int, c_void};

use super::call;
use greenhub::tpool;
use greenhub::Errno;

/// A function run on a worker thread by gh_tpool_execute(). It runs on another OS thread: it
/// must not use greenhub handles of the calling hub.
#[allow(non_camel_case_types)]
pub type gh_tpool_fn = Option<unsafe extern "C" fn(arg: *mut c_void) -> *mut c_void>;

/// Runs `fn(arg)` on a native worker thread; only the calling green thread waits, the hub keeps
/// serving the others. Writes fn's return value to `*result` (may be NULL). If the caller is
/// killed (ECANCELED) or its deadline passes (ETIMEDOUT) first, the call still finishes on its
/// worker and its return value is discarded. EAGAIN if no worker thread can be started.
#[no_mangle]
pub extern "C" fn gh_tpool_execute(
    f: gh_tpool_fn,
    arg: *mut c_void,
    result: *mut *mut c_void,
) -> c_int {
    call(-1, || {
        let f = f.ok_or(Errno(libc::EINVAL))?;
        let arg = arg as usize;
        // SAFETY: the C caller promises `f` may be called with `arg` on any thread.
        let value = tpool::execute(move || unsafe { f(arg as *mut c_void) } as usize)?;
        if !result.is_null() {
            // SAFETY: non-NULL, and the caller promises it points to a writable pointer.
            unsafe { result.write(value as *mut c_void) };
        }
        Ok(0)
    })
}

/// Sets the number of worker threads (EINVAL for 0). The default is 20, or the
/// GREENHUB_TPOOL_SIZE environment variable. Workers start on demand; extra ones leave after
/// their current call. Process-wide.
#[no_mangle]
pub extern "C" fn gh_tpool_set_size(threads: usize) -> c_int {
    call(-1, || tpool::set_size(threads).map(|()| 0))
}

/// The number of worker threads the pool may run.
#[no_mangle]
pub extern "C" fn gh_tpool_get_size() -> usize {
    call(0, || Ok(tpool::size()))
}
