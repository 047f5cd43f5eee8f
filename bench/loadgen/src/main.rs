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

mod gen;
mod hist;
mod stats;

use gen::{Conn, Errors, Gen, Phase, St};
use hist::Hist;
use stats::{proc_rss_kb, raise_nofile, snap, Snap};

use mio::{Events, Poll};
use std::io;
use std::net::ToSocketAddrs;
use std::time::{Duration, Instant};

pub(crate) const LINE: usize = 64;
pub(crate) const READ_BUF: usize = 1024 * 1024;

#[derive(Clone, Copy, PartialEq, Debug)]
pub(crate) enum Mode {
    Echo,
    File,
    Hold,
}

pub(crate) struct Opts {
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
