use std::fmt;

use bytes::Bytes;
use reqwest::{Method, Response, Url};

/// The request whose earlier attempt may have been applied, as a verifier sees it.
///
/// Headers are left out: they may carry credentials, and a lookup has its own.
#[non_exhaustive]
#[derive(Clone)]
pub struct VerifyRequest {
    /// The request's method.
    pub method: Method,
    /// The request's URL (a lookup usually derives its own from it).
    pub url: Url,
    /// The request's idempotency key, when it carried one.
    pub idempotency_key: Option<String>,
    /// The request's body, when it was buffered (a streaming body is not kept).
    pub body: Option<Bytes>,
}

impl VerifyRequest {
    /// A request to verify, from its parts.
    #[must_use]
    pub fn new(
        method: Method,
        url: Url,
        idempotency_key: Option<String>,
        body: Option<Bytes>,
    ) -> Self {
        Self {
            method,
            url,
            idempotency_key,
            body,
        }
    }
}

impl fmt::Debug for VerifyRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // No URL and no body: they may hold secrets.
        f.debug_struct("VerifyRequest")
            .field("method", &self.method)
            .field("host", &self.url.host_str())
            .field("idempotency_key", &self.idempotency_key)
            .field("body_len", &self.body.as_ref().map(Bytes::len))
            .finish()
    }
}

/// What a verifier learned about an earlier attempt.
#[non_exhaustive]
#[derive(Debug)]
pub enum Verification {
    /// The attempt was applied; this response (the looked-up resource, say) ends the call.
    Applied(Response),
    /// The attempt was not applied: sending again is safe.
    NotApplied,
    /// The verifier could not tell.
    Unknown,
}

/// Marks a response that a verifier found, instead of one an attempt received.
///
/// # Example
///
/// ```
/// use steadfast::verify::Verified;
///
/// # fn report(response: &reqwest::Response) {
/// if Verified::of(response) {
///     println!("the first attempt was applied; this is what the lookup found");
/// }
/// # }
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified;

impl Verified {
    /// Whether `response` came from a verifier.
    #[must_use]
    pub fn of(response: &Response) -> bool {
        response.extensions().get::<Self>().is_some()
    }
}
