//! Semaphores, events, channels and park/unpark in C.
//!
//! Every wait takes `timeout_ms`, its last argument: -1 (any negative) waits as long as needed,
//! 0 never waits (EAGAIN if it would), > 0 fails with ETIMEDOUT after that many milliseconds. The
//! thread's deadline (gh_deadline_push) and kill (ECANCELED) apply too. Waiters are served in
//! FIFO order. Freeing an object wakes its waiters with EBADF.

use std::ffi::{c_int, c_void};
use std::time::Duration;

use super::{call, gh_thread, handle};
use greenhub::sync::{self, Capacity};
use greenhub::Errno;

/// A semaphore handle.
#[allow(non_camel_case_types)]
pub type gh_sem = i64;
/// An event handle.
#[allow(non_camel_case_types)]
pub type gh_event = i64;
/// A channel handle.
#[allow(non_camel_case_types)]
pub type gh_chan = i64;

/// Capacity of gh_chan_new() for a channel that never makes a sender wait.
pub const GH_CHAN_UNBOUNDED: i64 = -1;

pub(crate) fn timeout(ms: i64) -> Option<Duration> {
    u64::try_from(ms).ok().map(Duration::from_millis)
}

/// Writes `value` through `out` unless it is NULL.
fn put<T>(out: *mut T, value: T) {
    if !out.is_null() {
        // SAFETY: non-NULL, and the caller promises it points to writable storage for a T.
        unsafe { out.write(value) };
    }
}

/// A counting semaphore with `initial` permits. EINVAL if `initial` < 0.
#[no_mangle]
pub extern "C" fn gh_sem_new(initial: i64) -> gh_sem {
    call(-1, || Ok(sync::semaphore_new(initial)? as gh_sem))
}

/// A bounded semaphore: releasing it past `initial` permits fails with EOVERFLOW.
#[no_mangle]
pub extern "C" fn gh_sem_new_bounded(initial: i64) -> gh_sem {
    call(-1, || Ok(sync::semaphore_new_bounded(initial)? as gh_sem))
}

/// Takes a permit, waiting in FIFO order while none is free. ETIMEDOUT, ECANCELED; EDEADLK if
/// the root would wait and nothing could ever release one.
#[no_mangle]
pub extern "C" fn gh_sem_acquire(s: gh_sem, timeout_ms: i64) -> c_int {
    call(-1, || {
        sync::acquire(handle(s)?, timeout(timeout_ms)).map(|()| 0)
    })
}

/// Takes a permit if one is free, without waiting; EAGAIN otherwise.
#[no_mangle]
pub extern "C" fn gh_sem_try_acquire(s: gh_sem) -> c_int {
    call(-1, || sync::try_acquire(handle(s)?).map(|()| 0))
}

/// Returns a permit, handing it to the first waiter if any. EOVERFLOW (nothing changes) for a
/// bounded semaphore already at its initial value, or a counting one at INT64_MAX permits.
#[no_mangle]
pub extern "C" fn gh_sem_release(s: gh_sem) -> c_int {
    call(-1, || sync::release(handle(s)?).map(|()| 0))
}

/// Writes the free permits to `*value` and the number of waiting threads to `*waiting` (either
/// may be NULL).
#[no_mangle]
pub extern "C" fn gh_sem_stat(s: gh_sem, value: *mut i64, waiting: *mut i64) -> c_int {
    call(-1, || {
        let (v, w) = sync::semaphore_stat(handle(s)?)?;
        put(value, v);
        put(waiting, w);
        Ok(0)
    })
}

/// Destroys the semaphore; threads waiting on it fail with EBADF.
#[no_mangle]
pub extern "C" fn gh_sem_free(s: gh_sem) -> c_int {
    call(-1, || sync::semaphore_free(handle(s)?).map(|()| 0))
}

/// A new event, not set.
#[no_mangle]
pub extern "C" fn gh_event_new() -> gh_event {
    call(-1, || Ok(sync::event_new()? as gh_event))
}

/// Sets the event with `value` and wakes every waiter; it stays set until cleared.
#[no_mangle]
pub extern "C" fn gh_event_set(e: gh_event, value: *mut c_void) -> c_int {
    call(-1, || sync::event_set(handle(e)?, value as i64).map(|()| 0))
}

/// Waits until the event is set (returns at once if it is) and writes its value to `*value`
/// (may be NULL).
#[no_mangle]
pub extern "C" fn gh_event_wait(e: gh_event, value: *mut *mut c_void, timeout_ms: i64) -> c_int {
    call(-1, || {
        let v = sync::event_wait(handle(e)?, timeout(timeout_ms))?;
        put(value, v as *mut c_void);
        Ok(0)
    })
}

/// 1 if the event is set, 0 if not.
#[no_mangle]
pub extern "C" fn gh_event_is_set(e: gh_event) -> c_int {
    call(-1, || sync::event_is_set(handle(e)?).map(c_int::from))
}

/// Clears the event: later waits wait again.
#[no_mangle]
pub extern "C" fn gh_event_clear(e: gh_event) -> c_int {
    call(-1, || sync::event_clear(handle(e)?).map(|()| 0))
}

/// Destroys the event; threads waiting on it fail with EBADF.
#[no_mangle]
pub extern "C" fn gh_event_free(e: gh_event) -> c_int {
    call(-1, || sync::event_free(handle(e)?).map(|()| 0))
}

/// A channel of pointer-sized items. `capacity` 0: rendezvous (a send completes only when a
/// receiver takes the item); N > 0: up to N buffered items; GH_CHAN_UNBOUNDED: no limit.
/// EINVAL for other values.
#[no_mangle]
pub extern "C" fn gh_chan_new(capacity: i64) -> gh_chan {
    call(-1, || {
        let capacity = match capacity {
            0 => Capacity::Rendezvous,
            GH_CHAN_UNBOUNDED => Capacity::Unbounded,
            n if n > 0 => Capacity::Bounded(usize::try_from(n).map_err(|_| Errno(libc::EINVAL))?),
            _ => return Err(Errno(libc::EINVAL)),
        };
        Ok(sync::channel_new(capacity)? as gh_chan)
    })
}

/// Sends `item`, waiting while the channel is full (rendezvous: until a receiver takes it).
/// EPIPE if the channel is or gets closed: the item was not delivered.
#[no_mangle]
pub extern "C" fn gh_chan_send(c: gh_chan, item: *mut c_void, timeout_ms: i64) -> c_int {
    call(-1, || {
        sync::send(handle(c)?, item as i64, timeout(timeout_ms)).map(|()| 0)
    })
}

/// Sends `item` only if that needs no wait; EAGAIN otherwise, EPIPE if closed.
#[no_mangle]
pub extern "C" fn gh_chan_try_send(c: gh_chan, item: *mut c_void) -> c_int {
    call(-1, || sync::try_send(handle(c)?, item as i64).map(|()| 0))
}

/// Receives an item into `*item` (may be NULL), waiting while there is none. EPIPE once the
/// channel is closed and every buffered item has been received (end of channel).
#[no_mangle]
pub extern "C" fn gh_chan_recv(c: gh_chan, item: *mut *mut c_void, timeout_ms: i64) -> c_int {
    call(-1, || {
        let v = sync::recv(handle(c)?, timeout(timeout_ms))?;
        put(item, v as *mut c_void);
        Ok(0)
    })
}

/// Receives an item only if one is ready; EAGAIN otherwise, EPIPE at end of channel.
#[no_mangle]
pub extern "C" fn gh_chan_try_recv(c: gh_chan, item: *mut *mut c_void) -> c_int {
    call(-1, || {
        let v = sync::try_recv(handle(c)?)?;
        put(item, v as *mut c_void);
        Ok(0)
    })
}

/// Closes the channel: pending and later senders get EPIPE; receivers get what is buffered,
/// then EPIPE. The handle stays valid until gh_chan_free().
#[no_mangle]
pub extern "C" fn gh_chan_close(c: gh_chan) -> c_int {
    call(-1, || sync::channel_close(handle(c)?).map(|()| 0))
}

/// Writes the buffered item count, waiting senders and waiting receivers (any may be NULL).
#[no_mangle]
pub extern "C" fn gh_chan_stat(
    c: gh_chan,
    len: *mut i64,
    senders: *mut i64,
    receivers: *mut i64,
) -> c_int {
    call(-1, || {
        let (l, s, r) = sync::channel_stat(handle(c)?)?;
        put(len, l);
        put(senders, s);
        put(receivers, r);
        Ok(0)
    })
}

/// Destroys the channel; waiting threads fail with EBADF. Buffered items are dropped (not
/// freed: they are the caller's pointers).
#[no_mangle]
pub extern "C" fn gh_chan_free(c: gh_chan) -> c_int {
    call(-1, || sync::channel_free(handle(c)?).map(|()| 0))
}

/// Parks the calling thread until gh_unpark() names it, and writes the value given there to
/// `*value` (may be NULL). If an unpark came while it was not parked, returns at once with that
/// value. The thread's deadline and kill apply.
#[no_mangle]
pub extern "C" fn gh_park(value: *mut *mut c_void) -> c_int {
    call(-1, || {
        let v = sync::park()?;
        put(value, v as *mut c_void);
        Ok(0)
    })
}

/// Wakes thread `t` (0: the root) if it is parked in gh_park(), handing it `value`; otherwise
/// keeps `value` for its next gh_park() (one pending unpark; a later one replaces it). Threads
/// blocked in anything else are not disturbed. EBADF for an unknown or ended thread.
#[no_mangle]
pub extern "C" fn gh_unpark(t: gh_thread, value: *mut c_void) -> c_int {
    call(-1, || sync::unpark(handle(t)?, value as i64).map(|()| 0))
}

const _: () = assert!(std::mem::size_of::<*mut c_void>() <= std::mem::size_of::<i64>());
