//! What the Rust side lends the Python side: compiling a module's source.
//!
//! `builtins.compile` first asks whether its source is an AST object, and that question sets
//! up the `ast` module's ~120 node types on first use: some 8 million instructions (a few
//! milliseconds) before a trivial module's first run, which `python lib.py` never pays (it
//! compiles its script in C). `compile_source` compiles through `Py_CompileString` instead,
//! which is what `compile(source, filename, "exec", dont_inherit=True)` does for bytes without
//! that question: the same parser, flags, optimisation level, coding-cookie and BOM handling,
//! and the same `SyntaxError`s.

use std::ffi::CString;

use pyo3::exceptions::PyValueError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// `compile(source, os.fsdecode(filename), "exec", dont_inherit=True)` for `source` bytes.
#[pyfunction]
pub fn compile_source<'py>(
    py: Python<'py>,
    source: &Bound<'py, PyBytes>,
    filename: &Bound<'py, PyBytes>,
) -> PyResult<Bound<'py, PyAny>> {
    let nul = |_| PyValueError::new_err("source code string cannot contain null bytes");
    let source = CString::new(source.as_bytes()).map_err(nul)?;
    let filename = CString::new(filename.as_bytes()).map_err(nul)?;
    // SAFETY: both are NUL-terminated C strings that outlive the call; the interpreter is
    // attached (`py`); the result is a new reference, or NULL with the exception set.
    unsafe {
        let code = ffi::Py_CompileString(source.as_ptr(), filename.as_ptr(), ffi::Py_file_input);
        Bound::from_owned_ptr_or_err(py, code)
    }
}
