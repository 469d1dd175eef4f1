//! What the admin page can be told: title, page sizes, previews, the CSRF key.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ConfigError;

/// The most letters one page lists, whatever [`AdminConfig::page_size`] says.
pub const MAX_PAGE_SIZE: usize = 500;

/// The fewest bytes a configured [`AdminConfig::secret`] may have.
pub const MIN_SECRET_BYTES: usize = 32;

/// The admin page's configuration.
///
/// ```
/// use std::time::Duration;
/// use steadfast::admin::AdminConfig;
///
/// let config = AdminConfig::default()
///     .title("Billing sync: dead letters")
///     .page_size(25)
///     .token_ttl(Duration::from_secs(3600))
///     .allowed_origin("https://ops.example.com");
/// # let _ = config;
/// ```
#[non_exhaustive]
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// The pages' heading and title. Default `Dead letters`.
    pub title: String,
    /// Letters per page, at most [`MAX_PAGE_SIZE`]. Default 50.
    pub page_size: usize,
    /// The deepest page a listing goes to (a listing reads `page × page_size` letters from
    /// the sink). Default 100.
    pub max_page: usize,
    /// The most bytes of a request or response body a view shows (cut at a character
    /// boundary, marked). Default 2048.
    pub preview_bytes: usize,
    /// How long a form's CSRF token stays valid. Default 4 h.
    #[serde(with = "humantime_serde")]
    pub token_ttl: Duration,
    /// The key CSRF tokens are signed with, at least [`MIN_SECRET_BYTES`] bytes. Set it when
    /// several instances serve the page behind one load balancer (a token one signs, another
    /// accepts). Default: none, a random key per router (tokens die with the process).
    pub secret: Option<String>,
    /// Origins (`https://ops.example.com`) a POST may come from besides the one its `Host`
    /// header names: set it when a proxy rewrites `Host`. Default none.
    pub allowed_origins: Vec<String>,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            title: "Dead letters".to_owned(),
            page_size: 50,
            max_page: 100,
            preview_bytes: 2048,
            token_ttl: Duration::from_secs(4 * 3600),
            secret: None,
            allowed_origins: Vec::new(),
        }
    }
}

impl fmt::Debug for AdminConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminConfig")
            .field("title", &self.title)
            .field("page_size", &self.page_size)
            .field("max_page", &self.max_page)
            .field("preview_bytes", &self.preview_bytes)
            .field("token_ttl", &self.token_ttl)
            .field("secret", &self.secret.as_ref().map(|_| "REDACTED"))
            .field("allowed_origins", &self.allowed_origins)
            .finish()
    }
}

impl AdminConfig {
    /// Sets the pages' heading. Default `Dead letters`.
    #[must_use]
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = title.into();
        self
    }

    /// Sets the letters per page, 1 to [`MAX_PAGE_SIZE`]. Default 50.
    #[must_use]
    pub fn page_size(mut self, page_size: usize) -> Self {
        self.page_size = page_size;
        self
    }

    /// Sets the deepest page a listing goes to. Default 100.
    #[must_use]
    pub fn max_page(mut self, max_page: usize) -> Self {
        self.max_page = max_page;
        self
    }

    /// Sets the most bytes of a body a view shows. Default 2048.
    #[must_use]
    pub fn preview_bytes(mut self, preview_bytes: usize) -> Self {
        self.preview_bytes = preview_bytes;
        self
    }

    /// Sets how long a CSRF token stays valid. Default 4 h.
    #[must_use]
    pub fn token_ttl(mut self, token_ttl: Duration) -> Self {
        self.token_ttl = token_ttl;
        self
    }

    /// Sets the CSRF signing key (at least [`MIN_SECRET_BYTES`] bytes). Default: a random
    /// key per router.
    #[must_use]
    pub fn secret(mut self, secret: impl Into<String>) -> Self {
        self.secret = Some(secret.into());
        self
    }

    /// Also accepts POSTs whose `Origin` (or `Referer`) is `origin`. Default: only the
    /// origin the request's `Host` names.
    #[must_use]
    pub fn allowed_origin(mut self, origin: impl Into<String>) -> Self {
        self.allowed_origins.push(origin.into());
        self
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.page_size == 0 || self.page_size > MAX_PAGE_SIZE {
            return Err(ConfigError::OutOfRange {
                name: "admin.page_size",
                range: "1..=500",
                #[allow(clippy::cast_precision_loss)]
                value: self.page_size as f64,
            });
        }
        if self.max_page == 0 {
            return Err(ConfigError::Invalid {
                name: "admin.max_page",
                value: "0".to_owned(),
            });
        }
        if self.token_ttl.is_zero() {
            return Err(ConfigError::ZeroDuration {
                name: "admin.token_ttl",
            });
        }
        if let Some(secret) = &self.secret
            && secret.len() < MIN_SECRET_BYTES
        {
            // The secret itself never goes into an error.
            return Err(ConfigError::Invalid {
                name: "admin.secret",
                value: format!("{} bytes, fewer than {MIN_SECRET_BYTES}", secret.len()),
            });
        }
        for origin in &self.allowed_origins {
            if super::csrf::authority_of(origin).is_none() {
                return Err(ConfigError::Invalid {
                    name: "admin.allowed_origins",
                    value: origin.clone(),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_config_and_validation() {
        let config: AdminConfig = serde_json::from_str(
            r#"{"page_size": 20, "token_ttl": "30m", "allowed_origins": ["https://ops.example.com"]}"#,
        )
        .expect("valid");
        assert_eq!(config.page_size, 20);
        assert_eq!(config.token_ttl, Duration::from_secs(1800));
        assert!(config.validate().is_ok());
        assert!(serde_json::from_str::<AdminConfig>(r#"{"pagesize": 1}"#).is_err());

        for bad in [
            AdminConfig::default().page_size(0),
            AdminConfig::default().page_size(MAX_PAGE_SIZE + 1),
            AdminConfig::default().max_page(0),
            AdminConfig::default().token_ttl(Duration::ZERO),
            AdminConfig::default().secret("short-secret"),
            AdminConfig::default().allowed_origin("not an origin"),
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
        let error = AdminConfig::default()
            .secret("short-secret")
            .validate()
            .expect_err("short");
        assert!(!error.to_string().contains("short-secret"), "{error}");
        let shown = format!("{:?}", AdminConfig::default().secret("x".repeat(40)));
        assert!(!shown.contains("xxxx"), "{shown}");
    }
}
