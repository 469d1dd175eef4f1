//! Where letters are kept: the [`DeadLetterSink`] trait and its implementations.

mod memory;
mod traits;

pub use memory::{DEFAULT_CAPACITY, MemorySink};
pub use traits::{Claim, DeadLetterSink, SharedSink, SinkError, SinkFuture};
