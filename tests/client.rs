//! The `Client` facade: reqwest-like requests through the whole stack, on loopback.

mod common;

use std::time::Duration;

use common::{closed_port, everything_shown, http, not_retried, paused, paused_client};
use steadfast::classify::{DefaultClassifier, Verdict};
use steadfast::retry::{BudgetConfig, RetryConfig};
use steadfast::{Client, ClientConfig, ConfigError, Error, NotRetried};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// `/orders` answers `status` `times` times, then 200 with an empty list.
async fn flaky(server: &MockServer, status: u16, times: u64) {
    let ok = ResponseTemplate::new(200).set_body_string("[]");
    common::respond(server, ResponseTemplate::new(status), times, ok).await;
}

#[tokio::test(start_paused = true)]
async fn the_default_client_retries_a_503() {
    let server = MockServer::start().await;
    flaky(&server, 503, 1).await;
    let client = paused_client(ClientConfig::default().retry);

    let response = client
        .get(format!("{}/orders", server.uri()))
        .send()
        .await
        .expect("retried to success");

    assert_eq!(response.status(), 200);
    assert_eq!(common::received(&server).await, 2);
}

#[tokio::test]
async fn client_new_builds_with_the_defaults() {
    let client = Client::new(http());
    assert!(
        client.retry_budget().is_some(),
        "the budget is on by default"
    );
    assert_eq!(
        ClientConfig::default().attempt_timeout,
        Some(Duration::from_secs(30))
    );
}

#[tokio::test]
async fn requests_are_built_like_reqwest() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/invoices"))
        .and(query_param("draft", "false"))
        .and(header("x-tenant", "acme"))
        .and(body_json(
            serde_json::json!({ "customer": 42, "total_cents": 1999 }),
        ))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(serde_json::json!({ "id": "inv_1" })),
        )
        .expect(1)
        .mount(&server)
        .await;
    let client = Client::new(http());

    let created: serde_json::Value = client
        .post(format!("{}/invoices", server.uri()))
        .query(&[("draft", "false")])
        .header("x-tenant", "acme")
        .json(&serde_json::json!({ "customer": 42, "total_cents": 1999 }))
        .send()
        .await
        .expect("created")
        .json()
        .await
        .expect("json body");

    assert_eq!(created["id"], "inv_1");
}

#[tokio::test]
async fn a_request_builder_can_be_awaited_directly() {
    let server = MockServer::start().await;
    flaky(&server, 200, 1).await;
    let response = Client::new(http())
        .get(format!("{}/orders", server.uri()))
        .await
        .expect("ok");
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn an_invalid_request_is_a_typed_error_and_nothing_is_sent() {
    let server = MockServer::start().await;
    let error = Client::new(http())
        .get(format!("{}/orders", server.uri()))
        .header("bad header name", "x")
        .send()
        .await
        .expect_err("invalid header");
    assert!(matches!(error, Error::InvalidRequest(_)), "{error:?}");
    assert!(
        server
            .received_requests()
            .await
            .expect("recording")
            .is_empty()
    );
}

#[tokio::test]
async fn a_hung_attempt_times_out_and_is_retried() {
    let server = MockServer::start().await;
    common::respond(
        &server,
        ResponseTemplate::new(200).set_delay(Duration::from_secs(20)),
        1,
        ResponseTemplate::new(200),
    )
    .await;
    let client = Client::builder()
        .retry(RetryConfig::default().base_delay(Duration::from_millis(1)))
        .attempt_timeout(Duration::from_millis(300))
        .build(http())
        .expect("valid");

    let started = std::time::Instant::now();
    let response = client
        .get(format!("{}/orders", server.uri()))
        .send()
        .await
        .expect("second attempt answers");

    assert_eq!(response.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(common::received(&server).await, 2);
}

#[tokio::test]
async fn the_deadline_bounds_the_whole_call() {
    let server = MockServer::start().await;
    Mock::given(path("/orders"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(20)))
        .mount(&server)
        .await;
    let client = Client::builder()
        .retry(RetryConfig::default().deadline(Duration::from_millis(300)))
        .without_attempt_timeout()
        .build(http())
        .expect("valid");

    let error = client
        .get(format!("{}/orders", server.uri()))
        .send()
        .await
        .expect_err("the server is too slow");

    // The deadline, not an attempt's limit, and said so with the call's history.
    assert!(matches!(error, Error::DeadlineExceeded { .. }), "{error:?}");
    let failure = error.failure().expect("a call's history");
    assert_eq!(failure.deadline(), Some(Duration::from_millis(300)));
    assert_eq!(failure.attempts(), 1);
    assert_eq!(
        error.outcome(),
        steadfast::classify::Applied::MaybeApplied,
        "cut after the request was written"
    );
    let shown = error.to_string();
    assert!(
        shown.starts_with("GET: deadline of 300ms exceeded after 1 attempt"),
        "{shown}"
    );
    assert!(shown.contains("outcome unknown"), "{shown}");
}

#[tokio::test(start_paused = true)]
async fn secrets_in_the_url_never_reach_an_error() {
    let server = MockServer::start().await;
    Mock::given(path("/orders"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let client = paused_client(RetryConfig::default().max_retries(1));
    let port = server.address().port();

    let targets = [
        format!("http://svc-user:pa55-userinfo@127.0.0.1:{port}/orders?token=tok-in-query-123"),
        format!(
            "http://svc-user:pa55-userinfo@127.0.0.1:{}/orders?token=tok-in-query-123",
            closed_port()
        ),
    ];
    for url in targets {
        let error = client
            .get(&url)
            .bearer_auth("bearer-secret-456")
            .send()
            .await
            .expect_err("503 or refused");
        let shown = everything_shown(&error);
        for secret in ["pa55-userinfo", "tok-in-query-123", "bearer-secret-456"] {
            assert!(!shown.contains(secret), "{secret} leaked in:\n{shown}");
        }
        assert!(shown.contains("127.0.0.1"), "the host is named:\n{shown}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_custom_classifier_is_used_by_the_retry_layer() {
    let server = MockServer::start().await;
    flaky(&server, 409, 1).await;
    let client = paused(RetryConfig::default())
        .classifier(
            DefaultClassifier::builder()
                .status(reqwest::StatusCode::CONFLICT, Verdict::Transient)
                .build(),
        )
        .build(http())
        .expect("valid");

    let response = client
        .get(format!("{}/orders", server.uri()))
        .send()
        .await
        .expect("409 retried");
    assert_eq!(response.status(), 200);
    assert_eq!(common::received(&server).await, 2);
}

#[tokio::test(start_paused = true)]
async fn clones_share_one_retry_budget() {
    let server = MockServer::start().await;
    Mock::given(path("/orders"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    // One retry per 10 s window, for every clone together.
    let retry = RetryConfig::default().budget(BudgetConfig::default().min_per_second(0.1));
    let first = paused_client(retry);
    let second = first.clone();
    let url = format!("{}/orders", server.uri());

    let a = first.get(&url).send().await.expect_err("503");
    let b = second.get(&url).send().await.expect_err("503");

    assert_eq!(not_retried(&a), Some(NotRetried::BudgetExhausted), "{a:?}");
    assert_eq!(a.failure().map(steadfast::Failure::attempts), Some(2));
    assert_eq!(not_retried(&b), Some(NotRetried::BudgetExhausted), "{b:?}");
    assert_eq!(
        b.failure().map(steadfast::Failure::attempts),
        Some(1),
        "the clone found it spent"
    );
}

#[test]
fn config_is_read_from_text_with_durations() {
    let config: ClientConfig = serde_json::from_str(
        r#"{ "attempt_timeout": "2s",
             "retry": { "max_retries": 5, "base_delay": "250ms", "jitter": "decorrelated",
                        "budget": { "window": "30s", "retry_ratio": 0.2 },
                        "server_dedupes": true, "max_verifications": 1,
                        "verify_timeout": "3s" } }"#,
    )
    .expect("valid json");
    assert_eq!(config.attempt_timeout, Some(Duration::from_secs(2)));
    assert_eq!(config.retry.max_retries, 5);
    assert_eq!(config.retry.base_delay, Duration::from_millis(250));
    assert_eq!(
        config.retry.deadline,
        Some(Duration::from_secs(120)),
        "unset: the default"
    );
    assert!(config.retry.server_dedupes);
    assert_eq!(config.retry.max_verifications, 1);
    assert_eq!(config.retry.verify_timeout, Duration::from_secs(3));
    let budget = config.retry.budget.clone().expect("budget on");
    assert_eq!(budget.window, Duration::from_secs(30));
    assert!(Client::from_config(http(), &config).is_ok());

    let unknown = serde_json::from_str::<ClientConfig>(r#"{ "retry": { "max_retrys": 5 } }"#);
    assert!(
        unknown.is_err(),
        "a misspelt setting is an error, not ignored"
    );
}

type Case = (ClientConfig, fn(&ConfigError) -> bool);

#[test]
fn invalid_configuration_is_a_typed_error() {
    let ms = Duration::from_millis;
    let cases: Vec<Case> = vec![
        (
            ClientConfig::default().retry(
                RetryConfig::default()
                    .base_delay(ms(500))
                    .max_delay(ms(100)),
            ),
            |e| matches!(e, ConfigError::BaseAboveMax { .. }),
        ),
        (
            ClientConfig::default().retry(
                RetryConfig::default().budget(BudgetConfig::default().retry_ratio(f64::NAN)),
            ),
            |e| {
                matches!(
                    e,
                    ConfigError::OutOfRange {
                        name: "budget.retry_ratio",
                        ..
                    }
                )
            },
        ),
        (
            ClientConfig::default().retry(RetryConfig::default().idempotency_header("bad header")),
            |e| matches!(e, ConfigError::HeaderName { .. }),
        ),
        (
            ClientConfig::default().attempt_timeout(Duration::ZERO),
            |e| {
                matches!(
                    e,
                    ConfigError::ZeroDuration {
                        name: "attempt_timeout",
                        ..
                    }
                )
            },
        ),
    ];
    for (config, expected) in cases {
        let error = Client::from_config(http(), &config).expect_err("invalid");
        assert!(expected(&error), "{error:?}");
    }
}

#[derive(Debug, serde::Deserialize)]
struct Customer {
    id: i64,
    email: Option<String>,
}

#[tokio::test]
async fn responses_decode_with_drift_reporting() {
    use steadfast::ResponseExt;
    use steadfast::mapper::DriftMonitor;

    let server = MockServer::start().await;
    Mock::given(path("/customers/42"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "id": 42, "loyalty_tier": "gold"
        })))
        .mount(&server)
        .await;
    Mock::given(path("/customers/43"))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"id": 43,"#))
        .mount(&server)
        .await;
    let client = Client::new(http());
    let monitor = DriftMonitor::new();

    let (customer, report) = client
        .get(format!("{}/customers/42", server.uri()))
        .send()
        .await
        .expect("ok")
        .json_with_drift::<Customer>(&monitor)
        .await
        .expect("decodes");
    assert_eq!((customer.id, customer.email), (42, None));
    assert_eq!(report.unknown, ["loyalty_tier"]);
    assert_eq!(report.missing_optional, ["email"]);

    let error = client
        .get(format!("{}/customers/43", server.uri()))
        .send()
        .await
        .expect("ok")
        .json_with_drift::<Customer>(&monitor)
        .await
        .expect_err("truncated JSON");
    assert!(matches!(error, Error::Decode(_)), "{error:?}");
}

#[tokio::test]
async fn an_error_names_the_endpoint_with_its_secret_path_segments_masked() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let client =
        Client::builder()
            .log(steadfast::log::LogConfig::default().redact(
                steadfast::redact::RedactConfig::default().path("/tenants/*/keys/{secret}"),
            ))
            .build(http())
            .expect("valid");

    for (path, shown) in [
        ("/invoices/inv-7", "/invoices/inv-7"),
        // A default template (Telegram-style bot tokens) and a configured one.
        (
            "/bot123456:SeCrEtToKeN/sendMessage",
            "/botREDACTED/sendMessage",
        ),
        ("/tenants/t1/keys/SeCrEtToKeN", "/tenants/t1/keys/REDACTED"),
    ] {
        let error = client
            .post(format!("{}{path}?token=SeCrEtQuErY", server.uri()))
            .send()
            .await
            .expect_err("500");
        let text = error.to_string();
        assert!(
            text.starts_with(&format!("POST 127.0.0.1{shown} failed")),
            "{text}"
        );
        assert_eq!(error.failure().and_then(|f| f.path()), Some(shown));
        for secret in ["SeCrEt", "token="] {
            assert!(!text.contains(secret), "{text}");
            assert!(!format!("{error:?}").contains(secret), "{error:?}");
        }
    }
}
