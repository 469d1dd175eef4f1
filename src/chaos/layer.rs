use std::sync::Arc;

use tower_layer::Layer;

use super::plan::Plan;
use super::{Chaos, ChaosConfig, ChaosStats};
use crate::error::ConfigError;

/// Applies [`Chaos`] to a service.
///
/// # Clone
///
/// Cheap: clones share the rules, their random draws and scripts, and the
/// [`ChaosStats`].
#[derive(Debug, Clone, Default)]
pub struct ChaosLayer {
    pub(super) shared: Option<Arc<Shared>>,
    stats: ChaosStats,
}

/// What the services of an enabled layer share: one handle, so that a disabled layer's
/// services hold none and a clone of an enabled one costs one reference count.
#[derive(Debug)]
pub(super) struct Shared {
    pub(super) plan: Plan,
    pub(super) stats: ChaosStats,
}

impl ChaosLayer {
    /// A layer injecting what `config` says, or nothing when it is not enabled.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for a rate outside `0..=1` or NaN, rates of a rule adding up to more
    /// than 1, a status code that is not one, a header that is not valid, a zero latency or
    /// a malformed path pattern; checked whether or not the config is enabled.
    pub fn new(config: &ChaosConfig) -> Result<Self, ConfigError> {
        let plan = Plan::new(config)?;
        let stats = ChaosStats::default();
        Ok(Self {
            shared: config.enabled.then(|| {
                Arc::new(Shared {
                    plan,
                    stats: stats.clone(),
                })
            }),
            stats,
        })
    }

    /// A layer that injects nothing: its services pass every call through.
    #[must_use]
    pub fn disabled() -> Self {
        Self::default()
    }

    /// Whether the layer injects anything.
    #[must_use]
    pub fn is_enabled(&self) -> bool {
        self.shared.is_some()
    }

    /// The counts of what this layer's services injected.
    #[must_use]
    pub fn stats(&self) -> &ChaosStats {
        &self.stats
    }
}

impl<S> Layer<S> for ChaosLayer {
    type Service = Chaos<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Chaos::new(inner, self.clone())
    }
}
