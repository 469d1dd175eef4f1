//! Credentials per attempt against loopback servers: a rotated environment value and file
//! are used by the next call and not before, OAuth 2.0 tokens are fetched once for many
//! callers, refreshed before they expire and once on a `401`, and an attempt without a
//! credential is never sent.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{build, everything_shown, http, keys, paused, received};
use secrecy::SecretString;
use steadfast::credentials::{
    Credential, CredentialsConfig, CredentialsError, EnvCredentials, FileCredentials,
    OAuth2Credentials, StaticCredentials,
};
use steadfast::idempotency::store::{
    Fingerprint, IdempotencyStore, LeaseToken, LedgerKey, MemoryStore, Reservation, Resolution,
    StoreFuture, StoredResponse, Terms,
};
use steadfast::retry::{Jitter, RetryConfig};
use steadfast::{Client, ClientConfig, Error};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

// ---------------------------------------------------------------------------------------
// Helpers

/// A server whose `/orders` answers 200 to anything.
async fn orders() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(path("/orders"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    server
}

/// A server whose `/orders` answers 200 only to `x-api-key: <current>` and 401 otherwise.
async fn orders_accepting(current: Arc<Mutex<String>>) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(path("/orders"))
        .respond_with(move |request: &Request| {
            let key = request
                .headers
                .get("x-api-key")
                .and_then(|v| v.to_str().ok());
            if key == Some(current.lock().expect("not poisoned").as_str()) {
                ResponseTemplate::new(200)
            } else {
                ResponseTemplate::new(401)
            }
        })
        .mount(&server)
        .await;
    server
}

async fn get(client: &Client, server: &MockServer) -> Result<reqwest::Response, Error> {
    client.get(format!("{}/orders", server.uri())).send().await
}

/// Fast retries, no budget: a test decides what happens on each attempt.
fn retry() -> RetryConfig {
    RetryConfig::default()
        .max_retries(2)
        .base_delay(Duration::from_millis(10))
        .max_delay(Duration::from_millis(10))
        .jitter(Jitter::None)
        .without_budget()
}

/// The `CredentialsError` in an error's `source()` chain.
fn credentials_error(error: &Error) -> &CredentialsError {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<CredentialsError>() {
            return found;
        }
        current = e.source();
    }
    panic!("no CredentialsError in {error:?}")
}

/// A fresh directory for a test's files, removed when dropped.
struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scratch(name: &str) -> Scratch {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "steadfast-credentials-{}-{name}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    Scratch(dir)
}

/// Replaces `file` atomically, as Kubernetes and Vault agent do: write aside, rename over.
fn rotate(file: &Path, content: &str) {
    let aside = file.with_extension("new");
    std::fs::write(&aside, content).expect("write");
    std::fs::rename(&aside, file).expect("rename");
}

// ---------------------------------------------------------------------------------------
// Environment

#[tokio::test]
async fn a_rotated_env_value_is_used_by_the_next_call() {
    let server = orders().await;
    let value = Arc::new(Mutex::new(String::from("k-1")));
    let seen = Arc::clone(&value);
    let provider = EnvCredentials::header("CRM_API_KEY", "x-api-key")
        .expect("valid")
        .lookup(move |var| {
            assert_eq!(var, "CRM_API_KEY");
            Some(seen.lock().expect("not poisoned").clone())
        });
    let client = build(Client::builder().credentials(provider));

    get(&client, &server).await.expect("first");
    get(&client, &server).await.expect("second");
    *value.lock().expect("not poisoned") = String::from("k-2");
    get(&client, &server).await.expect("third");

    let requests = server.received_requests().await.expect("recording");
    assert_eq!(keys(&requests, "x-api-key"), ["k-1", "k-1", "k-2"]);
}

#[tokio::test]
async fn an_env_value_can_go_in_the_query_with_a_prefix() {
    let server = orders().await;
    let provider = EnvCredentials::query("CRM_TOKEN", "token")
        .prefix("v1.")
        .lookup(|_| Some(String::from("abc")));
    let client = build(Client::builder().credentials(provider));
    client
        .get(format!("{}/orders?status=open", server.uri()))
        .send()
        .await
        .expect("sent");
    let requests = server.received_requests().await.expect("recording");
    assert_eq!(requests[0].url.query(), Some("status=open&token=v1.abc"));
}

#[tokio::test]
async fn an_unset_variable_sends_nothing_and_is_not_retried() {
    let server = orders().await;
    let looked_up = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&looked_up);
    let provider = EnvCredentials::header("CRM_API_KEY", "x-api-key")
        .expect("valid")
        .lookup(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
            None
        });
    let client = build(Client::builder().retry(retry()).credentials(provider));

    let error = get(&client, &server).await.expect_err("no key");
    assert_eq!(received(&server).await, 0, "nothing was sent");
    assert_eq!(error.outcome(), steadfast::classify::Applied::NotApplied);
    assert!(
        matches!(
            &error,
            Error::Credentials { source: CredentialsError::EnvMissing { var, .. }, .. }
                if var == "CRM_API_KEY"
        ),
        "the refusal itself, not wrapped: {error:?}"
    );
    assert_eq!(
        looked_up.load(Ordering::SeqCst),
        1,
        "an unset variable needs a person: not retried"
    );
}

/// Run by [`the_real_environment_is_read`] in a child process with the variable set (the
/// crate forbids `unsafe`, so the test cannot call `std::env::set_var` itself).
#[tokio::test]
#[ignore = "run by the_real_environment_is_read in a child process"]
async fn child_reads_the_real_environment() {
    let server = orders().await;
    let provider = EnvCredentials::header("STEADFAST_TEST_API_KEY", "x-api-key").expect("valid");
    let client = build(Client::builder().credentials(provider));
    get(&client, &server).await.expect("sent");
    let requests = server.received_requests().await.expect("recording");
    assert_eq!(keys(&requests, "x-api-key"), ["from-the-environment"]);
    println!("CHILD-SAW-THE-KEY");
}

#[test]
fn the_real_environment_is_read() {
    let output = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "child_reads_the_real_environment",
            "--ignored",
            "--nocapture",
        ])
        .env("STEADFAST_TEST_API_KEY", "from-the-environment")
        .output()
        .expect("the test binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("CHILD-SAW-THE-KEY"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

// ---------------------------------------------------------------------------------------
// File

#[tokio::test(start_paused = true)]
async fn a_rotated_file_is_used_after_the_recheck_interval_not_before() {
    let server = orders().await;
    let dir = scratch("rotated");
    let file = dir.join("api-key");
    std::fs::write(&file, "k-1\n").expect("write");
    let provider = FileCredentials::header(&file, "x-api-key")
        .expect("valid")
        .recheck(Duration::from_secs(5));
    let client = build(paused(retry()).credentials(provider));

    get(&client, &server).await.expect("first");
    rotate(&file, "k-2\n");
    get(&client, &server).await.expect("before the recheck");
    tokio::time::advance(Duration::from_secs(4)).await;
    get(&client, &server)
        .await
        .expect("still before the recheck");
    tokio::time::advance(Duration::from_secs(1)).await;
    get(&client, &server).await.expect("after the recheck");

    let requests = server.received_requests().await.expect("recording");
    assert_eq!(keys(&requests, "x-api-key"), ["k-1", "k-1", "k-1", "k-2"]);
}

#[tokio::test(start_paused = true)]
async fn a_401_looks_at_the_file_at_once_and_resends_with_the_new_key() {
    let current = Arc::new(Mutex::new(String::from("k-1")));
    let server = orders_accepting(Arc::clone(&current)).await;
    let dir = scratch("on-401");
    let file = dir.join("api-key");
    std::fs::write(&file, "k-1").expect("write");
    let provider = FileCredentials::header(&file, "x-api-key")
        .expect("valid")
        .recheck(Duration::from_secs(3600));
    let client = build(paused(retry()).credentials(provider));

    get(&client, &server).await.expect("first");
    // The key is rotated on both ends; the client's recheck is an hour away.
    rotate(&file, "k-2-longer");
    *current.lock().expect("not poisoned") = String::from("k-2-longer");
    let response = get(&client, &server)
        .await
        .expect("resent with the new key");
    assert_eq!(response.status(), 200);

    let requests = server.received_requests().await.expect("recording");
    assert_eq!(
        keys(&requests, "x-api-key"),
        ["k-1", "k-1", "k-2-longer"],
        "one 401, then the same attempt once more"
    );
}

#[tokio::test]
async fn a_missing_file_sends_nothing_and_a_vanished_one_keeps_the_last_key() {
    let server = orders().await;
    let dir = scratch("missing");
    let file = dir.join("api-key");
    let provider = FileCredentials::header(&file, "x-api-key")
        .expect("valid")
        .recheck(Duration::ZERO);
    let client = build(
        Client::builder()
            .retry(retry().max_retries(0))
            .credentials(provider),
    );

    let error = get(&client, &server).await.expect_err("no file yet");
    assert!(
        matches!(credentials_error(&error), CredentialsError::File { path, .. } if *path == file)
    );
    assert!(credentials_error(&error).is_transient(), "a mount may come");
    assert_eq!(received(&server).await, 0, "nothing was sent");

    std::fs::write(&file, "k-1\r\n").expect("write");
    get(&client, &server).await.expect("the file is there");
    std::fs::remove_file(&file).expect("remove");
    get(&client, &server)
        .await
        .expect("the last good key stays in use");

    let requests = server.received_requests().await.expect("recording");
    assert_eq!(keys(&requests, "x-api-key"), ["k-1", "k-1"]);
}

#[tokio::test]
async fn an_oversized_or_empty_file_is_an_error_not_a_request() {
    let server = orders().await;
    let dir = scratch("bounded");
    for (content, large) in [("x".repeat(100), true), ("\n".to_owned(), false)] {
        let file = dir.join("token");
        std::fs::write(&file, &content).expect("write");
        let provider = FileCredentials::header(&file, "authorization")
            .expect("valid")
            .prefix("Bearer ")
            .max_bytes(64);
        let client = build(Client::builder().credentials(provider));
        let error = get(&client, &server).await.expect_err("unusable file");
        let found = credentials_error(&error);
        if large {
            assert!(
                matches!(found, CredentialsError::FileTooLarge { limit: 64, .. }),
                "{found:?}"
            );
        } else {
            assert!(
                matches!(found, CredentialsError::Invalid { .. }),
                "{found:?}"
            );
        }
    }
    assert_eq!(received(&server).await, 0);
}

// ---------------------------------------------------------------------------------------
// OAuth 2.0

/// A token endpoint handing out `t-1`, `t-2`, … with `expires_in`, counting requests, and
/// checking the client authenticated with Basic `billing-sync:s3cret`.
async fn token_endpoint(expires_in: u64) -> (MockServer, Arc<AtomicUsize>) {
    let server = MockServer::start().await;
    let issued = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&issued);
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        // base64("billing-sync:s3cret")
        .and(header(
            "authorization",
            "Basic YmlsbGluZy1zeW5jOnMzY3JldA==",
        ))
        .respond_with(move |request: &Request| {
            let body = String::from_utf8_lossy(&request.body);
            assert!(body.contains("grant_type=client_credentials"), "{body}");
            assert!(
                body.contains("scope=invoices%3Awrite+invoices%3Aread"),
                "{body}"
            );
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "access_token": format!("t-{n}"),
                "token_type": "Bearer",
                "expires_in": expires_in,
            }))
        })
        .mount(&server)
        .await;
    (server, issued)
}

fn oauth2(tokens: &MockServer) -> OAuth2Credentials {
    OAuth2Credentials::new(
        http(),
        format!("{}/oauth2/token", tokens.uri())
            .parse()
            .expect("valid"),
        "billing-sync",
        SecretString::from("s3cret"),
    )
    .scopes(["invoices:write", "invoices:read"])
    .refresh_margin(Duration::from_secs(30))
}

/// An API answering 200 to `Bearer <accepted>` and 401 to anything else.
async fn api_accepting(accepted: &'static [&'static str]) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(path("/invoices"))
        .respond_with(move |request: &Request| {
            let auth = request
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if accepted.iter().any(|t| auth == format!("Bearer {t}")) {
                ResponseTemplate::new(200)
            } else {
                ResponseTemplate::new(401)
            }
        })
        .mount(&server)
        .await;
    server
}

async fn post_invoice(client: &Client, api: &MockServer) -> Result<reqwest::Response, Error> {
    client
        .post(format!("{}/invoices", api.uri()))
        .json(&serde_json::json!({ "customer": "c-42", "amount": 1999 }))
        .send()
        .await
}

#[tokio::test]
async fn fifty_concurrent_calls_share_one_token_request() {
    let (tokens, issued) = token_endpoint(3600).await;
    let api = api_accepting(&["t-1"]).await;
    let client = build(Client::builder().credentials(oauth2(&tokens)));

    let calls = (0..50).map(|_| {
        let client = client.clone();
        let url = format!("{}/invoices", api.uri());
        tokio::spawn(async move { client.get(url).send().await })
    });
    for call in futures_util::future::join_all(calls).await {
        assert_eq!(call.expect("joined").expect("sent").status(), 200);
    }
    assert_eq!(
        issued.load(Ordering::SeqCst),
        1,
        "one token for fifty calls"
    );
    assert_eq!(received(&api).await, 50);
}

#[tokio::test(start_paused = true)]
async fn a_token_is_refreshed_a_margin_before_it_expires() {
    let (tokens, issued) = token_endpoint(120).await;
    let api = api_accepting(&["t-1", "t-2"]).await;
    // No timers while a request is in flight on a paused clock (see common::http).
    let provider = oauth2(&tokens).without_token_timeout();
    let client = build(paused(retry()).credentials(provider));

    post_invoice(&client, &api).await.expect("first");
    tokio::time::advance(Duration::from_secs(89)).await;
    post_invoice(&client, &api).await.expect("cached");
    assert_eq!(issued.load(Ordering::SeqCst), 1, "still cached 89 s in");
    tokio::time::advance(Duration::from_secs(2)).await;
    post_invoice(&client, &api).await.expect("refreshed");
    assert_eq!(
        issued.load(Ordering::SeqCst),
        2,
        "refreshed 30 s before expiry"
    );

    let requests = api.received_requests().await.expect("recording");
    assert_eq!(
        keys(&requests, "authorization"),
        ["Bearer t-1", "Bearer t-1", "Bearer t-2"]
    );
}

#[tokio::test]
async fn a_401_refreshes_once_and_sends_the_attempt_once_more() {
    let (tokens, issued) = token_endpoint(3600).await;
    // The server revoked t-1 early.
    let api = api_accepting(&["t-2"]).await;
    let client = build(Client::builder().credentials(oauth2(&tokens)));

    let response = post_invoice(&client, &api).await.expect("resent");
    assert_eq!(response.status(), 200);
    assert_eq!(issued.load(Ordering::SeqCst), 2);
    let requests = api.received_requests().await.expect("recording");
    assert_eq!(
        keys(&requests, "authorization"),
        ["Bearer t-1", "Bearer t-2"]
    );
    // The same POST both times, its idempotency key included.
    common::assert_one_key(&requests, "idempotency-key", 2);
    assert_eq!(requests[0].body, requests[1].body);
}

#[tokio::test]
async fn repeated_401s_are_not_a_loop() {
    let (tokens, issued) = token_endpoint(3600).await;
    let api = api_accepting(&[]).await;
    let client = build(
        Client::builder()
            .retry(retry())
            .credentials(oauth2(&tokens)),
    );

    let error = post_invoice(&client, &api).await.expect_err("always 401");
    assert_eq!(error.status(), Some(reqwest::StatusCode::UNAUTHORIZED));
    let failure = error.failure().expect("a failure");
    assert!(failure.classification().needs_attention(), "{error}");
    assert_eq!(failure.attempts(), 1, "a 401 is not retried");
    assert_eq!(
        received(&api).await,
        2,
        "one attempt, sent once more, no more"
    );
    assert_eq!(issued.load(Ordering::SeqCst), 2, "one refresh");

    // The next call starts from the refreshed token, and again refreshes once.
    let _ = post_invoice(&client, &api).await.expect_err("still 401");
    assert_eq!(received(&api).await, 4);
    assert_eq!(issued.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn a_token_endpoint_that_is_down_sends_nothing_to_the_api() {
    let api = api_accepting(&["t-1"]).await;
    let down = OAuth2Credentials::new(
        http(),
        format!("http://127.0.0.1:{}/oauth2/token", common::closed_port())
            .parse()
            .expect("valid"),
        "billing-sync",
        SecretString::from("s3cret"),
    )
    .without_token_timeout();
    let client = build(paused(retry()).credentials(down));

    let error = post_invoice(&client, &api).await.expect_err("no token");
    assert!(matches!(
        credentials_error(&error),
        CredentialsError::TokenUnreachable { .. }
    ));
    assert_eq!(error.outcome(), steadfast::classify::Applied::NotApplied);
    // Retried like any transient failure (three attempts: `tests/refusal.rs` counts them),
    // then handed on as the refusal it is.
    assert!(matches!(&error, Error::Credentials { .. }), "{error:?}");
    assert!(error.refused_before_sending());
    assert_eq!(received(&api).await, 0, "nothing was sent to the API");
}

#[tokio::test]
async fn a_refused_client_is_a_typed_error_not_retried() {
    let tokens = MockServer::start().await;
    Mock::given(path("/oauth2/token"))
        .respond_with(ResponseTemplate::new(401).set_body_json(serde_json::json!({
            "error": "invalid_client",
            "error_description": "client secret s3cret is wrong",
        })))
        .mount(&tokens)
        .await;
    let api = api_accepting(&["t-1"]).await;
    let client = build(
        Client::builder()
            .retry(retry())
            .credentials(oauth2(&tokens)),
    );

    let error = post_invoice(&client, &api).await.expect_err("refused");
    assert!(matches!(
        credentials_error(&error),
        CredentialsError::TokenRejected { status, error: Some(code), .. }
            if *status == 401 && code == "invalid_client"
    ));
    assert_eq!(received(&tokens).await, 1, "a refusal is not retried");
    assert_eq!(received(&api).await, 0);
    let shown = everything_shown(&error);
    assert!(!shown.contains("s3cret"), "{shown}");
}

#[tokio::test(start_paused = true)]
async fn a_slow_or_huge_token_response_is_bounded() {
    let api = api_accepting(&["t-1"]).await;
    let tokens = MockServer::start().await;
    Mock::given(path("/slow/token"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3600)))
        .mount(&tokens)
        .await;
    Mock::given(path("/huge/token"))
        .respond_with(ResponseTemplate::new(200).set_body_string("x".repeat(100_000)))
        .mount(&tokens)
        .await;
    let provider = |at: &str| {
        OAuth2Credentials::new(
            http(),
            format!("{}/{at}/token", tokens.uri())
                .parse()
                .expect("valid"),
            "billing-sync",
            SecretString::from("s3cret"),
        )
    };
    let slow = provider("slow").token_timeout(Duration::from_secs(2));
    let client = build(paused(retry().max_retries(0)).credentials(slow));
    let error = post_invoice(&client, &api).await.expect_err("too slow");
    assert!(matches!(
        credentials_error(&error),
        CredentialsError::TokenTimeout { limit, .. } if *limit == Duration::from_secs(2)
    ));

    let huge = provider("huge").without_token_timeout().max_bytes(1024);
    let client = build(paused(retry().max_retries(0)).credentials(huge));
    let error = post_invoice(&client, &api).await.expect_err("too large");
    assert!(matches!(
        credentials_error(&error),
        CredentialsError::TokenResponse { .. }
    ));
    assert_eq!(received(&api).await, 0);
}

#[tokio::test]
async fn oauth2_from_the_configuration_reads_its_secret_from_a_file() {
    let (tokens, issued) = token_endpoint(3600).await;
    let api = api_accepting(&["t-1"]).await;
    let dir = scratch("oauth2-config");
    let secret = dir.join("client-secret");
    std::fs::write(&secret, "s3cret\n").expect("write");
    let config: ClientConfig = serde_json::from_value(serde_json::json!({
        "credentials": { "oauth2": {
            "token_url": format!("{}/oauth2/token", tokens.uri()),
            "client_id": "billing-sync",
            "client_secret_file": secret,
            "scopes": ["invoices:write", "invoices:read"],
            "audience": "https://billing.example.com",
            "refresh_margin": "30s",
        }}
    }))
    .expect("valid config");
    assert!(matches!(
        config.credentials,
        Some(CredentialsConfig::Oauth2(_))
    ));
    let client = Client::from_config(http(), &config).expect("builds");
    post_invoice(&client, &api).await.expect("authorized");
    assert_eq!(issued.load(Ordering::SeqCst), 1);
    let asked = tokens.received_requests().await.expect("recording");
    let form = String::from_utf8_lossy(&asked[0].body);
    assert!(
        form.contains("audience=https%3A%2F%2Fbilling.example.com"),
        "{form}"
    );
    assert!(
        !form.contains("s3cret"),
        "the secret goes in the Basic header: {form}"
    );
}

#[tokio::test]
async fn the_client_can_authenticate_in_the_form_body() {
    let tokens = MockServer::start().await;
    Mock::given(path("/oauth2/token"))
        .and(wiremock::matchers::body_string_contains(
            "client_id=billing-sync",
        ))
        .and(wiremock::matchers::body_string_contains(
            "client_secret=s3cret",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": "t-1", "token_type": "bearer",
        })))
        .mount(&tokens)
        .await;
    let api = api_accepting(&["t-1"]).await;
    let provider = oauth2(&tokens).client_auth(steadfast::credentials::ClientAuth::Body);
    let client = build(
        Client::builder()
            .retry(retry().max_retries(0))
            .credentials(provider),
    );
    post_invoice(&client, &api).await.expect("authorized");
    let asked = tokens.received_requests().await.expect("recording");
    assert!(!asked[0].headers.contains_key("authorization"));
}

// ---------------------------------------------------------------------------------------
// Your own source, and what stays out of the ledger

#[tokio::test]
async fn a_custom_source_is_asked_on_every_attempt() {
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
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&asked);
    let provider = steadfast::credentials::from_fn(move || {
        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
        async move { Credential::header("x-api-key", &format!("vault-{n}")) }
    });
    let client = build(Client::builder().retry(retry()).credentials(provider));

    get(&client, &server).await.expect("retried once");
    let requests = server.received_requests().await.expect("recording");
    assert_eq!(
        keys(&requests, "x-api-key"),
        ["vault-1", "vault-2"],
        "the retry got a fresh credential"
    );

    let failing = steadfast::credentials::from_fn(|| async {
        Err::<Credential, _>(std::io::Error::other("vault sealed"))
    });
    let client = build(
        Client::builder()
            .retry(retry().max_retries(0))
            .credentials(failing),
    );
    let error = get(&client, &server).await.expect_err("no credential");
    assert!(matches!(
        credentials_error(&error),
        CredentialsError::Source(_)
    ));
    assert_eq!(received(&server).await, 2, "nothing more was sent");
}

/// A ledger that records what the idempotency layer gives it.
#[derive(Clone, Default)]
struct Recording {
    inner: MemoryStore,
    fingerprints: Arc<Mutex<Vec<Fingerprint>>>,
    stored: Arc<Mutex<Vec<StoredResponse>>>,
}

impl IdempotencyStore for Recording {
    fn reserve(
        &self,
        key: &LedgerKey,
        fingerprint: &Fingerprint,
        terms: Terms,
    ) -> StoreFuture<Reservation> {
        self.fingerprints
            .lock()
            .expect("not poisoned")
            .push(*fingerprint);
        self.inner.reserve(key, fingerprint, terms)
    }

    fn complete(
        &self,
        key: &LedgerKey,
        token: &LeaseToken,
        response: StoredResponse,
        ttl: Duration,
    ) -> StoreFuture<bool> {
        self.stored
            .lock()
            .expect("not poisoned")
            .push(response.clone());
        self.inner.complete(key, token, response, ttl)
    }

    fn release(&self, key: &LedgerKey, token: &LeaseToken) -> StoreFuture<()> {
        self.inner.release(key, token)
    }

    fn mark_unknown(&self, key: &LedgerKey, token: &LeaseToken, ttl: Duration) -> StoreFuture<()> {
        self.inner.mark_unknown(key, token, ttl)
    }

    fn resolve(&self, key: &LedgerKey, resolution: Resolution, ttl: Duration) -> StoreFuture<bool> {
        self.inner.resolve(key, resolution, ttl)
    }
}

#[tokio::test]
async fn the_ledger_never_sees_a_credential() {
    let server = orders().await;
    let key = Arc::new(Mutex::new(String::from("query-secret-1")));
    let seen = Arc::clone(&key);
    let provider = EnvCredentials::query("CRM_KEY", "api_key")
        .lookup(move |_| Some(seen.lock().expect("not poisoned").clone()));
    let store = Recording::default();
    let client = build(
        Client::builder()
            .idempotency_store(store.clone())
            .credentials(provider),
    );
    let url = format!("{}/orders", server.uri());
    let post = || {
        client
            .post(&url)
            .header("idempotency-key", "order-7")
            .body("{\"sku\":\"A-1\"}")
            .send()
    };

    post().await.expect("sent");
    *key.lock().expect("not poisoned") = String::from("query-secret-2");
    let replayed = post()
        .await
        .expect("replayed from the ledger, not refused as reused");
    assert_eq!(replayed.status(), 200);
    assert_eq!(
        received(&server).await,
        1,
        "the rotated key did not change the fingerprint"
    );

    let expected = Fingerprint::new(
        &reqwest::Method::POST,
        &url.parse().expect("valid"),
        Some(b"{\"sku\":\"A-1\"}"),
    );
    let fingerprints = store.fingerprints.lock().expect("not poisoned").clone();
    assert_eq!(
        fingerprints,
        [expected, expected],
        "the request as the caller built it"
    );
    let stored = store.stored.lock().expect("not poisoned").clone();
    assert_eq!(stored.len(), 1);
    let bytes = String::from_utf8_lossy(stored[0].as_bytes());
    assert!(!bytes.contains("query-secret"), "{bytes}");
    // The server did get it, in the attempt.
    let requests = server.received_requests().await.expect("recording");
    assert_eq!(requests[0].url.query(), Some("api_key=query-secret-1"));
}

#[tokio::test]
async fn the_layer_works_alone_under_tower() {
    use tower::{Layer as _, ServiceExt as _};
    let server = orders().await;
    let layer = steadfast::credentials::ApplyCredentialsLayer::new(StaticCredentials::new(
        Credential::bearer("static-token").expect("valid"),
    ));
    let response = layer
        .layer(http())
        .oneshot(common::get(&format!("{}/orders", server.uri())))
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    let requests = server.received_requests().await.expect("recording");
    assert_eq!(keys(&requests, "authorization"), ["Bearer static-token"]);
}

#[tokio::test]
async fn callers_waiting_for_a_failed_token_request_share_its_failure() {
    let tokens = MockServer::start().await;
    Mock::given(path("/oauth2/token"))
        .respond_with(ResponseTemplate::new(503).set_delay(Duration::from_millis(500)))
        .mount(&tokens)
        .await;
    let api = api_accepting(&["t-1"]).await;
    let client = build(
        Client::builder()
            .retry(retry().max_retries(0))
            .credentials(oauth2(&tokens)),
    );

    let calls = (0..10).map(|_| {
        let client = client.clone();
        let url = format!("{}/invoices", api.uri());
        tokio::spawn(async move { client.get(url).send().await })
    });
    for call in futures_util::future::join_all(calls).await {
        let error = call.expect("joined").expect_err("no token");
        let found = credentials_error(&error);
        assert!(found.is_transient(), "{found:?}");
        assert!(
            matches!(
                found,
                CredentialsError::TokenRejected { .. } | CredentialsError::TokenShared { .. }
            ),
            "{found:?}"
        );
    }
    assert_eq!(
        received(&tokens).await,
        1,
        "one token request, not one per caller"
    );
    assert_eq!(received(&api).await, 0);
}
