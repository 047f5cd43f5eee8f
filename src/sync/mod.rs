//! Synchronization between green threads: semaphores, events, channels and park/unpark.
//!
//! All are hub objects behind generational handles, waited on in FIFO order. Every wait honours
//! the caller's deadline and kill like socket waits do; freeing an object wakes its waiters with
//! EBADF. A waiter that timed out or was killed stays in its queue until it runs and removes
//! itself; wakers skip such stale entries (`Hub::is_waiting`).

mod channel;
mod event;
mod park;
mod semaphore;

pub(crate) use channel::Channel;
pub use channel::{
    close as channel_close, free as channel_free, new as channel_new, recv, send,
    stat as channel_stat, try_recv, try_send, Capacity,
};
pub(crate) use event::Event;
pub use event::{
    clear as event_clear, free as event_free, is_set as event_is_set, new as event_new,
    set as event_set, wait as event_wait,
};
pub use park::{park, unpark};
pub(crate) use semaphore::Semaphore;
pub use semaphore::{
    acquire, free as semaphore_free, new as semaphore_new, new_bounded as semaphore_new_bounded,
    release, stat as semaphore_stat, try_acquire,
};

use std::time::{Duration, Instant};

use crate::error::Result;
use crate::hub::{self, Hub, WaitKind, Waiter};

/// A per-call timeout as a deadline: `None` waits as long as needed; zero fails at once.
pub(crate) fn deadline(timeout: Option<Duration>) -> Option<Instant> {
    timeout.map(|t| Instant::now() + t)
}

/// Starts a wait of the running thread for a sync object, with a per-call timeout.
pub(crate) fn begin(h: &mut Hub, timeout: Option<Duration>) -> Result<Waiter> {
    h.begin_wait(WaitKind::Internal, deadline(timeout))
}

/// Waits; if the wait ends in an error, `dequeue` takes the waiter's entry out of the object's
/// queue (the object may be gone by then).
pub(crate) fn finish(waiter: Waiter, dequeue: impl FnOnce(&mut Hub, Waiter)) -> Result<()> {
    let result = hub::wait(waiter);
    if result.is_err() {
        hub::with(|h| {
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
pub(crate) fn live_count<'a>(h: &Hub, queue: impl Iterator<Item = &'a Waiter>) -> i64 {
    queue.filter(|w| h.is_waiting(**w)).count() as i64
}
