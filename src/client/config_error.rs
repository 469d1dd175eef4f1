//! Why a configuration could not be loaded, naming the file and key or the variable.

use std::fmt;
use std::path::PathBuf;

use crate::error::ConfigError;

/// A configuration file, environment variable or profile that could not be used.
///
/// Every variant names where the problem is: the file and the key in it, or the
/// environment variable. Values are never repeated in the message (a variable may hold a
/// secret).
///
/// # Example
///
/// ```
/// use steadfast::{ClientConfig, LoadError};
///
/// let vars = [("STEADFAST_RETRY__MAX_RETRIES".to_owned(), "many".to_owned())];
/// let error = ClientConfig::from_vars(vars).unwrap_err();
/// assert!(matches!(error, LoadError::Invalid { .. }));
/// assert!(error.to_string().contains("STEADFAST_RETRY__MAX_RETRIES"));
/// ```
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read configuration file {}: {source}", path.display())]
    #[non_exhaustive]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file's extension is neither `.toml` nor `.json`.
    #[error("configuration file {} is neither .toml nor .json", path.display())]
    #[non_exhaustive]
    UnsupportedFormat {
        /// The file.
        path: PathBuf,
    },
    /// A file does not parse, or a key or value in a file or variable is not accepted:
    /// an unknown key, a wrong type, a malformed duration.
    #[error("{origin}{}: {message}", key.as_deref().map(|k| format!(", key `{k}`")).unwrap_or_default())]
    #[non_exhaustive]
    Invalid {
        /// The file or variable.
        origin: ConfigSource,
        /// The key, dotted (`retry.max_retries`), when the problem is at one.
        key: Option<String>,
        /// What is wrong, without the value.
        message: String,
    },
    /// No profile has this name.
    #[error("no API profile named {name:?}; the configuration has: {}", known.join(", "))]
    #[non_exhaustive]
    UnknownProfile {
        /// The name asked for.
        name: String,
        /// The profiles the configuration has.
        known: Vec<String>,
    },
    /// Every value was read, but together they are not a valid configuration.
    #[error("{}invalid configuration: {source}", profile.as_deref().map(|p| format!("profile {p:?}: ")).unwrap_or_default())]
    #[non_exhaustive]
    Config {
        /// The profile, for a profile's configuration.
        profile: Option<String>,
        /// What is invalid.
        #[source]
        source: ConfigError,
    },
    /// The HTTP transport of [`Client::from_profile`](crate::Client::from_profile) could not
    /// be built.
    #[error("cannot build the HTTP transport: {0}")]
    Transport(#[source] reqwest::Error),
}

impl From<ConfigError> for LoadError {
    fn from(source: ConfigError) -> Self {
        Self::Config {
            profile: None,
            source,
        }
    }
}

/// Where a configuration value came from.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// A configuration file.
    File(PathBuf),
    /// An environment variable (or, from [`ClientConfig::from_vars`](crate::ClientConfig::from_vars),
    /// a variable given as a pair).
    Variable(String),
    /// The environment variables as a whole (a problem no single variable is to blame for).
    Variables,
}

impl fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => write!(f, "configuration file {}", path.display()),
            Self::Variable(name) => write!(f, "environment variable {name}"),
            Self::Variables => f.write_str("environment variables"),
        }
    }
}
