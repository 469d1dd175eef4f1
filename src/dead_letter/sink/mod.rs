//! Where letters are kept: the [`DeadLetterSink`] trait and its implementations.

mod jsonl;
mod jsonl_compact;
mod memory;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "redis")]
mod redis_list;
mod traits;

pub use jsonl::{DEFAULT_MAX_LINE_BYTES, JsonlSink};
pub use memory::{DEFAULT_CAPACITY, MemorySink};
#[cfg(feature = "redis")]
pub use redis::{RedisSink, RedisSinkConfig};
pub use traits::{Claim, DeadLetterSink, SharedSink, SinkError, SinkFuture};
