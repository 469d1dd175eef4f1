//! Bulk batching: records grouped into bulk calls, results mapped back to each record.

mod batcher;
mod config;
mod error;
mod report;
mod reports;

pub use batcher::Batcher;
pub use config::BatchConfig;
pub use error::BatchError;
pub use report::{
    BatchReport, RecordFailure, RecordOutcome, RecordReport, RecordResult, RecordState,
};
pub use reports::Reports;
