//! CPU time and memory of this process and of the server, from getrusage and /proc.

use crate::Opts;

#[derive(Clone, Default)]
pub(crate) struct Snap {
    pub(crate) cpu_self: f64,
    pub(crate) server_cpu: Option<f64>,
    pub(crate) cpus: Vec<(u64, u64)>, // per CPU: (busy, total) jiffies
}

pub(crate) fn cpu_self() -> f64 {
    // SAFETY: getrusage writes into the zeroed struct we pass; RUSAGE_SELF is always valid.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

pub(crate) fn clk_tck() -> f64 {
    // SAFETY: sysconf has no memory effects.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

pub(crate) fn proc_cpu(pid: i32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ut: f64 = f.get(11)?.parse().ok()?;
    let st: f64 = f.get(12)?.parse().ok()?;
    Some((ut + st) / clk_tck())
}

pub(crate) fn proc_rss_kb(pid: i32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let l = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    l.split_whitespace().nth(1)?.parse().ok()
}

pub(crate) fn cpu_jiffies() -> Vec<(u64, u64)> {
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

pub(crate) fn snap(o: &Opts) -> Snap {
    Snap {
        cpu_self: cpu_self(),
        server_cpu: o.server_pid.and_then(proc_cpu),
        cpus: cpu_jiffies(),
    }
}

pub(crate) fn raise_nofile() {
    // SAFETY: get/setrlimit only read/write the struct we pass.
    unsafe {
        let mut r: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 && r.rlim_cur < r.rlim_max {
            r.rlim_cur = r.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        }
    }
}
