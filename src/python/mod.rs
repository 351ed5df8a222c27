//! Python: starting the embedded interpreter (the binary only) and the bridge, the one typed
//! boundary to the Python side (`python/hotload/_host.py`).

pub mod bridge;
mod compile;
/// Starting CPython ourselves: only the embedding binary does (build.rs sets the cfg); the
/// extension module runs inside an interpreter that is already there.
#[cfg(hotload_embed)]
pub mod interpreter;
