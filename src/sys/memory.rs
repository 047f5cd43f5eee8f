//! Memory for green stacks: probing that a stack can be mapped, releasing a page, and the
//! alternate signal stack the coroutine crate's guard-page handler runs on.

use std::mem::MaybeUninit;
use std::ptr;

use super::page_size;
use crate::error::{Errno, Result};

/// Checks that a coroutine stack of `size` bytes (plus its guard page) can be mapped right now,
/// so the `generator` crate's allocation, which panics on failure, will not fail.
pub(crate) fn probe_stack_mapping(size: usize) -> Result<()> {
    let page = page_size();
    let total = size.checked_add(2 * page).ok_or(Errno(libc::ENOMEM))?;
    let prot = libc::PROT_READ | libc::PROT_WRITE;
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK;
    // SAFETY: anonymous mapping at an address of the kernel's choosing; unmapped below.
    let p = unsafe { libc::mmap(ptr::null_mut(), total, prot, flags, -1, 0) };
    if p == libc::MAP_FAILED {
        return Err(Errno(libc::ENOMEM));
    }
    // The guard page splits the mapping in two: this is where vm.max_map_count bites.
    // SAFETY: `p` is the start of the mapping just created, at least one page long.
    let guarded = unsafe { libc::mprotect(p, page, libc::PROT_NONE) } == 0;
    // SAFETY: unmaps exactly the mapping created above.
    unsafe { libc::munmap(p, total) };
    if guarded {
        Ok(())
    } else {
        Err(Errno(libc::ENOMEM))
    }
}

/// Gives a page of private anonymous memory back to the kernel; it reads as zeros afterwards.
pub(crate) fn discard_page(addr: usize) -> Result<()> {
    // SAFETY: callers pass the start of a page of a private anonymous mapping they own whose
    // contents they no longer need; MADV_DONTNEED only drops those contents.
    let r = unsafe { libc::madvise(addr as *mut libc::c_void, page_size(), libc::MADV_DONTNEED) };
    if r == 0 {
        Ok(())
    } else {
        Err(Errno::last())
    }
}

/// An alternate signal stack for this OS thread, so the coroutine crate's guard-page handler
/// (installed with SA_ONSTACK) can run when a green thread overflows its stack. Kept for the
/// thread's life; released when the thread exits.
pub(crate) fn ensure_signal_stack() {
    thread_local! {
        static ALT: AltStack = AltStack::install();
    }
    ALT.with(|_| {});
}

struct AltStack {
    mapping: *mut libc::c_void,
    size: usize,
}

const ALT_STACK_SIZE: usize = 64 * 1024;

impl AltStack {
    fn install() -> AltStack {
        let none = AltStack {
            mapping: ptr::null_mut(),
            size: 0,
        };
        let mut old = MaybeUninit::<libc::stack_t>::zeroed();
        // SAFETY: queries the current alternate stack into `old`.
        if unsafe { libc::sigaltstack(ptr::null(), old.as_mut_ptr()) } != 0 {
            return none;
        }
        // SAFETY: sigaltstack filled `old` in.
        if unsafe { old.assume_init() }.ss_flags & libc::SS_DISABLE == 0 {
            return none; // the thread already has one (Rust's std, Python's faulthandler, ...)
        }
        let prot = libc::PROT_READ | libc::PROT_WRITE;
        let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
        // SAFETY: anonymous mapping at an address of the kernel's choosing.
        let p = unsafe { libc::mmap(ptr::null_mut(), ALT_STACK_SIZE, prot, flags, -1, 0) };
        if p == libc::MAP_FAILED {
            return none;
        }
        let st = libc::stack_t {
            ss_sp: p,
            ss_flags: 0,
            ss_size: ALT_STACK_SIZE,
        };
        // SAFETY: `st` describes a live mapping of ALT_STACK_SIZE bytes owned by this struct.
        if unsafe { libc::sigaltstack(&st, ptr::null_mut()) } != 0 {
            // SAFETY: unmaps the mapping created above, which nobody uses.
            unsafe { libc::munmap(p, ALT_STACK_SIZE) };
            return none;
        }
        AltStack {
            mapping: p,
            size: ALT_STACK_SIZE,
        }
    }
}

impl Drop for AltStack {
    fn drop(&mut self) {
        if self.mapping.is_null() {
            return;
        }
        let off = libc::stack_t {
            ss_sp: ptr::null_mut(),
            ss_flags: libc::SS_DISABLE,
            ss_size: 0,
        };
        // SAFETY: disables the alternate stack before its memory goes away; this runs at thread
        // exit, outside any signal handler.
        unsafe {
            libc::sigaltstack(&off, ptr::null_mut());
            libc::munmap(self.mapping, self.size);
        }
    }
}
