//! `Redactor`: the one redactor, built from a `RedactConfig`.

use std::fmt;
use std::sync::{Arc, LazyLock};

use reqwest::Url;
use reqwest::header::{HeaderMap, HeaderName};

use super::config::RedactConfig;
use super::headers::RedactedHeaders;
use super::json::JsonRedactor;
use super::names::{
    DEFAULT_SENSITIVE_QUERY_PARAMS, is_listed_header, is_sensitive_compound, name_or_plural_matches,
};
use super::path::{DEFAULT_PATH_TEMPLATES, PathTemplate};
use super::process;
use super::url::RedactedUrl;
use crate::error::ConfigError;

/// Masks secrets in URLs, headers, query strings, JSON and text bodies.
///
/// Built from a [`RedactConfig`]; the defaults need no configuration
/// (`Redactor::default()`). Nothing is rendered until a result is formatted, so a
/// redacted URL handed to a disabled `tracing` field costs nothing.
///
/// # Clone
///
/// Clones share one set of names behind an `Arc`.
///
/// # Example
///
/// ```
/// use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
/// use steadfast::redact::Redactor;
///
/// let redactor = Redactor::default();
/// let mut headers = HeaderMap::new();
/// headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer s3cr3t"));
/// headers.insert("accept", HeaderValue::from_static("application/json"));
/// assert_eq!(
///     redactor.headers(&headers).to_string(),
///     r#"{"authorization": "[redacted]", "accept": "application/json"}"#
/// );
/// assert_eq!(
///     redactor.body(br#"{"user": "ada", "password": "hunter2"}"#, 4096),
///     r#"{"password":"[redacted]","user":"ada"}"#
/// );
/// ```
#[derive(Clone)]
pub struct Redactor {
    inner: Arc<Names>,
}

struct Names {
    headers: Vec<HeaderName>,
    query_params: Vec<String>,
    json: JsonRedactor,
    paths: Vec<PathTemplate>,
}

static DEFAULT_REDACTOR: LazyLock<Redactor> = LazyLock::new(|| Redactor {
    inner: Arc::new(Names {
        headers: Vec::new(),
        query_params: Vec::new(),
        json: JsonRedactor::new(),
        paths: Vec::new(),
    }),
});

static DEFAULT_PATHS: LazyLock<Vec<PathTemplate>> = LazyLock::new(|| {
    DEFAULT_PATH_TEMPLATES
        .iter()
        .filter_map(|text| PathTemplate::parse(text).ok())
        .collect()
});

impl Default for Redactor {
    /// The built-in lists only; shares one instance, so it does not allocate.
    fn default() -> Self {
        DEFAULT_REDACTOR.clone()
    }
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("extra_headers", &self.inner.headers)
            .field("extra_query_params", &self.inner.query_params)
            .field("json", &self.inner.json)
            .field("extra_paths", &self.inner.paths)
            .finish()
    }
}

impl Redactor {
    /// A redactor masking the built-in names and path templates plus those of `config`.
    ///
    /// The JSON field names of `config` are also added to a process-wide set that every
    /// redactor masks, [`JsonRedactor::DEFAULT`] and `Redactor::default()` included: the
    /// [`mapper`](crate::mapper)'s errors have no client or log layer at hand, and masking
    /// a name too many costs less than missing one. The set only grows.
    ///
    /// # Errors
    ///
    /// [`ConfigError::HeaderName`] when an extra header name is not a valid header name,
    /// [`ConfigError::Invalid`] (`redact.paths`) when a path template is malformed (see
    /// [`RedactConfig::path`]).
    pub fn new(config: &RedactConfig) -> Result<Self, ConfigError> {
        let headers = config
            .headers
            .iter()
            .map(|name| {
                HeaderName::try_from(name.as_str()).map_err(|_| ConfigError::HeaderName {
                    name: "log.redact.headers",
                    value: name.clone(),
                })
            })
            .collect::<Result<_, _>>()?;
        let paths = config
            .paths
            .iter()
            .map(|text| PathTemplate::parse(text))
            .collect::<Result<_, _>>()?;
        let json = config
            .json_fields
            .iter()
            .fold(JsonRedactor::new(), |json, name| json.field(name.as_str()));
        process::register(config.json_fields.iter().map(String::as_str));
        process::register_paths(&paths);
        Ok(Self {
            inner: Arc::new(Names {
                headers,
                query_params: config.query_params.clone(),
                json,
                paths,
            }),
        })
    }

    /// `path` with secret segments masked by the default templates and every template
    /// configured in the process: for an error's message, which has no redactor at hand.
    pub(crate) fn shown_path(path: &str) -> String {
        let mut shown = String::with_capacity(path.len());
        process::with_paths(|registered| {
            let templates = DEFAULT_PATHS.iter().chain(registered);
            // Writing to a `String` cannot fail.
            let _ = super::path::write_path(&mut shown, path, &templates, super::URL_REDACTED);
        });
        shown
    }

    /// The shared default instance, for code that has no redactor at hand.
    pub(crate) fn shared_default() -> &'static Self {
        &DEFAULT_REDACTOR
    }

    /// The JSON part: the built-in field names plus the configured ones.
    #[must_use]
    pub fn json(&self) -> &JsonRedactor {
        &self.inner.json
    }

    /// Returns `true` when the header called `name` is masked whatever its value.
    ///
    /// [`headers`](Self::headers) also masks any value reqwest marked sensitive.
    #[must_use]
    pub fn is_sensitive_header(&self, name: &HeaderName) -> bool {
        is_listed_header(name.as_str(), self.extra_headers())
            || self.json().is_sensitive(name.as_str())
    }

    /// Returns `true` when the value of the query parameter `name` (already
    /// percent-decoded) is masked: bracket and dotted forms (`user[password]`, `token[]`,
    /// `card[number]`, `user.password`) included.
    #[must_use]
    pub fn is_sensitive_query_param(&self, name: &str) -> bool {
        is_sensitive_compound(name, |part| self.is_sensitive_query_name(part))
    }

    /// Returns `true` when `path` has a segment that a path template masks.
    #[must_use]
    pub fn is_sensitive_path(&self, path: &str) -> bool {
        let mut shown = String::new();
        super::path::write_path(
            &mut shown,
            path,
            &self.path_templates(),
            super::URL_REDACTED,
        )
        .is_ok()
            && shown != path
    }

    fn is_sensitive_query_name(&self, name: &str) -> bool {
        DEFAULT_SENSITIVE_QUERY_PARAMS
            .iter()
            .copied()
            .chain(self.inner.query_params.iter().map(String::as_str))
            .any(|pattern| name_or_plural_matches(name, pattern))
            || self.json().is_sensitive(name)
    }

    /// Whether `name` is sensitive in any role: text bodies may hold headers, form fields or
    /// JSON, so the scrubber masks the union.
    pub(crate) fn is_sensitive_text_name(&self, name: &str) -> bool {
        self.is_sensitive_query_name(name) || is_listed_header(name, self.extra_headers())
    }

    pub(crate) fn extra_headers(&self) -> impl Iterator<Item = &str> + '_ {
        self.inner.headers.iter().map(HeaderName::as_str)
    }

    pub(crate) fn path_templates(&self) -> impl Iterator<Item = &PathTemplate> + Clone + '_ {
        DEFAULT_PATHS.iter().chain(&self.inner.paths)
    }

    /// `url` without userinfo, fragment, secret path segments or sensitive query values,
    /// for `url.full`.
    ///
    /// ```
    /// use steadfast::redact::Redactor;
    ///
    /// let url = "http://127.0.0.1:8080/orders?token=abc&status=open#frag".parse()?;
    /// assert_eq!(
    ///     Redactor::default().url(&url).to_string(),
    ///     "http://127.0.0.1:8080/orders?token=REDACTED&status=open"
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn url<'a>(&'a self, url: &'a Url) -> RedactedUrl<'a> {
        RedactedUrl {
            redactor: self,
            url,
        }
    }

    /// `headers` as `{"name": "value", …}` with sensitive values masked and the others
    /// scrubbed (see [`header_value`](Self::header_value)).
    #[must_use]
    pub fn headers<'a>(&'a self, headers: &'a HeaderMap) -> RedactedHeaders<'a> {
        RedactedHeaders {
            redactor: self,
            headers,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_extra_header_or_path_is_a_config_error() {
        let error = Redactor::new(&RedactConfig::default().header("bad header"))
            .expect_err("a space is not allowed");
        assert_eq!(
            error,
            ConfigError::HeaderName {
                name: "log.redact.headers",
                value: "bad header".to_owned(),
            }
        );
        let error = Redactor::new(&RedactConfig::default().path("no-slash/{secret}"))
            .expect_err("a template starts with /");
        assert_eq!(
            error,
            ConfigError::Invalid {
                name: "redact.paths",
                value: "no-slash/{secret}".to_owned(),
            }
        );
    }

    #[test]
    fn every_default_path_template_parses() {
        assert_eq!(DEFAULT_PATHS.len(), DEFAULT_PATH_TEMPLATES.len());
    }

    #[test]
    fn sensitive_paths_and_query_names() {
        let redactor = Redactor::default();
        assert!(redactor.is_sensitive_path("/bot1:A/getMe"));
        assert!(!redactor.is_sensitive_path("/orders/1"));
        for (name, expected) in [
            ("user[password]", true),
            ("token[]", true),
            ("Code", true),
            ("user[name]", false),
            ("page", false),
        ] {
            assert_eq!(redactor.is_sensitive_query_param(name), expected, "{name}");
        }
    }

    #[test]
    fn configured_json_fields_reach_every_redactor_of_the_process() {
        let name = "configured_everywhere_ref";
        assert!(!JsonRedactor::DEFAULT.is_sensitive(name));
        let _ = Redactor::new(&RedactConfig::default().json_field(name)).expect("valid");
        assert!(JsonRedactor::DEFAULT.is_sensitive("configuredEverywhereRef"));
        assert!(Redactor::default().json().is_sensitive(name));
        assert!(crate::redact::is_sensitive_field(name));
    }
}
