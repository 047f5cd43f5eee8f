//! The I/O driver: the mio poller and a table of I/O slots. A resource that waits on a file
//! descriptor registers it and gets a slot key; the slot owns the fd's reader and writer
//! waiters, and readiness wakes them. The driver never learns what the fd is.
//!
//! mio rules kept here: each fd is registered once (readable and writable, edge-triggered)
//! and stays registered until it is deregistered, which its owner does before closing it (a
//! dup'd fd would otherwise keep the registration alive); I/O is always tried first and a
//! thread waits only after EAGAIN (the owner's job).

use std::os::fd::RawFd;
use std::sync::Arc;
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};

use super::inbox::Inbox;
use super::table::{Class, Table};
use super::task::Waiter;
use crate::error::{Errno, Result};

/// Token of the inbox's waker; slot tokens are slot keys, which never reach this value.
const INBOX_TOKEN: Token = Token(usize::MAX);
/// Token of the dump signal's eventfd (shared by every hub; see `sys::install_dump_handler`).
const DUMP_TOKEN: Token = Token(usize::MAX - 1);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Direction {
    Read,
    Write,
}

/// The waiters of one registered fd: at most one per direction.
#[derive(Default)]
pub(crate) struct IoSlot {
    reader: Option<Waiter>,
    writer: Option<Waiter>,
}

impl IoSlot {
    pub(crate) fn waiter(&mut self, dir: Direction) -> &mut Option<Waiter> {
        match dir {
            Direction::Read => &mut self.reader,
            Direction::Write => &mut self.writer,
        }
    }
}

pub(crate) struct Driver {
    poll: Poll,
    events: Events,
    slots: Table<IoSlot>,
    inbox: Arc<Inbox>,
}

/// What one poll found: ready slots' waiters to wake with Ready.
pub(crate) enum Polled {
    Woken(Waiter),
    Failed(std::io::Error),
}

impl Driver {
    /// A driver whose slot keys carry no hub tag yet (see [`Driver::set_tag`]).
    pub(crate) fn new() -> Result<Driver> {
        let poll = Poll::new()?;
        let inbox = Arc::new(Inbox::new(poll.registry(), INBOX_TOKEN)?);
        Ok(Driver {
            poll,
            events: Events::with_capacity(1024),
            slots: Table::new(Class::IoSlot, 1),
            inbox,
        })
    }

    /// Gives the driver its hub's tag, before any fd is registered.
    pub(crate) fn set_tag(&mut self, hub_tag: u16) {
        self.slots = Table::new(Class::IoSlot, hub_tag);
    }

    /// Polls the dump signal's eventfd too, so a signal wakes a hub waiting in epoll.
    pub(crate) fn watch_dump_signal(&mut self) {
        if let Some(fd) = crate::sys::dump_wake_fd() {
            let _ =
                self.poll
                    .registry()
                    .register(&mut SourceFd(&fd), DUMP_TOKEN, Interest::READABLE);
        }
    }

    /// The inbox other OS threads post completions to.
    pub(crate) fn inbox(&self) -> &Arc<Inbox> {
        &self.inbox
    }

    /// Registers `fd` (readable and writable, edge-triggered); returns its slot key.
    pub(crate) fn register(&mut self, fd: RawFd) -> Result<u64> {
        let key = self.slots.insert(IoSlot::default())?;
        let interest = Interest::READABLE | Interest::WRITABLE;
        if let Err(err) =
            self.poll
                .registry()
                .register(&mut SourceFd(&fd), Token(key as usize), interest)
        {
            self.slots.remove(key);
            return Err(err.into());
        }
        Ok(key)
    }

    /// Deregisters `fd` and frees its slot; returns the waiters it had (to wake with EBADF).
    pub(crate) fn deregister(&mut self, key: u64, fd: RawFd) -> [Option<Waiter>; 2] {
        let _ = self.poll.registry().deregister(&mut SourceFd(&fd));
        match self.slots.remove(key) {
            Some(slot) => [slot.reader, slot.writer],
            None => [None, None],
        }
    }

    pub(crate) fn slot(&mut self, key: u64) -> Result<&mut IoSlot> {
        self.slots.get_mut(key).ok_or(Errno(libc::EBADF))
    }

    /// Polls once, waiting at most `timeout`; hands every waiter made ready (and every
    /// completion posted to the inbox) to `wake`.
    pub(crate) fn poll(&mut self, timeout: Option<Duration>, mut wake: impl FnMut(Polled)) {
        if let Err(err) = self.poll.poll(&mut self.events, timeout) {
            if err.kind() != std::io::ErrorKind::Interrupted {
                wake(Polled::Failed(err));
            }
            return;
        }
        for event in self.events.iter() {
            if event.token() == INBOX_TOKEN {
                for waiter in self.inbox.take() {
                    wake(Polled::Woken(waiter));
                }
                continue;
            }
            if event.token() == DUMP_TOKEN {
                crate::sys::drain_dump_wake_fd(); // the loop compares the request count
                continue;
            }
            let Some(slot) = self.slots.get_mut(event.token().0 as u64) else {
                continue; // deregistered since the event was queued
            };
            let read = event.is_readable() || event.is_read_closed() || event.is_error();
            let write = event.is_writable() || event.is_write_closed() || event.is_error();
            if read {
                if let Some(w) = slot.reader.take() {
                    wake(Polled::Woken(w));
                }
            }
            if write {
                if let Some(w) = slot.writer.take() {
                    wake(Polled::Woken(w));
                }
            }
        }
    }
}
