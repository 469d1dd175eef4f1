//! What the webhook suites share: a second HMAC-SHA256 (written from RFC 2104 over sha2,
//! not the `hmac` crate the layers use), each provider's signing as a sender does it, and
//! an axum receiver on a loopback port.
#![allow(dead_code, unreachable_pub)]

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

/// HMAC-SHA256 as RFC 2104 defines it: H((K ^ opad) || H((K ^ ipad) || message)).
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|k| k ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut hex, b| {
        let _ = write!(hex, "{b:02x}");
        hex
    })
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// A Standard Webhooks secret: `whsec_` and the base64 of 24 bytes.
pub const STANDARD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Stripe's header for `body` signed at `t` with each secret (two while one is rolled).
pub fn stripe_signature(secrets: &[&str], t: u64, body: &[u8]) -> String {
    let mut header = format!("t={t}");
    for secret in secrets {
        let signed = [t.to_string().as_bytes(), b".", body].concat();
        let _ = write!(
            header,
            ",v1={}",
            hex(&hmac_sha256(secret.as_bytes(), &signed))
        );
    }
    header
}

/// Standard Webhooks' three headers for `body`.
pub fn standard_headers(
    secret: &str,
    id: &str,
    t: u64,
    body: &[u8],
) -> Vec<(&'static str, String)> {
    let key = STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .expect("base64 secret");
    let signed = [id.as_bytes(), b".", t.to_string().as_bytes(), b".", body].concat();
    let signature = format!("v1,{}", STANDARD.encode(hmac_sha256(&key, &signed)));
    vec![
        ("webhook-id", id.to_owned()),
        ("webhook-timestamp", t.to_string()),
        ("webhook-signature", signature),
    ]
}

pub fn github_signature(secret: &str, body: &[u8]) -> String {
    format!("sha256={}", hex(&hmac_sha256(secret.as_bytes(), body)))
}

pub fn shopify_signature(secret: &str, body: &[u8]) -> String {
    STANDARD.encode(hmac_sha256(secret.as_bytes(), body))
}

/// Serves `app` on a free loopback port until the test ends.
pub async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serves");
    });
    addr
}

/// How many times a handler ran.
#[derive(Clone, Default)]
pub struct Runs(Arc<AtomicUsize>);

impl Runs {
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    /// Counts a run; returns how many ran before it.
    pub fn start(&self) -> usize {
        self.0.fetch_add(1, Ordering::SeqCst)
    }
}

#[test]
fn the_second_hmac_agrees_with_githubs_test_values() {
    assert_eq!(
        hex(&hmac_sha256(
            b"It's a Secret to Everybody",
            b"Hello, World!"
        )),
        "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    );
    let long_key = [7u8; 100];
    assert_ne!(
        hmac_sha256(&long_key, b"x"),
        hmac_sha256(&long_key[..64], b"x")
    );
}

// ---------------------------------------------------------------- receivers and senders

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use steadfast::webhook::{
    DeduplicateLayer, DeliveryId, Scheme, VerifyConfig, VerifySignatureLayer, WebhookSecret,
};
use tokio::sync::Notify;
use tower::ServiceBuilder;

/// A Stripe event, as Stripe sends it (shortened).
pub const BODY: &[u8] = br#"{"id":"evt_1NG8Du2eZvKYlo2CUI79vXWy","type":"invoice.paid","data":{"object":{"amount_paid":1999}}}"#;

/// Posts `body` with `headers`; the status and body of the answer.
pub async fn send(
    url: &str,
    headers: &[(&'static str, String)],
    body: &'static [u8],
) -> (StatusCode, String) {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.insert(
            HeaderName::from_static(name),
            HeaderValue::from_str(value).expect("valid value"),
        );
    }
    let response = reqwest::Client::builder()
        .pool_idle_timeout(None)
        .build()
        .expect("a plain client")
        .post(url)
        .headers(map)
        .body(body)
        .send()
        .await
        .expect("the receiver answers");
    let status = StatusCode::from_u16(response.status().as_u16()).expect("valid status");
    (status, response.text().await.expect("a body"))
}

/// What a deduplicated handler can be told to do.
#[derive(Clone, Default)]
pub struct Handler {
    pub runs: Runs,
    /// When set, every run waits for it before answering.
    pub gate: Option<Arc<Notify>>,
    /// Runs that fail with a 500, counted from the first.
    pub failures: usize,
}

async fn handle(
    State(handler): State<Handler>,
    Extension(id): Extension<DeliveryId>,
    body: String,
) -> (StatusCode, String) {
    let run = handler.runs.start();
    if let Some(gate) = &handler.gate {
        gate.notified().await;
    }
    if run < handler.failures {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "database down".to_owned(),
        );
    }
    (
        StatusCode::OK,
        format!("processed {} ({} bytes) on run {run}", id.0, body.len()),
    )
}

pub const DEDUP_SECRET: &str = "whsec_dedup";

/// A Stripe receiver at the returned URL: verified, then deduplicated by `dedup`.
pub async fn stripe_receiver(handler: Handler, dedup: DeduplicateLayer) -> String {
    let config = VerifyConfig::new(Scheme::Stripe, WebhookSecret::new(DEDUP_SECRET));
    let verify = VerifySignatureLayer::new(&config).expect("valid");
    let app = Router::new()
        .route(
            "/hooks",
            post(handle).layer(ServiceBuilder::new().layer(verify).layer(dedup)),
        )
        .with_state(handler);
    format!("http://{}/hooks", serve(app).await)
}

/// The signature header of a Stripe delivery of `body`, signed now.
pub fn stripe_delivery(body: &'static [u8]) -> Vec<(&'static str, String)> {
    vec![(
        "stripe-signature",
        stripe_signature(&[DEDUP_SECRET], now(), body),
    )]
}

/// Sends [`BODY`] 100 times at once to a receiver whose handler waits on `gate`: 99 are
/// answered 409 while the first holds the id, the first gets the handler's answer once the
/// gate opens, and a later retry gets that answer again; the handler ran once.
pub async fn hundred_at_once(url: &str, handler: &Handler, gate: &Notify) {
    let mut waiting: Vec<_> = (0..100)
        .map(|_| {
            let url = url.to_owned();
            tokio::spawn(async move { send(&url, &stripe_delivery(BODY), BODY).await })
        })
        .collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut answered = Vec::new();
    while waiting.len() > 1 || handler.runs.count() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the duplicates were not answered while the first was held: {} waiting",
            waiting.len()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
        let (done, still): (Vec<_>, Vec<_>) = waiting
            .into_iter()
            .partition(tokio::task::JoinHandle::is_finished);
        waiting = still;
        for send in done {
            answered.push(send.await.expect("no panic"));
        }
    }
    assert_eq!(answered.len(), 99);
    for (status, text) in &answered {
        assert_eq!(*status, StatusCode::CONFLICT, "{text}");
    }
    gate.notify_one();
    let first = waiting
        .pop()
        .expect("one holds the id")
        .await
        .expect("no panic");
    let expected = format!(
        "processed evt_1NG8Du2eZvKYlo2CUI79vXWy ({} bytes) on run 0",
        BODY.len()
    );
    assert_eq!(first, (StatusCode::OK, expected));
    assert_eq!(handler.runs.count(), 1);
    assert_eq!(send(url, &stripe_delivery(BODY), BODY).await, first);
    assert_eq!(handler.runs.count(), 1);
}

/// Retries [`BODY`] until the handler has run `runs` times (each refused retry must be a
/// 409); the retry that got through, still running.
pub async fn until_handled(
    url: &str,
    handler: &Handler,
    runs: usize,
) -> tokio::task::JoinHandle<(StatusCode, String)> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let retry = tokio::spawn({
            let url = url.to_owned();
            async move { send(&url, &stripe_delivery(BODY), BODY).await }
        });
        loop {
            assert!(
                std::time::Instant::now() < deadline,
                "the id was never released"
            );
            if handler.runs.count() == runs {
                return retry;
            }
            if retry.is_finished() {
                assert_eq!(retry.await.expect("no panic").0, StatusCode::CONFLICT);
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}
