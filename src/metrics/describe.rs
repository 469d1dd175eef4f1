//! Tells the application's recorder every metric's unit and description.

use ::metrics::{KeyName, SharedString, Unit};

use super::names::{Kind, METRICS, MetricUnit};

/// Describes every metric in [`METRICS`](super::METRICS) to the installed recorder: its
/// unit and what it means (Prometheus prints the description as `# HELP`).
///
/// Call it once, after installing the recorder; calling it again does no harm. Without it
/// the metrics are recorded all the same, undescribed.
pub fn describe() {
    ::metrics::with_recorder(|recorder| {
        for metric in METRICS {
            let name = KeyName::from_const_str(metric.name);
            let unit = Some(unit_of(metric.unit));
            let description = SharedString::const_str(metric.description);
            match metric.kind {
                Kind::Counter => recorder.describe_counter(name, unit, description),
                Kind::Gauge => recorder.describe_gauge(name, unit, description),
                Kind::Histogram => recorder.describe_histogram(name, unit, description),
            }
        }
    });
}

/// The facade's unit for ours.
#[must_use]
pub fn unit_of(unit: MetricUnit) -> Unit {
    match unit {
        MetricUnit::Seconds => Unit::Seconds,
        MetricUnit::Count => Unit::Count,
    }
}
