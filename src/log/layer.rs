use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderName;
use tower_layer::Layer;

use super::hook::{FailedCall, Hook, Hooks};
use super::{BodyCapture, Log, LogConfig};
use crate::classify::{Classify, DefaultClassifier, SharedClassifier};
use crate::error::ConfigError;
use crate::redact::Redactor;

/// Applies [`Log`] to a service: a span per call, events for every decision, secrets masked.
///
/// # Example
///
/// ```
/// use steadfast::log::{LogConfig, LogLayer};
/// use steadfast::retry::RetryLayer;
/// use tower::ServiceBuilder;
///
/// let log = LogLayer::new(&LogConfig::default())?.on_permanent(|failed| {
///     if failed.needs_attention() {
///         eprintln!("page someone: {} {} was refused", failed.method(), failed.url());
///     }
/// });
/// let service = ServiceBuilder::new()
///     .layer(log) // outermost: sees the logical call
///     .layer(RetryLayer::default())
///     .service(reqwest::Client::new());
/// # let _ = service;
/// # Ok::<(), steadfast::ConfigError>(())
/// ```
///
/// # Userinfo
///
/// The service removes userinfo (`https://user:password@…`) from the request's URL before
/// passing it on. reqwest never sends it from a request built without its
/// `RequestBuilder` (which turns it into a sensitive `Authorization` header, as the
/// [`Client`](crate::Client) does), but hyper-util's connection pool writes it into its
/// DEBUG and TRACE events. Nothing changes on the wire.
///
/// # Clone
///
/// The layer and every service it makes share one configuration, redactor and set of hooks.
#[derive(Clone)]
pub struct LogLayer {
    shared: Arc<Shared>,
}

/// What every clone of a log service reads.
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) redactor: Redactor,
    pub(crate) bodies: BodyCapture,
    pub(crate) call_deadline: Option<Duration>,
    pub(crate) idempotency_header: HeaderName,
    pub(crate) classifier: SharedClassifier,
    pub(crate) hooks: Hooks,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("redactor", &self.redactor)
            .field("bodies", &self.bodies)
            .field("call_deadline", &self.call_deadline)
            .field("idempotency_header", &self.idempotency_header)
            .field("hooks", &self.hooks)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for LogLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogLayer")
            .field("shared", &self.shared)
            .finish()
    }
}

impl LogLayer {
    /// A log layer with the given settings, the default classifier and no hooks.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when an extra header name is invalid or `bodies.max_bytes` is zero.
    pub fn new(config: &LogConfig) -> Result<Self, ConfigError> {
        config.bodies.validate()?;
        Ok(Self {
            shared: Arc::new(Shared {
                redactor: Redactor::new(&config.redact)?,
                bodies: config.bodies.clone(),
                call_deadline: None,
                idempotency_header: HeaderName::from_static(crate::key::DEFAULT_HEADER),
                classifier: Arc::new(DefaultClassifier::new()),
                hooks: Hooks::default(),
            }),
        })
    }

    /// Runs `hook` when a call fails with a retryable verdict (transient or throttled:
    /// retries exhausted, budget spent, deadline reached, body not replayable…).
    ///
    /// Exactly one hook runs for each failed call: this one, or
    /// [`on_permanent`](Self::on_permanent). A hook runs on the task that made the call,
    /// before the caller gets the error: keep it quick and spawn any I/O.
    #[must_use]
    pub fn on_give_up(self, hook: impl Fn(&FailedCall<'_>) + Send + Sync + 'static) -> Self {
        self.map(|shared| shared.hooks.on_give_up = Some(Hook::new(hook)))
    }

    /// Runs `hook` when a call fails with a permanent verdict: retrying could not have
    /// helped. [`FailedCall::needs_attention`] tells a refused credential (401, 403).
    #[must_use]
    pub fn on_permanent(self, hook: impl Fn(&FailedCall<'_>) + Send + Sync + 'static) -> Self {
        self.map(|shared| shared.hooks.on_permanent = Some(Hook::new(hook)))
    }

    /// Tells the layer the deadline of the calls below it (a
    /// [`Deadline`](crate::timeout::Deadline) layer's limit), counted from when a call
    /// starts: a response body read for a log line is not waited for past it, even if
    /// [`BodyCapture::read_timeout`] is longer. The [`Client`](crate::Client) sets it to
    /// `retry.deadline`. Default: none, only `read_timeout` bounds the read.
    #[must_use]
    pub fn call_deadline(self, deadline: Duration) -> Self {
        self.optional_call_deadline(Some(deadline))
    }

    /// Forgets a [`call_deadline`](Self::call_deadline): only `read_timeout` bounds the read
    /// of a body for a log line. Default.
    #[must_use]
    pub fn without_call_deadline(self) -> Self {
        self.optional_call_deadline(None)
    }

    pub(crate) fn optional_call_deadline(self, deadline: Option<Duration>) -> Self {
        self.map(|shared| shared.call_deadline = deadline)
    }

    /// Reads the idempotency key from this header. Default `Idempotency-Key`.
    #[must_use]
    pub fn idempotency_header(self, name: HeaderName) -> Self {
        self.map(|shared| shared.idempotency_header = name)
    }

    /// Replaces the classifier that gives a returned response its verdict. Default
    /// [`DefaultClassifier`].
    #[must_use]
    pub fn classifier(self, classifier: impl Classify) -> Self {
        self.shared_classifier(Arc::new(classifier))
    }

    /// Uses a classifier already shared with other layers; see
    /// [`classifier`](Self::classifier).
    #[must_use]
    pub fn shared_classifier(self, classifier: SharedClassifier) -> Self {
        self.map(|shared| shared.classifier = classifier)
    }

    /// The redactor every line of this layer goes through.
    #[must_use]
    pub fn redactor(&self) -> &Redactor {
        &self.shared.redactor
    }

    pub(super) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    pub(crate) fn hooks(self, hooks: Hooks) -> Self {
        self.map(|shared| shared.hooks = hooks)
    }

    fn map(mut self, f: impl FnOnce(&mut Shared)) -> Self {
        f(Arc::make_mut(&mut self.shared));
        self
    }
}

impl Default for LogLayer {
    fn default() -> Self {
        Self::new(&LogConfig::default()).expect("the default configuration is valid")
    }
}

impl<S> Layer<S> for LogLayer {
    type Service = Log<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Log::new(inner, self)
    }
}
