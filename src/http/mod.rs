//! HTTP/1.1 server connections over green sockets: request heads parsed in the socket's
//! buffer (`httparse`), bodies by Content-Length or chunked, keep-alive and pipelining,
//! `Expect: 100-continue`, HEAD, HTTP/1.0; responses framed by Content-Length or chunked.
//!
//! A connection is an object of the table ([`conn::HttpConn`]) naming its socket: a validated
//! handle, owned by the thread that made it (freed when it ends), holding the exchange's
//! state. Its bytes stay in the socket's read buffer, so the socket is usable as it is after
//! the connection is freed (a protocol switch, or a caller that reads the rest itself).
//!
//! One call reads a request head ([`read_request`]) into the caller's buffer; one call writes
//! a whole response ([`respond`]), or starts one whose body follows ([`write`], [`sendfile`]).
//! Refused heads are answered by the connection itself (400, 414, 431, 501, 505, with
//! `Connection: close`) and end it; the call fails with the errno of the refusal
//! ([`status_of_errno`]).

mod body;
mod conn;
mod head;
mod response;

use std::io::IoSlice;
use std::os::fd::RawFd;
use std::time::Duration;

use self::body::Body;
use self::conn::{HttpConn, Out, Phase, State, DISCARD_MAX};
use self::response::{Framing, HeadPlan};
use crate::error::{Errno, Result};
use crate::net::socket::{self, retry_io, transfer, Turn};
use crate::net::{self as gnet, SocketId};
use crate::runtime::{self, thread, Direction};
use crate::sys;

pub use head::{
    Limits, Request, Span, CHUNKED, EXPECT_CONTINUE, HEAD, HEADERS_MAX_LIMIT, HEAD_MAX_LIMIT,
    INDEX_ENTRY, KEEP_ALIVE, UPGRADE,
};

/// An HTTP connection handle.
pub type ConnId = u64;

/// The status a refused request head was answered with, given the errno the read failed with
/// (EPROTO 400, ENAMETOOLONG 414, EMSGSIZE 431, EOPNOTSUPP 501, EPROTONOSUPPORT 505).
pub fn status_of_errno(e: Errno) -> Option<u16> {
    head::status_of(e).map(|(status, _)| status)
}

/// Starts HTTP on socket `sock` (owned by the calling thread; the socket stays the caller's).
/// Sets TCP_NODELAY: responses go out whole, so Nagle's algorithm would only delay them.
pub fn open(sock: SocketId, limits: Limits) -> Result<ConnId> {
    limits.check()?;
    runtime::with(|h| {
        let fd = socket::get(h, sock)?.raw();
        // Not a TCP socket (a Unix one): nothing to set.
        let _ = sys::set_int_option(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, 1);
        let conn = HttpConn {
            sock,
            limits,
            st: State::new(),
            pending: Vec::new(),
        };
        h.adopt(conn).map_err(|_| Errno(libc::EMFILE))
    })
}

/// Frees the connection; its socket is left open, positioned after what HTTP consumed.
pub fn close(id: ConnId) -> Result<()> {
    runtime::with(|h| h.close::<HttpConn>(id))
}

/// Runs `f` with a deadline `timeout` from now (none: only the thread's own deadlines).
fn with_timeout<T>(timeout: Option<Duration>, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let Some(t) = timeout else { return f() };
    thread::deadline_push(Some(t))?;
    let r = f();
    let _ = thread::deadline_pop();
    r
}

/// Reads the next request head into `out` (see [`Request`] for the layout); `Ok(None)` when
/// the connection carries no more requests (the peer closed, or the last response closed it).
/// `timeout` bounds the whole read (idle wait included), the defence against slow clients.
/// Unread body of the previous request is skipped first (more than 256 KiB: `Ok(None)`).
pub fn read_request(
    id: ConnId,
    out: &mut [u8],
    timeout: Option<Duration>,
) -> Result<Option<Request>> {
    with_timeout(timeout, || {
        let (sock, limits, mut st) = conn::load(id)?;
        match st.phase {
            Phase::Closed => return Ok(None),
            Phase::Request => return Err(Errno(libc::EINVAL)), // its response is unfinished
            Phase::Answered if st.close => {
                st.phase = Phase::Closed;
                conn::store(id, st)?;
                return Ok(None);
            }
            Phase::Answered => {
                st.phase = Phase::Idle;
                if !skip_body(sock, &mut st.body) {
                    st.phase = Phase::Closed;
                    conn::store(id, st)?;
                    return Ok(None);
                }
                conn::store(id, st)?;
            }
            Phase::Idle => {}
        }
        let got = read_head(sock, &limits, out);
        st = match got {
            Ok(Some(req)) => State {
                phase: Phase::Request,
                flags: req.flags,
                minor: req.minor,
                body: Body::of(req.content_length),
                out: Out::NotStarted,
                continued: req.flags & EXPECT_CONTINUE == 0,
                close: false,
            },
            Ok(None) => State {
                phase: Phase::Closed,
                ..st
            },
            Err(e) if head::status_of(e).is_some() => {
                refuse(sock, e);
                State {
                    phase: Phase::Closed,
                    ..st
                }
            }
            // A buffer too small or misaligned: nothing consumed, try again.
            Err(Errno(libc::ERANGE | libc::EINVAL)) => st,
            // Timed out, killed, reset: a head cut in the middle cannot be resumed.
            Err(_) => {
                let empty = runtime::with(|h| Ok(socket::get(h, sock)?.rbuf.is_empty()));
                if !empty.unwrap_or(false) {
                    st.phase = Phase::Closed;
                }
                st
            }
        };
        conn::store(id, st)?;
        got
    })
}

/// Receives until the buffer holds a complete head, checking the limits on the way. A
/// request is served: the read takes the thread's turn (fair service, see `net::socket`).
fn read_head(sock: SocketId, limits: &Limits, out: &mut [u8]) -> Result<Option<Request>> {
    let mut scanned = 0;
    transfer(sock, Direction::Read, Turn::Fair, |s| {
        let mut drained = false; // the last receive was short (for the readiness memory)
        loop {
            let buf = s.rbuf.buffered();
            if buf.len() > scanned {
                if let Some(end) = head::find_end(buf, scanned) {
                    let req = head::parse(buf, end, limits, out)?;
                    s.rbuf.consume(end);
                    return Ok((Some(req), drained));
                }
                head::check_partial(buf, limits)?;
                scanned = buf.len();
            }
            // Receive again after a short receive too, though it most likely says EAGAIN: the
            // end of stream may be queued behind those bytes, its edge already consumed (as in
            // net::io's read-until).
            // 4 KiB holds most heads; a longer one doubles what each receive may take.
            let want = buf.len().clamp(4096, 64 << 10);
            let fd = s.raw();
            let n = sys::recv_append(fd, s.rbuf.spare(), want)?;
            if n == 0 {
                // The peer closed (mid-head: there is no request to answer).
                return Ok((None, false));
            }
            drained = s.drained_by(n, want);
        }
    })
}

/// Answers a refused head and lingers a moment, so the client reads the answer before the
/// close (closing with unread input would reset the connection and could lose it).
fn refuse(sock: SocketId, e: Errno) {
    let Some((status, reason)) = head::status_of(e) else {
        return;
    };
    let text =
        format!("HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    if gnet::sendall(sock, text.as_bytes()).is_err() {
        return;
    }
    let _ = gnet::shutdown(sock, libc::SHUT_WR);
    let _ = with_timeout(Some(LINGER), || {
        let mut scratch = [0u8; 4096];
        let mut drained = 0;
        while drained < LINGER_MAX {
            match gnet::recv(sock, &mut scratch)? {
                0 => break,
                n => drained += n,
            }
        }
        Ok(())
    });
}

/// How long and how much a refused connection's input is drained before it closes.
const LINGER: Duration = Duration::from_millis(500);
const LINGER_MAX: usize = 256 << 10;

/// Skips what is left of a body (at most [`DISCARD_MAX`] bytes); false if it could not be.
fn skip_body(sock: SocketId, st: &mut Body) -> bool {
    if *st == Body::Done {
        return true; // most requests: no scratch to zero (4 KiB per request otherwise)
    }
    let mut scratch = [0u8; 4096];
    let mut skipped = 0;
    while *st != Body::Done {
        if skipped > DISCARD_MAX {
            return false;
        }
        match retry_io(sock, Direction::Read, |s| body::read(s, st, &mut scratch)) {
            Ok(n) => skipped += n,
            Err(_) => return false,
        }
    }
    true
}

/// Reads some of the request's body into `out` (not empty: EINVAL); `Ok(0)` at its end. The
/// first read of a request that expects `100 Continue` sends it, unless the response has
/// begun. A malformed chunked body fails with EPROTO, one the client cut short with
/// ECONNRESET; either ends the connection after the response.
pub fn read_body(id: ConnId, out: &mut [u8], timeout: Option<Duration>) -> Result<usize> {
    if out.is_empty() {
        return Err(Errno(libc::EINVAL));
    }
    with_timeout(timeout, || {
        let (sock, _, mut st) = conn::load(id)?;
        match st.phase {
            Phase::Request | Phase::Answered => {}
            Phase::Idle => return Err(Errno(libc::EINVAL)),
            Phase::Closed => return Ok(0),
        }
        if st.continue_pending() && st.out == Out::NotStarted {
            gnet::sendall(sock, b"HTTP/1.1 100 Continue\r\n\r\n")?;
            st.continued = true;
        }
        let r = retry_io(sock, Direction::Read, |s| body::read(s, &mut st.body, out));
        if let Err(Errno(libc::EPROTO | libc::ECONNRESET)) = r {
            st.body = Body::Done;
            st.close = true;
        }
        conn::store(id, st)?;
        r
    })
}

/// A response: status (100-999; of the 1xx only 101), reason phrase (empty: the standard
/// one), the caller's header fields as lines `name: value\r\n`.
#[derive(Clone, Copy, Debug)]
pub struct Response<'a> {
    pub status: u16,
    pub reason: &'a [u8],
    pub fields: &'a [u8],
}

/// Writes a response to the current request: its head and `body` (the whole body), or with
/// `more` the head of a body that [`write`] and [`sendfile`] continue. The connection adds
/// Date (unless given), the framing (Content-Length, or chunked for a body of unknown length;
/// HTTP/1.0 then ends the body by closing) and `Connection: close` when this response ends
/// the connection. A head of a streamed body is sent with its first bytes.
pub fn respond(
    id: ConnId,
    r: &Response<'_>,
    body: &[u8],
    more: bool,
    timeout: Option<Duration>,
) -> Result<()> {
    let valid_status = (200..=999).contains(&r.status) || r.status == 101;
    let bad_reason = r
        .reason
        .iter()
        .any(|&b| b < b' ' && b != b'\t' || b == 0x7f);
    if !valid_status || bad_reason {
        return Err(Errno(libc::EINVAL));
    }
    let given = response::check_fields(r.fields)?;
    with_timeout(timeout, || {
        let (sock, _, mut st) = conn::load(id)?;
        if st.phase != Phase::Request || st.out != Out::NotStarted {
            return Err(Errno(libc::EINVAL));
        }
        let upgrade = r.status == 101;
        let more = more && !upgrade;
        let mut head = conn::take_pending(id)?;
        head.clear();
        let plan = HeadPlan {
            status: r.status,
            reason: r.reason,
            fields: r.fields,
            given: &given,
            length: (!more).then_some(body.len() as u64),
            head: st.is_head(),
            minor: st.minor,
            close: !st.may_keep_alive(),
        };
        let (framing, close) = plan.write(&mut head);
        if let (false, Framing::Length(n)) = (more, framing) {
            if n != body.len() as u64 {
                conn::put_pending(id, head, false);
                return Err(Errno(libc::EINVAL)); // Content-Length says otherwise
            }
        }
        st.out = Out::Body(framing);
        st.close = close || upgrade;
        if more {
            conn::put_pending(id, head, true);
            return conn::store(id, st);
        }
        let sent = send_piece(sock, &head, framing, body, true);
        conn::put_pending(id, head, false);
        finish(id, st, upgrade, sent)
    })
}

/// Sends a head (maybe empty) and one piece of body as framed; `last` ends the body.
fn send_piece(
    sock: SocketId,
    head: &[u8],
    framing: Framing,
    data: &[u8],
    last: bool,
) -> Result<()> {
    let mut size = [0u8; 20];
    let size_len = if framing == Framing::Chunked {
        chunk_size_line(data.len(), &mut size)
    } else {
        0
    };
    let mut bufs: [IoSlice<'_>; 5] = [
        IoSlice::new(head),
        IoSlice::new(&[]),
        IoSlice::new(&[]),
        IoSlice::new(&[]),
        IoSlice::new(&[]),
    ];
    match framing {
        Framing::Bodiless => {}
        Framing::Length(_) | Framing::UntilClose => bufs[1] = IoSlice::new(data),
        Framing::Chunked => {
            if !data.is_empty() {
                bufs[1] = IoSlice::new(&size[..size_len]);
                bufs[2] = IoSlice::new(data);
                bufs[3] = IoSlice::new(b"\r\n");
            }
            if last {
                bufs[4] = IoSlice::new(b"0\r\n\r\n");
            }
        }
    }
    gnet::sendall_vectored(sock, &mut bufs, false)
}

/// Writes `"<hex size>\r\n"` into `out`; returns its length.
fn chunk_size_line(n: usize, out: &mut [u8; 20]) -> usize {
    let digits = (usize::BITS - n.leading_zeros()).div_ceil(4).max(1) as usize;
    for (i, slot) in out[..digits].iter_mut().enumerate() {
        let nibble = (n >> (4 * (digits - 1 - i))) & 0xf;
        *slot = b"0123456789abcdef"[nibble];
    }
    out[digits..digits + 2].copy_from_slice(b"\r\n");
    digits + 2
}

/// After the last piece of a response (or its failure): the request is answered.
fn finish(id: ConnId, mut st: State, upgrade: bool, sent: Result<()>) -> Result<()> {
    st.phase = if upgrade {
        Phase::Closed
    } else {
        Phase::Answered
    };
    if sent.is_err() {
        st.close = true; // a response cut in the middle: the connection cannot go on
    }
    conn::store(id, st)?;
    sent
}

/// The state of a response whose body is being written: EINVAL if there is none.
fn streaming(id: ConnId) -> Result<(SocketId, State, Framing)> {
    let (sock, _, st) = conn::load(id)?;
    match (st.phase, st.out) {
        (Phase::Request, Out::Body(framing)) => Ok((sock, st, framing)),
        _ => Err(Errno(libc::EINVAL)),
    }
}

/// Writes the next piece of a body started by [`respond`] with `more` (a chunk when chunked);
/// without `more` it is the last (with chunked, the zero chunk follows). More bytes than a
/// given Content-Length has left: EINVAL, nothing sent. A body that ends short of its
/// Content-Length ends the connection after it.
pub fn write(id: ConnId, data: &[u8], more: bool, timeout: Option<Duration>) -> Result<()> {
    with_timeout(timeout, || {
        let (sock, mut st, framing) = streaming(id)?;
        let framing = match framing {
            Framing::Length(left) if data.len() as u64 > left => return Err(Errno(libc::EINVAL)),
            Framing::Length(left) => Framing::Length(left - data.len() as u64),
            other => other,
        };
        if !more && matches!(framing, Framing::Length(left) if left > 0) {
            st.close = true;
        }
        st.out = Out::Body(framing);
        let head = conn::take_pending(id)?;
        if more && framing == Framing::Bodiless {
            conn::put_pending(id, head, true); // a HEAD response: the head goes at the end
            return conn::store(id, st);
        }
        let sent = send_piece(sock, &head, framing, data, !more);
        conn::put_pending(id, head, false);
        if more && sent.is_ok() {
            return conn::store(id, st);
        }
        finish(id, st, false, sent)
    })
}

/// Sends `count` bytes of file `fd` from `offset` as the next piece of a body started by
/// [`respond`] with `more`, with [`crate::fs::sendfile`] (page-cache data without a copy, the
/// rest through the thread pool); as [`write`] otherwise. Returns the bytes sent: fewer than
/// `count` if the file ended first, which ends the connection after the response.
pub fn sendfile(
    id: ConnId,
    fd: RawFd,
    offset: i64,
    count: usize,
    more: bool,
    timeout: Option<Duration>,
) -> Result<usize> {
    if fd < 0 {
        return Err(Errno(libc::EBADF));
    }
    if offset < 0 {
        return Err(Errno(libc::EINVAL));
    }
    with_timeout(timeout, || {
        let (sock, mut st, framing) = streaming(id)?;
        if let Framing::Length(left) = framing {
            if count as u64 > left {
                return Err(Errno(libc::EINVAL));
            }
        }
        let head = conn::take_pending(id)?;
        if framing == Framing::Bodiless {
            if more {
                conn::put_pending(id, head, true);
                return Ok(count);
            }
            let sent = send_piece(sock, &head, framing, &[], true);
            conn::put_pending(id, head, false);
            return finish(id, st, false, sent).map(|()| count);
        }
        let result = send_file_piece(sock, &head, framing, fd, offset, count, !more);
        conn::put_pending(id, head, false);
        let sent = match result {
            Ok(n) => n,
            Err(e) => return finish(id, st, false, Err(e)).map(|()| 0),
        };
        st.out = Out::Body(match framing {
            Framing::Length(left) => Framing::Length(left - sent as u64),
            other => other,
        });
        let short =
            sent < count || (!more && matches!(st.out, Out::Body(Framing::Length(l)) if l > 0));
        if short {
            st.close = true;
        }
        if more && !short {
            conn::store(id, st)?;
            return Ok(sent);
        }
        // A chunk shorter than its size line cannot be mended: end the response here.
        finish(id, st, false, Ok(())).map(|()| sent)
    })
}

/// Head (corked with MSG_MORE), then the file; chunked: inside a chunk of `count` bytes.
fn send_file_piece(
    sock: SocketId,
    head: &[u8],
    framing: Framing,
    fd: RawFd,
    offset: i64,
    count: usize,
    last: bool,
) -> Result<usize> {
    let chunked = framing == Framing::Chunked;
    let mut size = [0u8; 20];
    let size_len = if chunked && count > 0 {
        chunk_size_line(count, &mut size)
    } else {
        0
    };
    let mut bufs = [IoSlice::new(head), IoSlice::new(&size[..size_len])];
    if count > 0 {
        gnet::sendall_vectored(sock, &mut bufs, true)?;
    }
    let sent = if count > 0 {
        crate::fs::sendfile(sock, fd, offset, count)?
    } else {
        0
    };
    if chunked && sent < count {
        return Ok(sent); // the chunk is short: the caller ends the connection
    }
    let tail: &[u8] = match (chunked, count > 0, last) {
        (true, true, true) => b"\r\n0\r\n\r\n",
        (true, true, false) => b"\r\n",
        (true, false, true) => b"0\r\n\r\n",
        _ => b"",
    };
    let mut bufs = [
        IoSlice::new(if count > 0 { &[] } else { head }),
        IoSlice::new(tail),
    ];
    gnet::sendall_vectored(sock, &mut bufs, false)?;
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use crate::http::chunk_size_line;

    #[test]
    fn chunk_size_lines_are_lower_hex() {
        let mut out = [0u8; 20];
        for (n, want) in [
            (0, "0\r\n"),
            (5, "5\r\n"),
            (16, "10\r\n"),
            (0xabc, "abc\r\n"),
        ] {
            let len = chunk_size_line(n, &mut out);
            assert_eq!(&out[..len], want.as_bytes());
        }
        let len = chunk_size_line(usize::MAX, &mut out);
        assert_eq!(&out[..len], b"ffffffffffffffff\r\n");
    }
}
