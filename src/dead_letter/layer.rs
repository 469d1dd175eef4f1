use std::sync::Arc;

use reqwest::Method;
use tower_layer::Layer;

use super::recorder::{Recorder, SharedPredicate};
use super::{DeadLetterConfig, DeadLetterService, DeadLetterSink, MemorySink, SharedSink};
use crate::error::{ConfigError, Error};
use crate::redact::Redactor;

/// Applies [`DeadLetterService`]: records calls that failed or whose outcome is unknown.
///
/// # Clone
///
/// Clones, and every service made from them, share the sink and the counters.
#[derive(Debug, Clone)]
pub struct DeadLetterLayer {
    /// `None`: calls pass through, for a client whose configuration keeps no letters.
    recorder: Option<Arc<Recorder>>,
}

impl DeadLetterLayer {
    /// A layer keeping letters in a [`MemorySink`] of `config.memory_capacity`, until
    /// [`sink`](Self::sink) gives another.
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroDuration`] for a zero `record_timeout` or `replay_lease`.
    pub fn new(config: &DeadLetterConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let sink: SharedSink = Arc::new(MemorySink::new(config.memory_capacity));
        Ok(Self {
            recorder: Some(Arc::new(Recorder::new(sink, config.clone()))),
        })
    }

    /// A layer whose services pass every call through.
    pub(crate) fn disabled() -> Self {
        Self { recorder: None }
    }

    /// Keeps letters in `sink`. Default: a [`MemorySink`].
    #[must_use]
    pub fn sink(self, sink: impl DeadLetterSink) -> Self {
        self.shared_sink(Arc::new(sink))
    }

    /// Keeps letters in a sink shared with other layers or clients; see [`sink`](Self::sink).
    #[must_use]
    pub fn shared_sink(self, sink: SharedSink) -> Self {
        self.with(|r| r.sink = sink)
    }

    /// Records a failed call only when `predicate(method, error)` says so (it sees only
    /// errors a letter can be made of). Default: every call with a non-idempotent method
    /// (POST, PATCH…), every call whose outcome is unknown, and with
    /// [`DeadLetterConfig::idempotent_methods`] every failed call.
    #[must_use]
    pub fn record_if(
        self,
        predicate: impl Fn(&Method, &Error) -> bool + Send + Sync + 'static,
    ) -> Self {
        let predicate: SharedPredicate = Arc::new(predicate);
        self.with(|r| r.predicate = Some(predicate))
    }

    /// Drops the headers `redactor` lists from letters and shows them through it. Default
    /// [`Redactor::default`].
    #[must_use]
    pub fn redactor(self, redactor: Redactor) -> Self {
        self.with(|r| r.redactor = redactor)
    }

    /// The shared state, for the client's [`DeadLetters`](super::DeadLetters) handle.
    pub(crate) fn recorder(&self) -> Option<&Arc<Recorder>> {
        self.recorder.as_ref()
    }

    fn with(mut self, change: impl FnOnce(&mut Recorder)) -> Self {
        if let Some(shared) = self.recorder.take() {
            let mut recorder = Arc::try_unwrap(shared).unwrap_or_else(|shared| shared.copy());
            change(&mut recorder);
            self.recorder = Some(Arc::new(recorder));
        }
        self
    }
}

impl<S> Layer<S> for DeadLetterLayer {
    type Service = DeadLetterService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        DeadLetterService::optional(inner, self.recorder.clone())
    }
}
