use std::sync::Arc;

use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};

use super::StoreError;

/// A finished call's response as the ledger keeps it: status, headers and body up to a cap.
///
/// Hop-by-hop headers and credentials (`Set-Cookie`, `Authorization`…) are never stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    status: StatusCode,
    // Shared: a ledger clones the snapshot when it keeps it and when it hands it back.
    headers: Arc<HeaderMap>,
    body: Option<Bytes>,
}

/// Headers that describe one connection or carry credentials: never replayed.
const NOT_STORED: &[&str] = &[
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
];

impl StoredResponse {
    /// A snapshot of a response: `body` is `None` when it was above the cap or unreadable.
    #[must_use]
    pub fn new(status: StatusCode, headers: &HeaderMap, body: Option<Bytes>) -> Self {
        let headers = Arc::new(
            headers
                .iter()
                .filter(|(name, _)| !NOT_STORED.contains(&name.as_str()))
                .map(|(name, value)| (name.clone(), owned(value)))
                .collect(),
        );
        Self {
            status,
            headers,
            body,
        }
    }

    /// The stored status.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stored headers.
    #[must_use]
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The stored body; `None` when it was larger than the cap (or could not be read), in
    /// which case only status and headers were kept.
    #[must_use]
    pub fn body(&self) -> Option<&Bytes> {
        self.body.as_ref()
    }

    /// Encodes the snapshot as bytes: a JSON head line, then the raw body.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let head = Head {
            status: self.status.as_u16(),
            headers: self
                .headers
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
                .collect(),
            has_body: self.body.is_some(),
        };
        // serde_json never writes a raw newline, so the first one ends the head.
        let mut out = serde_json::to_vec(&head).unwrap_or_default();
        out.push(b'\n');
        if let Some(body) = &self.body {
            out.extend_from_slice(body);
        }
        out
    }

    /// Decodes what [`to_bytes`](Self::to_bytes) wrote.
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] when the bytes are not a snapshot.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StoreError> {
        let split = bytes
            .iter()
            .position(|b| *b == b'\n')
            .ok_or(StoreError::Corrupt("no head line"))?;
        let head: Head = serde_json::from_slice(&bytes[..split])
            .map_err(|_| StoreError::Corrupt("unreadable head"))?;
        let status =
            StatusCode::from_u16(head.status).map_err(|_| StoreError::Corrupt("bad status"))?;
        let mut headers = HeaderMap::new();
        for (name, value) in head.headers {
            let name = HeaderName::try_from(name).map_err(|_| StoreError::Corrupt("bad header"))?;
            let value =
                HeaderValue::from_bytes(&value).map_err(|_| StoreError::Corrupt("bad header"))?;
            headers.append(name, value);
        }
        let body = head
            .has_body
            .then(|| Bytes::copy_from_slice(&bytes[split + 1..]));
        Ok(Self {
            status,
            headers: Arc::new(headers),
            body,
        })
    }

    /// The same snapshot without its body.
    #[must_use]
    pub(crate) fn without_body(&self) -> Self {
        Self {
            status: self.status,
            headers: Arc::clone(&self.headers),
            body: None,
        }
    }

    /// The size the snapshot takes in a ledger, roughly.
    #[must_use]
    pub fn weight(&self) -> usize {
        let headers: usize = self
            .headers
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len())
            .sum();
        64 + headers + self.body.as_ref().map_or(0, Bytes::len)
    }
}

/// A copy of `value` in its own allocation. A value parsed off the network is a view into
/// the connection's read buffer: kept in a ledger for hours, it would keep that whole
/// buffer (kilobytes) alive for a few bytes of header.
fn owned(value: &HeaderValue) -> HeaderValue {
    let mut copy = HeaderValue::from_maybe_shared(Bytes::copy_from_slice(value.as_bytes()))
        .unwrap_or_else(|_| value.clone());
    copy.set_sensitive(value.is_sensitive());
    copy
}

#[derive(Serialize, Deserialize)]
struct Head {
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
    has_body: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_drops_credentials() {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.insert("set-cookie", HeaderValue::from_static("session=abc"));
        headers.insert("connection", HeaderValue::from_static("keep-alive"));
        headers.append("x-request-id", HeaderValue::from_static("r1"));
        let body = Bytes::from_static(b"{\"id\":\"inv_1\"}\n\x00\xff");
        let stored = StoredResponse::new(StatusCode::CREATED, &headers, Some(body.clone()));

        assert!(stored.headers().get("set-cookie").is_none());
        assert!(stored.headers().get("connection").is_none());
        let back = StoredResponse::from_bytes(&stored.to_bytes()).expect("decodes");
        assert_eq!(back, stored);
        assert_eq!(back.body(), Some(&body));

        let without = StoredResponse::new(StatusCode::OK, &headers, None);
        assert_eq!(
            StoredResponse::from_bytes(&without.to_bytes())
                .expect("decodes")
                .body(),
            None
        );
    }

    #[test]
    fn values_are_copied_out_of_the_buffer_they_were_parsed_from() {
        // A value parsed off the network is a view of the connection's read buffer.
        let buffer =
            Bytes::from(b"application/json; charset=utf-8 and more of the buffer".to_vec());
        let mut headers = HeaderMap::new();
        let mut value = HeaderValue::from_maybe_shared(buffer.slice(..31)).expect("valid");
        value.set_sensitive(true);
        headers.insert("content-type", value);
        let stored = StoredResponse::new(StatusCode::OK, &headers, None);
        let kept = stored.headers().get("content-type").expect("kept");
        assert_eq!(kept, "application/json; charset=utf-8");
        assert!(kept.is_sensitive());
        assert_ne!(
            kept.as_bytes().as_ptr(),
            buffer.as_ptr(),
            "a copy, not a view"
        );
    }

    #[test]
    fn garbage_is_a_typed_error() {
        for bytes in [
            &b""[..],
            b"no newline",
            b"{}\n",
            b"{\"status\":99,\"headers\":[],\"has_body\":false}\n",
        ] {
            assert!(StoredResponse::from_bytes(bytes).is_err(), "{bytes:?}");
        }
    }
}
