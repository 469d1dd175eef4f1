//! Credentials applied per attempt, from sources that rotate without a redeploy.
//!
//! A [`Credentials`] provider is asked for a [`Credential`] on **every attempt** by the
//! [`ApplyCredentials`] layer, which sits at attempt scope (between the rate limiter and
//! the attempt timeout): a rotated key or a refreshed token is used by the very next
//! attempt, a retry included. Providers:
//!
//! | provider | source | rotation |
//! |---|---|---|
//! | [`StaticCredentials`] | a fixed value | none |
//! | [`EnvCredentials`] | an environment variable | read on every attempt |
//! | [`FileCredentials`] | a file (Kubernetes secret, Vault agent) | re-read when it changes, checked at most every `recheck` |
//! | [`OAuth2Credentials`] | an OAuth 2.0 token endpoint (client credentials) | cached until shortly before expiry; one refresh for all callers; refreshed on a `401` |
//! | [`from_fn`] | your own async closure (a secrets manager) | as your closure does |
//!
//! ```
//! use std::time::Duration;
//! use steadfast::credentials::FileCredentials;
//!
//! let key = FileCredentials::header("/var/run/secrets/crm/api-key", "x-api-key")?
//!     .recheck(Duration::from_secs(5));
//! let client = steadfast::Client::builder()
//!     .credentials(key)
//!     .build(reqwest::Client::new())?;
//! # let _ = client;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! With `tower::ServiceBuilder`, put [`ApplyCredentialsLayer`] below the retry layer (and a
//! rate limiter), so each attempt gets its own credential:
//!
//! ```
//! use steadfast::credentials::{ApplyCredentialsLayer, EnvCredentials};
//! use steadfast::retry::RetryLayer;
//! use tower::ServiceBuilder;
//!
//! let service = ServiceBuilder::new()
//!     .layer(RetryLayer::default())
//!     .layer(ApplyCredentialsLayer::new(EnvCredentials::query("CRM_KEY", "api_key")))
//!     .service(reqwest::Client::new());
//! # let _ = service;
//! ```
//!
//! # 401
//!
//! A provider that can refresh ([`Credentials::can_refresh`]: OAuth 2.0, a file) is told of a
//! `401`; when it has a fresher credential, the layer sends the attempt once more with it
//! (a copy made before the credential was applied; a streamed body cannot be copied, and
//! its `401` is returned). A `401` is not applied, so this is safe for a POST. The resend is
//! part of the attempt: it takes no second rate-limit permit and is not counted as a retry.
//! A second `401` is the attempt's answer: the retry layer classifies it permanent and
//! needing a person, never a loop.
//!
//! # Secrets stay out of sight
//!
//! Headers a provider sets are marked sensitive (`HeaderValue::set_sensitive`); secrets
//! read from variables, files and token responses are held in
//! [`secrecy::SecretString`](https://docs.rs/secrecy) until they become that header; no
//! `Debug`, log event or error shows a value. Because the layer works at attempt scope,
//! below the idempotency layer and the call-scope layers above it, the credential is never
//! part of an idempotency fingerprint or a stored ledger entry, nor of a dead letter (which
//! records the request as the caller built it): a replay gets a fresh credential.
//!
//! # Cost
//!
//! A credential at hand is moved into the request in place, without a boxed future:
//! measured with callgrind (`benches/profile.rs`), a static header costs about 850
//! instructions per GET over the bare service, most of it the header map's first
//! allocation that any header set on a bare request pays (500 on a POST, whose map exists),
//! and an environment variable read on every call about 680 more. A provider that can
//! refresh (OAuth 2.0, a file by default) takes a boxed path and keeps a copy of each
//! attempt's request, for the resend after a `401`.
//!
//! # Errors
//!
//! An attempt for which the provider has no credential is not sent:
//! [`Error::Credentials`](crate::Error::Credentials) with a [`CredentialsError`], not
//! applied. [`CredentialsError::is_transient`] ones (a token endpoint down, a file not
//! there yet) are retried by the retry layer; the others (an unset variable, a client the
//! token endpoint refuses) end the call.

mod config;
mod credential;
mod custom;
mod env;
mod file;
mod future;
mod layer;
mod oauth2;
mod provider;
mod service;
mod token;

pub use crate::error::CredentialsError;
pub use config::{CredentialsConfig, EnvConfig, FileConfig, OAuth2Config};
pub use credential::Credential;
pub use custom::{FromFn, from_fn};
pub use env::EnvCredentials;
pub use file::FileCredentials;
pub use future::ResponseFuture;
pub use layer::ApplyCredentialsLayer;
pub use oauth2::OAuth2Credentials;
pub use provider::{
    CredentialFuture, Credentials, Lookup, RefreshFuture, SharedCredentials, StaticCredentials,
};
pub use service::ApplyCredentials;
pub use token::ClientAuth;
