//! Hub-blocking detection: a monitor OS thread samples each hub's switch counter and reports,
//! once per episode, a thread (or the root) that has run longer than the threshold without
//! switching. The switch path only bumps the counter and says who runs now (relaxed stores to
//! memory no other hub thread writes); everything else happens on the monitor thread.
//!
//! The threshold is `GREENHUB_BLOCK_WARN_MS` (read when the first hub is made) or
//! [`set_block_warn`]; 0 turns detection off (the monitor then sleeps). The report goes through
//! the log sink from the monitor thread (`ReportKind::Blocked`), with the binding's stack of the
//! running thread where it can read it from there (`hooks::running_stack`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, Once, Weak};
use std::time::{Duration, Instant};

use super::hooks;
use super::log::{Report, ReportKind};

/// What the monitor can see of one hub.
#[derive(Default)]
pub(crate) struct Watch {
    /// Switches so far: every time a thread (or the root) starts running.
    switches: AtomicU64,
    /// The running thread's handle, short id and hook word.
    running: AtomicU64,
    running_short: AtomicU64,
    running_word: AtomicUsize,
    /// The hub waits in epoll: nobody holds it.
    idle: AtomicBool,
    /// Green threads alive: the root alone holds nobody up.
    threads: AtomicUsize,
    /// Names of named threads by handle (the monitor cannot read the hub's records).
    names: Mutex<HashMap<u64, String>>,
    /// The monitor's own bookkeeping for this hub.
    sample: Mutex<Sample>,
}

#[derive(Default)]
struct Sample {
    switches: u64,
    since: Option<Instant>,
    reported: bool,
}

impl Watch {
    /// Thread `id` (short id `short`, hook word `word`) runs now.
    #[inline(always)]
    pub(crate) fn switched(&self, id: u64, short: u64, word: usize) {
        // Only the hub's own thread writes these: a load and a store, no locked instruction.
        self.switches
            .store(self.switches.load(Relaxed) + 1, Relaxed);
        self.running.store(id, Relaxed);
        self.running_short.store(short, Relaxed);
        self.running_word.store(word, Relaxed);
    }

    pub(crate) fn switches(&self) -> u64 {
        self.switches.load(Relaxed)
    }

    pub(crate) fn set_idle(&self, idle: bool) {
        self.idle.store(idle, Relaxed);
    }

    pub(crate) fn set_threads(&self, live: usize) {
        self.threads.store(live, Relaxed);
    }

    pub(crate) fn set_name(&self, id: u64, name: Option<&str>) {
        let mut names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        match name {
            Some(n) => names.insert(id, n.to_string()),
            None => names.remove(&id),
        };
    }

    /// One look by the monitor: a report if the hub has been held for `threshold` since the
    /// last switch, the first time in this episode.
    fn check(&self, now: Instant, threshold: Duration) -> Option<Report> {
        let mut s = self.sample.lock().unwrap_or_else(|e| e.into_inner());
        let switches = self.switches.load(Relaxed);
        if self.idle.load(Relaxed) || switches != s.switches || s.since.is_none() {
            *s = Sample {
                switches,
                since: Some(now),
                reported: false,
            };
            return None;
        }
        let held = now.duration_since(s.since?);
        let short = self.running_short.load(Relaxed);
        if s.reported || held < threshold || (short == 0 && self.threads.load(Relaxed) == 0) {
            return None;
        }
        s.reported = true;
        let id = self.running.load(Relaxed);
        let name = self
            .names
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .cloned();
        let mut text = format!(
            "greenhub: {} has held the hub for {} ms without switching; every other thread waits",
            super::task::label(short, name.as_deref()),
            held.as_millis()
        );
        let stack = hooks::running_stack(self.running_word.load(Relaxed));
        // Read while the thread still held the hub: the same episode, or it is not its stack.
        if let Some(stack) = stack.filter(|_| self.switches.load(Relaxed) == switches) {
            text.push_str("\n  stack (most recent call last):\n");
            text.push_str(stack.trim_end());
        }
        Some(Report {
            kind: ReportKind::Blocked,
            thread: id,
            status: held.as_millis().min(i32::MAX as u128) as i32,
            text,
        })
    }
}

static THRESHOLD_MS: AtomicU64 = AtomicU64::new(0);
static WATCHES: Mutex<Vec<Weak<Watch>>> = Mutex::new(Vec::new());
static MONITOR: Once = Once::new();
static FROM_ENV: Once = Once::new();

/// A new hub's watch, seen by the monitor for as long as the hub lives.
pub(crate) fn new_watch() -> Arc<Watch> {
    FROM_ENV.call_once(|| {
        let ms = std::env::var("GREENHUB_BLOCK_WARN_MS")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok());
        if let Some(ms) = ms {
            set_block_warn(ms);
        }
    });
    let watch = Arc::new(Watch::default());
    let mut all = WATCHES.lock().unwrap_or_else(|e| e.into_inner());
    all.retain(|w| w.strong_count() > 0);
    all.push(Arc::downgrade(&watch));
    watch
}

/// Reports a thread that runs `ms` milliseconds without switching; 0 turns detection off.
/// Process-wide; the monitor thread starts on the first non-zero value.
pub fn set_block_warn(ms: u64) {
    THRESHOLD_MS.store(ms, Relaxed);
    if ms > 0 {
        MONITOR.call_once(|| {
            let _ = std::thread::Builder::new()
                .name("greenhub-block-monitor".into())
                .spawn(monitor);
        });
    }
}

/// The threshold in milliseconds, 0 when off.
pub fn block_warn() -> u64 {
    THRESHOLD_MS.load(Relaxed)
}

fn monitor() {
    loop {
        let ms = THRESHOLD_MS.load(Relaxed);
        if ms == 0 {
            std::thread::sleep(Duration::from_millis(100));
            continue;
        }
        // Four looks per threshold: an episode is reported at most a quarter late.
        std::thread::sleep(Duration::from_millis((ms / 4).clamp(1, 250)));
        let threshold = Duration::from_millis(ms);
        let watches: Vec<Arc<Watch>> = WATCHES
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        let now = Instant::now();
        for watch in watches {
            if let Some(report) = watch.check(now, threshold) {
                super::log::emit(&report);
            }
        }
    }
}
