//! The scheduler's state: task records, the run queue, timers and the counts the deadlock rule
//! needs. Waits begin and end here: [`Sched::begin_wait`] hands out a [`Waiter`] that the
//! resource keeps wherever the wake-up will come from, and [`Sched::wake`] makes that thread
//! runnable again. The loop that runs threads is in `hub.rs`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::coroutine::Coroutine;
use super::log::Report;
use super::table::{Class, Table};
use super::task::{earliest, State, Task, Wait, Waiter, Wake};
use super::timer::Timers;
use super::watch::Watch;
use crate::error::{Errno, Result};

/// Id of the root: the program's own code, outside every green thread.
pub(crate) const ROOT: u64 = 0;

/// The last short id handed out (see `Task::short`): one counter for the process, so a short id
/// names one thread whatever hub it is on.
static SHORT_IDS: AtomicU64 = AtomicU64::new(0);

fn next_short_id() -> u64 {
    SHORT_IDS.fetch_add(1, Ordering::Relaxed) + 1
}

/// Finished stacks kept for reuse (each costs only its touched pages).
const STACK_POOL_MAX: usize = 1024;

pub(crate) struct Sched {
    pub(crate) tasks: Table<Task>,
    pub(crate) root: Task,
    pub(crate) current: u64,
    pub(crate) run_queue: VecDeque<u64>,
    /// Threads that gave up their turn to I/O: queued behind the threads the next poll wakes.
    pub(crate) behind_poll: Vec<u64>,
    /// Poll rounds so far (a round: the threads one poll made runnable, and those queued).
    pub(crate) round: u64,
    pub(crate) timers: Timers,
    pub(crate) timed_waiters: usize,
    pub(crate) external_waiters: usize,
    /// Threads that have not ended yet (ended but unjoined ones keep a record, not a place here).
    pub(crate) live: usize,
    /// Queue entries the loop takes before it polls again.
    pub(crate) batch_left: usize,
    pub(crate) root_waits_for_all: bool,
    /// Reports are being delivered: the loop is inside a log sink, which must not block.
    pub(crate) in_log: bool,
    pub(crate) stacks: Vec<Coroutine>,
    pub(crate) reports: Vec<Report>,
    /// What the block monitor sees of this hub; its switch counter is the hub's.
    pub(crate) watch: Arc<Watch>,
    /// Turns of I/O polling so far.
    pub(crate) polls: u64,
    /// Dump requests (signals) this hub has answered; a dump is due when they are behind.
    pub(crate) dumps_seen: u64,
}

impl Sched {
    pub(crate) fn new(hub_tag: u16) -> Sched {
        let mut root = Task::new(0, false, Some("root".to_string()));
        root.state = State::Running;
        Sched {
            tasks: Table::new(Class::Thread, hub_tag),
            root,
            current: ROOT,
            run_queue: VecDeque::new(),
            behind_poll: Vec::new(),
            round: 1,
            timers: Timers::default(),
            timed_waiters: 0,
            external_waiters: 0,
            live: 0,
            batch_left: 0,
            root_waits_for_all: false,
            in_log: false,
            stacks: Vec::new(),
            reports: Vec::new(),
            watch: super::watch::new_watch(),
            polls: 0,
            dumps_seen: crate::sys::dump_requests(),
        }
    }

    pub(crate) fn task(&self, id: u64) -> Option<&Task> {
        if id == ROOT {
            Some(&self.root)
        } else {
            self.tasks.get(id)
        }
    }

    pub(crate) fn task_mut(&mut self, id: u64) -> Option<&mut Task> {
        if id == ROOT {
            Some(&mut self.root)
        } else {
            self.tasks.get_mut(id)
        }
    }

    /// The usable range of green thread `id`'s stack (see `Coroutine::stack_range`); `None`
    /// for the root and while the thread runs (its coroutine is out of its record then).
    pub(crate) fn stack_range(&mut self, id: u64) -> Option<(usize, usize)> {
        self.tasks.get_mut(id)?.coroutine.as_mut()?.stack_range()
    }

    /// True for the root and for green threads that have not ended.
    pub(crate) fn is_alive(&self, id: u64) -> bool {
        self.task(id).is_some_and(|t| t.state != State::Done)
    }

    pub(crate) fn current_task(&mut self) -> &mut Task {
        let id = self.current;
        self.task_mut(id).expect("the running thread has a record")
    }

    /// Starts a wait of the running thread for `wait`. Fails at once if the thread was killed
    /// (ECANCELED) or its deadline (or `deadline`) has passed (ETIMEDOUT). The caller keeps the
    /// returned `Waiter` wherever the wake-up will come from, then calls `runtime::wait`.
    pub(crate) fn begin_wait(&mut self, wait: Wait, deadline: Option<Instant>) -> Result<Waiter> {
        if self.in_log {
            return Err(Errno(libc::EDEADLK)); // a log sink must not block: the loop is inside it
        }
        let id = self.current;
        let task = self.current_task();
        if task.killed {
            return Err(Errno(libc::ECANCELED));
        }
        let deadline = earliest(task.deadline(), deadline);
        if deadline.is_some_and(|at| at <= Instant::now()) {
            return Err(Errno(libc::ETIMEDOUT));
        }
        task.seq += 1;
        task.state = State::Blocked;
        task.wake = None;
        task.wait = wait;
        task.until = deadline;
        task.since_ms = crate::sys::coarse_ms();
        let waiter = Waiter {
            task: id,
            seq: task.seq,
        };
        if wait.external {
            self.external_waiters += 1;
        }
        if let Some(at) = deadline {
            self.timed_waiters += 1;
            self.timers.push(at, waiter);
        }
        Ok(waiter)
    }

    /// Wakes `waiter` if it is still waiting; returns whether it was.
    pub(crate) fn wake(&mut self, waiter: Waiter, why: Wake) -> bool {
        let Some(task) = self.task_mut(waiter.task) else {
            return false;
        };
        if task.state != State::Blocked || task.seq != waiter.seq {
            return false;
        }
        task.state = State::Runnable;
        task.wake = Some(why);
        let (external, timed) = (task.wait.external, task.until.is_some());
        task.wait = Wait::NONE;
        task.until = None;
        if external {
            self.external_waiters -= 1;
        }
        if timed {
            self.timed_waiters -= 1;
        }
        self.run_queue.push_back(waiter.task);
        true
    }

    /// Wakes every waiter of `waiters` that is still waiting, with `why`.
    pub(crate) fn wake_all(&mut self, waiters: impl IntoIterator<Item = Waiter>, why: Wake) {
        for waiter in waiters {
            self.wake(waiter, why);
        }
    }

    /// Wakes `waiter` handing it `value` (read by the woken thread from its record).
    pub(crate) fn wake_with(&mut self, waiter: Waiter, value: i64) -> bool {
        if !self.wake(waiter, Wake::Ready) {
            return false;
        }
        self.task_mut(waiter.task).expect("woken above").value = value;
        true
    }

    /// True while `waiter`'s wait has not ended (a queue entry of it is live).
    pub(crate) fn is_waiting(&self, waiter: Waiter) -> bool {
        self.task(waiter.task)
            .is_some_and(|t| t.state == State::Blocked && t.seq == waiter.seq)
    }

    /// The wait thread `id` is blocked in, if it is.
    pub(crate) fn waiting(&self, id: u64) -> Option<(Waiter, Wait)> {
        let task = self.task(id).filter(|t| t.state == State::Blocked)?;
        Some((
            Waiter {
                task: id,
                seq: task.seq,
            },
            task.wait,
        ))
    }

    /// Wakes whatever `id` is blocked in, with `why`.
    pub(crate) fn interrupt(&mut self, id: u64, why: Wake) {
        if let Some((waiter, _)) = self.waiting(id) {
            self.wake(waiter, why);
        }
    }

    /// Fair service: a green thread about to be served by a resource (a read that found
    /// data) takes its turn; false if it already had one in this poll round, in which case it
    /// must yield to I/O first ([`super::io::yield_to_io`]), so that every other thread ready
    /// in this round is served before any is served twice. The root is never held back (it
    /// yields only behind the queue, see `RootEntry::Yield`).
    pub(crate) fn take_io_turn(&mut self) -> bool {
        let round = self.round;
        if self.current == ROOT {
            return true;
        }
        let task = self.current_task();
        if task.io_turn == round {
            return false;
        }
        task.io_turn = round;
        true
    }

    /// Ends a poll round: the threads that yielded to I/O queue up behind the ones it woke.
    #[inline]
    pub(crate) fn next_round(&mut self) {
        self.round += 1;
        if !self.behind_poll.is_empty() {
            self.run_queue.extend(self.behind_poll.drain(..));
        }
    }

    /// Queues the root again at the back, behind every runnable thread (the root cannot be
    /// killed).
    pub(crate) fn requeue_root(&mut self) {
        self.root.state = State::Runnable;
        self.root.wake = None;
        self.run_queue.push_back(ROOT);
    }

    /// Why the root's wait ended (green threads get theirs through the switch).
    pub(crate) fn end_root_wait(&mut self) -> Result<()> {
        self.root.wake.take().map_or(Ok(()), Wake::into_result)
    }

    pub(crate) fn push_deadline(&mut self, after: Option<Duration>) {
        let task = self.current_task();
        let new = after.map(|d| Instant::now() + d);
        let effective = earliest(task.deadline(), new);
        task.deadlines.push(effective);
    }

    pub(crate) fn current_deadline(&mut self) -> Option<Instant> {
        self.current_task().deadline()
    }

    pub(crate) fn pop_deadline(&mut self) -> Result<()> {
        match self.current_task().deadlines.pop() {
            Some(_) => Ok(()),
            None => Err(Errno(libc::EINVAL)),
        }
    }

    /// Creates a green thread that runs `body` the next time the running thread blocks.
    pub(crate) fn spawn<F: FnOnce() + 'static>(
        &mut self,
        stack_size: usize,
        detached: bool,
        name: Option<String>,
        body: F,
    ) -> Result<u64> {
        let coroutine = match self
            .stacks
            .iter()
            .rposition(|c| c.stack_size() == stack_size)
        {
            Some(i) => {
                let mut co = self.stacks.swap_remove(i);
                co.rearm(body);
                co
            }
            None => Coroutine::new(stack_size, body)?,
        };
        let named = name.is_some();
        let mut task = Task::new(next_short_id(), detached, name);
        task.coroutine = Some(coroutine);
        // On failure the coroutine was armed but never run: dropping it is safe.
        let id = self.tasks.insert(task)?;
        self.live += 1;
        self.watch.set_threads(self.live);
        if named {
            self.watch
                .set_name(id, self.tasks.get(id).and_then(|t| t.name.as_deref()));
        }
        self.run_queue.push_back(id);
        Ok(id)
    }

    /// A dump was asked for (a signal) since this hub last wrote one.
    pub(crate) fn dump_due(&self) -> bool {
        crate::sys::dump_requests() != self.dumps_seen
    }

    /// Keeps a finished coroutine's stack for a later spawn.
    pub(crate) fn recycle(&mut self, co: Coroutine) {
        if self.stacks.len() < STACK_POOL_MAX {
            self.stacks.push(co); // finished: re-armed by a later spawn
        }
    }

    /// Registers the running thread as a joiner of `id`. Returns the status at once if `id`
    /// already ended (and frees its record).
    pub(crate) fn join_or_wait(&mut self, id: u64) -> Result<std::result::Result<i32, Waiter>> {
        if id == self.current {
            return Err(Errno(libc::EDEADLK));
        }
        let task = self.tasks.get(id).ok_or(Errno(libc::EBADF))?;
        if task.detached {
            return Err(Errno(libc::EINVAL));
        }
        if task.state == State::Done {
            let status = task.status;
            self.tasks.remove(id);
            return Ok(Ok(status));
        }
        let waiter = self.begin_wait(Wait::internal("join", id), None)?;
        self.tasks
            .get_mut(id)
            .expect("checked above")
            .joiners
            .push(waiter);
        Ok(Err(waiter))
    }

    pub(crate) fn forget_joiner(&mut self, id: u64, waiter: Waiter) {
        if let Some(task) = self.tasks.get_mut(id) {
            task.joiners.retain(|w| *w != waiter);
        }
    }

    pub(crate) fn kill(&mut self, id: u64) -> Result<()> {
        if id == ROOT {
            return Err(Errno(libc::EINVAL));
        }
        let task = self.tasks.get_mut(id).ok_or(Errno(libc::EBADF))?;
        if task.state == State::Done {
            return Ok(());
        }
        task.killed = true;
        self.interrupt(id, Wake::Cancelled);
        Ok(())
    }

    /// Wakes the threads whose deadline has passed. Inlined: the loop asks between every two
    /// batches, and usually no thread has a deadline.
    #[inline(always)]
    pub(crate) fn fire_timers(&mut self) {
        if self.timed_waiters > 0 {
            self.fire_expired();
        }
    }

    #[inline(never)]
    fn fire_expired(&mut self) {
        let now = Instant::now();
        while let Some(waiter) = self.timers.pop_expired(now) {
            self.wake(waiter, Wake::TimedOut);
        }
    }
}
