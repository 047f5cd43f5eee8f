//! Python green threads: each runs `callable(*args, **kwargs)` on its own CPython thread state,
//! entered from native code on its own green stack.

use std::ffi::c_void;

use super::api::{api, PyObject, PyThreadState};
use super::gilstate::bind_gilstate;
use super::stack::{give_stack, MIN_STACK_SIZE};
use crate::error::{Errno, Result};
use crate::runtime::thread::{self, SpawnOptions, ThreadId};

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
