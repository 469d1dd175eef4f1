//! Metrics (feature `metrics`) through the [`metrics`] facade, with
//! OpenTelemetry's HTTP client names and a `steadfast.*` family for what only steadfast
//! knows: how calls ended, retries, budgets, rate limits, circuits, the ledger, dead letters
//! and schema drift.
//!
//! steadfast never installs a recorder: the application installs the exporter it uses
//! (Prometheus, OpenTelemetry, statsd…) and may call [`describe`] once to give each metric
//! its unit and description.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // The application's recorder; in production an exporter such as
//! // metrics-exporter-prometheus, installed with `metrics::set_global_recorder`.
//! let recorder = metrics_util::debugging::DebuggingRecorder::new();
//! let snapshotter = recorder.snapshotter();
//! let _guard = metrics::set_default_local_recorder(&recorder);
//! steadfast::metrics::describe();
//!
//! let client = steadfast::Client::new(reqwest::Client::new());
//! // Nothing listens on port 9: the call fails at connect, not applied.
//! let result = client.get("http://127.0.0.1:9/orders/42").send().await;
//! assert!(result.is_err());
//!
//! let names: Vec<String> = snapshotter
//!     .snapshot()
//!     .into_vec()
//!     .into_iter()
//!     .map(|(key, ..)| key.key().name().to_owned())
//!     .collect();
//! assert!(names.iter().any(|n| n == steadfast::metrics::CALL_DURATION));
//! assert!(names.iter().any(|n| n == steadfast::metrics::HTTP_CLIENT_REQUEST_DURATION));
//! # Ok(())
//! # }
//! ```
//!
//! # Metrics
//!
//! [`METRICS`] lists them all, with their kinds, units and attributes.
//!
//! | name | kind | unit | attributes | meaning |
//! |---|---|---|---|---|
//! | `http.client.request.duration` | histogram | s | `http.request.method`, `server.address`, `server.port`, `http.response.status_code`, `error.type` | each request sent (one per attempt), until its response head or error |
//! | `http.client.active_requests` | gauge (up/down) | {request} | `http.request.method`, `server.address`, `server.port` | requests in flight |
//! | `steadfast.call.duration` | histogram | s | `http.request.method`, `server.address`, `server.port`, `steadfast.outcome`, `error.type` | each logical call, attempts and waits included; outcome `applied`, `not_applied` or `unknown` |
//! | `steadfast.call.attempts` | histogram | {attempt} | `http.request.method`, `server.address`, `steadfast.outcome` | attempts per logical call |
//! | `steadfast.retries` | counter | {retry} | `http.request.method`, `error.type` | retries scheduled, by the failure that caused them |
//! | `steadfast.retry.budget_exhausted` | counter | {retry} | — | retries the retry budget refused |
//! | `steadfast.rate_limit.wait.duration` | histogram | s | `steadfast.rate_limit.cause` (`quota`, `server_pause`) | time an attempt waited for a permit |
//! | `steadfast.rate_limit.refusals` | counter | {call} | — | calls refused unsent: no permit within `max_wait` |
//! | `steadfast.rate_limit.pauses` | counter | {pause} | `http.response.status_code` | pauses a server asked for (429, 503, spent quota) |
//! | `steadfast.circuit.state` | gauge | — | `steadfast.circuit` | 0 closed, 1 half-open, 2 open |
//! | `steadfast.circuit.transitions` | counter | {transition} | `steadfast.circuit`, `steadfast.circuit.state` | changes of state, by the state entered |
//! | `steadfast.circuit.rejections` | counter | {call} | `steadfast.circuit` | calls failed fast by an open circuit, unsent |
//! | `steadfast.idempotency.replays` | counter | {call} | `http.response.status_code` | calls the ledger answered with a stored response, unsent |
//! | `steadfast.verifications` | counter | {verification} | `steadfast.verification` (`applied`, `not_applied`, `unknown`, `timed_out`) | a verifier's answers about calls that may have been applied |
//! | `steadfast.dead_letters.recorded` | counter | {letter} | `steadfast.outcome` | dead letters stored |
//! | `steadfast.dead_letters.replayed` | counter | {letter} | `steadfast.replay.result` (`resolved`, `failed_again`) | dead letters replayed |
//! | `steadfast.mapper.drift` | counter | {body} | `steadfast.mapper.type` | bodies decoded with unknown or missing optional fields |
//!
//! `http.client.request.duration` and `http.client.active_requests` are recorded by the
//! retry layer around each attempt it sends (the hedge's second attempt is not); the
//! `steadfast.call.*` metrics by the log layer, outermost in the [`Client`](crate::Client)
//! stack. A stack built by hand records what its layers record.
//!
//! # Cardinality
//!
//! Every attribute has a bounded set of values: methods outside the standard nine are
//! `_OTHER`, `error.type` is a status code or one of a fixed list of names, a circuit is
//! named by its key (the origin by default). No URL path, query, idempotency key or rate
//! limit key is ever an attribute: a path like `/orders/42` would make a series per order.
//! `server.address` is the host called, so a client that calls hosts taken from input
//! makes a series per host.
//!
//! # Prometheus names
//!
//! Prometheus exporters replace the dots: `http.client.request.duration` is scraped as
//! `http_client_request_duration` (`_seconds` appended when the exporter adds unit suffixes,
//! `_bucket`, `_sum` and `_count` for a histogram), and attributes likewise, so
//! `http.response.status_code` is the label `http_response_status_code`.
//!
//! # Cost
//!
//! Without a recorder every recording function stops after one check (a thread-local read
//! and an atomic load): no key is built and nothing allocated. Without the `metrics`
//! feature there is nothing at all. With a recorder, a call allocates its labels.
//!
//! A recorder whose type is zero-sized is taken for the facade's no-op recorder and gets
//! nothing: a recorder keeps its registry somewhere, so real ones are not.

mod attempt;
mod describe;
mod names;
mod record;

pub(crate) use attempt::AttemptStart;
pub use describe::{describe, unit_of};
pub use names::*;
pub(crate) use record::{
    budget_refused, call_ended, circuit_changed, circuit_refused, dead_letter_recorded,
    dead_letter_replayed, drift_seen, enabled, ledger_replayed, rate_limit_paused,
    rate_limit_refused, rate_limit_waited, retry_scheduled, verified,
};
