//! The hub: one per OS thread, created on first use. It owns the green threads, the run queue,
//! the timers, the mio poller and the socket table, and runs the scheduling loop.
//!
//! The loop runs inside the root's blocking calls: when the program's main code (the root, which
//! is not a coroutine) blocks, it runs the loop until it can go on; green threads that block
//! switch back to that loop. State lives in a thread-local `RefCell`; no borrow is held while a
//! green thread runs or while the root waits, so user code never sees a borrowed hub.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Events, Poll, Token};

use crate::coroutine::{self, Coroutine, Resumed};
use crate::error::{Errno, Result};
use crate::handle::{Kind, Table, HUB_TAG_MAX};
use crate::net::socket::{self, Socket};
use crate::pool::Pool;
use crate::sync::{Channel, Event, Semaphore};
use crate::tpool;

/// Id of the root: the program's own code, outside every green thread.
pub(crate) const ROOT: u64 = 0;
/// Status of a thread that ran into its guard page.
pub const STATUS_STACK_OVERFLOW: i32 = i32::MIN;
/// Status of a thread whose Rust body panicked.
pub const STATUS_PANIC: i32 = i32::MIN + 1;

/// Token of the cross-thread waker; socket tokens are handles, which never reach this value.
pub(crate) const WAKER_TOKEN: Token = Token(usize::MAX);
/// Finished stacks kept for reuse (each costs only its touched pages).
const STACK_POOL_MAX: usize = 1024;

/// Why a parked thread was woken.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Wake {
    Ready,
    TimedOut,
    Cancelled,
    Closed,
    Deadlock,
    /// A channel was closed: end of channel for receivers, EPIPE for senders.
    Shut,
    /// Asked to stop what it waits for, without being killed (a serve loop told to stop).
    Interrupted,
}

/// What a green thread asks of the loop when it switches to it.
const REQUEST_WAIT: u32 = 0; // its wait is registered: park it until woken
const REQUEST_YIELD: u32 = 1; // queue it again at the back

impl Wake {
    /// What a resumed thread is handed through the switch: 0, or the errno its wait fails with.
    fn code(wake: Option<Wake>) -> u32 {
        match wake.map_or(Ok(()), Wake::into_result) {
            Ok(()) => 0,
            Err(Errno(e)) => e.unsigned_abs(),
        }
    }

    fn result_of(code: u32) -> Result<()> {
        match code {
            0 => Ok(()),
            e => Err(Errno(e as i32)),
        }
    }

    fn into_result(self) -> Result<()> {
        match self {
            Wake::Ready => Ok(()),
            Wake::TimedOut => Err(Errno(libc::ETIMEDOUT)),
            Wake::Cancelled => Err(Errno(libc::ECANCELED)),
            Wake::Closed => Err(Errno(libc::EBADF)),
            Wake::Deadlock => Err(Errno(libc::EDEADLK)),
            Wake::Shut => Err(Errno(libc::EPIPE)),
            Wake::Interrupted => Err(Errno(libc::EINTR)),
        }
    }
}

/// One particular wait of one thread. A waker holding an old `Waiter` (the thread has since
/// woken for another reason) wakes nothing.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Waiter {
    pub(crate) task: u64,
    pub(crate) seq: u64,
}

/// What a thread waits for, for deadlock detection.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum WaitKind {
    /// Something outside the hub can end the wait: I/O readiness or another OS thread.
    External,
    /// Only another green thread (or a deadline) can end the wait.
    Internal,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    Runnable,
    Running,
    Blocked,
    Done,
}

pub(crate) struct Task {
    state: State,
    seq: u64,
    wake: Option<Wake>,
    external: bool,
    timed: bool,
    pub(crate) killed: bool,
    pub(crate) detached: bool,
    pub(crate) name: Option<String>,
    /// Deadline stack; each entry is already the minimum of itself and the ones below.
    deadlines: Vec<Option<Instant>>,
    /// Sockets this thread owns (closed when it ends). The root owns none: it never ends.
    pub(crate) owned: Vec<u64>,
    joiners: Vec<Waiter>,
    pub(crate) status: i32,
    /// A value handed over by a waker (a status to a joiner, an item to a receiver).
    pub(crate) value: i64,
    /// The wait of a thread parked in `park`, so `unpark` wakes only that kind of wait.
    pub(crate) parked: Option<Waiter>,
    /// An unpark that came while the thread was not parked: its next park returns it.
    pub(crate) unparked: Option<i64>,
    /// The green pool this thread counts against.
    pub(crate) pool: Option<u64>,
    /// The CPython thread state of a Python green thread (0 for others).
    pub(crate) py_state: usize,
    coroutine: Option<Coroutine>,
}

impl Task {
    fn new(detached: bool, name: Option<String>) -> Task {
        Task {
            state: State::Runnable,
            seq: 0,
            wake: None,
            external: false,
            timed: false,
            killed: false,
            detached,
            name,
            deadlines: Vec::new(),
            owned: Vec::new(),
            joiners: Vec::new(),
            status: 0,
            value: 0,
            parked: None,
            unparked: None,
            pool: None,
            py_state: 0,
            coroutine: None,
        }
    }

    fn deadline(&self) -> Option<Instant> {
        self.deadlines.last().copied().flatten()
    }
}

pub(crate) struct Hub {
    pub(crate) tasks: Table<Task>,
    root: Task,
    pub(crate) current: u64,
    run_queue: VecDeque<u64>,
    timers: crate::timer::Timers,
    timed_waiters: usize,
    external_waiters: usize,
    /// Threads that have not ended yet (ended but unjoined ones keep a record, not a place here).
    live: usize,
    /// Queue entries the loop takes before it polls again.
    batch_left: usize,
    root_waits_for_all: bool,
    in_log: bool,
    pub(crate) poll: Poll,
    events: Events,
    ready: Vec<(usize, bool, bool)>,
    pub(crate) sockets: Table<Socket>,
    pub(crate) semaphores: Table<Semaphore>,
    pub(crate) event_objects: Table<Event>,
    pub(crate) channels: Table<Channel>,
    pub(crate) pools: Table<Pool>,
    stacks: Vec<Coroutine>,
    reports: Vec<String>,
    pub(crate) completions: Arc<tpool::Completions>,
    /// The root's CPython thread state, when Python green threads are in use.
    pub(crate) py_root_state: usize,
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
    let created = Hub::new().map(Box::new);
    match created {
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
    crate::log::emit(&format!(
        "greenhub: no hub for this OS thread ({why}): its greenhub calls fail with {err}"
    ));
}

impl Hub {
    fn new() -> Result<Hub> {
        let poll = Poll::new()?;
        let completions = Arc::new(tpool::Completions::new(poll.registry(), WAKER_TOKEN)?);
        // Taken last, so a hub that could not be built uses up no tag.
        let tag = take_hub_tag()?;
        let mut root = Task::new(false, Some("root".to_string()));
        root.state = State::Running;
        Ok(Hub {
            tasks: Table::new(Kind::Thread, tag),
            root,
            current: ROOT,
            run_queue: VecDeque::new(),
            timers: Default::default(),
            timed_waiters: 0,
            external_waiters: 0,
            live: 0,
            batch_left: 0,
            root_waits_for_all: false,
            in_log: false,
            poll,
            events: Events::with_capacity(1024),
            ready: Vec::new(),
            sockets: Table::new(Kind::Socket, tag),
            semaphores: Table::new(Kind::Semaphore, tag),
            event_objects: Table::new(Kind::Event, tag),
            channels: Table::new(Kind::Channel, tag),
            pools: Table::new(Kind::Pool, tag),
            stacks: Vec::new(),
            reports: Vec::new(),
            completions,
            py_root_state: 0,
        })
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

    /// Starts a wait of the running thread. Fails at once if the thread was killed (ECANCELED)
    /// or its deadline (or `deadline`) has passed (ETIMEDOUT). The caller registers the returned
    /// `Waiter` wherever the wake-up will come from, then calls [`wait`].
    pub(crate) fn begin_wait(
        &mut self,
        kind: WaitKind,
        deadline: Option<Instant>,
    ) -> Result<Waiter> {
        if self.in_log {
            return Err(Errno(libc::EDEADLK)); // a log sink must not block: the loop is inside it
        }
        crate::python::check_gil_released()?;
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
        task.external = kind == WaitKind::External;
        task.timed = deadline.is_some();
        let waiter = Waiter {
            task: id,
            seq: task.seq,
        };
        if kind == WaitKind::External {
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
        let (external, timed) = (task.external, task.timed);
        task.external = false;
        task.timed = false;
        if external {
            self.external_waiters -= 1;
        }
        if timed {
            self.timed_waiters -= 1;
        }
        self.run_queue.push_back(waiter.task);
        true
    }

    /// True while `waiter`'s wait has not ended (a queue entry of it is live).
    pub(crate) fn is_waiting(&self, waiter: Waiter) -> bool {
        self.task(waiter.task)
            .is_some_and(|t| t.state == State::Blocked && t.seq == waiter.seq)
    }

    /// Wakes whatever `id` is blocked in, with `why`.
    pub(crate) fn interrupt(&mut self, id: u64, why: Wake) {
        if let Some(task) = self.task(id) {
            let waiter = Waiter {
                task: id,
                seq: task.seq,
            };
            self.wake(waiter, why);
        }
    }

    /// Queues the root again at the back, behind every runnable thread (the root cannot be
    /// killed).
    fn requeue_root(&mut self) -> Result<()> {
        crate::python::check_gil_released()?;
        self.root.state = State::Runnable;
        self.root.wake = None;
        self.run_queue.push_back(ROOT);
        Ok(())
    }

    /// Why the root's wait ended (green threads get theirs through the switch).
    fn end_root_wait(&mut self) -> Result<()> {
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
        let mut task = Task::new(detached, name);
        task.coroutine = Some(coroutine);
        // On failure the coroutine was armed but never run: dropping it is safe.
        let id = self.tasks.insert(task)?;
        self.live += 1;
        self.run_queue.push_back(id);
        Ok(id)
    }

    /// What the loop does next: run a queued thread, return to the root, or poll. Threads that
    /// were queued when the last poll ended run first; then I/O and timers get a turn, so a
    /// thread that keeps yielding cannot starve them.
    fn next_step(&mut self) -> LoopStep {
        loop {
            while self.batch_left > 0 {
                self.batch_left -= 1;
                match self.run_queue.pop_front() {
                    Some(ROOT) => {
                        if self.root.state == State::Runnable {
                            self.root.state = State::Running;
                            return LoopStep::Root;
                        }
                    }
                    Some(id) => {
                        if let Some((co, wake)) = self.begin_run(id) {
                            return LoopStep::Run(id, co, wake);
                        }
                    }
                    None => self.batch_left = 0,
                }
            }
            if self.run_queue.is_empty() || self.external_waiters > 0 {
                return LoopStep::Poll;
            }
            // Threads are runnable and nobody waits for I/O: epoll has nothing to say, so
            // only timers get their turn (a system call per batch would double a switch).
            self.fire_timers();
            self.batch_left = self.run_queue.len();
        }
    }

    /// Marks `id` running; gives its coroutine and the code of why it woke.
    fn begin_run(&mut self, id: u64) -> Option<(Coroutine, u32)> {
        let task = self.tasks.get_mut(id)?;
        if task.state != State::Runnable {
            return None;
        }
        task.state = State::Running;
        let co = task.coroutine.take()?;
        let wake = Wake::code(task.wake.take());
        crate::python::bind_gilstate(task.py_state);
        self.current = id;
        Some((co, wake))
    }

    /// Takes back a thread that stopped running and decides what runs next.
    fn end_run(&mut self, id: u64, co: Coroutine, outcome: Resumed) -> LoopStep {
        self.current = ROOT;
        match outcome {
            Resumed::Suspended(request) => {
                if let Some(task) = self.tasks.get_mut(id) {
                    task.coroutine = Some(co);
                    if request == REQUEST_YIELD {
                        task.state = State::Runnable;
                        // A killed thread's yield fails, after its turn like any other yield.
                        task.wake = task.killed.then_some(Wake::Cancelled);
                        self.run_queue.push_back(id);
                    }
                }
            }
            Resumed::Finished => {
                if self.stacks.len() < STACK_POOL_MAX {
                    self.stacks.push(co); // finished: re-armed by a later spawn
                }
                self.finish(id, None);
            }
            Resumed::Overflowed => {
                co.abandon();
                let py_state = self.tasks.get(id).map_or(0, |t| t.py_state);
                crate::python::release_gil_after_overflow(py_state);
                self.finish(id, Some("overflowed its stack"));
            }
        }
        crate::python::bind_gilstate(self.py_root_state);
        self.after_turn()
    }

    fn after_turn(&mut self) -> LoopStep {
        if self.reports.is_empty() {
            self.next_step()
        } else {
            LoopStep::Report
        }
    }

    /// A thread ended: close what it owns, report a failure, hand its status to its joiners.
    fn finish(&mut self, id: u64, fault: Option<&str>) {
        let Some(task) = self.tasks.get_mut(id) else {
            return;
        };
        if fault.is_some() {
            task.status = STATUS_STACK_OVERFLOW;
        }
        task.state = State::Done;
        self.live -= 1;
        let status = task.status;
        let owned = std::mem::take(&mut task.owned);
        let joiners = std::mem::take(&mut task.joiners);
        let detached = task.detached;
        let pool = task.pool;
        // Formatted only for a report: most threads end quietly, and spawn + exit is hot.
        let label = (fault.is_some() || status != 0).then(|| describe(id, task.name.as_deref()));
        for sock in owned {
            socket::close_in(self, sock);
        }
        if let (Some(label), Some(what)) = (&label, fault) {
            self.reports.push(format!(
                "greenhub: {label} {what}; it was stopped, the process goes on"
            ));
        } else if let Some(label) = &label {
            self.reports
                .push(format!("greenhub: {label} failed with status {status}"));
        }
        if let Some(pool) = pool {
            crate::pool::release_slot(self, pool);
        }
        let joined = !joiners.is_empty();
        for waiter in joiners {
            if let Some(joiner) = self.task_mut(waiter.task) {
                joiner.value = i64::from(status);
            }
            self.wake(waiter, Wake::Ready);
        }
        if detached || joined {
            self.tasks.remove(id);
        }
        if self.live == 0 && self.root_waits_for_all {
            self.interrupt(ROOT, Wake::Ready);
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
        let waiter = self.begin_wait(WaitKind::Internal, None)?;
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

    /// One turn of I/O and timers (waiting for events only when nothing is runnable), then
    /// decides what runs next.
    fn poll_once(&mut self) -> LoopStep {
        let timeout = if !self.run_queue.is_empty() {
            Some(Duration::ZERO)
        } else {
            if self.timed_waiters == 0 {
                self.timers.clear();
            }
            if self.timed_waiters == 0 && self.external_waiters == 0 {
                // Nothing outside the hub and no timer can ever make a thread runnable.
                self.interrupt(ROOT, Wake::Deadlock);
                self.batch_left = self.run_queue.len();
                return self.after_turn();
            }
            self.timers
                .next()
                .map(|at| at.saturating_duration_since(Instant::now()))
        };
        if let Err(err) = self.poll.poll(&mut self.events, timeout) {
            if err.kind() != std::io::ErrorKind::Interrupted {
                self.reports
                    .push(format!("greenhub: epoll_wait failed: {err}"));
            }
        }
        self.ready.clear();
        for event in self.events.iter() {
            let read = event.is_readable() || event.is_read_closed() || event.is_error();
            let write = event.is_writable() || event.is_write_closed() || event.is_error();
            self.ready.push((event.token().0, read, write));
        }
        for i in 0..self.ready.len() {
            let (token, read, write) = self.ready[i];
            if Token(token) == WAKER_TOKEN {
                for waiter in self.completions.take() {
                    self.wake(waiter, Wake::Ready);
                }
            } else {
                socket::on_ready(self, token as u64, read, write);
            }
        }
        self.fire_timers();
        self.batch_left = self.run_queue.len();
        self.after_turn()
    }

    /// Wakes the threads whose deadline has passed.
    fn fire_timers(&mut self) {
        if self.timed_waiters > 0 {
            let now = Instant::now();
            while let Some(waiter) = self.timers.pop_expired(now) {
                self.wake(waiter, Wake::TimedOut);
            }
        }
    }
}

/// The loop's next move, decided under one borrow of the hub.
enum LoopStep {
    Root,
    /// Resume this thread, handing it this wake code.
    Run(u64, Coroutine, u32),
    Poll,
    /// Deliver reports first (outside any borrow), then decide again.
    Report,
}

/// The earlier of two optional deadlines (`None`: no deadline).
fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn describe(id: u64, name: Option<&str>) -> String {
    match name {
        Some(name) => format!("green thread {id} ({name})"),
        None => format!("green thread {id}"),
    }
}

/// Delivers pending reports outside any hub borrow (a sink may call back into greenhub).
fn flush_reports() {
    let reports = with(|h| {
        if h.reports.is_empty() {
            return Ok(Vec::new());
        }
        h.in_log = true;
        Ok(std::mem::take(&mut h.reports))
    })
    .unwrap_or_default();
    if reports.is_empty() {
        return;
    }
    for line in &reports {
        crate::log::emit(line);
    }
    let _ = with(|h| {
        h.in_log = false;
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
/// picks the next.
fn run_until_root_runs(entry: RootEntry) {
    let mut step = with(|h| {
        if entry == RootEntry::Wait {
            h.batch_left = h.batch_left.max(h.run_queue.len());
        }
        Ok(h.next_step())
    });
    loop {
        step = match step {
            Ok(LoopStep::Root) | Err(_) => return,
            Ok(LoopStep::Run(id, mut co, wake)) => {
                let outcome = co.resume(wake);
                with(|h| Ok(h.end_run(id, co, outcome)))
            }
            Ok(LoopStep::Poll) => with(|h| Ok(h.poll_once())),
            Ok(LoopStep::Report) => {
                flush_reports();
                with(|h| Ok(h.next_step()))
            }
        };
    }
}

/// Suspends the running thread until `waiter` is woken; the root runs the loop meanwhile.
#[inline(always)]
pub(crate) fn wait(waiter: Waiter) -> Result<()> {
    if waiter.task == ROOT {
        run_until_root_runs(RootEntry::Wait);
        return with(|h| h.end_root_wait());
    }
    Wake::result_of(coroutine::suspend(REQUEST_WAIT))
}

/// Lets every other runnable thread run once. A green thread asks the loop to queue it again
/// as it switches, so a yield costs no lookup of its own.
#[inline(always)]
pub(crate) fn yield_now() -> Result<()> {
    if coroutine::in_coroutine() {
        crate::python::check_gil_released()?;
        return Wake::result_of(coroutine::suspend(REQUEST_YIELD));
    }
    with(|h| h.requeue_root())?;
    run_until_root_runs(RootEntry::Yield);
    Ok(())
}

/// Root only: runs until every green thread has ended.
pub(crate) fn run_all() -> Result<()> {
    let waiter = with(|h| {
        if h.current != ROOT {
            return Err(Errno(libc::EDEADLK)); // a green thread would wait for itself
        }
        if h.live == 0 {
            return Ok(None);
        }
        h.root_waits_for_all = true;
        h.begin_wait(WaitKind::Internal, None).map(Some)
    });
    let waiter = match waiter {
        Ok(Some(w)) => w,
        Ok(None) => return Ok(()),
        Err(e) => return Err(e),
    };
    let result = wait(waiter);
    let _ = with(|h| {
        h.root_waits_for_all = false;
        Ok(())
    });
    result
}
