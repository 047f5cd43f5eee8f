//! Thin safe wrappers over the system calls greenhub needs: the platform layer under the
//! runtime and the resources. Every `unsafe` block of the networking core lives here, each with
//! its `SAFETY:` argument. Each wrapper retries EINTR, so callers never see it.

mod fd;
mod memory;
mod overflow;
mod signal;
mod socket;

pub(crate) use fd::*;
pub(crate) use memory::*;
pub(crate) use overflow::*;
pub(crate) use signal::*;
pub(crate) use socket::*;

use crate::error::{Errno, Result};

/// Runs `f` until it returns something other than -1/EINTR.
pub(crate) fn retry<T: PartialEq + From<i8>>(mut f: impl FnMut() -> T) -> Result<T> {
    loop {
        let r = f();
        if r != T::from(-1) {
            return Ok(r);
        }
        let err = Errno::last();
        if err.0 != libc::EINTR {
            return Err(err);
        }
    }
}

pub(crate) fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 {
        n as usize
    } else {
        4096
    }
}
