//! What a letter keeps of a request (taken before it is sent) and of the call's end.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::BodyExt as _;
use reqwest::header::HeaderMap;
use reqwest::{Method, Request, Response, Url};
use tokio::time::Instant;

use super::record::{LetterAttempt, LetterBody, LetterRequest, LetterResponse};
use super::{DeadLetter, LetterId, LetterOutcome, LetterState};
use crate::body::{Prefixed, Tail, join, split};
use crate::error::Error;
use crate::redact::Redactor;
use crate::telemetry::AttemptEntry;

/// The request as the caller handed it to the layer: enough to make a letter if the call
/// fails. Cheap for a call that succeeds: the URL, the headers and a body up to
/// [`COPIED_BODY`] are packed into one buffer (one allocation, one free); a larger body is
/// shared, not copied.
pub(crate) struct Captured {
    pub(crate) method: Method,
    /// The URL, then each header (a flag byte, the name's and the value's lengths, the name
    /// and the value), then an inline body.
    packed: Vec<u8>,
    url_end: usize,
    headers_end: usize,
    body: CapturedBody,
}

enum CapturedBody {
    Empty,
    /// The body is the end of `packed`.
    Inline,
    /// A larger buffered body, shared rather than copied until a letter needs it.
    Shared(reqwest::Body),
    TooLarge(u64),
    Streamed,
}

/// The largest body copied at once rather than shared.
const COPIED_BODY: usize = 1024;

/// The bytes before a header's name and value: a flag and the two lengths.
const HEADER_HEAD: usize = 1 + 2 + 4;

impl Captured {
    #[inline]
    pub(crate) fn of(request: &Request, max_body: usize) -> Self {
        let (body, inline) = match request.body().map(reqwest::Body::as_bytes) {
            None => (CapturedBody::Empty, &[][..]),
            Some(Some(bytes)) if bytes.len() > max_body => (
                CapturedBody::TooLarge(u64::try_from(bytes.len()).unwrap_or(u64::MAX)),
                &[][..],
            ),
            Some(Some(bytes)) if bytes.len() <= COPIED_BODY => (CapturedBody::Inline, bytes),
            Some(Some(_)) => (
                request
                    .try_clone()
                    .and_then(|mut copy| copy.body_mut().take())
                    .map_or(CapturedBody::Streamed, CapturedBody::Shared),
                &[][..],
            ),
            Some(None) => (CapturedBody::Streamed, &[][..]),
        };
        let url = request.url().as_str().as_bytes();
        let headers = request.headers();
        let header_bytes: usize = headers
            .iter()
            .map(|(n, v)| HEADER_HEAD + n.as_str().len() + v.len())
            .sum();
        let mut packed = Vec::with_capacity(url.len() + header_bytes + inline.len());
        packed.extend_from_slice(url);
        let url_end = packed.len();
        for (name, value) in headers {
            let (name, sensitive, value) = (
                name.as_str().as_bytes(),
                value.is_sensitive(),
                value.as_bytes(),
            );
            // Header names are short and values within hyper's limits; longer ones are not kept.
            let (Ok(name_len), Ok(value_len)) =
                (u16::try_from(name.len()), u32::try_from(value.len()))
            else {
                continue;
            };
            packed.push(u8::from(sensitive));
            packed.extend_from_slice(&name_len.to_le_bytes());
            packed.extend_from_slice(&value_len.to_le_bytes());
            packed.extend_from_slice(name);
            packed.extend_from_slice(value);
        }
        let headers_end = packed.len();
        packed.extend_from_slice(inline);
        Self {
            method: request.method().clone(),
            packed,
            url_end,
            headers_end,
            body,
        }
    }

    /// Nothing of the request but its method, when no layer below handed it back and none
    /// was copied (a stack below that stopped handing it back): the letter still records
    /// the failure, cannot be replayed, and the loss is logged at ERROR.
    pub(crate) fn lost(method: Method) -> Self {
        tracing::error!(
            target: "steadfast",
            { "http.request.method" = method.as_str() },
            "dead letter without its request: no layer below handed it back"
        );
        Self {
            method,
            packed: Vec::new(),
            url_end: 0,
            headers_end: 0,
            body: CapturedBody::Streamed,
        }
    }

    /// The headers packed: name, value, and whether reqwest marked the value sensitive.
    fn headers(&self) -> impl Iterator<Item = (&[u8], &[u8], bool)> {
        let mut rest = &self.packed[self.url_end..self.headers_end];
        std::iter::from_fn(move || {
            let (head, tail) = rest.split_at_checked(HEADER_HEAD)?;
            let name_len = usize::from(u16::from_le_bytes([head[1], head[2]]));
            let value_len =
                usize::try_from(u32::from_le_bytes([head[3], head[4], head[5], head[6]])).ok()?;
            let (name, tail) = tail.split_at_checked(name_len)?;
            let (value, tail) = tail.split_at_checked(value_len)?;
            rest = tail;
            Some((name, value, head[0] == 1))
        })
    }

    /// The request part of a letter: credentials and sensitive headers dropped.
    fn into_letter_request(self, redactor: &Redactor) -> LetterRequest {
        let headers = self
            .headers()
            .filter(|(_, _, sensitive)| !sensitive)
            .filter_map(|(name, value, _)| {
                let name = reqwest::header::HeaderName::from_bytes(name).ok()?;
                let value = std::str::from_utf8(value).ok()?;
                (!redactor.is_sensitive_header(&name))
                    .then(|| (name.as_str().to_owned(), value.to_owned()))
            })
            .collect();
        let body = match &self.body {
            CapturedBody::Empty => LetterBody::Empty,
            CapturedBody::Inline => LetterBody::from_bytes(&self.packed[self.headers_end..]),
            CapturedBody::Shared(body) => body
                .as_bytes()
                .map_or(LetterBody::Streamed, LetterBody::from_bytes),
            CapturedBody::TooLarge(len) => LetterBody::TooLarge { len: *len },
            CapturedBody::Streamed => LetterBody::Streamed,
        };
        let text = String::from_utf8_lossy(&self.packed[..self.url_end]);
        let url = match Url::parse(&text) {
            Ok(mut url) => {
                // Userinfo is a credential; the client's own credentials are applied at replay.
                let _ = url.set_username("");
                let _ = url.set_password(None);
                url.to_string()
            }
            Err(_) => text.into_owned(),
        };
        LetterRequest {
            method: self.method.to_string(),
            url,
            headers,
            body,
        }
    }
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

/// A letter for one record a server rejected inside a successful bulk response:
/// `request` is the bulk call with that record alone, so the letter replays it (not
/// applied: the server said so for this record).
pub(crate) fn rejected_record(
    request: &Request,
    reason: &str,
    status: reqwest::StatusCode,
    recorder: &super::recorder::Recorder,
) -> DeadLetter {
    let now = SystemTime::now();
    let redactor = &recorder.redactor;
    let captured = Captured::of(request, recorder.config.max_body_bytes);
    DeadLetter {
        id: LetterId::new(),
        created: now,
        updated: now,
        request: captured.into_letter_request(redactor),
        // Not the bulk call's key: this is another request (one record), and the ledger
        // would refuse a key reused with another body. A replay gets a key of its own.
        idempotency_key: None,
        outcome: LetterOutcome::NotApplied,
        confirmed_not_applied: false,
        attempts: Vec::new(),
        response: None,
        // The server's text may quote the record: shown through the redactor.
        error: redactor
            .text(&format!(
                "record rejected inside a {status} bulk response: {reason}"
            ))
            .into_owned(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_captured_request_unpacks_without_its_credentials() {
        let url = "https://ada:pw@billing.example.com/invoices?page=2";
        let mut request = Request::new(Method::POST, url.parse().expect("a URL"));
        let headers = request.headers_mut();
        headers.insert("content-type", "application/json".parse().expect("a value"));
        headers.insert("x-api-key", "k-1".parse().expect("a value"));
        let mut token: reqwest::header::HeaderValue = "Bearer t".parse().expect("a value");
        token.set_sensitive(true);
        headers.insert("x-upstream", token);
        headers.append("accept", "text/plain".parse().expect("a value"));
        headers.append("accept", "application/json".parse().expect("a value"));
        *request.body_mut() = Some(reqwest::Body::from(r#"{"total":1}"#));
        let letter = Captured::of(&request, 1024).into_letter_request(&Redactor::default());
        assert_eq!(letter.url, "https://billing.example.com/invoices?page=2");
        assert_eq!(
            letter.headers,
            [
                ("content-type".to_owned(), "application/json".to_owned()),
                ("accept".to_owned(), "text/plain".to_owned()),
                ("accept".to_owned(), "application/json".to_owned()),
            ]
        );
        assert_eq!(letter.body, LetterBody::Text(r#"{"total":1}"#.to_owned()));

        let big = "x".repeat(2000);
        *request.body_mut() = Some(reqwest::Body::from(big.clone()));
        let shared = Captured::of(&request, 4096).into_letter_request(&Redactor::default());
        assert_eq!(shared.body, LetterBody::Text(big));
        let capped = Captured::of(&request, 1000).into_letter_request(&Redactor::default());
        assert_eq!(capped.body, LetterBody::TooLarge { len: 2000 });
    }
}
