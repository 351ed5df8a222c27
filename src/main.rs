//! The hotload-host binary: the whole program is the library; this only starts the embedded
//! interpreter it was built against.

use std::process::ExitCode;

fn main() -> ExitCode {
    let code = hotload_host::run(
        std::env::args_os().collect(),
        hotload_host::python::interpreter::start,
    );
    ExitCode::from(code)
}
