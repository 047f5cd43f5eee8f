//! Library-wide C functions: version, report sink, default stack size.

use std::ffi::{c_char, c_int, c_void, CString};

use super::{call, gh_thread};
use greenhub::log::{Report, ReportKind};

/// Hubs a process can create in its life (one per OS thread that uses greenhub). A hub's tag,
/// part of every handle, is never reused, so a handle is refused by every other hub, even one
/// created after its own hub's thread has ended. On an OS thread started after this many hubs
/// were created, every call that needs a hub fails with EMFILE (reported once on the log).
pub const GH_HUBS_MAX: i32 = 4095;

const _: () = assert!(GH_HUBS_MAX == greenhub::thread::HUBS_MAX as i32);

/// gh_report.kind: a message of the library's own (an epoll_wait failure); thread is 0.
pub const GH_REPORT_MESSAGE: c_int = 0;
/// gh_report.kind: a green thread ended with a non-zero status.
pub const GH_REPORT_FAILED: c_int = 1;
/// gh_report.kind: a green thread overflowed its stack; it was stopped, the process goes on.
pub const GH_REPORT_STACK_OVERFLOW: c_int = 2;
/// gh_report.kind: a green thread's Rust code panicked (a greenhub bug).
pub const GH_REPORT_PANIC: c_int = 3;
/// gh_report.kind: a green thread (or the root: thread 0) has run longer than the block-warning
/// threshold without switching (gh_set_block_warn); status is how long, in milliseconds.
/// Sent once per episode, from greenhub's monitor thread while the thread still runs; for a
/// Python thread the text goes on with its stack on indented lines.
pub const GH_REPORT_BLOCKED: c_int = 4;

/// One report, as gh_set_log()'s callback receives it. Valid during the call only.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct gh_report {
    /// What it is about: GH_REPORT_*.
    pub kind: c_int,
    /// The thread's status (its return value; GH_STATUS_STACK_OVERFLOW for an overflow).
    pub status: c_int,
    /// The thread it is about; 0 for a message.
    pub thread: gh_thread,
    /// The report as one line, NUL-terminated, without a trailing newline: what stderr gets
    /// when no callback is set. Threads are named by their short id (gh_thread_id) and name.
    /// A GH_REPORT_BLOCKED report may go on with a stack on indented lines.
    pub text: *const c_char,
}

/// Receives reports (a thread that failed, overflowed its stack or panicked, or held the hub;
/// a message), one per call. It must not block (blocking calls fail with EDEADLK inside it).
/// GH_REPORT_BLOCKED comes from greenhub's monitor thread, the others from the hub's thread.
#[allow(non_camel_case_types)]
pub type gh_log_fn = Option<unsafe extern "C" fn(ctx: *mut c_void, report: *const gh_report)>;

/// The library's version, "MAJOR.MINOR.PATCH", equal to GREENHUB_VERSION.
#[no_mangle]
pub extern "C" fn gh_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// Sends reports to `fn(ctx, report)` instead of stderr; `fn == NULL` restores stderr.
/// Process-wide; may be called from any OS thread.
#[no_mangle]
pub extern "C" fn gh_set_log(f: gh_log_fn, ctx: *mut c_void) {
    call((), || {
        let sink = f.map(|f| {
            let ctx = ctx as usize;
            Box::new(move |report: &Report| {
                let text = CString::new(report.text.replace('\0', "?")).unwrap_or_default();
                let c = gh_report {
                    kind: match report.kind {
                        ReportKind::Message => GH_REPORT_MESSAGE,
                        ReportKind::Failed => GH_REPORT_FAILED,
                        ReportKind::StackOverflow => GH_REPORT_STACK_OVERFLOW,
                        ReportKind::Panicked => GH_REPORT_PANIC,
                        ReportKind::Blocked => GH_REPORT_BLOCKED,
                    },
                    status: report.status,
                    thread: report.thread as gh_thread,
                    text: text.as_ptr(),
                };
                // SAFETY: `f` is the caller's callback, given `ctx` back as promised; `c` and
                // its text live until it returns.
                unsafe { f(ctx as *mut c_void, &c) }
            }) as greenhub::log::LogSink
        });
        greenhub::log::set_log(sink);
        Ok(())
    })
}

/// Sets the stack size (bytes, rounded up to whole pages) of green threads spawned later
/// without an explicit size. Process-wide. Fails with EINVAL below 16 KiB.
/// The initial default is 128 KiB, or the GREENHUB_STACK_SIZE environment variable
/// (bytes, with an optional k or m suffix).
#[no_mangle]
pub extern "C" fn gh_set_stack_size(bytes: usize) -> c_int {
    call(-1, || {
        greenhub::thread::set_default_stack_size(bytes).map(|()| 0)
    })
}

/// The current default stack size in bytes.
#[no_mangle]
pub extern "C" fn gh_get_stack_size() -> usize {
    call(0, || Ok(greenhub::thread::default_stack_size()))
}
