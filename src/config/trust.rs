//! Trust for shell commands from a config file, as direnv and mise do it: the `run` steps of a
//! discovered config run only once the user has said `hotload-host trust` for that file and
//! those commands. A record is the file's path and a SHA-256 of its `run` commands, one line
//! each in `$XDG_STATE_HOME/hotload-host/trusted` (or `~/.local/state/hotload-host/trusted`),
//! mode 0600. Editing anything else in the file keeps it trusted; changing a command does not.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::text::shown;

/// Where trust records are kept.
pub fn store() -> Result<PathBuf, String> {
    let var = |n: &str| {
        std::env::var_os(n)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    let state = var("XDG_STATE_HOME")
        .or_else(|| var("HOME").map(|h| h.join(".local/state")))
        .ok_or("cannot find a state directory for trust records: set HOME or XDG_STATE_HOME")?;
    Ok(state.join("hotload-host").join("trusted"))
}

/// The record's hash of a list of commands.
pub fn fingerprint(commands: &[&str]) -> String {
    let mut h = Sha256::new();
    h.update(b"hotload-host run steps v1\0");
    for c in commands {
        h.update(c.as_bytes());
        h.update(b"\0");
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn records(store: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(store)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(h, p)| (h.to_string(), p.to_string()))
        .collect()
}

fn key(path: &Path) -> Result<String, String> {
    let p = path.display().to_string();
    if p.contains(['\n', '\t']) {
        return Err(format!(
            "cannot record trust for {}: its path has a tab or newline",
            shown(&p)
        ));
    }
    Ok(p)
}

pub fn is_trusted(path: &Path, commands: &[&str]) -> bool {
    let (Ok(store), Ok(path)) = (store(), key(path)) else {
        return false;
    };
    let fp = fingerprint(commands);
    records(&store).iter().any(|(h, p)| *p == path && *h == fp)
}

/// Records `path` with these commands (replacing an older record of the same file). Returns
/// the store's path.
pub fn record(path: &Path, commands: &[&str]) -> Result<PathBuf, String> {
    let store = store()?;
    let path = key(path)?;
    let dir = store.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut text: String = records(&store)
        .into_iter()
        .filter(|(_, p)| *p != path)
        .map(|(h, p)| format!("{h}\t{p}\n"))
        .collect();
    text.push_str(&format!("{}\t{path}\n", fingerprint(commands)));
    // Written whole and renamed into place: a reader never sees half a file.
    let tmp = dir.join(format!(".trusted.{}.tmp", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, &store)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot write {}: {e}", store.display())
    })?;
    Ok(store)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_is_sha256_of_the_commands_in_order() {
        assert_eq!(fingerprint(&["a", "b"]), fingerprint(&["a", "b"]));
        assert_ne!(fingerprint(&["a", "b"]), fingerprint(&["b", "a"]));
        assert_ne!(fingerprint(&["ab"]), fingerprint(&["a", "b"]));
        assert_eq!(fingerprint(&[]).len(), 64);
        // SHA-256 itself, on a known vector.
        let h: String = Sha256::digest(b"abc")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            h,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
