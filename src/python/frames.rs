//! Python stacks for the thread dump and the block monitor, read from each green thread's own
//! thread state with CPython's frame functions (`PyThreadState_GetFrame`, `PyFrame_GetBack`,
//! `PyFrame_GetCode`, `PyFrame_GetLineNumber`: all since 3.9), resolved at run time like the
//! rest. Reading another state's frames needs the GIL:
//! - the dump runs on the hub's OS thread, inside a greenhub call of the running thread (made
//!   with the GIL released, ctypes.CDLL): it attaches that thread's own state for the read and
//!   detaches it again, as a C extension's callback would; if the GIL is already held (a call
//!   through ctypes.PyDLL) it reads as it is. The other states are detached, their frames still.
//! - the block monitor runs on its own OS thread: it takes the GIL with `PyGILState_Ensure`
//!   (a hog running Python hands it over at the switch interval, one in a blocking C call has
//!   released it), checks that the state is still alive (in the interpreter's list) and reads
//!   it. Not on a free-threaded build: there the hog runs on while the monitor would read its
//!   frames, and CPython's only safe way (stopping the world) is not public API.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::fmt::Write as _;
use std::sync::OnceLock;

use super::api::{api, func, symbol, PyObject, PyThreadState};
use crate::error::Result;

/// Innermost frames shown per thread.
const MAX_FRAMES: usize = 64;

struct FrameApi {
    thread_state_get_frame: unsafe extern "C" fn(*mut PyThreadState) -> *mut PyObject,
    frame_get_back: unsafe extern "C" fn(*mut PyObject) -> *mut PyObject,
    frame_get_code: unsafe extern "C" fn(*mut PyObject) -> *mut PyObject,
    frame_get_line_number: unsafe extern "C" fn(*mut PyObject) -> c_int,
    object_get_attr_string: unsafe extern "C" fn(*mut PyObject, *const c_char) -> *mut PyObject,
    unicode_as_utf8: unsafe extern "C" fn(*mut PyObject) -> *const c_char,
    gilstate_ensure: unsafe extern "C" fn() -> c_int,
    gilstate_release: unsafe extern "C" fn(c_int),
    interpreter_head: unsafe extern "C" fn(*mut c_void) -> *mut PyThreadState,
    thread_state_next: unsafe extern "C" fn(*mut PyThreadState) -> *mut PyThreadState,
    /// `Py_IsFinalizing` (3.13) or `_Py_IsFinalizing`: no monitor read during finalization.
    is_finalizing: Option<unsafe extern "C" fn() -> c_int>,
    /// A free-threaded build (it exports `_Py_DecRefShared`, the GIL-less builds' decref).
    free_threaded: bool,
}

// SAFETY: function pointers valid for the process's life, used under the GIL only.
unsafe impl Send for FrameApi {}
// SAFETY: as above; never mutated after creation.
unsafe impl Sync for FrameApi {}

static FRAME_API: OnceLock<Option<FrameApi>> = OnceLock::new();

#[allow(clippy::missing_transmute_annotations)] // typed by the field each initialises
fn load() -> Result<FrameApi> {
    let is_finalizing = symbol(c"Py_IsFinalizing")
        .or_else(|_| symbol(c"_Py_IsFinalizing"))
        .ok()
        // SAFETY: either symbol is CPython's `int (void)` finalization check.
        .map(|p| unsafe { std::mem::transmute::<*mut c_void, unsafe extern "C" fn() -> c_int>(p) });
    Ok(FrameApi {
        thread_state_get_frame: func!(c"PyThreadState_GetFrame"),
        frame_get_back: func!(c"PyFrame_GetBack"),
        frame_get_code: func!(c"PyFrame_GetCode"),
        frame_get_line_number: func!(c"PyFrame_GetLineNumber"),
        object_get_attr_string: func!(c"PyObject_GetAttrString"),
        unicode_as_utf8: func!(c"PyUnicode_AsUTF8"),
        gilstate_ensure: func!(c"PyGILState_Ensure"),
        gilstate_release: func!(c"PyGILState_Release"),
        interpreter_head: func!(c"PyInterpreterState_ThreadHead"),
        thread_state_next: func!(c"PyThreadState_Next"),
        is_finalizing,
        free_threaded: symbol(c"_Py_DecRefShared").is_ok(),
    })
}

fn frame_api() -> Option<&'static FrameApi> {
    FRAME_API.get_or_init(|| load().ok()).as_ref()
}

/// The dump's hook: the stacks of the thread states `words` (0: none), read on the hub's OS
/// thread with `current` (the running thread's state) attached if the GIL is not held.
pub(super) fn stacks(current: usize, words: &[usize]) -> Vec<String> {
    let none = || vec![String::new(); words.len()];
    let (Ok(api), Some(fa)) = (api(), frame_api()) else {
        return none();
    };
    // SAFETY: PyGILState_Check may be called with or without the GIL.
    let held = unsafe { (api.gilstate_check)() } == 1;
    if !held && current == 0 {
        return none(); // a C green thread of a Python program: no state of its own to attach
    }
    // SAFETY: `current` is the running thread's own state, detached by the ctypes call that
    // led here; attaching it takes the GIL, and it is detached again below before returning
    // to that call, which re-attaches it. Every word is the live state of a thread that has
    // not ended (the dump skips ended ones), detached, so its frames stand still.
    unsafe {
        if !held {
            (api.eval_restore_thread)(current as *mut PyThreadState);
        }
        let out = words.iter().map(|&w| read_stack(api, fa, w)).collect();
        if !held {
            (api.eval_save_thread)();
        }
        out
    }
}

/// The monitor's hook: the stack of the running thread state `word`, read from another OS
/// thread; `None` on a free-threaded build, during finalization, or if the state is gone.
pub(super) fn running_stack(word: usize) -> Option<String> {
    let api = api().ok()?;
    let fa = frame_api()?;
    if word == 0 || fa.free_threaded {
        return None;
    }
    // SAFETY: the finalization check takes no lock and may be called from any thread.
    if fa.is_finalizing.is_some_and(|f| unsafe { f() } != 0) {
        return None;
    }
    // SAFETY: Ensure gives this OS thread a state and the GIL; with it held no state can be
    // created or deleted, so the walk of the interpreter's list finds `word` only if it is a
    // live state, and its frames are still while the hog waits for the GIL back.
    unsafe {
        let gil = (fa.gilstate_ensure)();
        let mut t = (fa.interpreter_head)((api.interpreter_get)());
        while !t.is_null() && t as usize != word {
            t = (fa.thread_state_next)(t);
        }
        let stack = (!t.is_null()).then(|| read_stack(api, fa, word));
        (fa.gilstate_release)(gil);
        stack
    }
}

/// One thread's stack, outermost call first, as a traceback prints it.
///
/// # Safety
/// The GIL is held and `word` is 0 or a live thread state.
unsafe fn read_stack(api: &super::api::Api, fa: &FrameApi, word: usize) -> String {
    if word == 0 {
        return String::new();
    }
    let mut lines = Vec::new();
    // SAFETY: the caller's contract; every frame and code object is a new reference, given
    // back once read.
    unsafe {
        let mut frame = (fa.thread_state_get_frame)(word as *mut PyThreadState);
        while !frame.is_null() && lines.len() < MAX_FRAMES {
            let code = (fa.frame_get_code)(frame);
            let line = (fa.frame_get_line_number)(frame);
            let (name, file) = if code.is_null() {
                ("?".to_string(), "?".to_string())
            } else {
                let names = (
                    attr(api, fa, code, c"co_name"),
                    attr(api, fa, code, c"co_filename"),
                );
                (api.dec_ref)(code);
                names
            };
            lines.push(format!("    File \"{file}\", line {line}, in {name}"));
            let back = (fa.frame_get_back)(frame);
            (api.dec_ref)(frame);
            frame = back;
        }
        if !frame.is_null() {
            (api.dec_ref)(frame);
        }
    }
    let mut out = String::new();
    for line in lines.iter().rev() {
        let _ = writeln!(out, "{line}");
    }
    out
}

/// A string attribute of `object`, "?" if it has none.
///
/// # Safety
/// The GIL is held and `object` is live.
unsafe fn attr(api: &super::api::Api, fa: &FrameApi, object: *mut PyObject, name: &CStr) -> String {
    // SAFETY: the caller's contract; the attribute is a new reference, given back below.
    unsafe {
        let value = (fa.object_get_attr_string)(object, name.as_ptr());
        if value.is_null() {
            (api.err_clear)();
            return "?".to_string();
        }
        let text = (fa.unicode_as_utf8)(value);
        let s = if text.is_null() {
            (api.err_clear)();
            "?".to_string()
        } else {
            CStr::from_ptr(text).to_string_lossy().into_owned()
        };
        (api.dec_ref)(value);
        s
    }
}
