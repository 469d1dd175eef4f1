//! The future the webhook services return.

use std::future::Future;
use std::pin::Pin;

/// The boxed future of the webhook services: a receiver's call reads a body and may wait
/// on a store, a state machine too large to write by hand for a path that is not hot.
pub type WebhookFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;
