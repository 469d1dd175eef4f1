use std::time::Duration;

use tower_layer::Layer;

use super::Timeout;

/// Applies [`Timeout`] to a service.
///
/// The default layer sets no limit: its services pass calls through.
#[derive(Debug, Clone, Copy, Default)]
pub struct TimeoutLayer {
    limit: Option<Duration>,
}

impl TimeoutLayer {
    /// A layer that limits each call to `limit`.
    #[must_use]
    pub fn new(limit: Duration) -> Self {
        Self { limit: Some(limit) }
    }

    /// A layer that limits each call to `limit`, or passes calls through with `None`.
    pub(crate) fn optional(limit: Option<Duration>) -> Self {
        Self { limit }
    }
}

impl<S> Layer<S> for TimeoutLayer {
    type Service = Timeout<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Timeout::optional(inner, self.limit)
    }
}
