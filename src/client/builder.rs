use std::sync::Arc;
use std::time::Duration;

use tower_layer::Layer;

use super::base_url::normalize_base;
use super::reload::{Carried, Current};
use super::{Client, ClientConfig};
use crate::breaker::{
    BulkheadConfig, CircuitBreaker, CircuitBreakerConfig, Circuits, CircuitsBuilder,
};
use crate::classify::{Classify, SharedClassifier};
use crate::credentials::{ApplyCredentials, Credentials, SharedCredentials};
use crate::dead_letter::{DeadLetterConfig, DeadLetterLayer, DeadLetterSink, SharedSink};
use crate::error::ConfigError;
use crate::idempotency::{
    IdempotencyConfig, IdempotencyLayer, IdempotencyStore, MakeIdempotencyKey, SharedKeyMaker,
    SharedStore,
};
use crate::log::{FailedCall, Hooks, LogConfig, LogLayer};
use crate::rate_limit::{RateLimit, RateLimitConfig, RateLimiter};
use crate::retry::policy::Policy;
use crate::retry::{RetryBudget, RetryConfig, RetryLayer};
use crate::stale::{StaleConfig, StaleIfErrorLayer};
use crate::timeout::{DeadlineLayer, Timeout, TimeoutLayer};
use crate::verify::{SharedVerifier, Verify};

/// Builds a [`Client`]: the whole stack from one configuration.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use steadfast::retry::RetryConfig;
///
/// let client = steadfast::Client::builder()
///     .retry(RetryConfig::default().max_retries(5))
///     .attempt_timeout(Duration::from_secs(10))
///     .build(reqwest::Client::new())?;
/// # let _ = client;
/// # Ok::<(), steadfast::ConfigError>(())
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct ClientBuilder {
    config: ClientConfig,
    classifier: Option<Opaque<SharedClassifier>>,
    budget: Option<RetryBudget>,
    store: Option<Opaque<SharedStore>>,
    key_maker: Option<Opaque<SharedKeyMaker>>,
    log_hooks: Hooks,
    rate_limiter: Option<RateLimiter>,
    verifier: Option<Opaque<SharedVerifier>>,
    dead_letter_sink: Option<Opaque<SharedSink>>,
    credentials: Option<Opaque<SharedCredentials>>,
    circuits: Option<Circuits>,
    #[cfg(feature = "chaos")]
    chaos: Option<crate::chaos::ChaosLayer>,
}

/// A trait object that can sit in a `Debug` struct.
#[derive(Clone)]
struct Opaque<T>(T);

impl<T> std::fmt::Debug for Opaque<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("..")
    }
}

impl ClientBuilder {
    /// Injects faults at the attempt level, under the attempt timeout, right above the
    /// transport: retry, hedging, the circuit breaker, the rate limiter and the dead letters
    /// see injected faults as they would see real ones, and an injected latency counts
    /// against the attempt timeout. Default none, or the layer
    /// [`ClientConfig::chaos`] describes; this one takes precedence. Keep
    /// [`ChaosLayer::stats`] to see what was injected; a [`Client::reload`] keeps the layer.
    ///
    /// [`ChaosLayer::stats`]: crate::chaos::ChaosLayer::stats
    #[cfg(feature = "chaos")]
    pub fn chaos(mut self, layer: crate::chaos::ChaosLayer) -> Self {
        self.chaos = Some(layer);
        self
    }

    /// Replaces the whole configuration.
    pub fn config(mut self, config: ClientConfig) -> Self {
        self.config = config;
        self
    }

    /// Sets the retry rules. Default [`RetryConfig::default`].
    pub fn retry(mut self, retry: RetryConfig) -> Self {
        self.config.retry = retry;
        self
    }

    /// Sets whether the call's deadline (`retry.deadline`) also bounds the caller's read of
    /// a successful response's body; see [`ClientConfig::deadline_covers_body`]. Default
    /// `true`.
    pub fn deadline_covers_body(mut self, covers: bool) -> Self {
        self.config.deadline_covers_body = covers;
        self
    }

    /// Sets the limit of each attempt. Default 30 s.
    pub fn attempt_timeout(mut self, limit: Duration) -> Self {
        self.config = self.config.attempt_timeout(limit);
        self
    }

    /// Turns the limit of each attempt off; see [`ClientConfig::without_attempt_timeout`].
    /// Default on (30 s).
    pub fn without_attempt_timeout(mut self) -> Self {
        self.config = self.config.without_attempt_timeout();
        self
    }

    /// Replaces the classifier every layer reads. Default
    /// [`DefaultClassifier`](crate::classify::DefaultClassifier).
    pub fn classifier(self, classifier: impl Classify) -> Self {
        self.shared_classifier(Arc::new(classifier))
    }

    /// Uses a classifier shared with other clients or layers; see
    /// [`classifier`](Self::classifier).
    pub fn shared_classifier(mut self, classifier: SharedClassifier) -> Self {
        self.classifier = Some(Opaque(classifier));
        self
    }

    /// Sets idempotency keys and the ledger. Default [`IdempotencyConfig::default`].
    pub fn idempotency(mut self, idempotency: IdempotencyConfig) -> Self {
        self.config = self.config.idempotency(idempotency);
        self
    }

    /// Turns idempotency keys and the ledger off; see
    /// [`ClientConfig::without_idempotency`]. Default on.
    pub fn without_idempotency(mut self) -> Self {
        self.config = self.config.without_idempotency();
        self
    }

    /// Keeps completed keys in `store` (a `RedisStore` to share them between instances).
    /// Default: an in-memory [`MemoryStore`](crate::idempotency::store::MemoryStore).
    pub fn idempotency_store(self, store: impl IdempotencyStore) -> Self {
        self.shared_idempotency_store(Arc::new(store))
    }

    /// Keeps completed keys in a ledger shared with other clients or layers; see
    /// [`idempotency_store`](Self::idempotency_store).
    pub fn shared_idempotency_store(mut self, store: SharedStore) -> Self {
        self.store = Some(Opaque(store));
        self
    }

    /// Makes fresh idempotency keys with `maker`. Default: the configured generator.
    pub fn idempotency_key_maker(self, maker: impl MakeIdempotencyKey) -> Self {
        self.shared_idempotency_key_maker(Arc::new(maker))
    }

    /// Makes fresh idempotency keys with a maker shared with other clients or layers; see
    /// [`idempotency_key_maker`](Self::idempotency_key_maker).
    pub fn shared_idempotency_key_maker(mut self, maker: SharedKeyMaker) -> Self {
        self.key_maker = Some(Opaque(maker));
        self
    }

    /// Says whether the API deduplicates requests by their idempotency key, so that a POST
    /// or PATCH carrying one is safe to retry after any failure. Default `false`: most CRMs
    /// and ERPs ignore the header. Sets [`RetryConfig::server_dedupes`].
    pub fn server_dedupes(mut self, server_dedupes: bool) -> Self {
        self.config.retry.server_dedupes = server_dedupes;
        self
    }

    /// Says whether `host` (or `host:port`) deduplicates by the idempotency key, whatever
    /// [`server_dedupes`](Self::server_dedupes) says for every host. Adds to
    /// [`RetryConfig::server_dedupes_hosts`]. Default: no overrides.
    pub fn server_dedupes_host(mut self, host: impl Into<String>, dedupes: bool) -> Self {
        self.config
            .retry
            .server_dedupes_hosts
            .insert(host.into(), dedupes);
        self
    }

    /// Asks `verifier` whether an attempt that may have been applied was, before a POST or
    /// PATCH is retried; see [`verify`](crate::verify). The idempotency ledger asks it too,
    /// about a call whose key an earlier call left unknown (see
    /// [Unknown keys](crate::idempotency#unknown-keys)). Both are bounded by
    /// `retry.verify_timeout`. Default: none (such a request is not retried and the call
    /// ends with its outcome unknown; a later call with its key fails with
    /// [`Error::IdempotencyOutcomeUnknown`](crate::Error::IdempotencyOutcomeUnknown)).
    pub fn verifier(self, verifier: impl Verify) -> Self {
        self.shared_verifier(Arc::new(verifier))
    }

    /// Uses a verifier shared with other clients or layers; see [`verifier`](Self::verifier).
    pub fn shared_verifier(mut self, verifier: SharedVerifier) -> Self {
        self.verifier = Some(Opaque(verifier));
        self
    }

    /// Spends retries from a budget shared with other clients. Default: the client's own.
    pub fn shared_budget(mut self, budget: RetryBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Sets the logging configuration. Default [`LogConfig::default`].
    pub fn log(mut self, log: LogConfig) -> Self {
        self.config.log = log;
        self
    }

    /// Runs `hook` when a call fails with a retryable verdict; see [`LogLayer::on_give_up`].
    pub fn on_give_up(mut self, hook: impl Fn(&FailedCall<'_>) + Send + Sync + 'static) -> Self {
        self.log_hooks.on_give_up = Some(crate::log::Hook::new(hook));
        self
    }

    /// Runs `hook` when a call fails with a permanent verdict (a 401 or 403 among them); see
    /// [`LogLayer::on_permanent`].
    pub fn on_permanent(mut self, hook: impl Fn(&FailedCall<'_>) + Send + Sync + 'static) -> Self {
        self.log_hooks.on_permanent = Some(crate::log::Hook::new(hook));
        self
    }

    /// Limits the rate of attempts: a default quota per origin and per-host overrides.
    /// Default: no limit.
    pub fn rate_limit(mut self, rate_limit: RateLimitConfig) -> Self {
        self.config = self.config.rate_limit(rate_limit);
        self
    }

    /// Turns rate limiting off, forgetting a configured quota and a
    /// [`shared_rate_limiter`](Self::shared_rate_limiter). Default (off).
    pub fn without_rate_limit(mut self) -> Self {
        self.config = self.config.without_rate_limit();
        self.rate_limiter = None;
        self
    }

    /// Takes permits from `limiter`, shared with other clients or layers, instead of a
    /// limiter of the client's own; the configured `rate_limit` is then not used.
    pub fn shared_rate_limiter(mut self, limiter: RateLimiter) -> Self {
        self.rate_limiter = Some(limiter);
        self
    }

    /// Sets the base URL that relative request URLs resolve against; see
    /// [`ClientConfig::base_url`]. Default: none (every URL is absolute).
    pub fn base_url(mut self, base_url: reqwest::Url) -> Self {
        self.config = self.config.base_url(base_url);
        self
    }

    /// Records failed and unknown calls as dead letters with these settings; see
    /// [`dead_letter`](crate::dead_letter). Default: off, unless a sink is given.
    pub fn dead_letter(mut self, dead_letter: DeadLetterConfig) -> Self {
        self.config = self.config.dead_letter(dead_letter);
        self
    }

    /// Keeps dead letters in `sink` (a `JsonlSink`, a `RedisSink`…), turning them on with
    /// the configured settings or [`DeadLetterConfig::default`]. Default: none (off).
    pub fn dead_letter_sink(self, sink: impl DeadLetterSink) -> Self {
        self.shared_dead_letter_sink(Arc::new(sink))
    }

    /// Keeps dead letters in a sink shared with other clients; see
    /// [`dead_letter_sink`](Self::dead_letter_sink).
    pub fn shared_dead_letter_sink(mut self, sink: SharedSink) -> Self {
        self.dead_letter_sink = Some(Opaque(sink));
        self
    }

    /// Applies a credential from `credentials` to every attempt (so a rotated or refreshed
    /// one is used by the next attempt); see [`credentials`](crate::credentials). Replaces
    /// `credentials` in the configuration. Default: none.
    pub fn credentials(self, credentials: impl Credentials) -> Self {
        self.shared_credentials(Arc::new(credentials))
    }

    /// Applies credentials from a provider shared with other clients or layers (one token
    /// cache, one refresh); see [`credentials`](Self::credentials).
    pub fn shared_credentials(mut self, credentials: SharedCredentials) -> Self {
        self.credentials = Some(Opaque(credentials));
        self
    }

    /// Applies no credentials, forgetting a provider and the configured `credentials`.
    /// Default (none).
    pub fn without_credentials(mut self) -> Self {
        self.config = self.config.without_credentials();
        self.credentials = None;
        self
    }

    /// Sets a circuit breaker per origin; see [`breaker`](crate::breaker). Default: none.
    pub fn breaker(mut self, breaker: CircuitBreakerConfig) -> Self {
        self.config = self.config.breaker(breaker);
        self
    }

    /// Turns the circuit breaker off. Default (off).
    pub fn without_breaker(mut self) -> Self {
        self.config = self.config.without_breaker();
        self
    }

    /// Bounds concurrent attempts per origin, with a bounded queue; see
    /// [`BulkheadConfig`]. Default: none.
    pub fn bulkhead(mut self, bulkhead: BulkheadConfig) -> Self {
        self.config = self.config.bulkhead(bulkhead);
        self
    }

    /// Turns the bulkhead off. Default (off).
    pub fn without_bulkhead(mut self) -> Self {
        self.config = self.config.without_bulkhead();
        self
    }

    /// Serves the last good response of a GET or HEAD, marked
    /// [`Stale`](crate::stale::Stale), when a call fails transiently or its circuit is
    /// open; see [`stale`](crate::stale). Default: off.
    pub fn stale_if_error(mut self, stale: StaleConfig) -> Self {
        self.config = self.config.stale_if_error(stale);
        self
    }

    /// Turns stale-if-error off. Default (off).
    pub fn without_stale_if_error(mut self) -> Self {
        self.config = self.config.without_stale_if_error();
        self
    }

    /// Guards attempts with `circuits`, shared with other clients or layers, instead of
    /// circuits of the client's own; the configured `breaker` and `bulkhead` are then not
    /// used.
    pub fn shared_circuits(mut self, circuits: Circuits) -> Self {
        self.circuits = Some(circuits);
        self
    }

    /// Builds the client around `http`, the transport.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when a setting is invalid.
    pub fn build(mut self, http: reqwest::Client) -> Result<Client, ConfigError> {
        let config = std::mem::take(&mut self.config);
        let carried = Carried::default();
        let current = self.assemble(&config, &http, &carried)?;
        Ok(Client::from_parts(http, self, carried, current))
    }

    /// The stack for `config` around `http`, with the parts given to this builder and the
    /// state `carried` over from an earlier configuration of the same client.
    pub(super) fn assemble(
        &self,
        config: &ClientConfig,
        http: &reqwest::Client,
        carried: &Carried,
    ) -> Result<Current, ConfigError> {
        let classifier: SharedClassifier = self
            .classifier
            .as_ref()
            .map_or_else(|| Arc::clone(carried.classifier()), |c| Arc::clone(&c.0));
        let base_url = config.base_url.clone().map(normalize_base).transpose()?;
        let idempotency = match &config.idempotency {
            Some(idempotency) => {
                let store = self
                    .store
                    .as_ref()
                    .map_or_else(|| Arc::clone(carried.store()), |s| Arc::clone(&s.0));
                let mut layer = IdempotencyLayer::new(idempotency)?.shared_store(store);
                if let Some(maker) = &self.key_maker {
                    layer = layer.shared_key_maker(Arc::clone(&maker.0));
                }
                if let Some(verifier) = &self.verifier {
                    layer = layer
                        .shared_verifier(Arc::clone(&verifier.0))
                        .verify_timeout(config.retry.verify_timeout);
                }
                layer
            }
            None => IdempotencyLayer::disabled(),
        }
        .shared_classifier(Arc::clone(&classifier))
        .optional_call_deadline(config.retry.deadline);
        // One header name for the layer that adds keys, the one that trusts them and the one
        // that logs them; the retry configuration is still checked as written.
        Policy::new(&config.retry)?;
        let retry_config = config
            .retry
            .clone()
            .idempotency_header(idempotency.header().as_str());
        let mut retry = RetryLayer::new(&retry_config)?
            .shared_classifier(Arc::clone(&classifier))
            .key_format(idempotency.format());
        // The budget carries over a reload: the user's, or the one this client made first.
        if let Some(budget) = &self.budget {
            retry = retry.shared_budget(budget.clone());
        } else if let (Some(_), Some(budget)) = (&config.retry.budget, carried.budget.get()) {
            retry = retry.shared_budget(budget.clone());
        }
        if let Some(verifier) = &self.verifier {
            retry = retry.shared_verifier(Arc::clone(&verifier.0));
        }
        if config.attempt_timeout.is_some_and(|d| d.is_zero()) {
            return Err(ConfigError::ZeroDuration {
                name: "attempt_timeout",
            });
        }
        // The circuits read the built-in rules without a `dyn` call unless told otherwise.
        let own = self.classifier.as_ref().map(|c| &c.0);
        // The circuits carry over a reload while their settings stay the same.
        let circuits = match &self.circuits {
            Some(shared) => Some(shared.clone()),
            None => carried.circuits_for(config, || own_circuits(config, own))?,
        };
        let log = LogLayer::new(&config.log)?
            .optional_call_deadline(config.retry.deadline)
            .idempotency_header(idempotency.header().clone())
            .hooks(self.log_hooks.clone())
            .shared_classifier(classifier);
        // Last, once everything else is valid: a reload reconfigures the limiter in place.
        let limiter = match (&self.rate_limiter, &config.rate_limit) {
            (Some(shared), _) => Some(shared.clone()),
            (None, Some(rate_limit)) => Some(carried.limiter_for(rate_limit)?),
            (None, None) => None,
        };
        let budget = retry.budget().cloned();
        if self.budget.is_none()
            && let Some(budget) = &budget
        {
            // Already set when it was carried over; the first budget stays.
            let _ = carried.budget.set(budget.clone());
        }
        let dead_letter = self.dead_letter_layer(config, carried)?;
        let guarded =
            self.attempt_stack(config, http, carried, limiter.as_ref(), circuits.as_ref())?;
        let call = DeadlineLayer::optional(config.retry.deadline)
            .covers_body(config.deadline_covers_body)
            .layer(retry.layer(retry.hedging().layer(guarded)));
        let stale = config
            .stale_if_error
            .as_ref()
            .map_or_else(|| Ok(StaleIfErrorLayer::disabled()), StaleIfErrorLayer::new)?;
        let key_header = (idempotency.header().clone(), idempotency.format());
        let dead_letters = dead_letter.recorder().cloned();
        let verify = self
            .verifier
            .as_ref()
            .map(|v| (Arc::clone(&v.0), config.retry.verify_timeout));
        Ok(Current {
            stack: log.layer(dead_letter.layer(idempotency.layer(stale.layer(call)))),
            dead_letters,
            verify,
            base_url,
            key_header,
            budget,
            limiter,
            circuits,
        })
    }

    /// Layer 2: the dead letters, off unless configured or given a sink.
    fn dead_letter_layer(
        &self,
        config: &ClientConfig,
        carried: &Carried,
    ) -> Result<DeadLetterLayer, ConfigError> {
        Ok(match (&config.dead_letter, &self.dead_letter_sink) {
            (None, None) => DeadLetterLayer::disabled(),
            (settings, sink) => {
                let settings = settings.clone().unwrap_or_default();
                // The sink carries over a reload, so no letter drops out of sight.
                let sink = sink
                    .as_ref()
                    .map_or_else(|| carried.dead_letter_sink(&settings), |s| Arc::clone(&s.0));
                DeadLetterLayer::new(&settings)?
                    .redactor(crate::redact::Redactor::new(&config.log.redact)?)
                    .shared_sink(sink)
            }
        })
    }

    /// Layers 8 to 12, what each attempt goes through: breaker and bulkhead, rate limit,
    /// credentials, attempt timeout and the transport.
    fn attempt_stack(
        &self,
        config: &ClientConfig,
        http: &reqwest::Client,
        carried: &Carried,
        limiter: Option<&RateLimiter>,
        circuits: Option<&Circuits>,
    ) -> Result<AttemptStack, ConfigError> {
        let credentials = match (&self.credentials, &config.credentials) {
            (Some(provider), _) => Some(Arc::clone(&provider.0)),
            (None, Some(configured)) => Some(carried.credentials_for(configured, http)?),
            (None, None) => None,
        };
        #[cfg(feature = "chaos")]
        let http = {
            let chaos = match (&self.chaos, &config.chaos) {
                (Some(layer), _) => layer.clone(),
                (None, Some(settings)) => crate::chaos::ChaosLayer::new(settings)?,
                (None, None) => crate::chaos::ChaosLayer::disabled(),
            };
            crate::chaos::Chaos::new(http.clone(), chaos)
        };
        #[cfg(not(feature = "chaos"))]
        let http = http.clone();
        let attempt = TimeoutLayer::optional(config.attempt_timeout).layer(http);
        let authenticated = match credentials {
            Some(credentials) => ApplyCredentials::new(attempt, credentials),
            None => ApplyCredentials::none(attempt),
        };
        let rate_limited = match limiter {
            Some(limiter) => RateLimit::new(authenticated, limiter.clone()),
            None => RateLimit::unlimited(authenticated),
        };
        let guarded = match circuits {
            Some(circuits) => CircuitBreaker::new(rate_limited, circuits.clone()),
            None => CircuitBreaker::disabled(rate_limited),
        };
        Ok(guarded)
    }
}

/// What each attempt goes through, under retry and hedging.
type AttemptStack = CircuitBreaker<RateLimit<ApplyCredentials<Timeout<Transport>>>>;

/// The transport, with the fault injection under it when the feature is on (a pass-through
/// unless [`ClientBuilder::chaos`] gave it faults).
#[cfg(feature = "chaos")]
pub(super) type Transport = crate::chaos::Chaos<reqwest::Client>;
#[cfg(not(feature = "chaos"))]
pub(super) type Transport = reqwest::Client;

/// The client's own circuits and bulkheads, from its configuration; `None` for neither.
/// They read outcomes through `classifier` when the user gave one, else by the built-in
/// rules.
fn own_circuits(
    config: &ClientConfig,
    classifier: Option<&SharedClassifier>,
) -> Result<Option<Circuits>, ConfigError> {
    if config.breaker.is_none() && config.bulkhead.is_none() {
        return Ok(None);
    }
    let mut builder = match &config.breaker {
        Some(breaker) => CircuitsBuilder::default().breaker(breaker.clone()),
        None => Circuits::builder().without_breaker(),
    };
    if let Some(bulkhead) = &config.bulkhead {
        builder = builder.bulkhead(bulkhead.clone());
    }
    if let Some(classifier) = classifier {
        builder = builder.shared_classifier(Arc::clone(classifier));
    }
    builder.build().map(Some)
}
