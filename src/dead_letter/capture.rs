//! What a letter keeps of a request (taken before it is sent) and of the call's end.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::BodyExt as _;
use reqwest::header::HeaderMap;
use reqwest::{Method, Request, Response, Url};
use tokio::time::Instant;

use super::record::{LetterAttempt, LetterBody, LetterRequest, LetterResponse};
use super::{DeadLetter, LetterId, LetterState};
use crate::body::{Prefixed, Tail, join, split};
use crate::error::Error;
use crate::redact::Redactor;
use crate::telemetry::AttemptEntry;

/// The request as the caller handed it to the layer: enough to make a letter if the call
/// fails. Cheap for a call that succeeds: the URL and headers are cloned, a small body
/// copied, a larger one shared.
pub(crate) struct Captured {
    pub(crate) method: Method,
    url: Url,
    headers: HeaderMap,
    body: CapturedBody,
}

enum CapturedBody {
    Empty,
    Bytes(Bytes),
    /// A larger buffered body, shared rather than copied until a letter needs it.
    Shared(reqwest::Body),
    TooLarge(u64),
    Streamed,
}

/// The largest body copied at once rather than shared.
const COPIED_BODY: usize = 1024;

impl Captured {
    #[inline]
    pub(crate) fn of(request: &Request, max_body: usize) -> Self {
        let body = match request.body().map(reqwest::Body::as_bytes) {
            None => CapturedBody::Empty,
            Some(Some(bytes)) if bytes.len() > max_body => {
                CapturedBody::TooLarge(u64::try_from(bytes.len()).unwrap_or(u64::MAX))
            }
            Some(Some(bytes)) if bytes.len() <= COPIED_BODY => {
                CapturedBody::Bytes(Bytes::copy_from_slice(bytes))
            }
            Some(Some(_)) => request
                .try_clone()
                .and_then(|mut copy| copy.body_mut().take())
                .map_or(CapturedBody::Streamed, CapturedBody::Shared),
            Some(None) => CapturedBody::Streamed,
        };
        Self {
            method: request.method().clone(),
            url: request.url().clone(),
            headers: if request.headers().is_empty() {
                HeaderMap::new()
            } else {
                request.headers().clone()
            },
            body,
        }
    }

    /// The request part of a letter: credentials and sensitive headers dropped.
    fn into_letter_request(self, redactor: &Redactor) -> LetterRequest {
        let headers = kept_headers(&self.headers, redactor);
        let body = match &self.body {
            CapturedBody::Empty => LetterBody::Empty,
            CapturedBody::Bytes(bytes) => LetterBody::from_bytes(bytes),
            CapturedBody::Shared(body) => body
                .as_bytes()
                .map_or(LetterBody::Streamed, LetterBody::from_bytes),
            CapturedBody::TooLarge(len) => LetterBody::TooLarge { len: *len },
            CapturedBody::Streamed => LetterBody::Streamed,
        };
        let mut url = self.url;
        // Userinfo is a credential; the client's own credentials are applied at replay.
        let _ = url.set_username("");
        let _ = url.set_password(None);
        LetterRequest {
            method: self.method.to_string(),
            url: url.to_string(),
            headers,
            body,
        }
    }
}

/// The headers a letter keeps: every one that is text and not sensitive (by name, as the
/// redactor lists them, or marked sensitive by reqwest).
pub(crate) fn kept_headers(headers: &HeaderMap, redactor: &Redactor) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, value)| !value.is_sensitive() && !redactor.is_sensitive_header(name))
        .filter_map(|(name, value)| {
            Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
        })
        .collect()
}

/// The attempts of a log, as a letter keeps them.
pub(crate) fn attempts(log: &[AttemptEntry], replay: bool) -> Vec<LetterAttempt> {
    let (now, system_now) = (Instant::now(), SystemTime::now());
    log.iter()
        .map(|entry| LetterAttempt {
            verdict: entry.classification.verdict().as_str().to_owned(),
            reason: entry.classification.reason().to_string(),
            outcome: entry.classification.applied().into(),
            status: entry.status.map(|s| s.as_u16()),
            started: system_now
                .checked_sub(now.saturating_duration_since(entry.started))
                .unwrap_or(system_now),
            duration: entry.elapsed,
            replay,
        })
        .collect()
}

/// What the error says of the attempts when no retry layer logged any: the call's one
/// ending, classified; its duration is the limit that cut it, when a timeout did (a call
/// that succeeds does not pay for reading the clock at its start).
pub(crate) fn ending_attempt(error: &Error, replay: bool) -> Vec<LetterAttempt> {
    let Some(classification) = error.classification() else {
        return Vec::new();
    };
    let elapsed = match error {
        Error::Timeout { elapsed, .. } => *elapsed,
        _ => Duration::ZERO,
    };
    let now = Instant::now();
    let entry = AttemptEntry {
        classification: classification.with_applied(error.outcome()),
        status: error.status(),
        started: now.checked_sub(elapsed).unwrap_or(now),
        elapsed,
    };
    attempts(&[entry], replay)
}

/// A new letter for the call that ended with `error`.
pub(crate) async fn letter(
    captured: Captured,
    error: &Error,
    log: Vec<AttemptEntry>,
    recorder: &super::recorder::Recorder,
) -> DeadLetter {
    let now = SystemTime::now();
    let mut attempts = attempts(&log, false);
    if attempts.is_empty() {
        attempts = ending_attempt(error, false);
    }
    let redactor = &recorder.redactor;
    DeadLetter {
        id: LetterId::new(),
        created: now,
        updated: now,
        request: captured.into_letter_request(redactor),
        idempotency_key: error.idempotency_key().map(str::to_owned),
        outcome: error.outcome().into(),
        confirmed_not_applied: false,
        attempts,
        response: last_response(error, &recorder.config, redactor).await,
        error: redactor.text(&error.to_string()).into_owned(),
        state: LetterState::Pending,
        replays: 0,
    }
}

/// The last response of a failed call, read bounded in bytes and time and put back whole
/// for the layers above and the caller.
pub(crate) async fn last_response(
    error: &Error,
    config: &super::DeadLetterConfig,
    redactor: &Redactor,
) -> Option<LetterResponse> {
    let failure = error.failure()?;
    let response = failure.take_response()?;
    let status = response.status().as_u16();
    let headers = shown_headers(response.headers(), redactor);
    let until = Instant::now() + config.response_read_timeout;
    let (response, body) = read_start(response, config.max_response_bytes, until).await;
    failure.put_response(response);
    Some(LetterResponse {
        status,
        headers,
        body: body.map(|b| redactor.body(&b, config.max_response_bytes)),
    })
}

/// Response headers for a letter: sensitive ones dropped, the others scrubbed.
fn shown_headers(headers: &HeaderMap, redactor: &Redactor) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, value)| !value.is_sensitive() && !redactor.is_sensitive_header(name))
        .filter_map(|(name, value)| {
            let shown = redactor.header_value(name, value)?;
            Some((name.as_str().to_owned(), shown.into_owned()))
        })
        .collect()
}

/// Reads at most `max` bytes (and one more) of `response`'s body until `until`; hands back
/// the same response with its whole body (what was read, then the rest or the read's
/// error) and what was read, `None` when nothing could be read in time.
async fn read_start(response: Response, max: usize, until: Instant) -> (Response, Option<Bytes>) {
    let (parts, mut body) = split(response);
    let mut head: Vec<Bytes> = Vec::new();
    let mut read = 0_usize;
    let outcome = tokio::time::timeout_at(until, async {
        while read <= max {
            match body.frame().await {
                None => return Ok(true),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        read += data.len();
                        head.push(data);
                    }
                }
                Some(Err(e)) => return Err(e),
            }
        }
        Ok(false)
    })
    .await;
    let mut prefix = Vec::with_capacity(read.min(max));
    for chunk in &head {
        let room = max.saturating_sub(prefix.len());
        prefix.extend_from_slice(&chunk[..chunk.len().min(room)]);
    }
    let (tail, shown) = match outcome {
        Ok(Ok(true)) => {
            let whole: Vec<u8> = head.iter().flat_map(|c| c.iter().copied()).collect();
            return (
                join(parts, reqwest::Body::from(whole)),
                Some(Bytes::from(prefix)),
            );
        }
        Ok(Ok(false)) => (Tail::Rest(body), Some(Bytes::from(prefix))),
        Ok(Err(e)) => (
            Tail::Error(e),
            (!prefix.is_empty()).then(|| Bytes::from(prefix)),
        ),
        Err(_late) => (
            Tail::Rest(body),
            (!prefix.is_empty()).then(|| Bytes::from(prefix)),
        ),
    };
    (
        join(parts, reqwest::Body::wrap(Prefixed::new(head, tail))),
        shown,
    )
}
