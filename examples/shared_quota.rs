//! Run with: `cargo run --example shared_quota --features redis`
//!
//! Four workers sync customers into a CRM whose API allows 50 requests a second per
//! account, and answers 429 past that. Each worker has its own client and its own Redis
//! connection, as four instances of a service would; their rate limiters share one quota
//! in Redis, so together they stay within the API's limit: the output shows no 429.
//!
//! It needs a Redis: it uses `REDIS_URL` when set, or starts `redis-server` (from the
//! PATH) on a free port; install it with `apt-get install redis-server` or
//! `brew install redis`, or run one with `docker run -p 6379:6379 redis` and set
//! `REDIS_URL=redis://127.0.0.1:6379`.

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use steadfast::Client;
use steadfast::rate_limit::store::{RedisQuota, RedisQuotaConfig};
use steadfast::rate_limit::{Quota, RateLimitConfig, RateLimiter};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const WORKERS: usize = 4;
const CUSTOMERS_PER_WORKER: usize = 50;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (redis_url, _redis) = redis()?;
    let crm = CrmApi::new(50, 10);
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(crm.clone())
        .mount(&server)
        .await;

    // The API's quota, stated once; every worker's limiter takes its permits from Redis.
    let quota = RateLimitConfig::new(Quota::per_second(50).burst(1));
    let started = Instant::now();
    let mut workers = Vec::new();
    for worker in 0..WORKERS {
        // Separate connections, as separate processes would have.
        let shared = RedisQuota::connect(
            &RedisQuotaConfig::new(redis_url.as_str()).prefix("crm-sync:quota:"),
        )
        .await?;
        let client = Client::builder()
            .shared_rate_limiter(RateLimiter::with_redis(&quota, shared)?)
            .build(reqwest::Client::new())?;
        let base = server.uri();
        workers.push(tokio::spawn(async move {
            let mut throttled = 0;
            for n in 0..CUSTOMERS_PER_WORKER {
                let customer = worker * CUSTOMERS_PER_WORKER + n;
                let response = client
                    .put(format!("{base}/customers/{customer}"))
                    .json(&serde_json::json!({ "id": customer, "tier": "gold" }))
                    .send()
                    .await?;
                if response.status() == 429 {
                    throttled += 1;
                }
            }
            Ok::<_, steadfast::Error>(throttled)
        }));
    }
    for (worker, handle) in workers.into_iter().enumerate() {
        let throttled = handle.await??;
        println!(
            "worker {worker}: {CUSTOMERS_PER_WORKER} customers synced, {throttled} answered 429"
        );
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (accepted, rejected) = crm.tally();
    println!(
        "the CRM accepted {accepted} requests and answered {rejected} with 429, in {elapsed:.1} s \
         ({:.1} requests a second against its limit of 50)",
        f64::from(u32::try_from(accepted)?) / elapsed
    );
    if rejected > 0 {
        return Err(format!("{rejected} requests went over the CRM's limit").into());
    }
    Ok(())
}

/// A CRM API with a per-account quota: `rate` a second with a burst of `burst` (a GCRA, as
/// many APIs enforce it), 429 beyond it.
#[derive(Clone)]
struct CrmApi {
    interval: Duration,
    tolerance: Duration,
    state: Arc<Mutex<CrmState>>,
}

#[derive(Default)]
struct CrmState {
    next_free: Option<Instant>,
    accepted: usize,
    rejected: usize,
}

impl CrmApi {
    fn new(rate: u32, burst: u32) -> Self {
        let interval = Duration::from_secs(1) / rate;
        Self {
            interval,
            tolerance: interval * (burst - 1),
            state: Arc::default(),
        }
    }

    fn tally(&self) -> (usize, usize) {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        (state.accepted, state.rejected)
    }
}

impl Respond for CrmApi {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let tat = state.next_free.unwrap_or(now).max(now);
        if tat > now + self.tolerance {
            state.rejected += 1;
            return ResponseTemplate::new(429).insert_header("retry-after", "1");
        }
        state.next_free = Some(tat + self.interval);
        state.accepted += 1;
        ResponseTemplate::new(200)
    }
}

/// `REDIS_URL`, or a `redis-server` started on a free port (stopped when dropped).
fn redis() -> Result<(String, Option<RedisChild>), Box<dyn std::error::Error>> {
    if let Ok(url) = std::env::var("REDIS_URL") {
        return Ok((url, None));
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| {
            format!(
                "this example needs a Redis: set REDIS_URL, or install redis-server \
                 (apt-get install redis-server, brew install redis) ({e})"
            )
        })?;
    let child = RedisChild(child);
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if started.elapsed() > Duration::from_secs(5) {
            return Err("redis-server did not start within 5 s".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok((format!("redis://127.0.0.1:{port}/"), Some(child)))
}

/// The Redis this example started, killed when the example ends.
struct RedisChild(Child);

impl Drop for RedisChild {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
