//! Events: once set (with an optional value), every waiter wakes and later waits return at
//! once, until the event is cleared.

use std::collections::VecDeque;
use std::time::Duration;

use super::{begin, finish, Step};
use crate::error::{Errno, Result};
use crate::hub::{self, Hub, Waiter, Wake};

pub(crate) struct Event {
    set: bool,
    value: i64,
    waiters: VecDeque<Waiter>,
}

fn get(h: &mut Hub, id: u64) -> Result<&mut Event> {
    h.event_objects.get_mut(id).ok_or(Errno(libc::EBADF))
}

pub fn new() -> Result<u64> {
    hub::with(|h| {
        h.event_objects.insert(Event {
            set: false,
            value: 0,
            waiters: VecDeque::new(),
        })
    })
}

/// Sets the event with `value` and wakes every waiter.
pub fn set(id: u64, value: i64) -> Result<()> {
    hub::with(|h| {
        let event = get(h, id)?;
        event.set = true;
        event.value = value;
        for waiter in std::mem::take(&mut event.waiters) {
            if h.wake(waiter, Wake::Ready) {
                h.task_mut(waiter.task).expect("woken above").value = value;
            }
        }
        Ok(())
    })
}

/// Waits until the event is set (at once if it is) and returns its value.
pub fn wait(id: u64, timeout: Option<Duration>) -> Result<i64> {
    let step = hub::with(|h| {
        let event = get(h, id)?;
        if event.set {
            return Ok(Step::Done(event.value));
        }
        let waiter = begin(h, timeout)?;
        get(h, id)?.waiters.push_back(waiter);
        Ok(Step::Wait(waiter))
    })?;
    match step {
        Step::Done(value) => Ok(value),
        Step::Wait(waiter) => {
            finish(waiter, |h, w| {
                if let Ok(event) = get(h, id) {
                    event.waiters.retain(|x| *x != w);
                }
            })?;
            hub::with(|h| Ok(h.current_task().value))
        }
    }
}

pub fn is_set(id: u64) -> Result<bool> {
    hub::with(|h| Ok(get(h, id)?.set))
}

pub fn clear(id: u64) -> Result<()> {
    hub::with(|h| {
        get(h, id)?.set = false;
        Ok(())
    })
}

/// Destroys the event; threads waiting on it fail with EBADF.
pub fn free(id: u64) -> Result<()> {
    hub::with(|h| {
        let event = h.event_objects.remove(id).ok_or(Errno(libc::EBADF))?;
        for waiter in event.waiters {
            h.wake(waiter, Wake::Closed);
        }
        Ok(())
    })
}
