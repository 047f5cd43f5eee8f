//! Rules 1 to 3 of the module docs, as the runtime's switch hooks: the gilstate follows the
//! running green thread, blocking with the GIL held is refused, an overflowed thread's GIL is
//! released.

use std::ffi::c_void;
use std::sync::OnceLock;

use super::api::{api, Api, PyThreadState};
use crate::error::{Errno, Result};

/// CPython's gilstate pthread key, on versions that do not rebind it themselves.
pub(super) static GILSTATE_KEY: OnceLock<Option<libc::pthread_key_t>> = OnceLock::new();

/// Finds CPython's gilstate key: a pthread key holding `root`, confirmed with a sentinel.
pub(super) fn find_gilstate_key(
    api: &Api,
    root: *mut PyThreadState,
) -> Option<libc::pthread_key_t> {
    let sentinel = std::ptr::NonNull::<u64>::dangling()
        .as_ptr()
        .cast::<c_void>();
    for key in 0..1024 as libc::pthread_key_t {
        // SAFETY: pthread_getspecific on any key value is defined (NULL for unused keys).
        if unsafe { libc::pthread_getspecific(key) } != root {
            continue;
        }
        // SAFETY: the key is in use and holds `root`; the sentinel is planted only for the
        // check below (no other code runs meanwhile: the GIL is held) and `root` put back.
        let confirmed = unsafe {
            libc::pthread_setspecific(key, sentinel);
            let seen = (api.gilstate_this_thread)();
            libc::pthread_setspecific(key, root);
            seen == sentinel
        };
        if confirmed {
            return Some(key);
        }
    }
    None
}

/// Points CPython's gilstate at `state` (the thread about to run); a no-op where CPython does it.
pub(super) fn bind_gilstate(state: usize) {
    if state == 0 {
        return;
    }
    if let Some(Some(key)) = GILSTATE_KEY.get() {
        // SAFETY: `key` is CPython's gilstate key (confirmed at init) and `state` a live thread
        // state of this OS thread; this is exactly what CPython itself stores there.
        unsafe { libc::pthread_setspecific(*key, state as *const c_void) };
    }
}

/// EDEADLK if the caller holds the GIL: blocking now would stop every Python thread for good.
pub(super) fn check_gil_released() -> Result<()> {
    let Ok(api) = api() else { return Ok(()) };
    // SAFETY: PyGILState_Check may be called with or without the GIL.
    if unsafe { (api.gilstate_check)() } == 1 {
        return Err(Errno(libc::EDEADLK));
    }
    Ok(())
}

/// A green thread died on its guard page while running Python: release the GIL it held (its
/// thread state is leaked with its stack).
pub(super) fn release_gil_after_overflow(state: usize) {
    if state == 0 {
        return;
    }
    if let Ok(api) = api() {
        // SAFETY: this OS thread holds the GIL on behalf of the dead thread (it was running
        // Python when it overflowed, or blocked with the GIL released: then Check says 0).
        unsafe {
            if (api.gilstate_check)() == 1 {
                (api.eval_save_thread)();
            }
        }
    }
}
