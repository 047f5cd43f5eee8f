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
    /// For a thread dump, on the hub's OS thread: the binding's stack of each thread in
    /// `words` (one text per word, each line indented, "" for none). `current` is the word of
    /// the running thread, whose state the hook may use to read the others'.
    pub(crate) stacks: fn(current: usize, words: &[usize]) -> Vec<String>,
    /// From another OS thread (the block monitor): the stack of the thread of `word`, which is
    /// running on its hub right now; `None` if it cannot be read safely from here.
    pub(crate) running_stack: fn(word: usize) -> Option<String>,
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

/// The binding's stacks of the threads of `words` ("" each without a binding).
pub(crate) fn stacks(current: usize, words: &[usize]) -> Vec<String> {
    match HOOKS.get() {
        Some(h) => (h.stacks)(current, words),
        None => vec![String::new(); words.len()],
    }
}

/// The binding's stack of the running thread of `word`, read from another OS thread.
pub(crate) fn running_stack(word: usize) -> Option<String> {
    HOOKS.get().and_then(|h| (h.running_stack)(word))
}
