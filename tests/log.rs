//! Logging and redaction (DESIGN §6): spans, events and hooks of real calls on loopback,
//! captured with a test-local subscriber (never a global one).

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::log::{LogBuffer, all_output, capture_json};
use common::{everything_shown, http, keyed_post, logged_stack, orders_server};
use steadfast::log::redact::RedactConfig;
use steadfast::log::{BodyCapture, FailedCall, LogConfig, LogLayer};
use steadfast::retry::{Jitter, RetryConfig, RetryStats};
use steadfast::{Client, ClientConfig, ConfigError, Error};
use tower::{Service, ServiceExt};
use tracing::Level;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

const MS: Duration = Duration::from_millis(1);

// ---------------------------------------------------------------------------------------
// Helpers.

fn field<'a>(fields: &'a BTreeMap<String, String>, name: &str) -> &'a str {
    fields
        .get(name)
        .map_or_else(|| panic!("no field {name} in {fields:#?}"), String::as_str)
}

fn retry_config() -> RetryConfig {
    RetryConfig::default()
        .max_retries(2)
        .base_delay(100 * MS)
        .max_delay(1_000 * MS)
        .jitter(Jitter::None)
        .without_deadline()
        .without_budget()
}

#[derive(Clone, Default)]
struct Calls(Arc<Mutex<Vec<String>>>);

impl Calls {
    fn hook(&self, name: &'static str) -> impl Fn(&FailedCall<'_>) + Send + Sync + 'static {
        let calls = self.clone();
        move |failed| {
            calls.0.lock().expect("not poisoned").push(format!(
                "{name} {} {} {:?} {:?} {} {:?}",
                failed.method(),
                failed.url(),
                failed.verdict(),
                failed.attempts(),
                failed.needs_attention(),
                failed.idempotency_key(),
            ));
        }
    }

    fn taken(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().expect("not poisoned"))
    }
}

// ---------------------------------------------------------------------------------------
// Spans and events.

/// The JSON formatter prints what the capture layer saw: the gave-up line carries the
/// call span's fields.
fn assert_json_gave_up_line(buffer: &LogBuffer, url: &str) {
    let lines = buffer.lines();
    let line = lines
        .iter()
        .find(|line| line["fields"]["message"] == "gave up")
        .expect("a gave-up line");
    assert_eq!(line["level"], "ERROR");
    assert_eq!(line["target"], "steadfast::log");
    assert_eq!(line["span"]["name"], "steadfast.call");
    assert_eq!(line["span"]["url.full"], url);
    assert_eq!(line["fields"]["steadfast.verdict"], "transient");
}

#[tokio::test(start_paused = true)]
async fn a_call_that_fails_after_two_retries_is_described_by_its_spans_and_events() {
    let (capture, buffer, _guard) = capture_json();
    let server = orders_server(503, 3, 200).await;
    let calls = Calls::default();
    let log = LogLayer::default()
        .on_give_up(calls.hook("give_up"))
        .on_permanent(calls.hook("permanent"));
    let (mut service, recorder) = logged_stack(log, &retry_config());
    let port = server.address().port();
    let url = format!("http://127.0.0.1:{port}/orders?page=2");

    let error = service
        .ready()
        .await
        .expect("ready")
        .call(keyed_post(&url, "order-42"))
        .await
        .expect_err("three 503s");

    assert!(matches!(error, Error::RetriesExhausted { .. }), "{error:?}");
    assert_eq!(recorder.count(), 3);

    // One call span with the OpenTelemetry fields and the final outcome.
    let calls_spans = capture.spans("steadfast.call");
    assert_eq!(calls_spans.len(), 1, "{}", capture.dump());
    let (call_index, call) = &calls_spans[0];
    let f = &call.fields;
    assert_eq!(field(f, "http.request.method"), "POST");
    assert_eq!(field(f, "server.address"), "127.0.0.1");
    assert_eq!(field(f, "server.port"), port.to_string());
    assert_eq!(field(f, "url.full"), url);
    assert_eq!(field(f, "steadfast.idempotency_key"), "order-42");
    assert_eq!(
        call.times.get("steadfast.idempotency_key"),
        Some(&1),
        "a caller's key is on the span once"
    );
    assert_eq!(field(f, "http.response.status_code"), "503");
    assert_eq!(field(f, "error.type"), "503");
    assert_eq!(field(f, "http.request.resend_count"), "2");
    assert_eq!(field(f, "steadfast.verdict"), "transient");
    assert_eq!(
        field(f, "steadfast.reason"),
        "status 503 Service Unavailable"
    );
    assert_eq!(field(f, "steadfast.outcome"), "not_applied");
    let duration: f64 = field(f, "steadfast.duration_ms").parse().expect("a number");
    assert!((300.0..310.0).contains(&duration), "{duration}");

    // A child span per attempt, resend_count counting up.
    let attempts = capture.spans("steadfast.attempt");
    assert_eq!(attempts.len(), 3);
    for (resend, (_, attempt)) in attempts.iter().enumerate() {
        assert_eq!(attempt.parent, Some(*call_index));
        let f = &attempt.fields;
        assert_eq!(field(f, "http.request.resend_count"), resend.to_string());
        assert_eq!(field(f, "http.response.status_code"), "503");
        assert_eq!(field(f, "error.type"), "503");
        assert_eq!(field(f, "steadfast.verdict"), "transient");
        assert_eq!(field(f, "steadfast.idempotency_key"), "order-42");
        assert_eq!(field(f, "otel.kind"), "client");
    }

    // A WARN per retry, in the call span, with the schedule's delays.
    let retries = capture.events("retry scheduled");
    assert_eq!(retries.len(), 2);
    for (n, (event, delay)) in retries.iter().zip([100, 200]).enumerate() {
        assert_eq!(event.level, Level::WARN);
        assert_eq!(event.span, Some(*call_index));
        assert_eq!(field(&event.fields, "attempt"), (n + 1).to_string());
        assert_eq!(field(&event.fields, "delay_ms"), delay.to_string());
        assert_eq!(field(&event.fields, "steadfast.verdict"), "transient");
        assert_eq!(
            field(&event.fields, "steadfast.reason"),
            "status 503 Service Unavailable"
        );
    }
    let gaps = recorder.gaps();
    for (gap, delay) in gaps.iter().zip([100, 200]) {
        // tokio's timer wheel rounds each sleep up to the next millisecond.
        assert!((delay * MS..delay * MS + 2 * MS).contains(gap), "{gaps:?}");
    }

    // One ERROR when the call gives up; no success event.
    let gave_up = capture.events("gave up");
    assert_eq!(gave_up.len(), 1);
    let event = &gave_up[0];
    assert_eq!(event.level, Level::ERROR);
    assert_eq!(event.span, Some(*call_index));
    assert_eq!(field(&event.fields, "steadfast.verdict"), "transient");
    assert_eq!(field(&event.fields, "attempts"), "3");
    assert_eq!(field(&event.fields, "steadfast.outcome"), "not_applied");
    assert_eq!(field(&event.fields, "steadfast.needs_attention"), "false");
    assert!(!event.fields.contains_key("hint"));
    assert!(!event.fields.contains_key("not_retried"));
    assert!(field(&event.fields, "error").contains("failed after 3 attempts"));
    assert!(capture.events("call succeeded").is_empty());

    // The hook for a retryable failure ran, once.
    assert_eq!(
        calls.taken(),
        [format!(
            "give_up POST {url} Transient Some(3) false Some(\"order-42\")"
        )]
    );

    assert_json_gave_up_line(&buffer, &url);
}

#[tokio::test(start_paused = true)]
async fn a_call_that_succeeds_after_a_retry_logs_success_at_debug() {
    let (capture, _buffer, _guard) = capture_json();
    let server = orders_server(503, 1, 200).await;
    let calls = Calls::default();
    let log = LogLayer::default()
        .on_give_up(calls.hook("give_up"))
        .on_permanent(calls.hook("permanent"));
    let (mut service, _) = logged_stack(log, &retry_config());

    let response = service
        .ready()
        .await
        .expect("ready")
        .call(keyed_post(&format!("{}/orders", server.uri()), "order-42"))
        .await
        .expect("second attempt succeeds");

    assert_eq!(response.status(), 200);
    let (_, call) = &capture.spans("steadfast.call")[0];
    assert_eq!(field(&call.fields, "steadfast.verdict"), "success");
    assert_eq!(field(&call.fields, "steadfast.outcome"), "applied");
    assert_eq!(field(&call.fields, "http.response.status_code"), "200");
    assert_eq!(field(&call.fields, "http.request.resend_count"), "1");
    assert!(!call.fields.contains_key("error.type"));
    let attempts = capture.spans("steadfast.attempt");
    assert_eq!(field(&attempts[1].1.fields, "steadfast.verdict"), "success");
    let succeeded = capture.events("call succeeded");
    assert_eq!(succeeded.len(), 1);
    assert_eq!(succeeded[0].level, Level::DEBUG);
    assert_eq!(
        field(&succeeded[0].fields, "http.request.resend_count"),
        "1"
    );
    assert_eq!(capture.events("retry scheduled").len(), 1);
    assert!(capture.events("gave up").is_empty());
    assert!(calls.taken().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_401_is_an_error_that_asks_for_a_human_and_runs_the_permanent_hook() {
    let (capture, _buffer, _guard) = capture_json();
    let server = orders_server(401, 1, 200).await;
    let calls = Calls::default();
    let client = common::paused(retry_config())
        .on_give_up(calls.hook("give_up"))
        .on_permanent(calls.hook("permanent"))
        .build(http())
        .expect("valid config");

    let url = format!("{}/orders", server.uri());
    let error = client.get(&url).send().await.expect_err("401");

    assert_eq!(error.status(), Some(reqwest::StatusCode::UNAUTHORIZED));
    assert_eq!(capture.spans("steadfast.attempt").len(), 1);
    let gave_up = capture.events("gave up");
    assert_eq!(gave_up.len(), 1);
    let f = &gave_up[0].fields;
    assert_eq!(gave_up[0].level, Level::ERROR);
    assert_eq!(field(f, "steadfast.verdict"), "permanent");
    assert_eq!(field(f, "error.type"), "401");
    assert_eq!(field(f, "steadfast.needs_attention"), "true");
    assert!(field(f, "hint").contains("a human must act"));
    assert_eq!(field(f, "not_retried"), "a repeat would fail the same way");
    assert_eq!(
        calls.taken(),
        [format!("permanent GET {url} Permanent Some(1) true None")]
    );
}

// ---------------------------------------------------------------------------------------
// Redaction.

/// One distinct secret per place a secret can hide.
#[derive(Debug, Clone)]
struct Secrets {
    bearer: String,
    cookie: String,
    api_key: String,
    custom_header: String,
    query_token: String,
    userinfo: String,
    body_password: String,
    set_cookie: String,
    response_token: String,
}

impl Secrets {
    fn fixed() -> Self {
        Self {
            bearer: "bearer-s3cret-1".to_owned(),
            cookie: "cookie-s3cret-2".to_owned(),
            api_key: "apikey-s3cret-3".to_owned(),
            custom_header: "pin-s3cret-4".to_owned(),
            query_token: "query-s3cret-5".to_owned(),
            userinfo: "userinfo-s3cret-6".to_owned(),
            body_password: "password-s3cret-7".to_owned(),
            set_cookie: "setcookie-s3cret-8".to_owned(),
            response_token: "token-s3cret-9".to_owned(),
        }
    }

    fn all(&self) -> [&str; 9] {
        [
            &self.bearer,
            &self.cookie,
            &self.api_key,
            &self.custom_header,
            &self.query_token,
            &self.userinfo,
            &self.body_password,
            &self.set_cookie,
            &self.response_token,
        ]
    }
}

fn leaky_client(max_retries: u32) -> Client {
    common::paused(retry_config().max_retries(max_retries).base_delay(MS))
        .log(
            LogConfig::default()
                .redact(RedactConfig::default().header("X-Partner-Pin"))
                .bodies(BodyCapture::default().request(true).response(true)),
        )
        .on_give_up(|_| {})
        .build(http())
        .expect("valid config")
}

async fn mount_leaky(server: &MockServer, secrets: &Secrets) {
    server.reset().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(
            ResponseTemplate::new(503)
                .insert_header(
                    "set-cookie",
                    format!("session={}; HttpOnly", secrets.set_cookie),
                )
                .set_body_json(serde_json::json!({
                    "error": "unavailable",
                    "access_token": secrets.response_token,
                    "detail": {"user": "ada-lovelace"},
                })),
        )
        .mount(server)
        .await;
}

/// Sends a request carrying every secret; returns the error and everything it shows.
async fn leaky_call(client: &Client, server: &MockServer, secrets: &Secrets) -> (Error, String) {
    let url = format!(
        "http://ada:{}@{}/orders?token={}&page=2",
        secrets.userinfo,
        server.address(),
        secrets.query_token
    );
    let error = client
        .post(url)
        .bearer_auth(&secrets.bearer)
        .header("cookie", format!("sid={}", secrets.cookie))
        .header("x-api-key", &secrets.api_key)
        .header("x-partner-pin", &secrets.custom_header)
        .header("idempotency-key", "order-42")
        .json(&serde_json::json!({
            "customer": {"name": "Grace Hopper", "credentials": {"password": secrets.body_password}},
            "items": [{"sku": "A-1"}],
        }))
        .send()
        .await
        .expect_err("503 on every attempt");
    // reqwest's builder moves URL userinfo into a (sensitive) basic-auth header; a request
    // built directly keeps it in the URL.
    let raw = format!(
        "http://ada:{}@{}/orders?access_token={}",
        secrets.userinfo,
        server.address(),
        secrets.query_token
    );
    let raw = reqwest::Request::new(reqwest::Method::DELETE, raw.parse().expect("url"));
    let raw_error = client.execute(raw).await.expect_err("503 on every attempt");
    // Stripping the userinfo changed nothing on the wire: reqwest does not send it.
    let received = server.received_requests().await.expect("recording");
    let deleted = received
        .iter()
        .find(|r| r.method.as_str() == "DELETE")
        .expect("sent");
    assert!(
        !deleted.headers.contains_key("authorization"),
        "{deleted:?}"
    );
    let shown = format!(
        "{}\n{error}\n{error:?}\n{}\n{raw_error}\n{raw_error:?}",
        everything_shown(&error),
        everything_shown(&raw_error)
    );
    (error, shown)
}

#[tokio::test(start_paused = true)]
async fn no_secret_reaches_the_logs_or_the_error_even_at_trace_with_bodies() {
    let (capture, buffer, _guard) = capture_json();
    let server = MockServer::start().await;
    let secrets = Secrets::fixed();
    mount_leaky(&server, &secrets).await;

    let (error, shown) = leaky_call(&leaky_client(1), &server, &secrets).await;

    let output = all_output(&capture, &buffer);
    for secret in secrets.all() {
        assert!(
            !output.contains(secret),
            "{secret} leaked into the logs:\n{output}"
        );
        assert!(
            !shown.contains(secret),
            "{secret} leaked into the error:\n{shown}"
        );
    }
    // Not vacuous: what is not secret is there, bodies included, and so are the masks.
    for expected in [
        "Grace Hopper",
        "ada-lovelace",
        "order-42",
        "x-partner-pin",
        "set-cookie",
        "token=REDACTED",
        "REDACTED:REDACTED@",
        "[redacted]",
        "retry scheduled",
        "gave up",
    ] {
        assert!(output.contains(expected), "{expected} missing:\n{output}");
    }
    // The caller still gets the whole response, secrets and all: only the logs are masked.
    let response = error.take_response().expect("kept in the error");
    assert_eq!(response.status(), 503);
    assert_eq!(response.url().path(), "/orders");
    assert!(response.headers().contains_key("set-cookie"));
    let body = response.text().await.expect("body");
    assert!(body.contains(&secrets.response_token), "{body}");
}

fn secret() -> impl proptest::strategy::Strategy<Value = String> {
    "[A-Za-z0-9]{16,32}"
}

#[test]
fn random_secrets_never_reach_the_logs_or_the_error() {
    use proptest::strategy::Strategy as _;
    use proptest::test_runner::{Config, TestRunner};

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let server = runtime.block_on(MockServer::start());
    let client = leaky_client(1);
    let strategy = proptest::array::uniform9(secret()).prop_map(|s| Secrets {
        bearer: s[0].clone(),
        cookie: s[1].clone(),
        api_key: s[2].clone(),
        custom_header: s[3].clone(),
        query_token: s[4].clone(),
        userinfo: s[5].clone(),
        body_password: s[6].clone(),
        set_cookie: s[7].clone(),
        response_token: s[8].clone(),
    });
    let mut runner = TestRunner::new(Config {
        cases: 24,
        ..Config::default()
    });
    runner
        .run(&strategy, |secrets| {
            let (capture, buffer, guard) = capture_json();
            let shown = runtime.block_on(async {
                mount_leaky(&server, &secrets).await;
                leaky_call(&client, &server, &secrets).await.1
            });
            drop(guard);
            let output = all_output(&capture, &buffer);
            assert!(output.contains("gave up"), "nothing was logged");
            for secret in secrets.all() {
                proptest::prop_assert!(!output.contains(secret), "{} leaked:\n{}", secret, output);
                proptest::prop_assert!(!shown.contains(secret), "{} leaked:\n{}", secret, shown);
            }
            Ok(())
        })
        .expect("no secret leaks");
}

// ---------------------------------------------------------------------------------------
// Body capture.

fn body_client(bodies: BodyCapture) -> Client {
    common::paused(retry_config().max_retries(1).base_delay(MS))
        .log(LogConfig::default().bodies(bodies))
        .build(http())
        .expect("valid config")
}

#[tokio::test(start_paused = true)]
async fn bodies_are_not_logged_by_default() {
    let (capture, buffer, _guard) = capture_json();
    let server = MockServer::start().await;
    common::respond(
        &server,
        ResponseTemplate::new(400).set_body_string(r#"{"error": "sku-unknown-17"}"#),
        1,
        ResponseTemplate::new(200),
    )
    .await;

    let error = body_client(BodyCapture::default())
        .post(format!("{}/orders", server.uri()))
        .json(&serde_json::json!({"sku": "sku-sent-18"}))
        .send()
        .await
        .expect_err("400");

    let output = all_output(&capture, &buffer);
    assert!(output.contains("gave up"));
    for body in ["sku-unknown-17", "sku-sent-18", "http.response.body"] {
        assert!(!output.contains(body), "{body} in:\n{output}");
    }
    let body = error
        .take_response()
        .expect("kept")
        .text()
        .await
        .expect("body");
    assert!(body.contains("sku-unknown-17"));
}

#[tokio::test(start_paused = true)]
async fn bodies_are_logged_for_failed_calls_only_by_default_and_capped() {
    let (capture, _buffer, _guard) = capture_json();
    let server = MockServer::start().await;
    let big = serde_json::json!({ "items": vec!["x".repeat(100); 100], "token": "t" });
    Mock::given(path("/ok"))
        .respond_with(ResponseTemplate::new(200).set_body_string("fine-body-19"))
        .mount(&server)
        .await;
    Mock::given(path("/big"))
        .respond_with(ResponseTemplate::new(422).set_body_json(&big))
        .mount(&server)
        .await;
    Mock::given(path("/binary"))
        .respond_with(ResponseTemplate::new(404).set_body_bytes(vec![0xff_u8, 0xfe, 0x00, 0x9f]))
        .mount(&server)
        .await;
    let client = body_client(BodyCapture::default().request(true).response(true));

    let response = client
        .post(format!("{}/ok", server.uri()))
        .body("sent-body-20")
        .send()
        .await
        .expect("200");
    assert_eq!(response.text().await.expect("body"), "fine-body-19");
    let succeeded = capture.events("call succeeded");
    assert!(!succeeded[0].fields.contains_key("http.response.body"));
    assert!(!succeeded[0].fields.contains_key("http.request.body"));

    let error = client
        .post(format!("{}/big", server.uri()))
        .body("sent-body-21")
        .send()
        .await
        .expect_err("422");
    let gave_up = capture.events("gave up");
    let f = &gave_up[0].fields;
    assert_eq!(field(f, "http.request.body"), "sent-body-21");
    let shown = field(f, "http.response.body");
    assert!(shown.len() <= 4096 + '…'.len_utf8(), "{}", shown.len());
    assert!(shown.ends_with('…'));
    assert!(shown.starts_with(r#"{"items":["xxx"#), "{shown}");
    let size: usize = field(f, "http.response.body.size").parse().expect("number");
    assert_eq!(size, serde_json::to_vec(&big).expect("json").len());
    // The caller's copy is whole.
    let body: serde_json::Value = error
        .take_response()
        .expect("kept")
        .json()
        .await
        .expect("json");
    assert_eq!(body, big);

    let _ = client
        .get(format!("{}/binary", server.uri()))
        .send()
        .await
        .expect_err("404");
    let gave_up = capture.events("gave up");
    assert_eq!(
        field(&gave_up[1].fields, "http.response.body"),
        "<4 bytes, not UTF-8>"
    );
}

#[tokio::test(start_paused = true)]
async fn a_captured_success_body_is_handed_back_whole() {
    let (capture, _buffer, _guard) = capture_json();
    let server = MockServer::start().await;
    common::respond(
        &server,
        ResponseTemplate::new(503),
        1,
        ResponseTemplate::new(200)
            .insert_header("x-request-id", "req-7")
            .set_body_json(serde_json::json!({"id": "ord_1", "refresh_token": "r-22"})),
    )
    .await;
    let client = body_client(
        BodyCapture::default()
            .response(true)
            .on_success(true)
            .max_bytes(64),
    );

    let url = format!("{}/orders?page=1", server.uri());
    let response = client.get(&url).send().await.expect("retried to success");

    assert_eq!(response.status(), 200);
    assert_eq!(response.url().as_str(), url);
    assert_eq!(response.headers()["x-request-id"], "req-7");
    assert_eq!(RetryStats::of(&response).attempts, 2);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["refresh_token"], "r-22");
    let succeeded = capture.events("call succeeded");
    assert_eq!(
        field(&succeeded[0].fields, "http.response.body"),
        r#"{"id":"ord_1","refresh_token":"[redacted]"}"#
    );
}

// ---------------------------------------------------------------------------------------
// Configuration and the global subscriber.

#[test]
fn log_config_is_read_from_text_and_invalid_values_are_typed_errors() {
    let config: ClientConfig = serde_json::from_str(
        r#"{ "log": { "redact": { "headers": ["X-Partner-Pin"], "query_params": ["session"] },
                      "bodies": { "request": true, "max_bytes": 1024 } } }"#,
    )
    .expect("valid config");
    assert_eq!(
        config.log,
        LogConfig::default()
            .redact(
                RedactConfig::default()
                    .header("X-Partner-Pin")
                    .query_param("session")
            )
            .bodies(BodyCapture::default().request(true).max_bytes(1024))
    );
    assert_eq!(ClientConfig::default().log.bodies.max_bytes, 4096);
    assert!(!ClientConfig::default().log.bodies.request);
    Client::from_config(http(), &config).expect("valid");

    let zero = ClientConfig::default()
        .log(LogConfig::default().bodies(BodyCapture::default().max_bytes(0)));
    assert!(matches!(
        Client::from_config(http(), &zero),
        Err(ConfigError::OutOfRange {
            name: "log.bodies.max_bytes",
            ..
        })
    ));
    let bad = LogConfig::default().redact(RedactConfig::default().header("bad header"));
    assert!(matches!(
        LogLayer::new(&bad),
        Err(ConfigError::HeaderName {
            name: "log.redact.headers",
            ..
        })
    ));
}

#[tokio::test]
async fn the_library_installs_no_global_subscriber() {
    let server = orders_server(500, 1, 200).await;
    let client = Client::builder()
        .log(LogConfig::default().bodies(BodyCapture::default().response(true)))
        .on_give_up(|_| {})
        .build(http())
        .expect("valid config");
    client
        .get(format!("{}/orders", server.uri()))
        .send()
        .await
        .expect("retried to success");

    // The application can still install its own: the global slot is free. (An inert
    // subscriber, so that the other tests of this binary are unaffected.)
    tracing::subscriber::set_global_default(tracing::subscriber::NoSubscriber::new())
        .expect("steadfast installed no global subscriber");
    // And it could not: tracing-subscriber is a dev-dependency only.
    let manifest = include_str!("../Cargo.toml");
    let dependencies = manifest
        .split("[dependencies]")
        .nth(1)
        .and_then(|rest| rest.split("\n[").next())
        .expect("a [dependencies] table");
    assert!(
        !dependencies.contains("tracing-subscriber"),
        "{dependencies}"
    );
}

#[tokio::test]
async fn a_success_body_that_cannot_be_read_for_the_log_is_logged_and_the_caller_meets_the_error() {
    let (capture, _buffer, _guard) = capture_json();
    // A server that promises 100 bytes and closes after 7.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let (mut socket, _) = listener.accept().await.expect("accept");
        let mut request = [0_u8; 1024];
        let _ = socket.read(&mut request).await;
        let _ = socket
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
            .await;
    });
    let client = body_client(BodyCapture::default().response(true).on_success(true));

    let response = client
        .get(format!("http://{address}/orders"))
        .send()
        .await
        .expect("the status and headers came whole");

    // Logging changes nothing for the caller: it meets the error reading the body, as it
    // would without body capture.
    let error = response.bytes().await.expect_err("the body is cut short");
    assert!(error.is_body() || error.is_decode(), "{error:?}");
    let succeeded = capture.events("call succeeded");
    assert_eq!(succeeded.len(), 1, "{}", capture.dump());
    assert_eq!(
        field(&succeeded[0].fields, "http.response.body"),
        "<the body could not be read>"
    );
    assert_eq!(
        field(&succeeded[0].fields, "http.response.body.size"),
        "100"
    );
}

#[tokio::test(start_paused = true)]
async fn the_client_logs_generated_keys_and_ledger_replays() {
    let (capture, _buffer, _guard) = capture_json();
    let server = MockServer::start().await;
    Mock::given(path("/invoices"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&server)
        .await;
    let client = common::paused(RetryConfig::default())
        .build(http())
        .expect("valid");
    let url = format!("{}/invoices", server.uri());

    client.post(&url).send().await.expect("created");
    client
        .post(&url)
        .idempotency_key("invoice-7")
        .send()
        .await
        .expect("created");
    client
        .post(&url)
        .idempotency_key("invoice-7")
        .send()
        .await
        .expect("replayed");

    let sent = server.received_requests().await.expect("recording");
    let generated = sent[0].headers["idempotency-key"].to_str().expect("ascii");
    let calls = capture.spans("steadfast.call");
    assert_eq!(calls.len(), 3);
    assert_eq!(
        field(&calls[0].1.fields, "steadfast.idempotency_key"),
        generated
    );
    assert_eq!(
        field(&calls[2].1.fields, "steadfast.idempotency_key"),
        "invoice-7"
    );
    for (_, call) in &calls {
        assert_eq!(
            call.times.get("steadfast.idempotency_key"),
            Some(&1),
            "each key is on its call span once: {call:?}"
        );
    }
    let replayed = capture.events("replayed from the ledger");
    assert_eq!(replayed.len(), 1);
    assert_eq!(
        field(&replayed[0].fields, "steadfast.idempotency_key"),
        "invoice-7"
    );
    assert_eq!(
        replayed[0].span,
        Some(calls[2].0),
        "inside the third call's span"
    );
}

#[tokio::test(start_paused = true)]
async fn a_post_that_may_have_been_applied_is_logged_unknown() {
    let (capture, _buffer, _guard) = capture_json();
    let server = orders_server(500, 1, 200).await;
    let (mut service, _) = logged_stack(LogLayer::default(), &retry_config());

    let error = service
        .ready()
        .await
        .expect("ready")
        .call(keyed_post(&format!("{}/orders", server.uri()), "order-42"))
        .await
        .expect_err("a 500 to a POST is not sent again");

    assert_eq!(error.outcome().as_str(), "unknown");
    let (_, call) = &capture.spans("steadfast.call")[0];
    assert_eq!(field(&call.fields, "steadfast.outcome"), "unknown");
    let gave_up = capture.events("gave up");
    assert_eq!(gave_up.len(), 1);
    assert_eq!(field(&gave_up[0].fields, "steadfast.outcome"), "unknown");
    assert_eq!(
        field(&gave_up[0].fields, "not_retried"),
        steadfast::NotRetried::UnsafeMethod.to_string()
    );
}
