//! The request head: finding its end in the connection's buffer, parsing it there with
//! `httparse`, deciding the body's framing, and copying it out in the layout the C ABI
//! documents (an index of offsets, then the bytes).
//!
//! The checks that keep one request from being read as two (request smuggling) are here: a
//! request with both Content-Length and Transfer-Encoding, Content-Length values that differ
//! or are not plain digits, a transfer coding other than a lone `chunked`, Transfer-Encoding
//! in HTTP/1.0, obs-fold and whitespace before a colon (httparse refuses both in requests) are
//! all answered 400 and end the connection.

use std::mem::MaybeUninit;

use crate::error::{Errno, Result};

/// The request may be followed by another on the same connection.
pub const KEEP_ALIVE: u32 = 1;
/// The body is chunked (its length is unknown).
pub const CHUNKED: u32 = 2;
/// The client waits for `100 Continue` before sending the body.
pub const EXPECT_CONTINUE: u32 = 4;
/// The method is HEAD: a response has no body.
pub const HEAD: u32 = 8;
/// The client asks to switch protocols (`Connection: upgrade` and an `Upgrade` header).
pub const UPGRADE: u32 = 16;

/// The limits of a request head. The defaults: request line 8 KiB (414 past it), head 64 KiB
/// and 100 header fields (431 past either).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub request_line_max: usize,
    pub head_max: usize,
    pub headers_max: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            request_line_max: 8 << 10,
            head_max: 64 << 10,
            headers_max: 100,
        }
    }
}

/// Largest head and field count a connection accepts, whatever it is configured with.
pub const HEAD_MAX_LIMIT: usize = 1 << 20;
pub const HEADERS_MAX_LIMIT: usize = 1024;

impl Limits {
    pub(crate) fn check(&self) -> Result<()> {
        let ok = (1..=HEAD_MAX_LIMIT).contains(&self.head_max)
            && (1..=self.head_max).contains(&self.request_line_max)
            && (1..=HEADERS_MAX_LIMIT).contains(&self.headers_max);
        if ok {
            Ok(())
        } else {
            Err(Errno(libc::EINVAL))
        }
    }
}

/// A part of the caller's buffer: offset and length.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    pub off: u32,
    pub len: u32,
}

/// Bytes of one index entry: name offset, name length, value offset, value length (u32 each).
pub const INDEX_ENTRY: usize = 16;

/// A request head as copied into the caller's buffer: the index of its header fields at offset
/// 0 (`nheaders` entries of [`INDEX_ENTRY`] bytes), then the method, the target, and the
/// fields as lines `name: value\r\n` (`fields`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Request {
    pub method: Span,
    pub target: Span,
    pub fields: Span,
    pub nheaders: u32,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor: u8,
    /// [`KEEP_ALIVE`], [`CHUNKED`], [`EXPECT_CONTINUE`], [`HEAD`], [`UPGRADE`].
    pub flags: u32,
    /// The body's length; -1 when chunked.
    pub content_length: i64,
    /// Bytes of the caller's buffer used.
    pub used: usize,
}

/// Why a head is refused, as the errno the call fails with; [`status_of`] gives the status
/// the client is answered with.
pub(crate) const BAD: Errno = Errno(libc::EPROTO); // 400
pub(crate) const LINE_TOO_LONG: Errno = Errno(libc::ENAMETOOLONG); // 414
pub(crate) const HEAD_TOO_LARGE: Errno = Errno(libc::EMSGSIZE); // 431
pub(crate) const NOT_IMPLEMENTED: Errno = Errno(libc::EOPNOTSUPP); // 501
pub(crate) const BAD_VERSION: Errno = Errno(libc::EPROTONOSUPPORT); // 505

/// The status a refused head is answered with, and its reason phrase.
pub(crate) fn status_of(e: Errno) -> Option<(u16, &'static str)> {
    Some(match e {
        BAD => (400, "Bad Request"),
        LINE_TOO_LONG => (414, "URI Too Long"),
        HEAD_TOO_LARGE => (431, "Request Header Fields Too Large"),
        NOT_IMPLEMENTED => (501, "Not Implemented"),
        BAD_VERSION => (505, "HTTP Version Not Supported"),
        _ => return None,
    })
}

/// Where the head that starts `buf` ends (just past its empty line), searching from `from`
/// (bytes before it were searched already). Bare LF line ends count, as httparse takes them.
pub(crate) fn find_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut at = from.saturating_sub(3);
    while let Some(i) = crate::net::buffer::find(&buf[at..], b"\n") {
        let nl = at + i;
        match buf.get(nl + 1..) {
            Some([b'\n', ..]) => return Some(nl + 2),
            Some([b'\r', b'\n', ..]) => return Some(nl + 3),
            _ => at = nl + 1,
        }
    }
    None
}

/// Checks the limits on a head not yet complete (`buf` is all that arrived): a request line
/// or a head that has already outgrown its limit is refused without waiting for the rest.
pub(crate) fn check_partial(buf: &[u8], limits: &Limits) -> Result<()> {
    let line = request_line(buf);
    if line.map_or(
        buf.len() - leading_empty_lines(buf) > limits.request_line_max + 1,
        |l| l > limits.request_line_max,
    ) {
        return Err(LINE_TOO_LONG);
    }
    if buf.len() > limits.head_max {
        return Err(HEAD_TOO_LARGE);
    }
    Ok(())
}

fn leading_empty_lines(buf: &[u8]) -> usize {
    buf.iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count()
}

/// Length of the request line (without its line end), if it is complete.
fn request_line(buf: &[u8]) -> Option<usize> {
    let start = leading_empty_lines(buf);
    let rest = &buf[start..];
    let nl = crate::net::buffer::find(rest, b"\n")?;
    Some(if nl > 0 && rest[nl - 1] == b'\r' {
        nl - 1
    } else {
        nl
    })
}

/// Parses the complete head `buf[..end]` and copies it into `out` (ERANGE if it does not fit;
/// EINVAL if `out` is not aligned for the index). Refusals are the errnos above.
pub(crate) fn parse(buf: &[u8], end: usize, limits: &Limits, out: &mut [u8]) -> Result<Request> {
    let head = &buf[..end];
    if request_line(head).is_some_and(|l| l > limits.request_line_max) {
        return Err(LINE_TOO_LONG);
    }
    if end > limits.head_max {
        return Err(HEAD_TOO_LARGE);
    }
    // Uninitialised: filling 128 empty headers cost as much as parsing a short head.
    let mut storage = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; 128];
    let mut heap;
    let headers: &mut [MaybeUninit<httparse::Header<'_>>] = if limits.headers_max <= storage.len() {
        &mut storage[..limits.headers_max]
    } else {
        heap = Vec::with_capacity(limits.headers_max);
        heap.resize_with(limits.headers_max, MaybeUninit::uninit);
        &mut heap
    };
    let mut req = httparse::Request::new(&mut []);
    match req.parse_with_uninit_headers(head, headers) {
        Ok(httparse::Status::Complete(n)) if n == end => {}
        Ok(_) => return Err(BAD),
        Err(httparse::Error::TooManyHeaders) => return Err(HEAD_TOO_LARGE),
        Err(httparse::Error::Version) => return Err(BAD_VERSION),
        Err(_) => return Err(BAD),
    }
    let method = req.method.ok_or(BAD)?;
    let target = req.path.ok_or(BAD)?;
    let minor = req.version.ok_or(BAD)?;
    let framing = Framing::of(req.headers, minor, method == "HEAD")?;

    let fields_len: usize = req
        .headers
        .iter()
        .map(|h| h.name.len() + trim(h.value).len() + 4)
        .sum();
    let index_len = req.headers.len() * INDEX_ENTRY;
    let used = index_len + method.len() + target.len() + fields_len;
    if out.len() < used {
        return Err(Errno(libc::ERANGE));
    }
    if !(out.as_ptr() as usize).is_multiple_of(4) {
        return Err(Errno(libc::EINVAL));
    }
    let mut w = Writer { out, at: index_len };
    let method = w.put(method.as_bytes());
    let target = w.put(target.as_bytes());
    let fields_start = w.at;
    for (i, h) in req.headers.iter().enumerate() {
        let name = w.put(h.name.as_bytes());
        w.put(b": ");
        let value = w.put(trim(h.value));
        w.put(b"\r\n");
        let entry = [name.off, name.len, value.off, value.len];
        for (k, v) in entry.iter().enumerate() {
            let at = i * INDEX_ENTRY + k * 4;
            w.out[at..at + 4].copy_from_slice(&v.to_ne_bytes());
        }
    }
    let fields = Span {
        off: fields_start as u32,
        len: (w.at - fields_start) as u32,
    };
    Ok(Request {
        method,
        target,
        fields,
        nheaders: req.headers.len() as u32,
        minor,
        flags: framing.flags,
        content_length: framing.content_length,
        used,
    })
}

struct Writer<'a> {
    out: &'a mut [u8],
    at: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) -> Span {
        let span = Span {
            off: self.at as u32,
            len: bytes.len() as u32,
        };
        self.out[self.at..self.at + bytes.len()].copy_from_slice(bytes);
        self.at += bytes.len();
        span
    }
}

/// A field value without the spaces and tabs around it.
pub(crate) fn trim(v: &[u8]) -> &[u8] {
    let is_ws = |b: &u8| *b == b' ' || *b == b'\t';
    let start = v.iter().position(|b| !is_ws(b)).unwrap_or(v.len());
    let end = v.iter().rposition(|b| !is_ws(b)).map_or(start, |i| i + 1);
    &v[start..end]
}

/// Comma-separated list elements of a field value, trimmed, empty ones left out.
fn elements(v: &[u8]) -> impl Iterator<Item = &[u8]> {
    v.split(|&b| b == b',').map(trim).filter(|e| !e.is_empty())
}

/// What the header fields say about the body and the connection.
struct Framing {
    flags: u32,
    content_length: i64,
}

impl Framing {
    fn of(headers: &[httparse::Header<'_>], minor: u8, head: bool) -> Result<Framing> {
        let mut length: Option<i64> = None;
        // Transfer codings in order, over every Transfer-Encoding field: how many, how many
        // of them chunked, and whether the last one is.
        let (mut codings, mut chunked_codings, mut last_chunked) = (0, 0, false);
        let (mut close, mut keep_alive, mut upgrade_token) = (false, false, false);
        let (mut hosts, mut upgrade, mut expect) = (0, false, false);
        for h in headers {
            let name = h.name.as_bytes();
            if name.eq_ignore_ascii_case(b"content-length") {
                for element in h.value.split(|&b| b == b',').map(trim) {
                    let n = parse_length(element)?;
                    if length.is_some_and(|l| l != n) {
                        return Err(BAD); // differing lengths: which one would a proxy take?
                    }
                    length = Some(n);
                }
            } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                codings += 1; // an empty field counts: it is refused below
                for (i, element) in elements(h.value).enumerate() {
                    codings += usize::from(i > 0);
                    last_chunked = element.eq_ignore_ascii_case(b"chunked");
                    chunked_codings += usize::from(last_chunked);
                }
                if elements(h.value).next().is_none() {
                    last_chunked = false;
                }
            } else if name.eq_ignore_ascii_case(b"connection") {
                for element in elements(h.value) {
                    close |= element.eq_ignore_ascii_case(b"close");
                    keep_alive |= element.eq_ignore_ascii_case(b"keep-alive");
                    upgrade_token |= element.eq_ignore_ascii_case(b"upgrade");
                }
            } else if name.eq_ignore_ascii_case(b"host") {
                hosts += 1;
            } else if name.eq_ignore_ascii_case(b"upgrade") {
                upgrade = true;
            } else if name.eq_ignore_ascii_case(b"expect") {
                expect |= trim(h.value).eq_ignore_ascii_case(b"100-continue");
            }
        }
        // A 1.1 request names exactly one host (RFC 9112 3.2); a 1.0 one at most one.
        if hosts > 1 || (minor == 1 && hosts == 0) {
            return Err(BAD);
        }
        let mut flags = 0;
        let content_length = if codings == 0 {
            length.unwrap_or(0)
        } else if length.is_some() {
            // Both: a front end may have framed it by either (RFC 9112 6.3: refuse it).
            return Err(BAD);
        } else if minor == 0 || !last_chunked || chunked_codings > 1 {
            // HTTP/1.0 has no transfer codings (RFC 9112 6.1); chunked not last (or twice)
            // leaves the length unknown (6.3).
            return Err(BAD);
        } else if codings > 1 {
            return Err(NOT_IMPLEMENTED); // a coding under chunked that we do not decode
        } else {
            flags |= CHUNKED;
            -1
        };
        let persistent = if minor == 1 {
            !close
        } else {
            keep_alive && !close
        };
        if persistent {
            flags |= KEEP_ALIVE;
        }
        if expect && minor == 1 && content_length != 0 {
            flags |= EXPECT_CONTINUE;
        }
        if head {
            flags |= HEAD;
        }
        if upgrade && upgrade_token {
            flags |= UPGRADE;
        }
        Ok(Framing {
            flags,
            content_length,
        })
    }
}

/// A Content-Length value: 1 to 18 digits, nothing else (no sign, no spaces inside).
fn parse_length(v: &[u8]) -> Result<i64> {
    if v.is_empty() || v.len() > 18 || !v.iter().all(u8::is_ascii_digit) {
        return Err(BAD);
    }
    Ok(v.iter().fold(0i64, |n, &d| n * 10 + i64::from(d - b'0')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[repr(align(8))]
    struct Out([u8; 4096]);

    fn parse_all(head: &[u8]) -> Result<Request> {
        let end = find_end(head, 0).expect("a complete head");
        let mut out = Out([0; 4096]);
        parse(head, end, &Limits::default(), &mut out.0)
    }

    #[test]
    fn a_simple_request_is_copied_with_its_index() {
        let head = b"GET /a?b=1 HTTP/1.1\r\nHost: x\r\nX-Long:  v w \r\n\r\n";
        let end = find_end(head, 0).unwrap();
        assert_eq!(end, head.len());
        let mut out = Out([0; 4096]);
        let r = parse(head, end, &Limits::default(), &mut out.0).unwrap();
        let text = |s: Span| &out.0[s.off as usize..(s.off + s.len) as usize];
        assert_eq!(text(r.method), b"GET");
        assert_eq!(text(r.target), b"/a?b=1");
        assert_eq!(text(r.fields), b"Host: x\r\nX-Long: v w\r\n");
        assert_eq!(r.nheaders, 2);
        let word = |i: usize| u32::from_ne_bytes(out.0[i * 4..i * 4 + 4].try_into().unwrap());
        let value = Span {
            off: word(6),
            len: word(7),
        };
        assert_eq!(text(value), b"v w");
        assert_eq!(r.flags, KEEP_ALIVE);
        assert_eq!(r.content_length, 0);
    }

    #[test]
    fn framing_and_connection() {
        let r = parse_all(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert_eq!(r.unwrap().flags & CHUNKED, CHUNKED);
        let r = parse_all(b"POST / HTTP/1.0\r\nContent-Length: 5\r\n\r\n").unwrap();
        assert_eq!((r.content_length, r.flags & KEEP_ALIVE), (5, 0));
        let r = parse_all(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").unwrap();
        assert_eq!(r.flags & KEEP_ALIVE, KEEP_ALIVE);
        let r = parse_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        assert_eq!(r.flags & KEEP_ALIVE, 0);
        let r = parse_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\n").unwrap();
        assert_eq!(r.content_length, 3);
        let r = parse_all(
            b"PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n",
        );
        assert_eq!(r.unwrap().flags & EXPECT_CONTINUE, EXPECT_CONTINUE);
        let r = parse_all(b"\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap(); // a leading CRLF
        assert_eq!(r.target.len, 1);
    }

    #[test]
    fn smuggling_and_malformed_heads_are_refused() {
        let cases: &[(&[u8], Errno)] = &[
            (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", BAD),
            (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", BAD),
            (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 4\r\n\r\n", BAD),
            (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\n", BAD),
            (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3 3\r\n\r\n", BAD),
            (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x10\r\n\r\n", BAD),
            (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n", BAD),
            (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", BAD),
            (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", BAD),
            (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", NOT_IMPLEMENTED),
            (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", BAD),
            (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", NOT_IMPLEMENTED),
            (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: \r\n\r\n", BAD),
            (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \r\n\r\n", BAD),
            (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", BAD),
            (b"GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", BAD), // obs-fold
            (b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", BAD),
            (b"GET / HTTP/1.1\r\n\r\n", BAD), // no Host
            (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", BAD),
            (b"GET  / HTTP/1.1\r\nHost: x\r\n\r\n", BAD),
            (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", BAD_VERSION),
            (b"GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n", BAD),
            (b"GET / HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n", BAD),
        ];
        for (head, want) in cases {
            let got = parse_all(head);
            assert_eq!(got.err(), Some(*want), "{}", String::from_utf8_lossy(head));
        }
        let te = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert!(parse_all(te).is_ok());
    }

    #[test]
    fn limits_give_their_status() {
        let limits = Limits::default();
        let long = [b"GET /".as_slice(), &[b'a'; 9000]].concat();
        assert_eq!(check_partial(&long, &limits), Err(LINE_TOO_LONG));
        let ok_line = [b"GET /".as_slice(), &[b'a'; 8000], b" HTTP/1.1\r\n"].concat();
        assert_eq!(check_partial(&ok_line, &limits), Ok(()));
        let big = [ok_line.as_slice(), &b"X: yyyyyyyyyyyyyyyy\r\n".repeat(3200)].concat();
        assert_eq!(check_partial(&big, &limits), Err(HEAD_TOO_LARGE));
        let many = [
            b"GET / HTTP/1.1\r\nHost: x\r\n".as_slice(),
            &b"X: y\r\n".repeat(100),
            b"\r\n",
        ]
        .concat();
        assert_eq!(parse_all(&many).err(), Some(HEAD_TOO_LARGE));
        let mut small = [0u8; 16];
        let head = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        let got = parse(head, head.len(), &limits, &mut small);
        assert_eq!(got.err(), Some(Errno(libc::ERANGE)));
    }

    #[test]
    fn the_end_is_found_across_reads() {
        let head = b"GET / HTTP/1.1\r\nHost: x\r\n\r\nrest";
        for split in 0..head.len() {
            // What a receive brought first had no end: searching on from there finds it.
            match find_end(&head[..split], 0) {
                None => assert_eq!(find_end(head, split), Some(27), "{split}"),
                Some(end) => assert_eq!(end, 27),
            }
        }
        assert_eq!(find_end(b"GET / HTTP/1.0\n\nx", 0), Some(16));
    }
}
