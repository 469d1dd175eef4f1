//! The extension point: a source of credentials, asked once per attempt.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::Credential;
use crate::error::CredentialsError;

/// A credential that is coming: what a provider returns when it has to ask someone.
pub type CredentialFuture =
    Pin<Box<dyn Future<Output = Result<Credential, CredentialsError>> + Send + 'static>>;

/// A fresh credential after a `401`, or `None` when the provider has nothing fresher.
pub type RefreshFuture =
    Pin<Box<dyn Future<Output = Result<Option<Credential>, CredentialsError>> + Send + 'static>>;

/// What [`Credentials::credential`] has for the next attempt.
#[non_exhaustive]
pub enum Lookup {
    /// At hand: the attempt is sent at once, without an allocation for the lookup.
    Ready(Result<Credential, CredentialsError>),
    /// Coming (a token request, a secrets manager): the attempt waits for it.
    Pending(CredentialFuture),
}

impl std::fmt::Debug for Lookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Ready(found) => f.debug_tuple("Ready").field(found).finish(),
            Self::Pending(_) => f.write_str("Pending(..)"),
        }
    }
}

/// A credentials provider shared by every attempt and every clone of a client.
pub type SharedCredentials = Arc<dyn Credentials>;

/// A source of credentials, asked once per attempt by
/// [`ApplyCredentials`](super::ApplyCredentials), so that a rotated or refreshed value is
/// used by the next attempt.
///
/// Implemented by [`StaticCredentials`](super::StaticCredentials),
/// [`EnvCredentials`](super::EnvCredentials), [`FileCredentials`](super::FileCredentials),
/// [`OAuth2Credentials`](super::OAuth2Credentials) and [`from_fn`](super::from_fn) for your
/// own async source.
///
/// # Example
///
/// ```
/// use steadfast::credentials::{Credential, Credentials, Lookup};
///
/// /// A key held in memory and swapped by a background task.
/// struct Vaulted(std::sync::RwLock<Credential>);
///
/// impl Credentials for Vaulted {
///     fn credential(&self) -> Lookup {
///         Lookup::Ready(Ok(self.0.read().expect("not poisoned").clone()))
///     }
/// }
/// # let _ = Vaulted(std::sync::RwLock::new(Credential::bearer("t")?));
/// # Ok::<(), steadfast::credentials::CredentialsError>(())
/// ```
pub trait Credentials: Send + Sync + 'static {
    /// The credential for the next attempt.
    fn credential(&self) -> Lookup;

    /// Whether [`unauthorized`](Self::unauthorized) may come up with a fresher credential.
    /// When `true`, each attempt keeps a copy of its request (without the credential) so a
    /// `401` can be answered by one more attempt. Default `false`.
    fn can_refresh(&self) -> bool {
        false
    }

    /// The server answered `401` to an attempt that carried `rejected`: a fresher
    /// credential for one more attempt, or `None` (the `401` is then the attempt's
    /// outcome). Asked only when [`can_refresh`](Self::can_refresh) is `true`, at most once
    /// per attempt. Default `None`.
    fn unauthorized(&self, rejected: &Credential) -> RefreshFuture {
        let _ = rejected;
        Box::pin(std::future::ready(Ok(None)))
    }
}

impl<C: Credentials + ?Sized> Credentials for Arc<C> {
    fn credential(&self) -> Lookup {
        (**self).credential()
    }

    fn can_refresh(&self) -> bool {
        (**self).can_refresh()
    }

    fn unauthorized(&self, rejected: &Credential) -> RefreshFuture {
        (**self).unauthorized(rejected)
    }
}

/// The same credential on every attempt: a key that never rotates, or one for tests.
///
/// # Example
///
/// ```
/// use steadfast::credentials::{Credential, StaticCredentials};
///
/// let client = steadfast::Client::builder()
///     .credentials(StaticCredentials::new(Credential::header("x-api-key", "k-123")?))
///     .build(reqwest::Client::new())?;
/// # let _ = client;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct StaticCredentials {
    credential: Credential,
}

impl StaticCredentials {
    /// Applies `credential` to every attempt.
    #[must_use]
    pub fn new(credential: Credential) -> Self {
        Self { credential }
    }
}

impl Credentials for StaticCredentials {
    fn credential(&self) -> Lookup {
        Lookup::Ready(Ok(self.credential.clone()))
    }
}
