use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use super::{Classification, Classify, Outcome, Reason, Verdict};
use crate::hints::RateLimitHeaders;

type ResponseRule = Arc<dyn Fn(&reqwest::Response) -> Option<Classification> + Send + Sync>;
type ErrorRule = Arc<dyn Fn(&(dyn StdError + 'static)) -> Option<Classification> + Send + Sync>;

/// The classification table of the crate, with optional per-API overrides.
///
/// | outcome | verdict | applied |
/// |---|---|---|
/// | 1xx, 2xx, 3xx | `Success` | maybe (it was) |
/// | 408 | `Transient` | not applied |
/// | 500, 502, 504, any other 5xx but 501 and 505 | `Transient` | maybe |
/// | 503 without rate-limit signals | `Transient` | not applied |
/// | 429; 503 and 403 with rate-limit signals | `Throttled { retry_after }` | not applied |
/// | other 4xx | `Permanent` (401 and 403 need a human: [`Classification::needs_attention`]) | not applied |
/// | 501, 505 | `Permanent` | maybe |
/// | connect error (refused, DNS, TLS handshake) | `Transient` | not applied |
/// | timeout, reset, connection closed early, other send errors | `Transient` | maybe |
/// | invalid request | `Permanent` | not applied |
/// | redirect loop, body decode error, response head too large, unknown error | `Permanent` | maybe |
///
/// Rate-limit signals are a valid `Retry-After` (however long), or a quota reported spent by
/// the IETF `RateLimit` field, `RateLimit-Remaining` or `X-RateLimit-Remaining` (read by
/// [`RateLimitHeaders`], the parser the rate limiter uses). The `retry_after` of a throttled
/// verdict is the wait `Retry-After` names when present, else the quota's reset; a wait
/// too long for the system clock is `Duration::MAX`. It is not bounded here: the retry
/// layer checks it against `max_retry_after`.
///
/// Errors are recognised by walking the `source()` chain and downcasting (`reqwest::Error`,
/// `hyper::Error`, `std::io::Error`, this crate's [`Error`](crate::Error)), never by
/// matching message text.
///
/// # Example
///
/// ```
/// use reqwest::StatusCode;
/// use steadfast::classify::{DefaultClassifier, Verdict};
///
/// // "409 is transient for this API"
/// let classifier = DefaultClassifier::builder()
///     .status(StatusCode::CONFLICT, Verdict::Transient)
///     .build();
/// # let _ = classifier;
/// ```
#[derive(Clone, Default)]
pub struct DefaultClassifier {
    statuses: Vec<(StatusCode, Verdict)>,
    response_rules: Vec<ResponseRule>,
    error_rules: Vec<ErrorRule>,
}

impl fmt::Debug for DefaultClassifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DefaultClassifier")
            .field("statuses", &self.statuses)
            .field("response_rules", &self.response_rules.len())
            .field("error_rules", &self.error_rules.len())
            .finish()
    }
}

impl DefaultClassifier {
    /// The default table, without overrides.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder for overrides on top of the default table.
    pub fn builder() -> DefaultClassifierBuilder {
        DefaultClassifierBuilder {
            inner: Self::default(),
        }
    }

    /// Classifies a response by the default table alone.
    #[must_use]
    pub fn classify_status(status: StatusCode, headers: &HeaderMap) -> Classification {
        let reason = Reason::Status(status);
        let code = status.as_u16();
        match code {
            100..=399 => Classification::success(reason),
            429 => Classification::throttled(rate_limit_hint(headers).1, reason),
            403 | 503 => match rate_limit_hint(headers) {
                (true, hint) => Classification::throttled(hint, reason),
                (false, _) if code == 503 => Classification::transient(reason),
                (false, _) => Classification::permanent(reason),
            },
            408 | 500 | 502..=504 => Classification::transient(reason),
            501 | 505 => Classification::permanent(reason),
            _ if code >= 500 => Classification::transient(reason),
            _ => Classification::permanent(reason),
        }
    }

    /// Classifies an error by walking its `source()` chain.
    #[must_use]
    pub fn classify_error(error: &(dyn StdError + 'static)) -> Classification {
        let mut current: Option<&(dyn StdError + 'static)> = Some(error);
        let mut fallback = None;
        while let Some(err) = current {
            if let Some(found) = classify_one(err, &mut fallback) {
                return found;
            }
            current = err.source();
        }
        fallback.unwrap_or_else(|| Classification::permanent(Reason::Unknown))
    }
}

/// Returns a definite classification for `err`, or records a weaker guess in `fallback` and
/// lets the walk continue to more specific causes.
fn classify_one(
    err: &(dyn StdError + 'static),
    fallback: &mut Option<Classification>,
) -> Option<Classification> {
    if let Some(own) = err.downcast_ref::<crate::Error>() {
        return own.classification();
    }
    if err.is::<tokio::time::error::Elapsed>() {
        return Some(Classification::transient(Reason::Timeout));
    }
    if let Some(e) = err.downcast_ref::<reqwest::Error>() {
        if e.is_builder() {
            return Some(Classification::permanent(Reason::InvalidRequest));
        }
        if e.is_connect() {
            return Some(Classification::transient(Reason::Connect));
        }
        if e.is_redirect() {
            return Some(Classification::permanent(Reason::Redirect));
        }
        if e.is_decode() {
            return Some(Classification::permanent(Reason::Decode));
        }
        if e.is_timeout() {
            return Some(Classification::transient(Reason::Timeout));
        }
        let guess = if e.is_body() {
            Reason::Body
        } else {
            Reason::Unknown
        };
        fallback.get_or_insert(Classification::transient(guess));
        return None;
    }
    if let Some(e) = err.downcast_ref::<hyper::Error>() {
        // A response head beyond hyper's limits stays too large on every attempt. hyper says
        // so structurally only through `is_parse_too_large`, which needs its `server`
        // feature (a client library should not pull in a server), so its text decides;
        // this runs on failed attempts only.
        if e.is_parse() && e.to_string().contains("too large") {
            return Some(Classification::permanent(Reason::InvalidResponse));
        }
        if e.is_incomplete_message() || e.is_canceled() || e.is_closed() {
            return Some(Classification::transient(Reason::ConnectionClosed));
        }
        if e.is_timeout() {
            return Some(Classification::transient(Reason::Timeout));
        }
        return None;
    }
    if let Some(e) = err.downcast_ref::<io::Error>() {
        return match e.kind() {
            io::ErrorKind::ConnectionRefused => Some(Classification::transient(Reason::Connect)),
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => Some(Classification::transient(Reason::ConnectionReset)),
            io::ErrorKind::UnexpectedEof => {
                Some(Classification::transient(Reason::ConnectionClosed))
            }
            io::ErrorKind::TimedOut => Some(Classification::transient(Reason::Timeout)),
            _ => None,
        };
    }
    None
}

/// Whether the headers carry a rate-limit signal (a `Retry-After`, or a quota reported spent
/// by `RateLimit`, `RateLimit-Remaining` or `X-RateLimit-Remaining`), and the wait they
/// name: `Retry-After` first, else the quota's reset.
fn rate_limit_hint(headers: &HeaderMap) -> (bool, Option<Duration>) {
    let seen = RateLimitHeaders::parse(headers, SystemTime::now());
    let signal = seen.retry_after.is_some() || seen.is_spent();
    let wait = seen.retry_after.or(seen.reset);
    (
        signal,
        wait.map(|hint| hint.requested().unwrap_or(Duration::MAX)),
    )
}

impl Classify for DefaultClassifier {
    fn classify(&self, outcome: Outcome<'_>) -> Classification {
        match outcome {
            Outcome::Response(response) => {
                for rule in &self.response_rules {
                    if let Some(found) = rule(response) {
                        return found;
                    }
                }
                let status = response.status();
                if let Some((_, verdict)) = self.statuses.iter().find(|(s, _)| *s == status) {
                    return Classification::new(*verdict, Reason::Status(status));
                }
                Self::classify_status(status, response.headers())
            }
            Outcome::Error(error) => {
                for rule in &self.error_rules {
                    if let Some(found) = rule(error) {
                        return found;
                    }
                }
                Self::classify_error(error)
            }
        }
    }
}

/// Overrides on top of the default table; rules added first are asked first.
///
/// # Example
///
/// ```
/// use reqwest::StatusCode;
/// use steadfast::classify::{Classification, DefaultClassifier, Reason, Verdict};
///
/// let classifier = DefaultClassifier::builder()
///     // "409 is transient for this API"
///     .status(StatusCode::CONFLICT, Verdict::Transient)
///     // "this vendor's 400 with `X-Vendor-Busy: 1` means it is overloaded"
///     .response(|response| {
///         (response.status() == StatusCode::BAD_REQUEST
///             && response.headers().contains_key("x-vendor-busy"))
///         .then(|| Classification::throttled(None, Reason::Custom("vendor busy")))
///     })
///     .build();
/// # let _ = classifier;
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct DefaultClassifierBuilder {
    inner: DefaultClassifier,
}

impl DefaultClassifierBuilder {
    /// Gives every response with `status` this verdict (with `retry_after: None` for
    /// `Throttled` unless a response rule says more).
    pub fn status(mut self, status: StatusCode, verdict: Verdict) -> Self {
        self.inner.statuses.push((status, verdict));
        self
    }

    /// Adds a rule for responses; `None` defers to the next rule and then the table.
    pub fn response<F>(mut self, rule: F) -> Self
    where
        F: Fn(&reqwest::Response) -> Option<Classification> + Send + Sync + 'static,
    {
        self.inner.response_rules.push(Arc::new(rule));
        self
    }

    /// Adds a rule for errors; `None` defers to the next rule and then the chain walk.
    pub fn error<F>(mut self, rule: F) -> Self
    where
        F: Fn(&(dyn StdError + 'static)) -> Option<Classification> + Send + Sync + 'static,
    {
        self.inner.error_rules.push(Arc::new(rule));
        self
    }

    /// The finished classifier.
    #[must_use]
    pub fn build(self) -> DefaultClassifier {
        self.inner
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn status_table() {
        use Verdict::{Permanent, Success, Transient};
        let none = Verdict::Throttled { retry_after: None };
        let cases: &[(u16, Verdict)] = &[
            (100, Success),
            (200, Success),
            (201, Success),
            (204, Success),
            (304, Success),
            (400, Permanent),
            (401, Permanent),
            (403, Permanent),
            (404, Permanent),
            (405, Permanent),
            (408, Transient),
            (409, Permanent),
            (410, Permanent),
            (422, Permanent),
            (429, none),
            (500, Transient),
            (501, Permanent),
            (502, Transient),
            (503, Transient),
            (504, Transient),
            (505, Permanent),
            (507, Transient),
        ];
        for (code, verdict) in cases {
            let status = StatusCode::from_u16(*code).expect("valid status");
            let got = DefaultClassifier::classify_status(status, &HeaderMap::new());
            assert_eq!(got.verdict(), *verdict, "status {code}");
            assert_eq!(got.reason(), Reason::Status(status));
        }
    }

    type Case = (u16, &'static [(&'static str, &'static str)], Verdict);

    #[test]
    fn rate_limit_signals_turn_403_and_503_into_throttled() {
        let throttled = |secs: Option<u64>| Verdict::Throttled {
            retry_after: secs.map(std::time::Duration::from_secs),
        };
        let cases: &[Case] = &[
            (503, &[("retry-after", "5")], throttled(Some(5))),
            (403, &[("retry-after", "5")], throttled(Some(5))),
            (403, &[("x-ratelimit-remaining", "0")], throttled(None)),
            (403, &[("X-RateLimit-Remaining", " 0 ")], throttled(None)),
            (503, &[("ratelimit-remaining", "0")], throttled(None)),
            (
                403,
                &[("ratelimit", "\"default\";r=0;t=30")],
                throttled(Some(30)),
            ),
            (
                403,
                &[("ratelimit", "limit=100, remaining=0, reset=9")],
                throttled(Some(9)),
            ),
            (
                503,
                &[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "12")],
                throttled(Some(12)),
            ),
            (
                429,
                &[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "12")],
                throttled(Some(12)),
            ),
            (
                429,
                &[("retry-after", "3"), ("x-ratelimit-reset", "12")],
                throttled(Some(3)),
            ),
            (403, &[("x-ratelimit-remaining", "12")], Verdict::Permanent),
            (
                403,
                &[("ratelimit", "\"default\";r=10;t=30")],
                Verdict::Permanent,
            ),
            (503, &[("retry-after", "garbage")], Verdict::Transient),
            (503, &[("retry-after", "-5")], Verdict::Transient),
            // A long wait is a signal too, carried whole: the retry layer bounds it.
            (
                503,
                &[("retry-after", "999999999")],
                throttled(Some(999_999_999)),
            ),
            (
                429,
                &[("retry-after", "1e9")],
                throttled(Some(1_000_000_000)),
            ),
            (
                429,
                &[("retry-after", "1e400")],
                Verdict::Throttled {
                    retry_after: Some(std::time::Duration::MAX),
                },
            ),
            (429, &[("retry-after", "2")], throttled(Some(2))),
            (429, &[("retry-after", "soon")], throttled(None)),
        ];
        for (code, pairs, verdict) in cases {
            let status = StatusCode::from_u16(*code).expect("valid status");
            let got = DefaultClassifier::classify_status(status, &headers(pairs));
            assert_eq!(got.verdict(), *verdict, "status {code} with {pairs:?}");
        }
    }

    #[test]
    fn io_errors_in_the_chain() {
        #[derive(Debug)]
        struct Wrapper(io::Error);
        impl fmt::Display for Wrapper {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("wrapper")
            }
        }
        impl StdError for Wrapper {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                Some(&self.0)
            }
        }
        use crate::classify::Applied::{MaybeApplied, NotApplied};
        let cases = [
            (
                io::ErrorKind::ConnectionRefused,
                Verdict::Transient,
                NotApplied,
            ),
            (
                io::ErrorKind::ConnectionReset,
                Verdict::Transient,
                MaybeApplied,
            ),
            (io::ErrorKind::BrokenPipe, Verdict::Transient, MaybeApplied),
            (io::ErrorKind::TimedOut, Verdict::Transient, MaybeApplied),
            (
                io::ErrorKind::PermissionDenied,
                Verdict::Permanent,
                MaybeApplied,
            ),
        ];
        for (kind, verdict, applied) in cases {
            let err = Wrapper(io::Error::from(kind));
            let got = DefaultClassifier::classify_error(&err);
            assert_eq!(got.verdict(), verdict, "{kind:?}");
            assert_eq!(got.applied(), applied, "{kind:?}");
        }
    }

    #[test]
    fn applied_table() {
        use crate::classify::Applied::{MaybeApplied, NotApplied};
        let cases = [
            (200, MaybeApplied),
            (201, MaybeApplied),
            (400, NotApplied),
            (404, NotApplied),
            (408, NotApplied),
            (409, NotApplied),
            (422, NotApplied),
            (429, NotApplied),
            (500, MaybeApplied),
            (501, MaybeApplied),
            (502, MaybeApplied),
            (503, NotApplied),
            (504, MaybeApplied),
            (507, MaybeApplied),
        ];
        for (code, applied) in cases {
            let status = StatusCode::from_u16(code).expect("valid status");
            let got = DefaultClassifier::classify_status(status, &HeaderMap::new());
            assert_eq!(got.applied(), applied, "status {code}");
        }
        // A 403 with rate-limit signals is a throttle: refused, not done.
        let spent = headers(&[("x-ratelimit-remaining", "0")]);
        let got = DefaultClassifier::classify_status(StatusCode::FORBIDDEN, &spent);
        assert_eq!(got.applied(), NotApplied);
    }

    #[test]
    fn needs_attention_only_for_auth_failures() {
        for (code, expected) in [(401, true), (403, true), (404, false), (500, false)] {
            let status = StatusCode::from_u16(code).expect("valid status");
            let got = DefaultClassifier::classify_status(status, &HeaderMap::new());
            assert_eq!(got.needs_attention(), expected, "status {code}");
        }
    }
}
