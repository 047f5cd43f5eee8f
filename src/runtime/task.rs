//! Task records: what the scheduler knows of a green thread (or of the root). Nothing here
//! names a resource: a task owns objects by handle, waits on something described by a
//! [`Wait`], and carries one opaque word for the switch hooks.

use std::time::Instant;

use super::coroutine::Coroutine;
use crate::error::{Errno, Result};

/// Why a waiting thread was woken.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Wake {
    Ready,
    TimedOut,
    Cancelled,
    Closed,
    Deadlock,
    /// What it waited on was shut down (a closed channel): EPIPE.
    Shut,
    /// Asked to stop what it waits for, without being killed (a serve loop told to stop).
    Interrupted,
}

impl Wake {
    /// What a resumed thread is handed through the switch: 0, or the errno its wait fails with.
    pub(crate) fn code(wake: Option<Wake>) -> u32 {
        match wake.map_or(Ok(()), Wake::into_result) {
            Ok(()) => 0,
            Err(Errno(e)) => e.unsigned_abs(),
        }
    }

    pub(crate) fn result_of(code: u32) -> Result<()> {
        match code {
            0 => Ok(()),
            e => Err(Errno(e as i32)),
        }
    }

    pub(crate) fn into_result(self) -> Result<()> {
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

/// One particular wait of one thread: in effect a waker. Waking an old `Waiter` (the thread
/// has since woken for another reason) wakes nothing.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Waiter {
    pub(crate) task: u64,
    pub(crate) seq: u64,
}

/// What a thread waits for, as the resource that makes it wait describes it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Wait {
    /// A short word for dumps: "read", "write", "sleep", "join", "park", ...
    pub(crate) what: &'static str,
    /// The handle of the object waited on, 0 for none.
    pub(crate) object: u64,
    /// Something outside the hub can end the wait (I/O readiness, another OS thread). The
    /// root is deadlocked when nothing runnable, external or timed is left.
    pub(crate) external: bool,
}

impl Wait {
    /// A wait only another green thread (or a deadline) can end.
    pub(crate) const fn internal(what: &'static str, object: u64) -> Wait {
        Wait {
            what,
            object,
            external: false,
        }
    }

    /// A wait that I/O or another OS thread can end.
    pub(crate) const fn external(what: &'static str, object: u64) -> Wait {
        Wait {
            what,
            object,
            external: true,
        }
    }

    pub(crate) const NONE: Wait = Wait::internal("", 0);
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum State {
    Runnable,
    Running,
    Blocked,
    Done,
}

pub(crate) struct Task {
    pub(crate) state: State,
    pub(crate) seq: u64,
    pub(crate) wake: Option<Wake>,
    /// What the thread waits for while `Blocked`.
    pub(crate) wait: Wait,
    /// The deadline of its wait, if it has one (a timer entry counts for it).
    pub(crate) until: Option<Instant>,
    /// When its wait began, in coarse milliseconds (`sys::coarse_ms`): for dumps.
    pub(crate) since_ms: u64,
    /// Its short id: a per-process counter from 1 (the root 0), what reports and dumps show.
    pub(crate) short: u64,
    pub(crate) killed: bool,
    pub(crate) detached: bool,
    pub(crate) name: Option<String>,
    /// Deadline stack; each entry is already the minimum of itself and the ones below.
    pub(crate) deadlines: Vec<Option<Instant>>,
    /// Objects this thread owns: closed when it ends. The root owns none: it never ends.
    pub(crate) owned: Vec<u64>,
    pub(crate) joiners: Vec<Waiter>,
    pub(crate) status: i32,
    /// A value handed over by a waker (a status to a joiner, an item to a receiver).
    pub(crate) value: i64,
    /// An opaque word the switch hooks are given when this thread switches in or dies
    /// (a binding's per-thread state).
    pub(crate) hook_word: usize,
    /// The poll round in which it last took its I/O turn (see `Sched::take_io_turn`).
    pub(crate) io_turn: u64,
    pub(crate) coroutine: Option<Coroutine>,
}

impl Task {
    pub(crate) fn new(short: u64, detached: bool, name: Option<String>) -> Task {
        Task {
            state: State::Runnable,
            seq: 0,
            wake: None,
            wait: Wait::NONE,
            until: None,
            since_ms: 0,
            short,
            killed: false,
            detached,
            name,
            deadlines: Vec::new(),
            owned: Vec::new(),
            joiners: Vec::new(),
            status: 0,
            value: 0,
            hook_word: 0,
            io_turn: 0,
            coroutine: None,
        }
    }

    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.deadlines.last().copied().flatten()
    }

    /// How reports and dumps name this thread (see [`label`]).
    pub(crate) fn label(&self) -> String {
        label(self.short, self.name.as_deref())
    }

    /// Forgets object `handle` (closed, or given to another thread).
    pub(crate) fn disown(&mut self, handle: u64) {
        if let Some(pos) = self.owned.iter().position(|&h| h == handle) {
            self.owned.swap_remove(pos);
        }
    }
}

/// How reports and dumps name a thread: by its short id (`gh_thread_id`) and its name.
pub(crate) fn label(short: u64, name: Option<&str>) -> String {
    match (short, name) {
        (0, _) => "the root (thread 0)".to_string(),
        (_, Some(name)) => format!("green thread {short} ({name})"),
        (_, None) => format!("green thread {short}"),
    }
}

/// The earlier of two optional deadlines (`None`: no deadline).
pub(crate) fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
