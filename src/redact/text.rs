//! Free text and bodies: form bodies, error pages, JSON cut short or over the parse cap.

use std::borrow::Cow;

use serde_json::Value;

use super::REDACTED;
use super::names::{is_listed_header, is_sensitive_compound, is_separator};
use super::redactor::Redactor;
use super::url::{hex_byte, url_end};

/// A body longer than this is not parsed as JSON for redaction: its start is scrubbed as
/// text instead, which masks as much and costs less.
pub(crate) const MAX_PARSED_BODY: usize = 1 << 20;

/// How far past the display cap a long body is scrubbed, so that a name just before the
/// cut still sees where its value starts.
const SCRUB_MARGIN: usize = 256;

impl Redactor {
    /// Renders a body for a log line, cut after `max_bytes` bytes (an ellipsis marks the
    /// cut): JSON on one line with sensitive fields masked (object keys come out sorted)
    /// and string values scrubbed, other text scrubbed like [`text`](Self::text), anything
    /// else as `<N bytes, not UTF-8>`.
    ///
    /// `body` may be the start of a longer body: a UTF-8 character cut at its end is
    /// dropped, and JSON cut short is scrubbed as text.
    #[must_use]
    pub fn body(&self, body: &[u8], max_bytes: usize) -> String {
        let parsed = body.len() <= MAX_PARSED_BODY;
        let body = if parsed {
            body
        } else {
            &body[..body.len().min(max_bytes.saturating_add(SCRUB_MARGIN))]
        };
        let text = match std::str::from_utf8(body) {
            Ok(text) => text,
            // A character cut at the end of a captured prefix.
            Err(e) if e.error_len().is_none() => {
                std::str::from_utf8(&body[..e.valid_up_to()]).unwrap_or_default()
            }
            Err(_) => {
                let mut out = format!("<{} bytes, not UTF-8>", body.len());
                truncate_bytes(&mut out, max_bytes);
                return out;
            }
        };
        if parsed && let Ok(value) = serde_json::from_str::<Value>(text) {
            let mut out = self.json().preview_with(&value, max_bytes, self);
            truncate_bytes(&mut out, max_bytes);
            return out;
        }
        // Scrubbing a huge text costs as much as its length: only what can be shown.
        let text = super::json::prefix(text, max_bytes.saturating_add(SCRUB_MARGIN));
        let mut out = self.text(text).into_owned();
        truncate_bytes(&mut out, max_bytes);
        out
    }

    /// Scrubs free text: URLs are redacted like [`url`](Self::url) (userinfo, query,
    /// path templates), and the value after every sensitive name followed by `:` or `=` is
    /// masked.
    ///
    /// Names are read as servers read them: percent-encoded (`%74oken`), JSON-escaped
    /// (`"pass\u0077ord"`), in brackets (`user[password]=`, `card[number]=`, `token[]=`).
    /// A value runs to its closing quote, to its closing bracket when it is an object or
    /// an array, to the line end after a listed header name (`Cookie: a=1; sid=…`,
    /// `Authorization: Digest …, response="…"`), and otherwise to the next `&`, `,`, `;`,
    /// `<`, closing bracket, quote or line end.
    ///
    /// ```
    /// use steadfast::redact::Redactor;
    ///
    /// let redactor = Redactor::default();
    /// assert_eq!(redactor.text("user=ada&password=hunter2"), "user=ada&password=[redacted]");
    /// assert_eq!(redactor.text(r#"{"token": "abc"#), r#"{"token": "[redacted]"#);
    /// assert_eq!(
    ///     redactor.text("moved to https://h/cb?code=abc"),
    ///     "moved to https://h/cb?code=REDACTED"
    /// );
    /// ```
    #[must_use]
    pub fn text<'t>(&self, text: &'t str) -> Cow<'t, str> {
        self.scrub(text, true)
    }

    /// [`text`](Self::text), optionally without looking for URLs: a URL's own path is
    /// scrubbed for names that way (`/x;jsessionid=…`, `//&password=…`), since the URL
    /// redactor reads only its query as `name=value` pairs.
    fn scrub<'t>(&self, text: &'t str, urls: bool) -> Cow<'t, str> {
        let bytes = text.as_bytes();
        let mut out: Option<String> = None;
        // Everything before `copied` is already in `out`.
        let mut copied = 0;
        let mut i = 0;
        while i < bytes.len() {
            if let Some(end) = urls.then(|| url_end(bytes, i)).flatten() {
                let shown = self.url_text(&text[i..end]);
                // Up to the query, which the URL redactor has read already.
                let query = shown.find(['?', '#']).unwrap_or(shown.len());
                let path = self.scrub(&shown[..query], false);
                if matches!(shown, Cow::Owned(_)) || matches!(path, Cow::Owned(_)) {
                    let out = out.get_or_insert_with(|| String::with_capacity(text.len()));
                    out.push_str(&text[copied..i]);
                    out.push_str(&path);
                    out.push_str(&shown[query..]);
                    copied = end;
                }
                i = end;
                continue;
            }
            let Some((key, key_end)) = read_key(text, i) else {
                i += skip_len(bytes, i);
                continue;
            };
            i = key_end;
            if !is_sensitive_compound(&key, |name| self.is_sensitive_text_name(name)) {
                continue;
            }
            let to_line_end = is_listed_header(&key, self.extra_headers());
            let Some((from, to)) = value_after_key(bytes, key_end, to_line_end) else {
                continue;
            };
            let out = out.get_or_insert_with(|| String::with_capacity(text.len()));
            out.push_str(&text[copied..from]);
            out.push_str(REDACTED);
            copied = to;
            i = to;
        }
        match out {
            None => Cow::Borrowed(text),
            Some(mut out) => {
                out.push_str(&text[copied..]);
                Cow::Owned(out)
            }
        }
    }
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || is_separator(b)
}

/// The name byte a unit at `i` stands for and the unit's length: a plain byte, `%XX`, or
/// `\u00XX`.
fn name_unit(bytes: &[u8], i: usize) -> Option<(u8, usize)> {
    let b = *bytes.get(i)?;
    if is_name_byte(b) {
        return Some((b, 1));
    }
    let decoded = match b {
        b'%' if i + 2 < bytes.len() => hex_byte(bytes[i + 1], bytes[i + 2]).map(|d| (d, 3)),
        b'\\' if i + 5 < bytes.len() && bytes[i + 1] == b'u' => {
            let high = hex_byte(bytes[i + 2], bytes[i + 3]);
            let low = hex_byte(bytes[i + 4], bytes[i + 5]);
            match (high, low) {
                (Some(0), Some(d)) => Some((d, 6)),
                _ => None,
            }
        }
        _ => None,
    };
    decoded.filter(|(d, _)| is_name_byte(*d))
}

/// `[` or `]`, plain or percent-encoded: which one and the length.
fn bracket(bytes: &[u8], i: usize) -> Option<(u8, usize)> {
    match bytes.get(i)? {
        b @ (b'[' | b']') => Some((*b, 1)),
        b'%' if i + 2 < bytes.len() => match hex_byte(bytes[i + 1], bytes[i + 2])? {
            b @ (b'[' | b']') => Some((b, 3)),
            _ => None,
        },
        _ => None,
    }
}

/// How far to move past a byte that starts no name: an escape or percent-encoded byte
/// moves as a whole, so that `\npassword` and `%0Apassword` are read as `password`.
fn skip_len(bytes: &[u8], i: usize) -> usize {
    match bytes[i] {
        b'\\' if i + 1 < bytes.len() && bytes[i + 1].is_ascii() => 2,
        b'%' if i + 2 < bytes.len() && hex_byte(bytes[i + 1], bytes[i + 2]).is_some() => 3,
        _ => 1,
    }
}

/// Reads a key starting at `i`: name units, then any `[sub]` groups. Returns the decoded
/// key and where it ends. Borrows when nothing needed decoding.
fn read_key(text: &str, i: usize) -> Option<(Cow<'_, str>, usize)> {
    let bytes = text.as_bytes();
    let (_, first) = name_unit(bytes, i)?;
    let mut plain = first == 1;
    let mut j = i + first;
    while let Some((_, len)) = name_unit(bytes, j) {
        plain &= len == 1;
        j += len;
    }
    // `[sub]` groups, each kept only when closed.
    while let Some((b'[', open)) = bracket(bytes, j) {
        let mut k = j + open;
        while let Some((_, len)) = name_unit(bytes, k) {
            k += len;
        }
        let Some((b']', close)) = bracket(bytes, k) else {
            break;
        };
        plain = false;
        j = k + close;
    }
    if plain {
        return Some((Cow::Borrowed(&text[i..j]), j));
    }
    let mut key = String::with_capacity(j - i);
    let mut k = i;
    while k < j {
        if let Some((b, len)) = name_unit(bytes, k).or_else(|| bracket(bytes, k)) {
            key.push(char::from(b));
            k += len;
        } else {
            k += 1;
        }
    }
    Some((Cow::Owned(key), j))
}

/// The byte range of the value that follows a key ending at `i`: after closing brackets
/// and an optional closing quote, blanks, `:` or `=`, and blanks. A quoted value's range
/// excludes its quotes; an object or array value's includes its brackets. Anything
/// unterminated runs to the end.
fn value_after_key(bytes: &[u8], mut i: usize, to_line_end: bool) -> Option<(usize, usize)> {
    while let Some((b']', len)) = bracket(bytes, i) {
        i += len;
    }
    let mut quoted = false;
    if i < bytes.len() && (bytes[i] == b'"' || bytes[i] == b'\'') {
        i += 1;
        quoted = true;
    } else if bytes[i..].starts_with(b"\\\"") {
        i += 2;
        quoted = true;
    }
    i = skip_blanks(bytes, i);
    if i >= bytes.len() || (bytes[i] != b':' && bytes[i] != b'=') {
        return None;
    }
    i = skip_blanks(bytes, i + 1);
    if i >= bytes.len() {
        return Some((i, i));
    }
    match bytes[i] {
        quote @ (b'"' | b'\'') => {
            let from = i + 1;
            let mut j = from;
            while j < bytes.len() && bytes[j] != quote {
                j += if bytes[j] == b'\\' { 2 } else { 1 };
            }
            Some((from, j.min(bytes.len())))
        }
        b'\\' if bytes[i..].starts_with(b"\\\"") => {
            // A quoted value of JSON inside a JSON string: `\"token\":\"…\"`.
            let from = i + 2;
            let to = find(&bytes[from..], b"\\\"").map_or(bytes.len(), |at| from + at);
            Some((from, to))
        }
        _ if to_line_end && !quoted => {
            let to = bytes[i..]
                .iter()
                .position(|&b| b == b'\r' || b == b'\n')
                .map_or(bytes.len(), |at| i + at);
            Some((i, to))
        }
        b'{' | b'[' => Some((i, matching_close(bytes, i))),
        _ => {
            let from = i;
            while i < bytes.len() && !b"&,;}]\"'<\r\n".contains(&bytes[i]) {
                i += 1;
            }
            Some((from, i))
        }
    }
}

fn skip_blanks(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && (bytes[i] == b' ' || bytes[i] == b'\t') {
        i += 1;
    }
    i
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// Where the object or array opening at `open` ends (just past its closing bracket), or
/// the end of the text when it is cut short. Brackets inside strings do not count.
fn matching_close(bytes: &[u8], open: usize) -> usize {
    let mut depth = 0usize;
    let mut i = open;
    let mut in_string = false;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match b {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
        } else {
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        return i + 1;
                    }
                }
                _ => {}
            }
        }
        i += 1;
    }
    bytes.len()
}

/// Cuts `out` to at most `max_bytes` bytes at a character boundary, marking the cut.
pub(crate) fn truncate_bytes(out: &mut String, max_bytes: usize) {
    if out.len() <= max_bytes {
        return;
    }
    let mut cut = max_bytes;
    while !out.is_char_boundary(cut) {
        cut -= 1;
    }
    out.truncate(cut);
    out.push('…');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::RedactConfig;

    #[test]
    fn text() {
        let redactor = Redactor::default();
        let table: &[(&str, &str)] = &[
            ("nothing here", "nothing here"),
            ("password=hunter2&user=ada", "password=[redacted]&user=ada"),
            ("user=ada&password=hunter2", "user=ada&password=[redacted]"),
            (
                r#"{"token":"a\"b","id":1}"#,
                r#"{"token":"[redacted]","id":1}"#,
            ),
            (r#"{"password": "hun"#, r#"{"password": "[redacted]"#),
            (
                "Authorization: Bearer abc\nAccept: */*",
                "Authorization: [redacted]\nAccept: */*",
            ),
            ("token : 'x y', other", "token : '[redacted]', other"),
            ("passwordless=1 tokenizer=2", "passwordless=1 tokenizer=2"),
            ("the token is secret", "the token is secret"),
            ("token=", "token=[redacted]"),
            ("token", "token"),
            ("ünï password=é", "ünï password=[redacted]"),
            // Names inside a URL's path, which the URL redactor does not read as pairs
            // (found by the redact fuzz target).
            (
                "x:ws://reda//&password=s3cret",
                "x:ws://reda//&password=[redacted]",
            ),
            (
                "see https://h/app;jsessionid=s3cret?q=1",
                "see https://h/app;jsessionid=[redacted]?q=1",
            ),
            // What the probe of issue 13 found.
            ("Cookie: a=1; sid=s2; b=3\nX: y", "Cookie: [redacted]\nX: y"),
            ("cookie: [redacted]; sid=s2", "cookie: [redacted]"),
            (
                r#"Authorization: Digest username="ada", response="6629fae4""#,
                "Authorization: [redacted]",
            ),
            (
                "user[password]=p1&card[number]=4111&user[name]=ada",
                "user[password]=[redacted]&card[number]=[redacted]&user[name]=ada",
            ),
            (
                "user%5Bpassword%5D=p1&token%5B%5D=t1&token[]=t2&token[0]=t3",
                "user%5Bpassword%5D=[redacted]&token%5B%5D=[redacted]&token[]=[redacted]&token[0]=[redacted]",
            ),
            (
                "%74oken=t1&a=1;token=t2",
                "%74oken=[redacted]&a=1;token=[redacted]",
            ),
            (
                r#"{"password": {"a": "p1", "b": [1]}, "n": 1}"#,
                r#"{"password": [redacted], "n": 1}"#,
            ),
            (
                r#"{"tokens": ["t1", "t2"], "n": 1"#,
                r#"{"tokens": [redacted], "n": 1"#,
            ),
            (r#"{"secret": {"a": "}"#, r#"{"secret": [redacted]"#),
            (
                r#"{"pass\u0077ord": "p1"}"#,
                r#"{"pass\u0077ord": "[redacted]"}"#,
            ),
            (
                r#"{\"token\":\"t1\",\"n\":1}"#,
                r#"{\"token\":\"[redacted]\",\"n\":1}"#,
            ),
            ("a\\npassword=p1", "a\\npassword=[redacted]"),
            ("a%0Apassword=p1", "a%0Apassword=[redacted]"),
            (
                "see https://u:p1@h/bot1:AA/x?access_token=t1&n=1 now",
                "see https://REDACTED:REDACTED@h/botREDACTED/x?access_token=REDACTED&n=1 now",
            ),
            (
                "grant_type=authorization_code&code=c1&redirect_uri=x",
                "grant_type=authorization_code&code=[redacted]&redirect_uri=x",
            ),
            (
                "private_key=k1&privateKey=k2&aws_secret_access_key=k3&pwd=p&pin=1&otp=2&cvc=3&pan=4&jwt=5&session_id=6&passphrase=7",
                "private_key=[redacted]&privateKey=[redacted]&aws_secret_access_key=[redacted]&pwd=[redacted]&pin=[redacted]&otp=[redacted]&cvc=[redacted]&pan=[redacted]&jwt=[redacted]&session_id=[redacted]&passphrase=[redacted]",
            ),
            ("<td>pin=1234</td>", "<td>pin=[redacted]</td>"),
            ("[", "["),
            ("a[b", "a[b"),
            ("%", "%"),
            ("\\", "\\"),
            ("\\u00", "\\u00"),
        ];
        for (input, expected) in table {
            assert_eq!(redactor.text(input), *expected, "{input}");
        }
        assert!(matches!(redactor.text("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn configured_header_names_run_to_the_line_end() {
        let redactor =
            Redactor::new(&RedactConfig::default().header("X-Partner-Ref")).expect("valid");
        assert_eq!(
            redactor.text("X-Partner-Ref: 12, 34\nok: 1"),
            "X-Partner-Ref: [redacted]\nok: 1"
        );
    }

    #[test]
    fn bodies() {
        let redactor =
            Redactor::new(&RedactConfig::default().json_field("bank_iban")).expect("valid");
        let accents = "é".repeat(10);
        let table: &[(&[u8], usize, &str)] = &[
            (b"", 64, ""),
            (
                br#"{"a":{"b":[{"password":"p"}]},"bank_iban":"DE1"}"#,
                64,
                r#"{"a":{"b":[{"password":"[redacted]"}]},"bank_iban":"[redacted]"}"#,
            ),
            (
                br#"{"password":"p","n":"abcdefgh"}"#,
                20,
                r#"{"n":"abcdefgh","pas…"#,
            ),
            (b"access_token=abc&x=1", 64, "access_token=[redacted]&x=1"),
            (
                br#"{"access_token":"abc","x":"#,
                64,
                r#"{"access_token":"[redacted]","x":"#,
            ),
            (
                br#"{"next":"https://h/x?token=t1"}"#,
                64,
                r#"{"next":"https://h/x?token=REDACTED"}"#,
            ),
            (&[0xff, 0x00, 0x01], 64, "<3 bytes, not UTF-8>"),
            (b"\xc3", 64, ""),
            (accents.as_bytes(), 5, "éé…"),
        ];
        for (body, max, expected) in table {
            assert_eq!(redactor.body(body, *max), *expected, "{body:?}");
        }
    }

    #[test]
    fn a_huge_body_is_scrubbed_from_its_start_only() {
        let mut body = br#"{"token":"t1","pad":""#.to_vec();
        body.extend(std::iter::repeat_n(b'x', MAX_PARSED_BODY));
        body.extend(br#"","password":"p2"}"#);
        let shown = Redactor::default().body(&body, 64);
        assert!(
            shown.starts_with(r#"{"token":"[redacted]","pad":"xxx"#),
            "{shown}"
        );
        assert!(shown.len() <= 64 + '…'.len_utf8());
    }
}
