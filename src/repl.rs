//! `--repl`: Python's own interactive console (stdlib `code`, with readline) runs on the main
//! thread; while it waits for a line, Python calls `PyOS_InputHook` about ten times a second, and
//! this hook takes the saves that arrived and runs them, printing above the prompt.

use std::cell::Cell;
use std::path::PathBuf;

use pyo3::prelude::*;

use crate::project::call;
use crate::session::Session;

unsafe extern "C" {
    /// CPython calls this repeatedly while readline waits for input (not declared by pyo3).
    static mut PyOS_InputHook: Option<unsafe extern "C" fn() -> std::ffi::c_int>;
}

thread_local! {
    /// The session the hook works on, while the console runs (main thread only).
    static ACTIVE: Cell<*mut ()> = const { Cell::new(std::ptr::null_mut()) };
}

/// Runs the console until exit() or Ctrl-D.
pub fn run(
    session: &mut Session<'_, '_>,
    host: &Bound<'_, PyModule>,
    module: &str,
) -> Result<(), String> {
    let repl = host
        .py()
        .import("hotload._repl")
        .map_err(|e| format!("internal error: {e}"))?;
    let history = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".hotload_history"));
    ACTIVE.with(|a| a.set(session as *mut Session<'_, '_> as *mut ()));
    // SAFETY: set and cleared on the main thread around the console; CPython reads it there.
    unsafe { PyOS_InputHook = Some(input_hook) };
    let result = repl
        .getattr("run")
        .and_then(|f| f.call1((module, history.map(|h| h.display().to_string()))));
    unsafe { PyOS_InputHook = None };
    ACTIVE.with(|a| a.set(std::ptr::null_mut()));
    result.map(|_| ()).map_err(|e| format!("console: {e}"))
}

unsafe extern "C" fn input_hook() -> std::ffi::c_int {
    let ptr = ACTIVE.with(Cell::get);
    if ptr.is_null() {
        return 0;
    }
    // SAFETY: the pointer was set by `run` from a live `&mut Session` that `run` does not touch
    // while Python (and so this hook) runs; the hook runs on the same thread.
    let session = unsafe { &mut *(ptr as *mut Session<'_, '_>) };
    // CPython released the GIL around readline; pyo3 still counts the console's caller as
    // attached, so take the GIL back explicitly rather than through Python::attach.
    // SAFETY: PyGILState_Ensure/Release pair on the main thread, which has a thread state.
    let gil = unsafe { pyo3::ffi::PyGILState_Ensure() };
    let py = unsafe { Python::assume_attached() };
    if let Some(changed) = session.take_saves_now(py)
        && let Ok(repl) = py.import("hotload._repl")
    {
        let _ = call(&repl, "before_output", ());
        session.run_once(&changed, None);
        let _ = call(&repl, "after_output", ());
    }
    unsafe { pyo3::ffi::PyGILState_Release(gil) };
    0
}
