//! Bulk batching against a loopback API: count, byte and linger boundaries on a paused
//! clock, per-record results mapped back, whole-batch failures, and the rate limit.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures_util::{Stream, StreamExt as _};
use serde::Serialize;
use serde_json::{Value, json};
use steadfast::dead_letter::sink::MemorySink;
use steadfast::flow::{
    BatchConfig, BatchError, BatchReport, Batcher, RecordFailure, RecordOutcome, RecordResult,
    RecordState,
};
use steadfast::mapper::MapError;
use steadfast::rate_limit::{Quota, RateLimitConfig};
use steadfast::retry::RetryConfig;
use steadfast::{Client, ClientBuilder};
use tokio::sync::mpsc;
use tokio::time::Instant;

#[derive(Debug, Clone, Serialize, PartialEq)]
struct Order {
    id: u64,
    sku: String,
}

fn order(id: u64) -> Order {
    Order {
        id,
        sku: if id % 10 == 3 || id % 10 == 7 {
            "BAD".into()
        } else {
            format!("SKU-{id:04}")
        },
    }
}

/// One bulk call as the server saw it.
#[derive(Debug, Clone)]
struct Call {
    at: Instant,
    len: usize,
    records: Vec<Value>,
}

#[derive(Default)]
struct Api {
    calls: Mutex<Vec<Call>>,
}

impl Api {
    fn record(&self, body: &Bytes) -> Vec<Value> {
        let records: Vec<Value> = serde_json::from_slice(body).expect("a JSON array");
        self.calls.lock().expect("lock").push(Call {
            at: Instant::now(),
            len: body.len(),
            records: records.clone(),
        });
        records
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("lock").clone()
    }
}

/// Accepts every record but those with sku `BAD`, in a per-record results array.
async fn bulk(State(api): State<Arc<Api>>, body: Bytes) -> Response {
    let results: Vec<Value> = api
        .record(&body)
        .iter()
        .map(|r| {
            if r["sku"] == "BAD" {
                json!({ "ok": false, "code": "E42", "error": "sku unknown" })
            } else {
                json!({ "ok": true, "id": r["id"] })
            }
        })
        .collect();
    axum::Json(json!({ "results": results })).into_response()
}

async fn unavailable(State(api): State<Arc<Api>>, body: Bytes) -> Response {
    api.record(&body);
    StatusCode::SERVICE_UNAVAILABLE.into_response()
}

async fn broken(State(api): State<Arc<Api>>, body: Bytes) -> Response {
    api.record(&body);
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}

/// A 200 with one result fewer than records.
async fn short(State(api): State<Arc<Api>>, body: Bytes) -> Response {
    let records = api.record(&body);
    let results = vec![json!({ "ok": true, "id": 0 }); records.len() - 1];
    axum::Json(json!({ "results": results })).into_response()
}

async fn start() -> (Arc<Api>, String) {
    let api = Arc::new(Api::default());
    let app = axum::Router::new()
        .route("/bulk", post(bulk))
        .route("/unavailable", post(unavailable))
        .route("/broken", post(broken))
        .route("/short", post(short))
        .with_state(Arc::clone(&api));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (api, base)
}

fn results(body: &Value) -> Result<Vec<RecordResult>, MapError> {
    let results = body["results"]
        .as_array()
        .ok_or_else(|| MapError::custom("no results array"))?;
    Ok(results
        .iter()
        .map(|r| {
            if r["ok"] == true {
                Ok(r["id"].clone())
            } else {
                let message = r["error"].as_str().unwrap_or("rejected");
                let failure = RecordFailure::new(message);
                Err(match r["code"].as_str() {
                    Some(code) => failure.code(code),
                    None => failure,
                })
            }
        })
        .collect())
}

/// The results mapper, as a plain function pointer.
type Results = fn(&Value) -> Result<Vec<RecordResult>, MapError>;

fn builder() -> ClientBuilder {
    common::paused(RetryConfig::default().without_budget().max_retries(1))
}

fn batcher(
    client: Client,
    url: String,
    config: &BatchConfig,
) -> Batcher<
    Order,
    impl Fn(&Client, bytes::Bytes) -> steadfast::RequestBuilder + Send + Sync + 'static,
    Results,
> {
    Batcher::new(
        client,
        config,
        move |client: &Client, body| {
            client
                .post(&url)
                .header("content-type", "application/json")
                .body(body)
        },
        results as Results,
    )
    .expect("valid batch config")
}

async fn all(reports: impl Stream<Item = BatchReport<Order>>) -> Vec<BatchReport<Order>> {
    reports.collect().await
}

fn sizes(calls: &[Call]) -> Vec<usize> {
    calls.iter().map(|c| c.records.len()).collect()
}

#[tokio::test(start_paused = true)]
async fn batches_are_cut_by_count_and_the_last_goes_when_the_input_ends() {
    let (api, base) = start().await;
    let config = BatchConfig::default()
        .max_records(100)
        .linger(Duration::from_secs(3600));
    let started = Instant::now();

    let reports = batcher(common::build(builder()), format!("{base}/bulk"), &config)
        .run(futures_util::stream::iter((0..250).map(order)));
    let reports = all(reports).await;

    assert_eq!(sizes(&api.calls()), [100, 100, 50]);
    let numbers: Vec<u64> = reports.iter().map(BatchReport::number).collect();
    assert_eq!(numbers, [0, 1, 2]);
    let ids: Vec<u64> = reports
        .iter()
        .flat_map(|r| r.records().iter().map(|r| r.record.id))
        .collect();
    assert_eq!(
        ids,
        (0..250).collect::<Vec<_>>(),
        "every record reported once, in order"
    );
    // The input's end sends the last batch at once: no linger waited.
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn batches_are_cut_before_the_byte_cap_and_a_larger_record_goes_alone() {
    let (api, base) = start().await;
    // Ids 10..20 serialize to the same length: `{"id":10,"sku":"SKU-0010"}`.
    let one = serde_json::to_vec(&order(10)).expect("json").len();
    let max_bytes = 2 + 3 * one + 2; // three records and their two commas
    let config = BatchConfig::default()
        .max_bytes(max_bytes)
        .linger(Duration::from_secs(3600));
    let huge = Order {
        id: 99,
        sku: "X".repeat(max_bytes),
    };
    let records = (10..20).map(order).chain([huge, order(11)]);

    let reports = batcher(common::build(builder()), format!("{base}/bulk"), &config)
        .run(futures_util::stream::iter(records));
    let reports = all(reports).await;

    let calls = api.calls();
    assert_eq!(sizes(&calls), [3, 3, 3, 1, 1, 1]);
    for call in &calls[..4] {
        assert!(call.len <= max_bytes, "{} > {max_bytes}", call.len);
    }
    assert_eq!(
        calls[0].len, max_bytes,
        "a full batch fills the cap exactly"
    );
    assert_eq!(
        calls[4].records[0]["id"], 99,
        "the oversized record went alone"
    );
    assert_eq!(reports.len(), 6);
}

#[tokio::test(start_paused = true)]
async fn a_batch_waits_its_linger_for_more_records_then_goes() {
    let (api, base) = start().await;
    let linger = Duration::from_millis(250);
    let config = BatchConfig::default().max_records(100).linger(linger);
    let (sender, receiver) = mpsc::channel::<Order>(16);
    let input = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|order| (order, receiver))
    });
    let mut reports = batcher(common::build(builder()), format!("{base}/bulk"), &config).run(input);

    let first_at = Instant::now();
    for id in 0..3 {
        sender.send(order(id)).await.expect("open");
    }
    let report = reports.next().await.expect("a report");
    assert_eq!(report.records().len(), 3);
    let calls = api.calls();
    assert_eq!(
        calls[0].at - first_at,
        linger,
        "sent exactly one linger after the first"
    );

    // Records that trickle in, 100 ms apart: the batch goes one linger after its first.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let second_at = Instant::now();
    let feeder = tokio::spawn(async move {
        for id in 3..10 {
            sender.send(order(id)).await.expect("open");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let report = reports.next().await.expect("a report");
    let ids: Vec<u64> = report.records().iter().map(|r| r.record.id).collect();
    assert_eq!(ids, [3, 4, 5]);
    assert_eq!(api.calls()[1].at - second_at, linger);
    feeder.await.expect("feeder");
    // The sender is gone: the rest goes without waiting.
    let rest = reports.next().await.expect("a report");
    assert_eq!(rest.records().len(), 4);
    assert!(reports.next().await.is_none());
}

#[tokio::test(start_paused = true)]
async fn per_record_failures_are_mapped_back_to_exactly_those_records() {
    let (api, base) = start().await;
    let batcher = batcher(
        common::build(builder()),
        format!("{base}/bulk"),
        &BatchConfig::default(),
    );

    let report = batcher.send((0..20).map(order).collect()).await;

    assert_eq!(api.calls().len(), 1);
    assert_eq!(report.status(), Some(StatusCode::OK));
    assert!(report.error().is_none());
    let failed: Vec<u64> = report.failed().map(|r| r.record.id).collect();
    assert_eq!(failed, [3, 7, 13, 17]);
    for r in report.records() {
        match &r.outcome {
            RecordOutcome::Applied(id) => assert_eq!(id, &json!(r.record.id)),
            RecordOutcome::Rejected(failure) => {
                assert_eq!(r.record.sku, "BAD");
                assert_eq!(failure.code.as_deref(), Some("E42"));
                assert_eq!(failure.message, "sku unknown");
                assert_eq!(r.outcome.state(), RecordState::NotApplied);
            }
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert!(!report.all_applied());
}

#[tokio::test(start_paused = true)]
async fn with_dead_letters_each_rejected_record_is_a_letter_of_its_own() {
    let (api, base) = start().await;
    let sink = MemorySink::default();
    let client = common::build(builder().dead_letter_sink(sink.clone()));
    let with_letters = batcher(
        client.clone(),
        format!("{base}/bulk"),
        &BatchConfig::default(),
    );

    let report = with_letters.send((0..20).map(order).collect()).await;
    assert_eq!(report.failed().count(), 4);
    assert_eq!(api.calls().len(), 1, "a letter is stored, not sent");

    let letters = client
        .dead_letters()
        .expect("dead letters on")
        .list(&steadfast::dead_letter::LetterFilter::default())
        .await
        .expect("listed");
    let mut ids: Vec<u64> = letters
        .iter()
        .map(|letter| {
            assert_eq!(
                letter.outcome,
                steadfast::dead_letter::LetterOutcome::NotApplied
            );
            assert!(letter.is_replayable(), "{letter:?}");
            assert!(
                letter.request.url.ends_with("/bulk"),
                "{}",
                letter.request.url
            );
            assert!(letter.error.contains("sku unknown"), "{}", letter.error);
            // The bulk call with the rejected record alone.
            let body: Vec<Value> =
                serde_json::from_slice(letter.request.body.as_bytes().expect("a body"))
                    .expect("a JSON array");
            assert_eq!(body.len(), 1);
            assert_eq!(body[0]["sku"], "BAD");
            body[0]["id"].as_u64().expect("an id")
        })
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, [3, 7, 13, 17]);

    // Without dead letters on the client, the report alone says which records failed.
    let (_, base) = start().await;
    let plain = batcher(
        common::build(builder()),
        format!("{base}/bulk"),
        &BatchConfig::default(),
    );
    assert_eq!(
        plain
            .send((0..20).map(order).collect())
            .await
            .failed()
            .count(),
        4
    );
}

#[tokio::test(start_paused = true)]
async fn a_batch_that_fails_whole_reports_every_record_with_the_calls_state() {
    let (api, base) = start().await;
    let client = common::build(builder().dead_letter_sink(MemorySink::default()));
    let config = BatchConfig::default();

    // 503: retried once, then not applied; the dead-letter layer records the call.
    let down = batcher(client.clone(), format!("{base}/unavailable"), &config);
    let report = down.send((0..5).map(order).collect()).await;
    assert_eq!(api.calls().len(), 2, "one retry");
    assert_eq!(report.status(), Some(StatusCode::SERVICE_UNAVAILABLE));
    assert!(matches!(report.error(), Some(BatchError::Call(_))));
    assert_eq!(report.failed().count(), 5);
    assert!(
        report
            .records()
            .iter()
            .all(|r| r.outcome.state() == RecordState::NotApplied)
    );
    let letters = client.dead_letters().expect("dead letters on");
    assert_eq!(
        letters.recorded(),
        1,
        "the failed bulk call is one dead letter"
    );

    // 500 on a POST: maybe applied, not re-sent, unknown for every record.
    let broken = batcher(client.clone(), format!("{base}/broken"), &config);
    let report = broken.send((0..5).map(order).collect()).await;
    assert_eq!(api.calls().len(), 3, "not retried");
    assert!(
        report
            .records()
            .iter()
            .all(|r| r.outcome.state() == RecordState::Unknown)
    );

    // A 200 whose results do not match the records: unknown, with the counts.
    let short = batcher(client, format!("{base}/short"), &config);
    let report = short.send((0..5).map(order).collect()).await;
    assert!(
        matches!(
            report.error(),
            Some(BatchError::ResultCount {
                expected: 5,
                got: 4,
                ..
            })
        ),
        "{:?}",
        report.error()
    );
    assert!(
        report
            .records()
            .iter()
            .all(|r| r.outcome.state() == RecordState::Unknown)
    );
}

#[tokio::test(start_paused = true)]
async fn batches_keep_within_the_rate_limit() {
    let (api, base) = start().await;
    let quota = RateLimitConfig::new(Quota::per_second(2).burst(1)).jitter(Duration::ZERO);
    let client = common::build(builder().rate_limit(quota));
    let config = BatchConfig::default().max_records(10);

    let reports = batcher(client, format!("{base}/bulk"), &config)
        .run(futures_util::stream::iter((0..60).map(order)));
    let reports = all(reports).await;

    assert_eq!(reports.len(), 6);
    let calls = api.calls();
    assert_eq!(sizes(&calls), [10; 6]);
    for pair in calls.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(gap >= Duration::from_millis(500), "{gap:?}");
    }
    assert!(calls[5].at - calls[0].at >= Duration::from_millis(2500));
}

#[tokio::test]
async fn a_zero_bound_is_a_configuration_error() {
    let client = common::build(builder());
    let made = Batcher::<Order, _, _>::new(
        client,
        &BatchConfig::default().max_records(0),
        |client: &Client, body| client.post("http://127.0.0.1:9/bulk").body(body),
        results as Results,
    );
    assert!(made.is_err());
}
