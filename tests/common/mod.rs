//! The harness shared by the integration tests; a suite writes only what is its own.
//!
//! - `stack`: `stack()` / `logged_stack()` (tower stacks over a [`Recorder`]),
//!   `paused()` / `paused_client()` (clients without timers, for a paused clock).
//! - `request`: `request()`, `get()`, `keyed_post()`, `call()`, and wiremock scripts
//!   (`respond()`, `respond_at()`, `orders_server()`).
//! - `assert`: `budget_exhausted()`, `not_retried()`, `received()`, `keys()`,
//!   `assert_one_key()` ("the server saw N requests with the same key").
//! - `log`: one capture layer (spans and events) and one log buffer, JSON or text.
//! - `server`: one scripted HTTP/1.1 server on the test's clock, for what wiremock cannot
//!   do (virtual-time arrivals, dribbled, huge or cut bodies).
//! - `letters`: listing dead letters page by page, for every sink.
//! - `ledger`, `chaos`: the suites run against every ledger store, the chaos API.
//! - `slow`: a loopback API whose status is set on command, answering after a virtual-time
//!   delay and counting clients that hang up first (circuit breaker, bulkhead, hedging).
//! - `redis`: a `redis-server` child process on a free port (`RedisServer::start()`);
//!   `nats`: a `nats-server` with `JetStream` likewise (`NatsServer::start()`).
//! - `queue`: the queue-worker scenario both brokers run (1,000 events, faults, a crash).
// Each suite compiles this module on its own and uses a part of it.
#![allow(dead_code, unreachable_pub, unused_imports)]

pub mod assert;
pub mod chaos;
pub mod ledger;
pub mod letters;
pub mod log;
pub mod nats;
pub mod queue;
pub mod redis;
pub mod request;
pub mod server;
pub mod slow;
pub mod stack;

pub use assert::*;
pub use request::*;
pub use stack::*;

/// A reqwest client fit for paused-clock tests.
///
/// On a paused clock tokio jumps to the next timer whenever the runtime waits on I/O, so
/// the stack must hold no timer while a request is in flight: reqwest's pool keeps a 90 s
/// idle-reaper timer unless the idle timeout is off.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_idle_timeout(None)
        .build()
        .expect("a plain HTTP client builds")
}

/// A loopback port with nothing listening on it.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.local_addr().expect("local addr").port()
}

/// The `Display` of an error and of every error in its `source()` chain, plus its `Debug`.
pub fn everything_shown(error: &(dyn std::error::Error + 'static)) -> String {
    let mut shown = format!("{error:?}\n");
    let mut current = Some(error);
    while let Some(e) = current {
        shown.push_str(&e.to_string());
        shown.push('\n');
        current = e.source();
    }
    shown
}

/// Makes `subscriber` this thread's default for as long as the guard lives.
///
/// tracing caches, per callsite and process-wide, whether anyone listens. While exactly
/// one dispatcher exists it asks only the *current thread's* default, so a callsite first
/// hit on another test's thread (which has none) is cached as "nobody listens" and this
/// test loses its events. A second dispatcher kept alive for the whole run makes tracing
/// ask every registered dispatcher instead.
pub fn capture_on_this_thread(
    subscriber: impl tracing::Subscriber + Send + Sync + 'static,
) -> tracing::subscriber::DefaultGuard {
    static SECOND: std::sync::OnceLock<tracing::Dispatch> = std::sync::OnceLock::new();
    SECOND.get_or_init(|| tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default()));
    tracing::subscriber::set_default(subscriber)
}
