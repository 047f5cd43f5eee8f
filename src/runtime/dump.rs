//! The thread dump: one entry per thread of this hub (the root first), with its short id, name,
//! state and what it waits on as its resource describes it (`Object::describe_wait`), how long
//! it has waited and its deadline; a binding's stack of it (`hooks::stacks`) on indented lines;
//! then the hub's counters. Nothing here names a resource: a new kind of wait describes itself.

use std::fmt::Write as _;
use std::time::Instant;

use super::hooks;
use super::object::Objects;
use super::sched::Sched;
use super::task::{State, Task};

/// The hub's counters, as the dump prints them and `gh_stats` returns them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Green threads that have not ended (the root not counted).
    pub threads: u64,
    /// Objects in the table by kind ("socket", "semaphore", ...), in order of first appearance.
    pub objects: Vec<(&'static str, u64)>,
    /// Switches: each time a thread or the root started running again.
    pub switches: u64,
    /// Turns of I/O polling (epoll_wait calls).
    pub polls: u64,
    /// Finished stacks kept for reuse.
    pub stacks_pooled: u64,
}

impl Stats {
    /// How many objects of `kind` there are.
    pub fn objects_of(&self, kind: &str) -> u64 {
        self.objects
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(0, |&(_, n)| n)
    }
}

pub(crate) fn stats_of(sched: &Sched, objects: &Objects) -> Stats {
    Stats {
        threads: sched.live as u64,
        objects: objects
            .count_by_kind()
            .into_iter()
            .map(|(k, n)| (k, n as u64))
            .collect(),
        switches: sched.watch.switches(),
        polls: sched.polls,
        stacks_pooled: sched.stacks.len() as u64,
    }
}

/// Installs the dump signal named by `GREENHUB_DUMP_SIGNAL` ("USR2", "SIGUSR2", a number),
/// once per process, when the first hub is made; a name that is no signal is reported.
pub(crate) fn signal_from_env() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let Ok(name) = std::env::var("GREENHUB_DUMP_SIGNAL") else {
            return;
        };
        let outcome = match crate::sys::signal_number(&name) {
            Some(signal) => crate::sys::install_dump_handler(signal).map_err(|e| e.to_string()),
            None => Err("not a signal name".to_string()),
        };
        if let Err(why) = outcome {
            super::log::emit(&super::log::Report::message(format!(
                "greenhub: GREENHUB_DUMP_SIGNAL={name}: no dump signal installed ({why})"
            )));
        }
    });
}

/// One thread's entry, gathered under the hub's borrow.
struct Entry {
    line: String,
    /// The hook word whose stack the binding adds, 0 for none.
    word: usize,
}

/// What the dump says, gathered under the hub's borrow; [`finish`] adds the stacks.
pub(crate) struct Gathered {
    header: String,
    entries: Vec<Entry>,
    footer: String,
    /// The running thread's hook word.
    current: usize,
}

/// The dump as text (every line ends with a newline), the binding's stacks added: called
/// outside the hub's borrow.
pub(crate) fn finish(g: Gathered) -> String {
    let words: Vec<usize> = g.entries.iter().map(|e| e.word).collect();
    let stacks = hooks::stacks(g.current, &words);
    let mut out = g.header;
    for (i, entry) in g.entries.iter().enumerate() {
        out.push_str(&entry.line);
        out.push('\n');
        if let Some(stack) = stacks.get(i).filter(|s| !s.is_empty()) {
            out.push_str(stack);
            if !stack.ends_with('\n') {
                out.push('\n');
            }
        }
    }
    out.push_str(&g.footer);
    out
}

pub(crate) fn gather(s: &Sched, objects: &Objects) -> Gathered {
    let now = Instant::now();
    let now_ms = crate::sys::coarse_ms();
    let mut entries = vec![entry(s, objects, &s.root, now, now_ms)];
    for (_, task) in s.tasks.iter() {
        entries.push(entry(s, objects, task, now, now_ms));
    }
    let header = format!(
        "greenhub: thread dump (pid {}, OS thread {}): {} green threads and the root\n",
        std::process::id(),
        crate::sys::os_thread_id(),
        s.tasks.iter().count()
    );
    let stats = stats_of(s, objects);
    let mut objects = String::new();
    for (i, (kind, n)) in stats.objects.iter().enumerate() {
        let _ = write!(objects, "{}{kind} {n}", if i == 0 { "" } else { ", " });
    }
    let total: u64 = stats.objects.iter().map(|&(_, n)| n).sum();
    let footer = format!(
        "counters: threads {}, objects {total} ({objects}), switches {}, polls {}, stacks pooled {}\n",
        stats.threads, stats.switches, stats.polls, stats.stacks_pooled
    );
    let current = s.task(s.current).map_or(0, |t| t.hook_word);
    Gathered {
        header,
        entries,
        footer,
        current,
    }
}

fn entry(s: &Sched, objects: &Objects, task: &Task, now: Instant, now_ms: u64) -> Entry {
    let mut line = task.label();
    let mut word = task.hook_word;
    match task.state {
        State::Running => line.push_str(": running"),
        State::Runnable => line.push_str(": runnable"),
        State::Done => {
            let _ = write!(line, ": ended with status {}, not joined yet", task.status);
            word = 0; // its binding state is gone
        }
        State::Blocked => {
            line.push_str(": waiting: ");
            describe_wait(s, objects, task, &mut line);
            let waited = now_ms.saturating_sub(task.since_ms);
            let _ = write!(line, ", for {}", seconds(waited));
            if let Some(until) = task.until {
                let left = until.saturating_duration_since(now).as_millis() as u64;
                let _ = write!(line, ", deadline in {}", seconds(left));
            }
        }
    }
    Entry { line, word }
}

/// What `task` waits on: its resource's own description, a join by the joined thread's id.
fn describe_wait(s: &Sched, objects: &Objects, task: &Task, out: &mut String) {
    let wait = task.wait;
    if wait.object != 0 {
        if let Some(joined) = s.tasks.get(wait.object) {
            let _ = write!(out, "{} thread {}", wait.what, joined.short);
            return;
        }
        if objects.describe_wait(wait.object, wait.what, out) {
            return;
        }
    }
    out.push_str(if wait.what.is_empty() { "?" } else { wait.what });
}

fn seconds(ms: u64) -> String {
    format!("{}.{:03} s", ms / 1000, ms % 1000)
}
