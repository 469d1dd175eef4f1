//! Sending a letter again: through the same client and stack, with its original key.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::SystemTime;

use bytes::Bytes;
use reqwest::header::{HeaderName, HeaderValue};
use reqwest::{Method, Request, Response, Url};

use super::capture::{attempts, ending_attempt, last_response};
use super::recorder::Recorder;
use super::sink::{Claim, SinkError};
use super::{DeadLetter, LetterId, LetterOutcome, LetterState};
use crate::error::Error;
use crate::key::KeyFormat;
use crate::verify::{Verification, VerifyRequest};

/// A boxed future, as the client hands them to the handle.
pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// What a replay needs of the client that made the letter (implemented by
/// [`Client`](crate::Client)): its stack, its ledger, its key header and its verifier.
pub(crate) trait Resend: Send + Sync + 'static {
    /// Sends `request` through the whole stack.
    fn send(&self, request: Request) -> BoxFuture<Result<Response, Error>>;
    /// Frees `key` in the idempotency ledger as not applied.
    fn resolve_not_applied(
        &self,
        method: Method,
        url: Url,
        key: String,
    ) -> BoxFuture<Result<bool, Error>>;
    /// The idempotency key header and its format.
    fn key_header(&self) -> (HeaderName, KeyFormat);
    /// Asks the client's verifier about `request` (bounded by its verify timeout); `None`
    /// when the client has none.
    fn verify(&self, request: VerifyRequest) -> Option<BoxFuture<Verification>>;
}

tokio::task_local! {
    /// Set around a replay's call: the layer then records nothing (the replay updates the
    /// original letter) and the retry layer logs attempts into the replay's log.
    static REPLAYING: ();
}

/// Whether the call being made is a replay.
pub(crate) fn in_replay() -> bool {
    REPLAYING.try_with(|()| ()).is_ok()
}

/// What a replay did.
#[non_exhaustive]
pub enum Replayed {
    /// The call went through (or a verifier found it applied); the letter is resolved.
    Resolved {
        /// The letter as now stored.
        letter: Box<DeadLetter>,
        /// The response: the replay's, or what the verifier found.
        response: Box<Response>,
    },
    /// The replay failed as well; its attempts are appended to the letter.
    FailedAgain {
        /// The letter as now stored.
        letter: Box<DeadLetter>,
        /// The replay's error.
        error: Box<Error>,
    },
    /// The letter was resolved before: nothing was sent.
    AlreadyResolved {
        /// The letter as stored.
        letter: Box<DeadLetter>,
    },
}

impl Replayed {
    /// The letter as it stands after the replay.
    #[must_use]
    pub fn letter(&self) -> &DeadLetter {
        match self {
            Self::Resolved { letter, .. }
            | Self::FailedAgain { letter, .. }
            | Self::AlreadyResolved { letter } => letter,
        }
    }
}

impl fmt::Debug for Replayed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // No `Response` debug: it prints the URL whole.
        match self {
            Self::Resolved { letter, response } => f
                .debug_struct("Resolved")
                .field("letter", letter)
                .field("status", &response.status())
                .finish(),
            Self::FailedAgain { letter, error } => f
                .debug_struct("FailedAgain")
                .field("letter", letter)
                .field("error", error)
                .finish(),
            Self::AlreadyResolved { letter } => f
                .debug_struct("AlreadyResolved")
                .field("letter", letter)
                .finish(),
        }
    }
}

/// Why a letter was not replayed; in every case nothing was sent.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// No letter has this id.
    #[error("no dead letter {0}")]
    NotFound(LetterId),
    /// The letter was discarded.
    #[error("dead letter {0} was discarded; nothing was sent")]
    Discarded(LetterId),
    /// Another replayer holds the letter.
    #[error("dead letter {id} is being replayed by {by}; nothing was sent")]
    #[non_exhaustive]
    Held {
        /// The letter.
        id: LetterId,
        /// Who holds it.
        by: String,
    },
    /// The call may have been applied and no verifier or person said it was not.
    #[error(
        "the outcome of dead letter {0} is unknown: check with the server and confirm it was \
         not applied (or configure a verifier); nothing was sent"
    )]
    OutcomeUnknown(LetterId),
    /// The letter's body was not kept (too large, or a stream).
    #[error("dead letter {0} cannot be replayed: its body was not kept; nothing was sent")]
    NotReplayable(LetterId),
    /// The letter's method, URL or headers no longer make a request.
    #[error("dead letter {0} does not make a valid request; nothing was sent")]
    Invalid(LetterId),
    /// The confirmation could not be written to the idempotency ledger.
    #[error("the idempotency ledger could not be updated for dead letter {id}")]
    #[non_exhaustive]
    Ledger {
        /// The letter.
        id: LetterId,
        /// The ledger's error.
        #[source]
        source: Box<Error>,
    },
    /// The sink failed.
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// The client has no dead letters configured.
    #[error("this client keeps no dead letters")]
    Disabled,
}

/// A replay of the letter with `id`, start to end.
pub(crate) async fn replay(
    recorder: &Recorder,
    client: &dyn Resend,
    id: LetterId,
) -> Result<Replayed, ReplayError> {
    let mut letter = recorder
        .sink
        .get(id)
        .await?
        .ok_or(ReplayError::NotFound(id))?;
    match &letter.state {
        LetterState::Resolved => return Ok(already(letter)),
        LetterState::Discarded { .. } => return Err(ReplayError::Discarded(id)),
        _ => {}
    }
    if !letter.is_replayable() {
        return Err(ReplayError::NotReplayable(id));
    }
    let (method, url) = target(&letter)?;
    if letter.outcome == LetterOutcome::Unknown
        && !letter.confirmed_not_applied
        && let Some(found) = verify(recorder, client, &mut letter, &method, &url).await?
    {
        return Ok(found);
    }
    let confirmed = letter.confirmed_not_applied;
    letter = match claimed(recorder, id).await? {
        Ok(letter) => letter,
        Err(resolved) => return Ok(already(resolved)),
    };
    letter.confirmed_not_applied |= confirmed;
    let request = request(&letter, client, method, url)?;
    let mut call = std::pin::pin!(crate::telemetry::with_attempt_log(
        REPLAYING.scope((), client.send(request))
    ));
    let result = call.as_mut().await;
    let log = call.as_mut().take_log();
    letter.replays += 1;
    letter.updated = SystemTime::now();
    let mut sent = attempts(&log.attempts, true);
    Ok(match result {
        Ok(response) => {
            letter.attempts.append(&mut sent);
            letter.state = LetterState::Resolved;
            save(recorder, &letter).await;
            crate::metrics::dead_letter_replayed("resolved");
            Replayed::Resolved {
                letter: Box::new(letter),
                response: Box::new(response),
            }
        }
        Err(error) => {
            if sent.is_empty() {
                sent = ending_attempt(&error, true);
            }
            letter.attempts.append(&mut sent);
            letter.state = LetterState::FailedAgain;
            if error.outcome().is_maybe_applied() {
                // This replay may have acted: check again before the next one.
                letter.outcome = LetterOutcome::Unknown;
                letter.confirmed_not_applied = false;
            }
            letter.error = recorder.redactor.text(&error.to_string()).into_owned();
            if let Some(response) =
                last_response(&error, &recorder.config, &recorder.redactor).await
            {
                letter.response = Some(response);
            }
            save(recorder, &letter).await;
            crate::metrics::dead_letter_replayed("failed_again");
            Replayed::FailedAgain {
                letter: Box::new(letter),
                error: Box::new(error),
            }
        }
    })
}

/// Asks the client's verifier about an unknown letter: `Some` when it found the call
/// applied (the letter is resolved, nothing sent), `None` when it found it not applied (the
/// key is freed and the letter marked confirmed), else an error.
async fn verify(
    recorder: &Recorder,
    client: &dyn Resend,
    letter: &mut DeadLetter,
    method: &Method,
    url: &Url,
) -> Result<Option<Replayed>, ReplayError> {
    let id = letter.id;
    let body = letter.request.body.as_bytes().map(Bytes::copy_from_slice);
    let asked = VerifyRequest::new(
        method.clone(),
        url.clone(),
        letter.idempotency_key.clone(),
        body,
    );
    let Some(answer) = client.verify(asked) else {
        return Err(ReplayError::OutcomeUnknown(id));
    };
    match answer.await {
        Verification::Applied(response) => {
            let mut resolved = match claimed(recorder, id).await? {
                Ok(letter) => letter,
                Err(resolved) => return Ok(Some(already(resolved))),
            };
            resolved.state = LetterState::Resolved;
            resolved.updated = SystemTime::now();
            save(recorder, &resolved).await;
            Ok(Some(Replayed::Resolved {
                letter: Box::new(resolved),
                response: Box::new(response),
            }))
        }
        Verification::NotApplied => {
            resolve_key(client, id, method, url, letter.idempotency_key.as_deref()).await?;
            letter.confirmed_not_applied = true;
            Ok(None)
        }
        _ => Err(ReplayError::OutcomeUnknown(id)),
    }
}

/// The answer for a letter resolved before: nothing sent.
fn already(letter: DeadLetter) -> Replayed {
    Replayed::AlreadyResolved {
        letter: Box::new(letter),
    }
}

/// Claims the letter for this process (`Ok(Ok(letter))`), finds it resolved meanwhile
/// (`Ok(Err(letter))`), or says why not.
async fn claimed(
    recorder: &Recorder,
    id: LetterId,
) -> Result<Result<DeadLetter, DeadLetter>, ReplayError> {
    let lease = recorder.config.replay_lease;
    match recorder.sink.claim(id, &recorder.claimant, lease).await? {
        Claim::Claimed(letter) => Ok(Ok(letter)),
        Claim::Held(letter) => Err(ReplayError::Held {
            id,
            by: match letter.state {
                LetterState::Replaying { by, .. } => by,
                _ => String::new(),
            },
        }),
        // A replay that finished between the look and the claim.
        Claim::Final(letter) if letter.state == LetterState::Resolved => Ok(Err(letter)),
        Claim::Final(_) => Err(ReplayError::Discarded(id)),
        Claim::NotFound => Err(ReplayError::NotFound(id)),
    }
}

/// Stores the letter after a replay; a failure is logged and counted (the replay happened).
async fn save(recorder: &Recorder, letter: &DeadLetter) {
    if let Err(e) = recorder.sink.store(letter).await {
        recorder.sink_failed(letter, &e);
    }
}

/// Frees the letter's key in the ledger as not applied, when it has one.
pub(crate) async fn resolve_key(
    client: &dyn Resend,
    id: LetterId,
    method: &Method,
    url: &Url,
    key: Option<&str>,
) -> Result<(), ReplayError> {
    let Some(key) = key else {
        return Ok(());
    };
    client
        .resolve_not_applied(method.clone(), url.clone(), key.to_owned())
        .await
        .map(|_| ())
        .map_err(|e| ReplayError::Ledger {
            id,
            source: Box::new(e),
        })
}

/// The letter's method and URL.
pub(crate) fn target(letter: &DeadLetter) -> Result<(Method, Url), ReplayError> {
    let method = Method::from_bytes(letter.request.method.as_bytes())
        .map_err(|_| ReplayError::Invalid(letter.id))?;
    let url = Url::parse(&letter.request.url).map_err(|_| ReplayError::Invalid(letter.id))?;
    Ok((method, url))
}

/// The request to send again: the kept headers, the original key, the kept body.
fn request(
    letter: &DeadLetter,
    client: &dyn Resend,
    method: Method,
    url: Url,
) -> Result<Request, ReplayError> {
    let invalid = || ReplayError::Invalid(letter.id);
    let mut request = Request::new(method, url);
    for (name, value) in &letter.request.headers {
        let name = HeaderName::try_from(name.as_str()).map_err(|_| invalid())?;
        let value = HeaderValue::try_from(value.as_str()).map_err(|_| invalid())?;
        request.headers_mut().append(name, value);
    }
    if let Some(key) = &letter.idempotency_key {
        let (header, format) = client.key_header();
        let encoded = format.encode(key).ok_or_else(invalid)?;
        let value = HeaderValue::try_from(encoded).map_err(|_| invalid())?;
        request.headers_mut().insert(header, value);
    }
    if let Some(body) = letter.request.body.as_bytes() {
        *request.body_mut() = Some(reqwest::Body::from(Bytes::copy_from_slice(body)));
    }
    Ok(request)
}
