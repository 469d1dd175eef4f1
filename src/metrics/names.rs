//! Every metric's name, kind, unit, attributes and meaning, in one table.

/// What a metric is to a recorder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// A count that only grows (`metrics::counter!`).
    Counter,
    /// A value that goes up and down (`metrics::gauge!`).
    Gauge,
    /// A distribution of values (`metrics::histogram!`).
    Histogram,
}

/// The unit a metric's values are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MetricUnit {
    /// Seconds (OpenTelemetry's `s`).
    Seconds,
    /// A plain count (OpenTelemetry's `{request}`, `{call}`…).
    Count,
}

/// One metric steadfast records: see [`METRICS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metric {
    /// Its name, dotted as OpenTelemetry writes it.
    pub name: &'static str,
    /// Counter, gauge or histogram.
    pub kind: Kind,
    /// The unit of its values.
    pub unit: MetricUnit,
    /// The attributes (labels) it may carry; each one has a bounded set of values.
    pub attributes: &'static [&'static str],
    /// What it means, as [`describe`](super::describe) tells the recorder.
    pub description: &'static str,
}

/// OpenTelemetry's histogram of attempt durations: one value per request sent.
pub const HTTP_CLIENT_REQUEST_DURATION: &str = "http.client.request.duration";
/// OpenTelemetry's up/down count of requests in flight.
pub const HTTP_CLIENT_ACTIVE_REQUESTS: &str = "http.client.active_requests";
/// The duration of a logical call, every attempt and wait included.
pub const CALL_DURATION: &str = "steadfast.call.duration";
/// The attempts a logical call took.
pub const CALL_ATTEMPTS: &str = "steadfast.call.attempts";
/// Retries scheduled, by the failure that caused them.
pub const RETRIES: &str = "steadfast.retries";
/// Retries the retry budget refused.
pub const RETRY_BUDGET_EXHAUSTED: &str = "steadfast.retry.budget_exhausted";
/// Time an attempt waited for a rate-limit permit.
pub const RATE_LIMIT_WAIT_DURATION: &str = "steadfast.rate_limit.wait.duration";
/// Calls the rate limiter refused without sending.
pub const RATE_LIMIT_REFUSALS: &str = "steadfast.rate_limit.refusals";
/// Pauses a server asked for (429, 503, spent quota).
pub const RATE_LIMIT_PAUSES: &str = "steadfast.rate_limit.pauses";
/// A circuit's state: 0 closed, 1 half-open, 2 open.
pub const CIRCUIT_STATE: &str = "steadfast.circuit.state";
/// A circuit's changes of state.
pub const CIRCUIT_TRANSITIONS: &str = "steadfast.circuit.transitions";
/// Calls an open circuit failed fast, unsent.
pub const CIRCUIT_REJECTIONS: &str = "steadfast.circuit.rejections";
/// Calls the idempotency ledger answered with a stored response, unsent.
pub const LEDGER_REPLAYS: &str = "steadfast.idempotency.replays";
/// Questions a verifier answered about a call that may have been applied.
pub const VERIFICATIONS: &str = "steadfast.verifications";
/// Dead letters stored.
pub const DEAD_LETTERS_RECORDED: &str = "steadfast.dead_letters.recorded";
/// Dead letters replayed, by result.
pub const DEAD_LETTERS_REPLAYED: &str = "steadfast.dead_letters.replayed";
/// Decoded bodies that did not match their type (schema drift).
pub const MAPPER_DRIFT: &str = "steadfast.mapper.drift";

/// Attribute: the request's method (`GET`; `_OTHER` for a non-standard one).
pub const METHOD: &str = "http.request.method";
/// Attribute: the host called.
pub const SERVER_ADDRESS: &str = "server.address";
/// Attribute: the port called.
pub const SERVER_PORT: &str = "server.port";
/// Attribute: the response's status code.
pub const STATUS_CODE: &str = "http.response.status_code";
/// Attribute: what failed: a status code, or `timeout`, `connect`, `connection_reset`…
pub const ERROR_TYPE: &str = "error.type";
/// Attribute: how a call ended: `applied`, `not_applied` or `unknown`.
pub const OUTCOME: &str = "steadfast.outcome";
/// Attribute: why an attempt waited for the rate limiter: `quota` or `server_pause`.
pub const RATE_LIMIT_CAUSE: &str = "steadfast.rate_limit.cause";
/// Attribute: the circuit's name (its key: the origin by default).
pub const CIRCUIT: &str = "steadfast.circuit";
/// Attribute: the state a circuit moved to: `closed`, `half_open` or `open`.
pub const CIRCUIT_STATE_ATTRIBUTE: &str = "steadfast.circuit.state";
/// Attribute: a verifier's answer: `applied`, `not_applied`, `unknown` or `timed_out`.
pub const VERIFICATION: &str = "steadfast.verification";
/// Attribute: a replay's result: `resolved` or `failed_again`.
pub const REPLAY_RESULT: &str = "steadfast.replay.result";
/// Attribute: the Rust type a body was decoded into.
pub const MAPPER_TYPE: &str = "steadfast.mapper.type";

const ATTEMPT: &[&str] = &[METHOD, SERVER_ADDRESS, SERVER_PORT, STATUS_CODE, ERROR_TYPE];
const CALL: &[&str] = &[METHOD, SERVER_ADDRESS, SERVER_PORT, OUTCOME, ERROR_TYPE];

/// Every metric steadfast records, in the order the module docs list them.
pub const METRICS: &[Metric] = &[
    Metric {
        name: HTTP_CLIENT_REQUEST_DURATION,
        kind: Kind::Histogram,
        unit: MetricUnit::Seconds,
        attributes: ATTEMPT,
        description: "Duration of each HTTP request sent (one per attempt), until its response head or error.",
    },
    Metric {
        name: HTTP_CLIENT_ACTIVE_REQUESTS,
        kind: Kind::Gauge,
        unit: MetricUnit::Count,
        attributes: &[METHOD, SERVER_ADDRESS, SERVER_PORT],
        description: "HTTP requests in flight.",
    },
    Metric {
        name: CALL_DURATION,
        kind: Kind::Histogram,
        unit: MetricUnit::Seconds,
        attributes: CALL,
        description: "Duration of each logical call, every attempt and wait included, by outcome (applied, not_applied, unknown).",
    },
    Metric {
        name: CALL_ATTEMPTS,
        kind: Kind::Histogram,
        unit: MetricUnit::Count,
        attributes: &[METHOD, SERVER_ADDRESS, OUTCOME],
        description: "Attempts each logical call took.",
    },
    Metric {
        name: RETRIES,
        kind: Kind::Counter,
        unit: MetricUnit::Count,
        attributes: &[METHOD, ERROR_TYPE],
        description: "Retries scheduled, by the failure that caused them.",
    },
    Metric {
        name: RETRY_BUDGET_EXHAUSTED,
        kind: Kind::Counter,
        unit: MetricUnit::Count,
        attributes: &[],
        description: "Retries refused because the retry budget was spent.",
    },
    Metric {
        name: RATE_LIMIT_WAIT_DURATION,
        kind: Kind::Histogram,
        unit: MetricUnit::Seconds,
        attributes: &[RATE_LIMIT_CAUSE],
        description: "Time an attempt waited for a rate-limit permit, by cause (quota, server_pause).",
    },
    Metric {
        name: RATE_LIMIT_REFUSALS,
        kind: Kind::Counter,
        unit: MetricUnit::Count,
        attributes: &[],
        description: "Calls the rate limiter refused, unsent: no permit within max_wait.",
    },
    Metric {
        name: RATE_LIMIT_PAUSES,
        kind: Kind::Counter,
        unit: MetricUnit::Count,
        attributes: &[STATUS_CODE],
        description: "Pauses the server asked for (429, 503 or a spent quota), each pausing every caller on its key.",
    },
    Metric {
        name: CIRCUIT_STATE,
        kind: Kind::Gauge,
        unit: MetricUnit::Count,
        attributes: &[CIRCUIT],
        description: "A circuit's state: 0 closed, 1 half-open, 2 open.",
    },
    Metric {
        name: CIRCUIT_TRANSITIONS,
        kind: Kind::Counter,
        unit: MetricUnit::Count,
        attributes: &[CIRCUIT, CIRCUIT_STATE_ATTRIBUTE],
        description: "A circuit's changes of state, by the state entered.",
    },
    Metric {
        name: CIRCUIT_REJECTIONS,
        kind: Kind::Counter,
        unit: MetricUnit::Count,
        attributes: &[CIRCUIT],
        description: "Calls failed fast by an open circuit, unsent.",
    },
    Metric {
        name: LEDGER_REPLAYS,
        kind: Kind::Counter,
        unit: MetricUnit::Count,
        attributes: &[STATUS_CODE],
        description: "Calls the idempotency ledger answered with the stored response of an earlier call with the same key, unsent.",
    },
    Metric {
        name: VERIFICATIONS,
        kind: Kind::Counter,
        unit: MetricUnit::Count,
        attributes: &[VERIFICATION],
        description: "A verifier's answers about calls that may have been applied.",
    },
    Metric {
        name: DEAD_LETTERS_RECORDED,
        kind: Kind::Counter,
        unit: MetricUnit::Count,
        attributes: &[OUTCOME],
        description: "Dead letters stored, by outcome (not_applied, unknown).",
    },
    Metric {
        name: DEAD_LETTERS_REPLAYED,
        kind: Kind::Counter,
        unit: MetricUnit::Count,
        attributes: &[REPLAY_RESULT],
        description: "Dead letters replayed, by result (resolved, failed_again).",
    },
    Metric {
        name: MAPPER_DRIFT,
        kind: Kind::Counter,
        unit: MetricUnit::Count,
        attributes: &[MAPPER_TYPE],
        description: "Bodies decoded with drift: fields the type does not know, or optional fields missing.",
    },
];
