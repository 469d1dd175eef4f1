//! A letter keeps the whole request (headers minus credentials, a replayable body) on every
//! failure path, once the dead-letter layer has stopped copying requests up front and takes
//! them back from the layers below instead: after retries, an unknown outcome, a deadline
//! cutting the call, the ledger failing before retry ran, a streamed body.
//!
//! Every client first makes one call that succeeds: the layer learns from it that the stack
//! below hands requests back. The letters then carry the `Idempotency-Key` header the
//! idempotency layer added, which only the request handed back by retry has.

mod common;

use std::time::Duration;

use steadfast::dead_letter::{
    DeadLetter, DeadLetterSink, LetterBody, LetterFilter, LetterOutcome, MemorySink,
};
use steadfast::idempotency::store::{
    Fingerprint, IdempotencyStore, LeaseToken, LedgerKey, MemoryStore, Reservation, Resolution,
    StoreError, StoreFuture, StoredResponse, Terms,
};
use steadfast::retry::RetryConfig;
use steadfast::{Client, ClientBuilder, Error};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

const BODY: &str = r#"{"customer":"acme","total_cents":1999}"#;

fn retry() -> RetryConfig {
    RetryConfig::default()
        .max_retries(2)
        .base_delay(Duration::from_millis(1))
        .max_delay(Duration::from_millis(2))
        .without_budget()
}

fn builder(sink: &MemorySink) -> ClientBuilder {
    Client::builder()
        .retry(retry())
        .dead_letter_sink(sink.clone())
}

/// `/warm` answers 200, `/invoices` `status`.
async fn api(status: u16) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(path("/warm"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    Mock::given(path("/invoices"))
        .respond_with(ResponseTemplate::new(status))
        .mount(&server)
        .await;
    server
}

/// One call that succeeds, so that the layer stops copying requests.
async fn warm(client: &Client, base: &str) {
    client
        .get(format!("{base}/warm"))
        .send()
        .await
        .expect("the warm-up call succeeds");
}

fn invoice(client: &Client, url: &str) -> steadfast::RequestBuilder {
    client
        .post(url)
        .bearer_auth("bearer-secret")
        .header("X-Request-Source", "nightly-sync")
        .header("Content-Type", "application/json")
}

async fn the_one_letter(sink: &MemorySink) -> DeadLetter {
    let letters = sink
        .list(&LetterFilter::default().limit(usize::MAX))
        .await
        .expect("memory never fails");
    assert_eq!(letters.len(), 1, "{letters:?}");
    letters.into_iter().next().expect("one")
}

fn header<'a>(letter: &'a DeadLetter, name: &str) -> Option<&'a str> {
    letter
        .request
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The request as the caller sent it, minus its credential, with the key it was sent with.
fn assert_whole(letter: &DeadLetter, url: &str, body: &LetterBody) {
    assert_eq!(letter.request.method, "POST");
    assert_eq!(letter.request.url, url);
    assert_eq!(header(letter, "x-request-source"), Some("nightly-sync"));
    assert_eq!(header(letter, "content-type"), Some("application/json"));
    assert_eq!(header(letter, "authorization"), None, "no credential");
    assert!(
        !serde_json::to_string(letter)
            .expect("encodes")
            .contains("bearer-secret")
    );
    assert_eq!(&letter.request.body, body);
    assert_eq!(
        header(letter, "idempotency-key"),
        letter.idempotency_key.as_deref(),
        "the request as sent, key included"
    );
    assert!(letter.idempotency_key.is_some());
}

#[tokio::test]
async fn after_retries_the_letter_has_the_request_handed_back() {
    let (server, sink) = (api(503).await, MemorySink::default());
    let client = builder(&sink).build(common::http()).expect("valid");
    warm(&client, &server.uri()).await;
    let url = format!("{}/invoices?page=2", server.uri());
    let error = invoice(&client, &url)
        .body(BODY)
        .send()
        .await
        .expect_err("503s");
    assert!(matches!(error, Error::RetriesExhausted { .. }), "{error:?}");
    let letter = the_one_letter(&sink).await;
    assert_whole(&letter, &url, &LetterBody::Text(BODY.to_owned()));
    assert_eq!(letter.attempts.len(), 3);
    assert!(letter.is_replayable());
}

#[tokio::test]
async fn an_unknown_outcome_has_the_request_handed_back() {
    let (server, sink) = (api(500).await, MemorySink::default());
    let client = builder(&sink).build(common::http()).expect("valid");
    warm(&client, &server.uri()).await;
    let url = format!("{}/invoices", server.uri());
    let error = invoice(&client, &url)
        .body(BODY)
        .send()
        .await
        .expect_err("500");
    assert!(error.outcome().is_maybe_applied(), "{error:?}");
    let letter = the_one_letter(&sink).await;
    assert_eq!(letter.outcome, LetterOutcome::Unknown);
    assert_whole(&letter, &url, &LetterBody::Text(BODY.to_owned()));
}

#[tokio::test(start_paused = true)]
async fn a_call_cut_by_the_deadline_has_the_request_handed_back() {
    // `/warm` answers; anything else is accepted and never answered.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut first = [0_u8; 1024];
            let read = tokio::io::AsyncReadExt::read(&mut socket, &mut first)
                .await
                .unwrap_or(0);
            if first[..read].starts_with(b"GET /warm") {
                let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
                let _ = tokio::io::AsyncWriteExt::write_all(&mut socket, ok).await;
            } else {
                held.push(socket);
            }
        }
    });
    let sink = MemorySink::default();
    let client = Client::builder()
        .retry(retry().deadline(Duration::from_secs(5)))
        .without_attempt_timeout()
        .dead_letter_sink(sink.clone())
        .build(common::http())
        .expect("valid");
    warm(&client, &base).await;
    let url = format!("{base}/invoices");
    let error = invoice(&client, &url)
        .body(BODY)
        .send()
        .await
        .expect_err("cut");
    assert!(error.outcome().is_maybe_applied(), "{error:?}");
    let letter = the_one_letter(&sink).await;
    assert_eq!(letter.attempts[0].reason, "timed out");
    assert_whole(&letter, &url, &LetterBody::Text(BODY.to_owned()));
}

#[tokio::test]
async fn a_streamed_body_leaves_a_letter_with_its_head() {
    let (server, sink) = (api(503).await, MemorySink::default());
    let client = builder(&sink).build(common::http()).expect("valid");
    warm(&client, &server.uri()).await;
    let url = format!("{}/invoices", server.uri());
    let chunks = futures_util::stream::iter([Ok::<_, std::io::Error>(BODY.as_bytes())]);
    let error = invoice(&client, &url)
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .expect_err("503, not replayable");
    assert!(matches!(error, Error::NotRetried { .. }), "{error:?}");
    let letter = the_one_letter(&sink).await;
    assert_whole(&letter, &url, &LetterBody::Streamed);
    assert!(!letter.is_replayable());
}

/// A ledger that cannot be reached.
#[derive(Clone, Default)]
struct Down(MemoryStore);

impl IdempotencyStore for Down {
    fn reserve(&self, _: &LedgerKey, _: &Fingerprint, _: Terms) -> StoreFuture<Reservation> {
        StoreFuture::ready(Err(StoreError::Unavailable("connection refused".into())))
    }
    fn complete(
        &self,
        key: &LedgerKey,
        token: &LeaseToken,
        response: StoredResponse,
        ttl: Duration,
    ) -> StoreFuture<bool> {
        self.0.complete(key, token, response, ttl)
    }
    fn release(&self, key: &LedgerKey, token: &LeaseToken) -> StoreFuture<()> {
        self.0.release(key, token)
    }
    fn mark_unknown(&self, key: &LedgerKey, token: &LeaseToken, ttl: Duration) -> StoreFuture<()> {
        self.0.mark_unknown(key, token, ttl)
    }
    fn resolve(&self, key: &LedgerKey, resolution: Resolution, ttl: Duration) -> StoreFuture<bool> {
        self.0.resolve(key, resolution, ttl)
    }
}

#[tokio::test]
async fn a_ledger_down_before_retry_ran_leaves_a_letter_with_the_request() {
    let (server, sink) = (api(201).await, MemorySink::default());
    let client = builder(&sink)
        .idempotency_store(Down::default())
        .build(common::http())
        .expect("valid");
    warm(&client, &server.uri()).await;
    let url = format!("{}/invoices", server.uri());
    let error = invoice(&client, &url)
        .header("Idempotency-Key", "inv-2024-001")
        .body(BODY)
        .send()
        .await
        .expect_err("no ledger");
    assert!(matches!(error, Error::Ledger { .. }), "{error:?}");
    let sent = server.received_requests().await.expect("recording");
    assert_eq!(sent.len(), 1, "only the warm-up was sent");
    let letter = the_one_letter(&sink).await;
    assert_whole(&letter, &url, &LetterBody::Text(BODY.to_owned()));
    assert_eq!(letter.idempotency_key.as_deref(), Some("inv-2024-001"));
}

/// A sink that says when a store starts, waits for the test to let it go, then stores.
#[derive(Clone, Default)]
struct Gated {
    inner: MemorySink,
    started: std::sync::Arc<tokio::sync::Notify>,
    gate: std::sync::Arc<tokio::sync::Notify>,
    stored: std::sync::Arc<tokio::sync::Notify>,
}

impl DeadLetterSink for Gated {
    fn store(&self, letter: &DeadLetter) -> steadfast::dead_letter::SinkFuture<'_, ()> {
        let letter = letter.clone();
        Box::pin(async move {
            self.started.notify_one();
            self.gate.notified().await;
            let stored = self.inner.store(&letter).await;
            self.stored.notify_one();
            stored
        })
    }
    fn get(
        &self,
        id: steadfast::dead_letter::LetterId,
    ) -> steadfast::dead_letter::SinkFuture<'_, Option<DeadLetter>> {
        self.inner.get(id)
    }
    fn list(
        &self,
        filter: &LetterFilter,
    ) -> steadfast::dead_letter::SinkFuture<'_, Vec<DeadLetter>> {
        self.inner.list(filter)
    }
    fn claim(
        &self,
        id: steadfast::dead_letter::LetterId,
        by: &str,
        lease: Duration,
    ) -> steadfast::dead_letter::SinkFuture<'_, steadfast::dead_letter::Claim> {
        self.inner.claim(id, by, lease)
    }
}

#[tokio::test]
async fn a_caller_that_gives_up_while_its_letter_is_stored_loses_no_letter() {
    let (server, sink) = (api(503).await, Gated::default());
    let client = Client::builder()
        .retry(retry())
        .dead_letter_sink(sink.clone())
        .build(common::http())
        .expect("valid");
    let url = format!("{}/invoices", server.uri());
    let mut call = Box::pin(invoice(&client, &url).body(BODY).send());
    tokio::select! {
        result = &mut call => panic!("the error waits for its letter: {result:?}"),
        () = sink.started.notified() => {}
    }
    // The caller gives up while the letter is being stored.
    drop(call);
    sink.gate.notify_one();
    tokio::time::timeout(Duration::from_secs(2), sink.stored.notified())
        .await
        .expect("the letter is stored after the caller left");
    let letters = sink
        .inner
        .list(&LetterFilter::default())
        .await
        .expect("memory never fails");
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].request.url, url);
}
