//! Seeing inside a running hub: short thread ids, the thread dump, the hub's counters and
//! hub-blocking detection.

use std::ffi::c_int;

use super::{call, check_out, gh_thread, handle};
use greenhub::{inspect, thread as green, watch, Errno};

/// Thread `t`'s short id: a small number, unique in the process (green threads count from 1
/// in order of spawn; the root is 0). Reports and dumps name threads by it, so a program can
/// log it and match them. -1 with EBADF for an unknown, ended-and-joined or foreign thread.
#[no_mangle]
pub extern "C" fn gh_thread_id(t: gh_thread) -> i64 {
    call(-1, || Ok(green::short_id(handle(t)?)? as i64))
}

/// Writes a dump of the calling OS thread's hub to file descriptor `fd` (waiting while a
/// non-blocking one is full: the whole hub waits, it is a debugging call). One entry per thread, the root first, each starting a line:
///
///     green thread 3 (worker): waiting: read on socket fd 7, for 1.204 s, deadline in 3.796 s
///
/// its short id (gh_thread_id) and name, its state, and while waiting what on (read, write or
/// accept on a socket and its fd; sleep; semaphore, event, channel send/recv; join thread N;
/// tpool, a thread-pool call; park), for how long, and its deadline if it has one. States:
/// running (the caller), runnable (queued to run), waiting, ended (not joined yet). In a
/// Python program each entry goes on with the thread's Python stack on indented lines,
/// outermost call first, as a traceback. Then a line of counters (as gh_stats).
/// With GREENHUB_DUMP_SIGNAL set to a signal name (USR2, SIGUSR2 or a number) when the first
/// hub is made, that signal makes every hub write this dump to stderr at its next loop turn
/// (never from the signal handler; the program's system calls are restarted, no connection
/// is disturbed). Returns 0, or -1 with write(2)'s errno (EBADF for a bad fd, EPIPE...).
#[no_mangle]
pub extern "C" fn gh_dump(fd: c_int) -> c_int {
    call(-1, || {
        if fd < 0 {
            return Err(Errno(libc::EBADF));
        }
        inspect::write(fd).map(|()| 0)
    })
}

/// The calling OS thread's hub's counters (gh_stats()). Set `size` to sizeof(gh_hub_stats)
/// before the call: a later version may add fields at the end, and fills only the `size`
/// bytes the caller knows of.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct gh_hub_stats {
    /// sizeof(gh_hub_stats), set by the caller; EINVAL if smaller than this first version.
    pub size: usize,
    /// Green threads that have not ended (the root not counted).
    pub threads: u64,
    /// Objects of every kind (sockets, semaphores, events, channels, pools...).
    pub objects: u64,
    /// Sockets among them.
    pub sockets: u64,
    /// Switches: each time a thread or the root started running.
    pub switches: u64,
    /// Turns of I/O polling (epoll_wait calls).
    pub polls: u64,
    /// Finished stacks kept for reuse.
    pub stacks_pooled: u64,
}

/// Fills `*out` with the hub's counters (the last line of gh_dump()). EINVAL if `out` is NULL
/// or out->size is smaller than this version's struct; only this version's fields are written.
#[no_mangle]
pub extern "C" fn gh_stats(out: *mut gh_hub_stats) -> c_int {
    call(-1, || {
        check_out(out)?;
        // SAFETY: non-NULL, and by the caller's promise a gh_hub_stats of at least its `size`.
        let size = unsafe { (*out).size };
        if size < std::mem::size_of::<gh_hub_stats>() {
            return Err(Errno(libc::EINVAL));
        }
        let s = inspect::stats()?;
        let stats = gh_hub_stats {
            size: std::mem::size_of::<gh_hub_stats>(),
            threads: s.threads,
            objects: s.objects.iter().map(|&(_, n)| n).sum(),
            sockets: s.objects_of("socket"),
            switches: s.switches,
            polls: s.polls,
            stacks_pooled: s.stacks_pooled,
        };
        // SAFETY: `out` holds at least size_of::<gh_hub_stats>() bytes (checked above).
        unsafe { out.write(stats) };
        Ok(0)
    })
}

/// Reports (GH_REPORT_BLOCKED, on stderr or to the gh_set_log callback) a green thread or the
/// root that runs `ms` milliseconds or more without switching, once per episode, from a
/// monitor thread: its short id, name and how long, and for Python its stack. The program is
/// not disturbed. 0 turns detection off. Process-wide. The initial value is the
/// GREENHUB_BLOCK_WARN_MS environment variable, or 0. EINVAL for ms < 0.
#[no_mangle]
pub extern "C" fn gh_set_block_warn(ms: i64) -> c_int {
    call(-1, || {
        let ms = u64::try_from(ms).map_err(|_| Errno(libc::EINVAL))?;
        watch::set_block_warn(ms);
        Ok(0)
    })
}
