//! Rules 1 to 3 of the module docs, as the runtime's switch hooks: the gilstate follows the
//! running green thread, a thread switching away with the GIL held releases it until it runs
//! again, an overflowed thread's GIL is released.

use std::ffi::c_void;
use std::sync::OnceLock;

use super::api::{api, Api, PyThreadState};

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

/// Rule 2: a thread switching away while it holds the GIL (a call made through
/// `ctypes.PyDLL`, which keeps it) releases it, as ctypes releases it around a `CDLL` call;
/// its thread state is returned, for [`take_gil_back`] when it runs again. 0 if it does not
/// hold the GIL (a `CDLL` call released it already).
pub(super) fn release_gil_to_switch() -> usize {
    let Ok(api) = api() else { return 0 };
    // SAFETY: PyGILState_Check may be called with or without the GIL. When it says this OS
    // thread holds the GIL with its gilstate's thread state (the running green thread's, rule
    // 1), PyEval_SaveThread releases it and returns that state, as Py_BEGIN_ALLOW_THREADS does.
    unsafe {
        if (api.gilstate_check)() == 1 {
            (api.eval_save_thread)() as usize
        } else {
            0
        }
    }
}

/// The thread that released the GIL to switch ([`release_gil_to_switch`]) runs again: it
/// takes the GIL back with its thread state, before its call returns to the caller that held it.
pub(super) fn take_gil_back(state: usize) {
    if state == 0 {
        return;
    }
    if let Ok(api) = api() {
        // SAFETY: `state` is the running thread's own state, released by
        // release_gil_to_switch and detached since (every other thread releases the GIL
        // before it switches back here), so restoring it is the end of Py_END_ALLOW_THREADS.
        unsafe { (api.eval_restore_thread)(state as *mut PyThreadState) };
    }
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
