//! Path templates: which segments of a URL path are secrets (`/bot{secret}/*`).

use std::fmt;

use crate::error::ConfigError;

/// Path templates masked by default: Telegram bot tokens (`/bot<token>/<method>`, and
/// file downloads), Slack incoming webhooks, Discord webhooks and httpbin's auth endpoints.
///
/// The Telegram template masks any first segment that starts with `bot` and is followed by
/// another segment (`/bottles/42` shows as `/botREDACTED/42`): predictable over-masking
/// rather than a guess at what a token looks like.
pub const DEFAULT_PATH_TEMPLATES: &[&str] = &[
    "/bot{secret}/*",
    "/file/bot{secret}/*",
    "/services/*/*/{secret}",
    "/api/webhooks/*/{secret}",
    "/basic-auth/*/{secret}",
    "/hidden-basic-auth/*/{secret}",
    "/digest-auth/*/*/{secret}",
];

const SECRET: &str = "{secret}";

/// One segment of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// `*`: any one segment, shown.
    Any,
    /// Literal text, compared ignoring ASCII case.
    Literal(String),
    /// `prefix{secret}suffix`: a segment with that prefix and suffix and something between
    /// them, which is masked.
    Secret { prefix: String, suffix: String },
}

/// A parsed path template; see [`RedactConfig::path`](super::RedactConfig::path).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct PathTemplate {
    text: String,
    segments: Vec<Segment>,
}

impl fmt::Debug for PathTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.text, f)
    }
}

impl PathTemplate {
    /// Parses `/a/*/{secret}`-style text.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] when the template does not start with `/`, has a segment
    /// with a brace that is not exactly one `{secret}`, or masks nothing.
    pub(crate) fn parse(text: &str) -> Result<Self, ConfigError> {
        let invalid = || ConfigError::Invalid {
            name: "redact.paths",
            value: text.to_owned(),
        };
        let rest = text.strip_prefix('/').ok_or_else(invalid)?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let mut segments = Vec::new();
        for part in rest.split('/') {
            let segment = if part == "*" {
                Segment::Any
            } else if let Some((prefix, suffix)) = part.split_once(SECRET) {
                if prefix.contains(['{', '}', '*']) || suffix.contains(['{', '}', '*']) {
                    return Err(invalid());
                }
                Segment::Secret {
                    prefix: prefix.to_owned(),
                    suffix: suffix.to_owned(),
                }
            } else if part.is_empty() || part.contains(['{', '}', '*']) {
                return Err(invalid());
            } else {
                Segment::Literal(part.to_owned())
            };
            segments.push(segment);
        }
        if !segments.iter().any(|s| matches!(s, Segment::Secret { .. })) {
            return Err(invalid());
        }
        Ok(Self {
            text: text.to_owned(),
            segments,
        })
    }

    /// Whether the template matches the start of `path` (an absolute URL path): the path
    /// has at least as many segments, and each matches.
    fn matches(&self, path: &str) -> bool {
        let mut parts = path.strip_prefix('/').unwrap_or(path).split('/');
        self.segments.iter().all(|segment| {
            parts
                .next()
                .is_some_and(|part| segment_matches(segment, part))
        })
    }
}

fn segment_matches(segment: &Segment, part: &str) -> bool {
    match segment {
        Segment::Any => true,
        Segment::Literal(literal) => literal.eq_ignore_ascii_case(part),
        Segment::Secret { prefix, suffix } => {
            part.len() > prefix.len() + suffix.len()
                && starts_with_ignore_case(part, prefix)
                && ends_with_ignore_case(part, suffix)
        }
    }
}

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.as_bytes()
        .get(..prefix.len())
        .is_some_and(|start| start.eq_ignore_ascii_case(prefix.as_bytes()))
}

fn ends_with_ignore_case(s: &str, suffix: &str) -> bool {
    s.len() >= suffix.len()
        && s.as_bytes()[s.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
}

/// Writes `path` with every segment that a template in `templates` marks as secret
/// replaced by its prefix, `mask` and its suffix.
pub(crate) fn write_path<'t, I>(
    f: &mut dyn fmt::Write,
    path: &str,
    templates: &I,
    mask: &str,
) -> fmt::Result
where
    I: Iterator<Item = &'t PathTemplate> + Clone,
{
    if !templates.clone().any(|t| t.matches(path)) {
        return f.write_str(path);
    }
    let body = path.strip_prefix('/').unwrap_or(path);
    if path.starts_with('/') {
        f.write_char('/')?;
    }
    for (i, part) in body.split('/').enumerate() {
        if i > 0 {
            f.write_char('/')?;
        }
        let secret =
            templates
                .clone()
                .filter(|t| t.matches(path))
                .find_map(|t| match t.segments.get(i) {
                    Some(Segment::Secret { prefix, suffix }) => Some((prefix.len(), suffix.len())),
                    _ => None,
                });
        match secret {
            Some((prefix, suffix)) => {
                f.write_str(&part[..prefix])?;
                f.write_str(mask)?;
                f.write_str(&part[part.len() - suffix..])?;
            }
            None => f.write_str(part)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(path: &str, templates: &[&str]) -> String {
        let templates: Vec<PathTemplate> = templates
            .iter()
            .map(|t| PathTemplate::parse(t).expect("valid template"))
            .collect();
        let mut out = String::new();
        write_path(&mut out, path, &templates.iter(), "REDACTED").expect("a string never fails");
        out
    }

    #[test]
    fn default_templates_mask_well_known_token_paths() {
        let table: &[(&str, &str)] = &[
            (
                "/bot123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage",
                "/botREDACTED/sendMessage",
            ),
            (
                "/file/bot123:AB/photos/1.jpg",
                "/file/botREDACTED/photos/1.jpg",
            ),
            (
                "/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX",
                "/services/T000/B000/REDACTED",
            ),
            ("/api/webhooks/42/abcDEF", "/api/webhooks/42/REDACTED"),
            ("/basic-auth/ada/hunter2", "/basic-auth/ada/REDACTED"),
            (
                "/hidden-basic-auth/ada/hunter2",
                "/hidden-basic-auth/ada/REDACTED",
            ),
            (
                "/digest-auth/auth/ada/hunter2",
                "/digest-auth/auth/ada/REDACTED",
            ),
            (
                "/BASIC-AUTH/ada/hunter2/extra",
                "/BASIC-AUTH/ada/REDACTED/extra",
            ),
            // Not matched: too short, another literal, nothing after the prefix.
            ("/bot123:AB", "/bot123:AB"),
            ("/basic-auth/ada", "/basic-auth/ada"),
            ("/services/T000", "/services/T000"),
            ("/bot/sendMessage", "/bot/sendMessage"),
            ("/orders/42", "/orders/42"),
            ("/", "/"),
            ("", ""),
        ];
        for (path, expected) in table {
            assert_eq!(shown(path, DEFAULT_PATH_TEMPLATES), *expected, "{path}");
        }
    }

    #[test]
    fn prefixes_suffixes_and_several_templates() {
        let templates = ["/keys/{secret}.json", "/v1/*/{secret}", "/v1/{secret}/x"];
        let table: &[(&str, &str)] = &[
            ("/keys/abc.json", "/keys/REDACTED.json"),
            ("/keys/.json", "/keys/.json"),
            ("/v1/a/x", "/v1/REDACTED/REDACTED"),
            ("/v1/a/b", "/v1/a/REDACTED"),
        ];
        for (path, expected) in table {
            assert_eq!(shown(path, &templates), *expected, "{path}");
        }
    }

    #[test]
    fn invalid_templates_are_config_errors() {
        for text in [
            "",
            "bot{secret}",
            "/a/b",
            "/{secret}{secret}",
            "/a{b}/{secret}",
            "/a//{secret}",
            "/x*/{secret}",
        ] {
            assert_eq!(
                PathTemplate::parse(text),
                Err(ConfigError::Invalid {
                    name: "redact.paths",
                    value: text.to_owned()
                }),
                "{text:?}"
            );
        }
        assert_eq!(
            PathTemplate::parse("/bot{secret}/*").map(|t| format!("{t:?}")),
            Ok("\"/bot{secret}/*\"".to_owned())
        );
    }
}
