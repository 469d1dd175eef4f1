use bytes::{Bytes, BytesMut};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::StoreError;

/// A finished call's response as the ledger keeps it: status, headers and body up to a cap.
///
/// Hop-by-hop headers and credentials (`Set-Cookie`, `Authorization`…) are never stored.
///
/// The snapshot is one allocation: its [encoding](Self::as_bytes), which holds the headers
/// and the body. Cloning it is a reference count; a ledger that keeps thousands of them
/// keeps one block each.
///
/// # Example
///
/// ```
/// use reqwest::StatusCode;
/// use reqwest::header::{HeaderMap, HeaderValue};
/// use steadfast::idempotency::store::StoredResponse;
///
/// let mut headers = HeaderMap::new();
/// headers.insert("content-type", HeaderValue::from_static("application/json"));
/// headers.insert("set-cookie", HeaderValue::from_static("session=abc"));
/// let stored = StoredResponse::new(StatusCode::CREATED, &headers, Some(br#"{"id":"inv_1"}"#));
///
/// assert_eq!(stored.status(), StatusCode::CREATED);
/// assert!(stored.to_headers().get("set-cookie").is_none(), "credentials are not kept");
/// let decoded = StoredResponse::from_bytes(stored.as_bytes())?;
/// assert_eq!(decoded, stored);
/// # Ok::<(), steadfast::idempotency::store::StoreError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct StoredResponse {
    status: StatusCode,
    /// The whole encoding (see [`as_bytes`](Self::as_bytes)).
    encoded: Bytes,
    /// Where the body starts in `encoded`; `None` when no body was kept.
    body_start: Option<usize>,
}

/// Whether a header is kept: those that describe one connection or carry credentials are
/// never replayed.
fn stored(name: &HeaderName) -> bool {
    !matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "set-cookie"
            | "authorization"
            | "cookie"
            | "content-length"
    )
}

/// The first byte of every encoding: the layout below, version 1.
const VERSION: u8 = 1;
/// Version, status (2 bytes), flags, header count (2 bytes).
const FIXED: usize = 6;
/// Flag: a body follows the headers.
const HAS_BODY: u8 = 1;
/// Flags: why no body was kept (bits 1 and 2); 0 for an encoding that does not say.
const OMITTED: u8 = 0b110;

/// Why a [`StoredResponse`] holds no body, though the server sent one.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyOmitted {
    /// The body was larger than the ledger's byte cap.
    TooLarge,
    /// The body did not arrive within the ledger's time bound.
    TooSlow,
    /// Reading the body failed.
    Unreadable,
}

impl BodyOmitted {
    fn bits(self) -> u8 {
        match self {
            Self::TooLarge => 0b010,
            Self::TooSlow => 0b100,
            Self::Unreadable => 0b110,
        }
    }

    fn from_bits(flags: u8) -> Option<Self> {
        match flags & OMITTED {
            0b010 => Some(Self::TooLarge),
            0b100 => Some(Self::TooSlow),
            0b110 => Some(Self::Unreadable),
            _ => None,
        }
    }
}

impl StoredResponse {
    /// A snapshot of a response: `body` is `None` when it was above the cap or unreadable.
    ///
    /// Headers and body are copied: a response read off the network is a view of the
    /// connection's read buffer, which a view kept in a ledger for hours would keep alive.
    /// Headers whose value is longer than 64 KiB are dropped.
    #[must_use]
    pub fn new(status: StatusCode, headers: &HeaderMap, body: Option<&[u8]>) -> Self {
        Self::encode(status, headers, body, None)
    }

    /// A snapshot of a response's status and headers whose body was not kept, saying why.
    pub(crate) fn omitting(status: StatusCode, headers: &HeaderMap, why: BodyOmitted) -> Self {
        Self::encode(status, headers, None, Some(why))
    }

    fn encode(
        status: StatusCode,
        headers: &HeaderMap,
        body: Option<&[u8]>,
        omitted: Option<BodyOmitted>,
    ) -> Self {
        let kept = || {
            headers
                .iter()
                .filter(|(name, value)| stored(name) && u16::try_from(value.len()).is_ok())
        };
        let (count, header_bytes) = kept().fold((0usize, 0usize), |(n, bytes), (name, value)| {
            (n + 1, bytes + 4 + name.as_str().len() + value.len())
        });
        let count = u16::try_from(count).unwrap_or(u16::MAX);
        let body_len = body.map_or(0, <[u8]>::len);
        let mut out = Vec::with_capacity(FIXED + header_bytes + body_len);
        out.push(VERSION);
        out.extend_from_slice(&status.as_u16().to_be_bytes());
        out.push(match (body, omitted) {
            (Some(_), _) => HAS_BODY,
            (None, why) => why.map_or(0, BodyOmitted::bits),
        });
        out.extend_from_slice(&count.to_be_bytes());
        for (name, value) in kept().take(usize::from(count)) {
            // Names are at most 64 KiB by construction (http's own limit), values by the
            // filter above.
            for field in [name.as_str().as_bytes(), value.as_bytes()] {
                out.extend_from_slice(
                    &u16::try_from(field.len()).unwrap_or(u16::MAX).to_be_bytes(),
                );
                out.extend_from_slice(field);
            }
        }
        let head = out.len();
        if let Some(body) = body {
            out.extend_from_slice(body);
        }
        Self {
            status,
            encoded: Bytes::from(out),
            body_start: body.map(|_| head),
        }
    }

    /// The stored status.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stored headers, as a new map.
    #[must_use]
    pub fn to_headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::with_capacity(self.header_count());
        for (name, value) in self.header_fields() {
            // Both were checked when the snapshot was made or decoded.
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name),
                HeaderValue::from_maybe_shared(value),
            ) {
                headers.append(name, value);
            }
        }
        headers
    }

    /// The stored body; `None` when it was not kept (see [`omitted`](Self::omitted)), in
    /// which case only status and headers were kept. It shares the snapshot's memory.
    #[must_use]
    pub fn body(&self) -> Option<Bytes> {
        self.body_start.map(|start| self.encoded.slice(start..))
    }

    /// Why the body was not kept, when the snapshot says (snapshots made with
    /// [`new`](Self::new) and no body do not).
    #[must_use]
    pub fn omitted(&self) -> Option<BodyOmitted> {
        self.encoded
            .get(3)
            .copied()
            .and_then(BodyOmitted::from_bits)
    }

    /// The same snapshot without its body, saying why.
    #[must_use]
    pub fn without_body(&self, why: BodyOmitted) -> Self {
        let start = self.body_start.unwrap_or(self.encoded.len());
        let mut head = BytesMut::from(&self.encoded[..start]);
        head[3] = why.bits();
        Self {
            status: self.status,
            encoded: head.freeze(),
            body_start: None,
        }
    }

    /// The snapshot's encoding, for stores that persist it: a version byte, the status, the
    /// headers as length-prefixed names and values, then the raw body.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.encoded
    }

    /// Decodes what [`as_bytes`](Self::as_bytes) returned.
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] when the bytes are not a snapshot.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StoreError> {
        let corrupt = StoreError::Corrupt;
        let [version, s1, s2, flags, c1, c2, ..] = *bytes else {
            return Err(corrupt("truncated head"));
        };
        if version != VERSION {
            return Err(corrupt("unknown snapshot version"));
        }
        let status = StatusCode::from_u16(u16::from_be_bytes([s1, s2]))
            .map_err(|_| corrupt("bad status"))?;
        let mut at = FIXED;
        for _ in 0..u16::from_be_bytes([c1, c2]) {
            let name = field(bytes, &mut at).ok_or(corrupt("truncated header"))?;
            let value = field(bytes, &mut at).ok_or(corrupt("truncated header"))?;
            HeaderName::from_bytes(name).map_err(|_| corrupt("bad header name"))?;
            HeaderValue::from_bytes(value).map_err(|_| corrupt("bad header value"))?;
        }
        let body_start = match flags {
            HAS_BODY => Some(at),
            f if f & !OMITTED == 0 && at == bytes.len() => None,
            f if f & !OMITTED == 0 => return Err(corrupt("bytes after the headers")),
            _ => return Err(corrupt("unknown flags")),
        };
        Ok(Self {
            status,
            encoded: Bytes::copy_from_slice(bytes),
            body_start,
        })
    }

    /// The size the snapshot takes in a ledger, roughly.
    #[must_use]
    pub fn weight(&self) -> usize {
        64 + self.encoded.len()
    }

    fn header_count(&self) -> usize {
        self.encoded
            .get(4..FIXED)
            .map_or(0, |c| usize::from(u16::from_be_bytes([c[0], c[1]])))
    }

    /// The stored (name, value) pairs, as slices of the encoding.
    fn header_fields(&self) -> impl Iterator<Item = (&[u8], Bytes)> + '_ {
        let mut at = FIXED;
        (0..self.header_count()).map_while(move |_| {
            let name = field(&self.encoded, &mut at)?;
            let value = field(&self.encoded, &mut at)?;
            Some((name, self.encoded.slice_ref(value)))
        })
    }
}

/// Reads a length-prefixed field at `*at` and moves past it; `None` when truncated.
fn field<'a>(bytes: &'a [u8], at: &mut usize) -> Option<&'a [u8]> {
    let len = bytes.get(*at..*at + 2)?;
    let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
    let value = bytes.get(*at + 2..*at + 2 + len)?;
    *at += 2 + len;
    Some(value)
}

impl std::fmt::Debug for StoredResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Header values and bodies may carry personal data: names and sizes only.
        f.debug_struct("StoredResponse")
            .field("status", &self.status)
            .field("headers", &self.header_count())
            .field(
                "body_bytes",
                &self.body_start.map(|s| self.encoded.len() - s),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.insert("set-cookie", HeaderValue::from_static("session=abc"));
        headers.insert("connection", HeaderValue::from_static("keep-alive"));
        headers.append("x-request-id", HeaderValue::from_static("r1"));
        headers.append("x-request-id", HeaderValue::from_static("r2"));
        headers
    }

    #[test]
    fn round_trips_and_drops_credentials() {
        let body = b"{\"id\":\"inv_1\"}\n\x00\xff";
        let stored = StoredResponse::new(StatusCode::CREATED, &headers(), Some(body));

        let kept = stored.to_headers();
        assert!(kept.get("set-cookie").is_none());
        assert!(kept.get("connection").is_none());
        assert_eq!(kept["content-type"], "application/json");
        let ids: Vec<_> = kept.get_all("x-request-id").iter().collect();
        assert_eq!(ids, ["r1", "r2"], "repeated fields keep their order");
        let back = StoredResponse::from_bytes(stored.as_bytes()).expect("decodes");
        assert_eq!(back, stored);
        assert_eq!(back.body().as_deref(), Some(&body[..]));
        assert_eq!(back.to_headers(), kept);

        let without = StoredResponse::new(StatusCode::OK, &headers(), None);
        let back = StoredResponse::from_bytes(without.as_bytes()).expect("decodes");
        assert_eq!(back.body(), None);
        assert_eq!(back.to_headers(), kept);
        let cut = stored.without_body(BodyOmitted::TooLarge);
        assert_eq!(cut.body(), None);
        assert_eq!(cut.status(), StatusCode::CREATED);
        assert_eq!(cut.to_headers(), kept);
        assert_eq!(stored.omitted(), None);
        assert_eq!(without.omitted(), None);
        for why in [
            BodyOmitted::TooLarge,
            BodyOmitted::TooSlow,
            BodyOmitted::Unreadable,
        ] {
            let cut = stored.without_body(why);
            let back = StoredResponse::from_bytes(cut.as_bytes()).expect("decodes");
            assert_eq!(back.omitted(), Some(why));
            assert_eq!(back.body(), None);
        }
    }

    #[test]
    fn connection_and_credential_headers_are_never_kept() {
        for name in [
            "connection",
            "keep-alive",
            "proxy-authenticate",
            "proxy-authorization",
            "te",
            "trailer",
            "transfer-encoding",
            "upgrade",
            "set-cookie",
            "authorization",
            "cookie",
            "content-length",
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(
                HeaderName::from_static(name),
                HeaderValue::from_static("fake"),
            );
            headers.insert("x-kept", HeaderValue::from_static("yes"));
            let kept = StoredResponse::new(StatusCode::OK, &headers, None).to_headers();
            assert!(kept.get(name).is_none(), "{name} was kept");
            assert_eq!(kept["x-kept"], "yes");
        }
    }

    #[test]
    fn an_empty_body_is_not_a_missing_one() {
        let stored = StoredResponse::new(StatusCode::NO_CONTENT, &HeaderMap::new(), Some(b""));
        let back = StoredResponse::from_bytes(stored.as_bytes()).expect("decodes");
        assert_eq!(back.body().as_deref(), Some(&b""[..]));
    }

    #[test]
    fn the_snapshot_is_a_copy_of_what_it_was_made_from() {
        // A value parsed off the network is a view of the connection's read buffer.
        let buffer =
            Bytes::from(b"application/json; charset=utf-8 and more of the buffer".to_vec());
        let mut headers = HeaderMap::new();
        let value = HeaderValue::from_maybe_shared(buffer.slice(..31)).expect("valid");
        headers.insert("content-type", value);
        let stored = StoredResponse::new(StatusCode::OK, &headers, Some(&buffer[..14]));
        let range = buffer.as_ptr_range();
        assert!(
            !range.contains(&stored.as_bytes().as_ptr()),
            "a copy, not a view"
        );
        assert_eq!(
            stored.to_headers()["content-type"],
            "application/json; charset=utf-8"
        );
        assert_eq!(stored.body().as_deref(), Some(&b"application/js"[..]));
        assert_eq!(stored.weight(), 64 + stored.as_bytes().len());
    }

    #[test]
    fn debug_shows_no_values() {
        let stored = StoredResponse::new(StatusCode::OK, &headers(), Some(b"secret body"));
        let shown = format!("{stored:?}");
        assert!(
            !shown.contains("secret") && !shown.contains("r1"),
            "{shown}"
        );
        assert!(shown.contains("body_bytes: Some(11)"), "{shown}");
    }

    #[test]
    fn garbage_is_a_typed_error() {
        let good = StoredResponse::new(StatusCode::OK, &headers(), None);
        let truncated = &good.as_bytes()[..good.as_bytes().len() - 1];
        let mut trailing = good.as_bytes().to_vec();
        trailing.push(b'x');
        for bytes in [
            &b""[..],
            b"\x01\x00",
            b"\x02\x00\xc8\x00\x00\x00",
            b"\x01\x00\x63\x00\x00\x00",
            b"\x01\x00\xc8\x08\x00\x00",
            b"\x01\x00\xc8\x03\x00\x00",
            b"\x01\x00\xc8\x00\x00\x01\x00\x02a",
            b"\x01\x00\xc8\x00\x00\x01\x00\x02a b\x00\x00",
            truncated,
            &trailing,
        ] {
            assert!(
                matches!(
                    StoredResponse::from_bytes(bytes),
                    Err(StoreError::Corrupt(_))
                ),
                "{bytes:?}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn decoding_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let _ = StoredResponse::from_bytes(&bytes);
        }
    }
}
