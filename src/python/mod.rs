//! Python green threads: each runs on its own CPython thread state, entered from native code
//! (never a ctypes callback), using CPython's stable C API, resolved at run time with `dlsym` so
//! the library has no link-time dependency on libpython. One exception, below: the stack bounds
//! of CPython 3.14+.
//!
//! Three rules from the measured notes (`shared/notes/python-threads.md`):
//! 1. `PyGILState_*` must name the running green thread's state, or C→Python callbacks and the
//!    `-X dev` allocator checks see the wrong thread. CPython 3.12+ rebinds it whenever a state is
//!    activated; on older versions the hub re-points CPython's gilstate key at every switch. The
//!    key is found once: the pthread key whose value is this thread's gilstate state, confirmed
//!    by planting a sentinel and seeing `PyGILState_GetThisThreadState` return it.
//! 2. A blocking call made with the GIL held (through `ctypes.PyDLL`) would deadlock the hub: it
//!    is refused with EDEADLK (the shim raises).
//! 3. A thread that overflows its stack dies holding the GIL: the hub releases it (its thread
//!    state and stack are leaked, never unwound).
//!
//! The runtime knows none of this: [`init`] installs these rules as switch hooks
//! (`runtime::hooks`), and each Python green thread's thread state is its hook word.
//!
//! On a free-threaded build (3.14t) "holding the GIL" means "its thread state attached", which
//! is what `PyGILState_Check` reports there, and rule 2 still holds: a switch with a state still
//! attached would make the next green thread's attach abort ("non-NULL old thread state") and
//! leave a stop-the-world pause (a collection on another OS thread) waiting forever. One thread
//! state per green thread still holds its frames, exception and context; only one of a hub's
//! states is attached at a time, so a hub's green threads never run Python in parallel with each
//! other, and sharing the hub OS thread's object ownership (biased reference counts) is sound.
//!
//! # Stack bounds (CPython 3.14 and later)
//! CPython 3.14 guards C recursion with the stack pointer: each thread state holds its thread's
//! stack bounds, computed at its first attach from the OS thread's stack (`pthread_getattr_np`,
//! which reads `/proc/self/maps` on the main thread, a file that grows with every green stack).
//! On a green stack those bounds are wrong: the recursion check treats the stack pointer as
//! "stack switched" and never fires (a deep `json.dumps` ran into greenhub's guard page), and
//! `_Py_Dealloc`, seeing no stack margin left, defers every free of a GC-tracked object to a
//! list only a later free with margin drains: never, on that stack, so every object a green
//! thread freed leaked. And each spawn paid for reading the maps file.
//!
//! So every Python green thread's state is told its green stack's bounds before its first
//! attach, with `PyUnstable_ThreadState_SetStackProtection(state, bottom, size)` (3.14.1+):
//! the usable range of its coroutine's stack, guard page excluded (`Coroutine::stack_range`),
//! the same for a pooled, re-armed stack. CPython then puts its limits a margin above `bottom`
//! (RecursionError at the soft limit, a fatal error past the hard one, both above the guard
//! page), and skips its own computation at attach. A state never changes stacks (one per green
//! thread, deleted when it ends), so `PyUnstable_ThreadState_ResetStackProtection` is not
//! needed; the root's state keeps the bounds CPython computed for the OS thread's stack, where
//! the root runs.
//!
//! This function is the one exception to "stable C API only": CPython has no stable way to
//! give a thread state its stack, and without it Python green threads cannot run correctly on
//! 3.14+ (see above). It is unstable API, so it is resolved like the rest, with `dlsym`, and
//! only on 3.14 and later (3.15+ takes the same path); a 3.14+ interpreter without it (3.14.0)
//! is refused by [`init`] with ENOTSUP, as is one that would refuse a [`MIN_STACK_SIZE`] stack.
//! Nothing about CPython's thread state layout is assumed.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::OnceLock;

use crate::error::{Errno, Result};
use crate::runtime::hooks::{self, SwitchHooks};
use crate::runtime::thread::{self, SpawnOptions, ThreadId};

type PyObject = c_void;
type PyThreadState = c_void;

/// `PyUnstable_ThreadState_SetStackProtection(tstate, stack_start_addr, stack_size)`.
type SetStackProtection = unsafe extern "C" fn(*mut PyThreadState, *mut c_void, usize) -> c_int;

/// The CPython functions used, all in the stable ABI but `set_stack_protection`.
struct Api {
    eval_restore_thread: unsafe extern "C" fn(*mut PyThreadState),
    eval_save_thread: unsafe extern "C" fn() -> *mut PyThreadState,
    thread_state_new: unsafe extern "C" fn(*mut c_void) -> *mut PyThreadState,
    thread_state_clear: unsafe extern "C" fn(*mut PyThreadState),
    thread_state_delete: unsafe extern "C" fn(*mut PyThreadState),
    thread_state_delete_current: unsafe extern "C" fn(),
    interpreter_get: unsafe extern "C" fn() -> *mut c_void,
    object_call: unsafe extern "C" fn(*mut PyObject, *mut PyObject, *mut PyObject) -> *mut PyObject,
    err_print: unsafe extern "C" fn(),
    err_clear: unsafe extern "C" fn(),
    err_occurred: unsafe extern "C" fn() -> *mut PyObject,
    err_exception_matches: unsafe extern "C" fn(*mut PyObject) -> c_int,
    exc_system_exit: *mut *mut PyObject,
    inc_ref: unsafe extern "C" fn(*mut PyObject),
    dec_ref: unsafe extern "C" fn(*mut PyObject),
    gilstate_check: unsafe extern "C" fn() -> c_int,
    gilstate_this_thread: unsafe extern "C" fn() -> *mut PyThreadState,
    /// 3.14+ only (see the module docs); `None` before 3.14.
    set_stack_protection: Option<SetStackProtection>,
    version_hex: u32,
}

// SAFETY: function pointers and a pointer to a CPython global, all valid for the process's life;
// using them requires the GIL, which every call site holds (documented at each).
unsafe impl Send for Api {}
// SAFETY: as above; the struct is never mutated after creation.
unsafe impl Sync for Api {}

static API: OnceLock<std::result::Result<Api, Errno>> = OnceLock::new();
/// CPython's gilstate pthread key, on versions that do not rebind it themselves.
static GILSTATE_KEY: OnceLock<Option<libc::pthread_key_t>> = OnceLock::new();

fn symbol(name: &CStr) -> Result<*mut c_void> {
    // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name has no other precondition.
    let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
    if p.is_null() {
        Err(Errno(libc::ENOSYS)) // not running inside CPython
    } else {
        Ok(p)
    }
}

macro_rules! func {
    ($name:literal) => {{
        let p = symbol($name)?;
        // SAFETY: the symbol is the CPython function of that name, whose C signature is the
        // field's type (stable ABI).
        unsafe { std::mem::transmute::<*mut c_void, _>(p) }
    }};
}

// `func!` transmutes to the type of the field it initialises: that declaration is the annotation.
#[allow(clippy::missing_transmute_annotations)]
fn load() -> Result<Api> {
    let version = symbol(c"Py_Version")
        // SAFETY: Py_Version is CPython's `const unsigned long` (3.11+).
        .map(|p| unsafe { *(p as *const std::ffi::c_ulong) } as u32)
        .or_else(|_| version_from_string())?;
    if version < 0x0309_0000 {
        return Err(Errno(libc::ENOTSUP));
    }
    let set_stack_protection = if version >= 0x030E_0000 {
        // Unstable API (3.14.1+), the module docs say why; its absence (3.14.0) is ENOTSUP.
        let p = symbol(c"PyUnstable_ThreadState_SetStackProtection")
            .map_err(|_| Errno(libc::ENOTSUP))?;
        // SAFETY: the symbol is that CPython function, whose C signature is SetStackProtection.
        Some(unsafe { std::mem::transmute::<*mut c_void, SetStackProtection>(p) })
    } else {
        None
    };
    Ok(Api {
        eval_restore_thread: func!(c"PyEval_RestoreThread"),
        eval_save_thread: func!(c"PyEval_SaveThread"),
        thread_state_new: func!(c"PyThreadState_New"),
        thread_state_clear: func!(c"PyThreadState_Clear"),
        thread_state_delete: func!(c"PyThreadState_Delete"),
        thread_state_delete_current: func!(c"PyThreadState_DeleteCurrent"),
        interpreter_get: func!(c"PyInterpreterState_Get"),
        object_call: func!(c"PyObject_Call"),
        err_print: func!(c"PyErr_Print"),
        err_clear: func!(c"PyErr_Clear"),
        err_occurred: func!(c"PyErr_Occurred"),
        err_exception_matches: func!(c"PyErr_ExceptionMatches"),
        exc_system_exit: symbol(c"PyExc_SystemExit")?.cast(),
        inc_ref: func!(c"Py_IncRef"),
        dec_ref: func!(c"Py_DecRef"),
        gilstate_check: func!(c"PyGILState_Check"),
        gilstate_this_thread: func!(c"PyGILState_GetThisThreadState"),
        set_stack_protection,
        version_hex: version,
    })
}

/// Python 3.9/3.10 have no `Py_Version`: parse `Py_GetVersion()` ("3.10.4 (main, ...").
#[allow(clippy::missing_transmute_annotations)] // typed by the `let` binding
fn version_from_string() -> Result<u32> {
    let get: unsafe extern "C" fn() -> *const c_char = func!(c"Py_GetVersion");
    // SAFETY: Py_GetVersion returns a static NUL-terminated string.
    let text = unsafe { CStr::from_ptr(get()) }.to_string_lossy();
    let mut parts = text.split(|c: char| !c.is_ascii_digit());
    let major: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    Ok((major << 24) | (minor << 16))
}

fn api() -> Result<&'static Api> {
    API.get_or_init(load).as_ref().map_err(|e| *e)
}

/// Prepares Python support; called by the shim with the GIL held, in the thread that will be
/// the root (its thread state is the one restored whenever the root runs).
pub fn init() -> Result<()> {
    let api = api()?;
    // SAFETY: the caller holds the GIL (documented contract of gh_py_init).
    let root = unsafe { (api.gilstate_this_thread)() };
    if root.is_null() {
        return Err(Errno(libc::EINVAL));
    }
    // SAFETY: as above.
    unsafe { check_stack_protection(api) }?;
    thread::set_hook_word(0, root as usize)?;
    if api.version_hex < 0x030C_0000 {
        GILSTATE_KEY.get_or_init(|| find_gilstate_key(api, root));
    }
    hooks::install(&HOOKS);
    Ok(())
}

/// The rules above, as the runtime's switch hooks.
static HOOKS: SwitchHooks = SwitchHooks {
    enter: bind_gilstate,
    overflowed: release_gil_after_overflow,
    may_block: check_gil_released,
};

/// ENOTSUP if this interpreter would refuse a [`MIN_STACK_SIZE`] stack (CPython's smallest is a few
/// dozen KiB), so that [`give_stack`], which has no way to fail a spawn, always succeeds: it is
/// asked for the same or more. Tried on a scratch thread state, never attached.
///
/// # Safety
/// The caller holds the GIL.
unsafe fn check_stack_protection(api: &Api) -> Result<()> {
    let Some(set) = api.set_stack_protection else {
        return Ok(());
    };
    // SAFETY: GIL held. The scratch state is only given bounds (CPython does arithmetic on the
    // address, it never reads it) and deleted unattached; a refusal sets an exception on the
    // caller's state, cleared here.
    unsafe {
        let scratch = (api.thread_state_new)((api.interpreter_get)());
        if scratch.is_null() {
            return Err(Errno(libc::ENOMEM));
        }
        let page = crate::sys::page_size() as *mut c_void;
        let accepted = set(scratch, page, MIN_STACK_SIZE) == 0;
        if !accepted {
            (api.err_clear)();
        }
        (api.thread_state_clear)(scratch);
        (api.thread_state_delete)(scratch);
        if accepted {
            Ok(())
        } else {
            Err(Errno(libc::ENOTSUP))
        }
    }
}

/// Tells `state` (3.14+) that its thread runs on the stack `[bottom, bottom + size)`; a no-op
/// before 3.14. See the module docs.
///
/// # Safety
/// The caller holds the GIL; `state` is a live thread state, never attached yet, whose thread
/// runs on that stack (at least [`MIN_STACK_SIZE`] bytes).
pub(crate) unsafe fn give_stack(state: usize, bottom: usize, size: usize) {
    let Ok(api) = api() else { return };
    let Some(set) = api.set_stack_protection else {
        return;
    };
    // SAFETY: the caller's contract. It cannot fail: `init` checked that this interpreter
    // accepts MIN_STACK_SIZE bytes. Were it to fail anyway, its exception must not stay on the
    // spawner's state (the thread then runs on the bounds CPython computes itself).
    unsafe {
        if set(state as *mut PyThreadState, bottom as *mut c_void, size) != 0 {
            (api.err_clear)();
        }
    }
}

/// Finds CPython's gilstate key: a pthread key holding `root`, confirmed with a sentinel.
fn find_gilstate_key(api: &Api, root: *mut PyThreadState) -> Option<libc::pthread_key_t> {
    let sentinel = std::ptr::NonNull::<u64>::dangling()
        .as_ptr()
        .cast::<c_void>();
    for key in 0..1024 as libc::pthread_key_t {
        // SAFETY: pthread_getspecific on any key value is defined (NULL for unused keys).
        if unsafe { libc::pthread_getspecific(key) } != root {
            continue;
        }
        // SAFETY: the key is in use and holds `root`; the sentinel is planted only for the
        // check below (no other code runs meanwhile: the GIL is held) and `root` put back.
        let confirmed = unsafe {
            libc::pthread_setspecific(key, sentinel);
            let seen = (api.gilstate_this_thread)();
            libc::pthread_setspecific(key, root);
            seen == sentinel
        };
        if confirmed {
            return Some(key);
        }
    }
    None
}

/// Points CPython's gilstate at `state` (the thread about to run); a no-op where CPython does it.
fn bind_gilstate(state: usize) {
    if state == 0 {
        return;
    }
    if let Some(Some(key)) = GILSTATE_KEY.get() {
        // SAFETY: `key` is CPython's gilstate key (confirmed at init) and `state` a live thread
        // state of this OS thread; this is exactly what CPython itself stores there.
        unsafe { libc::pthread_setspecific(*key, state as *const c_void) };
    }
}

/// EDEADLK if the caller holds the GIL: blocking now would stop every Python thread for good.
fn check_gil_released() -> Result<()> {
    let Ok(api) = api() else { return Ok(()) };
    // SAFETY: PyGILState_Check may be called with or without the GIL.
    if unsafe { (api.gilstate_check)() } == 1 {
        return Err(Errno(libc::EDEADLK));
    }
    Ok(())
}

/// A green thread died on its guard page while running Python: release the GIL it held (its
/// thread state is leaked with its stack).
fn release_gil_after_overflow(state: usize) {
    if state == 0 {
        return;
    }
    if let Ok(api) = api() {
        // SAFETY: this OS thread holds the GIL on behalf of the dead thread (it was running
        // Python when it overflowed, or blocked with the GIL released: then Check says 0).
        unsafe {
            if (api.gilstate_check)() == 1 {
                (api.eval_save_thread)();
            }
        }
    }
}

/// Smallest C stack a Python green thread gets: C code re-entering Python needs room.
pub const MIN_STACK_SIZE: usize = 1024 * 1024;

/// Starts a green thread running `callable(*args, **kwargs)` on its own CPython thread state
/// and a C stack of at least [`MIN_STACK_SIZE`]. An exception escaping `callable` is printed
/// (SystemExit is not: the binding handles it) and gives status 1.
///
/// # Safety
/// The caller holds the GIL; `callable` is a live object, `args` a live tuple, `kwargs` NULL or
/// a live dict.
pub unsafe fn spawn(
    callable: *mut c_void,
    args: *mut c_void,
    kwargs: *mut c_void,
    mut opts: SpawnOptions,
) -> Result<ThreadId> {
    let stack = opts.stack_size.unwrap_or(thread::default_stack_size());
    opts.stack_size = Some(stack.max(MIN_STACK_SIZE));
    // SAFETY: the caller's contract is prepare's.
    let call = unsafe { prepare(callable, args, kwargs) }?;
    let pending = Pending::new(call);
    let state = pending.state();
    let id = thread::spawn_with(opts, move || pending.run())?;
    thread::set_hook_word(id, state)?;
    if let Some((bottom, size)) = thread::stack_range(id) {
        // SAFETY: the GIL is held (the caller's contract); `state` is the new thread's own,
        // never attached (it first runs later), and the range is its coroutine's stack.
        unsafe { give_stack(state, bottom, size) };
    }
    Ok(id)
}

/// What a Python green thread runs: `callable(*args, **kwargs)` on its own thread state.
struct Call {
    callable: usize,
    args: usize,
    kwargs: usize,
    state: usize,
}

/// Takes references to the call's objects and makes its thread state. Needs the GIL.
///
/// # Safety
/// The caller holds the GIL; `callable` is a live object, `args` a live tuple, `kwargs` NULL or
/// a live dict.
unsafe fn prepare(
    callable: *mut PyObject,
    args: *mut PyObject,
    kwargs: *mut PyObject,
) -> Result<Call> {
    let api = api()?;
    if callable.is_null() || args.is_null() {
        return Err(Errno(libc::EINVAL));
    }
    // SAFETY: GIL held (caller's contract); the objects are live.
    unsafe {
        let state = (api.thread_state_new)((api.interpreter_get)());
        if state.is_null() {
            return Err(Errno(libc::ENOMEM));
        }
        (api.inc_ref)(callable);
        (api.inc_ref)(args);
        if !kwargs.is_null() {
            (api.inc_ref)(kwargs);
        }
        Ok(Call {
            callable: callable as usize,
            args: args as usize,
            kwargs: kwargs as usize,
            state: state as usize,
        })
    }
}

/// Gives back what `prepare` took, when the thread could not be spawned. Needs the GIL.
///
/// # Safety
/// The caller holds the GIL and `call` came from `prepare` and was never run.
unsafe fn discard(call: Call) {
    let Ok(api) = api() else { return };
    // SAFETY: GIL held; these are the references and the (never current) state `prepare` made.
    unsafe {
        (api.dec_ref)(call.callable as *mut PyObject);
        (api.dec_ref)(call.args as *mut PyObject);
        if call.kwargs != 0 {
            (api.dec_ref)(call.kwargs as *mut PyObject);
        }
        (api.thread_state_clear)(call.state as *mut PyThreadState);
        (api.thread_state_delete)(call.state as *mut PyThreadState);
    }
}

/// The body of a Python green thread (on its coroutine stack). Returns its status: 0, or 1 if
/// an exception escaped the callable (printed, except SystemExit, which the shim handles).
fn run(call: Call) -> i32 {
    let Ok(api) = api() else { return 1 };
    let state = call.state as *mut PyThreadState;
    // SAFETY: `state` is this thread's own state (made by `prepare`, never current elsewhere);
    // restoring it takes the GIL. The GIL is held from here until DeleteCurrent releases it;
    // the objects are the references `prepare` took.
    unsafe {
        (api.eval_restore_thread)(state);
        bind_gilstate(call.state);
        let kwargs = call.kwargs as *mut PyObject;
        let result = (api.object_call)(
            call.callable as *mut PyObject,
            call.args as *mut PyObject,
            kwargs,
        );
        let mut status = 0;
        if result.is_null() {
            status = 1;
            if !(api.err_occurred)().is_null() {
                if (api.err_exception_matches)(*api.exc_system_exit) != 0 {
                    (api.err_clear)(); // PyErr_Print would exit the process from in here
                } else {
                    (api.err_print)();
                }
            }
        } else {
            (api.dec_ref)(result);
        }
        (api.dec_ref)(call.callable as *mut PyObject);
        (api.dec_ref)(call.args as *mut PyObject);
        if !kwargs.is_null() {
            (api.dec_ref)(kwargs);
        }
        (api.thread_state_clear)(state);
        (api.thread_state_delete_current)(); // also releases the GIL
        status
    }
}

/// A prepared call not yet run: if it is dropped unrun (the spawn failed, with the GIL still
/// held by the spawner), its references and thread state are given back.
struct Pending(Option<Call>);

impl Pending {
    fn new(call: Call) -> Pending {
        Pending(Some(call))
    }

    fn state(&self) -> usize {
        self.0.as_ref().map_or(0, |c| c.state)
    }

    fn run(mut self) -> i32 {
        self.0.take().map_or(1, run)
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(call) = self.0.take() {
            // SAFETY: only dropped unrun on gh_py_spawn's failure path, where the caller holds
            // the GIL; the call came from `prepare`.
            unsafe { discard(call) };
        }
    }
}
