//! accept survives running out of file descriptors: it backs off (no busy loop) and serves the
//! waiting clients once descriptors are free again. The server runs in a child process (this
//! binary re-executed) because it lowers RLIMIT_NOFILE.

use std::cell::RefCell;
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use greenhub::{net, thread};

const CHILD_ENV: &str = "GREENHUB_EMFILE_CHILD";
const CLIENTS: usize = 10;

fn cpu_seconds() -> f64 {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the zeroed struct.
    let ru = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, ru.as_mut_ptr());
        ru.assume_init()
    };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(ru.ru_utime) + t(ru.ru_stime)
}

#[test]
fn emfile_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let listener = net::listen(Some("127.0.0.1"), 0, 64).unwrap();
    println!("PORT {}", net::local_addr(listener).unwrap().port());
    // Room for only three more descriptors.
    let open = std::fs::read_dir("/proc/self/fd").unwrap().count();
    let limit = libc::rlimit {
        rlim_cur: open as libc::rlim_t + 2,
        rlim_max: 4096,
    };
    // SAFETY: sets this process's descriptor limit from a valid struct.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);

    let held = Rc::new(RefCell::new(Vec::new()));
    let done = Rc::new(RefCell::new(false));
    let (h, d) = (held.clone(), done.clone());
    // Frees the held sockets every 300 ms, so the acceptor is stuck on EMFILE in between.
    let releaser = thread::spawn(move || {
        while !*d.borrow() {
            thread::sleep(Duration::from_millis(300)).unwrap();
            for s in h.borrow_mut().drain(..) {
                net::close(s).unwrap();
            }
        }
        0
    })
    .unwrap();
    let start = Instant::now();
    let cpu0 = cpu_seconds();
    let mut accepted = 0;
    while accepted < CLIENTS {
        let (s, _) = net::accept(listener).unwrap();
        held.borrow_mut().push(s);
        accepted += 1;
    }
    let wall = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    *done.borrow_mut() = true;
    thread::join(releaser).unwrap();
    println!("ACCEPTED {accepted} wall {wall:.2} cpu {cpu:.3}");
}

#[test]
fn accept_backs_off_on_emfile_and_recovers() {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "emfile_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let port: u16 = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| l.split("PORT ").nth(1).map(|p| p.trim().parse().unwrap()))
        .expect("child printed its port");
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    // Read to the end: the child still prints its test summary after the result line.
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let result = rest
        .iter()
        .find_map(|l| {
            l.split_once("ACCEPTED")
                .map(|(_, r)| format!("ACCEPTED{r}"))
        })
        .unwrap_or_default();
    let status = child.wait().unwrap();
    drop(clients);
    assert!(status.success(), "child failed: {status:?}");
    let fields: Vec<&str> = result.split_whitespace().collect();
    assert_eq!(fields.get(1), Some(&"10"), "{result}");
    let wall: f64 = fields[3].parse().unwrap();
    let cpu: f64 = fields[5].parse().unwrap();
    assert!(
        wall >= 0.5,
        "the acceptor must have waited for the releaser: {result}"
    );
    assert!(
        cpu < 0.25 * wall,
        "accept spun while out of descriptors: {result}"
    );
}
