//! Fault injection for your own tests (feature `chaos`): latency, error statuses, and
//! connections that fail before the request is sent or after the server acted.
//!
//! A [`ChaosLayer`] sits where the transport would fail: in the [`Client`](crate::Client)
//! at the attempt level ([`ClientBuilder::chaos`](crate::ClientBuilder::chaos)), under
//! retry, the circuit breaker and the dead letters, so they all see injected faults as they
//! would see real ones. Each rule covers a route (methods and a path pattern) and injects
//! faults drawn at random with a seed, or taken in order from a script. It is off unless
//! [`ChaosConfig::enabled`] is set.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use reqwest::{Method, StatusCode};
//! use steadfast::chaos::{ChaosConfig, ChaosLayer, ChaosRule, Fault, FaultKind};
//! use tower::{Layer as _, ServiceExt as _};
//!
//! let layer = ChaosLayer::new(&ChaosConfig::default().enabled(true).rule(
//!     ChaosRule::default()
//!         .method(Method::POST)
//!         .path("/orders/**")
//!         .script([Fault::status(StatusCode::SERVICE_UNAVAILABLE)]),
//! ))?;
//! let stats = layer.stats().clone();
//! // No server listens: the first POST is answered by the layer itself.
//! let service = layer.layer(reqwest::Client::new());
//! let request = reqwest::Request::new(Method::POST, "http://127.0.0.1:9/orders/42".parse()?);
//! let response = service.oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
//! assert_eq!(response.url().path(), "/orders/42");
//! assert_eq!(stats.injected(FaultKind::Status), 1);
//! # Ok(())
//! # }
//! ```
//!
//! # Faults and how they are classified
//!
//! | fault | the server | the caller gets | classified |
//! |---|---|---|---|
//! | [`Fault::Latency`] | sees the request after the delay | its answer | as that answer |
//! | [`Fault::Status`] | sees nothing | a response with the status, headers, empty body, the request's URL | as that status (503, 429: not applied; 500: unknown) |
//! | [`Fault::ResetBefore`] | sees nothing | a connect error (`io::ErrorKind::ConnectionRefused`) | transient, connect, not applied |
//! | [`Fault::TimeoutAfter`] | acts and answers | [`Error::Timeout`](crate::Error::Timeout) | transient, timeout, unknown |
//! | [`Fault::ResetAfter`] | acts and answers | a reset (`io::ErrorKind::ConnectionReset`) | transient, reset, unknown |
//!
//! The resets are [`Error::Transport`](crate::Error::Transport)s around an
//! [`io::Error`](std::io::Error) whose payload is an [`InjectedFault`], so a test can tell
//! an injected fault from a real one; the classifier reads the kind, as it does for a real
//! socket's error.
//!
//! # Determinism
//!
//! A draw is `SplitMix64` over a counter per rule, seeded from [`ChaosConfig::seed`] and the
//! rule's place: the same seed gives each rule the same faults for its first, second, …
//! call, whatever other routes do. Concurrent calls on one rule take the draws in the order
//! they reach the layer.
//!
//! # Errors
//!
//! [`ChaosLayer::new`] returns a [`ConfigError`](crate::ConfigError) for a rate outside
//! `0..=1` or NaN, a rule's rates adding up to more than 1, an invalid status or header, a
//! zero latency or a malformed path pattern. Errors of the inner service pass through as
//! [`Timeout`](crate::timeout::Timeout)'s do.
//!
//! # Cost
//!
//! Disabled, the layer's services hold no shared state and decide with one branch. Enabled,
//! finding the rule compares methods and path segments without allocating, and a draw is
//! one atomic add; only an injected fault allocates (its answer or its timer). Callgrind
//! counts about 180 instructions per call disabled, 270 enabled at rate 0, over the
//! in-memory service (`benches/profile.rs`, `chaos-*` stacks). Without the feature the
//! layer is not in the [`Client`](crate::Client)'s stack at all.

mod config;
mod fault;
mod future;
mod layer;
mod plan;
mod route;
mod service;
mod stats;

pub use config::{ChaosConfig, ChaosRule, FaultRate};
pub use fault::{Fault, FaultKind, InjectedFault};
pub use future::ResponseFuture;
pub use layer::ChaosLayer;
pub use service::Chaos;
pub use stats::ChaosStats;
