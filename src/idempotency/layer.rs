use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderName;
use reqwest::{Method, Url};
use tower_layer::Layer;

use super::Idempotency;
use super::make_key::KeyMaker;
use super::store::{
    IdempotencyStore, LedgerKey, MemoryStore, Resolution, SharedStore, StoreFuture,
};
use super::{
    CompleteOn, IdempotencyConfig, InFlight, KeyFormat, LedgerDown, MakeIdempotencyKey,
    SharedKeyMaker,
};
use crate::classify::{Classify, DefaultClassifier, SharedClassifier};
use crate::error::ConfigError;
use crate::verify::{SharedVerifier, Verify};

/// The limit of one verification unless set otherwise (the retry layer's default too).
const DEFAULT_VERIFY_TIMEOUT: Duration = Duration::from_secs(10);

/// Applies [`Idempotency`] to a service.
///
/// # Clone
///
/// The layer and every service it makes share one key generator and one ledger.
#[derive(Clone)]
pub struct IdempotencyLayer {
    settings: Arc<Settings>,
}

impl std::fmt::Debug for IdempotencyLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.settings.fmt(f)
    }
}

/// The validated settings shared by the layer and its services.
#[derive(Clone)]
pub(crate) struct Settings {
    pub(crate) methods: Vec<Method>,
    pub(crate) header: HeaderName,
    pub(crate) format: KeyFormat,
    pub(crate) maker: KeyMaker,
    pub(crate) store: Option<Arc<dyn IdempotencyStore>>,
    pub(crate) ttl: Duration,
    pub(crate) lease: Duration,
    pub(crate) max_body_bytes: usize,
    pub(crate) max_body_wait: Duration,
    pub(crate) call_deadline: Option<Duration>,
    pub(crate) complete_on: CompleteOn,
    pub(crate) in_flight: InFlight,
    pub(crate) ledger_down: LedgerDown,
    pub(crate) classifier: SharedClassifier,
    /// Asked about keys of unknown outcome; `None` refuses them.
    pub(crate) verifier: Option<SharedVerifier>,
    pub(crate) verify_timeout: Duration,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdempotencyLayer")
            .field("methods", &self.methods)
            .field("header", &self.header)
            .field("format", &self.format)
            .field("ledger", &self.store.is_some())
            .field("ttl", &self.ttl)
            .field("complete_on", &self.complete_on)
            .field("in_flight", &self.in_flight)
            .field("ledger_down", &self.ledger_down)
            .field("verifier", &self.verifier.is_some())
            .field("verify_timeout", &self.verify_timeout)
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// Settles the unknown key `key` of calls with `method` on `url` (see
    /// [`IdempotencyLayer::resolve`]).
    pub(crate) fn resolve(
        &self,
        method: &Method,
        url: &Url,
        key: &str,
        resolution: Resolution,
    ) -> StoreFuture<bool> {
        let Some(store) = &self.store else {
            return StoreFuture::ready(Ok(false));
        };
        let key = self.format.decode(key);
        store.resolve(&LedgerKey::new(&key, method, url), resolution, self.ttl)
    }
}

impl IdempotencyLayer {
    /// Settles a key whose outcome is unknown, once someone checked with the server:
    /// [`Resolution::Applied`] replays the given response to later calls with the key,
    /// [`Resolution::NotApplied`] frees it so the call may be sent again. `method` and
    /// `url` are those of the call (the ledger scopes keys by them); the query does not
    /// matter. Resolves to `false` when the key was not unknown (free, completed, in flight,
    /// or the layer keeps no ledger).
    ///
    /// # Example
    ///
    /// ```
    /// use reqwest::{Method, Url};
    /// use steadfast::idempotency::store::Resolution;
    /// use steadfast::idempotency::{IdempotencyConfig, IdempotencyLayer};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let layer = IdempotencyLayer::new(&IdempotencyConfig::default())?;
    /// let url = Url::parse("https://api.example.com/payments")?;
    /// // The payment provider's dashboard shows no payment `pay-1`: it may be sent again.
    /// let settled = layer.resolve(&Method::POST, &url, "pay-1", Resolution::NotApplied).await?;
    /// assert!(!settled, "this fresh ledger never saw pay-1");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// The future fails with a [`StoreError`](super::store::StoreError) when the ledger
    /// cannot be reached.
    pub fn resolve(
        &self,
        method: &Method,
        url: &Url,
        key: &str,
        resolution: Resolution,
    ) -> StoreFuture<bool> {
        self.settings.resolve(method, url, key, resolution)
    }

    /// A layer with the given settings, the configured key generator and an in-memory
    /// ledger ([`MemoryStore`]).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when the header name is invalid or a duration is zero.
    pub fn new(config: &IdempotencyConfig) -> Result<Self, ConfigError> {
        let header =
            crate::key::header_name(&config.header).map_err(|_| ConfigError::HeaderName {
                name: "idempotency.header",
                value: config.header.clone(),
            })?;
        for (name, value) in [
            ("idempotency.ttl", config.ttl),
            ("idempotency.lease", config.lease),
            ("idempotency.max_body_wait", config.max_body_wait),
        ] {
            if value.is_zero() {
                return Err(ConfigError::ZeroDuration { name });
            }
        }
        Ok(Self {
            settings: Arc::new(Settings {
                methods: config.methods.clone(),
                header,
                format: config.format,
                maker: KeyMaker::Builtin(config.generator),
                store: Some(Arc::new(MemoryStore::new())),
                ttl: config.ttl,
                lease: config.lease,
                max_body_bytes: config.max_body_bytes,
                max_body_wait: config.max_body_wait,
                call_deadline: None,
                complete_on: config.complete_on,
                in_flight: config.in_flight,
                ledger_down: config.ledger_down,
                classifier: Arc::new(DefaultClassifier::new()),
                verifier: None,
                verify_timeout: DEFAULT_VERIFY_TIMEOUT,
            }),
        })
    }

    /// A layer that adds no keys and keeps no ledger: requests pass through, and a key the
    /// caller set is only reported back.
    pub(crate) fn disabled() -> Self {
        let layer = Self::new(&IdempotencyConfig::default().methods(Vec::new()))
            .expect("the default configuration is valid");
        layer.without_ledger()
    }

    /// Uses `store` as the completed-key ledger.
    #[must_use]
    pub fn store(self, store: impl IdempotencyStore) -> Self {
        self.shared_store(Arc::new(store))
    }

    /// Uses a ledger shared with other layers or clients.
    #[must_use]
    pub fn shared_store(mut self, store: SharedStore) -> Self {
        Arc::make_mut(&mut self.settings).store = Some(store);
        self
    }

    /// Reads a recorded call's body no later than `deadline` after the call started, as well
    /// as within `max_body_wait`: the call's deadline then bounds its body too. The
    /// [`Client`](crate::Client) passes its own (`retry.deadline`). Default: none, only
    /// `max_body_wait` bounds the read.
    #[must_use]
    pub fn call_deadline(self, deadline: Duration) -> Self {
        self.optional_call_deadline(Some(deadline))
    }

    /// Forgets a [`call_deadline`](Self::call_deadline): only `max_body_wait` bounds the
    /// read of a recorded call's body. Default.
    #[must_use]
    pub fn without_call_deadline(self) -> Self {
        self.optional_call_deadline(None)
    }

    pub(crate) fn optional_call_deadline(mut self, deadline: Option<Duration>) -> Self {
        Arc::make_mut(&mut self.settings).call_deadline = deadline;
        self
    }

    /// Asks `verifier` about a call whose key the ledger holds as unknown (or, having lost
    /// its data, cannot vouch for), instead of refusing it at once; see
    /// [Unknown keys](super#unknown-keys). Default: none (such a call fails with
    /// [`Error::IdempotencyOutcomeUnknown`](crate::Error::IdempotencyOutcomeUnknown)).
    ///
    /// # Example
    ///
    /// ```
    /// use steadfast::idempotency::{IdempotencyConfig, IdempotencyLayer};
    /// use steadfast::verify::{Sender, Verification, VerifyRequest};
    ///
    /// // Payments are looked up by the key, which the provider stores as a reference.
    /// let layer = IdempotencyLayer::new(&IdempotencyConfig::default())?.verifier(
    ///     |request: VerifyRequest, sender: Sender| async move {
    ///         let mut url = request.url.clone();
    ///         let reference = request.idempotency_key.unwrap_or_default();
    ///         url.query_pairs_mut().append_pair("reference", &reference);
    ///         match sender.send(reqwest::Request::new(reqwest::Method::GET, url)).await {
    ///             Ok(found) if found.status() == 200 => Verification::Applied(found),
    ///             Ok(missing) if missing.status() == 404 => Verification::NotApplied,
    ///             _ => Verification::Unknown,
    ///         }
    ///     },
    /// );
    /// # let _ = layer;
    /// # Ok::<(), steadfast::ConfigError>(())
    /// ```
    #[must_use]
    pub fn verifier(self, verifier: impl Verify) -> Self {
        self.shared_verifier(Arc::new(verifier))
    }

    /// Uses a verifier shared with other layers (the retry layer's, say); see
    /// [`verifier`](Self::verifier).
    #[must_use]
    pub fn shared_verifier(mut self, verifier: SharedVerifier) -> Self {
        Arc::make_mut(&mut self.settings).verifier = Some(verifier);
        self
    }

    /// Sets the limit of one verification, all its lookups together (the call's deadline
    /// bounds it too); a verifier that has not answered by then counts as unknown. The
    /// [`Client`](crate::Client) passes `retry.verify_timeout`. Default 10 s.
    #[must_use]
    pub fn verify_timeout(mut self, limit: Duration) -> Self {
        Arc::make_mut(&mut self.settings).verify_timeout = limit;
        self
    }

    /// Only adds keys: no ledger, so repeated keys always reach the server.
    #[must_use]
    pub fn without_ledger(mut self) -> Self {
        Arc::make_mut(&mut self.settings).store = None;
        self
    }

    /// Makes fresh keys with `maker` instead of the configured generator.
    #[must_use]
    pub fn key_maker(self, maker: impl MakeIdempotencyKey) -> Self {
        self.shared_key_maker(Arc::new(maker))
    }

    /// Makes fresh keys with a generator shared with other layers.
    #[must_use]
    pub fn shared_key_maker(mut self, maker: SharedKeyMaker) -> Self {
        Arc::make_mut(&mut self.settings).maker = KeyMaker::Custom(maker);
        self
    }

    /// Replaces the classifier that decides which outcomes complete a key. Default
    /// [`DefaultClassifier`].
    #[must_use]
    pub fn classifier(self, classifier: impl Classify) -> Self {
        self.shared_classifier(Arc::new(classifier))
    }

    /// Uses a classifier shared with other layers; see [`classifier`](Self::classifier).
    #[must_use]
    pub fn shared_classifier(mut self, classifier: SharedClassifier) -> Self {
        Arc::make_mut(&mut self.settings).classifier = classifier;
        self
    }

    pub(super) fn settings(&self) -> &Arc<Settings> {
        &self.settings
    }

    /// The header carrying the key.
    #[must_use]
    pub fn header(&self) -> &HeaderName {
        &self.settings.header
    }

    /// How the key is written in the header.
    #[must_use]
    pub fn format(&self) -> KeyFormat {
        self.settings.format
    }
}

impl<S> Layer<S> for IdempotencyLayer {
    type Service = Idempotency<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Idempotency::new(inner, self)
    }
}
