//! Waiting on file descriptors: a resource that got EAGAIN (or whose slot remembers the fd
//! drained) registers the running thread as its I/O slot's waiter in one direction, then
//! waits. One waiter per slot and direction: a second thread gets EBUSY. Also fair service's
//! yield ([`yield_to_io`]; see `Sched::take_io_turn`).

use std::time::Instant;

use super::driver::Direction;
pub(crate) use super::hub::yield_to_io;
use super::hub::{wait, with, Hub};
use super::task::{Wait, Waiter};
use crate::error::{Errno, Result};

/// Registers the running thread as the `dir` waiter of I/O slot `key`, for `wait` (which
/// describes it) until `deadline`. EBUSY if another thread waits there.
pub(crate) fn begin_io_wait(
    h: &mut Hub,
    key: u64,
    dir: Direction,
    what: Wait,
    deadline: Option<Instant>,
) -> Result<Waiter> {
    if let Some(other) = *h.driver.slot(key)?.waiter(dir) {
        if h.sched.is_waiting(other) {
            return Err(Errno(libc::EBUSY));
        }
    }
    let waiter = h.sched.begin_wait(what, deadline)?;
    *h.driver.slot(key)?.waiter(dir) = Some(waiter);
    Ok(waiter)
}

/// Waits for `waiter`, registered with [`begin_io_wait`]; on failure takes it out of its slot
/// again (readiness would otherwise wake a thread that no longer waits).
pub(crate) fn await_io(key: u64, dir: Direction, waiter: Waiter) -> Result<()> {
    let result = wait(waiter);
    if result.is_err() {
        with(|h| {
            if let Ok(slot) = h.driver.slot(key) {
                let entry = slot.waiter(dir);
                if *entry == Some(waiter) {
                    *entry = None;
                }
            }
            Ok(())
        })?;
    }
    result
}
