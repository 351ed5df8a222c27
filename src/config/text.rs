//! Small text rules shared by every source: identifiers, `module:function`, booleans in text,
//! comma lists, "did you mean", and showing user text with its control characters escaped.

/// A value as it appears inside a message: control characters (an escape sequence in a config
/// string) are shown escaped, never sent to the terminal.
pub fn shown(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// A value in double quotes, escaped as TOML would write it back (`--print-config`).
pub fn quoted(s: &str) -> String {
    format!("{s:?}")
}

pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}

pub fn is_dotted(s: &str) -> bool {
    s.split('.').all(is_identifier)
}

/// `module:function` with a dotted module name and an identifier.
pub fn check_callable_syntax(s: &str) -> Result<(), String> {
    match s.split_once(':') {
        Some((m, f)) if is_dotted(m) && is_identifier(f) => Ok(()),
        _ => Err(format!(
            "`{}` is not of the form \"module:function\" (e.g. \"app.main:run\")",
            shown(s)
        )),
    }
}

pub fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

pub fn split_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// ` (did you mean `x`?)` for a near miss, else "".
pub fn suggest(word: &str, known: &[&str]) -> String {
    known
        .iter()
        .find(|k| distance(word, k) <= 2)
        .map(|k| format!(" (did you mean `{k}`?)"))
        .unwrap_or_default()
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push(
                (prev[j] + usize::from(ca != *cb))
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1),
            );
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(shown("a\u{1b}[31mb\tc"), "a\\u{1b}[31mb\\tc");
        assert_eq!(shown("démo"), "démo");
        assert_eq!(quoted("x\u{1b}"), "\"x\\u{1b}\"");
    }

    #[test]
    fn callables_and_identifiers() {
        assert!(check_callable_syntax("app.main:run").is_ok());
        assert!(check_callable_syntax("app.main.run").is_err());
        assert!(check_callable_syntax(":run").is_err());
        assert!(!is_identifier("1bad"));
        assert!(!is_identifier(""));
        assert!(is_identifier("_ok1"));
    }
}
