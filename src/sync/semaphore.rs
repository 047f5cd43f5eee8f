//! Counting and bounded semaphores with FIFO hand-off: a release goes straight to the first
//! waiter, so a newcomer can never overtake a thread that was already waiting.

use std::collections::VecDeque;
use std::time::Duration;

use super::{begin, finish, get, live_count, pop_live, Step};
use crate::error::{Errno, Result};
use crate::runtime::{self, Cx, Object, Waiter, Wake};

pub(crate) struct Semaphore {
    count: i64,
    /// Releasing past this is EOVERFLOW: the initial value of a bounded semaphore, `i64::MAX`
    /// (what the count can hold) for a counting one.
    limit: i64,
    waiters: VecDeque<Waiter>,
}

impl Object for Semaphore {
    fn kind(&self) -> &'static str {
        "semaphore"
    }

    fn close(self: Box<Self>, cx: &mut Cx<'_>) {
        cx.sched.wake_all(self.waiters, Wake::Closed);
    }
}

fn create(initial: i64, limit: i64) -> Result<u64> {
    if initial < 0 {
        return Err(Errno(libc::EINVAL));
    }
    runtime::with(|h| {
        h.objects.insert(Semaphore {
            count: initial,
            limit,
            waiters: VecDeque::new(),
        })
    })
}

/// A counting semaphore with `initial` permits (EINVAL if negative).
pub fn new(initial: i64) -> Result<u64> {
    create(initial, i64::MAX)
}

/// A bounded semaphore: releasing it past `initial` permits fails with EOVERFLOW.
pub fn new_bounded(initial: i64) -> Result<u64> {
    create(initial, initial)
}

/// Takes a permit, waiting (FIFO) up to `timeout` (`None`: as long as needed).
pub fn acquire(id: u64, timeout: Option<Duration>) -> Result<()> {
    let step = runtime::with(|h| {
        let sem = get::<Semaphore>(h, id)?;
        if sem.count > 0 {
            sem.count -= 1;
            return Ok(Step::Done(()));
        }
        let waiter = begin(h, "semaphore", id, timeout)?;
        get::<Semaphore>(h, id)?.waiters.push_back(waiter);
        Ok(Step::Wait(waiter))
    })?;
    match step {
        Step::Done(()) => Ok(()),
        // Woken with Ready means the releaser handed its permit over.
        Step::Wait(waiter) => finish(waiter, |h, w| {
            if let Ok(sem) = get::<Semaphore>(h, id) {
                sem.waiters.retain(|x| *x != w);
            }
        }),
    }
}

/// Takes a permit if one is free; EAGAIN otherwise.
pub fn try_acquire(id: u64) -> Result<()> {
    runtime::with(|h| {
        let sem = get::<Semaphore>(h, id)?;
        if sem.count == 0 {
            return Err(Errno(libc::EAGAIN));
        }
        sem.count -= 1;
        Ok(())
    })
}

/// Returns a permit: to the first waiter if there is one, else to the count. EOVERFLOW (and
/// nothing changes) when the count is at its limit: a bounded semaphore's initial value, or
/// `i64::MAX`. A counting semaphore with waiters has a count of 0: it always takes a release.
pub fn release(id: u64) -> Result<()> {
    runtime::with(|h| {
        let sem = h
            .objects
            .get_mut::<Semaphore>(id)
            .ok_or(Errno(libc::EBADF))?;
        if sem.count >= sem.limit {
            return Err(Errno(libc::EOVERFLOW));
        }
        // The permit goes to this waiter: the count stays as it is.
        if let Some(waiter) = pop_live(&h.sched, &mut sem.waiters, |w| *w) {
            h.sched.wake(waiter, Wake::Ready);
            return Ok(());
        }
        sem.count += 1;
        Ok(())
    })
}

/// Free permits and waiting threads.
pub fn stat(id: u64) -> Result<(i64, i64)> {
    runtime::with(|h| {
        let sem = h.objects.get::<Semaphore>(id).ok_or(Errno(libc::EBADF))?;
        Ok((sem.count, live_count(&h.sched, sem.waiters.iter())))
    })
}

/// Destroys the semaphore; threads waiting on it fail with EBADF.
pub fn free(id: u64) -> Result<()> {
    runtime::with(|h| h.close::<Semaphore>(id))
}
