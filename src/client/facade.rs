use std::fmt;
use std::future::poll_fn;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use reqwest::header::HeaderName;

use reqwest::{Method, Request, Response};
use tower_service::Service;

use super::base_url::IntoRequestUrl;
use super::reload::{Carried, Current};
use super::{ClientBuilder, ClientConfig, RequestBuilder};
use crate::breaker::{CircuitBreaker, CircuitKey, CircuitState, Circuits};
use crate::credentials::ApplyCredentials;
use crate::dead_letter::{DeadLetterService, Recorder};
use crate::error::{ConfigError, Error};
use crate::idempotency::{Idempotency, IdempotencyKey, KeyFormat};
use crate::log::Log;
use crate::rate_limit::{RateLimit, RateLimitKey, RateLimitState, RateLimiter};
use crate::retry::{Hedge, Retry, RetryBudget};
use crate::stale::StaleIfError;
use crate::timeout::{Deadline, Timeout};

/// The stack in its documented order, outermost first.
pub(super) type Stack = Log<
    DeadLetterService<
        Idempotency<
            StaleIfError<
                Deadline<
                    Retry<
                        Hedge<
                            CircuitBreaker<
                                RateLimit<ApplyCredentials<Timeout<super::builder::Transport>>>,
                            >,
                        >,
                    >,
                >,
            >,
        >,
    >,
>;

/// A reqwest-like HTTP client whose every call goes through the resilience stack.
///
/// # Clone
///
/// Clones are cheap and share everything: the connection pool, the retry budget, the
/// rate limiter's buckets, the classifier and the settings ([`reload`](Self::reload) changes
/// them for every clone). Clone it into tasks rather than building a new one per task.
///
/// # Example
///
/// ```no_run
/// # #[tokio::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let client = steadfast::Client::builder().build(reqwest::Client::new())?;
/// let response = client
///     .post("http://127.0.0.1:8080/orders")
///     .header("Idempotency-Key", "order-42")
///     .json(&serde_json::json!({ "sku": "A-1", "quantity": 2 }))
///     .send()
///     .await?;
/// println!("{}", response.status());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Client {
    // One reference count per clone: every request clones the client into its builder.
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) http: reqwest::Client,
    /// The settings of calls that start now; [`reload`](Client::reload) swaps them.
    pub(super) current: ArcSwap<Current>,
    /// The parts given to the builder, to build the stack again on a reload.
    pub(super) builder: ClientBuilder,
    /// Budget, limiter and ledger, kept across reloads.
    pub(super) carried: Carried,
    pub(super) reloading: Mutex<()>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

impl Client {
    /// A client with the default configuration around `http`.
    ///
    /// # Panics
    ///
    /// Never: the default configuration is valid (a test checks it).
    #[must_use]
    pub fn new(http: reqwest::Client) -> Self {
        Self::builder()
            .build(http)
            .expect("the default configuration is valid")
    }

    /// A builder for a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client around `http`, the transport, from a configuration, for instance one read
    /// from a file.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when a setting is invalid.
    pub fn from_config(http: reqwest::Client, config: &ClientConfig) -> Result<Self, ConfigError> {
        Self::builder().config(config.clone()).build(http)
    }

    pub(super) fn from_parts(
        http: reqwest::Client,
        builder: ClientBuilder,
        carried: Carried,
        current: Current,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                http,
                current: ArcSwap::from_pointee(current),
                builder,
                carried,
                reloading: Mutex::new(()),
            }),
        }
    }

    /// The dead letters' shared state, when the client keeps them.
    pub(super) fn inner_dead_letters(&self) -> Option<Arc<Recorder>> {
        self.inner.current.load().dead_letters.clone()
    }

    /// The verifier and its time limit, for replays of unknown letters.
    pub(super) fn inner_verify(
        &self,
    ) -> Option<(crate::verify::SharedVerifier, std::time::Duration)> {
        self.inner.current.load().verify.clone()
    }

    /// The header and format of idempotency keys.
    pub(super) fn key_header(&self) -> (HeaderName, KeyFormat) {
        self.inner.current.load().key_header.clone()
    }

    /// Settles an idempotency key whose outcome is unknown, once someone checked with the
    /// server: [`Resolution::Applied`](crate::idempotency::store::Resolution::Applied)
    /// replays the given response to later calls with the key,
    /// [`Resolution::NotApplied`](crate::idempotency::store::Resolution::NotApplied) frees
    /// it so the call may be sent again. `method` and `url` are the call's (a relative `url`
    /// resolves against the base URL, as the call's did). Returns whether
    /// the key was unknown and is now settled.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] for an invalid URL; [`Error::Ledger`] when the ledger
    /// cannot be reached.
    pub async fn resolve_idempotency_key(
        &self,
        method: Method,
        url: impl IntoRequestUrl,
        key: &str,
        resolution: crate::idempotency::store::Resolution,
    ) -> Result<bool, Error> {
        let url = url
            .into_request_url(self.inner.current.load().base_url.as_ref())
            .map_err(|e| Error::InvalidRequest(Box::new(e)))?;
        let stack = self.inner.current.load().stack.clone();
        stack
            .get_ref()
            .get_ref()
            .resolve(&method, &url, key, resolution)
            .await
            .map_err(|source| Error::Ledger {
                key: IdempotencyKey::new(key),
                source,
            })
    }

    /// Starts a request with any method. `url` is absolute, or relative to the client's
    /// base URL ([`ClientConfig::base_url`]; see [`IntoRequestUrl`] for how it resolves).
    /// A URL that does not parse, or a relative one without a base URL, makes
    /// [`send`](RequestBuilder::send) fail with [`Error::InvalidRequest`].
    pub fn request(&self, method: Method, url: impl IntoRequestUrl) -> RequestBuilder {
        let resolved = url.into_request_url(self.inner.current.load().base_url.as_ref());
        match resolved {
            Ok(url) => RequestBuilder::new(self.clone(), self.inner.http.request(method, url)),
            // reqwest's builder holds its own error for the empty URL; ours is reported first.
            Err(error) => RequestBuilder::new(self.clone(), self.inner.http.request(method, ""))
                .fail(Error::InvalidRequest(Box::new(error))),
        }
    }

    /// Starts a GET request.
    pub fn get(&self, url: impl IntoRequestUrl) -> RequestBuilder {
        self.request(Method::GET, url)
    }

    /// Starts a POST request. Not retried on failures the server may have acted on, unless
    /// it carries an idempotency key.
    pub fn post(&self, url: impl IntoRequestUrl) -> RequestBuilder {
        self.request(Method::POST, url)
    }

    /// Starts a PUT request.
    pub fn put(&self, url: impl IntoRequestUrl) -> RequestBuilder {
        self.request(Method::PUT, url)
    }

    /// Starts a PATCH request. Retried like POST.
    pub fn patch(&self, url: impl IntoRequestUrl) -> RequestBuilder {
        self.request(Method::PATCH, url)
    }

    /// Starts a DELETE request.
    pub fn delete(&self, url: impl IntoRequestUrl) -> RequestBuilder {
        self.request(Method::DELETE, url)
    }

    /// Starts a HEAD request.
    pub fn head(&self, url: impl IntoRequestUrl) -> RequestBuilder {
        self.request(Method::HEAD, url)
    }

    /// Sends a built request through the stack.
    ///
    /// # Errors
    ///
    /// See [`Error`].
    pub async fn execute(&self, request: Request) -> Result<Response, Error> {
        let mut stack = self.inner.current.load().stack.clone();
        poll_fn(|cx| stack.poll_ready(cx)).await?;
        stack.call(request).await
    }

    /// The retry budget this client spends, shared by its clones and kept across
    /// reloads; `None` when the current settings have no budget.
    #[must_use]
    pub fn retry_budget(&self) -> Option<RetryBudget> {
        self.inner.current.load().budget.clone()
    }

    /// The rate limiter this client takes permits from, shared by its clones and kept
    /// across reloads; `None` when the current settings have no rate limit.
    #[must_use]
    pub fn rate_limiter(&self) -> Option<RateLimiter> {
        self.inner.current.load().limiter.clone()
    }

    /// What the rate limiter knows about the origin of `url` (scheme, host and port): what
    /// the server last said is left, and until when calls wait because it asked them to.
    ///
    /// `None` when the client has no rate limit, `url` does not parse, or no call has gone
    /// to that origin yet. For a limiter keyed by something else, use
    /// [`rate_limiter`](Self::rate_limiter) and [`RateLimiter::state`].
    ///
    /// # Example
    ///
    /// ```
    /// # fn show(client: &steadfast::Client) {
    /// if let Some(state) = client.rate_limit_state("https://api.example.com") {
    ///     println!("{:?} calls left, paused until {:?}", state.remaining, state.paused_until);
    /// }
    /// # }
    /// ```
    #[must_use]
    pub fn rate_limit_state(&self, url: &str) -> Option<RateLimitState> {
        let url = reqwest::Url::parse(url).ok()?;
        self.rate_limiter()?.state(&RateLimitKey::origin(&url))
    }

    /// The circuits (and bulkheads) this client's attempts go through, shared by its
    /// clones.
    #[must_use]
    pub fn circuits(&self) -> Option<Circuits> {
        self.inner.current.load().circuits.clone()
    }

    /// The state of the circuit of `url`'s origin (scheme, host and port): closed, open
    /// until when, or half-open.
    ///
    /// `None` when the client has no circuit breaker, `url` does not parse, or no call has
    /// gone to that origin yet (or its idle circuit was evicted: as good as closed). For
    /// circuits keyed by something else, use [`circuits`](Self::circuits) and
    /// [`Circuits::state`].
    ///
    /// # Example
    ///
    /// ```
    /// use steadfast::breaker::CircuitState;
    ///
    /// # fn show(client: &steadfast::Client) {
    /// if let Some(CircuitState::Open { until }) = client.circuit_state("https://api.example.com") {
    ///     println!("calls to api.example.com fail fast until {until:?}");
    /// }
    /// # }
    /// ```
    #[must_use]
    pub fn circuit_state(&self, url: &str) -> Option<CircuitState> {
        let url = reqwest::Url::parse(url).ok()?;
        self.circuits()?.state(&CircuitKey::origin(&url))
    }

    /// The underlying transport, for calls that must bypass the stack.
    #[must_use]
    pub fn as_reqwest(&self) -> &reqwest::Client {
        &self.inner.http
    }
}
