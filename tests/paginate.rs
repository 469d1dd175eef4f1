//! Pagination against a loopback API: every paginator, the bounds, resuming, and a 429 in
//! the middle of 10,000 records.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::StreamExt as _;
use serde::Deserialize;
use serde_json::json;
use steadfast::Client;
use steadfast::flow::{
    BodyCursor, Cursor, LinkHeader, Offset, Page, PaginateConfig, PaginateError, PaginateErrorKind,
    Paginator, Position, Stop, set_query_param,
};
use steadfast::retry::RetryConfig;

const TOTAL: u64 = 10_000;
const PAGE: u64 = 100;

#[derive(Debug, Deserialize, PartialEq)]
struct Order {
    id: u64,
}

/// The loopback API: 10,000 orders behind several pagination styles.
#[derive(Default)]
struct Api {
    /// Every request's path and query, in order.
    seen: Mutex<Vec<String>>,
    /// The cursor answered once with 429 + Retry-After.
    throttle_at: Option<u64>,
    throttled: AtomicBool,
    /// The cursor answered with 404 until `healed`.
    broken_at: Option<u64>,
    healed: AtomicBool,
    /// Base URL of the server, for absolute links.
    base: Mutex<String>,
    requests: AtomicU64,
}

type Params = Query<HashMap<String, String>>;

fn page_of(from: u64, size: u64) -> Vec<serde_json::Value> {
    (from..(from + size).min(TOTAL))
        .map(|id| json!({ "id": id }))
        .collect()
}

fn number(params: &HashMap<String, String>, name: &str, default: u64) -> u64 {
    params.get(name).map_or(default, |v| {
        v.trim_start_matches('c').parse().expect("a number")
    })
}

async fn cursor(State(api): State<Arc<Api>>, uri: Uri, Query(params): Params) -> Response {
    api.record(&uri);
    let at = number(&params, "cursor", 0);
    if api.throttle_at == Some(at) && !api.throttled.swap(true, Ordering::SeqCst) {
        return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")]).into_response();
    }
    if api.broken_at == Some(at) && !api.healed.load(Ordering::SeqCst) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let end = (at + PAGE).min(TOTAL);
    let next = (end < TOTAL).then(|| format!("c{end}"));
    axum::Json(json!({ "data": page_of(at, PAGE), "meta": { "next": next } })).into_response()
}

/// Hands back the cursor of page 1 again on page 1.
async fn cursor_loop(State(api): State<Arc<Api>>, uri: Uri, Query(params): Params) -> Response {
    api.record(&uri);
    let at = number(&params, "cursor", 0);
    let next = "c100";
    axum::Json(json!({ "data": page_of(at, PAGE), "meta": { "next": next } })).into_response()
}

async fn link(State(api): State<Arc<Api>>, uri: Uri, Query(params): Params) -> Response {
    api.record(&uri);
    let page = number(&params, "page", 1);
    let mut headers = HeaderMap::new();
    let last = TOTAL / PAGE;
    let mut links = vec![format!(r#"</link?page={last}&per_page=100>; rel="last""#)];
    if page < last {
        // Relative, with a title holding a comma and a semicolon, rel among two types.
        links.push(format!(
            r#"</link?page={}&per_page=100>; title="more, please; thanks"; rel="next nofollow""#,
            page + 1
        ));
    }
    headers.insert("link", links.join(", ").parse().expect("header"));
    (headers, axum::Json(page_of((page - 1) * PAGE, PAGE))).into_response()
}

/// Page 1 links to page 2 on another origin (same port, another host name).
async fn elsewhere(State(api): State<Arc<Api>>, uri: Uri) -> Response {
    api.record(&uri);
    let base = api
        .base
        .lock()
        .expect("lock")
        .replace("127.0.0.1", "localhost");
    let mut headers = HeaderMap::new();
    let link = format!(r#"<{base}/link?page=2>; rel="next""#);
    headers.insert("link", link.parse().expect("header"));
    (headers, axum::Json(page_of(0, PAGE))).into_response()
}

async fn offset(State(api): State<Arc<Api>>, uri: Uri, Query(params): Params) -> Response {
    api.record(&uri);
    let at = number(&params, "offset", 0);
    let limit = number(&params, "limit", 10);
    axum::Json(json!({ "data": page_of(at, limit), "total": TOTAL })).into_response()
}

async fn numbered(State(api): State<Arc<Api>>, uri: Uri, Query(params): Params) -> Response {
    api.record(&uri);
    let page = number(&params, "page", 1);
    axum::Json(page_of((page - 1) * PAGE, PAGE)).into_response()
}

/// Numbered pages, the next one named in `X-Next-Page`; and a page linking to itself.
async fn next_header(State(api): State<Arc<Api>>, uri: Uri, Query(params): Params) -> Response {
    api.record(&uri);
    let page = number(&params, "p", 0);
    let mut headers = HeaderMap::new();
    if page < 9 {
        headers.insert("x-next-page", (page + 1).into());
    }
    headers.insert(
        "link",
        r#"</self-link>; rel="next""#.parse().expect("header"),
    );
    (headers, axum::Json(page_of(page * 1_000, 1_000))).into_response()
}

impl Api {
    fn record(&self, uri: &Uri) {
        self.requests.fetch_add(1, Ordering::SeqCst);
        self.seen.lock().expect("lock").push(uri.to_string());
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().expect("lock").clone()
    }

    async fn start(self) -> (Arc<Self>, String) {
        let api = Arc::new(self);
        let app = axum::Router::new()
            .route("/cursor", get(cursor))
            .route("/cursor-loop", get(cursor_loop))
            .route("/link", get(link))
            .route("/elsewhere", get(elsewhere))
            .route("/offset", get(offset))
            .route("/numbered", get(numbered))
            .route("/next-header", get(next_header))
            .route("/self-link", get(next_header))
            .with_state(Arc::clone(&api));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        api.base.lock().expect("lock").clone_from(&base);
        tokio::spawn(async move { axum::serve(listener, app).await });
        (api, base)
    }
}

/// A client without timers of its own (paused clock), retrying 429s.
fn client() -> Client {
    common::paused_client(RetryConfig::default().without_budget())
}

fn ids(orders: &[Order]) -> Vec<u64> {
    orders.iter().map(|o| o.id).collect()
}

async fn collect(
    mut items: steadfast::flow::Items<Order>,
) -> (Vec<Order>, Option<PaginateError>, Position) {
    let mut orders = Vec::new();
    while let Some(item) = items.next().await {
        match item {
            Ok(order) => orders.push(order),
            Err(e) => return (orders, Some(e), items.position().clone()),
        }
    }
    let position = items.position().clone();
    (orders, None, position)
}

#[tokio::test(start_paused = true)]
async fn ten_thousand_records_with_a_429_in_the_middle_arrive_once_each_in_order() {
    let (api, base) = Api {
        throttle_at: Some(5_000),
        ..Api::default()
    }
    .start()
    .await;
    let client = client();
    let started = tokio::time::Instant::now();

    let items = client
        .paginate(
            client.get(format!("{base}/cursor")),
            BodyCursor::pointer("/meta/next", "cursor"),
        )
        .items::<Order>("/data");
    let (orders, error, position) = collect(items).await;

    assert!(error.is_none(), "{error:?}");
    assert_eq!(ids(&orders), (0..TOTAL).collect::<Vec<_>>());
    assert!(position.is_done());
    assert_eq!(position.pages(), TOTAL / PAGE);
    // 100 pages and the one retried after its 429, which the stack waited out.
    let seen = api.seen();
    assert_eq!(seen.len(), 101);
    assert_eq!(
        seen.iter().filter(|s| s.ends_with("cursor=c5000")).count(),
        2
    );
    assert!(started.elapsed() >= Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn a_repeated_cursor_ends_the_walk_with_a_loop_error() {
    let (api, base) = Api::default().start().await;
    let client = client();

    let mut pages = client.paginate(
        client.get(format!("{base}/cursor-loop")),
        BodyCursor::pointer("/meta/next", "cursor"),
    );
    let first = pages.next().await.expect("a page").expect("page 0");
    let second = pages.next().await.expect("a page").expect("page 1");
    let error = pages.next().await.expect("an error").expect_err("a loop");

    assert_eq!((first.number(), second.number()), (0, 1));
    assert!(
        matches!(
            error.kind(),
            PaginateErrorKind::Loop {
                page: 2,
                earlier: 1,
                ..
            }
        ),
        "{error}"
    );
    assert!(
        pages.next().await.is_none(),
        "the stream ends after its error"
    );
    // The repeated request was never sent.
    assert_eq!(api.seen().len(), 2);
    assert_eq!(
        error.resume_from().next(),
        Some(&Cursor::Token("c100".into()))
    );
}

#[tokio::test(start_paused = true)]
async fn link_headers_are_followed_relative_links_resolved() {
    let (api, base) = Api::default().start().await;
    let client = client();

    let items = client
        .paginate(
            client.get(format!("{base}/link?per_page=100")),
            LinkHeader::new(),
        )
        .items::<Order>("");
    let (orders, error, _) = collect(items).await;

    assert!(error.is_none(), "{error:?}");
    assert_eq!(ids(&orders), (0..TOTAL).collect::<Vec<_>>());
    let seen = api.seen();
    assert_eq!(seen.len(), 100);
    assert_eq!(seen[1], "/link?page=2&per_page=100");
}

#[tokio::test(start_paused = true)]
async fn a_next_link_to_another_origin_is_refused() {
    let (api, base) = Api::default().start().await;
    let client = client();

    let mut pages = client.paginate(
        client
            .get(format!("{base}/elsewhere"))
            .bearer_auth("s3cr3t-token"),
        LinkHeader::new(),
    );
    assert!(pages.next().await.expect("a page").is_ok());
    let error = pages.next().await.expect("an error").expect_err("refused");

    let PaginateErrorKind::CrossOrigin {
        origin, expected, ..
    } = error.kind()
    else {
        panic!("expected a cross-origin error, got {error}");
    };
    assert!(origin.starts_with("http://localhost:"), "{origin}");
    assert_eq!(expected, &base);
    assert!(!error.to_string().contains("s3cr3t"));
    // Nothing went to the other origin (it is the same server under another name).
    assert_eq!(api.seen().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn offsets_stop_at_the_total_count() {
    let (api, base) = Api::default().start().await;
    let client = client();

    let paginator = Offset::offsets("offset", 1_000)
        .size_param("limit")
        .items_at("/data")
        .stop(Stop::Total("/total".into()));
    let items = client
        .paginate(client.get(format!("{base}/offset")), paginator)
        .items::<Order>("/data");
    let (orders, error, _) = collect(items).await;

    assert!(error.is_none(), "{error:?}");
    assert_eq!(ids(&orders), (0..TOTAL).collect::<Vec<_>>());
    let seen = api.seen();
    // Exactly ten pages: the total stops the walk without asking for an empty eleventh.
    assert_eq!(seen.len(), 10);
    assert_eq!(seen[0], "/offset?offset=0&limit=1000");
    assert_eq!(seen[9], "/offset?offset=9000&limit=1000");
}

#[tokio::test(start_paused = true)]
async fn numbered_pages_stop_at_a_short_or_an_empty_page() {
    let (api, base) = Api::default().start().await;
    let client = client();

    // 10,000 is a multiple of the page size: the short-page rule needs the empty page 101.
    let items = client
        .paginate(
            client.get(format!("{base}/numbered")),
            Offset::pages("page", PAGE),
        )
        .items::<Order>("");
    let (orders, error, _) = collect(items).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(orders.len() as u64, TOTAL);
    assert_eq!(api.seen().len(), 101);
    assert_eq!(api.seen()[100], "/numbered?page=101");

    // A page size the server does not honour (it sends 100): short pages all along, so
    // only the empty-page rule walks the whole list.
    let items = client
        .paginate(
            client.get(format!("{base}/numbered")),
            Offset::pages("page", 500).stop(Stop::EmptyPage),
        )
        .items::<Order>("");
    let (orders, error, _) = collect(items).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(orders.len() as u64, TOTAL);
}

#[tokio::test(start_paused = true)]
async fn the_page_cap_ends_the_walk_with_a_position_to_resume_from() {
    let (api, base) = Api::default().start().await;
    let client = client();

    let mut pages = client
        .paginate(
            client.get(format!("{base}/cursor")),
            BodyCursor::pointer("/meta/next", "cursor"),
        )
        .limits(&PaginateConfig::default().max_pages(3))
        .expect("valid limits");
    for n in 0..3 {
        let page = pages.next().await.expect("a page").expect("within the cap");
        assert_eq!(page.number(), n);
    }
    let error = pages.next().await.expect("an error").expect_err("the cap");

    assert!(
        matches!(error.kind(), PaginateErrorKind::PageCap { max: 3, .. }),
        "{error}"
    );
    assert_eq!(api.seen().len(), 3);
    assert_eq!(error.resume_from().pages(), 3);
    assert_eq!(
        error.resume_from().next(),
        Some(&Cursor::Token("c300".into()))
    );
    assert!(
        client
            .paginate(client.get(format!("{base}/cursor")), LinkHeader::new())
            .limits(&PaginateConfig::default().max_pages(0))
            .is_err(),
        "a zero cap is a configuration error"
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_page_ends_the_stream_and_a_stored_position_resumes_it() {
    let (api, base) = Api {
        broken_at: Some(4_000),
        ..Api::default()
    }
    .start()
    .await;
    let client = client();
    let walk = || {
        client.paginate(
            client.get(format!("{base}/cursor")),
            BodyCursor::pointer("/meta/next", "cursor"),
        )
    };

    let (first_run, error, position) = collect(walk().items::<Order>("/data")).await;
    let error = error.expect("page 40 fails");
    assert!(
        matches!(error.kind(), PaginateErrorKind::Call(e) if e.status() == Some(StatusCode::NOT_FOUND)),
        "{error}"
    );
    assert_eq!(error.page(), 40);
    assert_eq!(first_run.len(), 4_000);
    // What a job stores, as JSON, and reads back after its crash.
    let stored = serde_json::to_string(&position).expect("serializes");
    assert_eq!(position, *error.resume_from());

    // Resumed while the page is still broken: the position stays where it was.
    let position: Position = serde_json::from_str(&stored).expect("deserializes");
    let (none, error, again) = collect(walk().resume_from(position).items::<Order>("/data")).await;
    assert!(none.is_empty() && error.is_some());
    assert_eq!(serde_json::to_string(&again).expect("serializes"), stored);

    api.healed.store(true, Ordering::SeqCst);
    let position: Position = serde_json::from_str(&stored).expect("deserializes");
    let (second_run, error, end) =
        collect(walk().resume_from(position).items::<Order>("/data")).await;

    assert!(error.is_none(), "{error:?}");
    assert!(end.is_done());
    let mut all = ids(&first_run);
    all.extend(ids(&second_run));
    assert_eq!(all, (0..TOTAL).collect::<Vec<_>>(), "none lost, none twice");
    let seen = api.seen();
    assert_eq!(seen[40], "/cursor?cursor=c4000", "the failed page");
    assert_eq!(
        seen[41], "/cursor?cursor=c4000",
        "the resumed walk starts there"
    );
    // A finished walk resumed yields nothing and sends nothing.
    let before = api.requests.load(Ordering::SeqCst);
    assert!(walk().resume_from(end).next().await.is_none());
    assert_eq!(api.requests.load(Ordering::SeqCst), before);
}

#[tokio::test(start_paused = true)]
async fn a_body_over_the_byte_cap_is_a_typed_error() {
    let (_api, base) = Api::default().start().await;
    let client = client();

    let mut pages = client
        .paginate(
            client.get(format!("{base}/cursor")),
            BodyCursor::pointer("/meta/next", "cursor"),
        )
        .limits(&PaginateConfig::default().max_page_bytes(64))
        .expect("valid limits");
    let error = pages
        .next()
        .await
        .expect("an error")
        .expect_err("too large");
    assert!(
        matches!(
            error.kind(),
            PaginateErrorKind::BodyTooLarge { max: 64, .. }
        ),
        "{error}"
    );
    assert_eq!(error.resume_from(), &Position::start());
}

/// A paginator of the caller's own: the next page number in a response header.
#[derive(Debug)]
struct NextPageHeader;

impl Paginator for NextPageHeader {
    fn next(&mut self, page: &Page) -> Result<Option<Cursor>, PaginateErrorKind> {
        let Some(value) = page.headers().get("x-next-page") else {
            return Ok(None);
        };
        let number = value.to_str().ok().and_then(|v| v.parse().ok()).ok_or(
            PaginateErrorKind::InvalidNext("x-next-page is not a number"),
        )?;
        Ok(Some(Cursor::Number(number)))
    }

    fn apply(
        &self,
        cursor: &Cursor,
        request: &mut reqwest::Request,
    ) -> Result<(), PaginateErrorKind> {
        let Cursor::Number(n) = cursor else {
            return Err(PaginateErrorKind::InvalidNext("expected a page number"));
        };
        set_query_param(request.url_mut(), "p", &n.to_string());
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_paginator_of_ones_own_walks_the_list() {
    let (api, base) = Api::default().start().await;
    let client = client();

    let items = client
        .paginate(
            client.get(format!("{base}/next-header?p=0")),
            NextPageHeader,
        )
        .items::<Order>("");
    let (orders, error, position) = collect(items).await;

    assert!(error.is_none(), "{error:?}");
    assert_eq!(ids(&orders), (0..TOTAL).collect::<Vec<_>>());
    assert!(position.is_done());
    assert_eq!(api.seen().len(), 10);
    assert_eq!(api.seen()[9], "/next-header?p=9");
}

#[tokio::test(start_paused = true)]
async fn a_link_to_the_page_itself_is_a_loop_caught_before_it_is_sent() {
    let (api, base) = Api::default().start().await;
    let client = client();

    let mut pages = client.paginate(client.get(format!("{base}/self-link")), LinkHeader::new());
    assert!(pages.next().await.expect("a page").is_ok());
    let error = pages.next().await.expect("an error").expect_err("a loop");

    assert!(
        matches!(
            error.kind(),
            PaginateErrorKind::Loop {
                page: 1,
                earlier: 0,
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(api.seen().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn until_error_hands_out_plain_records_and_keeps_the_error_and_position_aside() {
    let (api, base) = Api {
        broken_at: Some(4_000),
        ..Api::default()
    }
    .start()
    .await;
    let client = client();

    let (orders, checkpoint) = client
        .paginate(
            client.get(format!("{base}/cursor")),
            BodyCursor::pointer("/meta/next", "cursor"),
        )
        .items::<Order>("/data")
        .until_error();
    let orders: Vec<Order> = orders.collect().await;

    assert_eq!(ids(&orders), (0..4_000).collect::<Vec<_>>());
    let error = checkpoint.take_error().expect("the walk's error, kept");
    assert_eq!(error.page(), 40);
    assert_eq!(&checkpoint.position(), error.resume_from());
    assert!(checkpoint.take_error().is_none(), "taken once");
    assert_eq!(api.seen().len(), 41);
}
