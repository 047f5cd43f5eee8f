//! Green files in C: open beneath a directory and read, without blocking the hub.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::os::fd::IntoRawFd;

use super::{call, out_buf, ssize};
use greenhub::fs;
use greenhub::Errno;

/// What gh_open_beneath() found about the file it opened (taken with fstat(2) right after the
/// open, where the open ran).
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct gh_file_info {
    /// st_mode: type and permission bits (test the type with S_ISREG, S_ISDIR, ...).
    pub mode: u32,
    /// st_size: the size in bytes.
    pub size: i64,
}

/// Opens `path` beneath the directory open as `dirfd`, and returns the new file descriptor
/// (close-on-exec, no controlling terminal); the caller owns it and closes it with close(2).
/// Only the calling green thread waits; the hub keeps serving the others.
///
/// Confinement (openat2(2) RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS, Linux 5.6 or later): the
/// path is resolved inside `dirfd` only. A `..` that climbs above it, an absolute path, and a
/// symlink leading out of it (absolute, or relative through `..`) fail with EXDEV; a magic link
/// (/proc/self/fd/N and the like) with ELOOP. On a kernel without openat2 nothing is opened
/// (ENOSYS): the path could not be confined.
///
/// `flags`: O_RDONLY, O_WRONLY or O_RDWR, with any of O_APPEND, O_TRUNC, O_NOFOLLOW,
/// O_DIRECTORY, O_NOATIME, O_NONBLOCK, O_CLOEXEC, O_NOCTTY; anything else (O_CREAT, O_PATH, ...)
/// gives EINVAL. Pass O_NONBLOCK when the path may name a FIFO or a device, whose open can wait
/// forever otherwise (on a pool worker). If `info` is not NULL the file's type and size are
/// written there on success.
///
/// Cost: a read-only open of a path whose every component is in the kernel's dentry cache, on a
/// local filesystem (ext4, xfs, btrfs, tmpfs, overlayfs, ...) and not crossing a mount point,
/// is made at once (RESOLVE_CACHED). Any other open (a disk lookup, FUSE, NFS, a write) runs on
/// the thread pool (gh_tpool_execute). If the caller is killed (ECANCELED) or its deadline
/// passes (ETIMEDOUT) meanwhile, the call fails at once; the open finishes on its worker, which
/// closes the descriptor it got: nothing leaks.
///
/// Errors: EBADF (`dirfd` is not open), ENOTDIR (`dirfd` is not a directory), EINVAL (`path`
/// NULL, or bad `flags`), EXDEV, ELOOP and ENOSYS as above, and the errors of openat2(2)
/// (ENOENT, EACCES, EISDIR, ...).
#[no_mangle]
pub extern "C" fn gh_open_beneath(
    dirfd: c_int,
    path: *const c_char,
    flags: c_int,
    info: *mut gh_file_info,
) -> c_int {
    call(-1, || {
        if path.is_null() {
            return Err(Errno(libc::EINVAL));
        }
        // SAFETY: non-NULL, and the caller promises a NUL-terminated string alive for the call.
        let path = unsafe { CStr::from_ptr(path) };
        let (fd, found) = fs::open_beneath(dirfd, path, flags, !info.is_null())?;
        if let Some(found) = found {
            // SAFETY: `info` is non-NULL (else nothing was asked for) and, as the caller
            // promises, points to a writable gh_file_info.
            unsafe {
                info.write(gh_file_info {
                    mode: found.mode,
                    size: found.size,
                })
            };
        }
        Ok(fd.into_raw_fd())
    })
}

/// Reads up to `len` bytes from file `fd` at its current position (which advances) into `buf`;
/// returns the count, 0 at end of file. Data in the page cache is read at once
/// (preadv2 RWF_NOWAIT). Otherwise the read runs on the thread pool, at most 1 MiB of it, and
/// only the calling thread waits; so do reads of FUSE files (FUSE has no RWF_NOWAIT). The count may
/// be less than `len` before the end of the file (part of it cached, or the 1 MiB bound): call
/// again for the rest. If the caller is killed (ECANCELED) or its deadline passes (ETIMEDOUT)
/// during a pool read, the bytes that read consumes are lost (the position has moved).
/// EBADF if `fd` is not open for reading; EINVAL if `buf` is NULL with `len` > 0.
#[no_mangle]
pub extern "C" fn gh_file_read(fd: c_int, buf: *mut c_void, len: usize) -> libc::ssize_t {
    call(-1, || {
        // SAFETY: NULL or valid for `len` writable bytes, as the caller promises.
        let buf = unsafe { out_buf(buf, len) }?;
        ssize(fs::read(fd, buf))
    })
}

/// Like gh_file_read() at `offset` (EINVAL if negative); the file position is neither used nor
/// moved, and a killed or timed-out caller loses nothing.
#[no_mangle]
pub extern "C" fn gh_file_pread(
    fd: c_int,
    buf: *mut c_void,
    len: usize,
    offset: i64,
) -> libc::ssize_t {
    call(-1, || {
        // SAFETY: NULL or valid for `len` writable bytes, as the caller promises.
        let buf = unsafe { out_buf(buf, len) }?;
        ssize(fs::pread(fd, buf, offset))
    })
}
