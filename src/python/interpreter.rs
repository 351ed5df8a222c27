//! Starting the embedded CPython: check that the libpython we loaded is the one we were built
//! against, pick the venv if one is active, initialise through PyConfig (so Python installs its
//! own SIGINT handler), and install the embedded `hotload` package. Nothing here runs user code.

use std::ffi::{CStr, CString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// What this binary was linked against (recorded by build.rs).
pub const BUILD_PYTHON: &str = env!("HOTLOAD_BUILD_PYTHON");
pub const BUILD_VERSION: &str = env!("HOTLOAD_BUILD_VERSION");
const BUILD_BASE_PREFIX: &str = env!("HOTLOAD_BUILD_BASE_PREFIX");
const BUILD_LIBDIR: &str = env!("HOTLOAD_BUILD_LIBDIR");

/// The in-interpreter `hotload` package, compiled into the binary: for each module its name, its
/// source (for tracebacks and `inspect`), its code object marshalled by build.rs, and whether it
/// is a package. build.rs writes the table from the files in python/hotload/.
const EMBEDDED: &[(&str, &str, &[u8], bool)] = include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
/// The importer's code object, marshalled by build.rs (its source, `IMPORTER`, is the fallback).
const IMPORTER_CODE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/importer.code"));
const IMPORTER: &CStr =
    match CStr::from_bytes_with_nul(concat!(include_str!("embedded_importer.py"), "\0").as_bytes())
    {
        Ok(s) => s,
        Err(_) => panic!("embedded_importer.py contains a NUL byte"),
    };

/// Refusals before the interpreter starts: each is a complete message for the user.
pub type StartError = String;

/// Initialises CPython. Must be called once, on the main thread, before any other thread starts.
pub fn start() -> Result<(), StartError> {
    check_loaded_libpython()?;
    let program = match std::env::var_os("VIRTUAL_ENV").filter(|v| !v.is_empty()) {
        Some(venv) => venv_python(Path::new(&venv))?,
        None => PathBuf::from(BUILD_PYTHON),
    };
    // SAFETY: called once on the main thread before Python or any other thread exists.
    unsafe { init_from_config(&program)? };
    Python::attach(|py| {
        check_running_interpreter(py)?;
        install_embedded_package(py).map_err(|e| format!("internal error: {e}"))
    })
}

/// Python's own shutdown, as at the end of `python lib.py`: waits for non-daemon threads, runs
/// atexit handlers, flushes and closes files. Called once, on the main thread, at exit.
pub fn finalize() {
    // SAFETY: the interpreter was started by `start` and is finalised once, from the main
    // thread, after the last use of any Python object.
    unsafe {
        ffi::PyGILState_Ensure();
        ffi::Py_FinalizeEx();
    }
}

/// Refuses a libpython other than the one we were built against (Debian's /usr/lib has one
/// with the same soname as pyenv's).
fn check_loaded_libpython() -> Result<(), StartError> {
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    let symbol = ffi::Py_IsInitialized as *const libc::c_void;
    // SAFETY: dladdr only reads the loader's tables for an address inside a loaded object.
    if unsafe { libc::dladdr(symbol, &mut info) } == 0 || info.dli_fname.is_null() {
        return Ok(()); // statically linked: nothing to confuse
    }
    let loaded = PathBuf::from(
        unsafe { CStr::from_ptr(info.dli_fname) }
            .to_string_lossy()
            .into_owned(),
    );
    let loaded_dir = loaded.parent().and_then(|d| d.canonicalize().ok());
    let built_dir = Path::new(BUILD_LIBDIR).canonicalize().ok();
    if BUILD_LIBDIR.is_empty() || loaded_dir.is_none() || loaded_dir == built_dir {
        return Ok(());
    }
    Err(format!(
        "this hotload-host was built against Python {BUILD_VERSION} ({BUILD_PYTHON}, libpython in {BUILD_LIBDIR}) \
         but loaded {}.\nUnset LD_LIBRARY_PATH, or rebuild against the Python you want: \
         PYO3_PYTHON=/path/to/python3 cargo install --path .",
        loaded.display()
    ))
}

/// The venv's python, after checking the venv is of the Python version we were built for.
fn venv_python(venv: &Path) -> Result<PathBuf, StartError> {
    let cfg_path = venv.join("pyvenv.cfg");
    let cfg = std::fs::read_to_string(&cfg_path).map_err(|e| {
        format!(
            "VIRTUAL_ENV is {} but {} cannot be read ({e}); activate a valid venv or unset VIRTUAL_ENV",
            venv.display(),
            cfg_path.display()
        )
    })?;
    let key = |names: &[&str]| {
        cfg.lines()
            .filter_map(|l| l.split_once('='))
            .find(|(k, _)| names.contains(&k.trim()))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    let version = key(&["version", "version_info"]);
    // `home` is the directory of the interpreter that made the venv: its prefix is ours only if
    // the venv was made by the Python this binary was built against.
    let home = key(&["home"]);
    let made_by = match key(&["executable"]) {
        exe if !exe.is_empty() => exe,
        _ => format!("{home}/python"),
    };
    let base = Path::new(&home)
        .parent()
        .and_then(|p| p.canonicalize().ok());
    let same_base = home.is_empty() || base == Path::new(BUILD_BASE_PREFIX).canonicalize().ok();
    if major_minor(&version) != major_minor(BUILD_VERSION) || !same_base {
        return Err(format!(
            "the active venv {venv} is Python {version} made by {made_by}, but this hotload-host \
             was built against Python {BUILD_VERSION} ({BUILD_PYTHON}).\n\
             Install hotload-host into the venv instead, so it runs on the venv's own Python: \
             {venv}/bin/python -m pip install hotload-host (or `pip install .` from a clone); \
             or rebuild this binary for it: PYO3_PYTHON={venv}/bin/python cargo install --path . --force",
            venv = venv.display(),
        ));
    }
    let python = venv.join("bin").join("python");
    if !python.exists() {
        return Err(format!(
            "the active venv {} has no bin/python; recreate it or unset VIRTUAL_ENV",
            venv.display()
        ));
    }
    Ok(python)
}

fn major_minor(version: &str) -> String {
    version.split('.').take(2).collect::<Vec<_>>().join(".")
}

/// Py_InitializeFromConfig with the Python configuration (environment variables honoured,
/// signal handlers installed) and `program_name` pointing at the interpreter whose prefix,
/// site-packages and venv we want.
unsafe fn init_from_config(program: &Path) -> Result<(), StartError> {
    let program_c = CString::new(program.as_os_str().as_bytes())
        .map_err(|_| format!("{}: path contains a NUL byte", program.display()))?;
    unsafe {
        let mut config: ffi::PyConfig = std::mem::zeroed();
        ffi::PyConfig_InitPythonConfig(&mut config);
        config.parse_argv = 0;
        config.install_signal_handlers = 1;
        let status =
            ffi::PyConfig_SetBytesString(&mut config, &mut config.program_name, program_c.as_ptr());
        let status = if ffi::PyStatus_Exception(status) == 0 {
            ffi::Py_InitializeFromConfig(&config)
        } else {
            status
        };
        ffi::PyConfig_Clear(&mut config);
        if ffi::PyStatus_Exception(status) != 0 {
            let msg = if status.err_msg.is_null() {
                "unknown error".to_string()
            } else {
                CStr::from_ptr(status.err_msg)
                    .to_string_lossy()
                    .into_owned()
            };
            return Err(format!(
                "could not start Python ({}): {msg}",
                program.display()
            ));
        }
        // Release the GIL taken by initialisation; pyo3 re-attaches as needed.
        ffi::PyEval_SaveThread();
    }
    Ok(())
}

/// The interpreter that came up must be the one we were built against.
fn check_running_interpreter(py: Python<'_>) -> Result<(), StartError> {
    let sys = py.import("sys").map_err(|e| e.to_string())?;
    let get = |attr: &str| -> String {
        sys.getattr(attr)
            .and_then(|v| v.str().map(|s| s.to_string()))
            .unwrap_or_default()
    };
    let version = py
        .eval(
            c"'%d.%d.%d' % __import__('sys').version_info[:3]",
            None,
            None,
        )
        .and_then(|v| v.extract::<String>())
        .unwrap_or_default();
    let base_prefix = get("base_prefix");
    let same_prefix = Path::new(&base_prefix).canonicalize().ok()
        == Path::new(BUILD_BASE_PREFIX).canonicalize().ok();
    if version != BUILD_VERSION || !same_prefix {
        return Err(format!(
            "the embedded Python is {version} from {base_prefix}, but this hotload-host was built against \
             {BUILD_VERSION} from {BUILD_BASE_PREFIX}.\nRebuild it: PYO3_PYTHON={BUILD_PYTHON} cargo install --path . --force"
        ));
    }
    Ok(())
}

fn install_embedded_package(py: Python<'_>) -> PyResult<()> {
    let importer = match importer_from_marshalled(py) {
        Ok(module) => module,
        Err(_) => PyModule::from_code(
            py,
            IMPORTER,
            c"<hotload-host>/importer.py",
            c"_hotload_importer",
        )?,
    };
    let sources = PyDict::new(py);
    for (name, source, code, is_package) in EMBEDDED {
        let code = pyo3::types::PyBytes::new(py, code);
        sources.set_item(name, (source, code, is_package))?;
    }
    importer.getattr("install")?.call1((sources,))?;
    Ok(())
}

/// The importer module from its marshalled code: what `PyModule::from_code` does, without
/// compiling the source at every start (a million instructions and more).
fn importer_from_marshalled(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    let code = py
        .import("marshal")?
        .call_method1("loads", (pyo3::types::PyBytes::new(py, IMPORTER_CODE),))?;
    // SAFETY: the interpreter is attached (`py`); `code` is a live code object; the names are
    // NUL-terminated; the result is a new reference, or NULL with the exception set.
    unsafe {
        let module = ffi::PyImport_ExecCodeModuleEx(
            c"_hotload_importer".as_ptr(),
            code.as_ptr(),
            c"<hotload-host>/importer.py".as_ptr(),
        );
        Ok(Bound::from_owned_ptr_or_err(py, module)?.cast_into_unchecked())
    }
}
