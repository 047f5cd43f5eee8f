//! The HTTP connection object: which socket it speaks over, its limits, and where it is in the
//! exchange (request read, body read so far, response framing). Its bytes stay in the
//! socket's own read buffer, so a connection that switches protocols (Upgrade) or is freed
//! leaves the socket exactly where HTTP left it: the next gh_recv gets the bytes that follow.

use super::body::Body;
use super::head::{Limits, EXPECT_CONTINUE, HEAD, KEEP_ALIVE};
use super::response::Framing;
use crate::error::{Errno, Result};
use crate::runtime::{self, Cx, Hub, Object};

/// Where the exchange is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Between requests: the next call reads a request head.
    Idle,
    /// A request was read; its response is not complete yet.
    Request,
    /// The response is complete; the next read discards what is left of the body.
    Answered,
    /// No more requests: the connection closes (or switched protocols).
    Closed,
}

/// The response under way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Out {
    NotStarted,
    /// Head made (maybe not sent yet: see `HttpConn::pending`), body framed so.
    Body(Framing),
}

/// The small, copyable part of the state, taken out of the table for a call and put back.
#[derive(Clone, Copy, Debug)]
pub(crate) struct State {
    pub(crate) phase: Phase,
    /// The request's flags (head.rs) and HTTP minor version.
    pub(crate) flags: u32,
    pub(crate) minor: u8,
    pub(crate) body: Body,
    pub(crate) out: Out,
    /// `100 Continue` was sent (or need not be).
    pub(crate) continued: bool,
    /// The connection ends after the current response.
    pub(crate) close: bool,
}

impl State {
    pub(crate) fn new() -> State {
        State {
            phase: Phase::Idle,
            flags: 0,
            minor: 1,
            body: Body::Done,
            out: Out::NotStarted,
            continued: true,
            close: false,
        }
    }

    pub(crate) fn is_head(&self) -> bool {
        self.flags & HEAD != 0
    }

    /// The client waits for `100 Continue` and has not had it.
    pub(crate) fn continue_pending(&self) -> bool {
        self.flags & EXPECT_CONTINUE != 0 && !self.continued
    }

    /// Whether the connection may carry another request after this response: the request
    /// allows it, and what is left of its body can be skipped safely.
    pub(crate) fn may_keep_alive(&self) -> bool {
        let body_ok = match self.body.left() {
            Some(0) => true,
            // A client waiting for 100 Continue may never send the body we would skip.
            _ if self.continue_pending() => false,
            Some(n) => n <= DISCARD_MAX as u64,
            None => true, // chunked: skipped up to DISCARD_MAX, else closed
        };
        self.flags & KEEP_ALIVE != 0 && !self.close && body_ok
    }
}

/// Most unread body bytes skipped to reach the next request; past it the connection closes.
pub(crate) const DISCARD_MAX: usize = 256 << 10;

pub(crate) struct HttpConn {
    pub(crate) sock: u64,
    pub(crate) limits: Limits,
    pub(crate) st: State,
    /// A streaming response's head, kept to go out with the first body bytes (one send).
    pub(crate) pending: Vec<u8>,
}

impl Object for HttpConn {
    fn kind(&self) -> &'static str {
        "http connection"
    }

    /// Nothing to wake: a thread waits on the socket, never on the connection itself.
    fn close(self: Box<Self>, _cx: &mut Cx<'_>) {}
}

pub(crate) fn get(h: &mut Hub, id: u64) -> Result<&mut HttpConn> {
    h.objects.get_mut::<HttpConn>(id).ok_or(Errno(libc::EBADF))
}

/// The connection's socket and state, copied out for a call.
pub(crate) fn load(id: u64) -> Result<(u64, Limits, State)> {
    runtime::with(|h| {
        let c = get(h, id)?;
        Ok((c.sock, c.limits, c.st))
    })
}

/// Puts the state back after a call (EBADF if the connection was freed meanwhile).
pub(crate) fn store(id: u64, st: State) -> Result<()> {
    runtime::with(|h| {
        get(h, id)?.st = st;
        Ok(())
    })
}

/// Takes the pending head out (to send it), leaving an empty buffer with no capacity.
pub(crate) fn take_pending(id: u64) -> Result<Vec<u8>> {
    runtime::with(|h| Ok(std::mem::take(&mut get(h, id)?.pending)))
}

/// Gives a (cleared) buffer back, so its capacity serves the next response.
pub(crate) fn put_pending(id: u64, mut buf: Vec<u8>, keep: bool) {
    if !keep {
        buf.clear();
    }
    let _ = runtime::with(|h| {
        get(h, id)?.pending = buf;
        Ok(())
    });
}
