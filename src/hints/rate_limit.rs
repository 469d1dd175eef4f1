//! What a response says about its quota, from every header family a server may use.

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, HeaderName, RETRY_AFTER};

use super::Hint;
use super::ietf::{parse_policy, parse_ratelimit};
use super::reset::parse_reset;
use super::retry_after::parse_retry_after;

const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
const RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
const RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
const RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");
const X_RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
const X_RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
const X_RATELIMIT_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

/// What one response said about its key's quota, from every header family a server may use.
///
/// When several families are present the most precise wins: the IETF `RateLimit` /
/// `RateLimit-Policy` fields, then the legacy `RateLimit-Limit / -Remaining / -Reset`, then
/// `X-RateLimit-Limit / -Remaining / -Reset`. A malformed value is skipped (logged at DEBUG)
/// and the next family is asked; nothing here is ever an error.
///
/// A reset is read as delta seconds, or as a Unix time when it is at least 10⁹ (in
/// milliseconds from 10¹² on): no quota resets in 31 years, and no Unix time in seconds
/// reaches 10¹² before the year 33658. Fractions are accepted. A reset already past means
/// "now". A reset or `Retry-After` more than [`MAX_HINT`](super::MAX_HINT) away is
/// [`Hint::TooLong`], never dropped: what to do with it (stop a retry, pause a key for a
/// capped time) is the reader's decision. No clock is read here: the wall clock comes in as
/// `now`.
///
/// # Example
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use reqwest::header::HeaderMap;
/// use steadfast::hints::{Hint, RateLimitHeaders};
///
/// let mut headers = HeaderMap::new();
/// headers.insert("ratelimit-policy", r#""hourly";q=5000;w=3600"#.parse()?);
/// headers.insert("ratelimit", r#""hourly";r=0;t=42"#.parse()?);
/// let seen = RateLimitHeaders::parse(&headers, SystemTime::now());
/// assert_eq!(seen.limit, Some(5000));
/// assert_eq!(seen.remaining, Some(0));
/// assert_eq!(seen.reset, Some(Hint::Delay(Duration::from_secs(42))));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimitHeaders {
    /// `Retry-After`, as a wait from `now`.
    pub retry_after: Option<Hint>,
    /// The size of the quota.
    pub limit: Option<u64>,
    /// The quota's window, from `RateLimit-Policy`'s `w`.
    pub window: Option<Duration>,
    /// What is left of the quota.
    pub remaining: Option<u64>,
    /// When the quota resets, as a wait from `now`.
    pub reset: Option<Hint>,
}

impl RateLimitHeaders {
    /// Reads every rate-limit header of a response; header names are case-insensitive.
    ///
    /// `now` is the wall clock, needed for HTTP dates and Unix-time resets.
    #[must_use]
    pub fn parse(headers: &HeaderMap, now: SystemTime) -> Self {
        if !any_present(headers) {
            return Self::default();
        }
        let mut seen = Self {
            retry_after: read(headers, &RETRY_AFTER, |v| parse_retry_after(v, now)),
            ..Self::default()
        };
        if let Some(value) = joined(headers, &RATELIMIT) {
            match parse_ratelimit(&value, now) {
                Some(field) => {
                    seen.remaining = field.remaining;
                    seen.reset = field.reset;
                    seen.limit = field.limit;
                    if let Some(policies) = joined(headers, &RATELIMIT_POLICY) {
                        match parse_policy(&policies, field.name.as_deref()) {
                            Some((limit, window)) => {
                                seen.limit = seen.limit.or(limit);
                                seen.window = window;
                            }
                            None => malformed(&RATELIMIT_POLICY),
                        }
                    }
                }
                None => malformed(&RATELIMIT),
            }
        }
        let families = [
            (&RATELIMIT_LIMIT, &RATELIMIT_REMAINING, &RATELIMIT_RESET),
            (
                &X_RATELIMIT_LIMIT,
                &X_RATELIMIT_REMAINING,
                &X_RATELIMIT_RESET,
            ),
        ];
        for (limit, remaining, reset) in families {
            if seen.limit.is_none() {
                seen.limit = read(headers, limit, parse_count);
            }
            if seen.remaining.is_none() {
                seen.remaining = read(headers, remaining, parse_count);
            }
            if seen.reset.is_none() {
                seen.reset = read(headers, reset, |v| parse_reset(v, now));
            }
        }
        seen
    }

    /// Whether the server said the quota is used up (`remaining` is 0).
    #[must_use]
    pub fn is_spent(&self) -> bool {
        self.remaining == Some(0)
    }
}

/// Whether `headers` may hold a field [`RateLimitHeaders::parse`] reads. Most responses hold
/// none, and one pass over their few names costs less than looking up each of the nine
/// fields by hash.
pub(crate) fn any_present(headers: &HeaderMap) -> bool {
    headers.keys().any(|name| {
        let name = name.as_str();
        name == RETRY_AFTER.as_str()
            || name.starts_with("ratelimit")
            || name.starts_with("x-ratelimit")
    })
}

/// Parses a legacy limit or remaining count: a non-negative integer, possibly followed by
/// policy details after `,` or `;` (`100, 100;w=60`), which are ignored.
pub(crate) fn parse_count(value: &str) -> Option<u64> {
    let head = value.split([',', ';']).next()?.trim();
    if head.is_empty() || !head.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    head.parse().ok()
}

/// The first value of a header, parsed; a present but malformed value is logged.
fn read<T>(
    headers: &HeaderMap,
    name: &HeaderName,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Option<T> {
    let value = headers.get(name)?;
    let parsed = value.to_str().ok().and_then(parse);
    if parsed.is_none() {
        malformed(name);
    }
    parsed
}

/// Every line of a list-valued field, joined as one list.
fn joined(headers: &HeaderMap, name: &HeaderName) -> Option<String> {
    let mut lines = headers.get_all(name).iter();
    let first = lines.next()?.to_str().ok()?.to_owned();
    lines.try_fold(first, |mut all, line| {
        all.push_str(", ");
        all.push_str(line.to_str().ok()?);
        Some(all)
    })
}

fn malformed(name: &HeaderName) {
    // The value itself is not logged: it is the server's, and may echo anything.
    tracing::debug!(header = %name, "ignoring a malformed rate-limit header");
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;
    use crate::hints::MAX_HINT;

    // 2024-01-01T00:00:00Z
    const NOW: u64 = 1_704_067_200;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(NOW)
    }

    // `Option` because every expected value in the tables is one.
    #[allow(clippy::unnecessary_wraps)]
    fn secs(s: u64) -> Option<Hint> {
        Some(Hint::new(Duration::from_secs(s)))
    }

    #[allow(clippy::unnecessary_wraps)]
    fn ms(ms: u64) -> Option<Hint> {
        Some(Hint::new(Duration::from_millis(ms)))
    }

    #[allow(clippy::unnecessary_wraps)]
    fn too_long(s: u64) -> Option<Hint> {
        Some(Hint::TooLong {
            requested: Some(Duration::from_secs(s)),
        })
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).expect("valid name"),
                value.parse().expect("valid value"),
            );
        }
        map
    }

    #[test]
    fn the_screen_lets_every_family_through() {
        let cases: &[(&[(&str, &str)], bool)] = &[
            (&[], false),
            (
                &[("content-type", "application/json"), ("date", "x")],
                false,
            ),
            (&[("x-rate-limit", "5")], false),
            (
                &[("content-type", "text/plain"), ("Retry-After", "1")],
                true,
            ),
            (&[("RateLimit", "\"q\";r=0;t=1")], true),
            (&[("ratelimit-policy", "\"q\";q=1")], true),
            (&[("RateLimit-Remaining", "0")], true),
            (&[("date", "x"), ("X-RateLimit-Reset", "5")], true),
        ];
        for (pairs, expected) in cases {
            assert_eq!(any_present(&headers(pairs)), *expected, "{pairs:?}");
        }
        let unrelated = headers(&[("content-type", "application/json")]);
        assert_eq!(
            RateLimitHeaders::parse(&unrelated, now()),
            RateLimitHeaders::default()
        );
    }

    #[test]
    fn counts() {
        let cases: &[(&str, Option<u64>)] = &[
            ("0", Some(0)),
            ("60", Some(60)),
            (" 4999 ", Some(4_999)),
            ("100, 100;w=60", Some(100)),
            ("10;w=1", Some(10)),
            ("-1", None),
            ("1.5", None),
            ("", None),
            ("many", None),
            ("99999999999999999999999", None),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_count(input), *expected, "count {input:?}");
        }
    }

    /// A case: its name, the response's headers, what they say.
    type Case = (
        &'static str,
        &'static [(&'static str, &'static str)],
        RateLimitHeaders,
    );

    #[test]
    #[allow(clippy::too_many_lines)] // one table
    fn header_sets() {
        let none = RateLimitHeaders::default();
        let cases: &[Case] = &[
            ("nothing", &[], none),
            (
                "GitHub, epoch reset",
                &[
                    ("X-RateLimit-Limit", "5000"),
                    ("X-RateLimit-Remaining", "0"),
                    ("X-RateLimit-Reset", "1704067230"),
                ],
                RateLimitHeaders {
                    limit: Some(5_000),
                    remaining: Some(0),
                    reset: secs(30),
                    ..none
                },
            ),
            (
                "lower-case names, delta reset",
                &[
                    ("x-ratelimit-limit", "60"),
                    ("x-ratelimit-remaining", "12"),
                    ("x-ratelimit-reset", "17"),
                ],
                RateLimitHeaders {
                    limit: Some(60),
                    remaining: Some(12),
                    reset: secs(17),
                    ..none
                },
            ),
            (
                "legacy draft",
                &[
                    ("RateLimit-Limit", "100, 100;w=60"),
                    ("RateLimit-Remaining", "3"),
                    ("RateLimit-Reset", "0.5"),
                ],
                RateLimitHeaders {
                    limit: Some(100),
                    remaining: Some(3),
                    reset: ms(500),
                    ..none
                },
            ),
            (
                "IETF fields",
                &[
                    ("RateLimit-Policy", r#""default";q=100;w=60"#),
                    ("RateLimit", r#""default";r=0;t=2"#),
                ],
                RateLimitHeaders {
                    limit: Some(100),
                    window: Some(Duration::from_secs(60)),
                    remaining: Some(0),
                    reset: secs(2),
                    ..none
                },
            ),
            (
                "IETF fields: the most restrictive policy, its own quota",
                &[
                    (
                        "RateLimit-Policy",
                        r#""burst";q=100;w=60, "daily";q=1000;w=86400"#,
                    ),
                    ("RateLimit", r#""burst";r=40;t=30, "daily";r=0;t=3600"#),
                ],
                RateLimitHeaders {
                    limit: Some(1_000),
                    window: Some(Duration::from_secs(86_400)),
                    remaining: Some(0),
                    reset: secs(3_600),
                    ..none
                },
            ),
            (
                "IETF fields over one line each, token names",
                &[
                    ("RateLimit", "burst;r=40;t=30"),
                    ("RateLimit", "daily;r=7;t=3600"),
                ],
                RateLimitHeaders {
                    remaining: Some(7),
                    reset: secs(3_600),
                    ..none
                },
            ),
            (
                "IETF decimal reset",
                &[("RateLimit", r#""default";r=0;t=1.25"#)],
                RateLimitHeaders {
                    remaining: Some(0),
                    reset: ms(1_250),
                    ..none
                },
            ),
            (
                "older IETF dictionary form",
                &[("RateLimit", "limit=100, remaining=0, reset=5")],
                RateLimitHeaders {
                    limit: Some(100),
                    remaining: Some(0),
                    reset: secs(5),
                    ..none
                },
            ),
            (
                "IETF wins over legacy and X-",
                &[
                    ("RateLimit", r#""default";r=5;t=9"#),
                    ("RateLimit-Remaining", "1"),
                    ("X-RateLimit-Remaining", "0"),
                    ("X-RateLimit-Reset", "100"),
                ],
                RateLimitHeaders {
                    remaining: Some(5),
                    reset: secs(9),
                    ..none
                },
            ),
            (
                "garbage IETF field falls back to X-",
                &[
                    ("RateLimit", "r=;;t==,"),
                    ("X-RateLimit-Remaining", "0"),
                    ("X-RateLimit-Reset", "4"),
                ],
                RateLimitHeaders {
                    remaining: Some(0),
                    reset: secs(4),
                    ..none
                },
            ),
            (
                "negative and garbage values are ignored",
                &[
                    ("RateLimit", r#""default";r=-1;t=-5"#),
                    ("X-RateLimit-Limit", "lots"),
                    ("X-RateLimit-Remaining", "-3"),
                    ("X-RateLimit-Reset", "tomorrow"),
                    ("Retry-After", "soon"),
                ],
                none,
            ),
            (
                "Retry-After",
                &[
                    ("Retry-After", "1.5"),
                    ("RateLimit", r#""default";r=0;t=5"#),
                ],
                RateLimitHeaders {
                    retry_after: ms(1_500),
                    remaining: Some(0),
                    reset: secs(5),
                    ..none
                },
            ),
            (
                "Retry-After as an HTTP date",
                &[("Retry-After", "Mon, 01 Jan 2024 00:00:10 GMT")],
                RateLimitHeaders {
                    retry_after: secs(10),
                    ..none
                },
            ),
            (
                "Retry-After further than a day: too long, not absent",
                &[("Retry-After", "604800")],
                RateLimitHeaders {
                    retry_after: too_long(604_800),
                    ..none
                },
            ),
            (
                "a reset in the year 2286: too long, not absent",
                &[
                    ("X-RateLimit-Remaining", "0"),
                    ("X-RateLimit-Reset", "9999999999"),
                ],
                RateLimitHeaders {
                    remaining: Some(0),
                    reset: too_long(9_999_999_999 - NOW),
                    ..none
                },
            ),
            (
                "an IETF reset further than a day",
                &[("RateLimit", r#""default";r=0;t=90000"#)],
                RateLimitHeaders {
                    remaining: Some(0),
                    reset: too_long(90_000),
                    ..none
                },
            ),
        ];
        for (name, pairs, expected) in cases {
            assert_eq!(
                RateLimitHeaders::parse(&headers(pairs), now()),
                *expected,
                "{name}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn counts_never_panic(value in "\\PC*") {
            let _ = parse_count(&value);
        }

        #[test]
        fn header_sets_never_panic(
            values in proptest::collection::vec("[ -~]{0,40}", 9),
            unix in 0u64..8_000_000_000,
        ) {
            let names = [
                "retry-after", "ratelimit", "ratelimit-policy", "ratelimit-limit",
                "ratelimit-remaining", "ratelimit-reset", "x-ratelimit-limit",
                "x-ratelimit-remaining", "x-ratelimit-reset",
            ];
            let mut map = HeaderMap::new();
            for (name, value) in names.iter().zip(&values) {
                if let Ok(value) = value.parse() {
                    map.insert(*name, value);
                }
            }
            let seen = RateLimitHeaders::parse(&map, UNIX_EPOCH + Duration::from_secs(unix));
            for hint in [seen.retry_after, seen.reset].into_iter().flatten() {
                match hint {
                    Hint::Delay(wait) => proptest::prop_assert!(wait <= MAX_HINT),
                    Hint::TooLong { requested } => {
                        proptest::prop_assert!(requested.is_none_or(|r| r > MAX_HINT));
                    }
                }
            }
        }
    }
}
