use std::sync::Arc;

use tower_layer::Layer;

use super::cache::Cache;
use super::{StaleConfig, StaleIfError};
use crate::error::ConfigError;

/// Applies [`StaleIfError`] to a service.
///
/// # Clone
///
/// The layer holds its store behind an `Arc`: the layer, its clones and every service it
/// makes share one store.
#[derive(Debug, Clone)]
pub struct StaleIfErrorLayer {
    cache: Option<Arc<Cache>>,
}

impl StaleIfErrorLayer {
    /// A layer with a store of its own.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when a setting is invalid.
    pub fn new(config: &StaleConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            cache: Some(Arc::new(Cache::new(config))),
        })
    }

    /// A layer that passes calls through, for a stack whose config has no stale-if-error.
    pub(crate) fn disabled() -> Self {
        Self { cache: None }
    }
}

impl<S> Layer<S> for StaleIfErrorLayer {
    type Service = StaleIfError<S>;

    fn layer(&self, inner: S) -> Self::Service {
        StaleIfError::with_cache(inner, self.cache.clone())
    }
}
