//! The origin of a URL (scheme, host and port) as text, on the ground floor: every layer
//! that keeps state per host (the circuit breaker and bulkhead) keys it the same way, and
//! can look a known origin up without allocating.

use reqwest::Url;

/// Origins up to about a hundred bytes are written on the stack.
pub(crate) const INLINE: usize = 128;

/// Writes `scheme://host:port` of `url` part by part into `push` (the port is the scheme's
/// default when the URL names none); stops and returns `false` as soon as `push` does.
pub(crate) fn write_origin(url: &Url, mut push: impl FnMut(&[u8]) -> bool) -> bool {
    let scheme = url.scheme().as_bytes();
    let host = url.host_str().unwrap_or_default().as_bytes();
    let fits = push(scheme) && push(b"://") && push(host);
    match url.port_or_known_default() {
        Some(port) => fits && push(b":") && push(decimal(port, &mut [0; 5])),
        None => fits,
    }
}

/// The origin of `url` as an owned string.
pub(crate) fn origin(url: &Url) -> String {
    let mut text = Vec::with_capacity(INLINE);
    write_origin(url, |part| {
        text.extend_from_slice(part);
        true
    });
    // Every part is text from a parsed URL.
    String::from_utf8_lossy(&text).into_owned()
}

/// The origin of `url` in `buffer`, `after` bytes in (a caller's tag goes first), for a
/// lookup that allocates nothing; `None` when it does not fit.
///
/// Measured on every call of a per-host layer: the length is checked once and the parts
/// copied without a closure per part.
#[inline]
pub(crate) fn origin_inline<'b>(
    url: &Url,
    buffer: &'b mut [u8; INLINE],
    after: usize,
) -> Option<&'b [u8]> {
    let scheme = url.scheme().as_bytes();
    let host = url.host_str().unwrap_or_default().as_bytes();
    let mut digits = [0; 5];
    let port: &[u8] = match url.port_or_known_default() {
        Some(port) => decimal(port, &mut digits),
        None => &[],
    };
    let colon = usize::from(!port.is_empty());
    let len = after + scheme.len() + 3 + host.len() + colon + port.len();
    if len > INLINE {
        return None;
    }
    let mut at = after;
    for part in [scheme, b"://", host, &b":"[..colon], port] {
        buffer[at..at + part.len()].copy_from_slice(part);
        at += part.len();
    }
    Some(&buffer[..len])
}

/// `n` in decimal, written at the end of `digits`.
fn decimal(mut n: u16, digits: &mut [u8; 5]) -> &[u8] {
    let mut start = digits.len();
    loop {
        start -= 1;
        // A digit: `n % 10` is below 10.
        digits[start] = b'0' + u8::try_from(n % 10).unwrap_or(0);
        n /= 10;
        if n == 0 {
            return &digits[start..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_with_and_without_allocating() {
        let cases = [
            (
                "https://api.example.com/orders",
                "https://api.example.com:443",
            ),
            ("http://api.example.com/orders", "http://api.example.com:80"),
            (
                "https://API.example.com:8443/x?token=1",
                "https://api.example.com:8443",
            ),
            (
                "https://user:secret@api.example.com/",
                "https://api.example.com:443",
            ),
            ("http://127.0.0.1:9000/", "http://127.0.0.1:9000"),
            ("http://[::1]:9000/", "http://[::1]:9000"),
            ("http://host:0/", "http://host:0"),
            ("http://host:65535/", "http://host:65535"),
        ];
        for (url, expected) in cases {
            let url: Url = url.parse().expect("valid url");
            assert_eq!(origin(&url), expected);
            let mut buffer = [b'#'; INLINE];
            let inline = origin_inline(&url, &mut buffer, 1).expect("fits");
            assert_eq!(&inline[1..], expected.as_bytes());
        }
        let long: Url = format!("https://{}.example/", "a".repeat(INLINE))
            .parse()
            .expect("valid url");
        assert_eq!(origin_inline(&long, &mut [0; INLINE], 0), None);
        assert!(origin(&long).ends_with(".example:443"));
    }
}
