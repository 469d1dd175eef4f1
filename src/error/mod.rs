//! The crate's public errors: [`Error`], the history of a failed call ([`Failure`]), why it
//! was not retried ([`NotRetried`], [`Unverified`]) and invalid configuration
//! ([`ConfigError`]), credentials that could not be obtained ([`CredentialsError`], public
//! as [`credentials::CredentialsError`](crate::credentials::CredentialsError)), and a ledger that failed ([`StoreError`], public as
//! [`idempotency::store::StoreError`](crate::idempotency::store::StoreError)).

mod config;
mod credentials;
mod failure;
mod not_retried;
mod refusal;
mod store;
mod variants;

pub use config::ConfigError;
pub use credentials::CredentialsError;
pub use failure::Failure;
pub use not_retried::{NotRetried, Unverified};
pub use store::StoreError;
pub(crate) use variants::without_url;
pub use variants::{BoxError, Error};
