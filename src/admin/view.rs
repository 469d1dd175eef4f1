//! What a person sees of a letter: the redacted copy, every text in it bounded.

use crate::dead_letter::{DeadLetter, LetterBody};
use crate::redact::Redactor;

/// The most header pairs a view shows of a request or response.
const MAX_HEADERS: usize = 100;
/// The most bytes of a header value, URL or error message a view shows.
const MAX_TEXT: usize = 2048;
/// The most attempts a view shows (the latest).
pub(crate) const MAX_ATTEMPTS: usize = 100;

/// `text` cut after `max` bytes at a character boundary, the cut marked.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} more bytes)", &text[..end], text.len() - end)
}

fn bound_pairs(pairs: &mut Vec<(String, String)>) {
    pairs.truncate(MAX_HEADERS);
    for (name, value) in pairs.iter_mut() {
        *name = truncate(name, MAX_TEXT);
        *value = truncate(value, MAX_TEXT);
    }
}

/// The letter as people see it: through the redactor ([`DeadLetter::redacted`]), bodies cut
/// after `preview` bytes, headers, URL, error and attempts bounded.
pub(crate) fn shown(letter: &DeadLetter, redactor: &Redactor, preview: usize) -> DeadLetter {
    let mut shown = letter.redacted(redactor);
    if reqwest::Url::parse(&letter.request.url).is_err() {
        // `redacted` leaves a URL it cannot parse as it is: scrub it as text.
        shown.request.url = redactor.text(&letter.request.url).into_owned();
    }
    shown.request.url = truncate(&shown.request.url, MAX_TEXT);
    shown.request.method = truncate(&shown.request.method, 32);
    bound_pairs(&mut shown.request.headers);
    if let LetterBody::Text(text) = &shown.request.body {
        shown.request.body = LetterBody::Text(truncate(text, preview));
    }
    if let Some(response) = &mut shown.response {
        bound_pairs(&mut response.headers);
        if let Some(body) = &response.body {
            // Stored redacted; scrubbed again in case a sink holds older letters.
            response.body = Some(truncate(&redactor.text(body), preview));
        }
    }
    shown.error = truncate(&shown.error, MAX_TEXT);
    if let Some(key) = &shown.idempotency_key {
        shown.idempotency_key = Some(truncate(key, 256));
    }
    let skip = shown.attempts.len().saturating_sub(MAX_ATTEMPTS);
    shown.attempts.drain(..skip);
    for attempt in &mut shown.attempts {
        attempt.reason = truncate(&redactor.text(&attempt.reason), 512);
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcdef", 3), "abc… (3 more bytes)");
        // "é" is two bytes: the cut falls back to a character boundary.
        assert_eq!(truncate("aé", 2), "a… (2 more bytes)");
        assert_eq!(truncate("", 0), "");
    }
}
