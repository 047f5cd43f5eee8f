//! The response head: the status line, the caller's header fields (checked, so a field cannot
//! smuggle a line end), and the fields the connection decides: Date, the body's framing
//! (Content-Length or chunked) and Connection.

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Errno, Result};

/// What the caller's fields say that framing needs to know.
#[derive(Default)]
pub(crate) struct Given {
    pub(crate) content_length: Option<u64>,
    pub(crate) chunked: bool,
    pub(crate) close: bool,
    pub(crate) date: bool,
    pub(crate) connection: bool,
}

/// Checks the caller's fields: lines `name: value\r\n`, a token for a name, a value without
/// CR, LF or NUL (EINVAL otherwise), and reads the ones framing depends on.
pub(crate) fn check_fields(block: &[u8]) -> Result<Given> {
    let mut given = Given::default();
    let mut rest = block;
    while !rest.is_empty() {
        let end = crate::net::buffer::find(rest, b"\r\n").ok_or(Errno(libc::EINVAL))?;
        let line = &rest[..end];
        rest = &rest[end + 2..];
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(Errno(libc::EINVAL))?;
        let (name, value) = (&line[..colon], super::head::trim(&line[colon + 1..]));
        if name.is_empty() || !name.iter().all(|&b| is_token(b)) {
            return Err(Errno(libc::EINVAL));
        }
        if value.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(Errno(libc::EINVAL));
        }
        if name.eq_ignore_ascii_case(b"content-length") {
            let ok = !value.is_empty() && value.len() <= 19 && value.iter().all(u8::is_ascii_digit);
            let n = ok
                .then(|| std::str::from_utf8(value).ok()?.parse::<u64>().ok())
                .flatten()
                .ok_or(Errno(libc::EINVAL))?;
            if given.content_length.is_some_and(|l| l != n) {
                return Err(Errno(libc::EINVAL));
            }
            given.content_length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            // The connection frames the body: the only coding it applies is chunked.
            if !value.eq_ignore_ascii_case(b"chunked") || given.chunked {
                return Err(Errno(libc::EINVAL));
            }
            given.chunked = true;
        } else if name.eq_ignore_ascii_case(b"connection") {
            given.connection = true;
            given.close |= value
                .split(|&b| b == b',')
                .any(|e| super::head::trim(e).eq_ignore_ascii_case(b"close"));
        } else if name.eq_ignore_ascii_case(b"date") {
            given.date = true;
        }
    }
    Ok(given)
}

/// RFC 9110 token characters.
fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// How the body goes on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body may follow (HEAD, 1xx, 204, 304): what the caller gives is not sent.
    Bodiless,
    /// This many bytes are still to come.
    Length(u64),
    /// Each write is a chunk; the last write sends the zero chunk.
    Chunked,
    /// The body ends when the connection closes (HTTP/1.0 without a length).
    UntilClose,
}

/// Appends the status line and the fields the connection adds to `head`, around the caller's
/// `fields`. `length`: the body's length when the caller's fields did not give one
/// (`None`: unknown). Returns how the body is framed.
pub(crate) struct HeadPlan<'a> {
    pub(crate) status: u16,
    pub(crate) reason: &'a [u8],
    pub(crate) fields: &'a [u8],
    pub(crate) given: &'a Given,
    pub(crate) length: Option<u64>,
    /// The request was HEAD.
    pub(crate) head: bool,
    /// The client speaks HTTP/1.1 (chunked is understood).
    pub(crate) minor: u8,
    /// The connection ends after this response.
    pub(crate) close: bool,
}

impl HeadPlan<'_> {
    pub(crate) fn write(&self, head: &mut Vec<u8>) -> (Framing, bool) {
        let mut close = self.close || self.given.close;
        let no_body = self.head || self.status < 200 || self.status == 204 || self.status == 304;
        let length = self.given.content_length.or(self.length);
        let framing = if no_body {
            Framing::Bodiless
        } else if let Some(n) = length.filter(|_| !self.given.chunked) {
            Framing::Length(n)
        } else if self.minor == 1 {
            Framing::Chunked
        } else {
            close = true;
            Framing::UntilClose
        };
        head.extend_from_slice(b"HTTP/1.1 ");
        push_decimal(head, u64::from(self.status)); // 100-999: three digits
        head.push(b' ');
        head.extend_from_slice(if self.reason.is_empty() {
            reason_of(self.status).as_bytes()
        } else {
            self.reason
        });
        head.extend_from_slice(b"\r\n");
        if !self.given.date {
            date_field(head);
        }
        head.extend_from_slice(self.fields);
        let sends_length = !(self.status < 200 || self.status == 204);
        match (framing, self.given.content_length, length) {
            (Framing::Length(n), None, _) => content_length(head, n),
            // HEAD: the length a GET would have had, when the caller gave the body.
            (Framing::Bodiless, None, Some(n)) if sends_length && self.status != 304 => {
                content_length(head, n)
            }
            (Framing::Chunked, _, _) if !self.given.chunked => {
                head.extend_from_slice(b"Transfer-Encoding: chunked\r\n")
            }
            _ => {}
        }
        if self.status == 101 {
            // The caller's fields carry Connection: Upgrade.
        } else if close && !self.given.close {
            head.extend_from_slice(b"Connection: close\r\n");
        } else if !close && self.minor == 0 && !self.given.connection {
            head.extend_from_slice(b"Connection: keep-alive\r\n");
        }
        head.extend_from_slice(b"\r\n");
        (framing, close)
    }
}

fn content_length(head: &mut Vec<u8>, n: u64) {
    head.extend_from_slice(b"Content-Length: ");
    push_decimal(head, n);
    head.extend_from_slice(b"\r\n");
}

/// Appends `n` in decimal (without the formatting machinery: this runs for every response).
fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// The standard reason phrase of a status (RFC 9110 15), or "Unknown".
pub(crate) fn reason_of(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

thread_local! {
    /// The Date field of the current second, formatted once per second per OS thread.
    static DATE: RefCell<(u64, [u8; 37])> = const { RefCell::new((u64::MAX, [0; 37])) };
}

/// Appends `Date: <IMF-fixdate>\r\n` (RFC 9110 5.6.7).
fn date_field(head: &mut Vec<u8>) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    DATE.with_borrow_mut(|(second, text)| {
        if *second != now {
            *second = now;
            format_date(now, text);
        }
        head.extend_from_slice(&text[..]);
    });
}

/// "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n" for `secs` since the epoch.
fn format_date(secs: u64, out: &mut [u8; 37]) {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs / 86400;
    let (h, m, s) = (secs % 86400 / 3600, secs % 3600 / 60, secs % 60);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let text = format!(
        "Date: {}, {:02} {} {:04} {:02}:{:02}:{:02} GMT\r\n",
        DAYS[(days % 7) as usize],
        day,
        MONTHS[(month - 1) as usize],
        year,
        h,
        m,
        s
    );
    out.copy_from_slice(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_imf_fixdate() {
        let mut out = [0; 37];
        format_date(784111777, &mut out);
        assert_eq!(&out, b"Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n");
        format_date(951782400, &mut out); // a leap day
        assert_eq!(&out, b"Date: Tue, 29 Feb 2000 00:00:00 GMT\r\n");
    }

    #[test]
    fn fields_are_checked() {
        assert!(check_fields(b"X: a\r\nY: b\r\n").is_ok());
        for bad in [
            &b"X: a"[..],
            b"X a\r\n",
            b": a\r\n",
            b"X: a\rb\r\n",
            b"X\x01: a\r\n",
        ] {
            assert_eq!(check_fields(bad).err(), Some(Errno(libc::EINVAL)));
        }
        let g = check_fields(b"Content-Length: 12\r\nConnection: close\r\n").unwrap();
        assert_eq!((g.content_length, g.close), (Some(12), true));
        assert!(check_fields(b"Content-Length: 1\r\nContent-Length: 2\r\n").is_err());
        assert!(
            check_fields(b"Transfer-Encoding: chunked\r\n")
                .unwrap()
                .chunked
        );
        assert!(check_fields(b"Transfer-Encoding: gzip\r\n").is_err());
    }

    #[test]
    fn framing_follows_the_request() {
        let given = Given::default();
        let plan = |minor, length, head, status| HeadPlan {
            status,
            reason: b"",
            fields: b"",
            given: &given,
            length,
            head,
            minor,
            close: false,
        };
        let mut v = Vec::new();
        assert_eq!(
            plan(1, Some(3), false, 200).write(&mut v),
            (Framing::Length(3), false)
        );
        assert!(v.ends_with(b"Content-Length: 3\r\n\r\n"));
        assert_eq!(plan(1, None, false, 200).write(&mut v).0, Framing::Chunked);
        assert_eq!(
            plan(0, None, false, 200).write(&mut v),
            (Framing::UntilClose, true)
        );
        v.clear();
        assert_eq!(
            plan(1, Some(5), true, 200).write(&mut v).0,
            Framing::Bodiless
        );
        assert!(v.ends_with(b"Content-Length: 5\r\n\r\n"));
        v.clear();
        assert_eq!(
            plan(0, Some(0), false, 204).write(&mut v).0,
            Framing::Bodiless
        );
        assert!(v.ends_with(b"Connection: keep-alive\r\n\r\n"));
    }
}
