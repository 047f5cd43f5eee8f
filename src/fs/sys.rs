//! The system calls of the file layer, each with its `SAFETY:` argument (like `crate::sys` for
//! sockets). Every wrapper retries EINTR.

use std::mem::MaybeUninit;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::ptr;

use crate::error::{Errno, Result};
use crate::sys::retry;

/// `struct open_how` of openat2(2) (libc's is `non_exhaustive`, so it cannot be built here).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// openat2(2): `path` beneath `dir` with `resolve` flags; ENOSYS before Linux 5.6.
pub(crate) fn openat2(
    dir: RawFd,
    path: &std::ffi::CStr,
    flags: i32,
    resolve: u64,
) -> Result<OwnedFd> {
    let how = OpenHow {
        flags: flags as u32 as u64,
        mode: 0,
        resolve,
    };
    let size = std::mem::size_of::<OpenHow>();
    // SAFETY: `path` is NUL-terminated and `how` a valid open_how of `size` bytes, both alive
    // for the call; the kernel only reads them.
    let fd = retry(|| unsafe { libc::syscall(libc::SYS_openat2, dir, path.as_ptr(), &how, size) })?;
    // SAFETY: openat2 returned a new fd that nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// preadv2(2) into `buf` at `offset` (-1: the file position, which then advances).
pub(crate) fn preadv2(fd: RawFd, buf: &mut [u8], offset: i64, flags: i32) -> Result<usize> {
    let iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: `iov` describes `buf`, valid for writes of its length for the call.
    let n = retry(|| unsafe { libc::preadv2(fd, &iov, 1, offset, flags) })?;
    Ok(n as usize)
}

/// read(2) (offset < 0) or pread(2) into the spare capacity of `buf`, appending what it read.
pub(crate) fn read_append(fd: RawFd, buf: &mut Vec<u8>, max: usize, offset: i64) -> Result<usize> {
    buf.try_reserve(max).map_err(|_| Errno(libc::ENOMEM))?;
    let spare = &mut buf.spare_capacity_mut()[..max];
    let (p, len) = (spare.as_mut_ptr().cast(), spare.len());
    // SAFETY: `p` is valid for writes of `len` bytes (spare capacity reserved above).
    let n = retry(|| unsafe {
        if offset < 0 {
            libc::read(fd, p, len)
        } else {
            libc::pread(fd, p, len, offset)
        }
    })? as usize;
    // SAFETY: the kernel initialised the first `n` bytes of the spare capacity.
    unsafe { buf.set_len(buf.len() + n) };
    Ok(n)
}

/// The `f_type` (filesystem magic number) of the filesystem holding `fd`.
pub(crate) fn fs_type(fd: RawFd) -> Result<u64> {
    let mut st = MaybeUninit::<libc::statfs>::zeroed();
    // SAFETY: `st` is valid storage for a statfs the kernel fills in.
    retry(|| unsafe { libc::fstatfs(fd, st.as_mut_ptr()) })?;
    // SAFETY: zeroed, then filled in by fstatfs.
    Ok(unsafe { st.assume_init() }.f_type as u64)
}

pub(crate) fn fstat(fd: RawFd) -> Result<libc::stat> {
    let mut st = MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: `st` is valid storage for a stat the kernel fills in.
    retry(|| unsafe { libc::fstat(fd, st.as_mut_ptr()) })?;
    // SAFETY: zeroed, then filled in by fstat.
    Ok(unsafe { st.assume_init() })
}

/// A close-on-exec duplicate of `fd` (EBADF if `fd` is not open).
pub(crate) fn dup(fd: RawFd) -> Result<OwnedFd> {
    // SAFETY: fcntl F_DUPFD_CLOEXEC with integer arguments.
    let new = retry(|| unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) })?;
    // SAFETY: a new fd that nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// Clears O_NONBLOCK on an fd the caller owns.
pub(crate) fn clear_nonblocking(fd: RawFd) -> Result<()> {
    // SAFETY: fcntl with F_GETFL/F_SETFL and integer arguments.
    let flags = retry(|| unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
    // SAFETY: as above.
    retry(|| unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) })?;
    Ok(())
}

/// cachestat(2) (Linux 6.5): how many pages of `len` bytes from `offset` are in the page cache.
/// ENOSYS on older kernels.
pub(crate) fn cached_pages(fd: RawFd, offset: u64, len: u64) -> Result<u64> {
    #[repr(C)]
    struct Range {
        off: u64,
        len: u64,
    }
    #[repr(C)]
    #[derive(Default)]
    struct CacheStat {
        nr_cache: u64,
        nr_dirty: u64,
        nr_writeback: u64,
        nr_evicted: u64,
        nr_recently_evicted: u64,
    }
    const SYS_CACHESTAT: libc::c_long = 451; // the same number on every architecture
    let range = Range { off: offset, len };
    let mut cs = CacheStat::default();
    // SAFETY: `range` is readable and `cs` writable, both of the sizes the kernel expects.
    retry(|| unsafe { libc::syscall(SYS_CACHESTAT, fd, &range, &mut cs, 0) })?;
    Ok(cs.nr_cache)
}

/// mincore(2) over a temporary mapping of the file: the residency check of kernels without
/// cachestat. True if every page of `len` bytes from `offset` (page-aligned) is cached.
pub(crate) fn mapped_resident(fd: RawFd, offset: u64, len: usize, page: usize) -> Result<bool> {
    let off = libc::off_t::try_from(offset).map_err(|_| Errno(libc::EINVAL))?;
    // SAFETY: a new read-only shared mapping of the file at an address of the kernel's
    // choosing; nothing reads it, and it is unmapped below.
    let p = unsafe {
        libc::mmap(
            ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_SHARED,
            fd,
            off,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(Errno::last());
    }
    let mut vec = vec![0u8; len.div_ceil(page)];
    // SAFETY: `p` is the mapping of `len` bytes created above; `vec` has a byte per page.
    let r = unsafe { libc::mincore(p, len, vec.as_mut_ptr()) };
    let err = Errno::last();
    // SAFETY: unmaps exactly the mapping created above.
    unsafe { libc::munmap(p, len) };
    if r != 0 {
        return Err(err);
    }
    Ok(vec.iter().all(|&b| b & 1 == 1))
}

/// The unique id (Linux 6.8) of the mount holding `fd`, from cached attributes only
/// (AT_STATX_DONT_SYNC: FUSE and network filesystems are not asked). `None` where the kernel
/// has no unique mount ids.
pub(crate) fn mount_id(fd: RawFd) -> Result<Option<u64>> {
    let mut stx = MaybeUninit::<libc::statx>::zeroed();
    let flags = libc::AT_EMPTY_PATH | libc::AT_STATX_DONT_SYNC;
    // SAFETY: the empty path is NUL-terminated; `stx` is valid storage the kernel fills in.
    let r = retry(|| unsafe {
        libc::statx(
            fd,
            c"".as_ptr(),
            flags,
            libc::STATX_MNT_ID_UNIQUE,
            stx.as_mut_ptr(),
        )
    });
    match r {
        Ok(_) => {}
        Err(Errno(libc::ENOSYS | libc::EINVAL)) => return Ok(None), // statx before Linux 4.11
        Err(e) => return Err(e),
    }
    // SAFETY: zeroed, then filled in by statx.
    let stx = unsafe { stx.assume_init() };
    Ok((stx.stx_mask & libc::STATX_MNT_ID_UNIQUE != 0).then_some(stx.stx_mnt_id))
}

/// statmount(2) (Linux 6.8): the filesystem magic number (`sb_magic`) of mount `id`, read from
/// the mount itself (the filesystem is not asked).
pub(crate) fn mount_magic(id: u64) -> Result<u64> {
    #[repr(C)]
    struct MntIdReq {
        size: u32,
        spare: u32,
        mnt_id: u64,
        param: u64,
    }
    const SYS_STATMOUNT: libc::c_long = 457; // the same number on every architecture
    const STATMOUNT_SB_BASIC: u64 = 1;
    let req = MntIdReq {
        size: std::mem::size_of::<MntIdReq>() as u32,
        spare: 0,
        mnt_id: id,
        param: STATMOUNT_SB_BASIC,
    };
    // struct statmount: u32 size, u32 mnt_opts, u64 mask, u32 dev major, u32 dev minor,
    // u64 sb_magic, ... (512 bytes without its strings; none are asked for).
    let mut buf = [0u64; 64];
    let len = std::mem::size_of_val(&buf);
    // SAFETY: `req` is a valid mnt_id_req of its size; `buf` is writable for `len` bytes.
    retry(|| unsafe { libc::syscall(SYS_STATMOUNT, &req, buf.as_mut_ptr(), len, 0) })?;
    if buf[1] & STATMOUNT_SB_BASIC == 0 {
        return Err(Errno(libc::EOPNOTSUPP));
    }
    Ok(buf[3])
}
