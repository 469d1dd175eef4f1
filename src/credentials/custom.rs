//! Your own async source of credentials: a secrets manager, a vault, a login call.

use std::fmt;
use std::future::Future;

use super::{Credential, Credentials, Lookup};
use crate::error::{BoxError, CredentialsError};

/// A provider that calls `source` for every attempt: an async closure returning the
/// [`Credential`] to apply.
///
/// The closure is asked on every attempt, so cache in it what is costly to fetch (a
/// secrets manager's answer, with its expiry); the attempt waits for it. Its error fails
/// the attempt with [`CredentialsError::Source`], which the retry layer treats as
/// transient: nothing was sent.
///
/// # Example
///
/// ```
/// use std::sync::Arc;
/// use steadfast::credentials::{self, Credential};
/// use tokio::sync::RwLock;
///
/// // A key a background task refreshes from a secrets manager.
/// let key = Arc::new(RwLock::new(String::from("k-123")));
/// let provider = credentials::from_fn(move || {
///     let key = Arc::clone(&key);
///     async move { Credential::header("x-api-key", &key.read().await) }
/// });
/// let client = steadfast::Client::builder()
///     .credentials(provider)
///     .build(reqwest::Client::new())?;
/// # let _ = client;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn from_fn<F, Fut, E>(source: F) -> FromFn<F>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Credential, E>> + Send + 'static,
    E: Into<BoxError>,
{
    FromFn { source }
}

/// The provider [`from_fn`] returns.
#[derive(Clone)]
pub struct FromFn<F> {
    source: F,
}

impl<F> fmt::Debug for FromFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FromFn").finish_non_exhaustive()
    }
}

impl<F, Fut, E> Credentials for FromFn<F>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Credential, E>> + Send + 'static,
    E: Into<BoxError>,
{
    fn credential(&self) -> Lookup {
        let coming = (self.source)();
        Lookup::Pending(Box::pin(async move {
            coming
                .await
                .map_err(|e| match e.into().downcast::<CredentialsError>() {
                    Ok(own) => *own,
                    Err(other) => CredentialsError::Source(other),
                })
        }))
    }
}
