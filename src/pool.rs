//! Green pools (a limit on how many of a group of green threads run at once; spawning waits
//! while the pool is full) and `serve`, the accept loop every server writes.
//!
//! Slots are handed over in FIFO order: when a pool thread ends while spawners wait, its slot
//! goes straight to the first of them. A pool thread owns a [`Slot`] object, so however it
//! ends (returns, exits, is killed, overflows its stack), closing what it owns frees its slot.

use std::cell::Cell;
use std::collections::VecDeque;
use std::rc::Rc;

use crate::error::{Errno, Result};
use crate::net;
use crate::runtime::thread::{self, SpawnOptions, ThreadId};
use crate::runtime::{self, Cx, Object, Objects, Sched, Waiter, Wake};
use crate::sync::{begin, finish, get, live_count, pop_live, Step};

/// A serve handler returning this stops the loop (it is not reported as a failure).
pub const SERVE_STOP: i32 = i32::MIN + 2;

pub(crate) struct Pool {
    size: usize,
    running: usize,
    spawners: VecDeque<Waiter>,
    idle: VecDeque<Waiter>,
}

impl Object for Pool {
    fn kind(&self) -> &'static str {
        "pool"
    }

    /// Waiting spawners and waiters fail with EBADF; running threads go on.
    fn close(self: Box<Self>, cx: &mut Cx<'_>) {
        cx.sched
            .wake_all(self.spawners.into_iter().chain(self.idle), Wake::Closed);
    }
}

/// A running thread's place in pool `pool`, owned by that thread: closed when it ends.
struct Slot {
    pool: u64,
}

impl Object for Slot {
    fn kind(&self) -> &'static str {
        "pool slot"
    }

    fn close(self: Box<Self>, cx: &mut Cx<'_>) {
        release_slot(cx.objects, cx.sched, self.pool);
    }
}

/// A pool letting at most `size` (>= 1) of its threads run at once.
pub fn new(size: usize) -> Result<u64> {
    if size == 0 {
        return Err(Errno(libc::EINVAL));
    }
    runtime::with(|h| {
        h.objects.insert(Pool {
            size,
            running: 0,
            spawners: VecDeque::new(),
            idle: VecDeque::new(),
        })
    })
}

/// Starts `f` as a thread of pool `id`, first waiting (FIFO) while the pool is full.
pub fn spawn(id: u64, opts: SpawnOptions, f: impl FnOnce() -> i32 + 'static) -> Result<ThreadId> {
    let step = runtime::with(|h| {
        let pool = get::<Pool>(h, id)?;
        if pool.running < pool.size {
            pool.running += 1;
            return Ok(Step::Done(()));
        }
        let waiter = begin(h, "pool spawn", id, None)?;
        get::<Pool>(h, id)?.spawners.push_back(waiter);
        Ok(Step::Wait(waiter))
    })?;
    if let Step::Wait(waiter) = step {
        // Woken with Ready: a slot was handed to us (already counted as running).
        finish(waiter, |h, w| {
            if let Ok(pool) = get::<Pool>(h, id) {
                pool.spawners.retain(|x| *x != w);
            }
        })?;
    }
    // The place is held by a Slot object the new thread will own; closing it frees the place.
    let slot = runtime::with(|h| {
        let slot = h.objects.insert(Slot { pool: id });
        slot.inspect_err(|_| release_slot(&mut h.objects, &mut h.sched, id))
    })?;
    match thread::spawn_with(opts, f) {
        Ok(thread) => runtime::with(|h| h.give(slot, thread).map(|()| thread)),
        Err(e) => {
            let _ = runtime::with(|h| Ok(h.close_object(slot)));
            Err(e)
        }
    }
}

/// A slot of pool `id` became free: hand it to the first waiting spawner, or count it free.
fn release_slot(objects: &mut Objects, sched: &mut Sched, id: u64) {
    let Some(pool) = objects.get_mut::<Pool>(id) else {
        return; // the pool was freed; its threads just run out
    };
    if let Some(waiter) = pop_live(sched, &mut pool.spawners, |w| *w) {
        sched.wake(waiter, Wake::Ready);
        return;
    }
    pool.running -= 1;
    if pool.running == 0 {
        sched.wake_all(pool.idle.drain(..), Wake::Ready);
    }
}

/// Waits until no thread of the pool runs.
pub fn wait(id: u64) -> Result<()> {
    let step = runtime::with(|h| {
        if get::<Pool>(h, id)?.running == 0 {
            return Ok(Step::Done(()));
        }
        let waiter = begin(h, "pool wait", id, None)?;
        get::<Pool>(h, id)?.idle.push_back(waiter);
        Ok(Step::Wait(waiter))
    })?;
    match step {
        Step::Done(()) => Ok(()),
        Step::Wait(waiter) => finish(waiter, |h, w| {
            if let Ok(pool) = get::<Pool>(h, id) {
                pool.idle.retain(|x| *x != w);
            }
        }),
    }
}

/// Changes the limit; growing lets waiting spawners in at once.
pub fn resize(id: u64, size: usize) -> Result<()> {
    if size == 0 {
        return Err(Errno(libc::EINVAL));
    }
    runtime::with(|h| {
        get::<Pool>(h, id)?.size = size;
        let pool = h.objects.get_mut::<Pool>(id).ok_or(Errno(libc::EBADF))?;
        while pool.running < pool.size {
            let Some(waiter) = pop_live(&h.sched, &mut pool.spawners, |w| *w) else {
                break;
            };
            h.sched.wake(waiter, Wake::Ready);
            pool.running += 1;
        }
        Ok(())
    })
}

/// Limit, running threads, waiting spawners.
pub fn stat(id: u64) -> Result<(usize, usize, usize)> {
    runtime::with(|h| {
        let pool = h.objects.get::<Pool>(id).ok_or(Errno(libc::EBADF))?;
        let waiting = live_count(&h.sched, pool.spawners.iter()) as usize;
        Ok((pool.size, pool.running, waiting))
    })
}

/// Destroys the pool; waiting spawners and waiters fail with EBADF; running threads go on.
pub fn free(id: u64) -> Result<()> {
    runtime::with(|h| h.close::<Pool>(id))
}

/// Accepts connections on `listener` until a handler returns [`SERVE_STOP`] (then `Ok`) or
/// accepting fails. Each connection runs `handler(sock)` in its own green thread, which owns the
/// socket (closed when it returns); at most `concurrency` run at once.
pub fn serve(
    listener: u64,
    concurrency: usize,
    handler: impl Fn(u64) -> i32 + 'static,
) -> Result<()> {
    net::fileno(listener)?; // a bad listener fails before anything is set up
    let pool = new(concurrency)?;
    let handler = Rc::new(handler);
    let stop = Rc::new(Cell::new(false));
    let server = thread::current();
    let result = loop {
        if stop.get() {
            break Ok(());
        }
        let sock = match net::accept(listener) {
            Ok((sock, _)) => sock,
            Err(Errno(libc::EINTR)) if stop.get() => break Ok(()),
            Err(e) => break Err(e),
        };
        let (handler, stop_flag) = (handler.clone(), stop.clone());
        let body = move || match handler(sock) {
            SERVE_STOP => {
                stop_flag.set(true);
                // Wake the loop wherever it waits (accept, or a full pool).
                let _ = runtime::with(|h| {
                    h.sched.interrupt(server, Wake::Interrupted);
                    Ok(())
                });
                0
            }
            status => status,
        };
        let opts = SpawnOptions {
            socket: Some(sock),
            detached: true,
            ..SpawnOptions::default()
        };
        if let Err(e) = spawn(pool, opts, body) {
            let _ = net::close(sock); // never handed over
            break if e == Errno(libc::EINTR) && stop.get() {
                Ok(())
            } else {
                Err(e)
            };
        }
    };
    let _ = free(pool);
    result
}
