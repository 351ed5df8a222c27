//! Build script: link against the Python that pyo3 found (PYO3_PYTHON or `python3` on PATH),
//! give the binary an rpath to that libpython, and record what the binary was built against so
//! that it can check at start-up that the interpreter it loaded is that one. Also compiles the
//! embedded `hotload` package to code objects with that Python, so start-up skips compiling it.
//!
//! All of that is for the embedding binary only, which gets `cfg(hotload_embed)`. Building the
//! extension module for the wheel (maturin sets PYO3_BUILD_EXTENSION_MODULE; the abi3 build has
//! no interpreter config to probe) skips it: that module runs in the user's interpreter and the
//! wheel ships python/hotload/ as plain source.

use std::process::Command;

fn main() {
    println!("cargo:rustc-check-cfg=cfg(hotload_embed)");
    println!("cargo:rerun-if-env-changed=PYO3_BUILD_EXTENSION_MODULE");
    if std::env::var_os("PYO3_BUILD_EXTENSION_MODULE").is_some() {
        // Without any rerun-if line cargo would rerun this (and rebuild the crate) whenever
        // any file of the package changes, python/ included.
        println!("cargo:rerun-if-changed=build.rs");
        return;
    }
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
    println!("cargo:rerun-if-changed=python");
    println!("cargo:rerun-if-changed=src/python/embedded_importer.py");
    let config = pyo3_build_config::get();
    if matches!(
        config.target_abi().kind(),
        pyo3_build_config::PythonAbiKind::Stable(_)
    ) {
        panic!(
            "the embedding binary cannot be built for the stable ABI (it starts CPython with \
             PyConfig); build the abi3 extension with `pip wheel .` / maturin instead"
        );
    }
    println!("cargo:rustc-cfg=hotload_embed");
    pyo3_build_config::add_libpython_rpath_link_args();
    let python = config
        .executable()
        .expect("pyo3 found no Python executable; set PYO3_PYTHON=/path/to/python3");
    let probe = "import sys, sysconfig; print(sys.executable); print(sys.base_prefix); \
                 print('%d.%d.%d' % sys.version_info[:3]); print(sysconfig.get_config_var('LIBDIR') or '')";
    let out = Command::new(python)
        .args(["-I", "-c", probe])
        .output()
        .expect("could not run the build Python");
    assert!(out.status.success(), "the build Python failed: {out:?}");
    let text = String::from_utf8(out.stdout).expect("build Python printed non-UTF-8");
    let mut lines = text.lines();
    for key in [
        "HOTLOAD_BUILD_PYTHON",
        "HOTLOAD_BUILD_BASE_PREFIX",
        "HOTLOAD_BUILD_VERSION",
        "HOTLOAD_BUILD_LIBDIR",
    ] {
        println!("cargo:rustc-env={key}={}", lines.next().unwrap_or(""));
    }
    compile_package(python);
}

/// Compiles each python/hotload/*.py to `$OUT_DIR/<file>.code` (a marshalled code object, with
/// the file name the embedded importer gives the module), and the importer itself to
/// `$OUT_DIR/importer.code`, and writes `$OUT_DIR/embedded.rs`, the
/// table of modules the binary carries: every file in the directory, so none can be forgotten.
/// The binary only runs on the Python it was built with (checked at start), so the marshal
/// format matches; if it ever does not, the importer compiles the embedded source instead.
fn compile_package(python: &str) {
    let out_dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let manifest =
        std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let src = manifest.join("python/hotload");
    let mut files: Vec<String> = std::fs::read_dir(&src)
        .expect("python/hotload is readable")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".py"))
        .collect();
    files.sort();

    // The importer that serves those modules (src/python/embedded_importer.py) too.
    let mut jobs: Vec<(std::path::PathBuf, String, std::path::PathBuf)> = files
        .iter()
        .map(|name| {
            let code = std::path::Path::new(&out_dir).join(format!("{name}.code"));
            (
                src.join(name),
                format!("<hotload-host>/hotload/{name}"),
                code,
            )
        })
        .collect();
    jobs.push((
        manifest.join("src/python/embedded_importer.py"),
        "<hotload-host>/importer.py".to_string(),
        std::path::Path::new(&out_dir).join("importer.code"),
    ));
    let script = r#"
import marshal, sys
args = sys.argv[1:]
for source, filename, out in zip(args[0::3], args[1::3], args[2::3]):
    with open(source, encoding="utf-8") as f:
        code = compile(f.read(), filename, "exec", dont_inherit=True)
    with open(out, "wb") as f:
        f.write(marshal.dumps(code))
"#;
    let mut cmd = Command::new(python);
    cmd.args(["-I", "-c", script]);
    for (source, filename, code) in &jobs {
        cmd.arg(source).arg(filename).arg(code);
    }
    let out = cmd.output().expect("could not run the build Python");
    assert!(
        out.status.success(),
        "compiling python/hotload failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut table = String::from("&[\n");
    for file in &files {
        let stem = file.trim_end_matches(".py");
        let (name, is_package) = match stem {
            "__init__" => ("hotload".to_string(), true),
            _ => (format!("hotload.{stem}"), false),
        };
        let source = src.join(file);
        let code = std::path::Path::new(&out_dir).join(format!("{file}.code"));
        table.push_str(&format!(
            "    ({name:?}, include_str!({source:?}), include_bytes!({code:?}), {is_package}),\n"
        ));
    }
    table.push_str("]\n");
    std::fs::write(std::path::Path::new(&out_dir).join("embedded.rs"), table)
        .expect("OUT_DIR is writable");
}
