//! Green threads: spawn, join, kill, exit, sleep, yield, names, deadlines, stack size.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::hub::{self, STATUS_PANIC};
use super::log::{Report, ReportKind};
use super::sched::ROOT;
use super::task::{Wait, Wake};
use crate::error::{Errno, Result};

/// A green thread id; 0 is the root (the program's own code).
pub type ThreadId = u64;

/// Hubs (one per OS thread that uses greenhub) a process can create in its life: a hub's
/// identity, part of every handle, is never reused.
pub const HUBS_MAX: u16 = super::table::HUB_TAG_MAX;

/// Longest name kept for a thread, in bytes.
pub const NAME_MAX: usize = 31;
/// Smallest stack a green thread may have.
pub const MIN_STACK_SIZE: usize = 16 * 1024;
const DEFAULT_STACK_SIZE: usize = 128 * 1024;

/// How to start a green thread.
#[derive(Default, Clone, Debug)]
pub struct SpawnOptions {
    /// Stack size in bytes; `None` uses [`default_stack_size`].
    pub stack_size: Option<usize>,
    /// A name for reports (at most [`NAME_MAX`] bytes kept).
    pub name: Option<String>,
    /// An object (a socket) handed to the new thread: it owns it and it is closed when the
    /// thread ends.
    pub socket: Option<u64>,
    /// A detached thread cannot be joined; its record goes away when it ends.
    pub detached: bool,
}

/// Payload of the unwind that [`exit`] starts; caught at the bottom of the thread.
struct ExitUnwind(i32);

/// Starts a joinable green thread running `f`; it first runs when the caller blocks or yields.
pub fn spawn(f: impl FnOnce() -> i32 + 'static) -> Result<ThreadId> {
    spawn_with(SpawnOptions::default(), f)
}

/// Starts a detached green thread (fire and forget).
pub fn spawn_n(f: impl FnOnce() -> i32 + 'static) -> Result<ThreadId> {
    let opts = SpawnOptions {
        detached: true,
        ..SpawnOptions::default()
    };
    spawn_with(opts, f)
}

/// Starts a green thread with `opts`. Fails with ENOMEM when no stack can be mapped.
pub fn spawn_with(opts: SpawnOptions, f: impl FnOnce() -> i32 + 'static) -> Result<ThreadId> {
    let stack = match opts.stack_size {
        Some(size) => checked_stack_size(size)?,
        None => default_stack_size(),
    };
    let name = opts.name.map(|n| name_kept(&n).to_string());
    let body = move || {
        let status = match panic::catch_unwind(AssertUnwindSafe(f)) {
            Ok(status) => status,
            Err(payload) => match payload.downcast::<ExitUnwind>() {
                Ok(exit) => exit.0,
                Err(payload) => {
                    report_panic(&*payload);
                    STATUS_PANIC
                }
            },
        };
        let _ = hub::with(|h| {
            h.sched.current_task().status = status;
            Ok(())
        });
    };
    hub::with(|h| {
        if let Some(object) = opts.socket {
            h.objects.owner(object).ok_or(Errno(libc::EBADF))?;
        }
        let id = h.sched.spawn(stack, opts.detached, name, body)?;
        if let Some(object) = opts.socket {
            h.give(object, id)?;
        }
        Ok(id)
    })
}

fn report_panic(payload: &(dyn std::any::Any + Send)) {
    let message = panic_message(payload);
    let thread = current();
    let label = hub::with(|h| Ok(h.sched.current_task().label()))
        .unwrap_or_else(|_| "a green thread".to_string());
    crate::runtime::log::emit(&Report {
        kind: ReportKind::Panicked,
        thread,
        status: STATUS_PANIC,
        text: format!("greenhub: {label} panicked: {message}"),
    });
}

/// The usable range of green thread `id`'s stack, (lowest address, size), while it is not
/// running; `None` for the root.
pub(crate) fn stack_range(id: ThreadId) -> Option<(usize, usize)> {
    hub::with(|h| Ok(h.sched.stack_range(id))).ok().flatten()
}

/// Sets the opaque word the switch hooks are given for thread `id` (0: the root).
pub(crate) fn set_hook_word(id: ThreadId, word: usize) -> Result<()> {
    hub::with(|h| {
        h.sched.task_mut(id).ok_or(Errno(libc::EBADF))?.hook_word = word;
        if id == h.sched.current {
            let short = h.sched.current_task().short;
            h.sched.watch.switched(id, short, word); // the block monitor reads it
        }
        Ok(())
    })
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// The part of `name` a thread keeps: at most [`NAME_MAX`] bytes, cut on a char boundary.
pub fn name_kept(name: &str) -> &str {
    let mut end = name.len().min(NAME_MAX);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

/// Waits for thread `id` to end and returns its status. A thread can be joined once; after
/// that its id is stale (EBADF). Detached threads: EINVAL. Itself: EDEADLK.
pub fn join(id: ThreadId) -> Result<i32> {
    let waiter = match hub::with(|h| h.sched.join_or_wait(id))? {
        Ok(status) => return Ok(status),
        Err(waiter) => waiter,
    };
    match hub::wait(waiter) {
        Ok(()) => hub::with(|h| Ok(h.sched.current_task().value as i32)),
        Err(e) => {
            hub::with(|h| {
                h.sched.forget_joiner(id, waiter);
                Ok(())
            })?;
            Err(e)
        }
    }
}

/// Cancels thread `id` cooperatively: its pending and later blocking calls fail with ECANCELED.
pub fn kill(id: ThreadId) -> Result<()> {
    hub::with(|h| h.sched.kill(id))
}

/// Makes the blocking call thread `id` (0: the root) is waiting in fail with EINTR, once; a
/// thread that is not waiting is not affected. For bindings that raise into a thread.
pub fn interrupt(id: ThreadId) -> Result<()> {
    hub::with(|h| {
        if !h.sched.is_alive(id) {
            return Err(Errno(libc::EBADF));
        }
        h.sched.interrupt(id, Wake::Interrupted);
        Ok(())
    })
}

/// Ends the calling green thread with `status` at once. Everything between the thread's entry
/// and this call is unwound; Rust destructors run. In the root it returns EPERM.
pub fn exit(status: i32) -> Errno {
    if current() == ROOT {
        return Errno(libc::EPERM);
    }
    panic::resume_unwind(Box::new(ExitUnwind(status)))
}

/// The running green thread, 0 in the root.
pub fn current() -> ThreadId {
    hub::with(|h| Ok(h.sched.current)).unwrap_or(ROOT)
}

/// Sleeps for `d`; zero just yields. Fails with ECANCELED (killed) or ETIMEDOUT (deadline).
pub fn sleep(d: Duration) -> Result<()> {
    if d.is_zero() {
        return yield_now();
    }
    let end = Instant::now() + d;
    // ETIMEDOUT from the sleep's own end (even one that passed before it could park) is success;
    // only the thread's deadline makes it an error.
    let sleeping = hub::with(|h| h.sched.begin_wait(Wait::internal("sleep", 0), Some(end)));
    match sleeping.and_then(hub::wait) {
        Err(Errno(libc::ETIMEDOUT)) if !deadline_passed()? => Ok(()),
        other => other,
    }
}

/// True if the thread's own deadline (not a sleep's end) has passed.
fn deadline_passed() -> Result<bool> {
    hub::with(|h| {
        Ok(h.sched
            .current_deadline()
            .is_some_and(|at| at <= Instant::now()))
    })
}

/// Lets every other runnable green thread run once. Fails with ECANCELED if killed.
#[inline(always)]
pub fn yield_now() -> Result<()> {
    hub::yield_now()
}

pub fn set_name(id: ThreadId, name: &str) -> Result<()> {
    hub::with(|h| {
        let name = name_kept(name).to_string();
        h.sched.task_mut(id).ok_or(Errno(libc::EBADF))?.name = Some(name.clone());
        h.sched.watch.set_name(id, Some(&name));
        Ok(())
    })
}

/// The short id of thread `id`: a per-process counter from 1 (the root 0), the number reports
/// and dumps show. EBADF for an unknown thread.
pub fn short_id(id: ThreadId) -> Result<u64> {
    hub::with(|h| Ok(h.sched.task(id).ok_or(Errno(libc::EBADF))?.short))
}

pub fn name(id: ThreadId) -> Result<Option<String>> {
    hub::with(|h| Ok(h.sched.task(id).ok_or(Errno(libc::EBADF))?.name.clone()))
}

/// Root only: runs the hub until every green thread has ended (EDEADLK if they never can).
pub fn run() -> Result<()> {
    hub::run_all()
}

static STACK_SIZE: AtomicUsize = AtomicUsize::new(0);
static STACK_SIZE_FROM_ENV: OnceLock<usize> = OnceLock::new();

/// Default stack size of later spawns: set by [`set_default_stack_size`], else
/// `GREENHUB_STACK_SIZE` (bytes, `k`/`m` suffixes allowed), else 128 KiB.
pub fn default_stack_size() -> usize {
    match STACK_SIZE.load(Ordering::Relaxed) {
        0 => *STACK_SIZE_FROM_ENV.get_or_init(|| {
            std::env::var("GREENHUB_STACK_SIZE")
                .ok()
                .and_then(|v| parse_size(&v))
                .and_then(|n| checked_stack_size(n).ok())
                .unwrap_or(DEFAULT_STACK_SIZE)
        }),
        n => n,
    }
}

pub fn set_default_stack_size(bytes: usize) -> Result<()> {
    STACK_SIZE.store(checked_stack_size(bytes)?, Ordering::Relaxed);
    Ok(())
}

fn checked_stack_size(bytes: usize) -> Result<usize> {
    if bytes < MIN_STACK_SIZE {
        return Err(Errno(libc::EINVAL));
    }
    let page = crate::sys::page_size();
    bytes
        .checked_next_multiple_of(page)
        .ok_or(Errno(libc::ENOMEM))
}

fn parse_size(text: &str) -> Option<usize> {
    let text = text.trim();
    let (digits, unit) = match text.char_indices().last()? {
        (i, 'k' | 'K') => (&text[..i], 1024),
        (i, 'm' | 'M') => (&text[..i], 1024 * 1024),
        _ => (text, 1),
    };
    digits.trim().parse::<usize>().ok()?.checked_mul(unit)
}

/// Starts a deadline scope for the calling thread: a blocking call after `after` fails with
/// ETIMEDOUT. Scopes nest (the earliest applies); `None` opens a scope without a deadline.
pub fn deadline_push(after: Option<Duration>) -> Result<()> {
    hub::with(|h| {
        h.sched.push_deadline(after);
        Ok(())
    })
}

/// Ends the innermost deadline scope (EINVAL if there is none).
pub fn deadline_pop() -> Result<()> {
    hub::with(|h| h.sched.pop_deadline())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("65536"), Some(65536));
        assert_eq!(parse_size("64k"), Some(65536));
        assert_eq!(parse_size("1M"), Some(1 << 20));
        assert_eq!(parse_size("x"), None);
        assert_eq!(checked_stack_size(1), Err(Errno(libc::EINVAL)));
    }

    #[test]
    fn names_are_cut_on_char_boundaries() {
        assert_eq!(name_kept("short"), "short");
        let long = "é".repeat(20);
        let cut = name_kept(&long);
        assert!(cut.len() <= NAME_MAX && long.starts_with(cut));
    }
}
