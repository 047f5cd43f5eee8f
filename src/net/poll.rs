//! Green waits on any file descriptor the program owns (pipes, ttys, sockets greenhub did not
//! make, an fd also watched elsewhere): poll(2) where only the calling green thread waits.
//!
//! Why each wait registers a duplicate of the fd, never the fd itself. epoll keys a
//! registration on the pair (fd number, open file description), and the kernel drops it only
//! when the last fd naming that description closes; so registering the program's own number:
//! - fails (EEXIST) when that number is already registered with this hub (a greenhub socket's
//!   fd), or conflicts with the other waiter of two green threads waiting on one fd;
//! - goes stale when the program closes the fd: the kernel drops the registration silently
//!   if no dup is left, and a later epoll_ctl(DEL) on the same number would remove the
//!   registration of whatever file reuses it (a greenhub socket made meanwhile would stop
//!   waking its threads);
//! - takes the fd over, which the program never asked for.
//!
//! A dup (F_DUPFD_CLOEXEC) is a number this module alone owns for the same description: its
//! registration is separate from every other one (another waiter's, a socket's, another
//! epoll's), nothing the program does to its own number can touch it, and deregistering it
//! before closing it can only ever remove our own registration. The costs: a dup, an
//! epoll_ctl ADD and DEL and a close per wait that has to wait at all (a poll(2) without
//! waiting comes first and answers ready fds at once), and, while a wait lasts, the file
//! description stays open even if the program closes its fd.
//!
//! Closing an fd someone waits on. No kernel interface says "this fd was closed", so the
//! program says it (Eventlet's `hub.notify_close`): [`notify_close`] ends every wait on that
//! fd with EBADF and closes their duplicates at once, so the file is released as soon as the
//! program closes its own fd. Closing a green socket does it for the socket's fd. Without it a wait goes on on the open file description (never on
//! a new file that reuses the number) until it is ready, times out or is killed; nothing spins.
//!
//! Readiness is edge-triggered (mio), but a new registration reports the current state once,
//! and every wake-up is checked with a poll(2) before it is believed, so a wake for the other
//! direction (or for a state that has passed) only means waiting again.

use std::cell::RefCell;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use crate::error::{Errno, Result};
use crate::runtime::driver::Driver;
use crate::runtime::{self, Direction, Hub, Sched, Wait, Waiter, Wake};
use crate::sys;

/// Most file descriptors one [`poll`] takes (EINVAL past it).
pub const POLL_MAX: usize = 65536;

/// Events a wait may ask for beyond reading and writing; POLLERR, POLLHUP and POLLNVAL are
/// always reported, as poll(2) does.
const READ_EVENTS: i16 = libc::POLLIN | libc::POLLPRI | libc::POLLRDHUP;

/// One registered duplicate: the program's fd, the file it named then, our dup, its I/O slot.
struct Reg {
    fd: RawFd,
    file: (u64, u64),
    dup: OwnedFd,
    slot: u64,
}

/// A wait in progress: its registrations and its current waiter.
struct Watch {
    id: u64,
    waiter: Waiter,
    regs: Vec<Reg>,
}

#[derive(Default)]
struct Watches {
    next: u64,
    live: Vec<Watch>,
}

thread_local! {
    /// This hub's waits in progress (hubs are per OS thread, and so is this list). A short
    /// list: one entry per green thread waiting here.
    static WATCHES: RefCell<Watches> = RefCell::new(Watches::default());
}

/// Waits until one of `fds` is ready for what its `events` ask (POLLIN, POLLOUT, POLLPRI,
/// POLLRDHUP), as poll(2) would; fills every `revents` and returns how many are non-zero. Entries
/// with a negative fd are ignored. `timeout`: `None` waits as long as needed, zero never
/// waits (EAGAIN if nothing is ready), otherwise ETIMEDOUT after it. The thread's deadline and
/// kill apply; a wait on an fd passed to [`notify_close`] fails with EBADF.
pub fn poll(fds: &mut [libc::pollfd], timeout: Option<Duration>) -> Result<usize> {
    if fds.len() > POLL_MAX {
        return Err(Errno(libc::EINVAL));
    }
    let deadline = timeout.map(|t| Instant::now() + t);
    let ready = sys::poll_now(fds)?;
    if ready > 0 {
        return Ok(ready);
    }
    if timeout.is_some_and(|t| t.is_zero()) {
        return Err(Errno(libc::EAGAIN));
    }
    let id = runtime::with(|h| register(h, fds, deadline))?;
    let outcome = wait_loop(id, fds, deadline);
    runtime::with(|h| {
        if let Some(watch) = take_watch(|w| w.id == id) {
            release(&mut h.driver, watch.regs);
        }
        Ok(())
    })?;
    outcome
}

/// Waits and checks until something is ready or the wait fails.
fn wait_loop(id: u64, fds: &mut [libc::pollfd], deadline: Option<Instant>) -> Result<usize> {
    loop {
        let waiter = WATCHES.with(|w| {
            let w = w.borrow();
            w.live.iter().find(|w| w.id == id).map(|w| w.waiter)
        });
        // Gone: notify_close took it (and woke the waiter with EBADF, seen below).
        runtime::wait(waiter.ok_or(Errno(libc::EBADF))?)?;
        let ready = sys::poll_now(fds)?;
        if ready > 0 {
            return Ok(ready);
        }
        // Woken for the other direction or a state that has passed: wait again.
        runtime::with(|h| rearm(h, id, fds, deadline))?;
    }
}

/// Duplicates and registers every fd of `fds`, and starts the first wait; returns the watch.
fn register(h: &mut Hub, fds: &[libc::pollfd], deadline: Option<Instant>) -> Result<u64> {
    let mut regs = Vec::with_capacity(fds.len());
    for p in fds.iter().filter(|p| p.fd >= 0) {
        let added = sys::dup(p.fd).and_then(|dup| {
            let file = sys::file_id(dup.as_raw_fd())?;
            let slot = h.driver.register(dup.as_raw_fd())?;
            Ok(Reg {
                fd: p.fd,
                file,
                dup,
                slot,
            })
        });
        match added {
            Ok(reg) => regs.push(reg),
            Err(e) => {
                release(&mut h.driver, regs);
                return Err(e);
            }
        }
    }
    let waiter = match begin(h, &regs, fds, deadline) {
        Ok(waiter) => waiter,
        Err(e) => {
            release(&mut h.driver, regs);
            return Err(e);
        }
    };
    Ok(WATCHES.with(|w| {
        let mut w = w.borrow_mut();
        w.next += 1;
        let id = w.next;
        w.live.push(Watch { id, waiter, regs });
        id
    }))
}

/// Starts a wait of the running thread and makes it the waiter of each registration in the
/// directions its entry asks for.
fn begin(
    h: &mut Hub,
    regs: &[Reg],
    fds: &[libc::pollfd],
    deadline: Option<Instant>,
) -> Result<Waiter> {
    let waiter = h.sched.begin_wait(Wait::external("poll", 0), deadline)?;
    let asked = fds.iter().filter(|p| p.fd >= 0);
    for (reg, p) in regs.iter().zip(asked) {
        let slot = h.driver.slot(reg.slot)?;
        // Errors and hang-ups wake the reader too: a wait asking for nothing else gets them.
        if p.events & READ_EVENTS != 0 || p.events & libc::POLLOUT == 0 {
            *slot.waiter(Direction::Read) = Some(waiter);
        }
        if p.events & libc::POLLOUT != 0 {
            *slot.waiter(Direction::Write) = Some(waiter);
        }
    }
    Ok(waiter)
}

/// Starts the next wait of watch `id` on the registrations it has (EBADF if it was closed).
fn rearm(h: &mut Hub, id: u64, fds: &[libc::pollfd], deadline: Option<Instant>) -> Result<()> {
    let Some(watch) = take_watch(|w| w.id == id) else {
        return Err(Errno(libc::EBADF));
    };
    match begin(h, &watch.regs, fds, deadline) {
        Ok(waiter) => {
            WATCHES.with(|w| w.borrow_mut().live.push(Watch { waiter, ..watch }));
            Ok(())
        }
        Err(e) => {
            release(&mut h.driver, watch.regs);
            Err(e)
        }
    }
}

fn take_watch(pred: impl Fn(&Watch) -> bool) -> Option<Watch> {
    WATCHES.with(|w| {
        let mut w = w.borrow_mut();
        let i = w.live.iter().position(pred)?;
        Some(w.live.swap_remove(i))
    })
}

/// Deregisters each duplicate, then closes it (dropping it), in that order (see the top).
fn release(driver: &mut Driver, regs: Vec<Reg>) {
    for reg in regs {
        driver.deregister(reg.slot, reg.dup.as_raw_fd());
    }
}

/// The program is about to close `fd` (or has): every wait on it in this hub ends with EBADF,
/// and their duplicates are closed now, so the file is not kept open by a wait.
pub fn notify_close(fd: RawFd) -> Result<()> {
    if fd < 0 {
        return Err(Errno(libc::EBADF));
    }
    runtime::with(|h| {
        closing(&mut h.sched, &mut h.driver, fd);
        Ok(())
    })
}

/// [`notify_close`] for a caller that holds the hub's parts: a green socket closing its fd.
/// Only waits on the file `fd` names now are ended: a wait on an fd closed earlier whose
/// number `fd` reuses goes on (on its own file). Nothing is asked of the kernel while no
/// thread waits.
pub(crate) fn closing(sched: &mut Sched, driver: &mut Driver, fd: RawFd) {
    if WATCHES.with(|w| w.borrow().live.is_empty()) {
        return;
    }
    // Already closed (announced late): match the number alone.
    let file = sys::file_id(fd).ok();
    let named = |r: &Reg| r.fd == fd && file.is_none_or(|f| f == r.file);
    while let Some(watch) = take_watch(|w| w.regs.iter().any(named)) {
        sched.wake(watch.waiter, Wake::Closed);
        release(driver, watch.regs);
    }
}
