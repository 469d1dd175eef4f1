//! Inbound webhooks through real loopback requests to an axum receiver: signatures of every
//! scheme, each way a delivery is refused, secret rotation, and deduplication on the memory
//! store (`tests/webhook_redis.rs` runs it on Redis).
#![cfg(feature = "webhook")]

mod common;
mod webhook_support;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Extension, Router};
use steadfast::idempotency::store::MemoryStore;
use steadfast::webhook::{
    DedupConfig, DeduplicateLayer, DeliveryId, Encoding, IdSource, Scheme, Verified, VerifyConfig,
    VerifySignatureLayer, WebhookSecret,
};
use tokio::sync::Notify;
use tower::ServiceBuilder;
use tracing::Level;
use webhook_support::*;

/// A receiver of verified deliveries at `/hooks` that answers how many bytes it got.
async fn verified_receiver(config: &VerifyConfig) -> String {
    async fn handler(Extension(verified): Extension<Verified>, body: String) -> String {
        format!(
            "{} bytes, signed at {:?}",
            body.len(),
            verified.signed_at.is_some()
        )
    }
    let layer = VerifySignatureLayer::new(config).expect("valid config");
    let app = Router::new().route("/hooks", post(handler).layer(layer));
    format!("http://{}/hooks", serve(app).await)
}

#[tokio::test]
async fn every_scheme_accepts_what_its_provider_signs() {
    let t = now();
    let stripe = verified_receiver(&VerifyConfig::new(
        Scheme::Stripe,
        WebhookSecret::new("whsec_stripe_test"),
    ))
    .await;
    let signature = stripe_signature(&["whsec_stripe_test"], t, BODY);
    assert_eq!(
        send(&stripe, &[("stripe-signature", signature)], BODY).await,
        (
            StatusCode::OK,
            format!("{} bytes, signed at true", BODY.len())
        )
    );

    let standard = verified_receiver(&VerifyConfig::new(
        Scheme::StandardWebhooks,
        WebhookSecret::new(STANDARD_SECRET),
    ))
    .await;
    let headers = standard_headers(STANDARD_SECRET, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", t, BODY);
    assert_eq!(send(&standard, &headers, BODY).await.0, StatusCode::OK);

    let github = verified_receiver(&VerifyConfig::new(
        Scheme::Github,
        WebhookSecret::new("It's a Secret to Everybody"),
    ))
    .await;
    let signature = github_signature("It's a Secret to Everybody", BODY);
    assert_eq!(
        send(&github, &[("x-hub-signature-256", signature)], BODY).await,
        (
            StatusCode::OK,
            format!("{} bytes, signed at false", BODY.len())
        )
    );

    let shopify = verified_receiver(&VerifyConfig::new(
        Scheme::Shopify,
        WebhookSecret::new("shpss_client_secret"),
    ))
    .await;
    let signature = shopify_signature("shpss_client_secret", BODY);
    assert_eq!(
        send(&shopify, &[("x-shopify-hmac-sha256", signature)], BODY)
            .await
            .0,
        StatusCode::OK
    );

    let scheme = Scheme::hmac("X-Partner-Signature", Encoding::Hex, "sha256=");
    let generic =
        verified_receiver(&VerifyConfig::new(scheme, WebhookSecret::new("partner"))).await;
    let signature = github_signature("partner", BODY);
    assert_eq!(
        send(&generic, &[("x-partner-signature", signature)], BODY)
            .await
            .0,
        StatusCode::OK
    );
}

/// What is sent, and the status it must get.
type Case = (
    &'static str,
    Vec<(&'static str, String)>,
    &'static [u8],
    StatusCode,
);

#[tokio::test]
async fn forged_replayed_and_incomplete_deliveries_are_refused_without_detail() {
    let secret = "whsec_stripe_test";
    let url = verified_receiver(&VerifyConfig::new(
        Scheme::Stripe,
        WebhookSecret::new(secret),
    ))
    .await;
    let t = now();
    let tampered: &[u8] = br#"{"id":"evt_1NG8Du2eZvKYlo2CUI79vXWy","type":"invoice.paid","data":{"object":{"amount_paid":1}}}"#;
    let cases: [Case; 7] = [
        (
            "tampered body",
            vec![("stripe-signature", stripe_signature(&[secret], t, BODY))],
            tampered,
            StatusCode::UNAUTHORIZED,
        ),
        (
            "wrong secret",
            vec![(
                "stripe-signature",
                stripe_signature(&["whsec_other"], t, BODY),
            )],
            BODY,
            StatusCode::UNAUTHORIZED,
        ),
        (
            "expired",
            vec![(
                "stripe-signature",
                stripe_signature(&[secret], t - 301, BODY),
            )],
            BODY,
            StatusCode::UNAUTHORIZED,
        ),
        (
            "from the future",
            vec![(
                "stripe-signature",
                stripe_signature(&[secret], t + 301, BODY),
            )],
            BODY,
            StatusCode::UNAUTHORIZED,
        ),
        ("missing header", vec![], BODY, StatusCode::BAD_REQUEST),
        (
            "no timestamp",
            vec![("stripe-signature", format!("v1={}", "0".repeat(64)))],
            BODY,
            StatusCode::BAD_REQUEST,
        ),
        (
            "signature of another timestamp",
            vec![(
                "stripe-signature",
                stripe_signature(&[secret], t - 1, BODY).replacen(
                    &format!("t={}", t - 1),
                    &format!("t={t}"),
                    1,
                ),
            )],
            BODY,
            StatusCode::UNAUTHORIZED,
        ),
    ];
    for (what, headers, body, status) in cases {
        let (got, text) = send(&url, &headers, body).await;
        assert_eq!(got, status, "{what}");
        let expected = if status == StatusCode::UNAUTHORIZED {
            "invalid signature\n"
        } else {
            "bad request\n"
        };
        assert_eq!(text, expected, "{what}: the body says nothing more");
    }

    // Standard Webhooks: each of its three headers is required.
    let standard = verified_receiver(&VerifyConfig::new(
        Scheme::StandardWebhooks,
        WebhookSecret::new(STANDARD_SECRET),
    ))
    .await;
    let headers = standard_headers(STANDARD_SECRET, "msg_1", t, BODY);
    for missing in 0..3 {
        let mut partial = headers.clone();
        partial.remove(missing);
        assert_eq!(
            send(&standard, &partial, BODY).await.0,
            StatusCode::BAD_REQUEST
        );
    }
    let old = standard_headers(STANDARD_SECRET, "msg_1", t - 600, BODY);
    assert_eq!(
        send(&standard, &old, BODY).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn oversized_and_slow_bodies_are_refused() {
    let config = VerifyConfig::new(Scheme::Github, WebhookSecret::new("s"))
        .max_body_bytes(1024)
        .body_timeout(Duration::from_millis(300));
    let url = verified_receiver(&config).await;
    let big: &'static [u8] = Box::leak(vec![b'x'; 1025].into_boxed_slice());
    let signature = github_signature("s", big);
    assert_eq!(
        send(&url, &[("x-hub-signature-256", signature)], big).await,
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload too large\n".to_owned()
        )
    );

    // Streamed without a length: found while reading.
    let chunks =
        futures_util::stream::iter((0..4).map(|_| Ok::<_, std::io::Error>(vec![b'x'; 400])));
    let response = common::http()
        .post(&url)
        .header("x-hub-signature-256", github_signature("s", b""))
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status().as_u16(), 413);

    // A body that never ends: answered when the time bound runs out.
    let stalled = futures_util::stream::pending::<Result<Vec<u8>, std::io::Error>>();
    let started = std::time::Instant::now();
    let response = common::http()
        .post(&url)
        .header("x-hub-signature-256", github_signature("s", b""))
        .body(reqwest::Body::wrap_stream(stalled))
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status().as_u16(), 408);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn old_and_new_secrets_are_both_accepted_during_a_rotation() {
    let (old, new) = ("whsec_old_secret", "whsec_new_secret");
    let rotating =
        VerifyConfig::new(Scheme::Stripe, WebhookSecret::new(old)).secret(WebhookSecret::new(new));
    let url = verified_receiver(&rotating).await;
    let t = now();
    for signers in [&[old][..], &[new], &[old, new], &[new, "whsec_unknown"]] {
        let (status, _) = send(
            &url,
            &[("stripe-signature", stripe_signature(signers, t, BODY))],
            BODY,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{signers:?}");
    }
    // After the overlap the old secret is retired.
    let retired =
        verified_receiver(&VerifyConfig::new(Scheme::Stripe, WebhookSecret::new(new))).await;
    let (status, _) = send(
        &retired,
        &[("stripe-signature", stripe_signature(&[old], t, BODY))],
        BODY,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn nothing_secret_reaches_the_logs() {
    let (capture, buffer, _guard) = common::log::capture_text(Level::TRACE);
    let secret = "whsec_Sup3rS3cretValue";
    let url = verified_receiver(&VerifyConfig::new(
        Scheme::Stripe,
        WebhookSecret::new(secret),
    ))
    .await;
    let forged = stripe_signature(&["whsec_attacker"], now(), BODY);
    let valid_for_other_body = stripe_signature(&[secret], now(), b"{}");
    for signature in [&forged, &valid_for_other_body] {
        let (status, _) = send(&url, &[("stripe-signature", signature.clone())], BODY).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let warnings = capture.events("webhook rejected");
    assert_eq!(warnings.len(), 2, "{}", capture.dump());
    assert!(warnings.iter().all(|e| e.level == Level::WARN));
    assert_eq!(
        warnings[0].field("webhook.rejected"),
        Some("signature_mismatch")
    );
    assert_eq!(warnings[0].field("webhook.scheme"), Some("stripe"));
    let everything = common::log::all_output(&capture, &buffer);
    for secret_part in [
        secret,
        "Sup3rS3cret",
        &forged[13..],
        &valid_for_other_body[13..],
    ] {
        assert!(
            !everything.contains(secret_part),
            "{secret_part} in:\n{everything}"
        );
    }
    assert!(
        everything.contains("signature_mismatch"),
        "the logs do say why"
    );
}

#[test]
fn bad_configuration_is_a_typed_error_that_hides_the_secret() {
    let error = VerifySignatureLayer::new(&VerifyConfig::new(
        Scheme::StandardWebhooks,
        WebhookSecret::new("whsec_%%hunter2%%"),
    ))
    .expect_err("not base64");
    assert!(!format!("{error} {error:?}").contains("hunter2"));
    assert!(
        VerifySignatureLayer::new(&VerifyConfig::default()).is_err(),
        "no secret"
    );
    assert!(DeduplicateLayer::new(&DedupConfig::new(IdSource::header("bad header"))).is_err());
    assert!(DeduplicateLayer::new(&DedupConfig::default().lease(Duration::ZERO)).is_err());
    let config: Result<VerifyConfig, _> =
        serde_json::from_str(r#"{"secrets": ["a"], "tolerence": "5m"}"#);
    assert!(config.is_err(), "a misspelt setting is refused");
}

// ---------------------------------------------------------------- deduplication

fn dedup(config: &DedupConfig) -> DeduplicateLayer {
    DeduplicateLayer::new(config)
        .expect("valid")
        .store(MemoryStore::new())
}

#[tokio::test]
async fn a_hundred_concurrent_deliveries_of_one_event_run_the_handler_once() {
    let gate = Arc::new(Notify::new());
    let handler = Handler {
        gate: Some(Arc::clone(&gate)),
        ..Handler::default()
    };
    let url = stripe_receiver(
        handler.clone(),
        dedup(&DedupConfig::for_scheme(&Scheme::Stripe)),
    )
    .await;
    hundred_at_once(&url, &handler, &gate).await;
}

#[tokio::test]
async fn duplicates_that_wait_all_get_the_first_answer() {
    let gate = Arc::new(Notify::new());
    let handler = Handler {
        gate: Some(Arc::clone(&gate)),
        ..Handler::default()
    };
    let config = DedupConfig::for_scheme(&Scheme::Stripe).max_wait(Duration::from_secs(10));
    let url = stripe_receiver(handler.clone(), dedup(&config)).await;
    let sends: Vec<_> = (0..100)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { send(&url, &stripe_delivery(BODY), BODY).await })
        })
        .collect();
    while handler.runs.count() == 0 {
        tokio::task::yield_now().await;
    }
    gate.notify_one();
    let mut answers = std::collections::BTreeSet::new();
    for send in sends {
        answers.insert(send.await.expect("no panic"));
    }
    assert_eq!(handler.runs.count(), 1);
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(answers.first().map(|a| a.0), Some(StatusCode::OK));
}

#[tokio::test]
async fn a_failed_handler_lets_the_retry_through() {
    let handler = Handler {
        failures: 2,
        ..Handler::default()
    };
    let url = stripe_receiver(
        handler.clone(),
        dedup(&DedupConfig::for_scheme(&Scheme::Stripe)),
    )
    .await;
    for _ in 0..2 {
        assert_eq!(
            send(&url, &stripe_delivery(BODY), BODY).await.0,
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
    let (status, text) = send(&url, &stripe_delivery(BODY), BODY).await;
    assert_eq!(
        (status, text.ends_with("on run 2")),
        (StatusCode::OK, true),
        "{text}"
    );
    assert_eq!(send(&url, &stripe_delivery(BODY), BODY).await.1, text);
    assert_eq!(handler.runs.count(), 3);
}

#[tokio::test]
async fn different_events_each_run_and_unusable_ids_are_refused() {
    const OTHER: &[u8] = br#"{"id":"evt_2","type":"invoice.paid"}"#;
    let handler = Handler::default();
    let url = stripe_receiver(
        handler.clone(),
        dedup(&DedupConfig::for_scheme(&Scheme::Stripe)),
    )
    .await;
    assert_eq!(
        send(&url, &stripe_delivery(BODY), BODY).await.0,
        StatusCode::OK
    );
    assert_eq!(
        send(&url, &stripe_delivery(OTHER), OTHER).await.0,
        StatusCode::OK
    );
    assert_eq!(handler.runs.count(), 2);
    for body in [
        &br#"{"type":"invoice.paid"}"#[..],
        br#"{"id":""}"#,
        b"not json",
    ] {
        let body: &'static [u8] = Box::leak(body.to_vec().into_boxed_slice());
        assert_eq!(
            send(&url, &stripe_delivery(body), body).await,
            (StatusCode::BAD_REQUEST, "bad request\n".to_owned())
        );
    }
    assert_eq!(handler.runs.count(), 2);
}

#[tokio::test]
async fn a_handler_cancelled_mid_run_releases_its_id() {
    // The sender hangs up while the handler runs (a provider's timeout): its retry is handled.
    let gate = Arc::new(Notify::new());
    let handler = Handler {
        gate: Some(Arc::clone(&gate)),
        ..Handler::default()
    };
    let url = stripe_receiver(
        handler.clone(),
        dedup(&DedupConfig::for_scheme(&Scheme::Stripe)),
    )
    .await;
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .expect("client");
    let error = impatient
        .post(&url)
        .header(
            "stripe-signature",
            stripe_signature(&["whsec_dedup"], now(), BODY),
        )
        .body(BODY)
        .send()
        .await
        .expect_err("the sender gives up");
    assert!(error.is_timeout());
    assert_eq!(handler.runs.count(), 1);
    // hyper drops the request's future when the connection closes; the id is released.
    let retry = until_handled(&url, &handler, 2).await;
    gate.notify_one();
    assert_eq!(retry.await.expect("no panic").0, StatusCode::OK);
}

#[tokio::test]
async fn ids_come_from_each_providers_header() {
    async fn handler(State(runs): State<Runs>, Extension(id): Extension<DeliveryId>) -> String {
        runs.start();
        id.0
    }
    let runs = Runs::default();
    let verify =
        VerifySignatureLayer::new(&VerifyConfig::new(Scheme::Github, WebhookSecret::new("gh")))
            .expect("valid");
    let dedup = DeduplicateLayer::new(&DedupConfig::for_scheme(&Scheme::Github)).expect("valid");
    let app = Router::new()
        .route(
            "/hooks",
            post(handler).layer(ServiceBuilder::new().layer(verify).layer(dedup)),
        )
        .with_state(runs.clone());
    let url = format!("http://{}/hooks", serve(app).await);
    let delivery = |id: &str| {
        vec![
            ("x-hub-signature-256", github_signature("gh", BODY)),
            ("x-github-delivery", id.to_owned()),
        ]
    };
    let id = "72d3162e-cc78-11e3-81ab-4c9367dc0958";
    assert_eq!(
        send(&url, &delivery(id), BODY).await,
        (StatusCode::OK, id.to_owned())
    );
    assert_eq!(
        send(&url, &delivery(id), BODY).await,
        (StatusCode::OK, id.to_owned())
    );
    assert_eq!(runs.count(), 1);
    let missing = vec![("x-hub-signature-256", github_signature("gh", BODY))];
    assert_eq!(send(&url, &missing, BODY).await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_handler_hung_past_its_lease_lets_the_retry_through() {
    // The first run hangs (a crashed worker thread, a deadlock): once its lease is over, the
    // sender's retry is handled, since the sender never got an answer.
    let gate = Arc::new(Notify::new());
    let handler = Handler {
        gate: Some(Arc::clone(&gate)),
        ..Handler::default()
    };
    let config = DedupConfig::for_scheme(&Scheme::Stripe).lease(Duration::from_millis(300));
    let url = stripe_receiver(handler.clone(), dedup(&config)).await;
    let hung = tokio::spawn({
        let url = url.clone();
        async move { send(&url, &stripe_delivery(BODY), BODY).await }
    });
    while handler.runs.count() == 0 {
        tokio::task::yield_now().await;
    }
    // Within the lease, a retry is a duplicate in progress.
    assert_eq!(
        send(&url, &stripe_delivery(BODY), BODY).await.0,
        StatusCode::CONFLICT
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    let retry = until_handled(&url, &handler, 2).await;
    // One permit per waiting run, whether or not it is waiting yet.
    gate.notify_one();
    gate.notify_one();
    let (first, second) = (
        hung.await.expect("no panic"),
        retry.await.expect("no panic"),
    );
    assert_eq!((first.0, second.0), (StatusCode::OK, StatusCode::OK));
    // The retry's answer is the one kept: the hung run's claim had lapsed.
    assert_eq!(send(&url, &stripe_delivery(BODY), BODY).await, second);
    assert_eq!(handler.runs.count(), 2);
}
