//! System calls on any file descriptor: poll(2) and duplicating one.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use super::retry;
use crate::error::Result;

/// poll(2) on `fds` without waiting: fills each `revents`; returns how many are non-zero.
pub(crate) fn poll_now(fds: &mut [libc::pollfd]) -> Result<usize> {
    // SAFETY: `fds` is valid for reads and writes of `fds.len()` pollfd entries.
    let n = retry(|| unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 0) })?;
    Ok(n as usize)
}

/// A close-on-exec duplicate of `fd`: a new number for the same open file description.
pub(crate) fn dup(fd: RawFd) -> Result<OwnedFd> {
    // SAFETY: fcntl with F_DUPFD_CLOEXEC and integer arguments; an invalid fd gives EBADF.
    let new = retry(|| unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) })?;
    // SAFETY: `new` was just returned by fcntl(2) and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// What names the open file `fd` refers to (device and inode, from fstat(2)): two fds name
/// the same file if these agree.
pub(crate) fn file_id(fd: RawFd) -> Result<(u64, u64)> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `st` is valid for writes of one stat; fstat fills it on success.
    retry(|| unsafe { libc::fstat(fd, st.as_mut_ptr()) })?;
    // SAFETY: fstat succeeded, so it initialised `st`.
    let st = unsafe { st.assume_init() };
    Ok((st.st_dev, st.st_ino))
}
