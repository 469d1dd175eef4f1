//! `Text`: how a string field is cleaned up before use.

/// How to normalise a string field: trim, collapse whitespace, lowercase, and whether an
/// empty result counts as missing.
///
/// Steps run in that order. Presets cover the usual cases; build others from
/// [`Text::AS_IS`].
///
/// ```
/// use steadfast::mapper::Text;
///
/// assert_eq!(Text::EMAIL.normalize("  Ada@Example.COM "), Some("ada@example.com".to_owned()));
/// assert_eq!(Text::COLLAPSED.normalize(" Ada   Lovelace\n"), Some("Ada Lovelace".to_owned()));
/// assert_eq!(Text::TRIMMED.normalize("   "), None);
/// assert_eq!(Text::AS_IS.normalize(""), Some(String::new()));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Text {
    flags: u8,
}

const TRIM: u8 = 1;
const COLLAPSE_WHITESPACE: u8 = 1 << 1;
const LOWERCASE: u8 = 1 << 2;
const EMPTY_AS_MISSING: u8 = 1 << 3;

impl Text {
    /// The string unchanged; an empty string is a value.
    pub const AS_IS: Text = Text { flags: 0 };
    /// Trimmed; empty counts as missing.
    pub const TRIMMED: Text = Text::AS_IS.trim().empty_as_missing();
    /// Trimmed, inner whitespace runs collapsed to one space; empty counts as missing.
    pub const COLLAPSED: Text = Text::TRIMMED.collapse_whitespace();
    /// Trimmed and lowercased; empty counts as missing.
    pub const EMAIL: Text = Text::TRIMMED.lowercase();

    /// Removes leading and trailing whitespace (off by default).
    #[must_use]
    pub const fn trim(self) -> Self {
        self.with(TRIM)
    }

    /// Replaces every run of whitespace with one space and trims (off by default).
    #[must_use]
    pub const fn collapse_whitespace(self) -> Self {
        self.with(COLLAPSE_WHITESPACE)
    }

    /// Lowercases (Unicode-aware; off by default).
    #[must_use]
    pub const fn lowercase(self) -> Self {
        self.with(LOWERCASE)
    }

    /// Treats an empty result as a missing field (off by default).
    #[must_use]
    pub const fn empty_as_missing(self) -> Self {
        self.with(EMPTY_AS_MISSING)
    }

    const fn with(self, flag: u8) -> Self {
        Self {
            flags: self.flags | flag,
        }
    }

    const fn has(self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// Applies the steps to `raw`; `None` when the result is empty and empty counts
    /// as missing.
    #[must_use]
    pub fn normalize(self, raw: &str) -> Option<String> {
        let mut text = if self.has(COLLAPSE_WHITESPACE) {
            raw.split_whitespace().collect::<Vec<_>>().join(" ")
        } else if self.has(TRIM) {
            raw.trim().to_owned()
        } else {
            raw.to_owned()
        };
        if self.has(LOWERCASE) {
            text = text.to_lowercase();
        }
        if text.is_empty() && self.has(EMPTY_AS_MISSING) {
            None
        } else {
            Some(text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes() {
        let table: &[(Text, &str, Option<&str>)] = &[
            (Text::AS_IS, "  a  B ", Some("  a  B ")),
            (Text::AS_IS, "", Some("")),
            (Text::AS_IS.trim(), "  a  B ", Some("a  B")),
            (Text::AS_IS.trim(), "   ", Some("")),
            (Text::TRIMMED, "   ", None),
            (Text::TRIMMED, "\t x \n", Some("x")),
            (Text::COLLAPSED, " a \t\n b  c ", Some("a b c")),
            (Text::COLLAPSED, " \n ", None),
            (Text::EMAIL, " Ada@Example.COM ", Some("ada@example.com")),
            (Text::AS_IS.lowercase(), "ÄÖÜ", Some("äöü")),
            (Text::AS_IS.collapse_whitespace(), "  ", Some("")),
            (Text::AS_IS.empty_as_missing(), " ", Some(" ")),
        ];
        for (text, raw, expected) in table {
            assert_eq!(
                text.normalize(raw).as_deref(),
                *expected,
                "{text:?} on {raw:?}"
            );
        }
    }
}
