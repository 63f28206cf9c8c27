//! The config file's syntax, as CherryPy's reader (Python's
//! `configparser`, then `eval` of each value) sees it: lines, section
//! headers, `key: value` / `key = value` entries, and the Python literals
//! a value may be. Knows nothing of what a key means ([`super::keys`]).

use std::fmt;

/// A section of the file: `[global]` (`None`) or a path (`Some("/static")`).
pub(super) type Section = Option<String>;

/// How a section is named in messages: `[global]`, `[/static]`.
pub(super) fn section_name(section: &Section) -> String {
    match section {
        None => "[global]".to_owned(),
        Some(path) => format!("[{path}]"),
    }
}

/// One line of the file that says something (blank lines and whole-line
/// comments, `#` or `;`, say nothing).
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Token<'a> {
    /// `[global]` or `[/path]`.
    Section(Section),
    /// `key: value` or `key = value`, both trimmed; the value is still
    /// Python text ([`parse_literal`] evaluates it).
    Entry { key: &'a str, value: &'a str },
}

/// The tokens of `text`, each with its 1-based line number, or why the line
/// is not one.
pub(super) fn tokens(text: &str) -> impl Iterator<Item = (usize, Result<Token<'_>, String>)> {
    text.lines().enumerate().filter_map(|(index, raw)| {
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            return None;
        }
        Some((index + 1, token(trimmed)))
    })
}

/// The token of one trimmed, non-blank, non-comment line.
fn token(line: &str) -> Result<Token<'_>, String> {
    if let Some(name) = line.strip_prefix('[') {
        let Some(name) = name.strip_suffix(']') else {
            return Err(format!("section header {line} has no closing ']'"));
        };
        return section(name.trim()).map(Token::Section);
    }
    let Some(split) = line.find([':', '=']) else {
        return Err(format!(
            "expected 'key: value' or 'key = value', got '{line}'"
        ));
    };
    let (key, value) = line.split_at(split);
    Ok(Token::Entry {
        key: key.trim(),
        value: value.get(1..).unwrap_or_default().trim(),
    })
}

/// The section a header names: `global`, or a path that CherryPy can
/// apply (its dispatcher compares paths without a trailing `/` and without
/// empty segments, so `[/a/]` and `[/a//b]` would never apply).
fn section(name: &str) -> Result<Section, String> {
    match name {
        "global" => Ok(None),
        path if path.len() > 1 && path.ends_with('/') => Err(format!(
            "section [{}] ends with '/': CherryPy compares paths without it and would never apply this section; write [{}]",
            path.escape_debug(),
            path.trim_end_matches('/').escape_debug()
        )),
        path if path.starts_with('/') && path.contains("//") => Err(format!(
            "section [{}] has an empty segment ('//'): CherryPy drops empty segments from request paths and would never apply this section",
            path.escape_debug(),
        )),
        path if path.starts_with('/') => Ok(Some(path.to_owned())),
        other => Err(format!(
            "unknown section [{}]: sections are [global] and URL paths such as [/] or [/static]",
            other.escape_debug()
        )),
    }
}

/// A value as CherryPy's config reader would evaluate it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Literal {
    Str(String),
    Int(i128),
    Bool(bool),
}

impl fmt::Display for Literal {
    /// As Python would write it back: [`parse_literal`] reads it as `self`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Str(text) => f.write_str(&python_str(text)),
            Literal::Int(n) => write!(f, "{n}"),
            Literal::Bool(true) => f.write_str("True"),
            Literal::Bool(false) => f.write_str("False"),
        }
    }
}

/// The Python expression the handout writes for "the working directory".
const CWD_EXPRESSION: &str = "os.path.abspath(os.getcwd())";

/// Evaluates a value the way CherryPy would, for the literals we accept.
pub(super) fn parse_literal(value: &str) -> Result<Literal, String> {
    match value {
        "" => return Err("the value is missing".to_owned()),
        "True" => return Ok(Literal::Bool(true)),
        "False" => return Ok(Literal::Bool(false)),
        _ => {}
    }
    if value.replace(' ', "") == CWD_EXPRESSION {
        let cwd = std::env::current_dir()
            .map_err(|e| format!("cannot read the working directory: {e}"))?;
        return Ok(Literal::Str(cwd.to_string_lossy().into_owned()));
    }
    if let Some(quote) = value.chars().next().filter(|c| *c == '\'' || *c == '"') {
        return parse_string(value, quote).map(Literal::Str);
    }
    if let Some(n) = parse_int(value) {
        return Ok(Literal::Int(n));
    }
    Err(format!(
        "{} is not a Python literal: use a quoted string, an int, True, False or {CWD_EXPRESSION}",
        show(value)
    ))
}

/// A Python decimal int: optional sign, digits, single underscores between
/// digits (`1_048_576`). No leading zeros, as in Python 3.
fn parse_int(value: &str) -> Option<i128> {
    let (negative, digits) = match value.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, value.strip_prefix('+').unwrap_or(value)),
    };
    let bytes = digits.as_bytes();
    if bytes.first().is_none_or(|b| !b.is_ascii_digit())
        || bytes.last().is_none_or(|b| !b.is_ascii_digit())
        || digits.contains("__")
        || !bytes.iter().all(|b| b.is_ascii_digit() || *b == b'_')
    {
        return None;
    }
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    if clean.len() > 1 && clean.starts_with('0') && clean.bytes().any(|b| b != b'0') {
        return None;
    }
    let n: i128 = clean.parse().ok()?;
    Some(if negative { -n } else { n })
}

/// A one-line Python string literal in `quote`s, with the common escapes.
fn parse_string(value: &str, quote: char) -> Result<String, String> {
    let mut chars = value.chars();
    chars.next();
    let mut out = String::new();
    loop {
        match chars.next() {
            None => return Err(format!("string {} has no closing {quote}", show(value))),
            Some(c) if c == quote => break,
            Some('\\') => match chars.next() {
                Some('\\') => out.push('\\'),
                Some('\'') => out.push('\''),
                Some('"') => out.push('"'),
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => {
                    return Err(format!(
                        "string {}: escape \\{other} is not supported",
                        show(value)
                    ));
                }
                None => return Err(format!("string {} has no closing {quote}", show(value))),
            },
            Some(c) => out.push(c),
        }
    }
    let rest = chars.as_str().trim();
    if !rest.is_empty() {
        return Err(format!(
            "unexpected {} after the string (comments go on their own line)",
            show(rest)
        ));
    }
    Ok(out)
}

/// `text` as a one-line Python string literal that [`parse_literal`] reads
/// back as `text`.
pub(super) fn python_str(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// Whether `c` must not reach a terminal as is: a control character
/// (C0, DEL, C1: escape sequences, line breaks, backspaces) or an
/// invisible formatting one (bidi overrides and isolates, zero-width
/// characters, the byte order mark) that makes text read other than it is.
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}'
        )
}

/// `text` with [`is_unsafe_char`] characters escaped (`\u{1b}`).
pub(super) fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if is_unsafe_char(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// A value for an error message: as written if it is quoted already,
/// else in quotes; control characters escaped.
pub(super) fn show(value: &str) -> String {
    let clean = clean(value);
    if clean.starts_with(['\'', '"']) {
        clean
    } else {
        format!("'{clean}'")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals() {
        assert_eq!(parse_literal("'a\\'b'"), Ok(Literal::Str("a'b".into())));
        assert_eq!(parse_literal("\"x\""), Ok(Literal::Str("x".into())));
        assert_eq!(parse_literal("-12"), Ok(Literal::Int(-12)));
        assert_eq!(parse_literal("1_000"), Ok(Literal::Int(1000)));
        assert_eq!(parse_literal("0"), Ok(Literal::Int(0)));
        assert!(parse_literal("012").is_err());
        assert!(parse_literal("1__0").is_err());
        assert!(parse_literal("_1").is_err());
        assert!(parse_literal("1.5").is_err());
        assert!(parse_literal("None").is_err());
        assert!(parse_literal("true").is_err());
        assert!(parse_literal("").is_err());
    }

    #[test]
    fn a_literal_displays_as_python_writes_it() {
        for literal in [
            Literal::Str("a'b\\c\n\t\"".into()),
            Literal::Int(-7),
            Literal::Bool(true),
            Literal::Bool(false),
        ] {
            assert_eq!(parse_literal(&literal.to_string()), Ok(literal));
        }
    }

    #[test]
    fn lines_become_tokens() {
        let text = "# c\n; c\n\n[global]\n a : 1 \nb=c:d\n[ /x ]\nwords\n[/y\n";
        let all: Vec<_> = tokens(text).collect();
        assert_eq!(
            all,
            [
                (4, Ok(Token::Section(None))),
                (
                    5,
                    Ok(Token::Entry {
                        key: "a",
                        value: "1"
                    })
                ),
                (
                    6,
                    Ok(Token::Entry {
                        key: "b",
                        value: "c:d"
                    })
                ),
                (7, Ok(Token::Section(Some("/x".into())))),
                (
                    8,
                    Err("expected 'key: value' or 'key = value', got 'words'".into())
                ),
                (9, Err("section header [/y has no closing ']'".into())),
            ]
        );
    }
}
