//! The dead letter: what a failed or unknown call sent, what came back, and where it stands.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::classify::Applied;
use crate::redact::Redactor;

/// A dead letter's id: a UUID v7, so ids sort by creation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LetterId(uuid::Uuid);

impl LetterId {
    /// A fresh id (UUID v7).
    #[must_use]
    pub fn new() -> Self {
        Self(uuid::Uuid::now_v7())
    }

    /// The id as a UUID.
    #[must_use]
    pub fn as_uuid(&self) -> &uuid::Uuid {
        &self.0
    }
}

impl Default for LetterId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for LetterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for LetterId {
    type Err = uuid::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        uuid::Uuid::parse_str(s).map(Self)
    }
}

/// Whether the server may have acted on the call a letter records.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LetterOutcome {
    /// The server provably did not act: safe to send again.
    NotApplied,
    /// The server may have acted: replayed only once a verifier or a person says it did not.
    Unknown,
}

impl LetterOutcome {
    /// The name used in files and filters: `not_applied` or `unknown`.
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::NotApplied => "not_applied",
            Self::Unknown => "unknown",
        }
    }
}

impl From<Applied> for LetterOutcome {
    fn from(applied: Applied) -> Self {
        match applied {
            Applied::NotApplied => Self::NotApplied,
            Applied::MaybeApplied => Self::Unknown,
        }
    }
}

/// Where a letter stands.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum LetterState {
    /// Recorded, waiting for a person or a job.
    Pending,
    /// A replayer claimed it; another may take it over after `until`.
    Replaying {
        /// Who claimed it.
        by: String,
        /// When the claim runs out (a replayer that crashed leaves it).
        #[serde(with = "humantime_serde")]
        until: SystemTime,
    },
    /// A replay succeeded, or a verifier found the call applied.
    Resolved,
    /// A replay failed too; its attempts are appended to the letter.
    FailedAgain,
    /// Someone decided it needs no replay.
    Discarded {
        /// Why, in the words of whoever discarded it.
        reason: String,
    },
}

impl LetterState {
    /// The state's name: `pending`, `replaying`, `resolved`, `failed_again`, `discarded`.
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Replaying { .. } => "replaying",
            Self::Resolved => "resolved",
            Self::FailedAgain => "failed_again",
            Self::Discarded { .. } => "discarded",
        }
    }

    /// Whether the letter is done with: resolved or discarded.
    #[must_use]
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Resolved | Self::Discarded { .. })
    }
}

/// The request's body as the letter keeps it.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum LetterBody {
    /// The request had no body.
    Empty,
    /// A UTF-8 body, kept whole for replay.
    Text(String),
    /// A body that is not UTF-8, kept whole for replay.
    Binary(Vec<u8>),
    /// A body larger than the cap: the letter cannot be replayed.
    TooLarge {
        /// The body's length in bytes.
        len: u64,
    },
    /// A streaming body, sent once and not kept: the letter cannot be replayed.
    Streamed,
}

impl LetterBody {
    /// Whether a replay can send this body again.
    #[must_use]
    pub fn is_replayable(&self) -> bool {
        matches!(self, Self::Empty | Self::Text(_) | Self::Binary(_))
    }

    /// The bytes to send again, when the body is kept.
    #[must_use]
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Self::Text(text) => Some(text.as_bytes()),
            Self::Binary(bytes) => Some(bytes),
            _ => None,
        }
    }

    pub(crate) fn from_bytes(bytes: &[u8]) -> Self {
        if bytes.is_empty() {
            return Self::Empty;
        }
        match std::str::from_utf8(bytes) {
            Ok(text) => Self::Text(text.to_owned()),
            Err(_) => Self::Binary(bytes.to_vec()),
        }
    }
}

/// The request as sent, minus credentials and sensitive headers.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LetterRequest {
    /// The method, `POST` say.
    pub method: String,
    /// The URL, without userinfo (query kept: the replay needs it; shown redacted).
    pub url: String,
    /// Headers as sent, in order, without credentials and sensitive headers (dropped, not
    /// masked: the client applies its credentials again at replay). Values that are not
    /// text are left out.
    pub headers: Vec<(String, String)>,
    /// The body, when it can be replayed.
    pub body: LetterBody,
}

/// One attempt of the call: its classification, status and timing.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LetterAttempt {
    /// The verdict: `transient`, `throttled`, `permanent` or `success`.
    pub verdict: String,
    /// Why, as the classifier put it (`status 503 Service Unavailable`, `timed out`).
    pub reason: String,
    /// Whether the server may have acted on this attempt.
    pub outcome: LetterOutcome,
    /// The response's status, when the attempt got one.
    pub status: Option<u16>,
    /// When the attempt started.
    #[serde(with = "humantime_serde")]
    pub started: SystemTime,
    /// How long it took.
    #[serde(with = "humantime_serde")]
    pub duration: Duration,
    /// Whether it was sent by a replay rather than by the original call.
    #[serde(default)]
    pub replay: bool,
}

/// The last response of the call, bounded and redacted (it is not needed for replay).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LetterResponse {
    /// The status code.
    pub status: u16,
    /// Headers, sensitive ones dropped, the others scrubbed by the redactor.
    pub headers: Vec<(String, String)>,
    /// The start of the body, redacted and capped; `None` when it could not be read in time.
    pub body: Option<String>,
}

/// A call that ended not applied after its retries, or with its outcome unknown, with what
/// it takes to understand it and to send it again.
///
/// The stored request keeps what replay needs (URL with its query, body); what a person
/// sees goes through the redactor: [`redacted`](Self::redacted), `Display` and `Debug`.
#[non_exhaustive]
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The letter's id (UUID v7).
    pub id: LetterId,
    /// When the call failed and the letter was made.
    #[serde(with = "humantime_serde")]
    pub created: SystemTime,
    /// When the letter last changed.
    #[serde(with = "humantime_serde")]
    pub updated: SystemTime,
    /// The request as sent, without credentials.
    pub request: LetterRequest,
    /// The call's idempotency key; a replay sends it again.
    pub idempotency_key: Option<String>,
    /// Whether the server may have acted.
    pub outcome: LetterOutcome,
    /// Set once a verifier or a person established that the call was not applied (an
    /// unknown letter may be replayed from then on).
    #[serde(default)]
    pub confirmed_not_applied: bool,
    /// Every attempt, the original call's then each replay's.
    pub attempts: Vec<LetterAttempt>,
    /// The last response, when the call ended on one.
    pub response: Option<LetterResponse>,
    /// The error's message (it shows no secret: see [`Error`](crate::Error)).
    pub error: String,
    /// Where the letter stands.
    pub state: LetterState,
    /// How many replays were sent.
    #[serde(default)]
    pub replays: u32,
}

impl DeadLetter {
    /// The host the call went to, when its URL parses.
    #[must_use]
    pub fn host(&self) -> Option<String> {
        reqwest::Url::parse(&self.request.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
    }

    /// The last response's status, when the call ended on one.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        self.response
            .as_ref()
            .map(|r| r.status)
            .or_else(|| self.attempts.iter().rev().find_map(|a| a.status))
    }

    /// Whether a replay can send the request again (its body was kept).
    #[must_use]
    pub fn is_replayable(&self) -> bool {
        self.request.body.is_replayable()
    }

    /// A copy for people to see: URL and header values through `redactor`, the body
    /// rendered by [`Redactor::body`] (so it is no longer replayable), the response as
    /// stored (already redacted).
    #[must_use]
    pub fn redacted(&self, redactor: &Redactor) -> Self {
        let mut shown = self.clone();
        if let Ok(url) = reqwest::Url::parse(&self.request.url) {
            shown.request.url = redactor.url(&url).to_string();
        }
        shown.request.headers = redact_pairs(redactor, &self.request.headers);
        if let Some(bytes) = self.request.body.as_bytes() {
            shown.request.body = LetterBody::Text(redactor.body(bytes, SHOWN_BODY));
        }
        if let Some(response) = &mut shown.response {
            response.headers = redact_pairs(redactor, &response.headers);
        }
        shown.error = redactor.text(&self.error).into_owned();
        shown
    }
}

/// The most bytes of a request body a redacted view shows.
const SHOWN_BODY: usize = 4096;

/// `pairs` with every value scrubbed (or masked) as the redactor shows header values.
pub(crate) fn redact_pairs(
    redactor: &Redactor,
    pairs: &[(String, String)],
) -> Vec<(String, String)> {
    pairs
        .iter()
        .filter_map(|(name, value)| {
            let name_h = reqwest::header::HeaderName::try_from(name.as_str()).ok()?;
            let value_h = reqwest::header::HeaderValue::try_from(value.as_str()).ok()?;
            let shown = redactor.header_value(&name_h, &value_h)?;
            Some((name.clone(), shown.into_owned()))
        })
        .collect()
}

impl fmt::Display for DeadLetter {
    /// One line: id, state, outcome, method, redacted URL, status, attempts.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redactor = Redactor::shared_default();
        write!(
            f,
            "dead letter {} ({}, {}): {} ",
            self.id,
            self.state.as_str(),
            self.outcome.as_str(),
            self.request.method
        )?;
        match reqwest::Url::parse(&self.request.url) {
            Ok(url) => write!(f, "{}", redactor.url(&url))?,
            Err(_) => f.write_str("(invalid URL)")?,
        }
        if let Some(status) = self.status() {
            write!(f, " status {status}")?;
        }
        write!(f, " after {} attempt(s)", self.attempts.len())
    }
}

impl fmt::Debug for DeadLetter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Redacted: the stored URL and body may hold secrets.
        let shown = self.redacted(Redactor::shared_default());
        f.debug_struct("DeadLetter")
            .field("id", &shown.id)
            .field("state", &shown.state)
            .field("outcome", &shown.outcome)
            .field("method", &shown.request.method)
            .field("url", &shown.request.url)
            .field("idempotency_key", &shown.idempotency_key)
            .field("attempts", &shown.attempts.len())
            .field("status", &shown.status())
            .field("error", &shown.error)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A pending letter for a POST, with a body and a key.
    pub(crate) fn letter() -> DeadLetter {
        let now = SystemTime::now();
        DeadLetter {
            id: LetterId::new(),
            created: now,
            updated: now,
            request: LetterRequest {
                method: "POST".into(),
                url: "https://billing.example.com/invoices?token=s3cret".into(),
                headers: vec![("content-type".into(), "application/json".into())],
                body: LetterBody::from_bytes(br#"{"amount":12,"password":"hunter2"}"#),
            },
            idempotency_key: Some("inv-1".into()),
            outcome: LetterOutcome::NotApplied,
            confirmed_not_applied: false,
            attempts: Vec::new(),
            response: Some(LetterResponse {
                status: 503,
                headers: Vec::new(),
                body: None,
            }),
            error: "POST billing.example.com failed".into(),
            state: LetterState::Pending,
            replays: 0,
        }
    }

    #[test]
    fn what_people_see_is_redacted_and_the_store_keeps_the_replay() {
        let l = letter();
        let shown = format!("{l} {l:?} {:?}", l.redacted(&Redactor::default()));
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(l.request.body.as_bytes().map(<[u8]>::len), Some(34));
        let json = serde_json::to_string(&l).expect("encodes");
        let back: DeadLetter = serde_json::from_str(&json).expect("decodes");
        assert_eq!(back, l);
        assert_eq!(l.host().as_deref(), Some("billing.example.com"));
        assert_eq!(l.status(), Some(503));
    }
}
