//! Deadlines of parked green threads: a min-heap with lazy deletion. An entry whose thread was
//! woken by something else is simply skipped when it expires (the waiter's sequence number no
//! longer matches), so arming and disarming cost no search.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use super::task::Waiter;

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    at: Instant,
    order: u64,
    task: u64,
    seq: u64,
}

#[derive(Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<Entry>>,
    order: u64,
}

impl Timers {
    pub(crate) fn push(&mut self, at: Instant, waiter: Waiter) {
        self.order += 1;
        self.heap.push(Reverse(Entry {
            at,
            order: self.order,
            task: waiter.task,
            seq: waiter.seq,
        }));
    }

    /// The earliest deadline (possibly of an entry that is already stale).
    pub(crate) fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|e| e.0.at)
    }

    pub(crate) fn pop_expired(&mut self, now: Instant) -> Option<Waiter> {
        if self.heap.peek()?.0.at > now {
            return None;
        }
        let e = self.heap.pop()?.0;
        Some(Waiter {
            task: e.task,
            seq: e.seq,
        })
    }

    /// Drops every entry; called when no parked thread has a deadline, so all are stale.
    pub(crate) fn clear(&mut self) {
        self.heap.clear();
    }
}
