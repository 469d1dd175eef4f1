use tower_layer::Layer;

use super::{RateLimit, RateLimitConfig, RateLimiter};
use crate::error::ConfigError;

/// Applies [`RateLimit`] to a service.
///
/// # Clone
///
/// The layer holds a [`RateLimiter`] behind an `Arc`: the layer, its clones and every
/// service it makes share the same buckets. Cloning never creates a new bucket.
#[derive(Debug, Clone)]
pub struct RateLimitLayer {
    limiter: RateLimiter,
}

impl RateLimitLayer {
    /// A layer with its own limiter, keyed by origin.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when a quota is invalid: zero rate, zero period or zero burst.
    pub fn new(config: &RateLimitConfig) -> Result<Self, ConfigError> {
        Ok(Self::shared_limiter(RateLimiter::new(config)?))
    }

    /// A layer taking permits from `limiter`, which other layers or clients may share:
    /// the shared form of [`new`](Self::new).
    #[must_use]
    pub fn shared_limiter(limiter: RateLimiter) -> Self {
        Self { limiter }
    }

    /// The limiter this layer takes permits from.
    #[must_use]
    pub fn limiter(&self) -> &RateLimiter {
        &self.limiter
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimit::new(inner, self.limiter.clone())
    }
}
