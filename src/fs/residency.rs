//! Whether a file call can be made on the hub: is the filesystem one whose calls on cached data
//! do no I/O, and is the data in the page cache.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};

use super::sys;
use crate::error::{Errno, Result};

/// Filesystems (statfs `f_type`) whose open and cached reads stay in the kernel. Everything
/// else (FUSE, NFS, SMB, 9p, Ceph, ...) may ask a server even for cached data (attribute
/// revalidation, open on the server), so every call on it goes to the thread pool.
const LOCAL_FILESYSTEMS: [u64; 11] = [
    0xEF53,     // ext2, ext3, ext4
    0x58465342, // xfs
    0x9123683E, // btrfs
    0x01021994, // tmpfs
    0x858458F6, // ramfs
    0xF2F52010, // f2fs
    0x794C7630, // overlayfs (containers)
    0x2FC12FC1, // zfs
    0xCA451A4E, // bcachefs
    0x73717368, // squashfs
    0xE0F5E1E2, // erofs
];

/// True if `fd` lives on a filesystem of [`LOCAL_FILESYSTEMS`]. EBADF if `fd` is not open.
///
/// The filesystem is not asked: the type comes from the mount (statx's unique mount id, then
/// statmount, remembered per mount), so a hung FUSE daemon or NFS server cannot block this.
/// Kernels before 6.8 have neither call; there fstatfs(2) tells, which FUSE and network
/// filesystems answer themselves.
pub(crate) fn is_local(fd: RawFd) -> Result<bool> {
    let Some(id) = sys::mount_id(fd)? else {
        return Ok(LOCAL_FILESYSTEMS.contains(&sys::fs_type(fd)?));
    };
    if let Some(local) = MOUNTS.with_borrow(|m| m.iter().find(|e| e.0 == id).map(|e| e.1)) {
        return Ok(local);
    }
    let local = match sys::mount_magic(id) {
        Ok(magic) => LOCAL_FILESYSTEMS.contains(&magic),
        Err(_) => LOCAL_FILESYSTEMS.contains(&sys::fs_type(fd)?),
    };
    MOUNTS.with_borrow_mut(|m| {
        if m.len() == MOUNTS_KEPT {
            m.clear(); // mounts come and go: keep the ones in use now
        }
        m.push((id, local));
    });
    Ok(local)
}

/// How many mounts' answers each OS thread remembers.
const MOUNTS_KEPT: usize = 64;

thread_local! {
    /// (unique mount id, local?) of the mounts seen lately; unique ids are never reused.
    static MOUNTS: std::cell::RefCell<Vec<(u64, bool)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Set once cachestat(2) said ENOSYS (Linux < 6.5): mincore(2) answers from then on.
static NO_CACHESTAT: AtomicBool = AtomicBool::new(false);

/// True if the `len` bytes of `fd` from `offset` are all in the page cache (bytes past the end
/// of the file count as cached: reading them costs nothing). False when it cannot tell.
pub(crate) fn resident(fd: RawFd, offset: u64, len: usize) -> bool {
    let page = crate::sys::page_size() as u64;
    let start = offset & !(page - 1);
    let Some(end) = offset.checked_add(len as u64) else {
        return false;
    };
    let pages = |end: u64| (end.saturating_sub(start)).div_ceil(page);
    let cached = if NO_CACHESTAT.load(Ordering::Relaxed) {
        None
    } else {
        match sys::cached_pages(fd, start, end - start) {
            Ok(n) => Some(n),
            Err(Errno(libc::ENOSYS)) => {
                NO_CACHESTAT.store(true, Ordering::Relaxed);
                None
            }
            Err(_) => return false,
        }
    };
    let Some(cached) = cached else {
        return resident_by_mincore(fd, start, end, page);
    };
    if cached >= pages(end) {
        return true;
    }
    // The range may run past the end of the file, where there are no pages to cache.
    match sys::fstat(fd) {
        Ok(st) if (st.st_size as u64) < end => cached >= pages(st.st_size as u64),
        _ => false,
    }
}

/// The residency check of kernels without cachestat: mincore(2) over a mapping of the range
/// (clamped to the file's size, since a mapping past the end cannot be checked).
fn resident_by_mincore(fd: RawFd, start: u64, end: u64, page: u64) -> bool {
    let Ok(st) = sys::fstat(fd) else {
        return false;
    };
    let end = end.min(st.st_size as u64);
    if end <= start {
        return true;
    }
    let len = (end - start) as usize;
    sys::mapped_resident(fd, start, len, page as usize).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsRawFd;

    /// The mount's answer (statx + statmount, remembered) agrees with fstatfs's.
    #[test]
    fn mount_type_agrees_with_fstatfs() {
        for path in [
            "/",
            "/proc",
            "/dev/shm",
            "/sys",
            &std::env::temp_dir().to_string_lossy(),
        ] {
            let Ok(f) = std::fs::File::open(path) else {
                continue;
            };
            let fd = f.as_raw_fd();
            let by_statfs = LOCAL_FILESYSTEMS.contains(&sys::fs_type(fd).unwrap());
            assert_eq!(is_local(fd).unwrap(), by_statfs, "{path}");
            assert_eq!(is_local(fd).unwrap(), by_statfs, "{path}, remembered");
        }
        assert!(
            !is_local(open_proc()).unwrap(),
            "procfs is not a local filesystem"
        );
        assert_eq!(is_local(-1), Err(Errno(libc::EBADF)));
    }

    fn open_proc() -> RawFd {
        use std::os::fd::IntoRawFd;
        std::fs::File::open("/proc/self").unwrap().into_raw_fd()
    }

    /// cachestat and its mincore fallback agree, before and after the pages are dropped.
    #[test]
    fn cachestat_and_mincore_agree() {
        let path = std::env::temp_dir().join(format!("greenhub-residency-{}", std::process::id()));
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(&vec![7u8; 256 << 10]).unwrap();
        f.sync_all().unwrap();
        drop(f);
        let f = std::fs::File::open(&path).unwrap();
        let fd = f.as_raw_fd();
        let page = crate::sys::page_size() as u64;
        let by_mincore =
            |off: u64, len: u64| resident_by_mincore(fd, off & !(page - 1), off + len, page);
        std::fs::read(&path).unwrap(); // into the cache
        assert!(resident(fd, 0, 256 << 10));
        assert!(by_mincore(0, 256 << 10));
        assert!(
            resident(fd, 100, 1 << 20),
            "a range past the end is cached up to the end"
        );
        assert!(by_mincore(100, 1 << 20));
        // SAFETY: advice on a file this test owns; it only drops clean cached pages.
        unsafe { libc::posix_fadvise(fd, 0, 0, libc::POSIX_FADV_DONTNEED) };
        assert!(
            !resident(fd, 0, 256 << 10),
            "dropped pages must read as not cached"
        );
        assert!(!by_mincore(0, 256 << 10));
        std::fs::remove_file(&path).unwrap();
    }
}
