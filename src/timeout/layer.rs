use std::time::Duration;

use tower_layer::Layer;

use super::Timeout;

/// Applies [`Timeout`] to a service; `None` makes it a pass-through.
#[derive(Debug, Clone, Copy, Default)]
pub struct TimeoutLayer {
    limit: Option<Duration>,
}

impl TimeoutLayer {
    /// A layer that limits each call to `limit`, or does nothing with `None`.
    #[must_use]
    pub fn new(limit: Option<Duration>) -> Self {
        Self { limit }
    }
}

impl<S> Layer<S> for TimeoutLayer {
    type Service = Timeout<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Timeout::new(inner, self.limit)
    }
}
