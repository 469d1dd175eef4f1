//! Parsing of the `Retry-After` response header (RFC 9110 §10.2.3).

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};

use super::Hint;

/// Parses a `Retry-After` value into how long to wait from `now`, checked against
/// [`MAX_HINT`](super::MAX_HINT).
///
/// | form | example | hint |
/// |---|---|---|
/// | delta-seconds | `120` | `Delay(120 s)` |
/// | decimal, leniently | `1.5`, `.25` | `Delay(1.5 s)`, `Delay(250 ms)` |
/// | exponent, leniently | `1e3`, `1e9` | `Delay(1000 s)`, `TooLong` |
/// | HTTP-date (IMF-fixdate, RFC 850, asctime) | `Sun, 06 Nov 1994 08:49:40 GMT` | the wait until then |
/// | a date already past | | `Delay(0)` |
/// | beyond a day | `86401`, `999999999`, a date in 9999 | `TooLong { requested }` |
/// | beyond what a `Duration` holds | `99999999999999999999999e9` | `TooLong { requested: None }` |
/// | negative, empty, anything else | `-1`, `soon`, `NaN` | `None` |
///
/// A long wait is a statement ("not soon") and is kept as [`Hint::TooLong`]. A negative
/// or unparseable value states nothing, not even "long": it gives `None`, so that one
/// garbled header can neither end a call nor pause a key, and the response's status alone
/// decides (a 503 is retried after the usual backoff).
///
/// # Example
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use steadfast::hints::{Hint, parse_retry_after};
///
/// let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
/// assert_eq!(parse_retry_after("2", now), Some(Hint::Delay(Duration::from_secs(2))));
/// assert_eq!(parse_retry_after("0.5", now), Some(Hint::Delay(Duration::from_millis(500))));
/// assert_eq!(
///     parse_retry_after("Sun, 06 Nov 1994 08:49:40 GMT", now),
///     Some(Hint::Delay(Duration::from_secs(3))),
/// );
/// assert!(parse_retry_after("999999999", now).is_some_and(Hint::is_too_long));
/// assert_eq!(parse_retry_after("-1", now), None);
/// assert_eq!(parse_retry_after("soon", now), None);
/// ```
#[must_use]
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Hint> {
    let value = value.trim();
    let first = value.as_bytes().first()?;
    if first.is_ascii_digit() || *first == b'.' {
        return parse_seconds(value);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(Hint::new(at.duration_since(now).unwrap_or(Duration::ZERO)))
}

/// Reads and parses the `Retry-After` header of a response, relative to the wall clock.
///
/// Returns `None` when the header is absent, not valid text, or invalid (see
/// [`parse_retry_after`]).
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use reqwest::header::{HeaderMap, RETRY_AFTER};
/// use steadfast::hints::{Hint, retry_after};
///
/// let mut headers = HeaderMap::new();
/// headers.insert(RETRY_AFTER, "10".parse()?);
/// assert_eq!(retry_after(&headers), Some(Hint::Delay(Duration::from_secs(10))));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use]
pub fn retry_after(headers: &HeaderMap) -> Option<Hint> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value, SystemTime::now())
}

/// A non-negative number of seconds: `digits [. digits] [e [+|-] digits]`, with digits on
/// at least one side of the point.
fn parse_seconds(value: &str) -> Option<Hint> {
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if digits(value) {
        // Whole seconds beyond u64 saturate instead of failing: the hint is "very long".
        return Some(Hint::new(Duration::from_secs(
            value.parse().unwrap_or(u64::MAX),
        )));
    }
    let (mantissa, exponent) = match value.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, Some(exponent)),
        None => (value, None),
    };
    let (whole, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if !digits(whole) || !digits(frac) || (whole.is_empty() && frac.is_empty()) {
        return None;
    }
    if let Some(exponent) = exponent {
        let unsigned = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
        if unsigned.is_empty() || !digits(unsigned) {
            return None;
        }
    }
    // The grammar above is a subset of Rust's float syntax, and never negative.
    let seconds: f64 = value.parse().ok()?;
    Some(match Duration::try_from_secs_f64(seconds) {
        Ok(wait) => Hint::new(wait),
        Err(_) => Hint::TooLong { requested: None },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hints::MAX_HINT;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    // 784111777 is Sun, 06 Nov 1994 08:49:37 GMT, the RFC's example date.
    const NOW: u64 = 784_111_777;

    #[allow(clippy::unnecessary_wraps)] // every expected value in the table is an `Option`
    fn delay(d: Duration) -> Option<Hint> {
        Some(Hint::Delay(d))
    }

    #[allow(clippy::unnecessary_wraps)]
    fn too_long(requested: Option<Duration>) -> Option<Hint> {
        Some(Hint::TooLong { requested })
    }

    #[test]
    fn forms() {
        let secs = Duration::from_secs;
        let cases: &[(&str, Option<Hint>)] = &[
            ("0", delay(Duration::ZERO)),
            ("2", delay(secs(2))),
            (" 120 ", delay(secs(120))),
            ("1.5", delay(Duration::from_millis(1500))),
            (".25", delay(Duration::from_millis(250))),
            ("3.", delay(secs(3))),
            ("1e3", delay(secs(1_000))),
            ("2.5E2", delay(secs(250))),
            ("1e-3", delay(Duration::from_millis(1))),
            ("86400", delay(MAX_HINT)),
            ("86401", too_long(Some(secs(86_401)))),
            ("999999999", too_long(Some(secs(999_999_999)))),
            ("1e9", too_long(Some(secs(1_000_000_000)))),
            ("99999999999999999999999", too_long(Some(secs(u64::MAX)))),
            ("1e400", too_long(None)),
            ("Sun, 06 Nov 1994 08:49:47 GMT", delay(secs(10))),
            ("Sunday, 06-Nov-94 08:49:47 GMT", delay(secs(10))),
            ("Sun Nov  6 08:49:47 1994", delay(secs(10))),
            ("Sun, 06 Nov 1994 08:00:00 GMT", delay(Duration::ZERO)),
            (
                "Fri, 31 Dec 9999 23:59:59 GMT",
                too_long(Some(secs(253_402_300_799 - NOW))),
            ),
            ("-1", None),
            ("-0.5", None),
            ("-1e9", None),
            ("1e", None),
            ("1e+", None),
            ("e3", None),
            (".e3", None),
            ("1.2.3", None),
            ("1e3.5", None),
            (".", None),
            ("", None),
            ("  ", None),
            ("soon", None),
            ("NaN", None),
            ("inf", None),
            ("Sun, 31 Feb 1994 08:49:47 GMT", None),
        ];
        for (input, expected) in cases {
            assert_eq!(
                parse_retry_after(input, at(NOW)),
                *expected,
                "input {input:?}"
            );
        }
    }

    #[test]
    fn reads_the_header() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, "7".parse().expect("valid header"));
        assert_eq!(retry_after(&headers), delay(Duration::from_secs(7)));
        headers.insert(RETRY_AFTER, "-7".parse().expect("valid header"));
        assert_eq!(retry_after(&headers), None);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(input in "\\PC*", now in 0u64..4_000_000_000) {
            let _ = parse_retry_after(&input, at(now));
        }

        #[test]
        fn any_delay_is_within_the_maximum_or_too_long(
            input in "[0-9.eE+ -]{0,24}|\\PC*",
            now in 0u64..4_000_000_000,
        ) {
            match parse_retry_after(&input, at(now)) {
                None => {}
                Some(Hint::Delay(wait)) => proptest::prop_assert!(wait <= MAX_HINT),
                Some(Hint::TooLong { requested }) => {
                    proptest::prop_assert!(requested.is_none_or(|r| r > MAX_HINT));
                }
            }
        }

        #[test]
        fn whole_seconds_round_trip(secs in 0u64..u64::MAX) {
            let expected = Hint::new(Duration::from_secs(secs));
            proptest::prop_assert_eq!(parse_retry_after(&secs.to_string(), at(NOW)), Some(expected));
            proptest::prop_assert_eq!(expected.requested(), Some(Duration::from_secs(secs)));
        }
    }
}
