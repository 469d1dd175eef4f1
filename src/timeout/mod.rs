//! A time limit for an attempt, or for a whole call.
//!
//! Placed inside [`Retry`](crate::retry::Retry), a [`Timeout`] turns a hung attempt into a
//! transient failure that the retry layer may retry; placed outside, it bounds the whole
//! call, attempts and waits together.
//!
//! ```
//! use std::time::Duration;
//! use steadfast::retry::RetryLayer;
//! use steadfast::timeout::TimeoutLayer;
//! use tower::ServiceBuilder;
//!
//! let service = ServiceBuilder::new()
//!     .layer(TimeoutLayer::new(Some(Duration::from_secs(60)))) // the whole call
//!     .layer(RetryLayer::default())
//!     .layer(TimeoutLayer::new(Some(Duration::from_secs(10)))) // each attempt
//!     .service(reqwest::Client::new());
//! # let _ = service;
//! ```
//!
//! # Errors
//!
//! [`Error::Timeout`](crate::Error::Timeout) with the limit that elapsed. Errors of the inner
//! service pass through: a steadfast [`Error`](crate::Error) unchanged, any other as
//! [`Error::Transport`](crate::Error::Transport).

mod body;
mod deadline;
mod future;
mod layer;
mod service;

pub use deadline::{Deadline, DeadlineFuture, DeadlineLayer};
pub use future::ResponseFuture;
pub use layer::TimeoutLayer;
pub use service::Timeout;
