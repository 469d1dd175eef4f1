use tower_layer::Layer;

use super::{CircuitBreaker, CircuitBreakerConfig, Circuits};
use crate::error::ConfigError;

/// Applies [`CircuitBreaker`] to a service.
///
/// # Clone
///
/// The layer holds [`Circuits`] behind an `Arc`: the layer, its clones and every service
/// it makes share one circuit (and bulkhead) per key.
#[derive(Debug, Clone)]
pub struct CircuitBreakerLayer {
    circuits: Circuits,
}

impl CircuitBreakerLayer {
    /// A layer with circuits of its own, keyed by origin, without a bulkhead
    /// ([`Circuits::builder`] adds one).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when a setting is invalid.
    pub fn new(config: &CircuitBreakerConfig) -> Result<Self, ConfigError> {
        Ok(Self::shared_circuits(Circuits::new(config)?))
    }

    /// A layer guarding calls with `circuits`, which other layers or clients may share.
    #[must_use]
    pub fn shared_circuits(circuits: Circuits) -> Self {
        Self { circuits }
    }

    /// The circuits this layer guards calls with.
    #[must_use]
    pub fn circuits(&self) -> &Circuits {
        &self.circuits
    }
}

impl<S> Layer<S> for CircuitBreakerLayer {
    type Service = CircuitBreaker<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CircuitBreaker::new(inner, self.circuits.clone())
    }
}
