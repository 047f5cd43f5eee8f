//! Synchronization between green threads: semaphores, events, channels and park/unpark.
//!
//! All are objects of the runtime's object table, behind generational handles, waited on in
//! FIFO order. Every wait honours the caller's deadline and kill like socket waits do; a zero
//! timeout never waits (EAGAIN); freeing an object wakes its waiters with EBADF. A waiter that timed out or was killed stays in its queue until it runs and removes
//! itself; wakers skip such stale entries (`Hub::is_waiting`).

mod channel;
mod event;
mod park;
mod semaphore;

pub use channel::{
    close as channel_close, free as channel_free, new as channel_new, recv, send,
    stat as channel_stat, try_recv, try_send, Capacity,
};
pub use event::{
    clear as event_clear, free as event_free, is_set as event_is_set, new as event_new,
    set as event_set, wait as event_wait,
};
pub use park::{park, unpark};
pub use semaphore::{
    acquire, free as semaphore_free, new as semaphore_new, new_bounded as semaphore_new_bounded,
    release, stat as semaphore_stat, try_acquire,
};

use std::time::{Duration, Instant};

use crate::error::{Errno, Result};
use crate::runtime::{self, Hub, Object, Sched, Wait, Waiter};

/// A per-call timeout as a deadline: `None` waits as long as needed.
fn deadline(timeout: Option<Duration>) -> Option<Instant> {
    timeout.map(|t| Instant::now() + t)
}

/// The sync object `id` of type `T`; EBADF for anything else.
pub(crate) fn get<T: Object>(h: &mut Hub, id: u64) -> Result<&mut T> {
    h.objects.get_mut::<T>(id).ok_or(Errno(libc::EBADF))
}

/// Starts a wait of the running thread on sync object `id` (a `what`), with a per-call
/// timeout: `None` waits as long as needed; zero never waits (EAGAIN), as a socket with a zero
/// timeout does.
pub(crate) fn begin(
    h: &mut Hub,
    what: &'static str,
    id: u64,
    timeout: Option<Duration>,
) -> Result<Waiter> {
    if timeout.is_some_and(|t| t.is_zero()) {
        return Err(Errno(libc::EAGAIN));
    }
    h.sched
        .begin_wait(Wait::internal(what, id), deadline(timeout))
}

/// Waits; if the wait ends in an error, `dequeue` takes the waiter's entry out of the object's
/// queue (the object may be gone by then).
pub(crate) fn finish(waiter: Waiter, dequeue: impl FnOnce(&mut Hub, Waiter)) -> Result<()> {
    let result = runtime::wait(waiter);
    if result.is_err() {
        runtime::with(|h| {
            dequeue(h, waiter);
            Ok(())
        })?;
    }
    result
}

/// The outcome of the part of an operation done under one hub borrow.
pub(crate) enum Step<T> {
    Done(T),
    Wait(Waiter),
}

/// How many entries of `queue` are still waiting.
pub(crate) fn live_count<'a>(s: &Sched, queue: impl Iterator<Item = &'a Waiter>) -> i64 {
    queue.filter(|w| s.is_waiting(**w)).count() as i64
}

/// The first entry of `queue` still waiting (stale entries are dropped on the way).
pub(crate) fn pop_live<T>(
    s: &Sched,
    queue: &mut std::collections::VecDeque<T>,
    waiter: impl Fn(&T) -> Waiter,
) -> Option<T> {
    while let Some(entry) = queue.pop_front() {
        if s.is_waiting(waiter(&entry)) {
            return Some(entry);
        }
    }
    None
}
