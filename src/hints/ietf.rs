//! The IETF `RateLimit` and `RateLimit-Policy` structured fields
//! (draft-ietf-httpapi-ratelimit-headers, RFC 8941 syntax), and the draft's older
//! dictionary form.

use std::time::{Duration, SystemTime};

use sfv::{BareItem, Dictionary, List, ListEntry, Parameters, Parser};

use super::Hint;
use super::reset::reset_after;

/// The part of a `RateLimit` field that matters: the most restrictive policy.
#[derive(Debug, Default, PartialEq)]
pub(super) struct RateLimitField {
    pub(super) name: Option<String>,
    pub(super) remaining: Option<u64>,
    pub(super) reset: Option<Hint>,
    pub(super) limit: Option<u64>,
}

/// Parses a `RateLimit` field: the RFC list form (`"default";r=50;t=30`, one item per
/// policy; the one with least remaining wins, the later reset on a tie), or the older
/// dictionary form (`limit=100, remaining=50, reset=30`).
pub(super) fn parse_ratelimit(value: &str, now: SystemTime) -> Option<RateLimitField> {
    if let Ok(list) = Parser::new(value).parse::<List>() {
        let best = list
            .iter()
            .filter_map(|entry| {
                let ListEntry::Item(item) = entry else {
                    return None;
                };
                let remaining = count(item.params.get("r")?)?;
                let reset = item
                    .params
                    .get("t")
                    .and_then(|t| Some(reset_after(seconds(t)?, now)));
                Some(RateLimitField {
                    name: name(&item.bare_item),
                    remaining: Some(remaining),
                    reset,
                    limit: None,
                })
            })
            .min_by(|a, b| {
                let later =
                    |f: &RateLimitField| f.reset.map(|r| r.requested().unwrap_or(Duration::MAX));
                a.remaining.cmp(&b.remaining).then(later(b).cmp(&later(a)))
            });
        if best.is_some() {
            return best;
        }
    }
    let dict = Parser::new(value).parse::<Dictionary>().ok()?;
    let member = |key: &str| match dict.get(key) {
        Some(ListEntry::Item(item)) => Some(&item.bare_item),
        _ => None,
    };
    let field = RateLimitField {
        name: None,
        remaining: member("remaining").and_then(count),
        reset: member("reset")
            .and_then(seconds)
            .map(|s| reset_after(s, now)),
        limit: member("limit").and_then(count),
    };
    (field != RateLimitField::default()).then_some(field)
}

/// Parses `RateLimit-Policy` (`"hourly";q=5000;w=3600, "burst";q=100;w=60`): the quota and
/// window of the policy named `name`, or of the only policy.
pub(super) fn parse_policy(
    value: &str,
    name_wanted: Option<&str>,
) -> Option<(Option<u64>, Option<Duration>)> {
    let list = Parser::new(value).parse::<List>().ok()?;
    let policies: Vec<&Parameters> = list
        .iter()
        .filter_map(|entry| match entry {
            ListEntry::Item(item)
                if name_wanted.is_none_or(|n| name(&item.bare_item).as_deref() == Some(n)) =>
            {
                Some(&item.params)
            }
            _ => None,
        })
        .collect();
    let [params] = policies.as_slice() else {
        return None;
    };
    let limit = params.get("q").and_then(count);
    let window = params.get("w").and_then(seconds);
    Some((limit, window))
}

/// A policy name: a string or a token.
fn name(item: &BareItem) -> Option<String> {
    match item {
        BareItem::String(s) => Some(s.as_str().to_owned()),
        BareItem::Token(t) => Some(t.as_str().to_owned()),
        _ => None,
    }
}

/// A non-negative integer.
fn count(item: &BareItem) -> Option<u64> {
    u64::try_from(i64::from(item.as_integer()?)).ok()
}

/// A non-negative number of seconds, integer or decimal (exact to the millisecond).
fn seconds(item: &BareItem) -> Option<Duration> {
    match item {
        BareItem::Integer(i) => Some(Duration::from_secs(u64::try_from(i64::from(*i)).ok()?)),
        BareItem::Decimal(d) => Some(Duration::from_millis(
            u64::try_from(i64::from(d.as_integer_scaled_1000())).ok()?,
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_704_067_200)
    }

    fn field(remaining: Option<u64>, reset: Option<u64>, limit: Option<u64>) -> RateLimitField {
        RateLimitField {
            name: None,
            remaining,
            reset: reset.map(|s| Hint::new(Duration::from_secs(s))),
            limit,
        }
    }

    #[test]
    fn ratelimit_fields() {
        let named = |name: &str, remaining, reset| RateLimitField {
            name: Some(name.to_owned()),
            ..field(Some(remaining), Some(reset), None)
        };
        let cases: &[(&str, Option<RateLimitField>)] = &[
            (r#""default";r=50;t=30"#, Some(named("default", 50, 30))),
            (
                "burst;r=40;t=30, daily;r=0;t=3600",
                Some(named("daily", 0, 3_600)),
            ),
            ("a;r=0;t=5, b;r=0;t=9", Some(named("b", 0, 9))),
            (
                "limit=100, remaining=0, reset=5",
                Some(field(Some(0), Some(5), Some(100))),
            ),
            (
                r#""default";r=0;t=100000"#,
                Some(RateLimitField {
                    reset: Some(Hint::TooLong {
                        requested: Some(Duration::from_secs(100_000)),
                    }),
                    ..named("default", 0, 0)
                }),
            ),
            (r#""default";t=5"#, None),
            (r#""default";r=-1;t=-5"#, None),
            ("r=;;t==,", None),
        ];
        for (value, expected) in cases {
            assert_eq!(parse_ratelimit(value, now()), *expected, "{value}");
        }
    }

    #[test]
    fn policies() {
        let minute = Some(Duration::from_secs(60));
        let both = r#""burst";q=100;w=60, "daily";q=1000;w=86400"#;
        assert_eq!(parse_policy(both, Some("burst")), Some((Some(100), minute)));
        assert_eq!(parse_policy(both, None), None, "which one is ambiguous");
        assert_eq!(
            parse_policy(r#""x";q=5;w=60"#, None),
            Some((Some(5), minute))
        );
        assert_eq!(parse_policy("x;q=5", Some("y")), None);
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(value in "\\PC*", unix in 0u64..8_000_000_000) {
            let now = UNIX_EPOCH + Duration::from_secs(unix);
            let _ = parse_ratelimit(&value, now);
            let _ = parse_policy(&value, None);
            let _ = parse_policy(&value, Some("default"));
        }
    }
}
