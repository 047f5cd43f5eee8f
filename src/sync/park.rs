//! Park and unpark: the primitive a binding builds its own synchronization from, without a
//! second scheduler. An unpark that finds its thread not parked is kept (one, the latest) and
//! makes the next park return at once.
//!
//! A parked thread is one blocked in a wait described as "park"; the runtime needs no field
//! of its own for it. Kept unparks live in this hub's map (hubs are per OS thread, and so is
//! the map), keyed by thread handle: a handle is never reused, so an entry left by a thread
//! that ended without parking again can never reach another thread; such entries are pruned
//! when the map has doubled since the last pruning.

use std::cell::RefCell;
use std::collections::HashMap;

use crate::error::{Errno, Result};
use crate::runtime::{self, Sched, Wait};

const PARK: Wait = Wait::internal("park", 0);

#[derive(Default)]
struct Kept {
    values: HashMap<u64, i64>,
    /// The map's size after the last pruning: the next one comes at twice that.
    pruned_at: usize,
}

thread_local! {
    static KEPT: RefCell<Kept> = RefCell::new(Kept::default());
}

impl Kept {
    fn keep(&mut self, sched: &Sched, id: u64, value: i64) {
        self.values.insert(id, value);
        if self.values.len() > 2 * self.pruned_at.max(32) {
            self.values.retain(|&t, _| sched.is_alive(t));
            self.pruned_at = self.values.len();
        }
    }
}

/// Parks the running thread until [`unpark`]; returns the value given there. Deadline and kill
/// apply as for any blocking call.
pub fn park() -> Result<i64> {
    let waiter = runtime::with(|h| {
        let me = h.sched.current;
        if let Some(value) = KEPT.with(|k| k.borrow_mut().values.remove(&me)) {
            return Ok(Err(value));
        }
        h.sched.begin_wait(PARK, None).map(Ok)
    })?;
    match waiter {
        Ok(waiter) => {
            runtime::wait(waiter)?;
            runtime::with(|h| Ok(h.sched.current_task().value))
        }
        Err(value) => Ok(value),
    }
}

/// Wakes thread `id` if it is parked, handing it `value`; otherwise its next park returns
/// `value` at once. EBADF for an unknown or ended thread.
pub fn unpark(id: u64, value: i64) -> Result<()> {
    runtime::with(|h| {
        if !h.sched.is_alive(id) {
            return Err(Errno(libc::EBADF));
        }
        if let Some((waiter, wait)) = h.sched.waiting(id) {
            if wait == PARK {
                h.sched.wake_with(waiter, value);
                return Ok(());
            }
        }
        KEPT.with(|k| k.borrow_mut().keep(&h.sched, id, value));
        Ok(())
    })
}
