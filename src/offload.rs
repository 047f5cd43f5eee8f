//! Running a blocking function on a helper OS thread while only the calling green thread waits
//! (name resolution today). The helper reports back through a mio `Waker`, so the hub's poll
//! wakes up; the result is dropped if the caller gave up (killed or timed out) meanwhile.

use std::sync::{Arc, Mutex};

use mio::{Registry, Token, Waker};

use crate::error::{Errno, Result};
use crate::hub::{self, WaitKind, Waiter};

pub(crate) struct Shared {
    waker: Waker,
    done: Mutex<Vec<Waiter>>,
}

impl Shared {
    pub(crate) fn new(registry: &Registry, token: Token) -> Result<Shared> {
        Ok(Shared {
            waker: Waker::new(registry, token)?,
            done: Mutex::new(Vec::new()),
        })
    }

    /// Waiters whose helper finished since the last call.
    pub(crate) fn take_done(&self) -> Vec<Waiter> {
        std::mem::take(&mut *self.done.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn complete(&self, waiter: Waiter) {
        self.done
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(waiter);
        // If the wake fails the hub is gone; nobody is left to tell.
        let _ = self.waker.wake();
    }
}

/// Runs `f` on a helper thread and parks the calling green thread (or runs the hub, in the
/// root) until it returns. Honours the caller's deadline and kill.
pub(crate) fn run<R, F>(f: F) -> Result<R>
where
    R: Send + 'static,
    F: FnOnce() -> R + Send + 'static,
{
    let slot: Arc<Mutex<Option<R>>> = Arc::new(Mutex::new(None));
    let (shared, waiter) = hub::with(|h| {
        let waiter = h.begin_wait(WaitKind::External, None)?;
        Ok((h.offload.clone(), waiter))
    })?;
    let result = slot.clone();
    let spawned = std::thread::Builder::new()
        .name("greenhub-offload".into())
        .spawn(move || {
            let value = f();
            *result.lock().unwrap_or_else(|e| e.into_inner()) = Some(value);
            shared.complete(waiter);
        });
    if spawned.is_err() {
        // Undo the wait we began: wake ourselves, then consume the wake.
        hub::with(|h| {
            h.wake(waiter, crate::hub::Wake::Ready);
            Ok(())
        })?;
        let _ = hub::wait(waiter);
        return Err(Errno(libc::EAGAIN));
    }
    hub::wait(waiter)?;
    let value = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
    value.ok_or(Errno(libc::EIO))
}
