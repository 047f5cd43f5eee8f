//! loadgen: greenhub's single-threaded epoll (mio) load generator.
//!
//! Modes:
//!   echo  N connections; each sends a 64-byte line (63 bytes + '\n'), waits for the complete
//!         echo, checks every byte, sends the next. Reports round trips/s and latency.
//!   file  N connections; each connects, sends PATH + NUL, reads to EOF, checks the byte count
//!         equals SIZE, closes and reconnects. Reports requests/s, MB/s and latency.
//!   hold  opens N idle connections, prints "HELD <n> <failed>" once they are up, keeps them
//!         open for --seconds (or until the server closed them all). For memory probes.
//!
//! It reports its own CPU time (getrusage) next to the wall time, and with --server-pid the
//! server's CPU time and RSS over the same window, plus the busy share of every CPU
//! (/proc/stat), so a table can show which side was the bottleneck. Every loop is bounded: the
//! whole run stops at connect phase + warmup + seconds + 10 s at the latest (exit status 3).

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

const LINE: usize = 64;
const READ_BUF: usize = 1024 * 1024;

#[derive(Clone, Copy, PartialEq, Debug)]
enum Mode {
    Echo,
    File,
    Hold,
}

struct Opts {
    mode: Mode,
    host: String,
    port: u16,
    conns: usize,
    seconds: f64,
    warmup: f64,
    path: String,
    size: u64,
    json: bool,
    server_pid: Option<i32>,
    batch: usize,
    timeout: f64,
    connect_phase: f64,
}

fn usage() -> ! {
    eprintln!(
        "usage: loadgen echo|file|hold [--host 127.0.0.1] --port P [--conns N] [--seconds S]\n\
         \x20      [--warmup S] [--path PATH --size BYTES] [--json] [--server-pid PID]\n\
         \x20      [--batch N (connects in flight)] [--timeout S (no progress)] [--connect-phase S]"
    );
    std::process::exit(2);
}

fn parse_args() -> Opts {
    let mut args = std::env::args().skip(1);
    let mode = match args.next().as_deref() {
        Some("echo") => Mode::Echo,
        Some("file") => Mode::File,
        Some("hold") => Mode::Hold,
        _ => usage(),
    };
    let mut o = Opts {
        mode,
        host: "127.0.0.1".into(),
        port: 0,
        conns: 100,
        seconds: 5.0,
        warmup: 1.0,
        path: String::new(),
        size: 0,
        json: false,
        server_pid: None,
        batch: 64,
        timeout: 5.0,
        connect_phase: 8.0,
    };
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--host" => o.host = val(),
            "--port" => o.port = val().parse().unwrap_or_else(|_| usage()),
            "--conns" => o.conns = val().parse().unwrap_or_else(|_| usage()),
            "--seconds" => o.seconds = val().parse().unwrap_or_else(|_| usage()),
            "--warmup" => o.warmup = val().parse().unwrap_or_else(|_| usage()),
            "--path" => o.path = val(),
            "--size" => o.size = val().parse().unwrap_or_else(|_| usage()),
            "--json" => o.json = true,
            "--server-pid" => o.server_pid = Some(val().parse().unwrap_or_else(|_| usage())),
            "--batch" => o.batch = val().parse().unwrap_or_else(|_| usage()),
            "--timeout" => o.timeout = val().parse().unwrap_or_else(|_| usage()),
            "--connect-phase" => o.connect_phase = val().parse().unwrap_or_else(|_| usage()),
            _ => usage(),
        }
    }
    let bad_time = |s: f64| !(0.0..=3600.0).contains(&s);
    if o.port == 0 || o.conns == 0 || o.batch == 0 || bad_time(o.seconds) || bad_time(o.warmup) {
        usage();
    }
    if o.mode == Mode::File && o.path.is_empty() {
        usage();
    }
    o
}

/// Log-linear latency histogram in microseconds: exact below 2048 µs, then 1024 sub-buckets
/// per power of two (< 0.1% error).
struct Hist {
    b: Vec<u64>,
    n: u64,
    sum: u128,
    max: u64,
}

impl Hist {
    fn new() -> Hist {
        Hist {
            b: vec![0; 2048 + 40 * 1024],
            n: 0,
            sum: 0,
            max: 0,
        }
    }
    fn idx(us: u64) -> usize {
        let us = us.min((1u64 << 50) - 1);
        if us < 2048 {
            return us as usize;
        }
        let p = 63 - us.leading_zeros() as u64; // >= 11
        let sub = (us >> (p - 10)) & 1023;
        (2048 + (p - 11) * 1024 + sub) as usize
    }
    fn value(i: usize) -> u64 {
        if i < 2048 {
            return i as u64;
        }
        let p = 11 + ((i - 2048) / 1024) as u64;
        let sub = ((i - 2048) % 1024) as u64;
        let width = 1u64 << (p - 10);
        ((1024 + sub) << (p - 10)) + width / 2
    }
    fn add(&mut self, us: u64) {
        self.b[Self::idx(us)] += 1;
        self.n += 1;
        self.sum += us as u128;
        self.max = self.max.max(us);
    }
    fn pct(&self, q: f64) -> u64 {
        if self.n == 0 {
            return 0;
        }
        let target = ((q * self.n as f64).ceil() as u64).max(1);
        let mut c = 0;
        for (i, &k) in self.b.iter().enumerate() {
            c += k;
            if c >= target {
                return Self::value(i);
            }
        }
        self.max
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum St {
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

struct Conn {
    sock: Option<TcpStream>,
    gen: u32,
    st: St,
    off: usize,
    got: u64,
    seq: u64,
    t0: Instant,
    progress: Instant,
    backoff_ms: u64,
    retry_at: Option<Instant>,
    line: [u8; LINE],
    /// Completed at least one request (echo: first round trip; hold: connected).
    ok_once: bool,
    /// Completed a request during the measured window.
    ok_measured: bool,
}

#[derive(Default)]
struct Errors {
    connect: u64,
    reset: u64,
    eof: u64,
    mismatch: u64,
    size: u64,
    timeout: u64,
}

impl Errors {
    fn total(&self) -> u64 {
        self.connect + self.reset + self.eof + self.mismatch + self.size + self.timeout
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Phase {
    Connect,
    Warmup,
    Measure,
}

#[derive(Clone, Default)]
struct Snap {
    cpu_self: f64,
    server_cpu: Option<f64>,
    cpus: Vec<(u64, u64)>, // per CPU: (busy, total) jiffies
}

fn cpu_self() -> f64 {
    // SAFETY: getrusage writes into the zeroed struct we pass; RUSAGE_SELF is always valid.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn clk_tck() -> f64 {
    // SAFETY: sysconf has no memory effects.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

fn proc_cpu(pid: i32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ut: f64 = f.get(11)?.parse().ok()?;
    let st: f64 = f.get(12)?.parse().ok()?;
    Some((ut + st) / clk_tck())
}

fn proc_rss_kb(pid: i32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let l = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    l.split_whitespace().nth(1)?.parse().ok()
}

fn cpu_jiffies() -> Vec<(u64, u64)> {
    let mut v = Vec::new();
    if let Ok(s) = std::fs::read_to_string("/proc/stat") {
        for l in s.lines() {
            if l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(|c| c.is_ascii_digit()) {
                let n: Vec<u64> = l
                    .split_whitespace()
                    .skip(1)
                    .filter_map(|x| x.parse().ok())
                    .collect();
                if n.len() >= 5 {
                    let total: u64 = n.iter().take(8).sum();
                    let idle = n[3] + n[4];
                    v.push((total - idle, total));
                }
            }
        }
    }
    v
}

fn snap(o: &Opts) -> Snap {
    Snap {
        cpu_self: cpu_self(),
        server_cpu: o.server_pid.and_then(proc_cpu),
        cpus: cpu_jiffies(),
    }
}

fn raise_nofile() {
    // SAFETY: get/setrlimit only read/write the struct we pass.
    unsafe {
        let mut r: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 && r.rlim_cur < r.rlim_max {
            r.rlim_cur = r.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        }
    }
}

fn hex(out: &mut [u8], mut v: u64) {
    const H: &[u8; 16] = b"0123456789abcdef";
    for b in out.iter_mut().rev() {
        *b = H[(v & 15) as usize];
        v >>= 4;
    }
}

struct Gen {
    o: Opts,
    addr: SocketAddr,
    poll: Poll,
    conns: Vec<Conn>,
    buf: Vec<u8>,
    request: Vec<u8>,
    phase: Phase,
    hist: Hist,
    done: u64,
    done_all: u64,
    bytes: u64,
    err: Errors,
    err_measured: u64,
    connect_retries: u64,
    opening: usize,
    next_unstarted: usize,
    retries: Vec<usize>,
    held: usize,
    closed_held: usize,
}

enum Io {
    Ok,
    Wait,
    Fail(fn(&mut Errors)),
}

impl Gen {
    fn token(&self, i: usize) -> Token {
        Token(i | ((self.conns[i].gen as usize) << 32))
    }

    /// Starts a new connection for slot i (counts towards `opening` until its first success).
    fn connect(&mut self, i: usize) {
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
    fn fail(&mut self, i: usize, kind: fn(&mut Errors)) {
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
    fn start_request(&mut self, i: usize) {
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

    fn send(&mut self, i: usize) {
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

    fn complete(&mut self, i: usize, now: Instant) {
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

    fn recv_echo(&mut self, i: usize) {
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
    fn recv_file(&mut self, i: usize, read_closed: bool) {
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

    fn event(&mut self, i: usize, readable: bool, writable: bool, read_closed: bool) {
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
    fn open_more(&mut self) {
        while self.next_unstarted < self.conns.len() && self.opening < self.o.batch {
            let i = self.next_unstarted;
            self.next_unstarted += 1;
            self.opening += 1;
            self.connect(i);
        }
    }

    fn run_retries(&mut self, now: Instant) -> Option<Instant> {
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

    fn check_timeouts(&mut self, now: Instant) {
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

fn main() {
    let o = parse_args();
    raise_nofile();
    let addr = match (o.host.as_str(), o.port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
    {
        Some(a) => a,
        None => {
            eprintln!("loadgen: cannot resolve {}", o.host);
            std::process::exit(2);
        }
    };
    let mut request = o.path.clone().into_bytes();
    request.push(0);
    let mut line = [0u8; LINE];
    for (k, b) in line.iter_mut().enumerate() {
        *b = b'a' + (k % 26) as u8;
    }
    line[LINE - 1] = b'\n';
    let t_start = Instant::now();
    let n = o.conns;
    let conns = (0..n)
        .map(|_| Conn {
            sock: None,
            gen: 0,
            st: St::Idle,
            off: 0,
            got: 0,
            seq: 0,
            t0: t_start,
            progress: t_start,
            backoff_ms: 0,
            retry_at: None,
            line,
            ok_once: false,
            ok_measured: false,
        })
        .collect();
    let poll = Poll::new().expect("epoll_create");
    let mut g = Gen {
        addr,
        poll,
        conns,
        buf: vec![0; READ_BUF],
        request,
        phase: Phase::Connect,
        hist: Hist::new(),
        done: 0,
        done_all: 0,
        bytes: 0,
        err: Errors::default(),
        err_measured: 0,
        connect_retries: 0,
        opening: 0,
        next_unstarted: 0,
        retries: Vec::new(),
        held: 0,
        closed_held: 0,
        o,
    };
    let mut events = Events::with_capacity(1024);

    // File mode has no connect phase: every connection cycles from the start.
    if g.o.mode == Mode::File {
        g.o.batch = usize::MAX;
    }
    g.open_more();
    let connect_deadline = t_start + Duration::from_secs_f64(g.o.connect_phase);
    let mut hard_stop =
        t_start + Duration::from_secs_f64(g.o.connect_phase + g.o.warmup + g.o.seconds + 10.0);
    let mut phase_end = connect_deadline;
    let mut connect_s = 0.0;
    let mut s0 = Snap::default();
    let mut t_measure = t_start;
    let mut last_scan = t_start;
    let mut stopped_hard = false;
    if g.o.mode == Mode::File {
        g.phase = Phase::Warmup;
        phase_end = t_start + Duration::from_secs_f64(g.o.warmup);
        hard_stop = t_start + Duration::from_secs_f64(g.o.warmup + g.o.seconds + 10.0);
    }

    loop {
        let now = Instant::now();
        if now >= hard_stop {
            stopped_hard = true;
            eprintln!("loadgen: hard stop reached");
            break;
        }
        // Phase changes.
        let all_up = g.next_unstarted == n && g.opening == 0;
        if g.phase == Phase::Connect && (all_up || now >= phase_end) {
            connect_s = now.duration_since(t_start).as_secs_f64();
            if g.o.mode == Mode::Hold {
                println!("HELD {} {}", g.held, n - g.held);
                use std::io::Write as _;
                let _ = io::stdout().flush();
                g.phase = Phase::Measure;
                s0 = snap(&g.o);
                t_measure = now;
                phase_end = now + Duration::from_secs_f64(g.o.seconds);
            } else {
                g.phase = Phase::Warmup;
                phase_end = now + Duration::from_secs_f64(g.o.warmup);
                // Slots still not up take part when they get there.
            }
        } else if g.phase == Phase::Warmup && now >= phase_end {
            g.phase = Phase::Measure;
            s0 = snap(&g.o);
            t_measure = Instant::now();
            phase_end = t_measure + Duration::from_secs_f64(g.o.seconds);
        } else if g.phase == Phase::Measure && now >= phase_end {
            break;
        }
        if g.o.mode == Mode::Hold
            && g.phase == Phase::Measure
            && g.held > 0
            && g.closed_held == g.held
        {
            break; // the server closed every connection
        }
        if now.duration_since(last_scan) >= Duration::from_millis(100) {
            last_scan = now;
            g.check_timeouts(now);
        }
        let next_retry = if g.retries.is_empty() {
            None
        } else {
            g.run_retries(now)
        };
        g.open_more();
        let mut wake = phase_end
            .min(hard_stop)
            .min(last_scan + Duration::from_millis(100));
        if let Some(t) = next_retry {
            wake = wake.min(t);
        }
        let timeout = wake.saturating_duration_since(Instant::now());
        if let Err(e) = g.poll.poll(&mut events, Some(timeout)) {
            if e.kind() != io::ErrorKind::Interrupted {
                eprintln!("loadgen: epoll_wait: {e}");
                break;
            }
        }
        for ev in events.iter() {
            let t = ev.token().0;
            let i = t & 0xffff_ffff;
            if i >= n || (t >> 32) as u32 != g.conns[i].gen || g.conns[i].sock.is_none() {
                continue; // an event of a socket closed meanwhile
            }
            g.event(
                i,
                ev.is_readable() || ev.is_read_closed() || ev.is_error(),
                ev.is_writable(),
                ev.is_read_closed(),
            );
        }
    }

    let t_end = Instant::now();
    let s1 = snap(&g.o);
    let server_rss = g.o.server_pid.and_then(proc_rss_kb);
    let wall = if g.phase == Phase::Measure {
        t_end.duration_since(t_measure).as_secs_f64()
    } else {
        0.0
    };
    let measured = g.phase == Phase::Measure && !stopped_hard;
    let rps = if wall > 0.0 {
        g.done as f64 / wall
    } else {
        0.0
    };
    let mbps = if wall > 0.0 {
        g.bytes as f64 / wall / 1e6
    } else {
        0.0
    };
    let cpu = s1.cpu_self - s0.cpu_self;
    let server_cpu = match (s0.server_cpu, s1.server_cpu) {
        (Some(a), Some(b)) if measured => Some(b - a),
        _ => None,
    };
    let cpus: Vec<String> = s0
        .cpus
        .iter()
        .zip(s1.cpus.iter())
        .map(|(a, b)| {
            let tot = b.1.saturating_sub(a.1);
            if tot == 0 {
                "null".to_string()
            } else {
                format!("{:.1}", 100.0 * b.0.saturating_sub(a.0) as f64 / tot as f64)
            }
        })
        .collect();
    let active = g.conns.iter().filter(|c| c.ok_measured).count();
    let mode = format!("{:?}", g.o.mode).to_lowercase();
    let opt = |v: Option<f64>, d: usize| v.map_or("null".to_string(), |x| format!("{x:.d$}"));
    let e = &g.err;
    if g.o.json {
        println!(
            "{{\"mode\":\"{mode}\",\"conns\":{n},\"conns_active\":{active},\"held\":{held},\"ok\":{ok},\
\"connect_s\":{connect_s:.3},\"warmup_s\":{warm},\"seconds\":{wall:.3},\"requests\":{done},\"requests_all\":{done_all},\"rps\":{rps:.1},\
\"bytes\":{bytes},\"mb_per_s\":{mbps:.2},\"p50_us\":{p50},\"p99_us\":{p99},\"p999_us\":{p999},\"max_us\":{max},\
\"mean_us\":{mean:.1},\"errors\":{em},\"errors_total\":{et},\"errors_by_kind\":{{\"connect\":{ec},\"reset\":{er},\
\"eof\":{ee},\"mismatch\":{emm},\"size\":{es},\"timeout\":{eto}}},\"connect_retries\":{cr},\
\"client_cpu_s\":{cpu:.3},\"client_cpu_pct\":{cpct:.1},\"server_cpu_s\":{scpu},\"server_cpu_pct\":{spct},\
\"server_rss_kb\":{srss},\"cpu_busy_pct\":[{cpus}],\"hard_stop\":{stopped_hard}}}",
            held = g.held,
            ok = measured,
            warm = g.o.warmup,
            done = g.done,
            done_all = g.done_all,
            bytes = g.bytes,
            p50 = g.hist.pct(0.50),
            p99 = g.hist.pct(0.99),
            p999 = g.hist.pct(0.999),
            max = g.hist.max,
            mean = if g.hist.n > 0 { g.hist.sum as f64 / g.hist.n as f64 } else { 0.0 },
            em = g.err_measured,
            et = e.total(),
            ec = e.connect,
            er = e.reset,
            ee = e.eof,
            emm = e.mismatch,
            es = e.size,
            eto = e.timeout,
            cr = g.connect_retries,
            cpct = if wall > 0.0 { 100.0 * cpu / wall } else { 0.0 },
            scpu = opt(server_cpu, 3),
            spct = opt(server_cpu.map(|c| if wall > 0.0 { 100.0 * c / wall } else { 0.0 }), 1),
            srss = server_rss.map_or("null".to_string(), |v| v.to_string()),
            cpus = cpus.join(","),
        );
    } else {
        println!(
            "{mode}: {n} conns ({active} active), {wall:.2}s: {rps:.0} req/s, {mbps:.1} MB/s, p50 {} us, \
             p99 {} us, errors {} (total {}), client cpu {:.0}%, server cpu {}%, server rss {} kB, \
             cpu busy [{}]%",
            g.hist.pct(0.5),
            g.hist.pct(0.99),
            g.err_measured,
            e.total(),
            if wall > 0.0 { 100.0 * cpu / wall } else { 0.0 },
            opt(server_cpu.map(|c| if wall > 0.0 { 100.0 * c / wall } else { 0.0 }), 0),
            server_rss.map_or("?".to_string(), |v| v.to_string()),
            cpus.join(", "),
        );
    }
    std::process::exit(if stopped_hard {
        3
    } else if measured {
        0
    } else {
        1
    });
}
