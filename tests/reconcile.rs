//! Reconciliation through its public API: two 100,000-record sets with planted
//! differences in both orders, every way a run must stop (unsorted, duplicate, full index,
//! stream error, no key), redaction, the report's JSON form, and a source read page by
//! page from a loopback API through a `steadfast::Client`.

use std::collections::BTreeSet;
use std::convert::Infallible;

use futures_util::{Stream, StreamExt as _, stream};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use steadfast::flow::reconcile::{
    Change, IndexLimit, Order, ReconcileConfig, ReconcileError, ReconcileReport, Side, map_records,
    reconcile,
};
use steadfast::mapper::{Fields, MapError, Mapper};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const RECORDS: i64 = 100_000;

/// An order in the common shape; source ids are even, so extra records can sit between.
fn order(i: i64) -> Value {
    json!({
        "id": i * 2,
        "total": i % 1000,
        "currency": "EUR",
        "customer": {"name": format!("customer {i}"), "address": {"city": "Lyon", "zip": "69001"}},
        "lines": [{"sku": format!("SKU-{}", i % 97), "qty": 1 + i % 5}],
        "updated_at": format!("2026-12-01T00:00:{:02}Z", i % 60),
    })
}

/// What the planted differences are, by source index.
fn missing(i: i64) -> bool {
    i % 9973 == 5
}
fn total_changed(i: i64) -> bool {
    i % 7919 == 3
}
fn city_changed(i: i64) -> bool {
    i % 8231 == 11
}
fn qty_changed(i: i64) -> bool {
    i % 6007 == 17
}
/// Extra records in the destination: odd ids between the source's even ones.
fn extra(i: i64) -> bool {
    i % 11_003 == 7
}

/// The destination: the source with the planted differences, and noise that must not
/// count (every timestamp differs, ignored; some totals as floats, equal by value).
fn destination_records() -> Vec<Value> {
    let mut records = Vec::new();
    for i in 0..RECORDS {
        if !missing(i) {
            let mut record = order(i);
            record["updated_at"] = json!("2026-12-02T03:00:00Z");
            if i % 3 == 0 {
                record["total"] = json!(f64::from(u32::try_from(i % 1000).expect("small")));
            }
            if total_changed(i) {
                record["total"] = json!(i % 1000 + 1);
            }
            if city_changed(i) {
                record["customer"]["address"]["city"] = json!("Lille");
            }
            if qty_changed(i) {
                record["lines"][0]["qty"] = json!(99);
            }
            records.push(record);
        }
        if extra(i) {
            let mut record = order(i);
            record["id"] = json!(i * 2 + 1);
            records.push(record);
        }
    }
    records
}

fn ok_stream(records: Vec<Value>) -> impl Stream<Item = Result<Value, Infallible>> {
    stream::iter(records.into_iter().map(Ok))
}

fn expected_keys(pick: fn(i64) -> bool, id: fn(i64) -> i64) -> Vec<Value> {
    (0..RECORDS)
        .filter(|&i| pick(i))
        .map(|i| json!(id(i)))
        .collect()
}

fn assert_planted_differences_found(report: &ReconcileReport) {
    let missing_keys = expected_keys(missing, |i| i * 2);
    let extra_keys = expected_keys(extra, |i| i * 2 + 1);
    let changed: BTreeSet<i64> = (0..RECORDS)
        .filter(|&i| !missing(i) && (total_changed(i) || city_changed(i) || qty_changed(i)))
        .collect();
    assert!(missing_keys.len() >= 10 && extra_keys.len() >= 9 && changed.len() >= 40);

    let counts = report.counts;
    let source_count = u64::try_from(RECORDS).expect("positive");
    let changed_count = u64::try_from(changed.len()).expect("small");
    assert_eq!(counts.source, source_count);
    assert_eq!(
        counts.destination,
        source_count - missing_keys.len() as u64 + extra_keys.len() as u64
    );
    assert_eq!(counts.missing, missing_keys.len() as u64);
    assert_eq!(counts.extra, extra_keys.len() as u64);
    assert_eq!(counts.different, changed_count);
    assert_eq!(
        counts.equal,
        source_count - missing_keys.len() as u64 - changed_count
    );
    assert_eq!(report.missing.items, missing_keys);
    assert_eq!(report.extra.items, extra_keys);
    assert_eq!(report.missing.left_out + report.extra.left_out, 0);

    // Every different record, in key order, with exactly its planted fields.
    let mut different = report.different.items.clone();
    different.sort_by_key(|d| d.key.as_i64());
    assert_eq!(different.len(), changed.len());
    for (difference, i) in different.iter().zip(&changed) {
        assert_eq!(difference.key, json!(i * 2));
        let mut expected = Vec::new();
        if total_changed(*i) {
            expected.push("/total");
        }
        if city_changed(*i) {
            expected.push("/customer/address/city");
        }
        if qty_changed(*i) {
            expected.push("/lines/0/qty");
        }
        let paths: Vec<&str> = difference.fields.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, expected, "order {i}");
        assert!(
            difference
                .fields
                .iter()
                .all(|f| f.change == Change::Changed)
        );
        assert!(
            difference
                .fields
                .iter()
                .all(|f| f.source.is_none() && f.destination.is_none()),
            "no value shown unless revealed"
        );
    }
}

fn config(order: Order) -> ReconcileConfig {
    ReconcileConfig::default()
        .order(order)
        .ignore("/updated_at")
        .max_examples(1000)
        .max_pending(200_000)
}

#[tokio::test]
async fn sorted_merge_finds_every_planted_difference_in_100k_records() {
    let source = (0..RECORDS).map(order).collect();
    let report = config(Order::Sorted)
        .reconcile(ok_stream(source), ok_stream(destination_records()), "/id")
        .await
        .expect("both sides sorted");
    assert_planted_differences_found(&report);
}

#[tokio::test]
async fn unsorted_index_finds_every_planted_difference_in_shuffled_100k_records() {
    let mut source: Vec<Value> = (0..RECORDS).map(order).collect();
    let mut destination = destination_records();
    let mut rng = fastrand::Rng::with_seed(21);
    rng.shuffle(&mut source);
    rng.shuffle(&mut destination);
    let report = config(Order::Unsorted)
        .reconcile(ok_stream(source), ok_stream(destination), "/id")
        .await
        .expect("index large enough");
    assert_planted_differences_found(&report);
}

#[test]
fn the_run_is_send_so_a_job_can_spawn_it() {
    fn assert_send<T: Send>(_: &T) {}
    for order in [Order::Sorted, Order::Unsorted] {
        let settings = config(order);
        let run = settings.reconcile(ok_stream(vec![]), ok_stream(vec![]), "/id");
        assert_send(&run);
    }
}

#[tokio::test]
async fn timestamps_count_unless_ignored() {
    let source: Vec<Value> = (0..100).map(order).collect();
    let mut destination = source.clone();
    destination[7]["updated_at"] = json!("later");
    let report = reconcile(
        ok_stream(source.clone()),
        ok_stream(destination.clone()),
        "/id",
    )
    .await
    .expect("reconciles");
    assert_eq!(report.counts.different, 1);
    assert_eq!(report.different.items[0].fields[0].path, "/updated_at");
    let report = ReconcileConfig::default()
        .ignore("/updated_at")
        .reconcile(ok_stream(source), ok_stream(destination), "/id")
        .await
        .expect("reconciles");
    assert!(report.is_clean(), "{report}");
}

#[tokio::test]
async fn sorted_mode_rejects_an_unsorted_stream() {
    let destination = vec![order(0), order(2), order(1), order(3)];
    let error = ReconcileConfig::default()
        .order(Order::Sorted)
        .reconcile(
            ok_stream((0..4).map(order).collect()),
            ok_stream(destination),
            "/id",
        )
        .await
        .expect_err("destination out of order");
    match error {
        ReconcileError::Unsorted {
            side,
            position,
            ref key,
            ref previous,
            ..
        } => {
            assert_eq!(side, Side::Destination);
            assert_eq!(position, 3);
            assert_eq!((key, previous), (&json!(2), &json!(4)));
        }
        other => panic!("expected Unsorted, got {other:?}"),
    }
    assert_eq!(
        error.to_string(),
        "the destination is not sorted by key: record 3 has key 2 after 4"
    );
}

#[tokio::test]
async fn duplicate_keys_are_errors_in_both_orders() {
    let source = || ok_stream(vec![order(0), order(1), order(1), order(2)]);
    let destination = || ok_stream((0..3).map(order).collect());
    for mode in [Order::Sorted, Order::Unsorted] {
        let error = ReconcileConfig::default()
            .order(mode)
            .reconcile(source(), destination(), "/id")
            .await
            .expect_err("a key twice");
        assert!(
            matches!(
                error,
                ReconcileError::DuplicateKey { side: Side::Source, position: 3, ref key, .. }
                    if key == &json!(2)
            ),
            "{mode:?}: {error:?}"
        );
    }
    // Unsorted: a duplicate still caught after its first record was matched and compared.
    let error = reconcile(
        ok_stream(vec![order(5), order(6), order(7), order(5)]),
        ok_stream(vec![order(5), order(6), order(7)]),
        "/id",
    )
    .await
    .expect_err("key 10 twice in the source");
    assert!(
        matches!(
            error,
            ReconcileError::DuplicateKey {
                side: Side::Source,
                position: 4,
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_full_index_is_an_error_not_growth() {
    // Opposite orders: every record waits until the middle, so the index must hold half.
    let source = || ok_stream((0..1000).map(order).collect());
    let reversed = || ok_stream((0..1000).rev().map(order).collect());
    let error = ReconcileConfig::default()
        .max_pending(100)
        .reconcile(source(), reversed(), "/id")
        .await
        .expect_err("more than 100 waiting");
    assert!(
        matches!(
            error,
            ReconcileError::IndexFull {
                side: Side::Source,
                position: 51,
                what: IndexLimit::Pending,
                limit: 100,
                ..
            }
        ),
        "{error:?}"
    );
    let error = ReconcileConfig::default()
        .max_keys(500)
        .reconcile(source(), source(), "/id")
        .await
        .expect_err("more than 500 keys");
    assert!(
        matches!(
            error,
            ReconcileError::IndexFull {
                side: Side::Source,
                position: 501,
                what: IndexLimit::Keys,
                limit: 500,
                ..
            }
        ),
        "{error:?}"
    );
    // With room, the same streams reconcile.
    let report = ReconcileConfig::default()
        .max_pending(1000)
        .reconcile(source(), reversed(), "/id")
        .await
        .expect("fits");
    assert_eq!(report.counts.equal, 1000);
}

#[tokio::test]
async fn streams_in_the_same_order_need_almost_no_index() {
    // Read in turns, records of the same key meet at once: only the unmatched ones (five
    // missing, five extra here) and the one in flight wait, so ten thousand records fit
    // in an index of twelve.
    let source: Vec<Value> = (0..10_000).map(order).collect();
    let destination: Vec<Value> = (0..10_000)
        .filter(|i| i % 2000 != 1)
        .map(order)
        .chain((0..5).map(|i| json!({"id": 100_001 + i * 2})))
        .collect();
    let report = ReconcileConfig::default()
        .max_pending(12)
        .reconcile(ok_stream(source), ok_stream(destination), "/id")
        .await
        .expect("fits in twelve");
    assert_eq!(
        (
            report.counts.equal,
            report.counts.missing,
            report.counts.extra
        ),
        (9_995, 5, 5)
    );
}

#[derive(Debug, thiserror::Error)]
#[error("connection reset by the ERP")]
struct Reset;

#[tokio::test]
async fn a_stream_error_ends_the_run_saying_which_side_and_how_far() {
    let destination =
        stream::iter((0..1000).map(|i| if i == 500 { Err(Reset) } else { Ok(order(i)) }));
    for mode in [Order::Sorted, Order::Unsorted] {
        let error = ReconcileConfig::default()
            .order(mode)
            .reconcile(
                ok_stream((0..1000).map(order).collect()),
                destination.clone(),
                "/id",
            )
            .await
            .expect_err("the destination fails");
        assert!(
            matches!(
                error,
                ReconcileError::Read {
                    side: Side::Destination,
                    records_read: 500,
                    ..
                }
            ),
            "{error:?}"
        );
        assert_eq!(error.side(), Some(Side::Destination));
        let cause = std::error::Error::source(&error).expect("the stream's error is kept");
        assert_eq!(cause.to_string(), "connection reset by the ERP");
    }
}

#[tokio::test]
async fn a_record_without_a_usable_key_is_an_error() {
    let destination = vec![order(0), json!({"id": 1.5}), order(2)];
    let error = reconcile(
        ok_stream((0..3).map(order).collect()),
        ok_stream(destination),
        "/id",
    )
    .await
    .expect_err("a fractional id");
    assert!(
        matches!(
            error,
            ReconcileError::MissingKey {
                side: Side::Destination,
                position: 2,
                ..
            }
        ),
        "{error:?}"
    );
    let error = reconcile(ok_stream(vec![]), ok_stream(vec![]), "id")
        .await
        .expect_err("not a pointer");
    assert!(matches!(error, ReconcileError::Config(_)), "{error:?}");
}

const SECRETS: [&str; 4] = [
    "sk_live_PLANTED_API_KEY",
    "hunter2-PLANTED",
    "PLANTED_NESTED_TOKEN",
    "PLANTED_OLD_KEY",
];

#[tokio::test]
async fn values_are_hidden_and_secrets_never_shown() {
    let source = vec![json!({
        "id": 1, "status": "paid", "email": "ada@example.com", "api_key": SECRETS[3],
        "password": "old", "settings": {"webhook": {"token": "old-token", "url": "https://x.example/hook"}},
    })];
    let destination = vec![json!({
        "id": 1, "status": "refunded", "email": "bob@example.com", "api_key": SECRETS[0],
        "password": SECRETS[1],
        "settings": {"webhook": {"token": SECRETS[2], "url": "https://y.example/hook"}},
    })];
    let run = |config: ReconcileConfig| {
        let (source, destination) = (source.clone(), destination.clone());
        async move {
            config
                .reconcile(ok_stream(source), ok_stream(destination), "/id")
                .await
                .expect("reconciles")
        }
    };

    // By default no value at all: only the paths.
    let report = run(ReconcileConfig::default()).await;
    let fields = &report.different.items[0].fields;
    let paths: BTreeSet<&str> = fields.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        BTreeSet::from([
            "/status",
            "/email",
            "/api_key",
            "/password",
            "/settings/webhook/token",
            "/settings/webhook/url"
        ])
    );
    let shown = format!(
        "{report}\n{report:?}\n{}",
        serde_json::to_string(&report).expect("json")
    );
    for value in ["paid", "refunded", "ada@", "bob@", "https://y"]
        .iter()
        .chain(&SECRETS)
    {
        assert!(!shown.contains(value), "{value} shown: {shown}");
    }

    // Revealed: ordinary values appear, sensitive names stay masked, even inside a
    // revealed object.
    let report = run(ReconcileConfig::default()
        .reveal("/status")
        .reveal("/api_key")
        .reveal("/password")
        .reveal("/settings"))
    .await;
    let field = |path: &str| {
        report.different.items[0]
            .fields
            .iter()
            .find(|f| f.path == path)
            .expect("field differs")
    };
    assert_eq!(field("/status").source.as_deref(), Some("\"paid\""));
    assert_eq!(
        field("/status").destination.as_deref(),
        Some("\"refunded\"")
    );
    assert_eq!(field("/email").destination, None, "email not revealed");
    for path in ["/api_key", "/password", "/settings/webhook/token"] {
        assert_eq!(field(path).source.as_deref(), Some("[redacted]"), "{path}");
        assert_eq!(
            field(path).destination.as_deref(),
            Some("[redacted]"),
            "{path}"
        );
    }
    assert_eq!(
        field("/settings/webhook/url").destination.as_deref(),
        Some("\"https://y.example/hook\"")
    );
    let shown = format!(
        "{report}\n{report:?}\n{}",
        serde_json::to_string(&report).expect("json")
    );
    assert!(shown.contains("refunded"), "revealed value shown: {shown}");
    for secret in SECRETS {
        assert!(!shown.contains(secret), "{secret} shown: {shown}");
    }
}

#[tokio::test]
async fn a_sensitive_key_is_masked_in_reports_and_errors() {
    let record = |token: &str| json!({"access_token": token, "n": 1});
    let report = reconcile(
        ok_stream(vec![record("PLANTED_TOKEN_A")]),
        ok_stream(vec![record("PLANTED_TOKEN_B")]),
        "/access_token",
    )
    .await
    .expect("reconciles");
    assert_eq!(report.missing.items, [json!("[redacted]")]);
    assert_eq!(report.extra.items, [json!("[redacted]")]);
    let error = reconcile(
        ok_stream(vec![record("PLANTED_TOKEN_A"), record("PLANTED_TOKEN_A")]),
        ok_stream(vec![]),
        "/access_token",
    )
    .await
    .expect_err("duplicate");
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains("PLANTED"), "{shown}");
}

#[tokio::test]
async fn examples_are_capped_and_counts_stay_exact() {
    let source: Vec<Value> = (0..500).map(order).collect();
    let mut destination: Vec<Value> = (250..500).map(order).collect();
    for record in destination.iter_mut().take(100) {
        record["total"] = json!(-1);
        record["currency"] = json!("USD");
        record["lines"][0]["sku"] = json!("?");
    }
    let report = ReconcileConfig::default()
        .order(Order::Sorted)
        .max_examples(3)
        .max_fields(2)
        .reconcile(ok_stream(source), ok_stream(destination), "/id")
        .await
        .expect("reconciles");
    assert_eq!((report.counts.missing, report.counts.different), (250, 100));
    assert_eq!(report.missing.items, [json!(0), json!(2), json!(4)]);
    assert_eq!(report.missing.left_out, 247);
    assert_eq!(report.different.items.len(), 3);
    assert_eq!(report.different.left_out, 97);
    let first = &report.different.items[0];
    assert_eq!(first.fields.len(), 2);
    assert_eq!(first.fields_left_out, 1);
    assert!(report.to_string().contains("(and 247 more)"), "{report}");
}

#[tokio::test]
async fn the_report_round_trips_through_json() {
    let source = vec![
        json!({"id": "a", "n": 1, "tags": ["x"]}),
        json!({"id": "b", "n": 2}),
    ];
    let destination = vec![
        json!({"id": "b", "n": 3, "new": true}),
        json!({"id": "c", "n": 1}),
    ];
    let report = ReconcileConfig::default()
        .reveal("/n")
        .reconcile(ok_stream(source), ok_stream(destination), "/id")
        .await
        .expect("reconciles");
    let stored = serde_json::to_value(&report).expect("serializes");
    assert_eq!(
        stored,
        json!({
            "counts": {"source": 2, "destination": 2, "equal": 0, "missing": 1, "extra": 1, "different": 1},
            "missing": {"items": ["a"], "left_out": 0},
            "extra": {"items": ["c"], "left_out": 0},
            "different": {"items": [{"key": "b", "fields": [
                {"path": "/n", "change": "changed", "source": "2", "destination": "3"},
                {"path": "/new", "change": "only_in_destination"},
            ], "fields_left_out": 0}], "left_out": 0},
        })
    );
    let read: ReconcileReport = serde_json::from_value(stored).expect("deserializes");
    assert_eq!(read, report);
}

#[derive(Serialize)]
struct Invoice {
    number: String,
    amount_cents: i64,
}

#[tokio::test]
async fn typed_records_and_composite_keys() {
    let source = stream::iter([
        Ok::<_, Infallible>(Invoice {
            number: "I-1".into(),
            amount_cents: 100,
        }),
        Ok(Invoice {
            number: "I-2".into(),
            amount_cents: 200,
        }),
    ]);
    let destination = ok_stream(vec![
        json!({"number": "I-1", "amount_cents": 100.0}),
        json!({"number": "I-2", "amount_cents": 250}),
    ]);
    let report = ReconcileConfig::default()
        .order(Order::Sorted)
        .reconcile(source, destination, "/number")
        .await
        .expect("reconciles");
    assert_eq!((report.counts.equal, report.counts.different), (1, 1));

    let key = steadfast::flow::reconcile::RecordKey::composite(["/tenant", "/no"]);
    let row = |tenant: &str, no: i64| json!({"tenant": tenant, "no": no});
    let report = ReconcileConfig::default()
        .order(Order::Sorted)
        .reconcile(
            ok_stream(vec![row("a", 2), row("b", 1)]),
            ok_stream(vec![row("a", 2), row("a", 3), row("b", 1)]),
            key,
        )
        .await
        .expect("sorted by tenant, then number");
    assert_eq!(report.extra.items, [json!(["a", 3])]);
}

// ---------------------------------------------------------------------------
// A source read from an API through the client.

/// An order as the shop's API sends it.
#[derive(Debug, Deserialize, Serialize)]
struct ShopPage {
    orders: Vec<Value>,
    next_page: Option<u32>,
}

/// The shop's order in the common shape: `order_no` becomes `id`, cents become units.
fn from_shop(order: &Value) -> Result<Value, MapError> {
    let mut f = Fields::new(order);
    let id = f.required::<i64>("order_no");
    let cents = f.required::<i64>("amount_cents");
    let status = f.required_text("state", steadfast::mapper::Text::TRIMMED);
    f.finish(|| Some(json!({"id": id?, "total": cents? / 100, "status": status?})))
}

const PAGE: i64 = 500;
const PAGES: i64 = 10;

async fn shop_api() -> MockServer {
    let server = MockServer::start().await;
    for page in 0..PAGES {
        let orders: Vec<Value> = (page * PAGE..(page + 1) * PAGE)
            .map(|i| json!({"order_no": i, "amount_cents": i * 100, "state": " paid "}))
            .collect();
        let next_page = (page + 1 < PAGES).then(|| u32::try_from(page + 1).expect("small"));
        Mock::given(method("GET"))
            .and(path("/orders"))
            .and(query_param("page", page.to_string()))
            .respond_with(ResponseTemplate::new(200).set_body_json(ShopPage { orders, next_page }))
            .expect(1)
            .mount(&server)
            .await;
    }
    server
}

/// The shop's orders, page by page through the client, mapped to the common shape.
fn shop_orders(
    client: steadfast::Client,
    base: String,
) -> impl Stream<Item = Result<Value, steadfast::BoxError>> {
    stream::unfold(Some(0_u32), move |page| {
        let (client, base) = (client.clone(), base.clone());
        async move {
            let page = page?;
            let result: Result<ShopPage, steadfast::BoxError> = async {
                let response = client
                    .get(format!("{base}/orders?page={page}"))
                    .send()
                    .await?
                    .error_for_status()?;
                Ok(response.json::<ShopPage>().await?)
            }
            .await;
            Some(match result {
                Ok(body) => {
                    let mapped: Vec<_> = body
                        .orders
                        .iter()
                        .map(|o| from_shop.map(o).map_err(steadfast::BoxError::from))
                        .collect();
                    (stream::iter(mapped), body.next_page)
                }
                Err(error) => (stream::iter(vec![Err(error)]), None),
            })
        }
    })
    .flatten()
}

fn warehouse() -> Vec<Value> {
    (0..PAGE * PAGES)
        .filter(|i| i % 1000 != 999)
        .map(|i| {
            let status = if i == 1234 { "cancelled" } else { "paid" };
            json!({"id": i, "total": i, "status": status})
        })
        .collect()
}

#[tokio::test]
async fn a_source_read_page_by_page_from_a_loopback_api() {
    let server = shop_api().await;
    let client = steadfast::Client::new(reqwest::Client::new());
    let report = ReconcileConfig::default()
        .order(Order::Sorted)
        .reveal("/status")
        .reconcile(
            shop_orders(client, server.uri()),
            ok_stream(warehouse()),
            "/id",
        )
        .await
        .expect("reconciles");
    assert_eq!(report.counts.source, 5000);
    assert_eq!(
        report.missing.items,
        [
            json!(999),
            json!(1999),
            json!(2999),
            json!(3999),
            json!(4999)
        ]
    );
    assert_eq!(report.counts.different, 1);
    let field = &report.different.items[0].fields[0];
    assert_eq!(
        (field.path.as_str(), field.destination.as_deref()),
        ("/status", Some("\"cancelled\""))
    );
    let requests = server.received_requests().await.expect("recorded");
    let pages: Vec<String> = requests
        .iter()
        .filter_map(|r| r.url.query().map(str::to_owned))
        .collect();
    let expected: Vec<String> = (0..PAGES).map(|p| format!("page={p}")).collect();
    assert_eq!(pages, expected, "each page asked for once, in order");
}

#[tokio::test]
async fn a_record_the_mapper_rejects_ends_the_run_there() {
    let shop = stream::iter(
        [
            json!({"order_no": 1, "amount_cents": 100, "state": "paid"}),
            json!({"order_no": 2, "amount_cents": 200, "state": "paid"}),
            json!({"order_no": 3, "amount_cents": "lots", "state": "paid", "password": "PLANTED_PW"}),
        ]
        .map(Ok::<_, Infallible>),
    );
    let mapper = |order: Value| from_shop(&order);
    let error = ReconcileConfig::default()
        .order(Order::Sorted)
        .reconcile(map_records(shop, mapper), ok_stream(warehouse()), "/id")
        .await
        .expect_err("order 3 has no amount");
    assert!(
        matches!(
            error,
            ReconcileError::Read {
                side: Side::Source,
                records_read: 2,
                ..
            }
        ),
        "{error:?}"
    );
    let cause = std::error::Error::source(&error).expect("the mapper's error");
    assert!(cause.to_string().contains("amount_cents"), "{cause}");
    assert!(!format!("{error:?} {cause}").contains("PLANTED"));
}

#[tokio::test]
async fn a_page_that_fails_ends_the_run_at_that_page() {
    let server = MockServer::start().await;
    let orders: Vec<Value> = (0..PAGE)
        .map(|i| json!({"order_no": i, "amount_cents": i * 100, "state": "paid"}))
        .collect();
    Mock::given(query_param("page", "0"))
        .respond_with(ResponseTemplate::new(200).set_body_json(ShopPage {
            orders,
            next_page: Some(1),
        }))
        .mount(&server)
        .await;
    Mock::given(query_param("page", "1"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    let client = steadfast::Client::new(reqwest::Client::new());
    let error = reconcile(
        shop_orders(client, server.uri()),
        ok_stream(warehouse()),
        "/id",
    )
    .await
    .expect_err("page 1 is gone");
    assert!(
        matches!(
            error,
            ReconcileError::Read {
                side: Side::Source,
                records_read: 500,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(server.received_requests().await.expect("recorded").len(), 2);
}
