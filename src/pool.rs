//! Green pools (a limit on how many of a group of green threads run at once; spawning waits
//! while the pool is full) and `serve`, the accept loop every server writes.
//!
//! Slots are handed over in FIFO order: when a pool thread ends while spawners wait, its slot
//! goes straight to the first of them.

use std::cell::Cell;
use std::collections::VecDeque;
use std::rc::Rc;

use crate::error::{Errno, Result};
use crate::hub::{self, Hub, Waiter, Wake};
use crate::net;
use crate::sync::{begin, finish, live_count, Step};
use crate::thread::{self, SpawnOptions, ThreadId};

/// A serve handler returning this stops the loop (it is not reported as a failure).
pub const SERVE_STOP: i32 = i32::MIN + 2;

pub(crate) struct Pool {
    size: usize,
    running: usize,
    spawners: VecDeque<Waiter>,
    idle: VecDeque<Waiter>,
}

fn get(h: &mut Hub, id: u64) -> Result<&mut Pool> {
    h.pools.get_mut(id).ok_or(Errno(libc::EBADF))
}

/// A pool letting at most `size` (>= 1) of its threads run at once.
pub fn new(size: usize) -> Result<u64> {
    if size == 0 {
        return Err(Errno(libc::EINVAL));
    }
    hub::with(|h| {
        h.pools.insert(Pool {
            size,
            running: 0,
            spawners: VecDeque::new(),
            idle: VecDeque::new(),
        })
    })
}

/// Starts `f` as a thread of pool `id`, first waiting (FIFO) while the pool is full.
pub fn spawn(id: u64, opts: SpawnOptions, f: impl FnOnce() -> i32 + 'static) -> Result<ThreadId> {
    let step = hub::with(|h| {
        let pool = get(h, id)?;
        if pool.running < pool.size {
            pool.running += 1;
            return Ok(Step::Done(()));
        }
        let waiter = begin(h, None)?;
        get(h, id)?.spawners.push_back(waiter);
        Ok(Step::Wait(waiter))
    })?;
    if let Step::Wait(waiter) = step {
        // Woken with Ready: a slot was handed to us (already counted as running).
        finish(waiter, |h, w| {
            if let Ok(pool) = get(h, id) {
                pool.spawners.retain(|x| *x != w);
            }
        })?;
    }
    thread::spawn_in_pool(opts, Some(id), f).inspect_err(|_| {
        let _ = hub::with(|h| {
            release_slot(h, id);
            Ok(())
        });
    })
}

/// A slot of pool `id` became free: hand it to the first waiting spawner, or count it free.
pub(crate) fn release_slot(h: &mut Hub, id: u64) {
    loop {
        let Ok(pool) = get(h, id) else {
            return; // the pool was freed; its threads just run out
        };
        match pool.spawners.pop_front() {
            Some(waiter) if h.wake(waiter, Wake::Ready) => return,
            Some(_) => continue,
            None => break,
        }
    }
    let Ok(pool) = get(h, id) else { return };
    pool.running -= 1;
    if pool.running == 0 {
        for waiter in std::mem::take(&mut pool.idle) {
            h.wake(waiter, Wake::Ready);
        }
    }
}

/// Waits until no thread of the pool runs.
pub fn wait(id: u64) -> Result<()> {
    let step = hub::with(|h| {
        if get(h, id)?.running == 0 {
            return Ok(Step::Done(()));
        }
        let waiter = begin(h, None)?;
        get(h, id)?.idle.push_back(waiter);
        Ok(Step::Wait(waiter))
    })?;
    match step {
        Step::Done(()) => Ok(()),
        Step::Wait(waiter) => finish(waiter, |h, w| {
            if let Ok(pool) = get(h, id) {
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
    hub::with(|h| {
        get(h, id)?.size = size;
        loop {
            let pool = get(h, id)?;
            if pool.running >= pool.size {
                return Ok(());
            }
            match pool.spawners.pop_front() {
                Some(waiter) if h.wake(waiter, Wake::Ready) => get(h, id)?.running += 1,
                Some(_) => continue,
                None => return Ok(()),
            }
        }
    })
}

/// Limit, running threads, waiting spawners.
pub fn stat(id: u64) -> Result<(usize, usize, usize)> {
    hub::with(|h| {
        let pool = h.pools.get(id).ok_or(Errno(libc::EBADF))?;
        let waiting = live_count(h, pool.spawners.iter()) as usize;
        Ok((pool.size, pool.running, waiting))
    })
}

/// Destroys the pool; waiting spawners and waiters fail with EBADF; running threads go on.
pub fn free(id: u64) -> Result<()> {
    hub::with(|h| {
        let pool = h.pools.remove(id).ok_or(Errno(libc::EBADF))?;
        for waiter in pool.spawners.into_iter().chain(pool.idle) {
            h.wake(waiter, Wake::Closed);
        }
        Ok(())
    })
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
                let _ = hub::with(|h| {
                    h.interrupt(server, Wake::Interrupted);
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
