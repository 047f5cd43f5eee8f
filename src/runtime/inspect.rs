//! Seeing inside this OS thread's hub, for programs: the thread dump and the counters (the
//! dump itself is `dump`; hub-blocking detection is `watch`).

use super::hub::{dump_text, with};
use crate::error::Result;

pub use super::dump::Stats;

/// The thread dump of this OS thread's hub (see `gh_dump`), every line ending with a newline.
pub fn text() -> Result<String> {
    dump_text()
}

/// Writes the dump to file descriptor `fd` (waiting while a non-blocking one is full).
pub fn write(fd: i32) -> Result<()> {
    crate::sys::write_all(fd, text()?.as_bytes())
}

/// This OS thread's hub's counters: what the dump's last line says.
pub fn stats() -> Result<Stats> {
    with(|h| Ok(super::dump::stats_of(&h.sched, &h.objects)))
}
