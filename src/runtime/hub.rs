//! The hub: one per OS thread, created on first use. It holds the scheduler, the object table
//! and the I/O driver, and runs the scheduling loop.
//!
//! The loop runs inside the root's blocking calls: when the program's main code (the root,
//! which is not a coroutine) blocks, it runs the loop until it can go on; green threads that
//! block switch back to that loop. State lives in a thread-local `RefCell`; no borrow is held
//! while a green thread runs or while the root waits, so user code never sees a borrowed hub.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use super::coroutine::{self, Coroutine, Resumed};
use super::driver::{Driver, Polled};
use super::hooks;
use super::log::{Report, ReportKind};
use super::object::{Object, Objects};
use super::sched::{Sched, ROOT};
use super::table::HUB_TAG_MAX;
use super::task::{State, Wait, Waiter, Wake};
use crate::error::{Errno, Result};

/// Status of a thread that ran into its guard page.
pub const STATUS_STACK_OVERFLOW: i32 = i32::MIN;
/// Status of a thread whose Rust body panicked.
pub const STATUS_PANIC: i32 = i32::MIN + 1;

/// What a green thread asks of the loop when it switches to it.
const REQUEST_WAIT: u32 = 0; // its wait is registered: park it until woken
const REQUEST_YIELD: u32 = 1; // queue it again at the back
const REQUEST_YIELD_TO_IO: u32 = 2; // queue it behind the threads the next poll wakes

pub(crate) struct Hub {
    pub(crate) sched: Sched,
    pub(crate) objects: Objects,
    pub(crate) driver: Driver,
}

thread_local! {
    static HUB: RefCell<Option<Box<Hub>>> = const { RefCell::new(None) };
}

/// Hubs created so far in this process, which is also the last tag handed out.
static HUBS_CREATED: AtomicU16 = AtomicU16::new(0);

/// The tag of a new hub: unique for the life of the process, so a handle of a hub that is gone
/// can never be taken for one of a later hub. EMFILE once all [`HUB_TAG_MAX`] are used.
fn take_hub_tag() -> Result<u16> {
    HUBS_CREATED
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
            (n < HUB_TAG_MAX).then_some(n + 1)
        })
        .map(|n| n + 1)
        .map_err(|_| Errno(libc::EMFILE))
}

/// Runs `f` on this thread's hub, creating the hub on first use.
pub(crate) fn with<R>(f: impl FnOnce(&mut Hub) -> Result<R>) -> Result<R> {
    HUB.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            drop(slot);
            create_hub(cell)?;
            slot = cell.borrow_mut();
        }
        let hub = slot.as_mut().expect("created above");
        f(hub)
    })
}

/// Out of line: the hub is built once per OS thread, and building it inline would give every
/// caller of [`with`] a stack frame the size of a hub (green threads' stacks are small).
/// A failure is reported outside the borrow: a log sink may call back into greenhub.
#[cold]
#[inline(never)]
fn create_hub(cell: &RefCell<Option<Box<Hub>>>) -> Result<()> {
    match new_hub() {
        Ok(hub) => {
            *cell.borrow_mut() = Some(hub);
            Ok(())
        }
        Err(err) => {
            report_no_hub(err);
            Err(err)
        }
    }
}

fn new_hub() -> Result<Box<Hub>> {
    // The driver first and the tag last, so a hub that could not be built uses up no tag.
    let mut driver = Driver::new()?;
    let tag = take_hub_tag()?;
    driver.set_tag(tag);
    super::dump::signal_from_env();
    driver.watch_dump_signal();
    Ok(Box::new(Hub {
        sched: Sched::new(tag),
        objects: Objects::new(tag),
        driver,
    }))
}

/// Says once per OS thread why it has no hub (each of its calls fails with `err`).
#[cold]
fn report_no_hub(err: Errno) {
    thread_local! {
        static REPORTED: Cell<bool> = const { Cell::new(false) };
    }
    if REPORTED.with(|r| r.replace(true)) {
        return;
    }
    let why = if HUBS_CREATED.load(Ordering::Relaxed) >= HUB_TAG_MAX {
        "this process has created the most hubs it can: a hub's identity is never reused"
    } else {
        "it could not be created"
    };
    super::log::emit(&Report::message(format!(
        "greenhub: no hub for this OS thread ({why}): its greenhub calls fail with {err}"
    )));
}

impl Hub {
    /// Stores `object`, owned by the running thread: it is closed when that thread ends (the
    /// root never ends). Gives the object back when the table is full.
    pub(crate) fn adopt<T: Object>(&mut self, object: T) -> std::result::Result<u64, T> {
        let owner = self.sched.current;
        let id = self.objects.try_insert(object, owner)?;
        if owner != ROOT {
            self.sched.current_task().owned.push(id);
        }
        Ok(id)
    }

    /// Closes object `id` whatever its type (see `Objects::close`); false if there is none.
    pub(crate) fn close_object(&mut self, id: u64) -> bool {
        self.objects.close(id, &mut self.sched, &mut self.driver)
    }

    /// Closes object `id` if it is a `T`; EBADF otherwise (a handle of another type).
    pub(crate) fn close<T: Object>(&mut self, id: u64) -> Result<()> {
        if !self.objects.is::<T>(id) {
            return Err(Errno(libc::EBADF));
        }
        self.close_object(id);
        Ok(())
    }

    /// Hands object `id` to thread `to` (the root: nobody): it is closed when `to` ends.
    /// EBADF if `to` has already ended (it would never close it).
    pub(crate) fn give(&mut self, id: u64, to: u64) -> Result<()> {
        if !self.sched.is_alive(to) {
            return Err(Errno(libc::EBADF));
        }
        let from = self.objects.owner(id).ok_or(Errno(libc::EBADF))?;
        if from == to {
            return Ok(());
        }
        if from != ROOT {
            if let Some(task) = self.sched.task_mut(from) {
                task.disown(id);
            }
        }
        if to != ROOT {
            self.sched.task_mut(to).expect("alive").owned.push(id);
        }
        self.objects.set_owner(id, to);
        Ok(())
    }

    /// What the loop does next: run a queued thread, return to the root, or poll. Threads that
    /// were queued when the last poll ended run first; then I/O and timers get a turn, so a
    /// thread that keeps yielding cannot starve them.
    ///
    /// Inlined into the loop, like the batch refill between rounds (with two threads every
    /// other switch refills): out of line they cost a call, a frame and the step written to
    /// memory and read back on every switch. Only firing timers is a call.
    #[inline(always)]
    fn next_step(&mut self) -> LoopStep {
        loop {
            let s = &mut self.sched;
            if s.batch_left == 0 {
                if s.run_queue.is_empty() || s.external_waiters > 0 {
                    return LoopStep::Poll;
                }
                // Threads are runnable and nobody waits for I/O: epoll has nothing to say, so
                // only timers get their turn (a system call per batch would double a switch).
                s.fire_timers();
                if s.dump_due() {
                    return LoopStep::Report;
                }
                s.next_round();
                s.batch_left = s.run_queue.len();
            }
            s.batch_left -= 1;
            match s.run_queue.pop_front() {
                Some(ROOT) => {
                    if s.root.state == State::Runnable {
                        s.root.state = State::Running;
                        let word = s.root.hook_word;
                        s.watch.switched(ROOT, 0, word);
                        return LoopStep::Root;
                    }
                }
                Some(id) => {
                    if let Some((co, wake)) = self.begin_run(id) {
                        return LoopStep::Run(id, co, wake);
                    }
                }
                None => s.batch_left = 0,
            }
        }
    }

    /// Marks `id` running; gives its coroutine and the code of why it woke.
    #[inline(always)]
    fn begin_run(&mut self, id: u64) -> Option<(Coroutine, u32)> {
        let task = self.sched.tasks.get_mut(id)?;
        if task.state != State::Runnable {
            return None;
        }
        task.state = State::Running;
        let co = task.coroutine.take()?;
        let wake = Wake::code(task.wake.take());
        hooks::enter(task.hook_word);
        self.sched.watch.switched(id, task.short, task.hook_word);
        self.sched.current = id;
        Some((co, wake))
    }

    /// Takes back a thread that stopped running and decides what runs next. Inlined into the
    /// loop for a thread that suspended (every switch); a thread's end is out of line.
    #[inline(always)]
    fn end_run(&mut self, id: u64, co: Coroutine, outcome: Resumed) -> LoopStep {
        self.sched.current = ROOT;
        match outcome {
            Resumed::Suspended(request) => {
                if let Some(task) = self.sched.tasks.get_mut(id) {
                    task.coroutine = Some(co);
                    if request != REQUEST_WAIT {
                        task.state = State::Runnable;
                        // A killed thread's yield fails, after its turn like any other yield.
                        task.wake = task.killed.then_some(Wake::Cancelled);
                        if request == REQUEST_YIELD_TO_IO {
                            self.sched.behind_poll.push(id);
                        } else {
                            self.sched.run_queue.push_back(id);
                        }
                    }
                }
            }
            ended => self.ended(id, co, ended),
        }
        hooks::enter(self.sched.root.hook_word);
        self.after_turn()
    }

    /// A thread's body returned or overflowed its stack.
    #[cold]
    #[inline(never)]
    fn ended(&mut self, id: u64, co: Coroutine, outcome: Resumed) {
        if outcome == Resumed::Finished {
            self.sched.recycle(co);
            self.finish(id, false);
        } else {
            co.abandon();
            let word = self.sched.tasks.get(id).map_or(0, |t| t.hook_word);
            hooks::overflowed(word);
            self.finish(id, true);
        }
    }

    #[inline(always)]
    fn after_turn(&mut self) -> LoopStep {
        if self.sched.reports.is_empty() && !self.sched.dump_due() {
            self.next_step()
        } else {
            LoopStep::Report
        }
    }

    /// A thread ended: close what it owns, report a failure, hand its status to its joiners.
    fn finish(&mut self, id: u64, overflowed: bool) {
        let Some(task) = self.sched.tasks.get_mut(id) else {
            return;
        };
        if overflowed {
            task.status = STATUS_STACK_OVERFLOW;
        }
        task.state = State::Done;
        let status = task.status;
        let owned = std::mem::take(&mut task.owned);
        let joiners = std::mem::take(&mut task.joiners);
        let detached = task.detached;
        // Formatted only for a report: most threads end quietly, and spawn + exit is hot.
        if task.name.is_some() {
            self.sched.watch.set_name(id, None);
        }
        let report = (overflowed || (status != 0 && status != STATUS_PANIC)).then(|| {
            let label = task.label();
            let (kind, text) = if overflowed {
                let text = format!(
                    "greenhub: {label} overflowed its stack; it was stopped, the process goes on"
                );
                (ReportKind::StackOverflow, text)
            } else {
                let text = format!("greenhub: {label} failed with status {status}");
                (ReportKind::Failed, text)
            };
            Report {
                kind,
                thread: id,
                status,
                text,
            }
        });
        self.sched.live -= 1;
        self.sched.watch.set_threads(self.sched.live);
        for object in owned {
            self.close_object(object);
        }
        self.sched.reports.extend(report);
        let joined = !joiners.is_empty();
        for waiter in joiners {
            self.sched.wake_with(waiter, i64::from(status));
        }
        if detached || joined {
            self.sched.tasks.remove(id);
        }
        if self.sched.live == 0 && self.sched.root_waits_for_all {
            self.sched.interrupt(ROOT, Wake::Ready);
        }
    }

    /// One turn of I/O and timers (waiting for events only when nothing is runnable), then
    /// decides what runs next.
    fn poll_once(&mut self) -> LoopStep {
        let s = &mut self.sched;
        let timeout = if !s.run_queue.is_empty() || !s.behind_poll.is_empty() {
            Some(Duration::ZERO)
        } else {
            if s.timed_waiters == 0 {
                s.timers.clear();
            }
            if s.timed_waiters == 0 && s.external_waiters == 0 {
                // Nothing outside the hub and no timer can ever make a thread runnable.
                s.interrupt(ROOT, Wake::Deadlock);
                s.batch_left = s.run_queue.len();
                return self.after_turn();
            }
            s.timers
                .next()
                .map(|at| at.saturating_duration_since(Instant::now()))
        };
        s.polls += 1;
        s.watch.set_idle(timeout != Some(Duration::ZERO));
        self.driver.poll(timeout, |polled| match polled {
            Polled::Woken(waiter) => {
                s.wake(waiter, Wake::Ready);
            }
            Polled::Failed(err) => s.reports.push(Report::message(format!(
                "greenhub: epoll_wait failed: {err}"
            ))),
        });
        s.watch.set_idle(false);
        s.fire_timers();
        s.next_round();
        s.batch_left = s.run_queue.len();
        self.after_turn()
    }
}

/// The loop's next move, decided under one borrow of the hub.
enum LoopStep {
    Root,
    /// Resume this thread, handing it this wake code.
    Run(u64, Coroutine, u32),
    Poll,
    /// Deliver reports (and a dump that was asked for) first, outside any borrow, then
    /// decide again.
    Report,
}

/// Delivers pending reports outside any hub borrow (a sink may call back into greenhub), then
/// writes the dump a signal asked for, if any, to stderr.
fn flush_reports() {
    deliver_reports();
    let due = with(|h| {
        let seen = crate::sys::dump_requests();
        let due = seen != h.sched.dumps_seen;
        h.sched.dumps_seen = seen;
        Ok(due)
    });
    if due == Ok(true) {
        if let Ok(text) = dump_text() {
            let _ = crate::sys::write_all(libc::STDERR_FILENO, text.as_bytes());
        }
    }
}

/// The dump of this OS thread's hub (see `dump`): gathered under one borrow, the binding's
/// stacks added outside it (the binding may take its interpreter's lock).
pub(crate) fn dump_text() -> Result<String> {
    let gathered = with(|h| Ok(super::dump::gather(&h.sched, &h.objects)))?;
    Ok(super::dump::finish(gathered))
}

fn deliver_reports() {
    let reports = with(|h| {
        if h.sched.reports.is_empty() {
            return Ok(Vec::new());
        }
        h.sched.in_log = true;
        Ok(std::mem::take(&mut h.sched.reports))
    })
    .unwrap_or_default();
    if reports.is_empty() {
        return;
    }
    for report in &reports {
        super::log::emit(report);
    }
    let _ = with(|h| {
        h.sched.in_log = false;
        Ok(())
    });
}

/// How the root entered the loop.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RootEntry {
    /// It waits: whatever is queued runs before the first poll (spawned threads start without
    /// a system call first).
    Wait,
    /// It yielded and is queued at the back: like a green thread's yield, it is outside the
    /// current batch, so timers fire and I/O is polled (when anything waits for it) before it
    /// runs again. Taking it into the batch would let a root looping on yield run forever
    /// without either.
    Yield,
}

/// The scheduling loop, run by the root while it waits or yields. Returns when the root is
/// runnable. One borrow of the hub per switch: it takes back the thread that stopped and
/// picks the next. The hub exists (the first step is taken through [`with`]) and is never
/// removed while its thread runs, so the loop looks up the thread-local once, not per switch.
fn run_until_root_runs(entry: RootEntry) {
    let first = with(|h| {
        if entry == RootEntry::Wait {
            h.sched.batch_left = h.sched.batch_left.max(h.sched.run_queue.len());
        }
        Ok(h.next_step())
    });
    let Ok(mut step) = first else {
        return;
    };
    HUB.with(|cell| loop {
        step = match step {
            LoopStep::Root => return,
            LoopStep::Run(id, mut co, wake) => {
                let outcome = co.resume(wake);
                on_hub(cell, |h| h.end_run(id, co, outcome))
            }
            LoopStep::Poll => on_hub(cell, Hub::poll_once),
            LoopStep::Report => {
                flush_reports();
                on_hub(cell, Hub::next_step)
            }
        };
    });
}

/// Runs one step of the loop on the hub in `cell`, which the loop found there.
#[inline(always)]
fn on_hub(cell: &RefCell<Option<Box<Hub>>>, f: impl FnOnce(&mut Hub) -> LoopStep) -> LoopStep {
    match cell.borrow_mut().as_mut() {
        Some(hub) => f(hub),
        None => LoopStep::Root, // not reached: a hub is never removed from its thread
    }
}

/// Suspends the running thread until `waiter` is woken; the root runs the loop meanwhile.
/// (Every switch away of the running thread, here and in the yields below, goes through
/// `hooks::around_switch`: the binding's state is set aside before and taken back when the
/// thread runs again, after the loop has called `hooks::enter` for it.)
#[inline(always)]
pub(crate) fn wait(waiter: Waiter) -> Result<()> {
    if waiter.task == ROOT {
        hooks::around_switch(|| run_until_root_runs(RootEntry::Wait));
        return with(|h| h.sched.end_root_wait());
    }
    Wake::result_of(hooks::around_switch(|| coroutine::suspend(REQUEST_WAIT)))
}

/// Lets every other runnable thread run once. A green thread asks the loop to queue it again
/// as it switches, so a yield costs no lookup of its own.
#[inline(always)]
pub(crate) fn yield_now() -> Result<()> {
    if coroutine::in_coroutine() {
        return Wake::result_of(hooks::around_switch(|| coroutine::suspend(REQUEST_YIELD)));
    }
    with(|h| {
        h.sched.requeue_root();
        Ok(())
    })?;
    hooks::around_switch(|| run_until_root_runs(RootEntry::Yield));
    Ok(())
}

/// Fair service (see `Sched::take_io_turn`): queues the running green thread behind the
/// threads the next poll wakes, whose round gives it its next turn. The root is never held
/// back (`take_io_turn` never asks it to yield; if asked, it goes on at once).
pub(crate) fn yield_to_io() -> Result<()> {
    if !coroutine::in_coroutine() {
        return Ok(());
    }
    Wake::result_of(hooks::around_switch(|| {
        coroutine::suspend(REQUEST_YIELD_TO_IO)
    }))
}

/// Root only: runs until every green thread has ended.
pub(crate) fn run_all() -> Result<()> {
    let waiter = with(|h| {
        if h.sched.current != ROOT {
            return Err(Errno(libc::EDEADLK)); // a green thread would wait for itself
        }
        if h.sched.live == 0 {
            return Ok(None);
        }
        h.sched.root_waits_for_all = true;
        h.sched.begin_wait(Wait::internal("run", 0), None).map(Some)
    });
    let waiter = match waiter {
        Ok(Some(w)) => w,
        Ok(None) => return Ok(()),
        Err(e) => return Err(e),
    };
    let result = wait(waiter);
    let _ = with(|h| {
        h.sched.root_waits_for_all = false;
        Ok(())
    });
    result
}
