//! The stacks under test: tower stacks over a recorder, and clients fit for a paused clock.

use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures_util::future::BoxFuture;
use steadfast::log::LogLayer;
use steadfast::retry::{RetryConfig, RetryLayer};
use steadfast::{Client, ClientBuilder, Error};
use tokio::time::Instant;
use tower::{Layer, Service, ServiceBuilder};

use super::http;

/// What a [`Recorder`] saw, in order.
#[derive(Debug, Clone, Copy)]
pub enum Event {
    /// An attempt left at this (virtual) instant.
    Sent(Instant),
    /// An attempt was answered with this status.
    Answered(Instant, u16),
}

/// Records, below the layers under test, when each attempt leaves and how it was answered.
#[derive(Clone, Default)]
pub struct Recorder {
    events: Arc<Mutex<Vec<Event>>>,
}

impl Recorder {
    pub fn all(&self) -> Vec<Event> {
        self.events.lock().expect("not poisoned").clone()
    }

    /// When each attempt left.
    pub fn times(&self) -> Vec<Instant> {
        self.all()
            .into_iter()
            .filter_map(|event| match event {
                Event::Sent(at) => Some(at),
                Event::Answered(..) => None,
            })
            .collect()
    }

    /// How many attempts left.
    pub fn count(&self) -> usize {
        self.times().len()
    }

    /// Gaps between consecutive attempts.
    pub fn gaps(&self) -> Vec<std::time::Duration> {
        self.times().windows(2).map(|w| w[1] - w[0]).collect()
    }

    fn push(&self, event: Event) {
        self.events.lock().expect("not poisoned").push(event);
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

impl<S> Service<reqwest::Request> for Recorded<S>
where
    S: Service<reqwest::Request, Response = reqwest::Response>,
    S::Future: Send + 'static,
{
    type Response = reqwest::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<reqwest::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: reqwest::Request) -> Self::Future {
        self.recorder.push(Event::Sent(Instant::now()));
        let recorder = self.recorder.clone();
        let future = self.inner.call(request);
        Box::pin(async move {
            let outcome = future.await;
            if let Ok(response) = &outcome {
                recorder.push(Event::Answered(Instant::now(), response.status().as_u16()));
            }
            outcome
        })
    }
}

/// A retry stack over a recorder over reqwest.
pub fn stack(
    retry: &RetryConfig,
) -> (
    impl Service<reqwest::Request, Response = reqwest::Response, Error = Error, Future: Send + 'static>
    + Clone
    + use<>,
    Recorder,
) {
    let recorder = Recorder::default();
    let service = ServiceBuilder::new()
        .layer(RetryLayer::new(retry).expect("valid config"))
        .layer(recorder.clone())
        .service(http());
    (service, recorder)
}

/// [`stack`] under a log layer.
pub fn logged_stack(
    log: LogLayer,
    retry: &RetryConfig,
) -> (
    impl Service<reqwest::Request, Response = reqwest::Response, Error = Error> + Clone + use<>,
    Recorder,
) {
    let (service, recorder) = stack(retry);
    (ServiceBuilder::new().layer(log).service(service), recorder)
}

/// A client builder without timers of its own, for paused-clock tests (see [`http`]):
/// `retry` without its deadline, no attempt timeout.
pub fn paused(retry: RetryConfig) -> ClientBuilder {
    Client::builder()
        .retry(retry.without_deadline())
        .without_attempt_timeout()
}

/// [`paused`], built over [`http`].
pub fn paused_client(retry: RetryConfig) -> Client {
    build(paused(retry))
}

/// Builds over [`http`]; the configuration must be valid.
pub fn build(builder: ClientBuilder) -> Client {
    builder.build(http()).expect("valid config")
}
