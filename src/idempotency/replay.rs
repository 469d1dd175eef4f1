//! Answering a call from the ledger, and putting the call's key on its outcome.

use reqwest::{Request, Response};

use super::IdempotencyKey;
use super::body::rebuild;
use super::layer::Settings;
use super::store::StoredResponse;
use crate::classify::{Outcome, Verdict};
use crate::error::{Error, Failure, NotRetried};

/// The stored outcome of an earlier call with the same key, without any network I/O.
///
/// A replay made no attempt: a failure replayed reports 0 attempts. A stored response
/// whose body was not kept is replayed with an empty body and its
/// [`BodyOmitted`](super::store::BodyOmitted) in the extensions.
pub(crate) fn replay(
    settings: &Settings,
    stored: &StoredResponse,
    request: &Request,
    key: &IdempotencyKey,
) -> Result<Response, Error> {
    let url = request.url();
    let mut response = rebuild(
        stored.status(),
        reqwest::Version::HTTP_11,
        stored.to_headers(),
        http::Extensions::new(),
        stored.body().unwrap_or_default().into(),
        url.clone(),
    );
    response.extensions_mut().insert(Replayed);
    if let Some(why) = stored.omitted() {
        response.extensions_mut().insert(why);
    }
    let classification = settings.classifier.classify(Outcome::Response(&response));
    tracing::info!(
        steadfast.idempotency_key = %key,
        http.response.status_code = stored.status().as_u16(),
        "replayed from the ledger"
    );
    crate::metrics::ledger_replayed(stored.status());
    if classification.verdict() == Verdict::Success {
        return with_key(Ok(response), key.clone());
    }
    let failure = Failure::new(
        request.method().clone(),
        None,
        0,
        classification,
        Some(response),
    )
    .at(url);
    with_key(
        Err(Error::NotRetried {
            why: NotRetried::Permanent,
            failure: Box::new(failure),
            source: None,
        }),
        key.clone(),
    )
}

/// `result` with the call's key on it.
pub(crate) fn with_key(
    mut result: Result<Response, Error>,
    key: IdempotencyKey,
) -> Result<Response, Error> {
    put_key(&mut result, key);
    result
}

/// Puts the call's key on its response, or on its error.
pub(crate) fn put_key(result: &mut Result<Response, Error>, key: IdempotencyKey) {
    match result {
        Ok(response) => {
            response.extensions_mut().insert(key);
        }
        Err(error) => error.set_idempotency_key(key),
    }
}

/// Marks a response that came from the ledger, not from the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replayed;

impl Replayed {
    /// Whether `response` was replayed from the ledger.
    #[must_use]
    pub fn is(response: &reqwest::Response) -> bool {
        response.extensions().get::<Self>().is_some()
    }
}
