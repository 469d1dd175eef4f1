//! How a key is written in its header: bare, or as an RFC 9651 sf-string.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

pub(crate) fn is_printable_ascii(key: &str) -> bool {
    !key.is_empty() && key.bytes().all(|b| (0x20..0x7f).contains(&b))
}

/// How the key is written in the header.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyFormat {
    /// The bare token, as Stripe and most payment APIs send it (the default).
    #[default]
    Plain,
    /// A quoted structured-field string, as the IETF `Idempotency-Key` draft specifies.
    SfString,
}

impl KeyFormat {
    /// The header value for `key`; `None` when `key` is not printable ASCII.
    pub(crate) fn encode(self, key: &str) -> Option<String> {
        if !is_printable_ascii(key) {
            return None;
        }
        Some(match self {
            Self::Plain => key.to_owned(),
            Self::SfString => {
                let mut out = String::with_capacity(key.len() + 2);
                out.push('"');
                for c in key.chars() {
                    if matches!(c, '"' | '\\') {
                        out.push('\\');
                    }
                    out.push(c);
                }
                out.push('"');
                out
            }
        })
    }

    /// The key inside a header value written by a caller: an sf-string is unquoted.
    pub(crate) fn decode(self, value: &str) -> Cow<'_, str> {
        let quoted = value.len() >= 2 && value.starts_with('"') && value.ends_with('"');
        if self == Self::Plain || !quoted {
            return Cow::Borrowed(value);
        }
        let mut out = String::with_capacity(value.len());
        let mut escaped = false;
        for c in value[1..value.len() - 1].chars() {
            if c == '\\' && !escaped {
                escaped = true;
                continue;
            }
            escaped = false;
            out.push(c);
        }
        Cow::Owned(out)
    }
}
