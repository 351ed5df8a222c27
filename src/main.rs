//! The hotload-host binary: the whole program is the library; this only starts the embedded
//! interpreter it was built against.

use std::process::ExitCode;

fn main() -> ExitCode {
    let embedding = hotload_host::Embedding {
        start: hotload_host::python::interpreter::start,
        finalize: hotload_host::python::interpreter::finalize,
    };
    let code = hotload_host::run(std::env::args_os().collect(), &embedding);
    ExitCode::from(code)
}
