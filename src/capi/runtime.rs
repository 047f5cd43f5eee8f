//! Library-wide C functions: version, report sink, default stack size.

use std::ffi::{c_char, c_void, CString};

use super::call;

/// Hubs a process can create in its life (one per OS thread that uses greenhub). A hub's tag,
/// part of every handle, is never reused, so a handle is refused by every other hub, even one
/// created after its own hub's thread has ended. On an OS thread started after this many hubs
/// were created, every call that needs a hub fails with EMFILE (reported once on the log).
pub const GH_HUBS_MAX: i32 = 4095;

const _: () = assert!(GH_HUBS_MAX == crate::handle::HUB_TAG_MAX as i32);

/// Receives report lines (a thread that failed or overflowed its stack), one line per call,
/// NUL-terminated, without a trailing newline. It must not block (blocking calls fail with
/// EDEADLK inside it).
#[allow(non_camel_case_types)]
pub type gh_log_fn = Option<unsafe extern "C" fn(ctx: *mut c_void, line: *const c_char)>;

/// The library's version, "MAJOR.MINOR.PATCH", equal to GREENHUB_VERSION.
#[no_mangle]
pub extern "C" fn gh_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// Sends reports to `fn(ctx, line)` instead of stderr; `fn == NULL` restores stderr.
/// Process-wide; may be called from any OS thread.
#[no_mangle]
pub extern "C" fn gh_set_log(f: gh_log_fn, ctx: *mut c_void) {
    call((), || {
        let sink = f.map(|f| {
            let ctx = ctx as usize;
            Box::new(move |line: &str| {
                let line = CString::new(line.replace('\0', "?")).unwrap_or_default();
                // SAFETY: `f` is the caller's callback, given `ctx` back as promised.
                unsafe { f(ctx as *mut c_void, line.as_ptr()) }
            }) as crate::log::LogSink
        });
        crate::log::set_log(sink);
        Ok(())
    })
}

/// Sets the stack size (bytes, rounded up to whole pages) of green threads spawned later
/// without an explicit size. Process-wide. Fails with EINVAL below 16 KiB.
/// The initial default is 128 KiB, or the GREENHUB_STACK_SIZE environment variable
/// (bytes, with an optional k or m suffix).
#[no_mangle]
pub extern "C" fn gh_set_stack_size(bytes: usize) -> i32 {
    call(-1, || {
        crate::thread::set_default_stack_size(bytes).map(|()| 0)
    })
}

/// The current default stack size in bytes.
#[no_mangle]
pub extern "C" fn gh_get_stack_size() -> usize {
    call(0, || Ok(crate::thread::default_stack_size()))
}
