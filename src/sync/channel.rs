//! Channels of pointer-sized items: bounded, unbounded, or rendezvous (capacity 0: a send
//! completes only when a receiver takes the item). Senders and receivers wait in FIFO order;
//! items are handed straight to a waiting receiver, and a waiting sender's item moves into the
//! buffer as soon as there is room. Closing ends the channel: receivers drain what is buffered,
//! then see EPIPE; pending and later senders get EPIPE and their items are not delivered.

use std::collections::VecDeque;
use std::time::Duration;

use super::{begin, finish, get, live_count, pop_live, Step};
use crate::error::{Errno, Result};
use crate::runtime::{self, Cx, Hub, Object, Waiter, Wake};

/// How many items a channel buffers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Capacity {
    /// A send waits for a receiver to take the item.
    Rendezvous,
    Bounded(usize),
    Unbounded,
}

pub(crate) struct Channel {
    capacity: Capacity,
    items: VecDeque<i64>,
    senders: VecDeque<(Waiter, i64)>,
    receivers: VecDeque<Waiter>,
    closed: bool,
}

impl Channel {
    fn has_room(&self) -> bool {
        match self.capacity {
            Capacity::Rendezvous => false,
            Capacity::Bounded(n) => self.items.len() < n,
            Capacity::Unbounded => true,
        }
    }
}

impl Object for Channel {
    fn kind(&self) -> &'static str {
        "channel"
    }

    /// Waiting threads fail with EBADF; buffered items are dropped.
    fn close(self: Box<Self>, cx: &mut Cx<'_>) {
        let senders = self.senders.into_iter().map(|(w, _)| w);
        cx.sched
            .wake_all(self.receivers.into_iter().chain(senders), Wake::Closed);
    }
}

pub fn new(capacity: Capacity) -> Result<u64> {
    if capacity == Capacity::Bounded(0) {
        return Err(Errno(libc::EINVAL)); // say Rendezvous
    }
    runtime::with(|h| {
        h.objects.insert(Channel {
            capacity,
            items: VecDeque::new(),
            senders: VecDeque::new(),
            receivers: VecDeque::new(),
            closed: false,
        })
    })
}

/// The first receiver still waiting, if any (stale entries are dropped).
fn pop_receiver(h: &mut Hub, id: u64) -> Result<Option<Waiter>> {
    let chan = h.objects.get_mut::<Channel>(id).ok_or(Errno(libc::EBADF))?;
    Ok(pop_live(&h.sched, &mut chan.receivers, |w| *w))
}

/// The first sender still waiting, with its item.
fn pop_sender(h: &mut Hub, id: u64) -> Result<Option<(Waiter, i64)>> {
    let chan = h.objects.get_mut::<Channel>(id).ok_or(Errno(libc::EBADF))?;
    Ok(pop_live(&h.sched, &mut chan.senders, |(w, _)| *w))
}

/// Sends without waiting: `Ok(true)` if delivered or buffered, `Ok(false)` if it would wait.
fn offer(h: &mut Hub, id: u64, item: i64) -> Result<bool> {
    if get::<Channel>(h, id)?.closed {
        return Err(Errno(libc::EPIPE));
    }
    if let Some(receiver) = pop_receiver(h, id)? {
        h.sched.wake_with(receiver, item);
        return Ok(true);
    }
    let chan = get::<Channel>(h, id)?;
    if chan.has_room() {
        chan.items.push_back(item);
        return Ok(true);
    }
    Ok(false)
}

/// Receives without waiting: `Ok(None)` if it would wait.
fn take(h: &mut Hub, id: u64) -> Result<Option<i64>> {
    if let Some(item) = get::<Channel>(h, id)?.items.pop_front() {
        // Room appeared: the first waiting sender's item moves in, and that send completes.
        if let Some((sender, next)) = pop_sender(h, id)? {
            h.sched.wake(sender, Wake::Ready);
            get::<Channel>(h, id)?.items.push_back(next);
        }
        return Ok(Some(item));
    }
    // Nothing buffered (always so for rendezvous): take straight from a waiting sender.
    if let Some((sender, item)) = pop_sender(h, id)? {
        h.sched.wake(sender, Wake::Ready);
        return Ok(Some(item));
    }
    if get::<Channel>(h, id)?.closed {
        return Err(Errno(libc::EPIPE));
    }
    Ok(None)
}

/// Sends `item`, waiting up to `timeout` for room (or, for rendezvous, for a receiver).
/// EPIPE if the channel is or gets closed; then the item was not delivered.
pub fn send(id: u64, item: i64, timeout: Option<Duration>) -> Result<()> {
    let step = runtime::with(|h| {
        if offer(h, id, item)? {
            return Ok(Step::Done(()));
        }
        let waiter = begin(h, "channel send", id, timeout)?;
        get::<Channel>(h, id)?.senders.push_back((waiter, item));
        Ok(Step::Wait(waiter))
    })?;
    match step {
        Step::Done(()) => Ok(()),
        Step::Wait(waiter) => finish(waiter, |h, w| {
            if let Ok(chan) = get::<Channel>(h, id) {
                chan.senders.retain(|(x, _)| *x != w); // not delivered: take the item back
            }
        }),
    }
}

/// Sends `item` if that needs no wait; EAGAIN otherwise.
pub fn try_send(id: u64, item: i64) -> Result<()> {
    runtime::with(|h| match offer(h, id, item)? {
        true => Ok(()),
        false => Err(Errno(libc::EAGAIN)),
    })
}

/// Receives an item, waiting up to `timeout`. EPIPE once the channel is closed and drained.
pub fn recv(id: u64, timeout: Option<Duration>) -> Result<i64> {
    let step = runtime::with(|h| {
        if let Some(item) = take(h, id)? {
            return Ok(Step::Done(item));
        }
        let waiter = begin(h, "channel recv", id, timeout)?;
        get::<Channel>(h, id)?.receivers.push_back(waiter);
        Ok(Step::Wait(waiter))
    })?;
    match step {
        Step::Done(item) => Ok(item),
        Step::Wait(waiter) => {
            finish(waiter, |h, w| {
                if let Ok(chan) = get::<Channel>(h, id) {
                    chan.receivers.retain(|x| *x != w);
                }
            })?;
            runtime::with(|h| Ok(h.sched.current_task().value))
        }
    }
}

/// Receives an item if one is ready; EAGAIN otherwise (EPIPE if closed and drained).
pub fn try_recv(id: u64) -> Result<i64> {
    runtime::with(|h| take(h, id)?.ok_or(Errno(libc::EAGAIN)))
}

/// Closes the channel: waiting receivers (the buffer is empty, or they would not wait) and
/// waiting senders wake with EPIPE; buffered items can still be received.
pub fn close(id: u64) -> Result<()> {
    runtime::with(|h| {
        let chan = get::<Channel>(h, id)?;
        chan.closed = true;
        let receivers = std::mem::take(&mut chan.receivers);
        let senders = std::mem::take(&mut chan.senders);
        let senders = senders.into_iter().map(|(w, _)| w);
        h.sched
            .wake_all(receivers.into_iter().chain(senders), Wake::Shut);
        Ok(())
    })
}

/// Buffered items, waiting senders, waiting receivers.
pub fn stat(id: u64) -> Result<(i64, i64, i64)> {
    runtime::with(|h| {
        let chan = h.objects.get::<Channel>(id).ok_or(Errno(libc::EBADF))?;
        let senders = live_count(&h.sched, chan.senders.iter().map(|(w, _)| w));
        let receivers = live_count(&h.sched, chan.receivers.iter());
        Ok((chan.items.len() as i64, senders, receivers))
    })
}

/// Destroys the channel; waiting threads fail with EBADF; buffered items are dropped.
pub fn free(id: u64) -> Result<()> {
    runtime::with(|h| h.close::<Channel>(id))
}
