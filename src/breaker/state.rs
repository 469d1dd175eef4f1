use tokio::time::Instant;

/// What a circuit is doing now, as [`Client::circuit_state`](crate::Client::circuit_state)
/// and [`Circuits::state`](super::Circuits::state) show it.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitState {
    /// Calls go through and are counted.
    Closed,
    /// Calls fail at once with [`Error::CircuitOpen`](crate::Error::CircuitOpen), without
    /// being sent, until `until`.
    Open {
        /// When the circuit half-opens, at the earliest.
        until: Instant,
    },
    /// A bounded number of probes go through; the others fail as if open.
    HalfOpen,
}

impl CircuitState {
    /// The state's name as logs record it: `closed`, `open` or `half_open`.
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open { .. } => "open",
            Self::HalfOpen => "half_open",
        }
    }
}
