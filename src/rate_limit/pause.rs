//! When a server's answer pauses every call on its key, and for how long: the limiter's
//! own rule over the hints the [`hints`](crate::hints) module parsed.

use std::time::Duration;

use reqwest::StatusCode;

use crate::hints::{Hint, RateLimitHeaders};

/// The pause a response with `status` and these headers asks of every caller on its key,
/// checked against `max_pause`, or `None` when the server asked for none.
///
/// A 429 pauses for `Retry-After`, else until the reset, else `no_hint`; a 503 pauses for
/// its `Retry-After` (the server is throttling, not failing); any response whose quota is
/// spent pauses until the reset (`Retry-After` first). Other statuses' `Retry-After` (a 500,
/// 502 or 504) is the retry layer's, for its own call: one failing request does not stop
/// the key. A hint beyond `max_pause` comes back [`Hint::TooLong`]; the key then pauses for
/// [`Hint::capped`] at `max_pause`.
pub(crate) fn server_pause(
    seen: &RateLimitHeaders,
    status: StatusCode,
    no_hint: Duration,
    max_pause: Duration,
) -> Option<Hint> {
    let hint = seen.retry_after.or(seen.reset);
    let pause = if status == StatusCode::TOO_MANY_REQUESTS {
        Some(hint.unwrap_or(Hint::new(no_hint)))
    } else if status == StatusCode::SERVICE_UNAVAILABLE && seen.retry_after.is_some() {
        seen.retry_after
    } else if seen.is_spent() {
        hint
    } else {
        None
    };
    pause.map(|pause| pause.bounded(max_pause))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_HINT: Duration = Duration::from_secs(1);
    const MAX_PAUSE: Duration = Duration::from_secs(60);

    #[allow(clippy::unnecessary_wraps)] // every expected value in the table is an `Option`
    fn secs(s: u64) -> Option<Hint> {
        Some(Hint::new(Duration::from_secs(s)))
    }

    #[allow(clippy::unnecessary_wraps)]
    fn too_long(requested: Option<u64>) -> Option<Hint> {
        Some(Hint::TooLong {
            requested: requested.map(Duration::from_secs),
        })
    }

    #[test]
    fn pauses() {
        let h = |retry_after, remaining, reset| RateLimitHeaders {
            retry_after,
            remaining,
            reset,
            ..RateLimitHeaders::default()
        };
        let cases = [
            (
                "429, Retry-After wins over t",
                429,
                h(secs(1), Some(0), secs(5)),
                secs(1),
            ),
            ("429, reset", 429, h(None, Some(0), secs(5)), secs(5)),
            ("429, no hint", 429, h(None, None, None), secs(1)),
            (
                "429, a day: too long, the key pauses for the cap",
                429,
                h(secs(86_400), None, None),
                too_long(Some(86_400)),
            ),
            (
                "429, beyond a day",
                429,
                h(too_long(Some(999_999_999)), None, None),
                too_long(Some(999_999_999)),
            ),
            (
                "429, beyond the clock",
                429,
                h(too_long(None), None, None),
                too_long(None),
            ),
            ("429, at the cap", 429, h(secs(60), None, None), secs(60)),
            (
                "200, spent with reset",
                200,
                h(None, Some(0), secs(2)),
                secs(2),
            ),
            (
                "200, spent with a reset in a day",
                200,
                h(None, Some(0), secs(86_400)),
                too_long(Some(86_400)),
            ),
            (
                "200, spent, Retry-After wins",
                200,
                h(secs(3), Some(0), secs(2)),
                secs(3),
            ),
            ("200, spent, no reset", 200, h(None, Some(0), None), None),
            ("200, quota left", 200, h(None, Some(5), secs(2)), None),
            ("200, nothing", 200, h(None, None, None), None),
            (
                "403, spent (GitHub)",
                403,
                h(None, Some(0), secs(30)),
                secs(30),
            ),
            ("503 with Retry-After", 503, h(secs(7), None, None), secs(7)),
            (
                "503 with a long Retry-After",
                503,
                h(too_long(Some(999_999_999)), None, None),
                too_long(Some(999_999_999)),
            ),
            ("503 without", 503, h(None, None, None), None),
            ("500 with Retry-After", 500, h(secs(7), None, None), None),
            ("502 with Retry-After", 502, h(secs(7), None, None), None),
            ("504 with Retry-After", 504, h(secs(7), None, None), None),
        ];
        for (name, status, seen, expected) in cases {
            let status = StatusCode::from_u16(status).expect("valid status");
            let pause = server_pause(&seen, status, NO_HINT, MAX_PAUSE);
            assert_eq!(pause, expected, "{name}");
            if let Some(pause) = pause {
                assert!(pause.capped(MAX_PAUSE) <= MAX_PAUSE, "{name}");
            }
        }
    }
}
