//! Runs a fixed number of calls through one stack, for callgrind: instruction and
//! allocation counts are repeatable where wall time is not.
//!
//! ```text
//! cargo bench --no-run --bench profile
//! valgrind --tool=callgrind target/release/deps/profile-* steadfast POST 10000
//! ```
//!
//! Subtract a run of 0 calls (setup alone) and divide by the calls.
//!
//! - In memory: `bare`, `steadfast`, `steadfast-named` (a key named per call, which the
//!   ledger records), `steadfast-no-idempotency`, `steadfast-dead-letter` (dead letters on,
//!   in memory), `rm-chain`, `rm`, `rm-keys` (with
//!   `support::Keys`), and single layers over the bare service: `log`, `idempotency`,
//!   `timeout`, `deadline`, `deadline-without-body`, `retry`, `rate-limit`, `dead-letter`,
//!   `credentials` (a static header), `credentials-env` (a header from `$HOME`, read on
//!   every call), `breaker` (a closed circuit and an idle bulkhead), `breaker-open` (every
//!   call refused by an open circuit: the cost of a fast failure).
//! - With `--features chaos`, the fault-injection layer over the bare service: `chaos-off`
//!   (not enabled: a pass-through), `chaos-rate-0` (enabled, a rule for every call whose
//!   one fault has rate 0) and `chaos-rate-0-routed` (enabled, a rule for `POST`/`GET` on
//!   `/orders/**` after one for another route, its fault at rate 0).
//! - Over loopback: `loopback-bare`, `loopback-steadfast`,
//!   `loopback-steadfast-no-idempotency`, `loopback-steadfast-deadline-without-body`,
//!   `loopback-rm` and `loopback-rm-keys`, one call at
//!   a time, or shared by 64 tasks on the one thread with a `concurrent-` prefix.
//! - With `--features webhook`, a receiver's layers over an in-memory handler:
//!   `webhook-bare` (the handler alone), `webhook-verify` (a GitHub signature checked) and
//!   `webhook-verify-dedup` (and each delivery's id claimed and its answer kept in the
//!   memory store; every call a new id).
//! - With `--features metrics`, every stack with steadfast's metrics compiled in and no
//!   recorder installed: compare with a run without the feature.
//!
//! Without arguments (as `cargo bench` runs it) it makes 1,000 calls through every stack
//! and prints the time per call.

#![allow(missing_docs)]

mod support;

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::{Method, Request, Response};
use steadfast::breaker::{BulkheadConfig, CircuitBreakerConfig, CircuitBreakerLayer, Circuits};
use steadfast::credentials::{
    ApplyCredentialsLayer, Credential, EnvCredentials, StaticCredentials,
};
use steadfast::dead_letter::{DeadLetterConfig, DeadLetterLayer};
use steadfast::idempotency::{IdempotencyConfig, IdempotencyLayer};
use steadfast::log::LogLayer;
use steadfast::rate_limit::{RateLimitLayer, RateLimiter};
use steadfast::retry::RetryLayer;
use steadfast::timeout::{DeadlineLayer, TimeoutLayer};
use support::{
    Contender, Ledger, http, in_memory, in_memory_url, middleware_in_memory, named_request,
    request, steadfast_dead_letter_stack, steadfast_stack,
};
use tower::{Layer, Service, ServiceExt as _};

const STACKS: &[&str] = &[
    "bare",
    "steadfast",
    "steadfast-named",
    "steadfast-no-idempotency",
    "steadfast-dead-letter",
    "rm-chain",
    "rm",
    "rm-keys",
    "log",
    "idempotency",
    "timeout",
    "deadline",
    "deadline-without-body",
    "retry",
    "rate-limit",
    "dead-letter",
    "credentials",
    "credentials-env",
    "breaker",
    "breaker-open",
    "breaker-origins",
    "loopback-bare",
    "loopback-steadfast",
    "loopback-steadfast-no-idempotency",
    "loopback-steadfast-deadline-without-body",
    "loopback-rm",
    "loopback-rm-keys",
];

async fn tower_calls<S>(service: S, method: &Method, calls: u64)
where
    S: Service<Request, Response = Response> + Clone,
    S::Error: std::fmt::Debug,
{
    let url = in_memory_url();
    tower_calls_with(service, calls, |_| request(method, &url)).await;
}

/// Calls `service` with `make(n)` for the n-th call.
async fn tower_calls_with<S>(service: S, calls: u64, make: impl Fn(u64) -> Request)
where
    S: Service<Request, Response = Response> + Clone,
    S::Error: std::fmt::Debug,
{
    for n in 0..calls {
        let response = service
            .clone()
            .oneshot(make(n))
            .await
            .expect("in-memory calls succeed");
        black_box(response);
    }
}

async fn run(stack: &str, method: &Method, calls: u64) {
    match stack {
        "bare" => tower_calls(in_memory(), method, calls).await,
        "steadfast" => {
            tower_calls(steadfast_stack(in_memory(), Ledger::Memory), method, calls).await;
        }
        "steadfast-named" => {
            let url = in_memory_url();
            let service = steadfast_stack(in_memory(), Ledger::Memory);
            tower_calls_with(service, calls, |n| named_request(method, &url, n)).await;
        }
        "steadfast-no-idempotency" => {
            tower_calls(steadfast_stack(in_memory(), Ledger::Off), method, calls).await;
        }
        "steadfast-dead-letter" => {
            tower_calls(steadfast_dead_letter_stack(in_memory()), method, calls).await;
        }
        "rm-chain" | "rm" | "rm-keys" => {
            let client = middleware_in_memory(stack != "rm-chain", stack == "rm-keys");
            let url = in_memory_url();
            for _ in 0..calls {
                let response = client
                    .execute(request(method, &url))
                    .await
                    .expect("in-memory calls succeed");
                black_box(response);
            }
        }
        "log" => tower_calls(LogLayer::default().layer(in_memory()), method, calls).await,
        "idempotency" => {
            let layer = IdempotencyLayer::new(&IdempotencyConfig::default()).expect("valid");
            tower_calls(layer.layer(in_memory()), method, calls).await;
        }
        "timeout" => {
            let layer = TimeoutLayer::new(Duration::from_secs(30));
            tower_calls(layer.layer(in_memory()), method, calls).await;
        }
        "deadline" | "deadline-without-body" => {
            let layer =
                DeadlineLayer::new(Duration::from_secs(120)).covers_body(stack == "deadline");
            tower_calls(layer.layer(in_memory()), method, calls).await;
        }
        "retry" => tower_calls(RetryLayer::default().layer(in_memory()), method, calls).await,
        "dead-letter" => {
            let layer = DeadLetterLayer::new(&DeadLetterConfig::default()).expect("valid");
            tower_calls(layer.layer(in_memory()), method, calls).await;
        }
        "rate-limit" => {
            let limiter = RateLimiter::new(&support::free_quota()).expect("valid");
            let layer = RateLimitLayer::shared_limiter(limiter);
            tower_calls(layer.layer(in_memory()), method, calls).await;
        }
        "credentials" => {
            let key = Credential::header("x-api-key", "k-0123456789").expect("valid");
            let layer = ApplyCredentialsLayer::new(StaticCredentials::new(key));
            tower_calls(layer.layer(in_memory()), method, calls).await;
        }
        "credentials-env" => {
            // A variable every environment has: the provider reads it on every call.
            let key = EnvCredentials::header("HOME", "x-api-key").expect("valid");
            let layer = ApplyCredentialsLayer::new(key);
            tower_calls(layer.layer(in_memory()), method, calls).await;
        }
        "breaker" | "breaker-origins" => {
            let circuits = Circuits::builder()
                .breaker(CircuitBreakerConfig::default())
                .bulkhead(BulkheadConfig::default())
                .build()
                .expect("valid");
            let service = CircuitBreakerLayer::shared_circuits(circuits).layer(in_memory());
            if stack == "breaker" {
                tower_calls(service, method, calls).await;
            } else {
                let urls: Vec<reqwest::Url> = (8080..8084)
                    .map(|port| {
                        format!("http://127.0.0.1:{port}/orders")
                            .parse()
                            .expect("valid url")
                    })
                    .collect();
                tower_calls_with(service, calls, |n| {
                    request(method, &urls[usize::try_from(n).unwrap_or(0) % urls.len()])
                })
                .await;
            }
        }
        "breaker-open" => breaker_open(method, calls).await,
        "loopback-bare" => loopback(&Contender::Bare(http()), method, calls).await,
        "loopback-steadfast" => {
            let client = steadfast::Client::builder()
                .rate_limit(support::free_quota())
                .build(http())
                .expect("valid");
            loopback(&Contender::Steadfast(client), method, calls).await;
        }
        "loopback-steadfast-deadline-without-body" => {
            let client = steadfast::Client::builder()
                .rate_limit(support::free_quota())
                .deadline_covers_body(false)
                .build(http())
                .expect("valid");
            loopback(&Contender::Steadfast(client), method, calls).await;
        }
        "loopback-steadfast-no-idempotency" => {
            let client = steadfast::Client::builder()
                .rate_limit(support::free_quota())
                .without_idempotency()
                .build(http())
                .expect("valid");
            loopback(&Contender::Steadfast(client), method, calls).await;
        }
        "loopback-rm" | "loopback-rm-keys" => {
            let client = support::middleware_client(http(), stack == "loopback-rm-keys");
            loopback(&Contender::Middleware(client), method, calls).await;
        }
        #[cfg(feature = "webhook")]
        "webhook-bare" | "webhook-verify" | "webhook-verify-dedup" => {
            webhook::calls(stack, calls).await;
        }
        #[cfg(feature = "chaos")]
        "chaos-off" | "chaos-rate-0" | "chaos-rate-0-routed" => {
            tower_calls(chaos(stack).layer(in_memory()), method, calls).await;
        }
        other => panic!("unknown stack {other:?}; one of {STACKS:?}"),
    }
}

/// The chaos layer of a `chaos-*` stack: injecting nothing, so that it measures the layer.
#[cfg(feature = "chaos")]
fn chaos(stack: &str) -> steadfast::chaos::ChaosLayer {
    use steadfast::chaos::{ChaosConfig, ChaosLayer, ChaosRule, Fault};
    let never = |rule: ChaosRule| rule.fault(Fault::ResetBefore, 0.0);
    let config = match stack {
        "chaos-off" => ChaosConfig::default().rule(never(ChaosRule::default())),
        "chaos-rate-0" => ChaosConfig::default()
            .enabled(true)
            .rule(never(ChaosRule::default())),
        _ => ChaosConfig::default()
            .enabled(true)
            .rule(never(ChaosRule::default().path("/customers/*")))
            .rule(never(
                ChaosRule::default()
                    .method(Method::POST)
                    .method(Method::GET)
                    .path("/orders/**"),
            )),
    };
    ChaosLayer::new(&config).expect("valid")
}

/// Calls refused by an open circuit: one 503 with `Retry-After` opens it for a day (capped at
/// `max_break`, an hour here), and every later call fails fast without reaching the service.
async fn breaker_open(method: &Method, calls: u64) {
    let config = CircuitBreakerConfig::default().max_break(Duration::from_secs(3600));
    let layer = CircuitBreakerLayer::new(&config).expect("valid");
    let unavailable = tower::service_fn(|_request: Request| {
        let response = http::Response::builder()
            .status(503)
            .header("retry-after", "86400")
            .body(reqwest::Body::from(""))
            .expect("valid response");
        std::future::ready(Ok::<_, std::convert::Infallible>(Response::from(response)))
    });
    let service = layer.layer(unavailable);
    let url = in_memory_url();
    black_box(service.clone().oneshot(request(method, &url)).await.ok());
    for _ in 0..calls {
        let refused = service.clone().oneshot(request(method, &url)).await;
        black_box(refused.expect_err("the circuit is open"));
    }
}

/// Calls through `contender` to the loopback server, one at a time or, with the
/// `concurrent-` prefix, shared by `support::TASKS` tasks on this one thread, as `overhead`
/// runs them. The first call, which opens the connection, is made even for 0 calls so that
/// a 0-call run measures setup.
async fn loopback(contender: &Contender, method: &Method, calls: u64) {
    let addr = SERVER.get_or_init(support::start_server);
    let url = format!("http://{addr}/orders");
    black_box(contender.call(method, &url).await);
    if CONCURRENT.load(Ordering::Relaxed) {
        support::spread(contender, method, &url, calls).await;
    } else {
        for _ in 0..calls {
            black_box(contender.call(method, &url).await);
        }
    }
}

/// Set by a `concurrent-` prefix on a loopback stack's name.
static CONCURRENT: AtomicBool = AtomicBool::new(false);

static SERVER: std::sync::OnceLock<std::net::SocketAddr> = std::sync::OnceLock::new();

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let runtime = support::current_thread();
    if let [stack, method, calls] = args.as_slice() {
        let stack = match stack.strip_prefix("concurrent-") {
            Some(loopback) => {
                CONCURRENT.store(true, Ordering::Relaxed);
                loopback
            }
            None => stack,
        };
        let method: Method = method.parse().expect("a method");
        let calls: u64 = calls.parse().expect("a number of calls");
        runtime.block_on(run(stack, &method, calls));
        return;
    }
    for method in [Method::GET, Method::POST] {
        for stack in STACKS {
            const CALLS: u32 = 1_000;
            let start = Instant::now();
            runtime.block_on(run(stack, &method, CALLS.into()));
            println!("{method} {stack}: {:?} per call", start.elapsed() / CALLS);
        }
    }
}

/// A receiver's layers over a handler that answers at once.
#[cfg(feature = "webhook")]
mod webhook {
    use std::convert::Infallible;
    use std::hint::black_box;

    use bytes::Bytes;
    use hmac::{Hmac, Mac};
    use http_body_util::Full;
    use sha2::Sha256;
    use steadfast::webhook::{
        DedupConfig, DeduplicateLayer, Scheme, VerifyConfig, VerifySignatureLayer, WebhookSecret,
    };
    use tower::{ServiceBuilder, ServiceExt as _};

    const SECRET: &str = "It's a Secret to Everybody";
    const BODY: &[u8] =
        br#"{"action":"opened","number":42,"repository":{"full_name":"acme/billing"}}"#;

    type Request = http::Request<Full<Bytes>>;

    async fn handler(_: Request) -> Result<http::Response<Full<Bytes>>, Infallible> {
        Ok(http::Response::new(Full::new(Bytes::from_static(b"ok"))))
    }

    pub(super) async fn calls(stack: &str, calls: u64) {
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key");
        mac.update(BODY);
        let signature =
            mac.finalize()
                .into_bytes()
                .iter()
                .fold(String::from("sha256="), |mut hex, b| {
                    use std::fmt::Write as _;
                    let _ = write!(hex, "{b:02x}");
                    hex
                });
        let request = |n: u64| {
            http::Request::post("/hooks")
                .header("x-hub-signature-256", signature.as_str())
                .header("x-github-delivery", n)
                .body(Full::new(Bytes::from_static(BODY)))
                .expect("a valid request")
        };
        let verify = VerifySignatureLayer::new(&VerifyConfig::new(
            Scheme::Github,
            WebhookSecret::new(SECRET),
        ))
        .expect("valid");
        let dedup =
            DeduplicateLayer::new(&DedupConfig::for_scheme(&Scheme::Github)).expect("valid");
        let handler = tower::service_fn(handler);
        for n in 0..calls {
            match stack {
                "webhook-bare" => {
                    black_box(handler.oneshot(request(n)).await.ok());
                }
                "webhook-verify" => {
                    let service = ServiceBuilder::new().layer(verify.clone()).service(handler);
                    black_box(service.oneshot(request(n)).await.ok());
                }
                _ => {
                    let service = ServiceBuilder::new()
                        .layer(verify.clone())
                        .layer(dedup.clone())
                        .service(handler);
                    black_box(service.oneshot(request(n)).await.ok());
                }
            }
        }
    }
}
