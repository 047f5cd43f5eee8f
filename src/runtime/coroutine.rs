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
    /// The body called [`suspend`] with this value; resume it again later.
    Suspended(u32),
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
    gen: ManuallyDrop<Gen>,
    /// The stack size (a whole number of pages), with [`SAMPLE_RELEASED`] or'ed in. One word:
    /// the loop moves coroutines in and out of their threads' records on every switch.
    stack: usize,
    _not_send: PhantomData<*const ()>,
}

/// Set in `Coroutine::stack` when the stack's usage-sample page was released.
const SAMPLE_RELEASED: usize = 1;

/// `generator` 0.8.12 marks a new stack by writing this word into its lowest
/// [`SAMPLE_WORDS`] words, and checks them when the generator is dropped: a stack whose sample
/// was overwritten is reported as overflowed. Writing it costs an otherwise untouched page per
/// green thread, so [`release_sample`] gives that page back and [`restore_sample`] rewrites the
/// words before the crate looks at them.
const SAMPLE_WORD: usize = 0xDEAD_BEEF;
const SAMPLE_WORDS: usize = 8;

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
            Gn::<u32>::new_opt(words, move || run_body(body))
        }))
        .map_err(|_| Errno(libc::ENOMEM))?;
        let (gen, released) = release_sample(gen, stack_size);
        wrap_crate_handler();
        Ok(Coroutine {
            gen: ManuallyDrop::new(gen),
            stack: stack_size | if released { SAMPLE_RELEASED } else { 0 },
            _not_send: PhantomData,
        })
    }

    pub(crate) fn stack_size(&self) -> usize {
        self.stack & !SAMPLE_RELEASED
    }

    /// The usable part of the stack, as (lowest address, size): the guard page lies just below,
    /// the crate's own state at the very top. For runtimes that check the stack pointer against
    /// their thread's stack bounds themselves (CPython 3.14+). The same for a re-armed stack.
    pub(crate) fn stack_range(&mut self) -> Option<(usize, usize)> {
        let size = self.stack_size();
        bottom_of(&mut self.gen, size).map(|bottom| (bottom, size))
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

    /// Runs the coroutine until it suspends, finishes or overflows its stack. `input` is what
    /// the body's pending [`suspend`] returns (a fresh body ignores it).
    pub(crate) fn resume(&mut self, input: u32) -> Resumed {
        // The crate re-raises a stack overflow (and only that: bodies catch their own panics)
        // as a panic in the resumer.
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| self.gen.raw_send(Some(input))));
        match outcome {
            Ok(_) if self.gen.is_done() => Resumed::Finished,
            Ok(output) => Resumed::Suspended(output.unwrap_or(0)),
            Err(payload) => {
                crate::sys::restore_stderr(); // the crate's handler wrote its line to /dev/null
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
            if self.stack & SAMPLE_RELEASED != 0 {
                let size = self.stack_size();
                restore_sample(&mut self.gen, size);
            }
            // SAFETY: `gen` is dropped exactly once, here, and is not used afterwards.
            unsafe { ManuallyDrop::drop(&mut self.gen) };
        }
        // A suspended coroutine is leaked on purpose: dropping it would unwind foreign frames.
    }
}

/// Values travel both ways through the switch itself, so neither side has to look up shared
/// state to learn why the other switched.
type Gen = Generator<'static, u32, u32>;

/// The lowest usable address of `gen`'s stack of `stack_size` bytes (a whole number of
/// pages). The crate keeps its own state at the top of the stack, within the top page, so the
/// generator's address rounded up to a page is the top.
fn stack_bottom(gen: Gen, stack_size: usize) -> (Gen, Option<usize>) {
    let raw = gen.into_raw();
    // SAFETY: `raw` came from `into_raw` on a generator of exactly this type and lifetime just
    // above, and is reclaimed once, here.
    let gen = unsafe { Gen::from_raw(raw) };
    let top = (raw as usize).next_multiple_of(crate::sys::page_size());
    (gen, top.checked_sub(stack_size))
}

/// Finds the usage sample at the bottom of a new stack and releases its page (see
/// [`SAMPLE_WORD`]). Nothing is released unless the sample is exactly where it must be.
fn release_sample(gen: Gen, stack_size: usize) -> (Gen, bool) {
    let page = crate::sys::page_size();
    if stack_size < 4 * page || !stack_size.is_multiple_of(page) {
        return (gen, false);
    }
    let (gen, bottom) = stack_bottom(gen, stack_size);
    let Some(bottom) = bottom else {
        return (gen, false);
    };
    let words = bottom as *const usize;
    // SAFETY: the crate maps a page-multiple stack as exactly `stack_size` usable bytes below
    // the top page's end, so `bottom` and the eight words above it are mapped and readable.
    let found = (0..SAMPLE_WORDS).all(|i| unsafe { words.add(i).read() } == SAMPLE_WORD);
    let released = found && crate::sys::discard_page(bottom).is_ok();
    (gen, released)
}

/// Writes the usage sample back so the crate's check on drop sees an intact stack bottom (a
/// thread that ran deep may have overwritten it without ever reaching the guard page).
fn restore_sample(gen: &mut ManuallyDrop<Gen>, stack_size: usize) {
    if let Some(bottom) = bottom_of(gen, stack_size) {
        let words = bottom as *mut usize;
        for i in 0..SAMPLE_WORDS {
            // SAFETY: release_sample found the sample at this address of this coroutine's
            // stack, which is still mapped and no longer runs (the coroutine finished).
            unsafe { words.add(i).write(SAMPLE_WORD) };
        }
    }
}

/// [`stack_bottom`] of a coroutine's generator, looked up in place.
fn bottom_of(gen: &mut ManuallyDrop<Gen>, stack_size: usize) -> Option<usize> {
    // SAFETY: `gen` is moved out for the lookup and written back before anything else can
    // observe it; the lookup does not panic.
    let taken = unsafe { ManuallyDrop::take(gen) };
    let (back, bottom) = stack_bottom(taken, stack_size);
    *gen = ManuallyDrop::new(back);
    bottom
}

/// Once: runs a throwaway coroutine so the crate installs its guard-page handler (it does at
/// a generator's first run), then wraps it (`sys::wrap_overflow_handler`: the crate's own line
/// goes through the hub's report instead of straight to stderr).
fn wrap_crate_handler() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let made = panic::catch_unwind(|| {
            let mut probe = Gn::<u32>::new_opt(4 * crate::sys::page_size(), || 0);
            let _ = probe.raw_send(None);
        });
        if made.is_ok() {
            crate::sys::wrap_overflow_handler();
        }
    });
}

fn run_body<F: FnOnce()>(body: HubLocal<F>) -> u32 {
    (body.0)();
    0 // a finished body's value is never read: `resume` reports `Finished`
}

fn is_stack_overflow(payload: &(dyn Any + Send)) -> bool {
    matches!(
        payload.downcast_ref::<generator::Error>(),
        Some(generator::Error::StackErr)
    )
}

/// Switches from the running coroutine back to whoever resumed it, handing it `output`;
/// returns the `input` of the resume that switches back.
#[inline(always)]
pub(crate) fn suspend(output: u32) -> u32 {
    #[allow(deprecated)]
    // the non-deprecated yield needs the body's `Scope`, which we don't have deep in a call
    generator::yield_::<u32, u32>(output).unwrap_or(0)
}

/// True inside a coroutine, false in the code that resumes them.
#[inline(always)]
pub(crate) fn in_coroutine() -> bool {
    generator::is_generator()
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
            l.set(suspend(7));
        })
        .unwrap();
        assert_eq!(co.resume(0), Resumed::Suspended(7));
        assert_eq!(log.get(), 1);
        assert_eq!(co.resume(2), Resumed::Finished);
        assert_eq!(log.get(), 2);
        let l = log.clone();
        co.rearm(move || l.set(3));
        assert_eq!(co.resume(0), Resumed::Finished);
        assert_eq!(log.get(), 3);
    }

    #[test]
    fn sample_page_released_and_restored_after_deep_use() {
        fn deep(n: usize) -> usize {
            let buf = std::hint::black_box([n as u8; 1024]);
            if n == 0 {
                return buf[0] as usize;
            }
            deep(n - 1) + buf[1] as usize
        }
        let mut co = Coroutine::new(128 * 1024, || {
            std::hint::black_box(deep(100)); // ~100 KiB: writes over the sample words
        })
        .unwrap();
        assert_ne!(
            co.stack & SAMPLE_RELEASED,
            0,
            "a fresh stack's sample page is released"
        );
        assert_eq!(co.resume(0), Resumed::Finished);
        drop(co); // the crate's drop check would report an overflow without the restore
    }

    /// The mapping of /proc/self/maps holding `addr`: (start, end, permissions).
    fn mapping_of(addr: usize) -> Option<(usize, usize, String)> {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        maps.lines().find_map(|line| {
            let mut fields = line.split_whitespace();
            let (start, end) = fields.next()?.split_once('-')?;
            let start = usize::from_str_radix(start, 16).ok()?;
            let end = usize::from_str_radix(end, 16).ok()?;
            let perms = fields.next()?.to_string();
            (start <= addr && addr < end).then_some((start, end, perms))
        })
    }

    #[test]
    fn stack_range_is_the_usable_stack_above_the_guard_page() {
        let size = 256 * 1024;
        let local = Rc::new(Cell::new(0usize));
        let l = local.clone();
        let mut co = Coroutine::new(size, move || {
            let here = std::hint::black_box(0u8);
            l.set(&here as *const u8 as usize);
            suspend(0);
        })
        .unwrap();
        assert_eq!(co.resume(0), Resumed::Suspended(0));
        let (bottom, len) = co.stack_range().expect("a stack range");
        assert_eq!(len, size);
        let here = local.get();
        assert!(
            bottom < here && here < bottom + len,
            "{here:#x} outside {bottom:#x}+{len:#x}"
        );
        let page = crate::sys::page_size();
        let (_, end, perms) = mapping_of(bottom).expect("the bottom is mapped");
        assert!(perms.starts_with("rw"), "stack mapping {perms}");
        assert!(end >= bottom + len, "the range ends past its mapping");
        let (_, _, guard) = mapping_of(bottom - 1).expect("the guard page is mapped");
        assert!(
            guard.starts_with("---"),
            "below the range: {guard}, not the guard page"
        );
        assert_eq!(mapping_of(bottom - page).map(|m| m.2), Some(guard));
        assert_eq!(
            co.stack_range(),
            Some((bottom, len)),
            "the lookup leaves the coroutine as it was"
        );
        assert_eq!(co.resume(0), Resumed::Finished);
        co.rearm(|| {});
        assert_eq!(
            co.stack_range(),
            Some((bottom, len)),
            "a re-armed stack is the same stack"
        );
        assert_eq!(co.resume(0), Resumed::Finished);
    }

    #[test]
    fn impossible_stack_is_enomem() {
        let err = Coroutine::new(1 << 46, || {}).err();
        assert_eq!(err, Some(Errno(libc::ENOMEM)));
    }
}
