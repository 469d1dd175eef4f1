//! `RedactConfig`: the names and path templates a user adds to the built-in ones.

use serde::{Deserialize, Serialize};

/// Extra names and path templates to mask, on top of the built-in lists;
/// `serde`-deserializable.
///
/// ```
/// let config: steadfast::redact::RedactConfig = serde_json::from_str(
///     r#"{ "headers": ["X-Partner-Pin"], "query_params": ["session"], "json_fields": ["iban"],
///          "paths": ["/hooks/{secret}"] }"#,
/// )?;
/// assert_eq!(config.headers, ["X-Partner-Pin"]);
/// assert_eq!(config.paths, ["/hooks/{secret}"]);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedactConfig {
    /// Header names masked besides [`DEFAULT_SENSITIVE_HEADERS`](super::DEFAULT_SENSITIVE_HEADERS).
    /// Default none.
    pub headers: Vec<String>,
    /// Query parameter names masked besides
    /// [`DEFAULT_SENSITIVE_QUERY_PARAMS`](super::DEFAULT_SENSITIVE_QUERY_PARAMS). Default none.
    pub query_params: Vec<String>,
    /// JSON field names masked besides [`DEFAULT_SENSITIVE_FIELDS`](super::DEFAULT_SENSITIVE_FIELDS),
    /// by every redactor of the process once a [`Redactor`](super::Redactor) is built from
    /// this configuration. Default none.
    pub json_fields: Vec<String>,
    /// URL path templates besides [`DEFAULT_PATH_TEMPLATES`](super::DEFAULT_PATH_TEMPLATES);
    /// see [`path`](Self::path). Default none.
    pub paths: Vec<String>,
}

impl RedactConfig {
    /// Also masks the header `name` (any case). Default: only
    /// [`DEFAULT_SENSITIVE_HEADERS`](super::DEFAULT_SENSITIVE_HEADERS).
    #[must_use]
    pub fn header(mut self, name: impl Into<String>) -> Self {
        self.headers.push(name.into());
        self
    }

    /// Also masks the query parameter `name`. Default: only
    /// [`DEFAULT_SENSITIVE_QUERY_PARAMS`](super::DEFAULT_SENSITIVE_QUERY_PARAMS) and the
    /// field names.
    #[must_use]
    pub fn query_param(mut self, name: impl Into<String>) -> Self {
        self.query_params.push(name.into());
        self
    }

    /// Also masks JSON fields called `name`, in this redactor and (so that the
    /// [`mapper`](crate::mapper)'s errors mask it too) in every redactor of the process.
    /// Default: only [`DEFAULT_SENSITIVE_FIELDS`](super::DEFAULT_SENSITIVE_FIELDS).
    #[must_use]
    pub fn json_field(mut self, name: impl Into<String>) -> Self {
        self.json_fields.push(name.into());
        self
    }

    /// Also masks the URL path segments that `template` marks with `{secret}`. Default:
    /// only [`DEFAULT_PATH_TEMPLATES`](super::DEFAULT_PATH_TEMPLATES).
    ///
    /// A template starts with `/` and matches the start of a path segment by segment: `*`
    /// matches any one segment, other text matches itself (ignoring ASCII case), and one
    /// `{secret}` per segment, with optional text before and after it
    /// (`bot{secret}`, `{secret}.json`), matches a segment that is then shown as
    /// `REDACTED`. A path may have more segments than the template.
    ///
    /// ```
    /// use steadfast::redact::{RedactConfig, Redactor};
    ///
    /// let redactor = Redactor::new(&RedactConfig::default().path("/v1/hooks/*/{secret}"))?;
    /// let url = "https://hooks.example.com/v1/hooks/42/abcdef/trigger".parse()?;
    /// assert_eq!(
    ///     redactor.url(&url).to_string(),
    ///     "https://hooks.example.com/v1/hooks/42/REDACTED/trigger"
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn path(mut self, template: impl Into<String>) -> Self {
        self.paths.push(template.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_config() {
        let config: RedactConfig = serde_json::from_str(
            r#"{"headers": ["x-a"], "json_fields": ["iban"], "paths": ["/k/{secret}"]}"#,
        )
        .expect("valid");
        assert_eq!(
            config,
            RedactConfig::default()
                .header("x-a")
                .json_field("iban")
                .path("/k/{secret}")
        );
        assert!(serde_json::from_str::<RedactConfig>(r#"{"header": []}"#).is_err());
    }
}
