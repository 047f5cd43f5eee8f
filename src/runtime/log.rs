//! Where reports go: stderr by default, or a sink the program installs. A report is
//! structured (which thread, how it ended, why) so a binding can act on it without parsing
//! text; its `text` is the line stderr gets.

use std::sync::RwLock;

/// What a report is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportKind {
    /// A message of the library's own (an `epoll_wait` failure, ...); `thread` is 0.
    Message,
    /// A green thread ended with a non-zero status.
    Failed,
    /// A green thread ran into its guard page; it was stopped, its stack abandoned.
    StackOverflow,
    /// A green thread's Rust body panicked.
    Panicked,
    /// A thread (or the root) has run past the block-warning threshold without switching;
    /// `status` is how long, in milliseconds. From the monitor thread, once per episode.
    Blocked,
}

/// One report: a thread that failed, overflowed or panicked, or a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub kind: ReportKind,
    /// The thread it is about (0 for messages).
    pub thread: u64,
    /// The thread's status (its return value, or STATUS_STACK_OVERFLOW / STATUS_PANIC).
    pub status: i32,
    /// The report as one line of text, without a newline (a blocked thread's report goes on
    /// with its stack on indented lines).
    pub text: String,
}

impl Report {
    pub(crate) fn message(text: String) -> Report {
        Report {
            kind: ReportKind::Message,
            thread: 0,
            status: 0,
            text,
        }
    }
}

/// A sink for reports.
pub type LogSink = Box<dyn Fn(&Report) + Send + Sync>;

static SINK: RwLock<Option<LogSink>> = RwLock::new(None);

/// Replaces the report sink; `None` restores the default (stderr).
pub fn set_log(sink: Option<LogSink>) {
    let mut guard = SINK.write().unwrap_or_else(|e| e.into_inner());
    *guard = sink;
}

pub(crate) fn emit(report: &Report) {
    let guard = SINK.read().unwrap_or_else(|e| e.into_inner());
    match guard.as_ref() {
        Some(sink) => sink(report),
        None => eprintln!("{}", report.text),
    }
}
