//! Park and unpark: the primitive a binding builds its own synchronization from, without a
//! second scheduler. An unpark that finds its thread not parked is kept (one, the latest) and
//! makes the next park return at once.

use crate::error::{Errno, Result};
use crate::hub::{self, WaitKind, Wake};

/// Parks the running thread until [`unpark`]; returns the value given there. Deadline and kill
/// apply as for any blocking call.
pub fn park() -> Result<i64> {
    let waiter = hub::with(|h| {
        if let Some(value) = h.current_task().unparked.take() {
            return Ok(Err(value));
        }
        let waiter = h.begin_wait(WaitKind::Internal, None)?;
        h.current_task().parked = Some(waiter);
        Ok(Ok(waiter))
    })?;
    let waiter = match waiter {
        Ok(w) => w,
        Err(value) => return Ok(value),
    };
    let result = hub::wait(waiter);
    hub::with(|h| {
        let task = h.current_task();
        task.parked = None;
        result.map(|()| task.value)
    })
}

/// Wakes thread `id` if it is parked, handing it `value`; otherwise its next park returns
/// `value` at once. EBADF for an unknown or ended thread.
pub fn unpark(id: u64, value: i64) -> Result<()> {
    hub::with(|h| {
        if !h.is_alive(id) {
            return Err(Errno(libc::EBADF));
        }
        let task = h.task_mut(id).expect("alive");
        if let Some(waiter) = task.parked.take() {
            if h.wake(waiter, Wake::Ready) {
                h.task_mut(id).expect("alive").value = value;
                return Ok(());
            }
        }
        h.task_mut(id).expect("alive").unparked = Some(value);
        Ok(())
    })
}
