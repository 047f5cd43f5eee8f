//! Python green threads: each runs on its own CPython thread state, entered from native code
//! (never a ctypes callback), using CPython's stable C API, resolved at run time with `dlsym` so
//! the library has no link-time dependency on libpython. One exception, below: the stack bounds
//! of CPython 3.14+.
//!
//! Three rules from the measured notes (`shared/notes/python-threads.md`):
//! 1. `PyGILState_*` must name the running green thread's state, or C→Python callbacks and the
//!    `-X dev` allocator checks see the wrong thread. CPython 3.12+ rebinds it whenever a state is
//!    activated; on older versions the hub re-points CPython's gilstate key at every switch. The
//!    key is found once: the pthread key whose value is this thread's gilstate state, confirmed
//!    by planting a sentinel and seeing `PyGILState_GetThisThreadState` return it.
//! 2. A call made with the GIL held (through `ctypes.PyDLL`, which skips releasing and
//!    re-taking it: 1,778 instructions a call against 2,204 through `ctypes.CDLL`) keeps it
//!    while it does not switch; a thread that switches away with the GIL held releases it first
//!    and takes it back when it runs again, as ctypes does around a `ctypes.CDLL` call
//!    (otherwise no other Python thread could run: the hub would be deadlocked). The shim makes
//!    its hot calls that way.
//! 3. A thread that overflows its stack dies holding the GIL: the hub releases it (its thread
//!    state and stack are leaked, never unwound).
//!
//! The runtime knows none of this: [`init`] installs these rules as switch hooks
//! (`runtime::hooks`), and each Python green thread's thread state is its hook word.
//!
//! On a free-threaded build (3.14t) "holding the GIL" means "its thread state attached", which is
//! what `PyGILState_Check` reports there, and rule 2 holds there too: a switch with a state still
//! attached would make the next green thread's attach abort ("non-NULL old thread state") and leave
//! a stop-the-world pause (a collection on another OS thread) waiting forever. One thread state per
//! green thread still holds its frames, exception and context; only one of a hub's states is
//! attached at a time, so a hub's green threads never run Python in parallel with each other, and
//! sharing the hub OS thread's object ownership (biased reference counts) is sound.
//!
//! # Stack bounds (CPython 3.14 and later)
//! CPython 3.14 guards C recursion with the stack pointer: each thread state holds its thread's
//! stack bounds, computed at its first attach from the OS thread's stack (`pthread_getattr_np`,
//! which reads `/proc/self/maps` on the main thread, a file that grows with every green stack).
//! On a green stack those bounds are wrong: the recursion check treats the stack pointer as
//! "stack switched" and never fires (a deep `json.dumps` ran into greenhub's guard page), and
//! `_Py_Dealloc`, seeing no stack margin left, defers every free of a GC-tracked object to a
//! list only a later free with margin drains: never, on that stack, so every object a green
//! thread freed leaked. And each spawn paid for reading the maps file.
//!
//! So every Python green thread's state is told its green stack's bounds before its first
//! attach, with `PyUnstable_ThreadState_SetStackProtection(state, bottom, size)` (3.14.1+):
//! the usable range of its coroutine's stack, guard page excluded (`Coroutine::stack_range`),
//! the same for a pooled, re-armed stack. CPython then puts its limits a margin above `bottom`
//! (RecursionError at the soft limit, a fatal error past the hard one, both above the guard
//! page), and skips its own computation at attach. A state never changes stacks (one per green
//! thread, deleted when it ends), so `PyUnstable_ThreadState_ResetStackProtection` is not
//! needed; the root's state keeps the bounds CPython computed for the OS thread's stack, where
//! the root runs.
//!
//! This function is the one exception to "stable C API only": CPython has no stable way to
//! give a thread state its stack, and without it Python green threads cannot run correctly on
//! 3.14+ (see above). It is unstable API, so it is resolved like the rest, with `dlsym`, and
//! only on 3.14 and later (3.15+ takes the same path); a 3.14+ interpreter without it (3.14.0)
//! is refused by [`init`] with ENOTSUP, as is one that would refuse a [`MIN_STACK_SIZE`] stack.
//! Nothing about CPython's thread state layout is assumed.

mod api;
mod frames;
mod gilstate;
mod stack;
mod thread;

pub use stack::MIN_STACK_SIZE;
pub use thread::spawn;

use api::api;
use gilstate::{
    bind_gilstate, find_gilstate_key, release_gil_after_overflow, release_gil_to_switch,
    take_gil_back, GILSTATE_KEY,
};
use stack::check_stack_protection;

use crate::error::{Errno, Result};
use crate::runtime::hooks::{self, SwitchHooks};

/// Prepares Python support; called by the shim with the GIL held, in the thread that will be
/// the root (its thread state is the one restored whenever the root runs).
pub fn init() -> Result<()> {
    let api = api()?;
    // SAFETY: the caller holds the GIL (documented contract of gh_py_init).
    let root = unsafe { (api.gilstate_this_thread)() };
    if root.is_null() {
        return Err(Errno(libc::EINVAL));
    }
    // SAFETY: as above.
    unsafe { check_stack_protection(api) }?;
    crate::runtime::thread::set_hook_word(0, root as usize)?;
    if api.version_hex < 0x030C_0000 {
        GILSTATE_KEY.get_or_init(|| find_gilstate_key(api, root));
    }
    hooks::install(&HOOKS);
    Ok(())
}

/// The rules above, as the runtime's switch hooks.
static HOOKS: SwitchHooks = SwitchHooks {
    enter: bind_gilstate,
    overflowed: release_gil_after_overflow,
    suspend: release_gil_to_switch,
    resumed: take_gil_back,
    stacks: frames::stacks,
    running_stack: frames::running_stack,
};
