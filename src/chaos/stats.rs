//! Counts of what the layer injected.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::FaultKind;

/// Counts of the faults a [`ChaosLayer`](super::ChaosLayer) injected, by kind.
///
/// # Clone
///
/// A handle: clones, and every service the layer made, count into the same counters.
#[derive(Clone, Default)]
pub struct ChaosStats {
    counts: Arc<Counts>,
}

#[derive(Default)]
struct Counts {
    latency: AtomicU64,
    status: AtomicU64,
    reset_before: AtomicU64,
    timeout_after: AtomicU64,
    reset_after: AtomicU64,
}

impl ChaosStats {
    pub(crate) fn record(&self, kind: FaultKind) {
        let counter = match kind {
            FaultKind::Pass => return,
            FaultKind::Latency => &self.counts.latency,
            FaultKind::Status => &self.counts.status,
            FaultKind::ResetBefore => &self.counts.reset_before,
            FaultKind::TimeoutAfter => &self.counts.timeout_after,
            FaultKind::ResetAfter => &self.counts.reset_after,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// How many faults of `kind` were injected (`0` for [`FaultKind::Pass`]).
    #[must_use]
    pub fn injected(&self, kind: FaultKind) -> u64 {
        let counter = match kind {
            FaultKind::Pass => return 0,
            FaultKind::Latency => &self.counts.latency,
            FaultKind::Status => &self.counts.status,
            FaultKind::ResetBefore => &self.counts.reset_before,
            FaultKind::TimeoutAfter => &self.counts.timeout_after,
            FaultKind::ResetAfter => &self.counts.reset_after,
        };
        counter.load(Ordering::Relaxed)
    }

    /// How many faults were injected in all.
    #[must_use]
    pub fn total(&self) -> u64 {
        KINDS.iter().map(|kind| self.injected(*kind)).sum()
    }
}

const KINDS: [FaultKind; 5] = [
    FaultKind::Latency,
    FaultKind::Status,
    FaultKind::ResetBefore,
    FaultKind::TimeoutAfter,
    FaultKind::ResetAfter,
];

impl fmt::Debug for ChaosStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for kind in KINDS {
            map.entry(&kind.as_str(), &self.injected(kind));
        }
        map.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_count_together() {
        let stats = ChaosStats::default();
        let clone = stats.clone();
        clone.record(FaultKind::ResetAfter);
        stats.record(FaultKind::ResetAfter);
        stats.record(FaultKind::Status);
        stats.record(FaultKind::Pass);
        assert_eq!(stats.injected(FaultKind::ResetAfter), 2);
        assert_eq!(clone.injected(FaultKind::Status), 1);
        assert_eq!(clone.total(), 3);
        assert_eq!(
            format!("{stats:?}"),
            r#"{"latency": 0, "status": 1, "reset_before": 0, "timeout_after": 0, "reset_after": 2}"#
        );
    }
}
