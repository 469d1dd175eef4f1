use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;

use super::{ApplyCredentials, Credentials, SharedCredentials};

/// Applies [`ApplyCredentials`] to a service.
///
/// # Clone
///
/// Clones share the provider: one token cache and one refresh for every clone.
#[derive(Clone)]
pub struct ApplyCredentialsLayer {
    credentials: SharedCredentials,
}

impl fmt::Debug for ApplyCredentialsLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApplyCredentialsLayer")
            .finish_non_exhaustive()
    }
}

impl ApplyCredentialsLayer {
    /// A layer applying credentials from `credentials`, a provider of its own.
    #[must_use]
    pub fn new(credentials: impl Credentials) -> Self {
        Self::shared(Arc::new(credentials))
    }

    /// A layer applying credentials from a provider shared with other layers or clients.
    #[must_use]
    pub fn shared(credentials: SharedCredentials) -> Self {
        Self { credentials }
    }
}

impl<S> Layer<S> for ApplyCredentialsLayer {
    type Service = ApplyCredentials<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ApplyCredentials::new(inner, Arc::clone(&self.credentials))
    }
}
