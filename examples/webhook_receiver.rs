//! Run with: `cargo run --example webhook_receiver --features webhook,redis`
//!
//! A billing service receives Stripe-style `invoice.paid` events. Stripe sends every event
//! until it gets a 2xx, so the receiver sees each one two or three times, out of order,
//! sometimes at the same moment. The receiver (axum, on 127.0.0.1):
//!
//! 1. verifies the `Stripe-Signature` header; the signing secret is being rolled, so the
//!    old and the new one are both accepted (early events are signed with the old secret,
//!    then with both, then with the new one only);
//! 2. claims each event's id in Redis: a repeat gets the first answer back, a concurrent
//!    one a 409 (the sender retries it shortly);
//! 3. puts the event on a Redis Stream and answers 202 at once, well inside Stripe's time.
//!
//! A worker in the stream's consumer group marks each invoice paid and acknowledges the
//! event; it records the ids it processed in Redis too, so that an event it meets again is
//! acknowledged without being processed twice. The output shows what the sender sent and that each event was processed once.
//!
//! Needs Redis: set `REDIS_URL` (keys are prefixed per run), or have `redis-server` on the
//! PATH (`apt-get install redis-server`) and the example starts one on a free port.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::TcpListener as StdListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use steadfast::idempotency::store::{RedisStore, RedisStoreConfig};
use steadfast::webhook::{
    DedupConfig, DeduplicateLayer, Enqueue, EventQueue, EventQueueConfig, Scheme, VerifyConfig,
    VerifySignatureLayer, WebhookSecret,
};
use tower::ServiceBuilder;

const OLD_SECRET: &str = "whsec_billing_2024_rotating_out";
const NEW_SECRET: &str = "whsec_billing_2025_rotating_in";
const INVOICES: usize = 12;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let redis = Redis::find()?;
    let run = format!("billing-demo:{}:", std::process::id());

    // The receiver: verify, deduplicate on Redis, enqueue.
    let verify = VerifyConfig::new(Scheme::Stripe, WebhookSecret::new(NEW_SECRET))
        .secret(WebhookSecret::new(OLD_SECRET));
    let store =
        RedisStore::connect(&RedisStoreConfig::new(&redis.url).prefix(format!("{run}seen:")))
            .await?;
    let queue = EventQueue::connect(
        &EventQueueConfig::new(&redis.url)
            .stream(format!("{run}events"))
            .block(Duration::from_millis(200)),
    )
    .await?;
    let receiver = ServiceBuilder::new()
        .layer(VerifySignatureLayer::new(&verify)?)
        .layer(DeduplicateLayer::new(&DedupConfig::for_scheme(&Scheme::Stripe))?.store(store))
        .service(Enqueue::new(queue.clone()));
    let app = Router::new().route_service("/webhooks/stripe", receiver);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/webhooks/stripe", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });

    // The worker: marks each invoice paid, once per event. Its own record of processed ids
    // covers a worker that crashes after processing and before acknowledging.
    let paid: Arc<Mutex<BTreeMap<String, usize>>> = Arc::default();
    let processed_ids =
        RedisStore::connect(&RedisStoreConfig::new(&redis.url).prefix(format!("{run}done:")))
            .await?;
    let mut worker = queue.worker("billing-worker-1").await?.store(processed_ids);
    let ledger = Arc::clone(&paid);
    let working = tokio::spawn(async move {
        while ledger.lock().unwrap_or_else(PoisonError::into_inner).len() < INVOICES {
            let batch = worker
                .process(|event| {
                    let body: serde_json::Value =
                        serde_json::from_slice(&event.body).unwrap_or_default();
                    let invoice = body["data"]["object"]["invoice"].as_str().unwrap_or("?");
                    println!("worker: invoice {invoice} marked paid ({})", event.entry_id);
                    *ledger
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .entry(invoice.to_owned())
                        .or_default() += 1;
                    std::future::ready(Ok::<(), String>(()))
                })
                .await;
            if let Err(error) = batch {
                eprintln!("worker: {error}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    });

    // The sender: every event twice, every third three times, shuffled, four at a time.
    let mut deliveries: Vec<usize> = (0..INVOICES)
        .flat_map(|n| std::iter::repeat_n(n, if n % 3 == 0 { 3 } else { 2 }))
        .collect();
    fastrand::Rng::with_seed(20).shuffle(&mut deliveries);
    let http = reqwest::Client::new();
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    for group in deliveries.chunks(4) {
        let sends = group.iter().map(|&n| deliver(&http, &url, n));
        for status in futures_util::future::join_all(sends).await {
            for code in status? {
                *statuses.entry(code).or_default() += 1;
            }
        }
    }
    println!(
        "sender: {} deliveries of {INVOICES} events; answers: {statuses:?}",
        deliveries.len()
    );

    tokio::time::timeout(Duration::from_secs(30), working).await??;
    let paid = paid.lock().unwrap_or_else(PoisonError::into_inner).clone();
    println!("\ninvoice   deliveries  processed");
    for n in 0..INVOICES {
        let invoice = format!("in_{:04}", 1001 + n);
        let sent = deliveries.iter().filter(|&&d| d == n).count();
        let done = paid.get(&invoice).copied().unwrap_or(0);
        println!("{invoice}   {sent:>10}  {done:>9}");
    }
    if paid.len() != INVOICES || paid.values().any(|&n| n != 1) {
        return Err(format!("some invoice was not processed exactly once: {paid:?}").into());
    }
    println!(
        "\nevery event processed exactly once; {} left on the stream",
        queue.backlog().await?
    );
    Ok(())
}

/// Sends event `n` as Stripe would, retrying a 409 (the same event is being handled) or a
/// 503 shortly after, as Stripe retries; every status answered, last one a 2xx.
async fn deliver(
    http: &reqwest::Client,
    url: &str,
    n: usize,
) -> Result<Vec<u16>, Box<dyn std::error::Error>> {
    let body = serde_json::json!({
        "id": format!("evt_{:04}", 1001 + n),
        "type": "invoice.paid",
        "data": { "object": { "invoice": format!("in_{:04}", 1001 + n), "amount_paid": 1999 } },
    })
    .to_string();
    // The secret is rolled a third of the way through: both sign, then only the new one.
    let secrets: &[&str] = match n * 3 / INVOICES {
        0 => &[OLD_SECRET],
        1 => &[OLD_SECRET, NEW_SECRET],
        _ => &[NEW_SECRET],
    };
    let mut answers = Vec::new();
    for _ in 0..50 {
        let response = http
            .post(url)
            .header("stripe-signature", sign(secrets, &body)?)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await?;
        let status = response.status();
        answers.push(status.as_u16());
        if status.is_success() {
            return Ok(answers);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!("event {n} was never accepted: {answers:?}").into())
}

/// A `Stripe-Signature` header: `t=<now>` and one `v1=` per secret.
fn sign(secrets: &[&str], body: &str) -> Result<String, Box<dyn std::error::Error>> {
    let t = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let mut header = format!("t={t}");
    for secret in secrets {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
            .map_err(|_| "HMAC takes a key of any length")?;
        mac.update(format!("{t}.{body}").as_bytes());
        header.push_str(",v1=");
        for byte in mac.finalize().into_bytes() {
            write!(header, "{byte:02x}")?;
        }
    }
    Ok(header)
}

/// The Redis to use: `REDIS_URL`, or a `redis-server` started here (stopped on exit).
struct Redis {
    url: String,
    child: Option<Child>,
}

impl Redis {
    fn find() -> Result<Self, Box<dyn std::error::Error>> {
        if let Ok(url) = std::env::var("REDIS_URL") {
            return Ok(Self { url, child: None });
        }
        let port = StdListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| {
                format!(
                    "this example needs Redis: set REDIS_URL=redis://host:port, or install \
                     redis-server (apt-get install redis-server) so it can start one ({e})"
                )
            })?;
        let redis = Self {
            url: format!("redis://127.0.0.1:{port}"),
            child: Some(child),
        };
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(redis);
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        Err("redis-server did not start within 5 s".into())
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
