//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

pub mod chaos;
pub mod ledger;

use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::time::Instant;
use tower::{Layer, Service};

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

/// Records the (virtual) instant at which each attempt leaves, below the retry layer.
#[derive(Clone, Default)]
pub struct Recorder {
    times: Arc<Mutex<Vec<Instant>>>,
}

impl Recorder {
    pub fn times(&self) -> Vec<Instant> {
        self.times.lock().expect("not poisoned").clone()
    }

    pub fn count(&self) -> usize {
        self.times.lock().expect("not poisoned").len()
    }

    /// Gaps between consecutive attempts.
    pub fn gaps(&self) -> Vec<std::time::Duration> {
        self.times().windows(2).map(|w| w[1] - w[0]).collect()
    }
}

impl<S> Layer<S> for Recorder {
    type Service = Recorded<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Recorded {
            inner,
            recorder: self.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Recorded<S> {
    inner: S,
    recorder: Recorder,
}

impl<S: Service<reqwest::Request>> Service<reqwest::Request> for Recorded<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: reqwest::Request) -> Self::Future {
        self.recorder
            .times
            .lock()
            .expect("not poisoned")
            .push(Instant::now());
        self.inner.call(request)
    }
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

/// Answers `/orders` with `first` for the first `times` requests, then with `then`.
pub async fn respond(
    server: &wiremock::MockServer,
    first: wiremock::ResponseTemplate,
    times: u64,
    then: wiremock::ResponseTemplate,
) {
    use wiremock::Mock;
    use wiremock::matchers::path;
    Mock::given(path("/orders"))
        .respond_with(first)
        .up_to_n_times(times)
        .with_priority(1)
        .mount(server)
        .await;
    Mock::given(path("/orders"))
        .respond_with(then)
        .with_priority(2)
        .mount(server)
        .await;
}
