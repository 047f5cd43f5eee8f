//! Green waits on any file descriptor in C: poll(2) where only the calling thread waits.

use std::ffi::c_int;
use std::time::Duration;

use super::call;
use greenhub::net;
use greenhub::Errno;

/// Most entries gh_poll() takes (EINVAL past it).
pub const GH_POLL_MAX: usize = 65536;

const _: () = assert!(GH_POLL_MAX == net::POLL_MAX);

/// One entry of gh_poll(): the layout of poll(2)'s `struct pollfd`, so an array of those may
/// be passed (cast) as well.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct gh_pollfd {
    /// The file descriptor; a negative one is ignored (its revents set to 0).
    pub fd: c_int,
    /// What to wait for: POLLIN, POLLOUT, POLLPRI, POLLRDHUP (from <poll.h>).
    pub events: i16,
    /// What is ready, written by gh_poll(): the events above, POLLERR, POLLHUP, POLLNVAL.
    pub revents: i16,
}

const _: () = assert!(std::mem::size_of::<gh_pollfd>() == std::mem::size_of::<libc::pollfd>());

fn timeout_of(ms: i64) -> Option<Duration> {
    u64::try_from(ms).ok().map(Duration::from_millis)
}

/// Waits until one of the `nfds` entries of `fds` is ready, as poll(2) does, but only the
/// calling green thread waits. Any fd the program owns works (pipes, ttys, sockets greenhub
/// did not make, the fd of a gh_sock, an fd another thread or another epoll watches), and it
/// stays the program's: greenhub registers a duplicate of it for the wait's length only, so
/// several threads may wait on one fd (one to read, one to write) and closing the fd cannot
/// confuse the hub. Returns the count of entries with a non-zero `revents` (written to every
/// entry), as poll(2); a closed fd gives POLLNVAL. `timeout_ms` < 0 waits as long as needed, 0
/// never waits (EAGAIN if nothing is ready), > 0 fails a longer wait with ETIMEDOUT; the
/// thread's deadline and kill apply. A wait on an fd passed to gh_notify_close() fails with
/// EBADF. EINVAL if `nfds` > GH_POLL_MAX or `fds` is NULL with `nfds` > 0; EMFILE if the
/// duplicates cannot be made. Waiting costs a dup, two epoll_ctl and a close per fd; a ready
/// fd answers at once without them.
#[no_mangle]
pub extern "C" fn gh_poll(fds: *mut gh_pollfd, nfds: usize, timeout_ms: i64) -> c_int {
    call(-1, || {
        if nfds > GH_POLL_MAX || (fds.is_null() && nfds > 0) {
            return Err(Errno(libc::EINVAL));
        }
        let entries: &mut [libc::pollfd] = if nfds == 0 {
            &mut []
        } else {
            // SAFETY: non-NULL and, by the caller's promise, valid for `nfds` entries, whose
            // layout is struct pollfd's (asserted above; the fields are in the same order).
            unsafe { std::slice::from_raw_parts_mut(fds.cast(), nfds) }
        };
        Ok(net::poll(entries, timeout_of(timeout_ms))? as c_int)
    })
}

/// Waits until `fd` is ready for `events` (POLLIN, POLLOUT, ... as gh_poll()); returns its
/// revents (never 0). EBADF if `fd` is not open, or is passed to gh_notify_close() meanwhile;
/// timeouts as gh_poll(). The fd stays the caller's and may be waited on elsewhere too.
#[no_mangle]
pub extern "C" fn gh_wait_fd(fd: c_int, events: c_int, timeout_ms: i64) -> c_int {
    call(-1, || {
        if fd < 0 {
            return Err(Errno(libc::EBADF));
        }
        let events = i16::try_from(events).map_err(|_| Errno(libc::EINVAL))?;
        let mut entry = [libc::pollfd {
            fd,
            events,
            revents: 0,
        }];
        net::poll(&mut entry, timeout_of(timeout_ms))?;
        match entry[0].revents {
            r if r & libc::POLLNVAL != 0 => Err(Errno(libc::EBADF)),
            r => Ok(c_int::from(r)),
        }
    })
}

/// Says that the program closes `fd` (call it just before close(2)): every gh_poll() and
/// gh_wait_fd() of this OS thread's hub waiting on the file `fd` names fails with EBADF, and
/// the duplicates they hold are closed now, so the file is released when the program closes
/// its fd. A wait on an earlier file whose number `fd` reuses goes on. gh_close() does this
/// for a green socket's fd. Eventlet's hub.notify_close. EBADF if `fd` is negative.
#[no_mangle]
pub extern "C" fn gh_notify_close(fd: c_int) -> c_int {
    call(-1, || net::notify_close(fd).map(|()| 0))
}
