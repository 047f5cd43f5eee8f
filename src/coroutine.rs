//! Stackful coroutines. This is the only module that talks to the `generator` crate, so the
//! crate can be replaced without touching the hub.
//!
//! Rules kept here: a suspended coroutine is never dropped (that would unwind its stack, which
//! may hold C or Python frames); a finished one is re-armed with a new body so its stack is
//! reused; an overflowed one is leaked, because its stack is in an unknown state.

use std::any::Any;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::panic::{self, AssertUnwindSafe};

use generator::{Generator, Gn};

use crate::error::{Errno, Result};

/// What a resume ended with.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Resumed {
    /// The body called [`suspend`]; resume it again later.
    Suspended,
    /// The body returned; the coroutine can be re-armed.
    Finished,
    /// The body ran into its guard page; the coroutine is gone.
    Overflowed,
}

/// `generator` wants `Send` bodies because a generator may be moved across threads; ours never
/// leave the hub's OS thread (`Coroutine` is `!Send`), so the bound is met by construction.
/// The body is stored on the coroutine's own stack: spawning allocates nothing on the heap.
struct HubLocal<F>(F);
// SAFETY: the body is only ever run by the coroutine it was given to, and a `Coroutine` is
// `!Send` (see `_not_send`), so the body runs on the OS thread that created it.
unsafe impl<F> Send for HubLocal<F> {}

pub(crate) struct Coroutine {
    gen: ManuallyDrop<Generator<'static, (), ()>>,
    stack_size: usize,
    _not_send: PhantomData<*const ()>,
}

impl Coroutine {
    /// Maps a new stack of `stack_size` bytes and arms it with `body`.
    ///
    /// Fails with ENOMEM (instead of the crate's panic) when the stack cannot be mapped.
    pub(crate) fn new<F: FnOnce() + 'static>(stack_size: usize, body: F) -> Result<Coroutine> {
        crate::sys::ensure_signal_stack();
        crate::sys::probe_stack_mapping(stack_size)?;
        let words = stack_size / std::mem::size_of::<usize>();
        let body = HubLocal(body);
        // The probe makes a failing mmap unlikely; a race with another thread can still make the
        // crate panic, which is caught and reported as ENOMEM.
        let gen = panic::catch_unwind(AssertUnwindSafe(|| {
            Gn::<()>::new_opt(words, move || run_body(body))
        }))
        .map_err(|_| Errno(libc::ENOMEM))?;
        Ok(Coroutine {
            gen: ManuallyDrop::new(gen),
            stack_size,
            _not_send: PhantomData,
        })
    }

    pub(crate) fn stack_size(&self) -> usize {
        self.stack_size
    }

    /// Re-arms a finished coroutine with a new body, reusing its stack (no system call).
    pub(crate) fn rearm<F: FnOnce() + 'static>(&mut self, body: F) {
        debug_assert!(
            self.gen.is_done(),
            "only a finished coroutine can be re-armed"
        );
        let body = HubLocal(body);
        self.gen.init_code(move || run_body(body));
    }

    /// Runs the coroutine until it suspends, finishes or overflows its stack.
    pub(crate) fn resume(&mut self) -> Resumed {
        // The crate re-raises a stack overflow (and only that: bodies catch their own panics)
        // as a panic in the resumer.
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| self.gen.resume()));
        match outcome {
            Ok(_) if self.gen.is_done() => Resumed::Finished,
            Ok(_) => Resumed::Suspended,
            Err(payload) => {
                if !is_stack_overflow(&*payload) {
                    // Not ours to swallow: a bug in this module.
                    panic::resume_unwind(payload);
                }
                Resumed::Overflowed
            }
        }
    }

    /// Gives up an overflowed coroutine: its stack is leaked, never unwound or reused.
    pub(crate) fn abandon(self) {
        std::mem::forget(self);
    }
}

impl Drop for Coroutine {
    fn drop(&mut self) {
        if self.gen.is_done() {
            // SAFETY: `gen` is dropped exactly once, here, and is not used afterwards.
            unsafe { ManuallyDrop::drop(&mut self.gen) };
        }
        // A suspended coroutine is leaked on purpose: dropping it would unwind foreign frames.
    }
}

fn run_body<F: FnOnce()>(body: HubLocal<F>) {
    (body.0)();
}

fn is_stack_overflow(payload: &(dyn Any + Send)) -> bool {
    matches!(
        payload.downcast_ref::<generator::Error>(),
        Some(generator::Error::StackErr)
    )
}

/// Switches from the running coroutine back to whoever resumed it.
pub(crate) fn suspend() {
    #[allow(deprecated)]
    // the non-deprecated yield needs the body's `Scope`, which we don't have deep in a call
    generator::yield_with(());
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::rc::Rc;

    #[test]
    fn suspend_resume_finish_and_rearm() {
        let log = Rc::new(Cell::new(0));
        let l = log.clone();
        let mut co = Coroutine::new(64 * 1024, move || {
            l.set(1);
            suspend();
            l.set(2);
        })
        .unwrap();
        assert_eq!(co.resume(), Resumed::Suspended);
        assert_eq!(log.get(), 1);
        assert_eq!(co.resume(), Resumed::Finished);
        assert_eq!(log.get(), 2);
        let l = log.clone();
        co.rearm(move || l.set(3));
        assert_eq!(co.resume(), Resumed::Finished);
        assert_eq!(log.get(), 3);
    }

    #[test]
    fn impossible_stack_is_enomem() {
        let err = Coroutine::new(1 << 46, || {}).err();
        assert_eq!(err, Some(Errno(libc::ENOMEM)));
    }
}
