//! What the overhead benches share: the contenders, built alike, and a loopback server.
//!
//! Every contender gets its own `reqwest::Client` from [`http`], so that all of them have
//! the same connection-pool settings, and sends the same requests ([`BODY`], [`JSON`]).

#![allow(dead_code, unreachable_pub)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use reqwest::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use reqwest::{Method, Request, Response, Url};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware, Middleware, Next};
use reqwest_retry::RetryTransientMiddleware;
use reqwest_retry::policies::ExponentialBackoff;
use reqwest_tracing::TracingMiddleware;
use steadfast::idempotency::{IdempotencyConfig, IdempotencyLayer};
use steadfast::log::LogLayer;
use steadfast::rate_limit::{Quota, RateLimitConfig, RateLimitLayer, RateLimiter};
use steadfast::retry::{RetryConfig, RetryLayer};
use steadfast::timeout::{DeadlineLayer, TimeoutLayer};
use tower::{Service, ServiceBuilder, service_fn};

/// The body of every POST: a small JSON document, as an API client sends.
pub const BODY: &[u8] = br#"{"customer_id":42,"sku":"A-1","quantity":2,"total_cents":1999}"#;
/// The body of every response.
pub const JSON: &[u8] = br#"{"id":"ord_42","status":"open","total_cents":1999}"#;

/// A quota that never binds: 10⁹ permits a second, a second's worth of burst.
pub fn free_quota() -> RateLimitConfig {
    RateLimitConfig::new(Quota::per_second(1_000_000_000))
}

/// The transport every contender wraps: reqwest's defaults (keep-alive, 90 s idle pool),
/// without system proxies so that nothing depends on the environment.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("a plain HTTP client builds")
}

pub fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

pub fn multi_thread(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("runtime")
}

// ---------------------------------------------------------------------------------------
// Requests and the in-memory inner service
// ---------------------------------------------------------------------------------------

/// A request as a client builds it; `url` is parsed once by the caller and cloned here, so
/// that the floor is not mostly URL parsing.
pub fn request(method: &Method, url: &Url) -> Request {
    let mut request = Request::new(method.clone(), url.clone());
    if method == Method::POST {
        request
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        *request.body_mut() = Some(Bytes::from_static(BODY).into());
    }
    request
}

/// The URL of the in-memory benches: no connection is ever made to it.
pub fn in_memory_url() -> Url {
    "http://127.0.0.1:8080/orders".parse().expect("valid url")
}

/// The connection's addresses, as hyper-util's `HttpInfo` (which cannot be built outside
/// it) puts them on every response that reqwest reads from a TCP connection.
#[derive(Clone, Copy)]
struct ConnectionInfo {
    remote: SocketAddr,
    local: SocketAddr,
}

/// The response of the in-memory transport, shaped like reqwest's: it carries the
/// connection's addresses in its extensions, so that the extension map a real transport
/// allocates is not charged to the layers that add entries to it.
fn ok_response() -> Response {
    let mut response = http::Response::new(Bytes::from_static(JSON));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let addr = SocketAddr::from(([127, 0, 0, 1], 8080));
    response.extensions_mut().insert(ConnectionInfo {
        remote: addr,
        local: addr,
    });
    Response::from(response)
}

/// An inner service that answers 200 with [`JSON`] at once, without I/O.
pub fn in_memory()
-> impl Service<Request, Response = Response, Error = Infallible, Future: Send> + Clone + Send + 'static
{
    service_fn(|_request: Request| std::future::ready(Ok::<_, Infallible>(ok_response())))
}

/// How the idempotency layer of a steadfast stack is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ledger {
    /// The default: keys for POST and PATCH, and the in-memory ledger for named keys.
    Memory,
    /// No keys and no ledger (the client's `without_idempotency()`).
    Off,
}

/// A request with a key named by the caller, unique to `n` (`order-<n>`): the ledger
/// records every such call, as a job that names its keys after its records makes them.
pub fn named_request(method: &Method, url: &Url, n: u64) -> Request {
    let mut request = request(method, url);
    let key = HeaderValue::try_from(format!("order-{n}")).expect("ascii");
    request.headers_mut().insert("idempotency-key", key);
    request
}

/// The `Client`'s default stack, layer for layer as `ClientBuilder::build` assembles it,
/// with a rate limit that never binds, over `inner`.
pub fn steadfast_stack<S>(
    inner: S,
    ledger: Ledger,
) -> impl Service<Request, Response = Response, Error = steadfast::Error, Future: Send>
+ Clone
+ Send
+ 'static
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let retry = RetryConfig::default();
    let idempotency = match ledger {
        Ledger::Memory => IdempotencyLayer::new(&IdempotencyConfig::default()).expect("valid"),
        Ledger::Off => IdempotencyLayer::new(&IdempotencyConfig::default().methods(Vec::new()))
            .expect("valid")
            .without_ledger(),
    };
    let limiter = RateLimiter::new(&free_quota()).expect("valid quota");
    ServiceBuilder::new()
        .layer(LogLayer::default())
        .layer(idempotency)
        .layer(DeadlineLayer::new(
            retry.deadline.unwrap_or(Duration::from_secs(120)),
        ))
        .layer(RetryLayer::new(&retry).expect("valid"))
        .layer(RateLimitLayer::shared_limiter(limiter))
        .layer(TimeoutLayer::new(Duration::from_secs(30)))
        .service(inner)
}

/// [`steadfast_stack`] with dead letters on (an in-memory sink) between log and
/// idempotency, as the `Client` builds it when given a sink.
pub fn steadfast_dead_letter_stack<S>(
    inner: S,
) -> impl Service<Request, Response = Response, Error = steadfast::Error, Future: Send>
+ Clone
+ Send
+ 'static
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let retry = RetryConfig::default();
    let limiter = RateLimiter::new(&free_quota()).expect("valid quota");
    let dead_letters = steadfast::dead_letter::DeadLetterLayer::new(
        &steadfast::dead_letter::DeadLetterConfig::default(),
    )
    .expect("valid");
    ServiceBuilder::new()
        .layer(LogLayer::default())
        .layer(dead_letters)
        .layer(IdempotencyLayer::new(&IdempotencyConfig::default()).expect("valid"))
        .layer(DeadlineLayer::new(
            retry.deadline.unwrap_or(Duration::from_secs(120)),
        ))
        .layer(RetryLayer::new(&retry).expect("valid"))
        .layer(RateLimitLayer::shared_limiter(limiter))
        .layer(TimeoutLayer::new(Duration::from_secs(30)))
        .service(inner)
}

// ---------------------------------------------------------------------------------------
// The reqwest-middleware contender
// ---------------------------------------------------------------------------------------

/// Retry as close to steadfast's defaults as reqwest-retry allows: 3 retries, exponential
/// from 100 ms capped at 10 s, full jitter. It has no budget, no `Retry-After`, no deadline,
/// no idempotency rule (it retries POSTs too); reqwest-tracing adds its span per call.
///
/// With `keys`, [`Keys`] sits between tracing and retry, so that every attempt of a call
/// sends one key, as steadfast's do.
pub fn middleware_builder(http: reqwest::Client, keys: bool) -> ClientBuilder {
    let policy = ExponentialBackoff::builder()
        .retry_bounds(Duration::from_millis(100), Duration::from_secs(10))
        .jitter(reqwest_retry::Jitter::Full)
        .build_with_max_retries(3);
    let builder = ClientBuilder::new(http).with(TracingMiddleware::default());
    let builder = if keys { builder.with(Keys) } else { builder };
    builder.with(RetryTransientMiddleware::new_with_policy(policy))
}

pub fn middleware_client(http: reqwest::Client, keys: bool) -> ClientWithMiddleware {
    middleware_builder(http, keys).build()
}

/// What a reqwest-middleware user writes to send idempotency keys, which none of its
/// published middleware does: a random UUID v4 in `idempotency-key` on every POST and
/// PATCH that has none, as steadfast's default. It keeps no ledger. With it, a POST sends
/// the same bytes through both stacks.
pub struct Keys;

#[async_trait::async_trait]
impl Middleware for Keys {
    async fn handle(
        &self,
        mut request: Request,
        extensions: &mut http::Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        const KEY: HeaderName = HeaderName::from_static("idempotency-key");
        if matches!(*request.method(), Method::POST | Method::PATCH)
            && let http::header::Entry::Vacant(slot) = request.headers_mut().entry(KEY)
        {
            // Written on the stack, copied once into the header: no formatting.
            let mut text = [0; 36];
            let key = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut text);
            slot.insert(HeaderValue::from_str(key).expect("a UUID is a header value"));
        }
        next.run(request, extensions).await
    }
}

/// The last middleware of an in-memory reqwest-middleware chain: answers like
/// [`in_memory`] and never calls the transport.
pub struct InMemory;

#[async_trait::async_trait]
impl Middleware for InMemory {
    async fn handle(
        &self,
        _request: Request,
        _extensions: &mut http::Extensions,
        _next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        Ok(ok_response())
    }
}

/// reqwest-middleware's chain over [`InMemory`]; `stack` false leaves only [`InMemory`],
/// the chain's own bare cost.
pub fn middleware_in_memory(stack: bool, keys: bool) -> ClientWithMiddleware {
    let builder = if stack {
        middleware_builder(http(), keys)
    } else {
        ClientBuilder::new(http())
    };
    builder.with(InMemory).build()
}

// ---------------------------------------------------------------------------------------
// The loopback contenders and server
// ---------------------------------------------------------------------------------------

/// One contender of the loopback benches.
#[derive(Clone)]
pub enum Contender {
    Bare(reqwest::Client),
    Steadfast(steadfast::Client),
    /// Steadfast with a key named per call, so that the ledger records each one.
    SteadfastNamed(steadfast::Client, Arc<AtomicU64>),
    Middleware(reqwest_middleware::ClientWithMiddleware),
}

impl Contender {
    /// The contenders for `method`, bare reqwest first; named keys are for POST only.
    pub fn all(method: &Method) -> Vec<(&'static str, Self)> {
        let steadfast = || {
            steadfast::Client::builder()
                .rate_limit(free_quota())
                .build(http())
                .expect("valid config")
        };
        let no_idempotency = steadfast::Client::builder()
            .rate_limit(free_quota())
            .without_idempotency()
            .build(http())
            .expect("valid config");
        let mut all = vec![
            ("bare reqwest", Self::Bare(http())),
            ("steadfast", Self::Steadfast(steadfast())),
            ("steadfast, no idempotency", Self::Steadfast(no_idempotency)),
        ];
        if *method == Method::POST {
            let named = Self::SteadfastNamed(steadfast(), Arc::new(AtomicU64::new(0)));
            all.push(("steadfast, named keys (ledger)", named));
        }
        all.push((
            "reqwest-middleware + retry + tracing",
            Self::Middleware(middleware_client(http(), false)),
        ));
        if *method == Method::POST {
            let keys = Self::Middleware(middleware_client(http(), true));
            all.push(("reqwest-middleware, + keys", keys));
        }
        all
    }

    /// One call as a user writes it with this contender's API, body read to the end.
    pub async fn call(&self, method: &Method, url: &str) -> Bytes {
        let post = *method == Method::POST;
        let response = match self {
            Self::Bare(client) => {
                let mut builder = client.request(method.clone(), url);
                if post {
                    builder = builder.header(CONTENT_TYPE, "application/json").body(BODY);
                }
                builder.send().await.expect("bare call")
            }
            Self::Steadfast(client) | Self::SteadfastNamed(client, _) => {
                let mut builder = client.request(method.clone(), url);
                if post {
                    builder = builder.header(CONTENT_TYPE, "application/json").body(BODY);
                }
                if let Self::SteadfastNamed(_, next) = self {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    builder = builder.idempotency_key(&format!("order-{n}"));
                }
                builder.send().await.expect("steadfast call")
            }
            Self::Middleware(client) => {
                let mut builder = client.request(method.clone(), url);
                if post {
                    builder = builder.header(CONTENT_TYPE, "application/json").body(BODY);
                }
                builder.send().await.expect("middleware call")
            }
        };
        assert!(response.status().is_success(), "{}", response.status());
        response.bytes().await.expect("body")
    }
}

/// The tasks that share the calls of a concurrent run.
pub const TASKS: u64 = 64;

/// Makes `calls` calls through `contender`, shared by [`TASKS`] tasks on the current
/// runtime, and waits for all of them.
pub async fn spread(contender: &Contender, method: &Method, url: &str, calls: u64) {
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let (contender, method, url) = (contender.clone(), method.clone(), url.to_owned());
            let mine = calls / TASKS + u64::from(task < calls % TASKS);
            tokio::spawn(async move {
                for _ in 0..mine {
                    std::hint::black_box(contender.call(&method, &url).await);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("no panic");
    }
}

// ---------------------------------------------------------------------------------------
// The loopback server
// ---------------------------------------------------------------------------------------

/// An HTTP/1.1 keep-alive server on 127.0.0.1, on a thread and runtime of its own: GET
/// answers 200 with [`JSON`], POST reads the whole body and answers 201 with [`JSON`].
///
/// It serves until the process ends (a bench's process is short-lived).
pub fn start_server() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.set_nonblocking(true).expect("non-blocking");
    let addr = listener.local_addr().expect("local address");
    std::thread::Builder::new()
        .name("loopback-server".into())
        .spawn(move || {
            current_thread().block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio");
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(async move {
                        let _ = hyper::server::conn::http1::Builder::new()
                            .keep_alive(true)
                            .serve_connection(
                                TokioIo::new(stream),
                                hyper::service::service_fn(answer),
                            )
                            .await;
                    });
                }
            });
        })
        .expect("server thread");
    addr
}

async fn answer(
    request: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, hyper::Error> {
    let status = if request.method() == hyper::Method::POST {
        request.into_body().collect().await?;
        hyper::StatusCode::CREATED
    } else {
        hyper::StatusCode::OK
    };
    let mut response = hyper::Response::new(Full::new(Bytes::from_static(JSON)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

// ---------------------------------------------------------------------------------------
// Interleaved rounds, for the ratio tables
// ---------------------------------------------------------------------------------------

/// Measures every contender once per round, in an order that rotates from round to round,
/// after one warm-up round that is not kept. `measure(i)` returns contender `i`'s figures
/// for one round (wall time per call, say). Returns `figures[contender][round]`.
///
/// A machine shared with other work drifts over seconds, which moves figures taken one
/// contender after another; contenders measured side by side within a fraction of a
/// second drift together, so per-round ratios and differences stay put.
pub fn interleaved<const N: usize>(
    contenders: usize,
    rounds: usize,
    mut measure: impl FnMut(usize) -> [f64; N],
) -> Vec<Vec<[f64; N]>> {
    for i in 0..contenders {
        measure(i);
    }
    let mut figures = vec![Vec::with_capacity(rounds); contenders];
    for round in 0..rounds {
        for k in 0..contenders {
            let i = (round + k) % contenders;
            figures[i].push(measure(i));
        }
    }
    figures
}

/// The median of `values` (the upper one of an even count).
pub fn median(values: impl IntoIterator<Item = f64>) -> f64 {
    quartiles(values)[1]
}

/// The first quartile, the median and the third quartile of `values`.
pub fn quartiles(values: impl IntoIterator<Item = f64>) -> [f64; 3] {
    let mut values: Vec<f64> = values.into_iter().collect();
    values.sort_by(f64::total_cmp);
    let at = |q: usize| {
        values
            .get(values.len() * q / 4)
            .copied()
            .unwrap_or(f64::NAN)
    };
    [at(1), at(2), at(3)]
}

/// The quartiles over rounds of `f(contender's figure, baseline's figure)`.
pub fn per_round<const N: usize>(
    figures: &[Vec<[f64; N]>],
    contender: usize,
    baseline: usize,
    f: impl Fn([f64; N], [f64; N]) -> f64,
) -> [f64; 3] {
    quartiles(
        figures[contender]
            .iter()
            .zip(&figures[baseline])
            .map(|(c, b)| f(*c, *b)),
    )
}

/// CPU time the calling thread has run, from the scheduler's own account (Linux;
/// nanoseconds). `None` where `/proc` does not say.
pub fn thread_cpu() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}
