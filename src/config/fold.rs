//! Layers and their fold. A layer is what one source says: some keys, each with a value and
//! where it was written. Folding starts from the declared defaults and lets each layer, lowest
//! precedence first, replace the keys it sets (a list replaces a list; nothing is merged).
//! Relative paths are then joined to where they were written, once, here.

use std::path::Path;

use super::keys::{KEYS, Kind, Val, index};
use super::{Origin, Sourced};

/// One source's settings: (index in `KEYS`, value with origin).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Layer {
    entries: Vec<(usize, Sourced<Val>)>,
}

impl Layer {
    /// Sets `key`; a later set of the same key in the same layer wins.
    pub fn set(&mut self, key: &str, value: Val, origin: Origin) {
        let i = index(key);
        let s = Sourced { value, origin };
        match self.entries.iter_mut().find(|(k, _)| *k == i) {
            Some(e) => e.1 = s,
            None => self.entries.push((i, s)),
        }
    }

    #[allow(dead_code)]
    pub fn get(&self, key: &str) -> Option<&Sourced<Val>> {
        let i = index(key);
        self.entries.iter().find(|(k, _)| *k == i).map(|(_, s)| s)
    }

    #[allow(dead_code)]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Every key's value in declaration order: the defaults overridden by `layers`, given lowest
/// precedence first.
pub fn fold(layers: &[&Layer], cwd: &Path) -> Vec<Sourced<Val>> {
    let mut out: Vec<Sourced<Val>> = KEYS
        .iter()
        .map(|k| Sourced {
            value: (k.default)(),
            origin: Origin::Default,
        })
        .collect();
    for layer in layers {
        for (i, s) in &layer.entries {
            out[*i] = s.clone();
        }
    }
    for (key, s) in KEYS.iter().zip(out.iter_mut()) {
        let base = s.origin.base(cwd);
        let join = |p: &mut String| *p = base.join(&*p).display().to_string();
        match (key.kind, &mut s.value) {
            (Kind::Target, Val::Str(p)) => join(p),
            (Kind::Watch, Val::List(ps)) => ps.iter_mut().for_each(join),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::super::{At, Place, ReloadMode};
    use super::*;

    fn file_origin() -> Origin {
        Origin::File(Place {
            path: PathBuf::from("/proj/hotload.toml"),
            at: At {
                span: 0..1,
                line: 1,
                col: 1,
            },
            items: Vec::new(),
        })
    }

    fn get<'a>(folded: &'a [Sourced<Val>], key: &str) -> &'a Sourced<Val> {
        &folded[index(key)]
    }

    #[test]
    fn defaults_when_no_layer_sets_a_key() {
        let folded = fold(&[], Path::new("/cwd"));
        assert_eq!(folded.len(), KEYS.len());
        assert_eq!(
            get(&folded, "ext"),
            &Sourced {
                value: Val::List(vec!["py".into()]),
                origin: Origin::Default
            }
        );
        assert_eq!(get(&folded, "target").value, Val::Unset);
        assert_eq!(
            get(&folded, "reload").value,
            Val::Reload(ReloadMode::Changed)
        );
        assert_eq!(get(&folded, "data-files").value, Val::Bool(true));
    }

    #[test]
    fn higher_layers_win_key_by_key_and_keep_their_origin() {
        let mut file = Layer::default();
        file.set("post", Val::Str("a:file".into()), file_origin());
        file.set("args", Val::List(vec!["f".into()]), file_origin());
        file.set("poll", Val::Ms(Some(300)), file_origin());
        let mut env = Layer::default();
        env.set(
            "post",
            Val::Str("a:env".into()),
            Origin::Env("HOTLOAD_POST"),
        );
        env.set("poll", Val::Ms(None), Origin::Env("HOTLOAD_POLL"));
        let mut cli = Layer::default();
        cli.set("post", Val::Str("a:cli".into()), Origin::Cli("--post"));
        let folded = fold(&[&file, &env, &cli], Path::new("/cwd"));
        assert_eq!(
            get(&folded, "post"),
            &Sourced {
                value: Val::Str("a:cli".into()),
                origin: Origin::Cli("--post")
            }
        );
        // Not on the command line: the environment's, even when it says "off".
        assert_eq!(
            get(&folded, "poll"),
            &Sourced {
                value: Val::Ms(None),
                origin: Origin::Env("HOTLOAD_POLL")
            }
        );
        // Only in the file.
        assert_eq!(get(&folded, "args").origin, file_origin());
        // In no layer.
        assert_eq!(get(&folded, "pre").origin, Origin::Default);
    }

    #[test]
    fn lists_replace_lower_lists() {
        let mut file = Layer::default();
        file.set("ext", Val::List(vec!["toml".into()]), file_origin());
        let mut env = Layer::default();
        env.set(
            "ext",
            Val::List(vec!["txt".into()]),
            Origin::Env("HOTLOAD_EXT"),
        );
        let folded = fold(&[&file, &env], Path::new("/cwd"));
        assert_eq!(get(&folded, "ext").value, Val::List(vec!["txt".into()]));
    }

    #[test]
    fn a_later_set_in_the_same_layer_wins() {
        let mut env = Layer::default();
        env.set("clear", Val::Bool(true), Origin::Env("HOTLOAD_CLEAR"));
        env.set("clear", Val::Bool(false), Origin::Env("HOTLOAD_NO_CLEAR"));
        let folded = fold(&[&env], Path::new("/cwd"));
        assert_eq!(
            get(&folded, "clear"),
            &Sourced {
                value: Val::Bool(false),
                origin: Origin::Env("HOTLOAD_NO_CLEAR")
            }
        );
    }

    #[test]
    fn paths_are_relative_to_where_they_were_written() {
        let mut file = Layer::default();
        file.set("target", Val::Str("app/main.py".into()), file_origin());
        file.set("watch", Val::List(vec!["src".into()]), file_origin());
        file.set("ignore", Val::List(vec!["data/**".into()]), file_origin());
        let folded = fold(&[&file], Path::new("/cwd"));
        assert_eq!(
            get(&folded, "target").value,
            Val::Str("/proj/app/main.py".into())
        );
        assert_eq!(
            get(&folded, "watch").value,
            Val::List(vec!["/proj/src".into()])
        );
        // Ignore globs stay as written (anchored later, at the same base).
        assert_eq!(
            get(&folded, "ignore").value,
            Val::List(vec!["data/**".into()])
        );
        let mut cli = Layer::default();
        cli.set("watch", Val::List(vec!["w".into()]), Origin::Cli("--watch"));
        let folded = fold(&[&file, &cli], Path::new("/cwd"));
        assert_eq!(
            get(&folded, "watch").value,
            Val::List(vec!["/cwd/w".into()])
        );
        assert_eq!(
            get(&folded, "target").value,
            Val::Str("/proj/app/main.py".into())
        );
    }
}
