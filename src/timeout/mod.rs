//! A time limit for an attempt, or for a whole call and the read of its body.
//!
//! Placed inside [`Retry`](crate::retry::Retry), a [`Timeout`] turns a hung attempt into a
//! transient failure that the retry layer may retry. Placed outside, a [`Deadline`] bounds
//! the whole call, attempts and waits together, and then the caller's read of the body of
//! the response it returns, as reqwest's own `timeout` does.
//!
//! ```
//! use std::time::Duration;
//! use steadfast::retry::RetryLayer;
//! use steadfast::timeout::{DeadlineLayer, TimeoutLayer};
//! use tower::ServiceBuilder;
//!
//! let service = ServiceBuilder::new()
//!     .layer(DeadlineLayer::new(Duration::from_secs(60))) // the whole call and its body
//!     .layer(RetryLayer::default())
//!     .layer(TimeoutLayer::new(Duration::from_secs(10))) // each attempt
//!     .service(reqwest::Client::new());
//! # let _ = service;
//! ```
//!
//! # Errors
//!
//! [`Error::Timeout`](crate::Error::Timeout) with the limit that elapsed. Errors of the inner
//! service pass through: a steadfast [`Error`](crate::Error) unchanged, any other as
//! [`Error::Transport`](crate::Error::Transport).
//!
//! A body read past a [`Deadline`] fails with a `reqwest::Error` (from `bytes()`, `text()`,
//! `json()` or `chunk()`) whose `is_timeout()` is `true`. Its `source()` chain holds an
//! [`io::Error`](std::io::Error) of kind `TimedOut` whose `get_ref()` is the
//! [`Error::Timeout`](crate::Error::Timeout):
//!
//! ```no_run
//! # async fn run(client: steadfast::Client) -> Result<(), steadfast::Error> {
//! let response = client.get("http://127.0.0.1:8080/exports/orders.csv").send().await?;
//! match response.bytes().await {
//!     Ok(body) => println!("{} bytes", body.len()),
//!     Err(e) if e.is_timeout() => eprintln!("the body did not arrive before the deadline"),
//!     Err(e) => eprintln!("the body could not be read: {e}"),
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Cost
//!
//! [`Timeout`] and a [`Deadline`] start their timer only when the call is not ready at its
//! first poll, and a [`Deadline`]'s body starts one only when a read has to wait. To bound
//! the body, a [`Deadline`] rebuilds the response around a wrapped body: a few allocations
//! per call, which [`DeadlineLayer::covers_body`] (or
//! [`ClientConfig::deadline_covers_body`](crate::ClientConfig::deadline_covers_body)) turns
//! off.

mod body;
mod deadline;
mod future;
mod layer;
mod service;

pub use deadline::{Deadline, DeadlineFuture, DeadlineLayer};
pub use future::ResponseFuture;
pub use layer::TimeoutLayer;
pub use service::Timeout;
