//! URLs: userinfo, query parameters in every spelling a server parses, path templates.

use std::borrow::Cow;
use std::fmt;

use reqwest::Url;

use super::URL_REDACTED;
use super::path::write_path;
use super::redactor::Redactor;

/// A URL rendered without secrets; see [`Redactor::url`].
pub struct RedactedUrl<'a> {
    pub(crate) redactor: &'a Redactor,
    pub(crate) url: &'a Url,
}

impl fmt::Display for RedactedUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = self.url;
        f.write_str(url.scheme())?;
        let Some(host) = url.host_str() else {
            // Not a host URL (`data:`, `mailto:`): all of it may be payload.
            return write!(f, ":{URL_REDACTED}");
        };
        f.write_str("://")?;
        if !url.username().is_empty() || url.password().is_some() {
            f.write_str(URL_REDACTED)?;
            if url.password().is_some() {
                write!(f, ":{URL_REDACTED}")?;
            }
            f.write_str("@")?;
        }
        f.write_str(host)?;
        if let Some(port) = url.port() {
            write!(f, ":{port}")?;
        }
        self.redactor
            .write_path_and_query(f, url.path(), url.query())
    }
}

impl fmt::Debug for RedactedUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

impl Redactor {
    /// Writes a path and query with secret path segments and sensitive query values
    /// masked. Pairs are split at `&` and `;`, as servers do.
    pub(crate) fn write_path_and_query(
        &self,
        f: &mut dyn fmt::Write,
        path: &str,
        query: Option<&str>,
    ) -> fmt::Result {
        write_path(f, path, &self.path_templates(), URL_REDACTED)?;
        let Some(query) = query else {
            return Ok(());
        };
        f.write_char('?')?;
        let mut rest = query;
        loop {
            let end = rest.find(['&', ';']).unwrap_or(rest.len());
            let pair = &rest[..end];
            match pair.split_once('=') {
                Some((name, value))
                    if self.is_sensitive_query_param(&decode(name))
                        || self.is_secret_bearing_url(value) =>
                {
                    write!(f, "{name}={URL_REDACTED}")?;
                }
                _ => f.write_str(pair)?,
            }
            if end == rest.len() {
                return Ok(());
            }
            f.write_str(&rest[end..=end])?;
            rest = &rest[end + 1..];
        }
    }

    /// Whether a query value is a URL (`redirect_uri=https%3A%2F%2F…`) that itself holds
    /// something to mask: such a value is masked whole, since showing it decoded would
    /// change what the URL says.
    fn is_secret_bearing_url(&self, value: &str) -> bool {
        let encoded = value
            .as_bytes()
            .windows(9)
            .any(|w| w.eq_ignore_ascii_case(b"%3A%2F%2F"));
        if !encoded && !value.contains("://") {
            return false;
        }
        matches!(self.text(&decode(value)), Cow::Owned(_))
    }

    /// A URL found in free text, redacted; relative references (`/path?query`) too.
    pub(crate) fn url_text<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let mut out = String::new();
        let written = if text.starts_with('/') && !text.starts_with("//") {
            // A relative reference, as in `Location: /callback?code=…`; the fragment is
            // dropped as in absolute URLs.
            let reference = text.split_once('#').map_or(text, |(before, _)| before);
            let (path, query) = match reference.split_once('?') {
                Some((path, query)) => (path, Some(query)),
                None => (reference, None),
            };
            self.write_path_and_query(&mut out, path, query).is_ok()
        } else if let Ok(url) = Url::parse(text) {
            use fmt::Write as _;
            write!(out, "{}", self.url(&url)).is_ok()
        } else {
            // Not parseable, yet it starts like a URL: it may hold anything.
            let scheme = text.split_once("://").map_or("", |(s, _)| s);
            out = format!("{scheme}://{URL_REDACTED}");
            true
        };
        if written && out != text {
            Cow::Owned(out)
        } else {
            Cow::Borrowed(text)
        }
    }
}

/// Percent-decodes a query name (`+` is a space) so that `%74oken` is seen as `token`
/// and `user%5Bpassword%5D` as `user[password]`.
pub(crate) fn decode(name: &str) -> Cow<'_, str> {
    if !name.contains(['%', '+']) {
        return Cow::Borrowed(name);
    }
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match hex_byte(bytes[i + 1], bytes[i + 2]) {
                Some(b) => {
                    out.push(b);
                    i += 2;
                }
                None => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

pub(crate) fn hex_byte(high: u8, low: u8) -> Option<u8> {
    let digit = |b: u8| char::from(b).to_digit(16);
    let value = digit(high)? * 16 + digit(low)?;
    u8::try_from(value).ok()
}

/// Where a URL that starts at `i` ends, if one starts there: `http://`, `https://`,
/// `ws://` or `wss://` in any case, not glued to a word before it.
pub(crate) fn url_end(bytes: &[u8], i: usize) -> Option<usize> {
    if i > 0 && bytes[i - 1].is_ascii_alphanumeric() {
        return None;
    }
    let rest = &bytes[i..];
    let scheme = [&b"https://"[..], b"http://", b"wss://", b"ws://"]
        .into_iter()
        .find(|scheme| {
            rest.len() >= scheme.len() && rest[..scheme.len()].eq_ignore_ascii_case(scheme)
        })?;
    let mut end = i + scheme.len();
    while end < bytes.len() && !is_url_stop(bytes[end]) {
        end += 1;
    }
    // Punctuation that ends a sentence is not part of the URL.
    while end > i + scheme.len() && matches!(bytes[end - 1], b'.' | b',' | b')' | b':' | b';') {
        end -= 1;
    }
    Some(end)
}

fn is_url_stop(b: u8) -> bool {
    b.is_ascii_whitespace()
        || b.is_ascii_control()
        || matches!(
            b,
            b'"' | b'\'' | b'<' | b'>' | b'\\' | b'`' | b'{' | b'}' | b'|' | b'^'
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::RedactConfig;

    fn url(text: &str) -> Url {
        text.parse().expect("valid url")
    }

    #[test]
    fn urls() {
        let redactor = Redactor::new(
            &RedactConfig::default()
                .query_param("partner_ref")
                .path("/hooks/{secret}"),
        )
        .expect("valid config");
        let table: &[(&str, &str)] = &[
            (
                "http://127.0.0.1:8080/orders",
                "http://127.0.0.1:8080/orders",
            ),
            ("https://api.example.com/", "https://api.example.com/"),
            (
                "https://ada:pw@api.example.com/x",
                "https://REDACTED:REDACTED@api.example.com/x",
            ),
            (
                "https://ada@api.example.com/x",
                "https://REDACTED@api.example.com/x",
            ),
            (
                "http://h/o?token=t&page=2&api_key=k&apiKey=k&key=k&sig=s&signature=s",
                "http://h/o?token=REDACTED&page=2&api_key=REDACTED&apiKey=REDACTED&key=REDACTED&sig=REDACTED&signature=REDACTED",
            ),
            (
                "http://h/o?access_token=a&client_secret=c&password=p&Password=p",
                "http://h/o?access_token=REDACTED&client_secret=REDACTED&password=REDACTED&Password=REDACTED",
            ),
            (
                "http://h/o?partner_ref=s&partnerRefs=s",
                "http://h/o?partner_ref=REDACTED&partnerRefs=REDACTED",
            ),
            (
                "http://h/o?%74oken=t&a+b=c",
                "http://h/o?%74oken=REDACTED&a+b=c",
            ),
            (
                "http://h/o?token&=x&&status=open",
                "http://h/o?token&=x&&status=open",
            ),
            (
                "http://h/o?monkey=1&keyword=2",
                "http://h/o?monkey=1&keyword=2",
            ),
            // Names the probe of issue 13 found unmasked.
            (
                "http://h/o?auth=a&code=c&jwt=j&sessionid=s&session_id=s&sid=s",
                "http://h/o?auth=REDACTED&code=REDACTED&jwt=REDACTED&sessionid=REDACTED&session_id=REDACTED&sid=REDACTED",
            ),
            (
                "http://h/o?token%5B%5D=a&user%5Bpassword%5D=b&user%5bname%5d=ada",
                "http://h/o?token%5B%5D=REDACTED&user%5Bpassword%5D=REDACTED&user%5bname%5d=ada",
            ),
            (
                "http://h/o?token[]=a&token[0]=b&card[number]=c&user.password=d&user[name]=ada",
                "http://h/o?token[]=REDACTED&token[0]=REDACTED&card[number]=REDACTED&user.password=REDACTED&user[name]=ada",
            ),
            (
                "http://h/o?a=1;token=t;b=2&TOKEN=u",
                "http://h/o?a=1;token=REDACTED;b=2&TOKEN=REDACTED",
            ),
            ("http://h/o#access_token=t", "http://h/o"),
            (
                "http://[::1]:9/o?token=t",
                "http://[::1]:9/o?token=REDACTED",
            ),
            (
                "http://h/o?redirect_uri=https%3A%2F%2Fh%2Fcb%3Faccess_token%3Dt&n=1",
                "http://h/o?redirect_uri=REDACTED&n=1",
            ),
            (
                "http://h/o?next=https://h/cb?page=2&n=1",
                "http://h/o?next=https://h/cb?page=2&n=1",
            ),
            (
                "http://h/o?next=https%3a%2f%2fu%3Ap%40h%2F",
                "http://h/o?next=REDACTED",
            ),
            ("data:text/plain,s3cr3t", "data:REDACTED"),
            // Path templates: the defaults and a configured one.
            (
                "https://api.telegram.org/bot123:AAH/sendMessage?chat_id=1",
                "https://api.telegram.org/botREDACTED/sendMessage?chat_id=1",
            ),
            (
                "https://hooks.slack.com/services/T000/B000/XXXX",
                "https://hooks.slack.com/services/T000/B000/REDACTED",
            ),
            (
                "http://h/basic-auth/ada/pw",
                "http://h/basic-auth/ada/REDACTED",
            ),
            ("http://h/hooks/abc/more", "http://h/hooks/REDACTED/more"),
        ];
        for (input, expected) in table {
            assert_eq!(redactor.url(&url(input)).to_string(), *expected, "{input}");
        }
        assert_eq!(
            format!("{:?}", redactor.url(&url("http://h/?token=t"))),
            "\"http://h/?token=REDACTED\""
        );
    }

    #[test]
    fn urls_in_text() {
        let redactor = Redactor::default();
        let table: &[(&str, &str)] = &[
            ("https://h/x", "https://h/x"),
            ("https://h/x?token=t", "https://h/x?token=REDACTED"),
            ("https://u:p@h/", "https://REDACTED:REDACTED@h/"),
            ("/cb?code=c&state=s", "/cb?code=REDACTED&state=s"),
            ("/bot1:A/getMe#frag", "/botREDACTED/getMe"),
            ("/plain", "/plain"),
            ("https://", "https://REDACTED"),
            ("http://[::1", "http://REDACTED"),
        ];
        for (input, expected) in table {
            assert_eq!(redactor.url_text(input), *expected, "{input}");
        }
        assert!(matches!(redactor.url_text("https://h/x"), Cow::Borrowed(_)));
    }

    #[test]
    fn url_ends() {
        let table: &[(&str, Option<&str>)] = &[
            ("see https://h/x?a=1. Then", None),
            ("https://h/x?a=1. Then", Some("https://h/x?a=1")),
            ("HTTP://h/x>", Some("HTTP://h/x")),
            ("wss://h/x\"", Some("wss://h/x")),
            ("xhttps://h", None),
            ("ftp://h", None),
        ];
        for (text, expected) in table {
            let found = url_end(text.as_bytes(), 0).map(|end| &text[..end]);
            assert_eq!(found, *expected, "{text}");
        }
    }

    #[test]
    fn decoding() {
        for (name, expected) in [
            ("%74oken", "token"),
            ("a+b", "a b"),
            ("%", "%"),
            ("%7", "%7"),
            ("%zz", "%zz"),
            ("user%5Bpassword%5D", "user[password]"),
            ("%ff", "\u{fffd}"),
        ] {
            assert_eq!(decode(name), expected, "{name}");
        }
    }
}
