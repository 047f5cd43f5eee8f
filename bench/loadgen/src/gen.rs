//! The generator: connections, their states, and the epoll loop that drives them.

use mio::net::TcpStream;
use mio::{Interest, Poll, Token};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::hist::Hist;
use crate::{Mode, Opts, LINE};

#[derive(Clone, Copy, PartialEq, Debug)]
pub(crate) enum St {
    /// Not started, or waiting for `retry_at`.
    Idle,
    Connecting,
    Sending,
    Receiving,
    /// hold mode: connected, idle.
    Held,
    /// hold mode: the server closed it.
    Closed,
}

pub(crate) struct Conn {
    pub(crate) sock: Option<TcpStream>,
    pub(crate) gen: u32,
    pub(crate) st: St,
    pub(crate) off: usize,
    pub(crate) got: u64,
    pub(crate) seq: u64,
    pub(crate) t0: Instant,
    pub(crate) progress: Instant,
    pub(crate) backoff_ms: u64,
    pub(crate) retry_at: Option<Instant>,
    pub(crate) line: [u8; LINE],
    /// Completed at least one request (echo: first round trip; hold: connected).
    pub(crate) ok_once: bool,
    /// Completed a request during the measured window.
    pub(crate) ok_measured: bool,
}

#[derive(Default)]
pub(crate) struct Errors {
    pub(crate) connect: u64,
    pub(crate) reset: u64,
    pub(crate) eof: u64,
    pub(crate) mismatch: u64,
    pub(crate) size: u64,
    pub(crate) timeout: u64,
}

impl Errors {
    pub(crate) fn total(&self) -> u64 {
        self.connect + self.reset + self.eof + self.mismatch + self.size + self.timeout
    }
}

#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Phase {
    Connect,
    Warmup,
    Measure,
}

pub(crate) fn hex(out: &mut [u8], mut v: u64) {
    const H: &[u8; 16] = b"0123456789abcdef";
    for b in out.iter_mut().rev() {
        *b = H[(v & 15) as usize];
        v >>= 4;
    }
}

pub(crate) struct Gen {
    pub(crate) o: Opts,
    pub(crate) addr: SocketAddr,
    pub(crate) poll: Poll,
    pub(crate) conns: Vec<Conn>,
    pub(crate) buf: Vec<u8>,
    pub(crate) request: Vec<u8>,
    pub(crate) phase: Phase,
    pub(crate) hist: Hist,
    pub(crate) done: u64,
    pub(crate) done_all: u64,
    pub(crate) bytes: u64,
    pub(crate) err: Errors,
    pub(crate) err_measured: u64,
    pub(crate) connect_retries: u64,
    pub(crate) opening: usize,
    pub(crate) next_unstarted: usize,
    pub(crate) retries: Vec<usize>,
    pub(crate) held: usize,
    pub(crate) closed_held: usize,
}

pub(crate) enum Io {
    Ok,
    Wait,
    Fail(fn(&mut Errors)),
}

impl Gen {
    pub(crate) fn token(&self, i: usize) -> Token {
        Token(i | ((self.conns[i].gen as usize) << 32))
    }

    /// Starts a new connection for slot i (counts towards `opening` until its first success).
    pub(crate) fn connect(&mut self, i: usize) {
        let now = Instant::now();
        let c = &mut self.conns[i];
        c.retry_at = None;
        c.gen = c.gen.wrapping_add(1);
        match TcpStream::connect(self.addr) {
            Ok(s) => {
                c.sock = Some(s);
                c.st = St::Connecting;
                c.t0 = now;
                c.progress = now;
                let tok = self.token(i);
                // Writable tells when the connect completes (hold mode too); edge-triggered,
                // so it costs nothing afterwards.
                let interest = Interest::READABLE | Interest::WRITABLE;
                let c = &mut self.conns[i];
                if let Err(e) =
                    self.poll
                        .registry()
                        .register(c.sock.as_mut().unwrap(), tok, interest)
                {
                    eprintln!("loadgen: epoll register: {e}");
                    self.fail(i, |e| e.connect += 1);
                    return;
                }
                if self.o.mode == Mode::File {
                    // On loopback the handshake is usually done already: try the request now
                    // (ENOTCONN: still connecting, the writable edge will say when).
                    let c = &mut self.conns[i];
                    c.off = 0;
                    c.got = 0;
                    match c.sock.as_mut().unwrap().write(&self.request) {
                        Ok(k) => {
                            c.off = k;
                            c.st = St::Sending;
                            self.send(i);
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => {}
                        Err(_) => self.fail(i, |e| e.connect += 1),
                    }
                }
            }
            Err(_) => self.fail(i, |e| e.connect += 1),
        }
    }

    /// Records an error on slot i, closes it and schedules a reconnect with backoff.
    pub(crate) fn fail(&mut self, i: usize, kind: fn(&mut Errors)) {
        kind(&mut self.err);
        if self.phase == Phase::Measure {
            self.err_measured += 1;
        }
        let c = &mut self.conns[i];
        let was_connecting = c.st == St::Connecting;
        c.sock = None;
        c.st = St::Idle;
        c.backoff_ms = (c.backoff_ms * 2).clamp(10, 1000);
        c.retry_at = Some(Instant::now() + Duration::from_millis(c.backoff_ms));
        if was_connecting {
            self.connect_retries += 1;
        }
        self.retries.push(i);
    }

    /// Sends the next request on a connected slot (file mode: its only one; its latency counts
    /// from the connect, so t0 stays).
    pub(crate) fn start_request(&mut self, i: usize) {
        let now = Instant::now();
        let c = &mut self.conns[i];
        c.off = 0;
        c.got = 0;
        if self.o.mode == Mode::Echo {
            c.t0 = now;
        }
        c.progress = now;
        if self.o.mode == Mode::Echo {
            c.seq += 1;
            hex(&mut c.line[0..8], i as u64);
            hex(&mut c.line[8..24], c.seq);
        }
        c.st = St::Sending;
        self.send(i);
    }

    pub(crate) fn send(&mut self, i: usize) {
        let c = &mut self.conns[i];
        let data: &[u8] = if self.o.mode == Mode::Echo {
            &c.line
        } else {
            &self.request
        };
        let sock = c.sock.as_mut().unwrap();
        let r = loop {
            if c.off == data.len() {
                break Io::Ok;
            }
            match sock.write(&data[c.off..]) {
                Ok(n) => {
                    c.off += n;
                    c.progress = Instant::now();
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break Io::Wait,
                Err(_) => break Io::Fail(|e| e.reset += 1),
            }
        };
        match r {
            Io::Ok => {
                c.st = St::Receiving;
                c.backoff_ms = 0;
            }
            Io::Wait => {}
            Io::Fail(k) => self.fail(i, k),
        }
    }

    pub(crate) fn complete(&mut self, i: usize, now: Instant) {
        self.done_all += 1;
        let c = &mut self.conns[i];
        if !c.ok_once {
            c.ok_once = true;
            if self.o.mode == Mode::Echo {
                self.opening -= 1;
            }
        }
        if self.phase == Phase::Measure {
            c.ok_measured = true;
            self.done += 1;
            self.bytes += c.got;
            self.hist.add(now.duration_since(c.t0).as_micros() as u64);
        }
    }

    pub(crate) fn recv_echo(&mut self, i: usize) {
        let mut rx = [0u8; LINE];
        loop {
            let c = &mut self.conns[i];
            let want = LINE - c.got as usize;
            let r = c.sock.as_mut().unwrap().read(&mut rx[..want]);
            match r {
                Ok(0) => return self.fail(i, |e| e.eof += 1),
                Ok(n) => {
                    let at = c.got as usize;
                    if rx[..n] != c.line[at..at + n] {
                        return self.fail(i, |e| e.mismatch += 1);
                    }
                    c.got += n as u64;
                    c.progress = Instant::now();
                    if c.got as usize == LINE {
                        let now = c.progress;
                        self.complete(i, now);
                        self.start_request(i);
                        return;
                    }
                    if n < want {
                        return; // a short read drained the socket: wait for the next edge
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => return self.fail(i, |e| e.reset += 1),
            }
        }
    }

    /// Reads a file response to EOF. The bytes are counted, not copied: recv(MSG_TRUNC) makes
    /// TCP discard them in the kernel, so the client's memory bandwidth does not bound the
    /// large-file points (the size check stays exact).
    pub(crate) fn recv_file(&mut self, i: usize, read_closed: bool) {
        use std::os::fd::AsRawFd;
        loop {
            let c = &mut self.conns[i];
            let fd = c.sock.as_ref().unwrap().as_raw_fd();
            // SAFETY: `buf` is valid for `len` bytes (with MSG_TRUNC TCP does not even write it).
            let n = unsafe {
                libc::recv(
                    fd,
                    self.buf.as_mut_ptr().cast(),
                    self.buf.len(),
                    libc::MSG_TRUNC,
                )
            };
            if n == 0 {
                let now = Instant::now();
                if c.got != self.o.size {
                    return self.fail(i, |e| e.size += 1);
                }
                c.sock = None; // close
                self.complete(i, now);
                return self.connect(i);
            }
            if n > 0 {
                let n = n as usize;
                c.got += n as u64;
                c.progress = Instant::now();
                // A short read emptied the queue; if the FIN is not there yet, its arrival
                // brings another edge.
                if n < self.buf.len() && !read_closed {
                    return;
                }
                continue;
            }
            match io::Error::last_os_error().raw_os_error() {
                Some(libc::EINTR) => {}
                Some(libc::EAGAIN) => return,
                _ => return self.fail(i, |e| e.reset += 1),
            }
        }
    }

    pub(crate) fn event(&mut self, i: usize, readable: bool, writable: bool, read_closed: bool) {
        if self.conns[i].st == St::Connecting {
            let c = &mut self.conns[i];
            let s = c.sock.as_mut().unwrap();
            match s.take_error() {
                Ok(None) => {}
                _ => return self.fail(i, |e| e.connect += 1),
            }
            match s.peer_addr() {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return,
                Err(_) => return self.fail(i, |e| e.connect += 1),
            }
            c.progress = Instant::now();
            match self.o.mode {
                Mode::Hold => {
                    c.st = St::Held;
                    c.ok_once = true;
                    c.backoff_ms = 0;
                    self.opening -= 1;
                    self.held += 1;
                    return;
                }
                _ => return self.start_request(i),
            }
        }
        match self.conns[i].st {
            St::Sending if writable || readable => self.send(i),
            St::Receiving if readable => match self.o.mode {
                Mode::Echo => self.recv_echo(i),
                _ => self.recv_file(i, read_closed),
            },
            St::Held if readable => {
                let mut b = [0u8; 512];
                let c = &mut self.conns[i];
                match c.sock.as_mut().unwrap().read(&mut b) {
                    Ok(0) | Err(_) => {
                        c.sock = None;
                        c.st = St::Closed;
                        self.closed_held += 1;
                    }
                    Ok(_) => {}
                }
            }
            _ => {}
        }
    }

    /// Starts unstarted slots while fewer than `batch` are opening.
    pub(crate) fn open_more(&mut self) {
        while self.next_unstarted < self.conns.len() && self.opening < self.o.batch {
            let i = self.next_unstarted;
            self.next_unstarted += 1;
            self.opening += 1;
            self.connect(i);
        }
    }

    pub(crate) fn run_retries(&mut self, now: Instant) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        let mut k = 0;
        while k < self.retries.len() {
            let i = self.retries[k];
            match self.conns[i].retry_at {
                Some(t) if t <= now => {
                    self.retries.swap_remove(k);
                    self.connect(i);
                }
                Some(t) => {
                    next = Some(next.map_or(t, |n: Instant| n.min(t)));
                    k += 1;
                }
                None => {
                    self.retries.swap_remove(k);
                }
            }
        }
        next
    }

    pub(crate) fn check_timeouts(&mut self, now: Instant) {
        let limit = Duration::from_secs_f64(self.o.timeout);
        for i in 0..self.conns.len() {
            let c = &self.conns[i];
            let active = matches!(c.st, St::Connecting | St::Sending | St::Receiving);
            if active && now.duration_since(c.progress) > limit {
                self.fail(i, |e| e.timeout += 1);
            }
        }
    }
}
