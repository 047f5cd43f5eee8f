//! Switch hooks: how a binding keeps its own per-thread state in step with the scheduler
//! without the scheduler knowing anything of it. A binding installs one set, once, for the
//! process (the Python binding does it in `gh_py_init`); each task carries one opaque word
//! (`Task::hook_word`) the hooks are handed.

use std::sync::OnceLock;

/// The hooks a binding installs. Each is called on the hub's OS thread.
pub(crate) struct SwitchHooks {
    /// A thread (or the root, whose word is set by the binding too) is about to run again:
    /// its word.
    pub(crate) enter: fn(usize),
    /// A thread died on its guard page while running (its stack is abandoned): its word.
    pub(crate) overflowed: fn(usize),
    /// The running thread (or the root) is about to switch away, to wait or yield: the
    /// binding sets aside what must not stay with it while others run (the Python binding: a
    /// GIL held through a call that kept it). What it returns is handed to `resumed`.
    pub(crate) suspend: fn() -> usize,
    /// The thread that called `suspend` runs again (after `enter`): what `suspend` returned.
    pub(crate) resumed: fn(usize),
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

/// Runs `switch` (a switch away of the running thread, returning once it runs again) between
/// the binding's `suspend` and `resumed`.
#[inline(always)]
pub(crate) fn around_switch<R>(switch: impl FnOnce() -> R) -> R {
    let Some(h) = HOOKS.get() else {
        return switch();
    };
    let aside = (h.suspend)();
    let result = switch();
    (h.resumed)(aside);
    result
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
