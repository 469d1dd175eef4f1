//! Where a call starts: its key is read or made, and reserved when the ledger records it.

use std::sync::Arc;

use reqwest::header::{Entry, HeaderValue, VacantEntry};
use reqwest::{Request, Response};
use tower_service::Service;

use super::layer::Settings;
use super::reserve::{Next, Reserving, drive};
use super::settle::Keyed;
use super::store::{Fingerprint, LedgerKey, Terms};
use super::{IdempotencyKey, InvalidKey, ResponseFuture};
use crate::error::{BoxError, Error};

/// Starts a call on `inner`, a ready service. A request with neither a key nor a method
/// that gets one passes through; a keyed call whose ledger must be waited on takes the
/// ready service into its boxed future and leaves a clone in its place.
pub(crate) fn call<S>(
    inner: &mut S,
    settings: &Arc<Settings>,
    mut request: Request,
) -> ResponseFuture<S::Future>
where
    S: Service<Request, Response = Response> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
{
    // A method that gets a key looks its header up once, to read it or to fill it in.
    let (key, named) = if settings.methods.contains(request.method()) {
        match request.headers_mut().entry(&settings.header) {
            Entry::Occupied(named) => (named_key(settings, named.get()), true),
            Entry::Vacant(slot) => (fresh_key(settings, slot), false),
        }
    } else {
        match request.headers().get(&settings.header) {
            Some(value) => (named_key(settings, value), true),
            None => return ResponseFuture::passthrough(inner.call(request)),
        }
    };
    let key = match key {
        Ok(key) => key,
        Err(error) => {
            give_back(request);
            return ResponseFuture::ready(Err(error));
        }
    };
    // The log layer's span already shows a key the request carried; a fresh one it learns
    // here (recorded twice, a text formatter would print it twice).
    // Without a subscriber there is no span to look up.
    if !named && tracing::dispatcher::has_been_set() {
        let span = tracing::Span::current();
        if !span.is_disabled() {
            span.record("steadfast.idempotency_key", key.as_str());
        }
    }
    // A key made here belongs to this call alone: no other call can present it, so the
    // ledger has nothing to answer for it, and recording it would only evict the entries
    // of keys that can repeat.
    let Some(store) = settings.store.as_ref().filter(|_| named) else {
        let keyed = Keyed::new(key, None);
        return ResponseFuture::sending(inner.call(request), Some(keyed));
    };
    let fingerprint = Fingerprint::new(
        request.method(),
        request.url(),
        request.body().and_then(reqwest::Body::as_bytes),
    );
    let call = Reserving {
        store: Arc::clone(store),
        settings: Arc::clone(settings),
        entry: LedgerKey::new(key.as_str(), request.method(), request.url()),
        fingerprint,
        key,
        verified: false,
    };
    let terms = Terms::new(settings.lease, settings.ttl);
    let answer = match call
        .store
        .reserve(&call.entry, &call.fingerprint, terms)
        .now()
    {
        Ok(answer) => answer,
        // The ledger does I/O: the ready service goes into the boxed call.
        Err(pending) => {
            keep_for_letter(&request);
            let ready = take_ready(inner);
            return ResponseFuture::boxed(Box::pin(call.run(ready, request, pending)));
        }
    };
    match call.next(answer, &request) {
        Next::Send(keyed) => ResponseFuture::sending(inner.call(request), Some(keyed)),
        Next::Done(result) => {
            give_back(request);
            ResponseFuture::ready(result)
        }
        // Waiting for another holder, or asking a verifier: the rare paths are boxed.
        next @ (Next::Wait(_) | Next::Verify(..)) => {
            keep_for_letter(&request);
            let ready = take_ready(inner);
            ResponseFuture::boxed(Box::pin(drive(ready, request, next)))
        }
    }
}

/// Gives a request that will not be sent back to a dead-letter layer above, if one asked:
/// a retry layer below, which would hand it back, never sees it.
fn give_back(request: Request) {
    if crate::telemetry::is_asked() {
        crate::telemetry::hand_back(request);
    }
}

/// Hands a copy of `request` to a dead-letter layer above, if one asked, before a path that
/// may end on the ledger's answer without sending it (the slow paths: a copy costs little
/// next to the ledger's round trip).
fn keep_for_letter(request: &Request) {
    if crate::telemetry::is_asked() {
        crate::telemetry::hand_back(crate::telemetry::copy_of(request));
    }
}

/// The ready service, for a boxed call; a clone takes its place.
fn take_ready<S: Clone>(inner: &mut S) -> S {
    let clone = inner.clone();
    std::mem::replace(inner, clone)
}

/// The key a request names in its header; an empty one is refused before anything is sent.
fn named_key(settings: &Settings, value: &HeaderValue) -> Result<IdempotencyKey, Error> {
    let text = value
        .to_str()
        .map_err(|_| Error::InvalidRequest(Box::new(InvalidKey::NotPrintable)))?;
    let key = settings.format.decode(text);
    if key.is_empty() {
        return Err(Error::InvalidRequest(Box::new(InvalidKey::Empty)));
    }
    Ok(IdempotencyKey::new(&key))
}

/// A fresh key, written into the request's empty header slot.
fn fresh_key(
    settings: &Settings,
    slot: VacantEntry<'_, HeaderValue>,
) -> Result<IdempotencyKey, Error> {
    let (key, value) = settings
        .maker
        .make(settings.format)
        .ok_or_else(|| Error::InvalidRequest(Box::new(InvalidKey::NotPrintable)))?;
    slot.insert(value);
    Ok(key)
}
