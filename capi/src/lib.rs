//! The C ABI: a thin layer of handles and errno over the Rust API. One file per area; the
//! `///` docs here become `include/greenhub.h`, the API reference.
//!
//! Every function goes through [`call`], the panic boundary: a Rust panic (a greenhub bug)
//! becomes `-1`/EIO instead of crossing into C. Outputs are written only on success.
//!
//! The functions are safe `extern "C"` items although they take raw pointers: C callers see no
//! difference, each pointer's contract is in its doc comment, and every dereference sits in an
//! `unsafe` block that states why it holds.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

use std::ffi::{c_char, c_void, CStr};
use std::panic::{self, AssertUnwindSafe};

use greenhub::{Errno, Result};

pub mod debug;
pub mod fs;
pub mod http;
pub mod net;
pub mod poll;
pub mod pool;
pub mod python;
pub mod runtime;
pub mod sync;
pub mod thread;
pub mod tpool;
pub mod udp;

/// A green socket handle (> 0). Closed, stale or foreign handles give EBADF.
#[allow(non_camel_case_types)]
pub type gh_sock = i64;

/// A green thread id (> 0); 0 is the root, the program's own code outside every green thread.
#[allow(non_camel_case_types)]
pub type gh_thread = i64;

/// Runs `f` behind the panic boundary; on error sets errno and returns `failed`.
pub(crate) fn call<T>(failed: T, f: impl FnOnce() -> Result<T>) -> T {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(value)) => value,
        Ok(Err(err)) => {
            set_errno(err);
            failed
        }
        Err(_) => {
            set_errno(Errno(libc::EIO));
            failed
        }
    }
}

pub(crate) fn set_errno(err: Errno) {
    // SAFETY: __errno_location returns this thread's errno slot, valid for the thread's life.
    unsafe { *libc::__errno_location() = err.0 };
}

/// A C string argument: NULL is `None`; not UTF-8 is EINVAL.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that outlives `'a` (the C caller's promise).
pub(crate) unsafe fn opt_str<'a>(p: *const c_char) -> Result<Option<&'a str>> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: non-NULL, and by the caller's promise NUL-terminated and alive.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str().map(Some).map_err(|_| Errno(libc::EINVAL))
}

/// Longest buffer a C caller can have: no object is larger than PTRDIFF_MAX, and a Rust slice
/// may not be either.
const BUF_MAX: usize = isize::MAX as usize;

/// A readable buffer argument: NULL is allowed only with length 0; EINVAL past [`BUF_MAX`].
///
/// # Safety
/// `p` is NULL or valid for reads of `len` bytes for `'a` (the C caller's promise).
pub(crate) unsafe fn in_buf<'a>(p: *const c_void, len: usize) -> Result<&'a [u8]> {
    match (p.is_null(), len) {
        (true, 0) => Ok(&[]),
        (true, _) => Err(Errno(libc::EINVAL)),
        (false, n) if n > BUF_MAX => Err(Errno(libc::EINVAL)),
        // SAFETY: non-NULL and, by the caller's promise, valid for `len` bytes.
        (false, _) => Ok(unsafe { std::slice::from_raw_parts(p.cast(), len) }),
    }
}

/// A writable buffer argument: NULL is allowed only with length 0; EINVAL past [`BUF_MAX`].
///
/// # Safety
/// `p` is NULL or valid for writes of `len` bytes for `'a`, and not aliased meanwhile.
pub(crate) unsafe fn out_buf<'a>(p: *mut c_void, len: usize) -> Result<&'a mut [u8]> {
    match (p.is_null(), len) {
        (true, 0) => Ok(&mut []),
        (true, _) => Err(Errno(libc::EINVAL)),
        (false, n) if n > BUF_MAX => Err(Errno(libc::EINVAL)),
        // SAFETY: non-NULL and, by the caller's promise, valid and unaliased for `len` bytes.
        (false, _) => Ok(unsafe { std::slice::from_raw_parts_mut(p.cast(), len) }),
    }
}

/// A byte count for C: a count never exceeds `isize::MAX` (it measures a Rust slice).
pub(crate) fn ssize(n: Result<usize>) -> Result<libc::ssize_t> {
    n.map(|n| n as libc::ssize_t)
}

/// A handle argument: negative values are never valid.
pub(crate) fn handle(h: i64) -> Result<u64> {
    u64::try_from(h).map_err(|_| Errno(libc::EBADF))
}

/// Writes an output value (after the call succeeded); NULL outputs are EINVAL, checked first.
pub(crate) fn check_out<T>(p: *mut T) -> Result<()> {
    if p.is_null() {
        Err(Errno(libc::EINVAL))
    } else {
        Ok(())
    }
}
