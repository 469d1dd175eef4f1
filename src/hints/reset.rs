//! When a quota resets: delta seconds or a Unix time, told apart by size.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::Hint;

/// A reset value at least this large is a Unix time, not delta seconds: as a delta it would
/// be 31 years; as a time it is 2001-09-09.
const EPOCH_SECONDS_FROM: u64 = 1_000_000_000;
/// From here on a Unix time is in milliseconds (as seconds it would be the year 33658).
const EPOCH_MILLIS_FROM: u64 = 1_000_000_000_000;

/// Parses a legacy `RateLimit-Reset` / `X-RateLimit-Reset`: delta seconds or a Unix time
/// (see [`reset_after`]), with an optional fraction. Digits too many for a `u64` saturate:
/// the server means "far away", which is a too-long hint, not garbage.
pub(super) fn parse_reset(value: &str, now: SystemTime) -> Option<Hint> {
    let value = value.trim();
    let (whole, frac) = value.split_once('.').unwrap_or((value, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(frac) {
        return None;
    }
    // Exact decimal arithmetic: nanoseconds from the first nine fraction digits.
    let nanos = frac
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(9)
        .fold(0u32, |n, b| n * 10 + u32::from(b - b'0'));
    let whole = whole.parse().unwrap_or(u64::MAX);
    Some(reset_after(Duration::new(whole, nanos), now))
}

/// Turns a reset number (as a `Duration` of that many seconds) into a wait from `now`:
/// delta seconds below 10⁹, a Unix time from there (in milliseconds from 10¹² on), since no
/// quota resets in 31 years and no Unix time in seconds reaches 10¹² before the year 33658.
/// A time already past means "now".
pub(super) fn reset_after(value: Duration, now: SystemTime) -> Hint {
    let wait = if value.as_secs() >= EPOCH_MILLIS_FROM {
        until(value / 1_000, now)
    } else if value.as_secs() >= EPOCH_SECONDS_FROM {
        until(value, now)
    } else {
        Some(value)
    };
    wait.map_or(Hint::TooLong { requested: None }, Hint::new)
}

/// The wait from `now` until a Unix time; zero when it is past, `None` when the time is
/// beyond the system clock's range.
fn until(since_epoch: Duration, now: SystemTime) -> Option<Duration> {
    let at = UNIX_EPOCH.checked_add(since_epoch)?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hints::MAX_HINT;

    // 2024-01-01T00:00:00Z
    const NOW: u64 = 1_704_067_200;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(NOW)
    }

    #[allow(clippy::unnecessary_wraps)] // every expected value in the table is an `Option`
    fn secs(s: u64) -> Option<Hint> {
        Some(Hint::new(Duration::from_secs(s)))
    }

    #[allow(clippy::unnecessary_wraps)]
    fn ms(ms: u64) -> Option<Hint> {
        Some(Hint::new(Duration::from_millis(ms)))
    }

    #[test]
    fn resets() {
        let too_long = |s: u64| {
            Some(Hint::TooLong {
                requested: Some(Duration::from_secs(s)),
            })
        };
        let cases: &[(&str, Option<Hint>)] = &[
            ("0", secs(0)),
            ("30", secs(30)),
            (" 30 ", secs(30)),
            ("1.5", ms(1_500)),
            ("0.250", ms(250)),
            ("3.", secs(3)),
            // GitHub: a Unix time in seconds.
            ("1704067260", secs(60)),
            // Discord: a Unix time with a fraction.
            ("1704067202.500", ms(2_500)),
            // A Unix time in milliseconds.
            ("1704067205000", secs(5)),
            // Past Unix times mean "now".
            ("1704067000", secs(0)),
            ("1000000000", secs(0)),
            // The largest delta honoured, and beyond: too long, never "no hint".
            ("86400", secs(86_400)),
            ("86401", too_long(86_401)),
            ("999999999", too_long(999_999_999)),
            ("1704153601", too_long(86_401)),
            // 10²⁶ read as milliseconds since 1970: three trillion years away.
            (
                "99999999999999999999999999",
                Some(Hint::TooLong {
                    requested: Some(Duration::new(u64::MAX / 1_000 - NOW, 615_000_000)),
                }),
            ),
            ("-1", None),
            ("", None),
            (".5", None),
            ("1e3", None),
            ("1.2.3", None),
            ("soon", None),
            ("Mon, 01 Jan 2024 00:01:00 GMT", None),
            ("NaN", None),
            ("inf", None),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_reset(input, now()), *expected, "reset {input:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(value in "\\PC*", unix in 0u64..8_000_000_000) {
            let _ = parse_reset(&value, UNIX_EPOCH + Duration::from_secs(unix));
        }

        #[test]
        fn any_delay_is_within_the_maximum_or_too_long(value in "[0-9.]{0,30}", unix in 0u64..8_000_000_000) {
            match parse_reset(&value, UNIX_EPOCH + Duration::from_secs(unix)) {
                None => {}
                Some(Hint::Delay(wait)) => proptest::prop_assert!(wait <= MAX_HINT),
                Some(Hint::TooLong { requested }) => {
                    proptest::prop_assert!(requested.is_none_or(|r| r > MAX_HINT));
                }
            }
        }

        #[test]
        fn delta_resets_round_trip(millis in 0u64..86_400_000) {
            let text = format!("{}.{:03}", millis / 1_000, millis % 1_000);
            proptest::prop_assert_eq!(parse_reset(&text, now()), ms(millis));
        }

        #[test]
        fn unix_resets_round_trip(ahead in 0u64..86_400) {
            let text = (NOW + ahead).to_string();
            proptest::prop_assert_eq!(parse_reset(&text, now()), secs(ahead));
        }
    }
}
