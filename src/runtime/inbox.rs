//! A hub's inbox for other OS threads: they post the waiters whose wait they ended (a
//! thread-pool call that finished), and a mio `Waker` makes the hub's poll return so it wakes
//! them. The hub drains it when the poller reports the inbox's token.

use std::sync::{Mutex, MutexGuard};

use mio::{Registry, Token, Waker};

use super::task::Waiter;
use crate::error::Result;

pub(crate) struct Inbox {
    waker: Waker,
    done: Mutex<Vec<Waiter>>,
}

impl Inbox {
    pub(crate) fn new(registry: &Registry, token: Token) -> Result<Inbox> {
        Ok(Inbox {
            waker: Waker::new(registry, token)?,
            done: Mutex::new(Vec::new()),
        })
    }

    /// Waiters posted since the last call.
    pub(crate) fn take(&self) -> Vec<Waiter> {
        std::mem::take(&mut *lock(&self.done))
    }

    /// From any OS thread: wake `waiter` on the inbox's hub.
    pub(crate) fn post(&self, waiter: Waiter) {
        lock(&self.done).push(waiter);
        // If the wake fails the hub is gone; nobody is left to tell.
        let _ = self.waker.wake();
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
