//! JSON pointers (RFC 6901) as the places of fields: parsed patterns and rendered paths.

use std::fmt::Write as _;

/// One step into a record while comparing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// A configured pointer: `/lines/*/synced_at`; `*` matches any one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pointer {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Any,
    Name(String),
}

impl Pointer {
    /// Parses `text`; `None` unless it is empty (the whole record) or starts with `/`.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        if text.is_empty() {
            return Some(Self { parts: Vec::new() });
        }
        let rest = text.strip_prefix('/')?;
        let parts = rest
            .split('/')
            .map(|raw| {
                if raw == "*" {
                    Part::Any
                } else {
                    Part::Name(raw.replace("~1", "/").replace("~0", "~"))
                }
            })
            .collect();
        Some(Self { parts })
    }

    /// Whether this pointer names `path` itself.
    pub(crate) fn matches(&self, path: &[Step<'_>]) -> bool {
        self.parts.len() == path.len() && self.covers(path)
    }

    /// Whether `path` is this pointer or lies under it.
    pub(crate) fn covers(&self, path: &[Step<'_>]) -> bool {
        self.parts.len() <= path.len()
            && self
                .parts
                .iter()
                .zip(path)
                .all(|(part, step)| match (part, step) {
                    (Part::Any, _) => true,
                    (Part::Name(name), Step::Key(key)) => name == key,
                    (Part::Name(name), Step::Index(index)) => {
                        name.parse::<usize>().ok() == Some(*index)
                    }
                })
    }
}

/// Renders `path` as a JSON pointer (`/lines/0/price`, `~1` for a `/` in a key).
pub(crate) fn render(path: &[Step<'_>]) -> String {
    let mut out = String::new();
    for step in path {
        out.push('/');
        match step {
            Step::Key(key) => {
                for c in key.chars() {
                    match c {
                        '~' => out.push_str("~0"),
                        '/' => out.push_str("~1"),
                        c => out.push(c),
                    }
                }
            }
            Step::Index(index) => {
                let _ = write!(out, "{index}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_and_cover() {
        let path = [Step::Key("lines"), Step::Index(2), Step::Key("a/b")];
        let cases = [
            ("/lines/2/a~1b", true, true),
            ("/lines/*/a~1b", true, true),
            ("/lines", false, true),
            ("", false, true),
            ("/lines/3", false, false),
            ("/lines/2/a~1b/c", false, false),
            ("/other", false, false),
        ];
        for (text, matches, covers) in cases {
            let pointer = Pointer::parse(text).expect("valid pointer");
            assert_eq!(pointer.matches(&path), matches, "{text}");
            assert_eq!(pointer.covers(&path), covers, "{text}");
        }
        assert_eq!(render(&path), "/lines/2/a~1b");
        assert_eq!(Pointer::parse("lines"), None);
    }
}
