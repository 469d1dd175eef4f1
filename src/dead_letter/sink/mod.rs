//! Where letters are kept: the [`DeadLetterSink`] trait and its implementations.

mod jsonl;
mod memory;
mod traits;

pub use jsonl::{DEFAULT_MAX_LINE_BYTES, JsonlSink};
pub use memory::{DEFAULT_CAPACITY, MemorySink};
pub use traits::{Claim, DeadLetterSink, SharedSink, SinkError, SinkFuture};
