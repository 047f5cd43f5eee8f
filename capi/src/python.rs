//! Python green threads for the ctypes shim (`bindings/python/greenhub`). Both functions are
//! called through `ctypes.PyDLL` (GIL held). Any other greenhub function may be called either
//! way: once `gh_py_init` has run, a call made with the GIL held that switches green threads
//! releases the GIL for the switch and takes it back before it returns (rather than stopping
//! every Python thread).

use std::ffi::{c_int, c_void};

use super::thread::{gh_spawn_opts, spawn_options};
use super::{call, gh_thread};
use greenhub::python;

/// Enables Python green threads on this OS thread, whose current thread state becomes the
/// root's. Call with the GIL held (ctypes.PyDLL). From then on any greenhub call may be made
/// with the GIL held or released: one made with it held keeps it unless it switches green
/// threads, and then releases it until the calling thread runs again. ENOSYS outside
/// CPython; ENOTSUP before 3.9, and on 3.14+ without
/// PyUnstable_ThreadState_SetStackProtection (3.14.0): from 3.14 each green thread's thread
/// state must be told where its stack is.
#[no_mangle]
pub extern "C" fn gh_py_init() -> c_int {
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
        let options = spawn_options(opts)?;
        // SAFETY: called through PyDLL with the GIL held and live objects, as documented.
        let id = unsafe { python::spawn(callable, args, kwargs, options) }?;
        Ok(id as gh_thread)
    })
}
