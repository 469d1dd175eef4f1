//! Taking bodies for the log without taking them from the caller.

use reqwest::{Body, Request, Response, ResponseBuilderExt as _};

use crate::redact::Redactor;

/// Request bodies longer than this are copied only up to the display cap: the redactor
/// would not parse them as JSON anyway.
const MAX_COPIED: usize = 1 << 20;

/// A body as a log line shows it: redacted and capped, with its full length.
pub(crate) struct Shown {
    pub(crate) text: String,
    pub(crate) len: usize,
}

/// A copy of (the start of) a request body, kept until the call ends.
pub(crate) struct Captured {
    bytes: Vec<u8>,
    len: usize,
}

impl Captured {
    /// Copies a buffered request body; a streaming body cannot be read without consuming it.
    pub(crate) fn request(request: &Request, max_bytes: usize) -> Option<Self> {
        let bytes = request.body().and_then(Body::as_bytes)?;
        let kept = if bytes.len() <= MAX_COPIED {
            bytes
        } else {
            &bytes[..max_bytes.min(bytes.len())]
        };
        Some(Self {
            bytes: kept.to_vec(),
            len: bytes.len(),
        })
    }

    pub(crate) fn show(&self, redactor: &Redactor, max_bytes: usize) -> Shown {
        Shown {
            text: redactor.body(&self.bytes, max_bytes),
            len: self.len,
        }
    }
}

/// Reads a response's body for the log and rebuilds an equivalent response around the
/// bytes: same status, version, headers, extensions, URL and body.
pub(crate) async fn read_back(
    response: Response,
    redactor: &Redactor,
    max_bytes: usize,
) -> Result<(Response, Shown), reqwest::Error> {
    let url = response.url().clone();
    let (mut parts, body) = http::Response::from(response).into_parts();
    let bytes = Response::from(http::Response::new(body)).bytes().await?;
    // reqwest keeps the URL beside the `http` response, not in it: put it back.
    if let Ok(carrier) = http::Response::builder().url(url).body(()) {
        parts.extensions.extend(carrier.into_parts().0.extensions);
    }
    let shown = Shown {
        text: redactor.body(&bytes, max_bytes),
        len: bytes.len(),
    };
    Ok((
        Response::from(http::Response::from_parts(parts, bytes)),
        shown,
    ))
}
