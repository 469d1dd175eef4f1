//! Parsing of the `Retry-After` response header (RFC 9110 §10.2.3).

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};

/// Parses a `Retry-After` value into how long to wait from `now`.
///
/// Accepts delta-seconds (`120`), leniently with decimals (`1.5`), and every HTTP-date form
/// (IMF-fixdate, RFC 850, asctime). A date in the past means "now" (`Duration::ZERO`).
/// Negative numbers and anything unparseable give `None`: a malformed hint is ignored,
/// never an error.
///
/// # Example
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use steadfast::retry::parse_retry_after;
///
/// let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
/// assert_eq!(parse_retry_after("2", now), Some(Duration::from_secs(2)));
/// assert_eq!(parse_retry_after("0.5", now), Some(Duration::from_millis(500)));
/// assert_eq!(
///     parse_retry_after("Sun, 06 Nov 1994 08:49:40 GMT", now),
///     Some(Duration::from_secs(3)),
/// );
/// assert_eq!(parse_retry_after("-1", now), None);
/// assert_eq!(parse_retry_after("soon", now), None);
/// ```
#[must_use]
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    let first = value.as_bytes().first()?;
    if first.is_ascii_digit() || *first == b'.' {
        return parse_seconds(value);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Reads and parses the `Retry-After` header of a response, relative to the wall clock.
///
/// Returns `None` when the header is absent, not valid text, or malformed.
#[must_use]
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value, SystemTime::now())
}

fn parse_seconds(value: &str) -> Option<Duration> {
    if value.bytes().all(|b| b.is_ascii_digit()) {
        // Whole seconds beyond u64 saturate instead of failing: the hint is "very long".
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let (whole, frac) = value.split_once('.')?;
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !digits(frac) || (whole.is_empty() && frac.is_empty()) {
        return None;
    }
    let seconds: f64 = value.parse().ok()?;
    Duration::try_from_secs_f64(seconds)
        .ok()
        .or(Some(Duration::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    // 784111777 is Sun, 06 Nov 1994 08:49:37 GMT, the RFC's example date.
    const NOW: u64 = 784_111_777;

    #[test]
    fn forms() {
        let cases: &[(&str, Option<Duration>)] = &[
            ("0", Some(Duration::ZERO)),
            ("2", Some(Duration::from_secs(2))),
            (" 120 ", Some(Duration::from_secs(120))),
            ("1.5", Some(Duration::from_millis(1500))),
            (".25", Some(Duration::from_millis(250))),
            ("3.", Some(Duration::from_secs(3))),
            (
                "99999999999999999999999",
                Some(Duration::from_secs(u64::MAX)),
            ),
            (
                "Sun, 06 Nov 1994 08:49:47 GMT",
                Some(Duration::from_secs(10)),
            ),
            (
                "Sunday, 06-Nov-94 08:49:47 GMT",
                Some(Duration::from_secs(10)),
            ),
            ("Sun Nov  6 08:49:47 1994", Some(Duration::from_secs(10))),
            ("Sun, 06 Nov 1994 08:00:00 GMT", Some(Duration::ZERO)),
            ("-1", None),
            ("-0.5", None),
            ("1e3", None),
            ("1.2.3", None),
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
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(input in "\\PC*", now in 0u64..4_000_000_000) {
            let _ = parse_retry_after(&input, at(now));
        }

        #[test]
        fn whole_seconds_round_trip(secs in 0u64..u64::MAX) {
            proptest::prop_assert_eq!(
                parse_retry_after(&secs.to_string(), at(NOW)),
                Some(Duration::from_secs(secs))
            );
        }
    }
}
