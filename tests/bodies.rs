//! Bodies bounded in bytes and time (DESIGN §6, §1 row 4): a slow or huge response body
//! never holds a call past its deadline nor fills memory, whether the log layer reads it or
//! the caller does. Against a scripted server on loopback that sends its headers at once
//! and then dribbles its body, or streams a huge one made up as it goes.

mod common;

use common::log::capture_events;
use common::server::{Body, Reply, Server};
use std::fmt::Debug;
use std::time::Duration;

use serde::Deserialize;
use steadfast::log::{BodyCapture, LogConfig};
use steadfast::mapper::DriftMonitor;
use steadfast::retry::RetryConfig;
use steadfast::{Client, Error, ResponseExt as _};
use tokio::time::Instant;

const DEADLINE: Duration = Duration::from_secs(5);
const DRIBBLE: Duration = Duration::from_millis(500);
const GIB: u64 = 1 << 30;

// ---------------------------------------------------------------------------------------
// Clients.

fn client(bodies: BodyCapture, covers_body: bool) -> Client {
    Client::builder()
        .retry(
            RetryConfig::default()
                .max_retries(1)
                .base_delay(Duration::from_millis(1))
                .deadline(DEADLINE),
        )
        .attempt_timeout(Duration::from_secs(2))
        .deadline_covers_body(covers_body)
        .log(LogConfig::default().bodies(bodies))
        .build(common::http())
        .expect("valid config")
}

fn capture_all() -> BodyCapture {
    BodyCapture::default().response(true).on_success(true)
}

/// The `io::Error` of kind `TimedOut` in `error`'s source chain, around a steadfast timeout.
fn steadfast_timeout_in(error: &(dyn std::error::Error + 'static)) -> Option<Duration> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::TimedOut
            && let Some(Error::Timeout { elapsed, .. }) =
                io.get_ref().and_then(|inner| inner.downcast_ref::<Error>())
        {
            return Some(*elapsed);
        }
        current = e.source();
    }
    None
}

// ---------------------------------------------------------------------------------------
// The log layer's read.

#[tokio::test(start_paused = true)]
async fn a_dribbling_500_with_capture_on_ends_at_the_deadline() {
    let (events, _guard) = capture_events();
    let server = Server::always(Reply::status(500).body(Body::dribble(1000, DRIBBLE))).await;
    let client = client(capture_all(), true);
    let real = std::time::Instant::now();
    let start = Instant::now();

    let error = client.get(server.url()).send().await.expect_err("a 500");

    assert!(start.elapsed() <= DEADLINE, "{:?}", start.elapsed());
    assert!(real.elapsed() < std::time::Duration::from_secs(3));
    assert_eq!(error.status().map(|s| s.as_u16()), Some(500), "{error}");
    let gave_up = events.only("gave up");
    let shown = &gave_up["http.response.body"];
    assert!(
        shown.ends_with("<the body was not read in time>"),
        "{shown}"
    );
    assert!(shown.starts_with('x'), "{shown}");
    assert_eq!(gave_up["http.response.body.size"], "1000");
    // What was read for the log is still the caller's, ahead of what follows.
    let response = error.take_response().expect("kept for the caller");
    assert_eq!(response.content_length(), Some(1000));
    drop(response);
}

#[tokio::test(start_paused = true)]
async fn a_dribbling_200_with_capture_on_returns_at_the_deadline_and_its_body_times_out() {
    let (events, _guard) = capture_events();
    let server = Server::always(Reply::status(200).body(Body::dribble(1000, DRIBBLE))).await;
    let client = client(capture_all(), true);
    let start = Instant::now();

    let response = client.get(server.url()).send().await.expect("a 200");

    assert!(start.elapsed() <= DEADLINE, "{:?}", start.elapsed());
    let succeeded = events.only("call succeeded");
    let shown = &succeeded["http.response.body"];
    assert!(
        shown.ends_with("<the body was not read in time>"),
        "{shown}"
    );
    let error = response.bytes().await.expect_err("past the deadline");
    assert!(error.is_timeout(), "{error:?}");
    assert_eq!(steadfast_timeout_in(&error), Some(DEADLINE), "{error:?}");
    assert!(start.elapsed() <= DEADLINE, "{:?}", start.elapsed());
}

#[tokio::test(start_paused = true)]
async fn the_log_read_stops_at_its_own_read_timeout_and_the_caller_gets_every_byte() {
    let (events, _guard) = capture_events();
    let server = Server::always(Reply::status(200).body(Body::dribble(30, DRIBBLE))).await;
    // Without a deadline over the body, only `read_timeout` bounds the log's read.
    let client = client(capture_all().read_timeout(Duration::from_secs(2)), false);
    let start = Instant::now();

    let response = client.get(server.url()).send().await.expect("a 200");
    let returned = start.elapsed();
    let body = response.bytes().await.expect("the whole body");

    assert!(returned <= Duration::from_secs(2), "{returned:?}");
    let shown = &events.only("call succeeded")["http.response.body"];
    assert!(
        shown.ends_with("<the body was not read in time>"),
        "{shown}"
    );
    assert!(shown.starts_with("xxx"), "{shown}");
    assert_eq!(body.len(), 30);
    assert!(body.iter().all(|&b| b == b'x'));
    assert!(
        start.elapsed() > DEADLINE,
        "the deadline did not bound this read"
    );
}

#[tokio::test]
async fn a_1_gib_500_with_capture_on_reads_no_more_than_the_cap() {
    let (events, _guard) = capture_events();
    let server = Server::always(Reply::status(500).body(Body::huge(GIB))).await;
    let client = client(BodyCapture::default().response(true).max_bytes(1024), true);
    let real = std::time::Instant::now();

    let error = client.get(server.url()).send().await.expect_err("a 500");

    assert!(
        real.elapsed() < std::time::Duration::from_secs(3),
        "{:?}",
        real.elapsed()
    );
    let gave_up = events.only("gave up");
    let shown = &gave_up["http.response.body"];
    assert!(shown.len() <= 1024 + '…'.len_utf8(), "{}", shown.len());
    assert!(shown.starts_with("xxxx") && shown.ends_with('…'), "{shown}");
    assert_eq!(gave_up["http.response.body.size"], GIB.to_string());
    drop(error);
    // Dropping the response closed the connection: the server stopped far short of 1 GiB
    // (what is left is what the sockets' buffers took).
    assert!(
        server.all_closed(std::time::Duration::from_secs(3)).await,
        "the server is still writing"
    );
    let written = server.written();
    assert!(written < 64 << 20, "{written} bytes written");
}

// ---------------------------------------------------------------------------------------
// The caller's read.

#[tokio::test(start_paused = true)]
async fn the_callers_read_of_a_dribbling_200_times_out_at_the_deadline() {
    let server = Server::always(Reply::status(200).body(Body::dribble(1000, DRIBBLE))).await;
    let client = client(BodyCapture::default(), true);
    let start = Instant::now();

    let response = client.get(server.url()).send().await.expect("a 200");
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    let error = response.bytes().await.expect_err("past the deadline");

    let elapsed = start.elapsed();
    assert!(
        elapsed >= DEADLINE && elapsed < DEADLINE + DRIBBLE,
        "{elapsed:?}"
    );
    assert!(error.is_timeout(), "{error:?}");
    assert_eq!(steadfast_timeout_in(&error), Some(DEADLINE), "{error:?}");
    assert!(server.written() < 1000);
}

#[tokio::test(start_paused = true)]
async fn with_the_body_left_out_of_the_deadline_the_caller_reads_it_all() {
    let server = Server::always(Reply::status(200).body(Body::dribble(14, DRIBBLE))).await;
    let client = client(BodyCapture::default(), false);
    let start = Instant::now();

    let body = client
        .get(server.url())
        .send()
        .await
        .expect("a 200")
        .bytes()
        .await
        .expect("the whole body");

    assert_eq!(body.len(), 14);
    assert!(start.elapsed() > DEADLINE, "{:?}", start.elapsed());
}

// ---------------------------------------------------------------------------------------
// Decode errors.

#[tokio::test]
async fn a_decode_error_names_the_field_and_hides_its_value() {
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Order {
        id: u64,
        pin: u32,
    }
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::path("/orders"))
        .respond_with(
            wiremock::ResponseTemplate::new(200)
                .set_body_raw(r#"{"id": "ord-hunter2", "pin": 1}"#, "application/json"),
        )
        .mount(&server)
        .await;
    let client = Client::new(common::http());

    let error = client
        .get(format!("{}/orders", server.uri()))
        .send()
        .await
        .expect("a 200")
        .json_with_drift::<Order>(&DriftMonitor::new())
        .await
        .expect_err("id is not a number");

    assert!(matches!(error, Error::Decode(_)), "{error:?}");
    let shown = error.to_string();
    assert!(
        shown.starts_with("response body could not be decoded: "),
        "{shown}"
    );
    assert!(shown.contains("`id`: invalid, expected u64"), "{shown}");
    assert!(!shown.contains("hunter2"), "{shown}");
}
