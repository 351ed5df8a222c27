//! The environment layer: each declared `HOTLOAD_*` variable, parsed as its key's kind. Empty
//! variables count as unset. Also the text form of a value, shared with the command line.

use super::keys::{Env, KEYS, Key, Kind, ReloadMode, Val};
use super::text::{parse_bool, quoted, split_list};
use super::{Layer, Origin};

pub fn layer(var: impl Fn(&str) -> Option<String>) -> Result<Layer, String> {
    let mut layer = Layer::default();
    for key in KEYS {
        for env in key.env {
            let Some(text) = var(env.name()).filter(|v| !v.is_empty()) else {
                continue;
            };
            let origin = Origin::Env(env.name());
            match env {
                Env::Marker(name, value) => {
                    if text == *name {
                        layer.set(key.name, value(), origin);
                    }
                }
                Env::Value(_) => {
                    let value = if key.kind.is_list() {
                        Val::List(split_list(&text))
                    } else {
                        from_text(key, &text).map_err(|m| origin.error(None, &m))?
                    };
                    layer.set(key.name, value, origin);
                }
            }
        }
    }
    Ok(layer)
}

/// A single (non-list) value written as text: a variable's value or a flag's argument.
pub fn from_text(key: &Key, text: &str) -> Result<Val, String> {
    match key.kind {
        Kind::Bool => parse_bool(text)
            .map(Val::Bool)
            .ok_or_else(|| format!("expected true or false, not {}", quoted(text))),
        // A number is milliseconds (so `0` is refused, not "off"); else true/false if allowed.
        Kind::Millis { on, .. } => match (text.trim().parse::<i64>(), on, parse_bool(text)) {
            (Ok(ms), _, _) => Ok(Val::Ms(Some(ms))),
            (Err(_), Some(_), Some(false)) => Ok(Val::Ms(None)),
            (Err(_), Some(ms), Some(true)) => Ok(Val::Ms(Some(ms))),
            _ => Err(format!(
                "{}, not {}",
                super::check::ms_expected(key),
                quoted(text)
            )),
        },
        Kind::Reload => ReloadMode::parse(text)
            .map(Val::Reload)
            .ok_or_else(|| super::file::reload_expected(text)),
        Kind::Steps => Err(format!("`{}` can only be set in the config file", key.name)),
        _ => Ok(Val::Str(text.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(vars: &[(&str, &str)]) -> Result<Layer, String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        layer(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    #[test]
    fn variables_parse_as_their_kind() {
        let l = from(&[
            ("HOTLOAD_EXT", "py, toml,,"),
            ("HOTLOAD_POLL", "true"),
            ("HOTLOAD_RELOAD", "DEEP"),
            ("HOTLOAD_DEBOUNCE", "30"),
            ("HOTLOAD_MAIN", "yes"),
            ("HOTLOAD_DATA_FILES", "0"),
            ("HOTLOAD_TARGET", ""),
        ])
        .unwrap();
        let v = |k: &str| l.get(k).map(|s| s.value.clone());
        assert_eq!(v("ext"), Some(Val::List(vec!["py".into(), "toml".into()])));
        assert_eq!(v("poll"), Some(Val::Ms(Some(100))));
        assert_eq!(v("reload"), Some(Val::Reload(ReloadMode::Deep)));
        assert_eq!(v("debounce"), Some(Val::Ms(Some(30))));
        assert_eq!(v("main"), Some(Val::Bool(true)));
        assert_eq!(v("data-files"), Some(Val::Bool(false)));
        assert_eq!(v("target"), None, "empty means unset");
    }

    #[test]
    fn markers_count_only_with_their_own_name_as_value() {
        let l = from(&[("HOTLOAD_NO_CLEAR", "1"), ("HOTLOAD_RECURSIVE", "yes")]).unwrap();
        assert!(l.is_empty());
        let l = from(&[
            ("HOTLOAD_NO_CLEAR", "HOTLOAD_NO_CLEAR"),
            ("HOTLOAD_CLEAR", "true"),
            ("HOTLOAD_RECURSIVE", "HOTLOAD_RECURSIVE"),
        ])
        .unwrap();
        let clear = l.get("clear").unwrap();
        assert_eq!(
            (&clear.value, &clear.origin),
            (&Val::Bool(false), &Origin::Env("HOTLOAD_NO_CLEAR"))
        );
        assert_eq!(
            l.get("reload").unwrap().origin,
            Origin::Env("HOTLOAD_RECURSIVE")
        );
        // HOTLOAD_RELOAD, declared after it, is the more specific one.
        let l = from(&[
            ("HOTLOAD_RECURSIVE", "HOTLOAD_RECURSIVE"),
            ("HOTLOAD_RELOAD", "entry"),
        ])
        .unwrap();
        assert_eq!(
            l.get("reload").unwrap().value,
            Val::Reload(ReloadMode::Entry)
        );
    }

    #[test]
    fn bad_values_name_the_variable() {
        let e = from(&[("HOTLOAD_CLEAR", "maybe")]).unwrap_err();
        assert_eq!(
            e,
            "environment HOTLOAD_CLEAR: expected true or false, not \"maybe\""
        );
        let e = from(&[("HOTLOAD_POLL", "fast")]).unwrap_err();
        assert!(
            e.starts_with("environment HOTLOAD_POLL: `poll` is a number of milliseconds"),
            "{e}"
        );
        let e = from(&[("HOTLOAD_RELOAD", "fast")]).unwrap_err();
        assert!(e.contains("not \"fast\""), "{e}");
    }
}
