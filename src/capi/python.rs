//! Python green threads for the ctypes shim (`bindings/python/greenhub`). Both functions are
//! called through `ctypes.PyDLL` (GIL held); every other greenhub function must be called
//! through `ctypes.CDLL` (GIL released): a blocking call made with the GIL held fails with
//! EDEADLK instead of stopping every Python thread.

use std::ffi::c_void;

use super::thread::{gh_spawn_opts, spawn_options};
use super::{call, gh_thread};
use crate::python;
use crate::thread;

/// Enables Python green threads on this OS thread, whose current thread state becomes the
/// root's. Call with the GIL held (ctypes.PyDLL). ENOSYS outside CPython; ENOTSUP before 3.9,
/// and on 3.14+ without PyUnstable_ThreadState_SetStackProtection (3.14.0): from 3.14 each
/// green thread's thread state must be told where its stack is.
#[no_mangle]
pub extern "C" fn gh_py_init() -> i32 {
    call(-1, || python::init().map(|()| 0))
}

/// Starts a green thread running `callable(*args, **kwargs)` (`args` a tuple, `kwargs` a dict or
/// NULL) on its own CPython thread state (on 3.14+ told the bounds of its stack) and a C stack
/// of at least 1 MiB. Call with the GIL held (ctypes.PyDLL, objects passed as py_object);
/// options as gh_spawn_ex(). An exception escaping `callable` is printed (SystemExit is not:
/// the shim handles it) and gives status 1.
#[no_mangle]
pub extern "C" fn gh_py_spawn(
    callable: *mut c_void,
    args: *mut c_void,
    kwargs: *mut c_void,
    opts: *const gh_spawn_opts,
) -> gh_thread {
    call(-1, || {
        let mut options = spawn_options(opts)?;
        let stack = options.stack_size.unwrap_or(thread::default_stack_size());
        options.stack_size = Some(stack.max(python::MIN_STACK));
        // SAFETY: called through PyDLL with the GIL held and live objects, as documented.
        let call = unsafe { python::prepare(callable, args, kwargs) }?;
        let spawned = python::Pending::new(call);
        let state = spawned.state();
        // SAFETY: GIL held (as above); `state` was made by `prepare` just now, never attached.
        let id = unsafe { thread::spawn_python(options, state, move || spawned.run()) }?;
        Ok(id as gh_thread)
    })
}
