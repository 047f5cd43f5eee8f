//! HTTP/1.1 server connections in C.
//!
//! A gh_http is the HTTP side of a connected green socket: gh_http_new() starts it,
//! gh_http_read_request() reads one request head in one call, gh_http_read_body() its body,
//! and gh_http_respond() writes a whole response in one call, or the head of one whose body
//! gh_http_write() / gh_http_sendfile() continue. Keep-alive, pipelining, HEAD, HTTP/1.0,
//! `Expect: 100-continue`, chunked bodies both ways, and the defences against request
//! smuggling are the connection's job. Every call that may wait takes `timeout_ms` last: < 0
//! no limit of its own, otherwise the call fails with ETIMEDOUT once that many milliseconds
//! have passed (the socket's timeout, the thread's deadline and kill apply as well).

use std::ffi::{c_char, c_int, c_void, CStr};

use super::sync::timeout;
use super::{call, gh_sock, handle, in_buf, out_buf, ssize};
use greenhub::http::{self, Limits, Request, Response};
use greenhub::Errno;

/// An HTTP connection handle (> 0). Freed, stale or foreign handles give EBADF.
#[allow(non_camel_case_types)]
pub type gh_http = i64;

/// The request may be followed by another on the connection (HTTP/1.1 without
/// `Connection: close`, or HTTP/1.0 with `Connection: keep-alive`).
pub const GH_HTTP_KEEP_ALIVE: u32 = 1;
/// The request body is chunked: its length is unknown (content_length is -1).
pub const GH_HTTP_CHUNKED: u32 = 2;
/// The client sent `Expect: 100-continue`; the first gh_http_read_body() answers it.
pub const GH_HTTP_EXPECT_CONTINUE: u32 = 4;
/// The method is HEAD: the response's body is not sent (its length is).
pub const GH_HTTP_HEAD: u32 = 8;
/// The client asks to switch protocols (`Connection: upgrade` and an `Upgrade` field).
pub const GH_HTTP_UPGRADE: u32 = 16;

/// Flag of gh_http_respond(), gh_http_write() and gh_http_sendfile(): more body follows.
pub const GH_HTTP_MORE: c_int = 1;

/// A buffer this large holds any request head the default limits let through (the head's
/// 64 KiB and the index of 100 fields): gh_http_read_request() never fails with ERANGE.
pub const GH_HTTP_REQUEST_BUF: usize = 64 * 1024 + 100 * 16;

/// A part of the buffer given to gh_http_read_request(): `off` bytes from its start, `len`
/// bytes long.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct gh_http_span {
    pub off: u32,
    pub len: u32,
}

/// One header field in the index at the start of gh_http_read_request()'s buffer: the offsets
/// and lengths of its name (as sent) and its value (without surrounding spaces and tabs).
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct gh_http_header {
    pub name: u32,
    pub name_len: u32,
    pub value: u32,
    pub value_len: u32,
}

/// A request head, as gh_http_read_request() laid it out in the caller's buffer.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct gh_http_request {
    /// The method ("GET").
    pub method: gh_http_span,
    /// The request target as sent ("/a%20b?x=1"): neither decoded nor normalised.
    pub target: gh_http_span,
    /// The header fields, each as a line `name: value\r\n` (a binding may split them in one
    /// pass instead of reading the index).
    pub fields: gh_http_span,
    /// How many gh_http_header entries the index at offset 0 holds.
    pub nheaders: u32,
    /// 10 for HTTP/1.0, 11 for HTTP/1.1.
    pub version: u32,
    /// GH_HTTP_KEEP_ALIVE, GH_HTTP_CHUNKED, GH_HTTP_EXPECT_CONTINUE, GH_HTTP_HEAD,
    /// GH_HTTP_UPGRADE.
    pub flags: u32,
    /// The body's length in bytes (0: none); -1 when chunked.
    pub content_length: i64,
}

/// Limits of gh_http_new(); a field of 0 takes its default.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct gh_http_limits {
    /// Longest request line, without its CRLF (default 8192; longer: 414).
    pub request_line_max: u32,
    /// Longest head: request line and header fields (default 65536, at most 1 MiB; longer: 431).
    pub head_max: u32,
    /// Most header fields (default 100, at most 1024; more: 431).
    pub headers_max: u32,
}

// The flags are the Rust API's (cbindgen needs the values spelled out).
const _: () = assert!(
    GH_HTTP_KEEP_ALIVE == http::KEEP_ALIVE
        && GH_HTTP_CHUNKED == http::CHUNKED
        && GH_HTTP_EXPECT_CONTINUE == http::EXPECT_CONTINUE
        && GH_HTTP_HEAD == http::HEAD
        && GH_HTTP_UPGRADE == http::UPGRADE
        && std::mem::size_of::<gh_http_header>() == http::INDEX_ENTRY
);

fn more(flags: c_int) -> greenhub::Result<bool> {
    match flags {
        0 => Ok(false),
        GH_HTTP_MORE => Ok(true),
        _ => Err(Errno(libc::EINVAL)),
    }
}

/// Starts HTTP on the connected socket `sock`, a server's side of the connection, with
/// `limits` (NULL: the defaults). The socket stays the caller's (close it after
/// gh_http_free()); the connection belongs to the calling thread and is freed when it ends.
/// Sets TCP_NODELAY on the socket: every response goes out whole, so Nagle's algorithm could
/// only delay it. EBADF if `sock` is not a live socket; EINVAL for limits past their maximum
/// (or a request line longer than the head).
#[no_mangle]
pub extern "C" fn gh_http_new(sock: gh_sock, limits: *const gh_http_limits) -> gh_http {
    call(-1, || {
        let mut l = Limits::default();
        if !limits.is_null() {
            // SAFETY: non-NULL, and the caller promises it points to a gh_http_limits.
            let given = unsafe { &*limits };
            let pick = |v: u32, d: usize| if v == 0 { d } else { v as usize };
            l = Limits {
                request_line_max: pick(given.request_line_max, l.request_line_max),
                head_max: pick(given.head_max, l.head_max),
                headers_max: pick(given.headers_max, l.headers_max),
            };
        }
        Ok(http::open(handle(sock)?, l)? as gh_http)
    })
}

/// Frees the connection. Its socket is left open and positioned after what HTTP consumed:
/// after a `101 Switching Protocols` response, gh_recv() reads what the client sent next.
#[no_mangle]
pub extern "C" fn gh_http_free(c: gh_http) -> c_int {
    call(-1, || http::close(handle(c)?).map(|()| 0))
}

/// Reads the next request head. Returns the bytes of `buf` it used (> 0), with `*req`
/// describing them; 0 when the connection carries no more requests (the client closed, or
/// the last response ended the connection: close the socket).
///
/// Layout of `buf` (which must be 4-byte aligned, EINVAL otherwise): at offset 0 the index,
/// `req->nheaders` gh_http_header entries; then the method, the target and the fields, which
/// `req`'s spans locate. ERANGE if `len` cannot hold it all (nothing is consumed: call again
/// with a larger buffer; GH_HTTP_REQUEST_BUF bytes always do with the default limits).
///
/// Body framing is decided here: `req->content_length` and `req->flags`. What is left unread
/// of the previous request's body is skipped first (up to 256 KiB; past that the connection
/// ends: 0). Calling it before the previous request's response is complete: EINVAL.
///
/// A head that is refused is answered by the connection itself, with `Connection: close`,
/// and the call fails with the refusal's errno (gh_http_error_status() gives the status):
/// EPROTO 400 (malformed; Content-Length with Transfer-Encoding; Content-Lengths that
/// differ; Transfer-Encoding other than chunked alone, or in HTTP/1.0; obs-fold; no Host in
/// HTTP/1.1), ENAMETOOLONG 414 (request line too long), EMSGSIZE 431 (head too large or
/// too many fields), EOPNOTSUPP 501 (a transfer coding under chunked), EPROTONOSUPPORT 505
/// (not HTTP/1.x). The answer is followed by a shutdown of the sending side and up to 500 ms
/// of draining what the client still sends, so closing does not reset the connection before
/// the client has read it. The connection then takes no more requests: close the socket.
///
/// `timeout_ms` bounds the whole read, the wait for a request's first byte included: a
/// client that sends its head slowly (slowloris) fails it with ETIMEDOUT. A timeout with part
/// of a head received ends the connection (later calls return 0).
#[no_mangle]
pub extern "C" fn gh_http_read_request(
    c: gh_http,
    buf: *mut c_void,
    len: usize,
    req: *mut gh_http_request,
    timeout_ms: i64,
) -> libc::ssize_t {
    call(-1, || {
        super::check_out(req)?;
        // SAFETY: NULL or valid for `len` writable bytes, as the caller promises.
        let buf = unsafe { out_buf(buf, len) }?;
        let Some(r) = http::read_request(handle(c)?, buf, timeout(timeout_ms))? else {
            return Ok(0);
        };
        // SAFETY: checked non-NULL above; the caller promises it points to a gh_http_request.
        unsafe { req.write(request_out(&r)) };
        ssize(Ok(r.used))
    })
}

fn request_out(r: &Request) -> gh_http_request {
    let span = |s: http::Span| gh_http_span {
        off: s.off,
        len: s.len,
    };
    gh_http_request {
        method: span(r.method),
        target: span(r.target),
        fields: span(r.fields),
        nheaders: r.nheaders,
        version: 10 + u32::from(r.minor),
        flags: r.flags,
        content_length: r.content_length,
    }
}

/// Reads up to `len` bytes (`len` > 0) of the current request's body into `buf`: the
/// Content-Length bytes, or the chunks' data decoded (extensions and trailers dropped).
/// Returns the count, 0 at the body's end. The first call for a request with
/// `Expect: 100-continue` sends `100 Continue` first (unless the response has begun). EPROTO:
/// a malformed chunk; ECONNRESET: the client closed before the body's end; either ends the
/// connection after the response. EINVAL before any request was read.
#[no_mangle]
pub extern "C" fn gh_http_read_body(
    c: gh_http,
    buf: *mut c_void,
    len: usize,
    timeout_ms: i64,
) -> libc::ssize_t {
    call(-1, || {
        // SAFETY: NULL or valid for `len` writable bytes, as the caller promises.
        let buf = unsafe { out_buf(buf, len) }?;
        ssize(http::read_body(handle(c)?, buf, timeout(timeout_ms)))
    })
}

/// Writes the response to the current request: status (200-999, or 101), `reason` (NULL or
/// "": the standard phrase), the header fields `fields` (`fields_len` bytes of lines
/// `name: value\r\n`; a name that is not a token, a value with CR, LF or NUL, a line without
/// CRLF, or a Transfer-Encoding other than `chunked`: EINVAL, nothing sent), then the body.
///
/// Without GH_HTTP_MORE, `body` is the whole body and all goes in one send. The connection
/// adds `Date` (unless given), `Content-Length: body_len` (a given Content-Length must equal
/// it: EINVAL otherwise), and `Connection: close` when this response ends the connection
/// (the request asked for it, HTTP/1.0 without keep-alive, a body left unread that cannot be
/// skipped, or the given fields say close). With GH_HTTP_MORE the body follows through
/// gh_http_write() / gh_http_sendfile(), `body` must be empty, and the head goes out with its
/// first bytes; without a given Content-Length the body is chunked (HTTP/1.0: ended by
/// closing the connection). For HEAD, and status 204 and 304, no body is sent. A 101 response
/// switches protocols: the connection takes no more requests and the socket is the caller's
/// (gh_http_free(), then gh_recv() / gh_send()). EINVAL if no request awaits a response.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn gh_http_respond(
    c: gh_http,
    status: c_int,
    reason: *const c_char,
    fields: *const c_void,
    fields_len: usize,
    body: *const c_void,
    body_len: usize,
    flags: c_int,
    timeout_ms: i64,
) -> c_int {
    call(-1, || {
        let more = more(flags)?;
        // SAFETY: NULL or valid for the given lengths, as the caller promises.
        let (fields, body) = unsafe { (in_buf(fields, fields_len)?, in_buf(body, body_len)?) };
        let reason = if reason.is_null() {
            &[][..]
        } else {
            // SAFETY: non-NULL, and the caller promises a NUL-terminated string.
            unsafe { CStr::from_ptr(reason) }.to_bytes()
        };
        if more && !body.is_empty() {
            return Err(Errno(libc::EINVAL));
        }
        let status = u16::try_from(status).map_err(|_| Errno(libc::EINVAL))?;
        let r = Response {
            status,
            reason,
            fields,
        };
        http::respond(handle(c)?, &r, body, more, timeout(timeout_ms)).map(|()| 0)
    })
}

/// Writes `len` bytes of a body begun by gh_http_respond() with GH_HTTP_MORE (as one chunk
/// when chunked; `len` 0 writes nothing). Without GH_HTTP_MORE it is the last piece and the
/// response is complete. More bytes than a given Content-Length has left: EINVAL, nothing
/// sent; a body ended short of it ends the connection after it. EINVAL if no body is under way.
#[no_mangle]
pub extern "C" fn gh_http_write(
    c: gh_http,
    data: *const c_void,
    len: usize,
    flags: c_int,
    timeout_ms: i64,
) -> c_int {
    call(-1, || {
        let more = more(flags)?;
        // SAFETY: NULL or valid for `len` readable bytes, as the caller promises.
        let data = unsafe { in_buf(data, len) }?;
        http::write(handle(c)?, data, more, timeout(timeout_ms)).map(|()| 0)
    })
}

/// Sends `count` bytes of file `fd` from `offset` as the next piece of a body begun by
/// gh_http_respond() with GH_HTTP_MORE, as gh_sendfile() does (page-cache data without a
/// copy, anything else read on the thread pool: the hub never waits for the file); as
/// gh_http_write() otherwise. Returns the bytes sent: fewer than `count` if the file ended
/// first, which ends the connection after the response. EBADF if `fd` is negative, EINVAL if
/// `offset` is.
#[no_mangle]
pub extern "C" fn gh_http_sendfile(
    c: gh_http,
    fd: c_int,
    offset: i64,
    count: usize,
    flags: c_int,
    timeout_ms: i64,
) -> libc::ssize_t {
    call(-1, || {
        let more = more(flags)?;
        let count = count.min(isize::MAX as usize);
        ssize(http::sendfile(
            handle(c)?,
            fd,
            offset,
            count,
            more,
            timeout(timeout_ms),
        ))
    })
}

/// The status a refused request head was answered with, given the errno
/// gh_http_read_request() failed with (400, 414, 431, 501, 505); 0 for any other errno.
#[no_mangle]
pub extern "C" fn gh_http_error_status(err: c_int) -> c_int {
    call(0, || {
        Ok(http::status_of_errno(Errno(err)).map_or(0, c_int::from))
    })
}
