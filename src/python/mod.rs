//! Python: starting the embedded interpreter (the binary only) and the bridge, the one typed
//! boundary to the Python side (`python/hotload/_host.py`).

pub mod bridge;
pub mod interpreter;
