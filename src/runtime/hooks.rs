//! Switch hooks: how a binding keeps its own per-thread state in step with the scheduler
//! without the scheduler knowing anything of it. A binding installs one set, once, for the
//! process (the Python binding does it in `gh_py_init`); each task carries one opaque word
//! (`Task::hook_word`) the hooks are handed.

use std::sync::OnceLock;

use crate::error::Result;

/// The hooks a binding installs. Each is called on the hub's OS thread.
pub(crate) struct SwitchHooks {
    /// A thread (or the root, whose word is set by the binding too) is about to run again:
    /// its word.
    pub(crate) enter: fn(usize),
    /// A thread died on its guard page while running (its stack is abandoned): its word.
    pub(crate) overflowed: fn(usize),
    /// Asked before any wait or yield: an error refuses the block (e.g. EDEADLK when blocking
    /// now would stop every other thread of the binding for good).
    pub(crate) may_block: fn() -> Result<()>,
}

static HOOKS: OnceLock<&'static SwitchHooks> = OnceLock::new();

/// Installs `hooks` for the life of the process; a second installation keeps the first
/// (a binding is loaded once).
pub(crate) fn install(hooks: &'static SwitchHooks) {
    let _ = HOOKS.set(hooks);
}

#[inline(always)]
pub(crate) fn enter(word: usize) {
    if let Some(h) = HOOKS.get() {
        (h.enter)(word);
    }
}

pub(crate) fn overflowed(word: usize) {
    if let Some(h) = HOOKS.get() {
        (h.overflowed)(word);
    }
}

#[inline(always)]
pub(crate) fn may_block() -> Result<()> {
    match HOOKS.get() {
        Some(h) => (h.may_block)(),
        None => Ok(()),
    }
}
