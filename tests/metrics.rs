//! Metrics through the public API (feature `metrics`): a debugging recorder installed on
//! the test's thread (a current-thread runtime, so every poll happens there) sees each
//! metric's name, kind, unit, attributes and values, against real loopback servers.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use metrics_util::{CompositeKey, MetricKind};
use steadfast::breaker::CircuitBreakerConfig;
use steadfast::dead_letter::{DeadLetterSink as _, LetterFilter, MemorySink};
use steadfast::metrics::{self as names, Kind, METRICS, unit_of};
use steadfast::rate_limit::{Quota, RateLimitConfig};
use steadfast::retry::{BudgetConfig, RetryBudget, RetryConfig};
use steadfast::{Client, Error};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// One recorded series: its attributes and value.
#[derive(Debug)]
struct Series {
    labels: BTreeMap<String, String>,
    value: DebugValue,
}

/// What the recorder kept, by metric name, every entry checked against the table.
struct Seen(BTreeMap<String, Vec<Series>>);

impl Seen {
    fn take(snapshotter: &Snapshotter) -> Self {
        let mut seen: BTreeMap<String, Vec<Series>> = BTreeMap::new();
        for (key, unit, _description, value) in snapshotter.snapshot().into_vec() {
            let series = checked(&key, unit, value);
            seen.entry(key.key().name().to_owned())
                .or_default()
                .push(series);
        }
        Self(seen)
    }

    fn all(&self, name: &str) -> &[Series] {
        self.0.get(name).map_or(&[], Vec::as_slice)
    }

    fn has(&self, name: &str) -> bool {
        !self.all(name).is_empty()
    }

    /// The one series of `name` whose attributes include `labels`.
    fn one(&self, name: &str, labels: &[(&str, &str)]) -> &Series {
        let found: Vec<&Series> = self
            .all(name)
            .iter()
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect();
        assert_eq!(found.len(), 1, "{name} {labels:?} in {:#?}", self.0);
        found[0]
    }

    fn counter(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        match self.one(name, labels).value {
            DebugValue::Counter(n) => n,
            ref other => panic!("{name} is not a counter: {other:?}"),
        }
    }

    fn gauge(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        match self.one(name, labels).value {
            DebugValue::Gauge(v) => v.0,
            ref other => panic!("{name} is not a gauge: {other:?}"),
        }
    }

    /// The values of every series of `name` whose attributes include `labels`.
    fn samples(&self, name: &str, labels: &[(&str, &str)]) -> Vec<(BTreeMap<String, String>, f64)> {
        let mut samples = Vec::new();
        for series in self.all(name) {
            let matches = labels
                .iter()
                .all(|(k, v)| series.labels.get(*k).map(String::as_str) == Some(*v));
            if let (true, DebugValue::Histogram(values)) = (matches, &series.value) {
                samples.extend(values.iter().map(|v| (series.labels.clone(), v.0)));
            }
        }
        samples
    }

    fn histogram(&self, name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
        match &self.one(name, labels).value {
            DebugValue::Histogram(values) => values.iter().map(|v| v.0).collect(),
            other => panic!("{name} is not a histogram: {other:?}"),
        }
    }
}

/// The entry as the table in `steadfast::metrics` says it must be: a known name, its kind,
/// its unit (given by `describe`) and only its attributes.
fn checked(key: &CompositeKey, unit: Option<metrics::Unit>, value: DebugValue) -> Series {
    let name = key.key().name();
    let metric = METRICS
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("{name} is not in the table"));
    let kind = match metric.kind {
        Kind::Counter => MetricKind::Counter,
        Kind::Gauge => MetricKind::Gauge,
        Kind::Histogram => MetricKind::Histogram,
        _ => unreachable!("a kind the test does not know"),
    };
    assert_eq!(key.kind(), kind, "{name}");
    assert_eq!(unit, Some(unit_of(metric.unit)), "{name}");
    let labels: BTreeMap<String, String> = key
        .key()
        .labels()
        .map(|l| (l.key().to_owned(), l.value().to_owned()))
        .collect();
    for label in labels.keys() {
        assert!(
            metric.attributes.contains(&label.as_str()),
            "{name} carries {label}, not in its attributes"
        );
    }
    Series { labels, value }
}

/// A recorder on this thread, told every metric's unit.
fn recorder() -> (DebuggingRecorder, Snapshotter) {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    (recorder, snapshotter)
}

fn quick_retries() -> RetryConfig {
    RetryConfig::default()
        .max_retries(2)
        .base_delay(Duration::from_millis(1))
        .max_delay(Duration::from_millis(2))
        .without_budget()
}

fn client(retry: RetryConfig) -> Client {
    common::build(Client::builder().retry(retry))
}

async fn api(status: u16) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(path("/orders"))
        .respond_with(ResponseTemplate::new(status))
        .mount(&server)
        .await;
    server
}

fn port(server: &MockServer) -> String {
    server.address().port().to_string()
}

#[tokio::test]
async fn a_success_records_one_attempt_and_one_applied_call() {
    let (recorder, snapshotter) = recorder();
    let _local = metrics::set_default_local_recorder(&recorder);
    steadfast::metrics::describe();
    let server = api(200).await;
    let response = client(quick_retries())
        .get(format!("{}/orders", server.uri()))
        .send()
        .await
        .expect("200");
    assert_eq!(response.status(), 200);
    assert_eq!(common::received(&server).await, 1);

    let seen = Seen::take(&snapshotter);
    let port = port(&server);
    let attempt = [
        ("http.request.method", "GET"),
        ("server.address", "127.0.0.1"),
        ("server.port", port.as_str()),
        ("http.response.status_code", "200"),
    ];
    let durations = seen.histogram(names::HTTP_CLIENT_REQUEST_DURATION, &attempt);
    assert_eq!(durations.len(), 1);
    assert!(durations[0] >= 0.0 && durations[0] < 10.0, "{durations:?}");
    let series = seen.one(names::HTTP_CLIENT_REQUEST_DURATION, &attempt);
    assert!(!series.labels.contains_key("error.type"), "{series:?}");
    // In flight while it ran, and no more.
    let active = [
        ("http.request.method", "GET"),
        ("server.port", port.as_str()),
    ];
    assert!((seen.gauge(names::HTTP_CLIENT_ACTIVE_REQUESTS, &active)).abs() < f64::EPSILON);

    let call = [
        ("http.request.method", "GET"),
        ("server.address", "127.0.0.1"),
        ("server.port", port.as_str()),
        ("steadfast.outcome", "applied"),
    ];
    assert_eq!(seen.histogram(names::CALL_DURATION, &call).len(), 1);
    assert!(
        !seen
            .one(names::CALL_DURATION, &call)
            .labels
            .contains_key("error.type")
    );
    assert_eq!(
        seen.histogram(names::CALL_ATTEMPTS, &[("steadfast.outcome", "applied")]),
        vec![1.0]
    );
    assert!(!seen.has(names::RETRIES));
    // No path, query or key reaches an attribute.
    for series in seen.0.values().flatten() {
        assert!(
            series.labels.values().all(|v| !v.contains("orders")),
            "{series:?}"
        );
    }
}

#[tokio::test]
async fn a_retried_success_records_each_attempt_and_the_retry() {
    let (recorder, snapshotter) = recorder();
    let _local = metrics::set_default_local_recorder(&recorder);
    steadfast::metrics::describe();
    let server = MockServer::start().await;
    Mock::given(path("/orders"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/orders"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    client(quick_retries())
        .get(format!("{}/orders", server.uri()))
        .send()
        .await
        .expect("200 at the second attempt");
    assert_eq!(common::received(&server).await, 2);

    let seen = Seen::take(&snapshotter);
    assert_eq!(seen.all(names::HTTP_CLIENT_REQUEST_DURATION).len(), 2);
    let failed = seen.one(
        names::HTTP_CLIENT_REQUEST_DURATION,
        &[("http.response.status_code", "503"), ("error.type", "503")],
    );
    assert!(matches!(&failed.value, DebugValue::Histogram(v) if v.len() == 1));
    assert_eq!(
        seen.histogram(
            names::HTTP_CLIENT_REQUEST_DURATION,
            &[("http.response.status_code", "200")]
        )
        .len(),
        1
    );
    assert_eq!(
        seen.counter(
            names::RETRIES,
            &[("http.request.method", "GET"), ("error.type", "503")]
        ),
        1
    );
    assert_eq!(
        seen.histogram(names::CALL_ATTEMPTS, &[("steadfast.outcome", "applied")]),
        vec![2.0]
    );
    assert_eq!(
        seen.histogram(names::CALL_DURATION, &[("steadfast.outcome", "applied")])
            .len(),
        1
    );
}

#[tokio::test(start_paused = true)]
async fn a_429_pauses_the_key_and_the_next_call_waits() {
    let (recorder, snapshotter) = recorder();
    let _local = metrics::set_default_local_recorder(&recorder);
    steadfast::metrics::describe();
    let server = MockServer::start().await;
    Mock::given(path("/orders"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "2"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/orders"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let limits = RateLimitConfig::new(Quota::per_second(1_000)).jitter(Duration::ZERO);
    let client =
        common::build(common::paused(RetryConfig::default().max_retries(0)).rate_limit(limits));
    let url = format!("{}/orders", server.uri());
    let error = client.get(&url).send().await.expect_err("429, not retried");
    assert_eq!(error.status().map(|s| s.as_u16()), Some(429));
    client.get(&url).send().await.expect("200 after the pause");
    assert_eq!(common::received(&server).await, 2);

    let seen = Seen::take(&snapshotter);
    assert_eq!(
        seen.counter(
            names::RATE_LIMIT_PAUSES,
            &[("http.response.status_code", "429")]
        ),
        1
    );
    let waits = seen.histogram(
        names::RATE_LIMIT_WAIT_DURATION,
        &[("steadfast.rate_limit.cause", "server_pause")],
    );
    assert_eq!(waits.len(), 1, "{waits:?}");
    assert!(
        (waits[0] - 2.0).abs() < 0.05,
        "waited the server's 2 s: {waits:?}"
    );
    assert_eq!(
        seen.histogram(
            names::CALL_DURATION,
            &[("steadfast.outcome", "not_applied"), ("error.type", "429")]
        )
        .len(),
        1
    );
    assert_eq!(
        seen.histogram(names::CALL_DURATION, &[("steadfast.outcome", "applied")])
            .len(),
        1
    );
}

#[tokio::test]
async fn a_request_that_never_connected_is_timed_with_its_error_type() {
    let (recorder, snapshotter) = recorder();
    let _local = metrics::set_default_local_recorder(&recorder);
    steadfast::metrics::describe();
    let port = common::closed_port().to_string();
    client(quick_retries().max_retries(1))
        .get(format!("http://127.0.0.1:{port}/orders"))
        .send()
        .await
        .expect_err("nothing listens");

    let seen = Seen::take(&snapshotter);
    let requests = seen.samples(
        names::HTTP_CLIENT_REQUEST_DURATION,
        &[("server.port", port.as_str()), ("error.type", "connect")],
    );
    assert_eq!(requests.len(), 2, "both attempts: {requests:?}");
    assert!(
        requests
            .iter()
            .all(|(l, _)| !l.contains_key("http.response.status_code"))
    );
    assert_eq!(
        seen.counter(names::RETRIES, &[("error.type", "connect")]),
        1
    );
    assert!(
        seen.gauge(
            names::HTTP_CLIENT_ACTIVE_REQUESTS,
            &[("server.port", port.as_str())]
        )
        .abs()
            < f64::EPSILON,
        "no request left in flight"
    );
    assert_eq!(
        seen.histogram(
            names::CALL_DURATION,
            &[
                ("steadfast.outcome", "not_applied"),
                ("error.type", "connect")
            ]
        )
        .len(),
        1
    );
}

#[tokio::test]
async fn a_budget_refusal_is_counted() {
    let (recorder, snapshotter) = recorder();
    let _local = metrics::set_default_local_recorder(&recorder);
    steadfast::metrics::describe();
    let server = api(503).await;
    // One retry a second at most and no successes to earn more: the second call's retry
    // is refused.
    let budget = RetryBudget::new(
        &BudgetConfig::default()
            .min_per_second(0.1)
            .window(Duration::from_secs(10)),
    )
    .expect("valid budget");
    let client = common::build(
        Client::builder()
            .retry(quick_retries().max_retries(1))
            .shared_budget(budget),
    );
    let url = format!("{}/orders", server.uri());
    let mut refused = 0;
    for _ in 0..3 {
        let error = client.get(&url).send().await.expect_err("503");
        refused += u64::from(common::budget_exhausted(&error));
    }
    assert!(refused >= 1, "the budget ran out");

    let seen = Seen::take(&snapshotter);
    assert_eq!(
        seen.counter(names::RETRY_BUDGET_EXHAUSTED, &[]),
        refused,
        "one count per refused retry"
    );
    let retries = seen.counter(names::RETRIES, &[("error.type", "503")]);
    assert_eq!(
        common::received(&server).await as u64,
        3 + retries,
        "every call's first attempt, plus the retries counted"
    );
}

#[tokio::test]
async fn an_open_circuit_records_its_state_transition_and_refusals() {
    let (recorder, snapshotter) = recorder();
    let _local = metrics::set_default_local_recorder(&recorder);
    steadfast::metrics::describe();
    let server = api(503).await;
    let breaker = CircuitBreakerConfig::default()
        .minimum_calls(2)
        .failure_ratio(0.5)
        .break_duration(Duration::from_secs(60));
    let client = common::build(
        Client::builder()
            .retry(RetryConfig::default().max_retries(0))
            .breaker(breaker),
    );
    let url = format!("{}/orders", server.uri());
    for _ in 0..2 {
        client.get(&url).send().await.expect_err("503");
    }
    let error = client.get(&url).send().await.expect_err("refused");
    assert!(matches!(error, Error::CircuitOpen { .. }), "{error:?}");
    assert_eq!(
        common::received(&server).await,
        2,
        "the refused call was not sent"
    );

    let seen = Seen::take(&snapshotter);
    let circuit = seen.all(names::CIRCUIT_STATE);
    assert_eq!(circuit.len(), 1, "{circuit:?}");
    let name = circuit[0].labels["steadfast.circuit"].clone();
    assert!(name.contains("127.0.0.1"), "named by its key: {name}");
    assert!((seen.gauge(names::CIRCUIT_STATE, &[]) - 2.0).abs() < f64::EPSILON);
    assert_eq!(
        seen.counter(
            names::CIRCUIT_TRANSITIONS,
            &[
                ("steadfast.circuit", name.as_str()),
                ("steadfast.circuit.state", "open")
            ]
        ),
        1
    );
    assert_eq!(
        seen.counter(
            names::CIRCUIT_REJECTIONS,
            &[("steadfast.circuit", name.as_str())]
        ),
        1
    );
    // Two requests went over the wire; the refused call is a call, not a request.
    let requests = seen.samples(names::HTTP_CLIENT_REQUEST_DURATION, &[]);
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert!(
        requests
            .iter()
            .all(|(l, _)| l["http.response.status_code"] == "503")
    );
    let calls = seen.samples(
        names::CALL_DURATION,
        &[("steadfast.outcome", "not_applied")],
    );
    let mut error_types: Vec<&str> = calls
        .iter()
        .map(|(l, _)| l["error.type"].as_str())
        .collect();
    error_types.sort_unstable();
    assert_eq!(error_types, ["503", "503", "circuit open"], "{calls:?}");
}

#[tokio::test]
async fn a_ledger_replay_is_counted_and_sends_nothing() {
    let (recorder, snapshotter) = recorder();
    let _local = metrics::set_default_local_recorder(&recorder);
    steadfast::metrics::describe();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/orders"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&server)
        .await;
    let client = client(quick_retries());
    let url = format!("{}/orders", server.uri());
    for _ in 0..2 {
        let response = client
            .post(&url)
            .idempotency_key("order-2024-0042")
            .json(&serde_json::json!({ "customer": "acme" }))
            .send()
            .await
            .expect("201");
        assert_eq!(response.status(), 201);
    }
    assert_eq!(
        common::received(&server).await,
        1,
        "the second from the ledger"
    );

    let seen = Seen::take(&snapshotter);
    assert_eq!(
        seen.counter(
            names::LEDGER_REPLAYS,
            &[("http.response.status_code", "201")]
        ),
        1
    );
    assert_eq!(
        seen.histogram(
            names::HTTP_CLIENT_REQUEST_DURATION,
            &[("http.request.method", "POST")]
        )
        .len(),
        1,
        "one attempt over the wire"
    );
    assert_eq!(
        seen.histogram(
            names::CALL_DURATION,
            &[
                ("http.request.method", "POST"),
                ("steadfast.outcome", "applied")
            ]
        )
        .len(),
        2,
        "two calls"
    );
}

#[tokio::test]
async fn a_dead_letter_is_counted_when_recorded_and_when_replayed() {
    let (recorder, snapshotter) = recorder();
    let _local = metrics::set_default_local_recorder(&recorder);
    steadfast::metrics::describe();
    let server = MockServer::start().await;
    Mock::given(path("/orders"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(3)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/orders"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&server)
        .await;
    let sink = MemorySink::default();
    let client = common::build(
        Client::builder()
            .retry(quick_retries())
            .dead_letter_sink(sink.clone()),
    );
    client
        .post(format!("{}/orders", server.uri()))
        .json(&serde_json::json!({ "customer": "acme" }))
        .send()
        .await
        .expect_err("503 three times");
    let letters = sink
        .list(&LetterFilter::default())
        .await
        .expect("memory never fails");
    assert_eq!(letters.len(), 1);
    client.replay(&letters[0]).await.expect("replayed");
    assert_eq!(common::received(&server).await, 4);

    let seen = Seen::take(&snapshotter);
    assert_eq!(
        seen.counter(
            names::DEAD_LETTERS_RECORDED,
            &[("steadfast.outcome", "not_applied")]
        ),
        1
    );
    assert_eq!(
        seen.counter(
            names::DEAD_LETTERS_REPLAYED,
            &[("steadfast.replay.result", "resolved")]
        ),
        1
    );
    assert_eq!(
        seen.histogram(
            names::CALL_ATTEMPTS,
            &[
                ("http.request.method", "POST"),
                ("steadfast.outcome", "not_applied")
            ]
        ),
        vec![3.0]
    );
}

#[tokio::test]
async fn schema_drift_is_counted_by_type() {
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Order {
        id: u64,
    }
    let (recorder, snapshotter) = recorder();
    let _local = metrics::set_default_local_recorder(&recorder);
    steadfast::metrics::describe();
    let body = br#"{"id": 1, "currency": "EUR"}"#;
    let (_, report) =
        steadfast::mapper::decode_with_drift::<Order>(body).expect("decodes with drift");
    assert!(!report.is_empty());
    steadfast::mapper::DriftMonitor::new().observe("Order", &report);

    let seen = Seen::take(&snapshotter);
    assert_eq!(
        seen.counter(names::MAPPER_DRIFT, &[("steadfast.mapper.type", "Order")]),
        1
    );
}

#[test]
fn nothing_is_recorded_without_a_recorder_and_every_metric_is_described() {
    // No local recorder on this thread and no global one: the call path does nothing.
    let (recorder, snapshotter) = recorder();
    metrics::with_local_recorder(&recorder, steadfast::metrics::describe);
    let described = snapshotter.snapshot().into_vec();
    // The debugging recorder lists described metrics only once they are registered.
    assert!(described.is_empty());
    let mut names: Vec<&str> = METRICS.iter().map(|m| m.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), METRICS.len(), "every name once");
    for metric in METRICS {
        assert!(!metric.description.is_empty(), "{}", metric.name);
        assert!(
            metric.name.starts_with("http.client.") || metric.name.starts_with("steadfast."),
            "{}",
            metric.name
        );
    }
}
