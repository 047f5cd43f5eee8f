//! Stack bounds for CPython 3.14+ (see the module docs): each green thread's thread state is
//! told where its stack is before its first attach.

use std::ffi::c_void;

use super::api::{api, Api, PyThreadState};
use crate::error::{Errno, Result};

/// Smallest C stack a Python green thread gets: C code re-entering Python needs room.
pub const MIN_STACK_SIZE: usize = 1024 * 1024;

/// ENOTSUP if this interpreter would refuse a [`MIN_STACK_SIZE`] stack (CPython's smallest is a few
/// dozen KiB), so that [`give_stack`], which has no way to fail a spawn, always succeeds: it is
/// asked for the same or more. Tried on a scratch thread state, never attached.
///
/// # Safety
/// The caller holds the GIL.
pub(super) unsafe fn check_stack_protection(api: &Api) -> Result<()> {
    let Some(set) = api.set_stack_protection else {
        return Ok(());
    };
    // SAFETY: GIL held. The scratch state is only given bounds (CPython does arithmetic on the
    // address, it never reads it) and deleted unattached; a refusal sets an exception on the
    // caller's state, cleared here.
    unsafe {
        let scratch = (api.thread_state_new)((api.interpreter_get)());
        if scratch.is_null() {
            return Err(Errno(libc::ENOMEM));
        }
        let page = crate::sys::page_size() as *mut c_void;
        let accepted = set(scratch, page, MIN_STACK_SIZE) == 0;
        if !accepted {
            (api.err_clear)();
        }
        (api.thread_state_clear)(scratch);
        (api.thread_state_delete)(scratch);
        if accepted {
            Ok(())
        } else {
            Err(Errno(libc::ENOTSUP))
        }
    }
}

/// Tells `state` (3.14+) that its thread runs on the stack `[bottom, bottom + size)`; a no-op
/// before 3.14. See the module docs.
///
/// # Safety
/// The caller holds the GIL; `state` is a live thread state, never attached yet, whose thread
/// runs on that stack (at least [`MIN_STACK_SIZE`] bytes).
pub(super) unsafe fn give_stack(state: usize, bottom: usize, size: usize) {
    let Ok(api) = api() else { return };
    let Some(set) = api.set_stack_protection else {
        return;
    };
    // SAFETY: the caller's contract. It cannot fail: `init` checked that this interpreter
    // accepts MIN_STACK_SIZE bytes. Were it to fail anyway, its exception must not stay on the
    // spawner's state (the thread then runs on the bounds CPython computes itself).
    unsafe {
        if set(state as *mut PyThreadState, bottom as *mut c_void, size) != 0 {
            (api.err_clear)();
        }
    }
}
