//! CPython's C API, resolved at run time with `dlsym` (stable ABI, and the one unstable
//! function of the module docs): nothing links against libpython.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::OnceLock;

use crate::error::{Errno, Result};

pub(super) type PyObject = c_void;
pub(super) type PyThreadState = c_void;

/// `PyUnstable_ThreadState_SetStackProtection(tstate, stack_start_addr, stack_size)`.
pub(super) type SetStackProtection =
    unsafe extern "C" fn(*mut PyThreadState, *mut c_void, usize) -> c_int;

/// The CPython functions used, all in the stable ABI but `set_stack_protection`.
pub(super) struct Api {
    pub(super) eval_restore_thread: unsafe extern "C" fn(*mut PyThreadState),
    pub(super) eval_save_thread: unsafe extern "C" fn() -> *mut PyThreadState,
    pub(super) thread_state_new: unsafe extern "C" fn(*mut c_void) -> *mut PyThreadState,
    pub(super) thread_state_clear: unsafe extern "C" fn(*mut PyThreadState),
    pub(super) thread_state_delete: unsafe extern "C" fn(*mut PyThreadState),
    pub(super) thread_state_delete_current: unsafe extern "C" fn(),
    pub(super) interpreter_get: unsafe extern "C" fn() -> *mut c_void,
    pub(super) object_call:
        unsafe extern "C" fn(*mut PyObject, *mut PyObject, *mut PyObject) -> *mut PyObject,
    pub(super) err_print: unsafe extern "C" fn(),
    pub(super) err_clear: unsafe extern "C" fn(),
    pub(super) err_occurred: unsafe extern "C" fn() -> *mut PyObject,
    pub(super) err_exception_matches: unsafe extern "C" fn(*mut PyObject) -> c_int,
    pub(super) exc_system_exit: *mut *mut PyObject,
    pub(super) inc_ref: unsafe extern "C" fn(*mut PyObject),
    pub(super) dec_ref: unsafe extern "C" fn(*mut PyObject),
    pub(super) gilstate_check: unsafe extern "C" fn() -> c_int,
    pub(super) gilstate_this_thread: unsafe extern "C" fn() -> *mut PyThreadState,
    /// 3.14+ only (see the module docs); `None` before 3.14.
    pub(super) set_stack_protection: Option<SetStackProtection>,
    pub(super) version_hex: u32,
}

// SAFETY: function pointers and a pointer to a CPython global, all valid for the process's life;
// using them requires the GIL, which every call site holds (documented at each).
unsafe impl Send for Api {}
// SAFETY: as above; the struct is never mutated after creation.
unsafe impl Sync for Api {}

pub(super) static API: OnceLock<std::result::Result<Api, Errno>> = OnceLock::new();
pub(super) fn symbol(name: &CStr) -> Result<*mut c_void> {
    // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name has no other precondition.
    let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
    if p.is_null() {
        Err(Errno(libc::ENOSYS)) // not running inside CPython
    } else {
        Ok(p)
    }
}

/// The CPython function `$name`, as the type of the field it initialises; returns ENOSYS from
/// the calling function if there is none.
macro_rules! func {
    ($name:literal) => {{
        let p = $crate::python::api::symbol($name)?;
        // SAFETY: the symbol is the CPython function of that name, whose C signature is the
        // field's type.
        unsafe { std::mem::transmute::<*mut std::ffi::c_void, _>(p) }
    }};
}
pub(super) use func;

// `func!` transmutes to the type of the field it initialises: that declaration is the annotation.
#[allow(clippy::missing_transmute_annotations)]
pub(super) fn load() -> Result<Api> {
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
pub(super) fn version_from_string() -> Result<u32> {
    let get: unsafe extern "C" fn() -> *const c_char = func!(c"Py_GetVersion");
    // SAFETY: Py_GetVersion returns a static NUL-terminated string.
    let text = unsafe { CStr::from_ptr(get()) }.to_string_lossy();
    let mut parts = text.split(|c: char| !c.is_ascii_digit());
    let major: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    Ok((major << 24) | (minor << 16))
}

pub(super) fn api() -> Result<&'static Api> {
    API.get_or_init(load).as_ref().map_err(|e| *e)
}
