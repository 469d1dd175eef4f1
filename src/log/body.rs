//! Taking bodies for the log without taking them from the caller.

use bytes::Bytes;
use http_body_util::BodyExt as _;
use reqwest::{Body, Request, Response};
use tokio::time::Instant;

use crate::body::{Prefixed, Tail, join, split};
use crate::redact::Redactor;

/// Request bodies longer than this are copied only up to the display cap: the redactor
/// would not parse them as JSON anyway.
const MAX_COPIED: usize = 1 << 20;

/// What a log line shows of a body whose start was not read in time.
const LATE: &str = "<the body was not read in time>";

/// What a log line shows of a body that failed while it was read.
const FAILED: &str = "<the body could not be read>";

/// A body as a log line shows it: redacted and capped, with its full length when known.
pub(crate) struct Shown {
    pub(crate) text: String,
    pub(crate) len: Option<u64>,
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
            len: u64::try_from(self.len).ok(),
        }
    }
}

/// Reads the start of a response's body for the log: at most `max_bytes` and one byte
/// more (to know it was cut), and only until `until`. The response handed back is the
/// same response whose body is what was read followed by the rest, unread: the caller
/// reads the whole body, or meets the error the read met, exactly as without the log.
pub(crate) async fn read_back(
    response: Response,
    redactor: &Redactor,
    max_bytes: usize,
    until: Instant,
) -> (Response, Shown) {
    let declared = response.content_length();
    let (parts, mut body) = split(response);
    let mut head: Vec<Bytes> = Vec::new();
    let mut read = 0_usize;
    let outcome = tokio::time::timeout_at(until, async {
        while read <= max_bytes {
            match body.frame().await {
                None => return Ok(true),
                // Trailers are not shown, and `bytes()` drops them as well.
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data()
                        && !data.is_empty()
                    {
                        read += data.len();
                        head.push(data);
                    }
                }
                Some(Err(e)) => return Err(e),
            }
        }
        Ok(false)
    })
    .await;
    let prefix = contiguous(&head, max_bytes.saturating_add(1));
    let (text, tail) = match outcome {
        Ok(Ok(true)) => {
            let text = redactor.body(&prefix, max_bytes);
            let shown = Shown {
                text,
                len: u64::try_from(read).ok(),
            };
            // Whole: hand it back buffered, as `bytes()` would have left it.
            let whole = if head.len() == 1 {
                head.pop().unwrap_or_default()
            } else {
                prefix
            };
            return (join(parts, Body::from(whole)), shown);
        }
        Ok(Ok(false)) => (redactor.body(&prefix, max_bytes), Tail::Rest(body)),
        Ok(Err(e)) if e.is_timeout() => (late(redactor, &prefix, max_bytes), Tail::Error(e)),
        Ok(Err(e)) => (FAILED.to_owned(), Tail::Error(e)),
        Err(_elapsed) => (late(redactor, &prefix, max_bytes), Tail::Rest(body)),
    };
    let rebuilt = Prefixed::new(head, tail);
    (
        join(parts, Body::wrap(rebuilt)),
        Shown {
            text,
            len: declared,
        },
    )
}

/// The text of a body that was not read in time: what came, and that the rest did not.
fn late(redactor: &Redactor, prefix: &[u8], max_bytes: usize) -> String {
    if prefix.is_empty() {
        return LATE.to_owned();
    }
    format!("{} {LATE}", redactor.body(prefix, max_bytes))
}

/// The first `limit` bytes of `chunks` in one piece (no copy for a single chunk).
fn contiguous(chunks: &[Bytes], limit: usize) -> Bytes {
    match chunks {
        [] => Bytes::new(),
        [one] => one.slice(..one.len().min(limit)),
        many => {
            let mut out = Vec::with_capacity(limit.min(many.iter().map(Bytes::len).sum()));
            for chunk in many {
                let room = limit - out.len();
                if room == 0 {
                    break;
                }
                out.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Bytes::from(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contiguous_takes_at_most_the_limit() {
        let chunks = [Bytes::from("abc"), Bytes::from("def"), Bytes::from("gh")];
        let table: [(&[Bytes], usize, &str); 5] = [
            (&[], 4, ""),
            (&chunks[..1], 2, "ab"),
            (&chunks[..1], 9, "abc"),
            (&chunks, 4, "abcd"),
            (&chunks, 100, "abcdefgh"),
        ];
        for (chunks, limit, expected) in table {
            assert_eq!(contiguous(chunks, limit), expected.as_bytes(), "{limit}");
        }
    }
}
