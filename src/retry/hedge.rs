//! Hedging: a second attempt after a delay, for requests safe to repeat; the first answer
//! wins and the other attempt is dropped (its connection closed).

use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use reqwest::{Request, Response};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use tower_layer::Layer;
use tower_service::Service;

use super::policy::{Policy, is_idempotent};
use crate::boxed::{BoxResponseFuture, InlineOrBoxed};
use crate::error::{BoxError, ConfigError, Error};

/// When a hedge is sent.
///
/// A hedge spends a token of the retry budget, so that a slow API does not get twice the
/// load; without one, none is sent.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use steadfast::retry::{HedgeConfig, RetryConfig};
///
/// // A second attempt once a GET has taken longer than 95 % of recent ones.
/// let retry = RetryConfig::default()
///     .hedge(HedgeConfig::default().delay(Duration::from_millis(300)).percentile(95.0));
/// # let _ = retry;
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HedgeConfig {
    /// How long the first attempt runs alone; with `percentile`, only until enough
    /// latencies are known. Default 500 ms.
    #[serde(with = "humantime_serde")]
    pub delay: Duration,
    /// When set (in `(0, 100)`), the delay is this percentile of the last 100 attempts'
    /// latencies, once 20 are known. Default `None` (the fixed delay).
    pub percentile: Option<f64>,
}

impl Default for HedgeConfig {
    fn default() -> Self {
        Self {
            delay: Duration::from_millis(500),
            percentile: None,
        }
    }
}

impl HedgeConfig {
    /// Sets the fixed delay (the fallback with a percentile). Default 500 ms.
    #[must_use]
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Hedges after this percentile of recent latencies. Default: the fixed delay.
    #[must_use]
    pub fn percentile(mut self, percentile: f64) -> Self {
        self.percentile = Some(percentile);
        self
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.delay.is_zero() {
            return Err(ConfigError::ZeroDuration {
                name: "retry.hedge.delay",
            });
        }
        if let Some(p) = self.percentile
            && !(p > 0.0 && p < 100.0)
        {
            return Err(ConfigError::OutOfRange {
                name: "retry.hedge.percentile",
                range: "(0, 100)",
                value: p,
            });
        }
        Ok(())
    }
}

/// Latencies kept for the percentile.
const SAMPLES: usize = 100;
/// Latencies needed before the percentile replaces the fixed delay.
const MIN_SAMPLES: usize = 20;

/// The hedging settings and the recent latencies, shared by clones.
struct Hedging {
    config: HedgeConfig,
    /// Nanoseconds, a ring written in turn.
    latencies: [AtomicU64; SAMPLES],
    written: AtomicUsize,
}

impl Hedging {
    fn record(&self, latency: Duration) {
        let at = self.written.fetch_add(1, Ordering::Relaxed) % SAMPLES;
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.latencies[at].store(nanos, Ordering::Relaxed);
    }

    fn delay(&self) -> Duration {
        let Some(percentile) = self.config.percentile else {
            return self.config.delay;
        };
        let known = self.written.load(Ordering::Relaxed).min(SAMPLES);
        if known < MIN_SAMPLES {
            return self.config.delay;
        }
        let mut sorted: Vec<u64> = self.latencies[..known]
            .iter()
            .map(|l| l.load(Ordering::Relaxed))
            .collect();
        sorted.sort_unstable();
        // Nearest rank; `percentile` is in (0, 100).
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let rank = ((percentile / 100.0) * known as f64).ceil() as usize;
        Duration::from_nanos(sorted[rank.clamp(1, known) - 1])
    }
}

/// Sends a second attempt of a request safe to repeat when the first is slow; the first
/// answer wins, the other attempt is dropped. Made by
/// [`RetryLayer::hedging`](super::RetryLayer::hedging), inside [`Retry`](super::Retry): each
/// attempt may be hedged.
///
/// A request is hedged only when retry rule 2 holds before anything is known of the
/// outcome: an idempotent method, or a key the server deduplicates by
/// ([`RetryConfig::server_dedupes`](super::RetryConfig::server_dedupes)); and its body can
/// be copied, and the budget has a token.
#[derive(Clone)]
pub struct Hedge<S> {
    inner: S,
    policy: Arc<Policy>,
    hedging: Option<Arc<Hedging>>,
}

impl<S: fmt::Debug> fmt::Debug for Hedge<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hedge")
            .field("inner", &self.inner)
            .field("config", &self.hedging.as_ref().map(|h| &h.config))
            .finish_non_exhaustive()
    }
}

impl<S> Hedge<S> {
    /// The inner service.
    #[must_use]
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    #[must_use]
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Consumes the hedging service, returning the inner one.
    #[must_use]
    pub fn into_inner(self) -> S {
        self.inner
    }
}

/// Applies [`Hedge`] to a service; see [`RetryLayer::hedging`](super::RetryLayer::hedging).
///
/// # Clone
///
/// Clones share the recent latencies and the retry budget.
#[derive(Clone)]
pub struct HedgeLayer {
    policy: Arc<Policy>,
    hedging: Option<Arc<Hedging>>,
}

impl fmt::Debug for HedgeLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HedgeLayer")
            .field("config", &self.hedging.as_ref().map(|h| &h.config))
            .finish_non_exhaustive()
    }
}

impl HedgeLayer {
    pub(super) fn new(policy: Arc<Policy>) -> Self {
        let hedging = policy.hedge.as_ref().map(|config| {
            Arc::new(Hedging {
                config: config.clone(),
                latencies: std::array::from_fn(|_| AtomicU64::new(0)),
                written: AtomicUsize::new(0),
            })
        });
        Self { policy, hedging }
    }
}

impl<S> Layer<S> for HedgeLayer {
    type Service = Hedge<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Hedge {
            inner,
            policy: Arc::clone(&self.policy),
            hedging: self.hedging.clone(),
        }
    }
}

pin_project! {
    /// The future returned by [`Hedge`]: the inner future where no hedge can be sent, else
    /// the race, boxed.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F> {
        #[pin]
        state: InlineOrBoxed<F>,
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("hedged", &!self.state.is_inline())
            .finish_non_exhaustive()
    }
}

impl<F, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response, E>>,
    E: Into<BoxError>,
{
    type Output = Result<Response, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().state.poll(cx)
    }
}

impl<S> Service<Request> for Hedge<S>
where
    S: Service<Request, Response = Response> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner
            .poll_ready(cx)
            .map_err(|e| Error::from_inner(e.into()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let hedging = match &self.hedging {
            Some(hedging)
                if is_idempotent(request.method()) || self.policy.server_dedupes(&request) =>
            {
                hedging
            }
            _ => return inline(self.inner.call(request)),
        };
        let Some(spare) = super::spare::try_clone(&request) else {
            return inline(self.inner.call(request));
        };
        let hedging = Arc::clone(hedging);
        let policy = Arc::clone(&self.policy);
        let first = self.inner.call(request);
        let second = self.inner.clone();
        ResponseFuture {
            state: InlineOrBoxed::Boxed {
                inner: Box::pin(race(first, second, spare, hedging, policy)) as BoxResponseFuture,
            },
        }
    }
}

fn inline<F>(inner: F) -> ResponseFuture<F> {
    ResponseFuture {
        state: InlineOrBoxed::Inline { inner },
    }
}

/// The first attempt alone until the delay, then, budget permitting, a second one beside
/// it; the first response wins and the other attempt is dropped. An error waits for the
/// other attempt, if there is one.
async fn race<S>(
    first: S::Future,
    mut inner: S,
    spare: Request,
    hedging: Arc<Hedging>,
    policy: Arc<Policy>,
) -> Result<Response, Error>
where
    S: Service<Request, Response = Response>,
    S::Error: Into<BoxError>,
{
    let start = Instant::now();
    let mut first = pin!(first);
    let delay = hedging.delay();
    if let Ok(outcome) = tokio::time::timeout(delay, first.as_mut()).await {
        hedging.record(start.elapsed());
        return outcome.map_err(|e| Error::from_inner(e.into()));
    }
    if policy.budget.as_ref().is_some_and(|b| !b.try_withdraw()) {
        let outcome = first.await;
        hedging.record(start.elapsed());
        return outcome.map_err(|e| Error::from_inner(e.into()));
    }
    tracing::debug!(
        "http.request.method" = spare.method().as_str(),
        delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
        "hedge sent: the first attempt is slow"
    );
    if poll_fn(|cx| inner.poll_ready(cx)).await.is_err() {
        return first.await.map_err(|e| Error::from_inner(e.into()));
    }
    let mut second = pin!(inner.call(spare));
    let (mut first_live, mut second_live) = (true, true);
    loop {
        let (first_won, outcome) = poll_fn(|cx| {
            // Errors become the crate's at once: nothing of the inner type is kept.
            if first_live && let Poll::Ready(outcome) = first.as_mut().poll(cx) {
                return Poll::Ready((true, outcome.map_err(|e| Error::from_inner(e.into()))));
            }
            if second_live && let Poll::Ready(outcome) = second.as_mut().poll(cx) {
                return Poll::Ready((false, outcome.map_err(|e| Error::from_inner(e.into()))));
            }
            Poll::Pending
        })
        .await;
        match outcome {
            Ok(response) => {
                hedging.record(start.elapsed());
                tracing::debug!(
                    winner = if first_won { "first" } else { "hedge" },
                    "hedge race won"
                );
                // Returning drops the other attempt: its connection is closed.
                return Ok(response);
            }
            Err(error) => {
                if first_won {
                    first_live = false;
                } else {
                    second_live = false;
                }
                if !first_live && !second_live {
                    return Err(error);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hedging(config: HedgeConfig) -> Hedging {
        Hedging {
            config,
            latencies: std::array::from_fn(|_| AtomicU64::new(0)),
            written: AtomicUsize::new(0),
        }
    }

    #[test]
    fn the_delay_is_fixed_until_enough_latencies_are_known() {
        let ms = Duration::from_millis;
        let hedging = hedging(HedgeConfig::default().delay(ms(500)).percentile(90.0));
        for n in 1..=19 {
            hedging.record(ms(n));
        }
        assert_eq!(hedging.delay(), ms(500), "19 latencies: not enough");
        hedging.record(ms(20));
        assert_eq!(hedging.delay(), ms(18), "the 90th percentile of 1..=20 ms");
        // The ring keeps the last 100: a slower period moves the percentile.
        for _ in 0..100 {
            hedging.record(ms(300));
        }
        assert_eq!(hedging.delay(), ms(300));
        let fixed = super::tests::hedging(HedgeConfig::default().delay(ms(250)));
        fixed.record(ms(1));
        assert_eq!(fixed.delay(), ms(250));
    }

    #[test]
    fn bad_settings_are_typed_errors() {
        assert!(HedgeConfig::default().validate().is_ok());
        assert!(
            HedgeConfig::default()
                .delay(Duration::ZERO)
                .validate()
                .is_err()
        );
        for p in [0.0, 100.0, -1.0, f64::NAN] {
            assert!(
                HedgeConfig::default().percentile(p).validate().is_err(),
                "{p}"
            );
        }
    }
}
