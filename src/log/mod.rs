//! Logging: a span per call, a child span per attempt, an event for every resilience
//! decision, and secrets redacted by construction.
//!
//! ```
//! use steadfast::log::{BodyCapture, LogConfig, LogLayer};
//! use steadfast::redact::RedactConfig;
//! use steadfast::retry::RetryLayer;
//! use tower::ServiceBuilder;
//!
//! let log = LogLayer::new(
//!     &LogConfig::default()
//!         .redact(RedactConfig::default().header("X-Partner-Pin"))
//!         .bodies(BodyCapture::default().request(true).response(true)),
//! )?
//! .on_permanent(|failed| eprintln!("page someone: {failed:?}"));
//! let service = ServiceBuilder::new()
//!     .layer(log)
//!     .layer(RetryLayer::default())
//!     .service(reqwest::Client::new());
//! # let _ = service;
//! # Ok::<(), steadfast::ConfigError>(())
//! ```
//!
//! The crate emits `tracing` spans and events and never installs a subscriber: the
//! application picks one (for JSON, `tracing_subscriber::fmt().json()`; see the
//! `json_logs` example).
//!
//! # Ordering
//!
//! [`LogLayer`] goes outermost, so that its span covers the whole logical call: every
//! layer inside (idempotency, deadline, retry, rate limit…) runs in it, and their events
//! carry its fields. The retry layer opens one `steadfast.attempt` span per attempt inside
//! it.
//!
//! # Spans
//!
//! | span | level | fields |
//! |---|---|---|
//! | `steadfast.call` | INFO | `http.request.method`, `server.address`, `server.port`, `url.full` (redacted), `steadfast.idempotency_key`; at the end `http.response.status_code`, `error.type`, `http.request.resend_count` (attempts − 1), `steadfast.verdict`, `steadfast.reason`, `steadfast.outcome`, `steadfast.duration_ms` |
//! | `steadfast.attempt` | DEBUG | `http.request.method`, `http.request.resend_count` (0 for the first attempt), `steadfast.idempotency_key`; at the end `http.response.status_code`, `error.type`, `steadfast.verdict`, `steadfast.reason` |
//!
//! Both also set `otel.name` (the method) and the attempt sets `otel.kind = "client"`, for
//! `tracing-opentelemetry`. `error.type` is the status code of an HTTP failure (`"503"`)
//! or a short name (`timeout`, `connect`, `connection_reset`, `body`, `decode`,
//! `invalid_request`, `invalid_response`, `redirect`, `rate_limited`, `_OTHER`);
//! `steadfast.verdict` is `success`, `transient`, `throttled` or `permanent`;
//! `steadfast.outcome` says whether the server may have acted on the call: `applied` (a
//! success), `not_applied` (safe to send again) or `unknown` (check before sending again;
//! see [`Error::outcome`](crate::Error::outcome)).
//!
//! # Events
//!
//! | message | level | emitted by | fields |
//! |---|---|---|---|
//! | `request` | TRACE | log | `http.request.headers` (redacted) |
//! | `response` | TRACE | log | `http.response.headers` (redacted) |
//! | `call succeeded` | DEBUG | log | `http.response.status_code`, `http.request.resend_count`, `steadfast.duration_ms`, bodies when captured |
//! | `retry scheduled` | WARN | retry | `attempt` (the one that failed, from 1), `delay_ms`, `steadfast.verdict`, `steadfast.reason`, `error.type`, `http.request.method` |
//! | `waited for the rate limit` | WARN when the server paused the key, DEBUG for quota pacing | rate limit | `wait_ms`, `reason`, `rate_limit.key` (origins only) |
//! | `replayed from the ledger` | INFO | idempotency | `steadfast.idempotency_key`, `http.response.status_code`, `age_ms` |
//! | `gave up` | ERROR | log | `steadfast.verdict`, `steadfast.reason`, `steadfast.outcome`, `error.type`, `attempts`, `not_retried`, `http.response.status_code`, `error`, `url.full`, `steadfast.needs_attention`, `hint` (401/403), bodies when captured |
//!
//! Levels: success DEBUG, retry and throttle WARN, final failure ERROR. A 401 or 403 is a
//! `gave up` ERROR with `steadfast.needs_attention = true` and a `hint` that a human must
//! act; [`LogLayer::on_permanent`] and [`LogLayer::on_give_up`] call your code (to page
//! someone) with a [`FailedCall`]: exactly one of them runs for each failed call.
//!
//! # Conventions for layers that log
//!
//! Layers inside the call span follow these rules, so that one filter and one dashboard
//! cover the crate:
//!
//! - **Target**: the layer's module path, which `tracing` sets by default
//!   (`steadfast::rate_limit::…`), so `steadfast=warn` selects the crate and
//!   `steadfast::rate_limit=debug` one layer. The log layer's own spans and events use
//!   `steadfast::log`.
//! - **Message**: a fixed lowercase phrase from the table above, never formatted; values go
//!   in fields.
//! - **Fields**: OpenTelemetry names where one exists (`http.response.status_code`,
//!   `error.type`, `server.address`…); steadfast's shared concepts under `steadfast.`
//!   (`steadfast.verdict` as [`Verdict::as_str`](crate::classify::Verdict::as_str),
//!   `steadfast.reason`, `steadfast.idempotency_key`); event-local values plain; durations
//!   as integer or float milliseconds named `…_ms`.
//! - **Parent**: emit inside the current span (do not set `parent:`); a per-attempt layer
//!   runs inside the attempt span, a per-call layer inside the call span.
//! - **Idempotency key**: the layer that sets it records it on the call span with
//!   `tracing::Span::current().record("steadfast.idempotency_key", key)` from its `call`
//!   or future (keys are not secrets; the log layer reads a key the caller set itself).
//! - **Secrets**: no URL, header value or body reaches a field except through
//!   [`Redactor`](crate::redact::Redactor); errors show the host only.
//! - **Cost**: with no subscriber, nothing is formatted or allocated: put formatting behind
//!   `%`/`?` fields (evaluated only when enabled) or `tracing::enabled!`.
//!
//! # Body capture
//!
//! Off by default; see [`BodyCapture`]. When on, bodies are redacted
//! ([`Redactor::body`](crate::redact::Redactor::body)), capped (4 KiB by default) and, unless
//! [`BodyCapture::on_success`] is set, logged for failed calls only.
//!
//! A response body is read only as far as the cap (and one byte more, to know it was
//! cut), and only for [`BodyCapture::read_timeout`] and never past the call's deadline
//! ([`LogLayer::call_deadline`]): a huge body is not buffered, and a slow one is logged as
//! `<the body was not read in time>` (after what did arrive) while the call returns. The
//! caller still reads the whole body: what the log read, then the rest.
//! `http.response.body.size` is the whole body's length when it is known (read to its end,
//! or declared by `Content-Length`).

mod body;
mod call;
mod config;
mod future;
mod hook;
mod layer;
mod service;

pub use config::{BodyCapture, LogConfig};
pub use future::ResponseFuture;
pub use hook::FailedCall;
pub(crate) use hook::{Hook, Hooks};
pub use layer::LogLayer;
pub use service::Log;

/// The redactor moved to [`crate::redact`]; this path stays for code written before.
#[doc(no_inline)]
pub use crate::redact;
