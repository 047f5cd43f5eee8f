//! Green files: opening a file beneath a directory, reading it, and sending it to a socket,
//! without letting a slow filesystem freeze the hub.
//!
//! A file call may block in the kernel for as long as the storage takes: a disk read, a FUSE
//! daemon, a network filesystem. Each call here first tries a form the kernel promises not to
//! block, and only when that cannot answer does it go to the thread pool ([`crate::tpool`]),
//! where only the calling green thread waits:
//!
//! - open: `openat2` with `RESOLVE_CACHED` (every path component in the dentry cache) on a
//!   filesystem whose open does no I/O of its own ([`residency::is_local`]);
//! - read: `preadv2` with `RWF_NOWAIT` (data in the page cache);
//! - sendfile: zero-copy from the page cache when the next chunk is resident
//!   ([`residency::resident`]), else a read of that chunk on the pool and a send from memory.
//!
//! An older kernel without one of these (ENOSYS, EINVAL, EOPNOTSUPP) takes the thread pool.
//! Work sent to the pool uses a duplicate of the caller's fd and a buffer of its own, so a
//! caller that is killed or times out (its wait ends at once) may close its fd and free its
//! buffer: the worker finishes on its own copies and what it produced (an opened fd, data) is
//! closed or dropped, never leaked.

mod residency;
mod send;
mod sys;

use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use crate::error::{Errno, Result};
use crate::tpool;

pub use send::sendfile;

/// What an open found: the file's type and permission bits (`st_mode`) and size (`st_size`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileInfo {
    pub mode: u32,
    pub size: i64,
}

impl FileInfo {
    fn of(fd: RawFd) -> Result<FileInfo> {
        let st = sys::fstat(fd)?;
        Ok(FileInfo {
            mode: st.st_mode,
            size: st.st_size,
        })
    }

    /// A regular file (`S_ISREG`).
    pub fn is_file(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFREG
    }

    /// A directory (`S_ISDIR`).
    pub fn is_dir(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFDIR
    }
}

/// The open flags [`open_beneath`] accepts; O_CLOEXEC and O_NOCTTY are always added.
pub(crate) const OPEN_FLAGS: i32 = libc::O_ACCMODE
    | libc::O_APPEND
    | libc::O_TRUNC
    | libc::O_NOFOLLOW
    | libc::O_DIRECTORY
    | libc::O_NOATIME
    | libc::O_NONBLOCK
    | libc::O_CLOEXEC
    | libc::O_NOCTTY
    | libc::O_LARGEFILE;

/// How every open resolves its path: beneath the directory (no `..` above it, no absolute
/// path or symlink leading out: EXDEV) and no magic links such as /proc/self/fd/N (ELOOP).
const CONFINED: u64 = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS;

/// Opens `path` beneath directory `dir` with `flags` (of [`OPEN_FLAGS`]), confined as
/// [`CONFINED`] says, without blocking the hub; with `want_info` also returns the file's type
/// and size (fstat(2), taken where the open ran). ENOSYS on kernels without openat2 (< 5.6):
/// the path cannot be confined there, so nothing is opened.
pub fn open_beneath(
    dir: RawFd,
    path: &CStr,
    flags: i32,
    want_info: bool,
) -> Result<(OwnedFd, Option<FileInfo>)> {
    if dir < 0 {
        return Err(Errno(libc::EBADF));
    }
    if flags & !OPEN_FLAGS != 0 || flags & libc::O_ACCMODE == libc::O_ACCMODE {
        return Err(Errno(libc::EINVAL));
    }
    let flags = flags | libc::O_CLOEXEC | libc::O_NOCTTY;
    if let Some(done) = open_cached(dir, path, flags, want_info)? {
        return Ok(done);
    }
    let dir = sys::dup(dir)?; // EBADF for a dir that is not open
    let path = CString::from(path);
    tpool::execute(move || {
        let fd = sys::openat2(dir.as_raw_fd(), &path, flags, CONFINED)?;
        let info = want_info
            .then(|| FileInfo::of(fd.as_raw_fd()))
            .transpose()?;
        Ok((fd, info))
    })?
}

/// The open's cheap path: a read-only open on a local filesystem with the whole path in the
/// dentry cache. `None`: the thread pool must do the open.
fn open_cached(
    dir: RawFd,
    path: &CStr,
    flags: i32,
    want_info: bool,
) -> Result<Option<(OwnedFd, Option<FileInfo>)>> {
    // Writing may copy up (overlayfs), truncate or touch quotas: always the pool's job.
    if flags & (libc::O_ACCMODE | libc::O_TRUNC) != libc::O_RDONLY || !residency::is_local(dir)? {
        return Ok(None);
    }
    // O_NONBLOCK: a FIFO, a device or a file under a lease must not make the open wait.
    // RESOLVE_NO_XDEV: a mount point on the way may be another (slow) filesystem.
    let resolve = CONFINED | libc::RESOLVE_NO_XDEV | libc::RESOLVE_CACHED;
    let fd = match sys::openat2(dir, path, flags | libc::O_NONBLOCK, resolve) {
        Ok(fd) => fd,
        // Not all cached, a lease, a mount crossed (or an escape: the pool tells which), or a
        // kernel without RESOLVE_CACHED (< 5.12).
        Err(Errno(libc::EAGAIN | libc::EXDEV | libc::EINVAL)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let wants_nonblocking = flags & libc::O_NONBLOCK != 0;
    if !want_info && wants_nonblocking {
        return Ok(Some((fd, None)));
    }
    let info = FileInfo::of(fd.as_raw_fd())?;
    if !wants_nonblocking {
        if !info.is_file() && !info.is_dir() {
            return Ok(None); // a FIFO or device opened without O_NONBLOCK may wait: the pool
        }
        sys::clear_nonblocking(fd.as_raw_fd())?;
    }
    Ok(Some((fd, want_info.then_some(info))))
}

/// Reads up to `buf.len()` bytes of file `fd` from its position, which advances; `Ok(0)` at end
/// of file. Data in the page cache is read at once; otherwise the read runs on the thread pool
/// (at most [`POOL_READ_MAX`] bytes then) and the calling thread waits. A caller killed or timed
/// out meanwhile loses the bytes that read consumes.
pub fn read(fd: RawFd, buf: &mut [u8]) -> Result<usize> {
    read_at(fd, buf, -1)
}

/// Reads up to `buf.len()` bytes of file `fd` at `offset` (the position is not used); as
/// [`read`] otherwise. EINVAL for a negative offset.
pub fn pread(fd: RawFd, buf: &mut [u8], offset: i64) -> Result<usize> {
    if offset < 0 {
        return Err(Errno(libc::EINVAL));
    }
    read_at(fd, buf, offset)
}

/// Longest read made on the thread pool in one call (a buffer of that size is the worker's).
pub(crate) const POOL_READ_MAX: usize = 1 << 20;

fn read_at(fd: RawFd, buf: &mut [u8], offset: i64) -> Result<usize> {
    if fd < 0 {
        return Err(Errno(libc::EBADF));
    }
    match sys::preadv2(fd, buf, offset, libc::RWF_NOWAIT) {
        // Not cached; or a filesystem (FUSE), file type or kernel (< 4.14) without RWF_NOWAIT.
        Err(Errno(libc::EAGAIN | libc::EOPNOTSUPP | libc::EINVAL | libc::ENOSYS)) => {}
        done => return done,
    }
    let data = read_on_pool(fd, offset, buf.len())?;
    buf[..data.len()].copy_from_slice(&data);
    Ok(data.len())
}

/// Reads up to `max` bytes (at most [`POOL_READ_MAX`]) of `fd` at `offset` (< 0: from its
/// position) on the thread pool, into a buffer of the worker's own.
fn read_on_pool(fd: RawFd, offset: i64, max: usize) -> Result<Vec<u8>> {
    let file = sys::dup(fd)?;
    let max = max.min(POOL_READ_MAX);
    tpool::execute(move || {
        let mut data = Vec::new();
        sys::read_append(file.as_raw_fd(), &mut data, max, offset)?;
        Ok(data)
    })?
}
