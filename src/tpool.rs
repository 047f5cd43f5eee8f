//! The thread pool (Eventlet's `tpool.execute`): a blocking function runs on a native worker
//! thread while only the calling green thread waits; the hub keeps serving the others. A worker
//! reports back through the calling hub's inbox (`runtime::inbox`). Workers start lazily, up to the pool
//! size; the pool is process-wide (hubs of every OS thread share it).
//!
//! Kill or a deadline during a call: the caller's wait ends with ECANCELED/ETIMEDOUT, the call
//! finishes on its worker, and its result is dropped.

use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};

use crate::error::{Errno, Result};
use crate::runtime::{self, Wait, Wake};

/// Default number of workers (Eventlet's default too).
const DEFAULT_SIZE: usize = 20;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

type Job = Box<dyn FnOnce() + Send>;

struct Pool {
    jobs: Mutex<VecDeque<Job>>,
    ready: Condvar,
    workers: Mutex<usize>,
}

static SIZE: AtomicUsize = AtomicUsize::new(0);

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool {
        jobs: Mutex::new(VecDeque::new()),
        ready: Condvar::new(),
        workers: Mutex::new(0),
    })
}

/// Number of worker threads: set by [`set_size`], else `GREENHUB_TPOOL_SIZE`, else 20.
pub fn size() -> usize {
    match SIZE.load(Ordering::Relaxed) {
        0 => {
            static FROM_ENV: OnceLock<usize> = OnceLock::new();
            *FROM_ENV.get_or_init(|| {
                std::env::var("GREENHUB_TPOOL_SIZE")
                    .ok()
                    .and_then(|v| v.trim().parse().ok())
                    .filter(|&n| n > 0)
                    .unwrap_or(DEFAULT_SIZE)
            })
        }
        n => n,
    }
}

/// Sets the number of worker threads (EINVAL for 0). Extra workers leave after their call.
pub fn set_size(threads: usize) -> Result<()> {
    if threads == 0 {
        return Err(Errno(libc::EINVAL));
    }
    SIZE.store(threads, Ordering::Relaxed);
    pool().ready.notify_all();
    Ok(())
}

fn worker() {
    let pool = pool();
    loop {
        let job = {
            let mut jobs = lock(&pool.jobs);
            loop {
                if *lock(&pool.workers) > size() {
                    *lock(&pool.workers) -= 1;
                    return; // the pool shrank
                }
                if let Some(job) = jobs.pop_front() {
                    break job;
                }
                jobs = pool.ready.wait(jobs).unwrap_or_else(|e| e.into_inner());
            }
        };
        job();
    }
}

/// Queues `job`, starting a worker if fewer than the pool size run.
fn submit(job: Job) -> Result<()> {
    let pool = pool();
    lock(&pool.jobs).push_back(job);
    let mut workers = lock(&pool.workers);
    if *workers < size() {
        let started = std::thread::Builder::new()
            .name("greenhub-tpool".into())
            .stack_size(256 * 1024)
            .spawn(worker);
        match started {
            Ok(_) => *workers += 1,
            Err(_) if *workers == 0 => {
                drop(workers);
                lock(&pool.jobs).pop_back(); // nobody could ever run it
                return Err(Errno(libc::EAGAIN));
            }
            Err(_) => {} // the running workers will get to it
        }
    }
    drop(workers);
    pool.ready.notify_one();
    Ok(())
}

/// Runs `f` on a worker thread; the calling green thread (or the root, running the hub) waits.
/// Fails with ECANCELED/ETIMEDOUT if the caller is killed or its deadline passes first, EIO if
/// `f` panicked, EAGAIN if no worker thread could be started.
pub fn execute<R, F>(f: F) -> Result<R>
where
    R: Send + 'static,
    F: FnOnce() -> R + Send + 'static,
{
    let slot: Arc<Mutex<Option<R>>> = Arc::new(Mutex::new(None));
    let (inbox, waiter) = runtime::with(|h| {
        let waiter = h.sched.begin_wait(Wait::external("tpool", 0), None)?;
        Ok((h.driver.inbox().clone(), waiter))
    })?;
    let result = slot.clone();
    let job = Box::new(move || {
        if let Ok(value) = panic::catch_unwind(AssertUnwindSafe(f)) {
            *lock(&result) = Some(value);
        }
        inbox.post(waiter);
    });
    if let Err(err) = submit(job) {
        // End the wait begun above: wake ourselves, then consume that wake.
        runtime::with(|h| {
            h.sched.wake(waiter, Wake::Ready);
            Ok(())
        })?;
        let _ = runtime::wait(waiter);
        return Err(err);
    }
    runtime::wait(waiter)?;
    let value = lock(&slot).take();
    value.ok_or(Errno(libc::EIO))
}
