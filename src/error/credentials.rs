//! Credentials that could not be obtained: nothing was sent.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use reqwest::StatusCode;

use super::BoxError;

/// Why a credentials provider had nothing to apply to an attempt; the attempt was not sent.
///
/// No variant shows a secret: a variable's or a file's name, a status and an OAuth 2.0
/// `error` code are shown, values never.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// The environment variable is not set (or not Unicode).
    #[error("environment variable {var} is not set")]
    #[non_exhaustive]
    EnvMissing {
        /// The variable's name.
        var: String,
    },
    /// The credential file could not be read.
    #[error("credential file {} could not be read", .path.display())]
    #[non_exhaustive]
    File {
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// The credential file holds more than the configured number of bytes.
    #[error("credential file {} is larger than {limit} bytes", .path.display())]
    #[non_exhaustive]
    FileTooLarge {
        /// The file.
        path: PathBuf,
        /// The configured limit.
        limit: u64,
    },
    /// The source gave an empty value, or one that cannot be sent in a header or query
    /// (control characters); `what` names the source, never the value.
    #[error("{what} holds no usable credential (empty, or not a valid header value)")]
    #[non_exhaustive]
    Invalid {
        /// The source: a variable's or file's name, "token endpoint", "custom source".
        what: String,
    },
    /// The OAuth 2.0 token endpoint answered with an error status.
    #[error("token endpoint answered {status}{}", .error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default())]
    #[non_exhaustive]
    TokenRejected {
        /// The status it answered.
        status: StatusCode,
        /// Its RFC 6749 `error` code (such as `invalid_client`), when it gave a plain one.
        error: Option<String>,
    },
    /// The OAuth 2.0 token endpoint could not be reached, or broke off its answer.
    #[error("token endpoint unreachable")]
    #[non_exhaustive]
    TokenUnreachable {
        /// What failed (reqwest's URL stripped).
        #[source]
        source: BoxError,
    },
    /// The OAuth 2.0 token endpoint did not answer within the limit.
    #[error("token endpoint did not answer within {limit:?}")]
    #[non_exhaustive]
    TokenTimeout {
        /// The limit.
        limit: Duration,
    },
    /// The OAuth 2.0 token response is not one this client can use: not JSON, larger than
    /// the limit, no `access_token`, or a `token_type` other than `Bearer`.
    #[error("token response unusable: {reason}")]
    #[non_exhaustive]
    TokenResponse {
        /// What was wrong with it (never its content).
        reason: &'static str,
    },
    /// The token request this attempt waited for, made by another caller, failed: its
    /// message, and whether it was transient.
    #[error("the token request this attempt waited for failed: {reason}")]
    #[non_exhaustive]
    TokenShared {
        /// The other caller's error, as shown (it shows no secret).
        reason: String,
        /// Whether that error was transient.
        transient: bool,
    },
    /// A custom source failed.
    #[error("custom credentials source failed")]
    Source(#[source] BoxError),
}

impl CredentialsError {
    /// Whether a later attempt may succeed without anyone acting: the token endpoint was
    /// down, slow, busy or answered 5xx, a file could not be read (a mount not there yet),
    /// or a custom source failed. An unset variable, an invalid value and a token request
    /// the endpoint rejected (bad client id or secret) need a person.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            Self::File { .. }
            | Self::TokenUnreachable { .. }
            | Self::TokenTimeout { .. }
            | Self::Source(_) => true,
            Self::TokenShared { transient, .. } => *transient,
            Self::TokenRejected { status, .. } => {
                status.is_server_error() || *status == StatusCode::TOO_MANY_REQUESTS
            }
            Self::EnvMissing { .. }
            | Self::FileTooLarge { .. }
            | Self::Invalid { .. }
            | Self::TokenResponse { .. } => false,
        }
    }
}
