//! Path patterns: `*` is one segment, a last `**` any rest.

use crate::error::ConfigError;

/// A compiled path pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathPattern {
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    One,
    Rest,
}

impl PathPattern {
    pub(crate) fn parse(pattern: &str) -> Result<Self, ConfigError> {
        let invalid = || ConfigError::Invalid {
            name: "chaos rule path",
            value: pattern.to_owned(),
        };
        let Some(rest) = pattern.strip_prefix('/') else {
            return Err(invalid());
        };
        let parts: Vec<&str> = rest.split('/').collect();
        let last = parts.len() - 1;
        let mut segments = Vec::with_capacity(parts.len());
        for (i, part) in parts.into_iter().enumerate() {
            segments.push(match part {
                "**" if i == last => Segment::Rest,
                "*" => Segment::One,
                _ if part.contains('*') => return Err(invalid()),
                _ => Segment::Literal(part.to_owned()),
            });
        }
        Ok(Self { segments })
    }

    /// Whether `path` (a URL's path, from `/`) matches; allocates nothing.
    pub(crate) fn matches(&self, path: &str) -> bool {
        let mut parts = path.strip_prefix('/').unwrap_or(path).split('/');
        for segment in &self.segments {
            match segment {
                Segment::Rest => return true,
                Segment::One => {
                    if parts.next().is_none_or(str::is_empty) {
                        return false;
                    }
                }
                Segment::Literal(literal) => {
                    if parts.next() != Some(literal.as_str()) {
                        return false;
                    }
                }
            }
        }
        parts.next().is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_paths() {
        let table = [
            ("/orders", "/orders", true),
            ("/orders", "/orders/1", false),
            ("/orders", "/order", false),
            ("/orders/*", "/orders/42", true),
            ("/orders/*", "/orders/", false),
            ("/orders/*", "/orders", false),
            ("/orders/*", "/orders/42/lines", false),
            ("/orders/*/lines", "/orders/42/lines", true),
            ("/orders/**", "/orders", true),
            ("/orders/**", "/orders/42/lines/7", true),
            ("/orders/**", "/customers/1", false),
            ("/**", "/anything/at/all", true),
            ("/", "/", true),
        ];
        for (pattern, path, expected) in table {
            let compiled = PathPattern::parse(pattern).expect(pattern);
            assert_eq!(compiled.matches(path), expected, "{pattern} vs {path}");
        }
    }

    #[test]
    fn malformed_patterns_are_refused() {
        for pattern in ["orders", "/orders/**/lines", "/ord*", ""] {
            assert!(PathPattern::parse(pattern).is_err(), "{pattern}");
        }
    }
}
