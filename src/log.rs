//! Where failure reports go: stderr by default, or a sink the program installs.

use std::sync::RwLock;

/// A sink for report lines (one line, no trailing newline).
pub type LogSink = Box<dyn Fn(&str) + Send + Sync>;

static SINK: RwLock<Option<LogSink>> = RwLock::new(None);

/// Replaces the report sink; `None` restores the default (stderr).
pub fn set_log(sink: Option<LogSink>) {
    let mut guard = SINK.write().unwrap_or_else(|e| e.into_inner());
    *guard = sink;
}

pub(crate) fn emit(line: &str) {
    let guard = SINK.read().unwrap_or_else(|e| e.into_inner());
    match guard.as_ref() {
        Some(sink) => sink(line),
        None => eprintln!("{line}"),
    }
}
