//! Events: once set (with an optional value), every waiter wakes and later waits return at
//! once, until the event is cleared.

use std::collections::VecDeque;
use std::time::Duration;

use super::{begin, finish, get, Step};
use crate::error::{Errno, Result};
use crate::runtime::{self, Cx, Object, Waiter, Wake};

pub(crate) struct Event {
    set: bool,
    value: i64,
    waiters: VecDeque<Waiter>,
}

impl Object for Event {
    fn kind(&self) -> &'static str {
        "event"
    }

    fn close(self: Box<Self>, cx: &mut Cx<'_>) {
        cx.sched.wake_all(self.waiters, Wake::Closed);
    }
}

pub fn new() -> Result<u64> {
    runtime::with(|h| {
        h.objects.insert(Event {
            set: false,
            value: 0,
            waiters: VecDeque::new(),
        })
    })
}

/// Sets the event with `value` and wakes every waiter.
pub fn set(id: u64, value: i64) -> Result<()> {
    runtime::with(|h| {
        let event = h.objects.get_mut::<Event>(id).ok_or(Errno(libc::EBADF))?;
        event.set = true;
        event.value = value;
        for waiter in event.waiters.drain(..) {
            h.sched.wake_with(waiter, value);
        }
        Ok(())
    })
}

/// Waits until the event is set (at once if it is) and returns its value.
pub fn wait(id: u64, timeout: Option<Duration>) -> Result<i64> {
    let step = runtime::with(|h| {
        let event = get::<Event>(h, id)?;
        if event.set {
            return Ok(Step::Done(event.value));
        }
        let waiter = begin(h, "event", id, timeout)?;
        get::<Event>(h, id)?.waiters.push_back(waiter);
        Ok(Step::Wait(waiter))
    })?;
    match step {
        Step::Done(value) => Ok(value),
        Step::Wait(waiter) => {
            finish(waiter, |h, w| {
                if let Ok(event) = get::<Event>(h, id) {
                    event.waiters.retain(|x| *x != w);
                }
            })?;
            runtime::with(|h| Ok(h.sched.current_task().value))
        }
    }
}

pub fn is_set(id: u64) -> Result<bool> {
    runtime::with(|h| Ok(get::<Event>(h, id)?.set))
}

pub fn clear(id: u64) -> Result<()> {
    runtime::with(|h| {
        get::<Event>(h, id)?.set = false;
        Ok(())
    })
}

/// Destroys the event; threads waiting on it fail with EBADF.
pub fn free(id: u64) -> Result<()> {
    runtime::with(|h| h.close::<Event>(id))
}
