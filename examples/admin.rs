//! Run with: `cargo run --example admin --features admin,redis` (add `-- --once` to check it
//! and exit, as CI does)
//!
//! The dead-letter admin page mounted in a small axum application, over dead letters kept in
//! Redis Streams. A billing API embedded here is down: the example makes a few calls that
//! fail for real (503s, and a 500 after which nobody knows whether the card was charged),
//! then the outage ends and the page is served: open the printed URL, open a letter, press
//! Replay, and the API creates the invoice with the letter's original idempotency key.
//!
//! Redis: set `REDIS_URL` (`redis://127.0.0.1:6379`), or have `redis-server` on the PATH
//! (`apt-get install redis-server`) and the example starts one on a free port.
//!
//! The page has no authentication of its own. Here, a middleware lets only this machine in;
//! an application puts its own operators' auth in its place.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{Redirect, Response};
use steadfast::Client;
use steadfast::admin::{self, AdminConfig};
use steadfast::dead_letter::LetterFilter;
use steadfast::dead_letter::sink::{RedisSink, RedisSinkConfig};
use steadfast::log::LogConfig;
use steadfast::redact::RedactConfig;
use steadfast::retry::RetryConfig;
use wiremock::{Mock, MockServer, Request as ApiRequest, ResponseTemplate};

/// Where the application mounts the page.
const MOUNT: &str = "/ops/dead-letters";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let once = std::env::args().any(|a| a == "--once") || std::env::var_os("ADMIN_ONCE").is_some();
    let (redis_url, _redis) = redis()?;

    // The billing API, down for now.
    let outage = Arc::new(AtomicBool::new(true));
    let billing = billing_api(Arc::clone(&outage)).await;

    // One prefix per run, so letters of an earlier run (whose API is gone) stay apart.
    let prefix = format!("billing-sync:{}", std::process::id());
    let sink = RedisSink::connect(&RedisSinkConfig::new(&redis_url).prefix(prefix)).await?;
    let mut auth = reqwest::header::HeaderValue::from_static("Bearer sk_live_billing_token");
    auth.set_sensitive(true);
    let http = reqwest::Client::builder()
        .default_headers(
            [(reqwest::header::AUTHORIZATION, auth)]
                .into_iter()
                .collect(),
        )
        .build()?;
    let client = Client::builder()
        .retry(
            RetryConfig::default()
                .max_retries(2)
                .base_delay(Duration::from_millis(20)),
        )
        // The webhook path carries a token: shown as REDACTED.
        .log(LogConfig::default().redact(RedactConfig::default().path("/hooks/{secret}")))
        .dead_letter_sink(sink)
        .build(http)?;

    failing_calls(&client, &billing.uri()).await;
    let letters = client.dead_letters().ok_or("dead letters are on")?;
    let pending = letters.counts(&LetterFilter::default()).await?;
    println!("{} dead letters in Redis ({redis_url})", pending.total);
    outage.store(false, Ordering::SeqCst);
    println!("the billing API is back: replays will go through");

    let app = axum::Router::new()
        .nest(
            MOUNT,
            admin::router(
                letters,
                AdminConfig::default().title("Billing sync: dead letters"),
            )?,
        )
        .layer(middleware::from_fn(this_machine_only))
        .route("/", axum::routing::get(|| async { Redirect::to(MOUNT) }));
    let port: u16 = std::env::var("ADMIN_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let url = format!("http://{}{MOUNT}", listener.local_addr()?);
    println!("the admin page: {url}");
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    );

    if once {
        let serving = tokio::spawn(async move { server.await });
        let page = reqwest::get(&url).await?;
        let status = page.status();
        let html = page.text().await?;
        serving.abort();
        if !status.is_success() || !html.contains("pending (") {
            return Err(format!("the page answered {status}").into());
        }
        println!("the page answers {status}; --once: done");
        return Ok(());
    }
    println!("serving until Ctrl-C");
    server
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

/// The application's auth stands here: this example lets only loopback clients in.
async fn this_machine_only(
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Result<Response, StatusCode> {
    if peer.ip().is_loopback() {
        Ok(next.run(request).await)
    } else {
        Err(StatusCode::FORBIDDEN)
    }
}

/// A billing API that answers 503 to everything during the outage (and 500 to a charge: it
/// may have gone through), then creates what it is sent.
async fn billing_api(outage: Arc<AtomicBool>) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(move |request: &ApiRequest| {
            if !outage.load(Ordering::SeqCst) {
                return ResponseTemplate::new(201).set_body_string(r#"{"status":"created"}"#);
            }
            let status = if request.url.path() == "/charges" {
                500
            } else {
                503
            };
            ResponseTemplate::new(status)
                .set_body_string(r#"{"error":"maintenance","detail":"billing is being upgraded"}"#)
        })
        .mount(&server)
        .await;
    server
}

/// The nightly sync's calls, all failing during the outage; each becomes a dead letter.
async fn failing_calls(client: &Client, api: &str) {
    for (customer, cents) in [("acme", 1999), ("globex", 4500)] {
        let invoice = serde_json::json!({ "customer": customer, "total_cents": cents });
        let result = client
            .post(format!("{api}/invoices"))
            .json(&invoice)
            .send()
            .await;
        report("invoice", result);
    }
    let result = client
        .post(format!(
            "{api}/invoices?api_key=qk_live_query_key&dry_run=false"
        ))
        .json(&serde_json::json!({ "customer": "initech", "total_cents": 1200 }))
        .send()
        .await;
    report("invoice with a key in the query", result);
    let result = client
        .post(format!("{api}/hooks/whk_live_0123456789/deliveries"))
        .json(&serde_json::json!({ "event": "invoice.created" }))
        .send()
        .await;
    report("webhook delivery", result);
    let result = client
        .post(format!("{api}/charges"))
        .json(&serde_json::json!({ "customer": "acme", "amount_cents": 1999 }))
        .send()
        .await;
    report("charge", result);
}

fn report(what: &str, result: Result<reqwest::Response, steadfast::Error>) {
    match result {
        Ok(response) => println!("{what}: {}", response.status()),
        Err(error) => println!("{what}: failed ({error})"),
    }
}

/// A `redis-server` child process, stopped when dropped.
struct RedisChild(Child);

impl Drop for RedisChild {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `REDIS_URL`, or a `redis-server` started on a free port.
fn redis() -> Result<(String, Option<RedisChild>), Box<dyn std::error::Error>> {
    if let Ok(url) = std::env::var("REDIS_URL") {
        return Ok((url, None));
    }
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| {
            format!(
                "this example needs Redis: set REDIS_URL=redis://HOST:PORT, or install \
                 redis-server (`apt-get install redis-server`) so it can start one ({e})"
            )
        })?;
    let child = RedisChild(child);
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if started.elapsed() > Duration::from_secs(10) {
            return Err("redis-server did not start within 10 s".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    println!("started redis-server on port {port}");
    Ok((format!("redis://127.0.0.1:{port}"), Some(child)))
}
