//! Server hints from arbitrary header bytes: `Retry-After` alone, and every rate-limit field
//! together. Nothing may panic, and a delay is never beyond the 24 h ceiling.
#![no_main]

use std::time::{Duration, SystemTime};

use libfuzzer_sys::fuzz_target;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use steadfast::hints::{Hint, MAX_HINT, RateLimitHeaders, parse_retry_after};

const NAMES: [&str; 9] = [
    "retry-after",
    "ratelimit",
    "ratelimit-policy",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
];

fn check(hint: Option<Hint>) {
    if let Some(Hint::Delay(delay)) = hint {
        assert!(delay <= MAX_HINT, "a delay of {delay:?} is over the ceiling");
    }
}

fuzz_target!(|data: &[u8]| {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    if let Ok(text) = std::str::from_utf8(data) {
        check(parse_retry_after(text, now));
    }
    // The input split on newlines gives the fields' values, in the order of NAMES.
    let mut headers = HeaderMap::new();
    for (name, value) in NAMES.iter().zip(data.split(|&b| b == b'\n')) {
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    let parsed = RateLimitHeaders::parse(&headers, now);
    check(parsed.retry_after);
    check(parsed.reset);
    let _ = parsed.is_spent();
    check(steadfast::hints::retry_after(&headers));
});
