//! Inbound webhooks handled once: signature verification with rotating secrets and a
//! replay window, then deduplication by delivery id on the idempotency ledger's stores.
//!
//! Providers sign each delivery and send it again until they get a 2xx, so a receiver
//! sees forgeries, replays and duplicates. Two layers sit in front of a handler:
//!
//! - [`VerifySignatureLayer`] reads the body (bounded in bytes and time) and checks its
//!   signature by a provider's [`Scheme`] against every configured secret, and its
//!   timestamp against a replay window; a failure is answered 400 or 401 with no detail.
//! - [`DeduplicateLayer`] claims the delivery's id in an
//!   [`IdempotencyStore`](crate::idempotency::store::IdempotencyStore) (memory, or Redis for
//!   several receivers): the handler runs once, a duplicate gets the first answer, a
//!   concurrent one 409, and a failed handler (5xx) frees the id for the sender's retry.
//!
//! With the `redis` feature, [`EventQueue`] and [`Enqueue`] acknowledge a delivery as soon
//! as it is on a Redis Stream, and an [`EventWorker`] processes it: see
//! [Fast acknowledgement](#fast-acknowledgement).
//!
//! ```
//! use std::sync::atomic::{AtomicUsize, Ordering};
//!
//! use axum::{Router, body::Body, http::Request, http::StatusCode, routing::post};
//! use steadfast::webhook::{
//!     DedupConfig, DeduplicateLayer, Scheme, VerifyConfig, VerifySignatureLayer, WebhookSecret,
//! };
//! use tower::{ServiceBuilder, ServiceExt as _};
//!
//! static RUNS: AtomicUsize = AtomicUsize::new(0);
//!
//! async fn on_push(body: String) -> String {
//!     RUNS.fetch_add(1, Ordering::SeqCst);
//!     format!("{} bytes", body.len())
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // The new secret and the one it replaces both pass until the old one is retired.
//! let verify = VerifyConfig::new(Scheme::Github, WebhookSecret::new("It's a Secret to Everybody"))
//!     .secret(WebhookSecret::new("the secret being retired"));
//! let app = Router::new().route(
//!     "/webhooks/github",
//!     post(on_push).layer(
//!         ServiceBuilder::new()
//!             .layer(VerifySignatureLayer::new(&verify)?)
//!             .layer(DeduplicateLayer::new(&DedupConfig::for_scheme(&Scheme::Github))?),
//!     ),
//! );
//!
//! // GitHub's documented example: "Hello, World!" signed with that secret.
//! let delivery = |signature: &str| {
//!     Request::post("/webhooks/github")
//!         .header("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
//!         .header("x-hub-signature-256", signature)
//!         .body(Body::from("Hello, World!"))
//! };
//! let signed = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
//! assert_eq!(app.clone().oneshot(delivery(signed)?).await?.status(), StatusCode::OK);
//! // GitHub sends it again: the stored answer, and the handler does not run.
//! assert_eq!(app.clone().oneshot(delivery(signed)?).await?.status(), StatusCode::OK);
//! assert_eq!(RUNS.load(Ordering::SeqCst), 1);
//! // A forgery gets 401 and nothing more.
//! let forged = format!("sha256={}", "0".repeat(64));
//! assert_eq!(app.oneshot(delivery(&forged)?).await?.status(), StatusCode::UNAUTHORIZED);
//! # Ok(())
//! # }
//! ```
//!
//! # Ordering
//!
//! Verification first, then deduplication: an unverified request must never claim an id.
//!
//! # Errors
//!
//! The layers answer of their own, with a short plain-text body, and log at `WARN` (target
//! `steadfast::webhook`) the scheme and the reason, never a secret or a signature:
//!
//! | status | when |
//! |---|---|
//! | 400 | a signature header missing or malformed; no usable delivery id |
//! | 401 | no signature matches a secret; the signed timestamp is outside the window |
//! | 408 | the body did not arrive within `body_timeout` |
//! | 409 | the same id is being handled (after `max_wait`) |
//! | 413 | the body is longer than `max_body_bytes` |
//! | 503 | the store cannot be reached: the sender retries later |
//!
//! Errors of the handler pass through, and release the delivery's id.
//!
//! # Fast acknowledgement
//!
//! Providers give a receiver a few seconds before they count a delivery failed and send it
//! again: Shopify 5 s to answer (1 s to connect), per its webhook delivery docs
//! (shopify.dev, "Troubleshooting webhooks"); GitHub 10 s ("Best practices for using
//! webhooks", docs.github.com; 30 s on older GitHub Enterprise Server releases); Stripe
//! states no figure, and asks endpoints to "quickly return a successful status code (2xx)
//! prior to any complex logic that could cause a timeout" (docs.stripe.com/webhooks). A
//! handler that calls other systems can outlast them and be sent the event again while it
//! runs. [`Enqueue`] answers 202 once the event is on a Redis Stream (`XADD` with a length
//! cap), and an [`EventWorker`] in a consumer group processes it, acknowledges it after,
//! and claims entries another worker left pending too long; given a store, it records the
//! delivery ids it processed and acknowledges a repeat without processing it.
//!
//! # Secrets
//!
//! [`WebhookSecret`] never prints its text, and configuration errors say what is wrong
//! with a secret, never what it is.

mod body;
mod check;
mod claim;
mod config;
mod dedup;
mod delivery_id;
#[cfg(feature = "redis")]
mod enqueue;
mod future;
mod keys;
#[cfg(feature = "redis")]
mod queue;
mod read;
mod respond;
mod scheme;
mod secret;
mod verify;
#[cfg(feature = "redis")]
mod worker;

pub use body::WebhookBody;
pub use config::{DedupConfig, VerifyConfig};
pub use dedup::{Deduplicate, DeduplicateLayer};
pub use delivery_id::{DeliveryId, IdSource};
#[cfg(feature = "redis")]
pub use enqueue::Enqueue;
pub use future::WebhookFuture;
#[cfg(feature = "redis")]
pub use queue::{EventQueue, EventQueueConfig, QueueError, QueuedEvent};
pub use scheme::{Encoding, Scheme};
pub use secret::WebhookSecret;
pub use verify::{Verified, VerifySignature, VerifySignatureLayer};
#[cfg(feature = "redis")]
pub use worker::{EventWorker, Processed};
