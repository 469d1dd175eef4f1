use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use pin_project_lite::pin_project;
use reqwest::header::{Entry, HeaderValue, VacantEntry};
use reqwest::{Request, Response, ResponseBuilderExt, Url};
use tokio::time::Instant;
use tower_service::Service;

use super::layer::Settings;
use super::store::{
    IdempotencyStore, LeaseToken, LedgerKey, Reservation, StoreError, StoreFuture, StoredResponse,
};
use super::{CompleteOn, IdempotencyKey, InFlight, LedgerDown, Replayed};
use crate::boxed::BoxResponseFuture;
use crate::classify::{Outcome, Verdict};
use crate::error::{BoxError, Error, Failure, NotRetried};

pin_project! {
    /// The future returned by [`Idempotency`](super::Idempotency).
    ///
    /// The inner call runs in place: for a request that needs no key, for a keyed call
    /// without a ledger, and for a keyed call whose ledger answered at once (the memory
    /// ledger always does). Reading a recorded call's body, and waiting on a ledger that
    /// does I/O or on a key in flight elsewhere, is boxed.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Sending {
            #[pin]
            inner: F,
            // `None` for a request that needs no key.
            keyed: Option<Keyed>,
        },
        Boxed {
            future: BoxResponseFuture,
        },
        Ready {
            result: Option<Result<Response, Error>>,
        },
    }
}

/// A keyed call in flight.
pub(crate) struct Keyed {
    key: IdempotencyKey,
    /// The reservation the call holds, when a ledger records it.
    lease: Option<Lease>,
}

/// A reservation: what recording or freeing the key after the call needs.
struct Lease {
    store: Arc<dyn IdempotencyStore>,
    settings: Arc<Settings>,
    entry: LedgerKey,
    token: LeaseToken,
}

impl<F> ResponseFuture<F> {
    /// The inner call, with nothing to do after it.
    #[inline(always)]
    pub(crate) fn passthrough(inner: F) -> Self {
        Self::sending(inner, None)
    }

    #[inline(always)]
    fn sending(inner: F, keyed: Option<Keyed>) -> Self {
        Self {
            state: State::Sending { inner, keyed },
        }
    }

    fn boxed(future: BoxResponseFuture) -> Self {
        Self {
            state: State::Boxed { future },
        }
    }

    fn ready(result: Result<Response, Error>) -> Self {
        Self {
            state: State::Ready {
                result: Some(result),
            },
        }
    }

    #[cfg(test)]
    pub(crate) fn is_passthrough(&self) -> bool {
        matches!(self.state, State::Sending { keyed: None, .. })
    }

    #[cfg(test)]
    pub(crate) fn is_boxed(&self) -> bool {
        matches!(self.state, State::Boxed { .. })
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Sending { keyed: None, .. } => "passthrough",
            State::Sending { keyed: Some(_), .. } => "sending",
            State::Boxed { .. } => "boxed",
            State::Ready { .. } => "ready",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}

impl<F, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response, E>>,
    E: Into<BoxError>,
{
    type Output = Result<Response, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut future = match self.as_mut().project().state.project() {
            StateProj::Sending { inner, keyed } => {
                let mut result = ready!(inner.poll(cx)).map_err(|e| Error::from_inner(e.into()));
                let Some(keyed) = keyed.take() else {
                    return Poll::Ready(result);
                };
                let Some(lease) = keyed.lease else {
                    // The key goes on the outcome where it lies.
                    put_key(&mut result, keyed.key);
                    return Poll::Ready(result);
                };
                match lease.settle(keyed.key, result) {
                    Settled::Now(result) => return Poll::Ready(result),
                    Settled::Later(future) => future,
                }
            }
            StateProj::Boxed { future } => return future.as_mut().poll(cx),
            StateProj::Ready { result } => {
                return Poll::Ready(
                    result
                        .take()
                        .expect("idempotency future polled after completion"),
                );
            }
        };
        let polled = future.as_mut().poll(cx);
        // The inner future is done: its space goes to the rest of the call.
        self.project().state.set(State::Boxed { future });
        polled
    }
}

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
        Err(error) => return ResponseFuture::ready(Err(error)),
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
        let keyed = Keyed { key, lease: None };
        return ResponseFuture::sending(inner.call(request), Some(keyed));
    };
    let call = Reserving {
        store: Arc::clone(store),
        settings: Arc::clone(settings),
        entry: LedgerKey::new(key.as_str(), request.method(), request.url()),
        key,
    };
    let answer = match call.store.reserve(&call.entry, settings.lease).now() {
        Ok(answer) => answer,
        // The ledger does I/O: the ready service goes into the boxed call.
        Err(pending) => {
            let ready = take_ready(inner);
            return ResponseFuture::boxed(Box::pin(call.run(ready, request, pending)));
        }
    };
    match call.next(answer, &request) {
        Next::Send(keyed) => ResponseFuture::sending(inner.call(request), Some(keyed)),
        Next::Done(result) => ResponseFuture::ready(result),
        Next::Wait(call) => {
            let ready = take_ready(inner);
            ResponseFuture::boxed(Box::pin(call.wait_then_run(ready, request)))
        }
    }
}

/// The ready service, for a boxed call; a clone takes its place.
fn take_ready<S: Clone>(inner: &mut S) -> S {
    let clone = inner.clone();
    std::mem::replace(inner, clone)
}

/// The key a request names in its header.
fn named_key(settings: &Settings, value: &HeaderValue) -> Result<IdempotencyKey, Error> {
    value
        .to_str()
        .map(|text| IdempotencyKey::new(&settings.format.decode(text)))
        .map_err(|e| Error::InvalidRequest(Box::new(e)))
}

/// A fresh key, written into the request's empty header slot.
fn fresh_key(
    settings: &Settings,
    slot: VacantEntry<'_, HeaderValue>,
) -> Result<IdempotencyKey, Error> {
    let (key, value) = settings
        .maker
        .make(settings.format)
        .ok_or_else(|| Error::InvalidRequest("idempotency key is not printable ASCII".into()))?;
    slot.insert(value);
    Ok(key)
}

/// A keyed call with a ledger, before its key is reserved.
struct Reserving {
    store: Arc<dyn IdempotencyStore>,
    settings: Arc<Settings>,
    key: IdempotencyKey,
    entry: LedgerKey,
}

/// What a reservation's answer leaves to do.
enum Next {
    /// Send the request; settle the lease, if one is held, with the outcome.
    Send(Keyed),
    /// The call's end, without sending: a replay, or an error.
    Done(Result<Response, Error>),
    /// Another call holds the key: wait for it.
    Wait(Reserving),
}

impl Reserving {
    /// What the configuration does with a reservation's answer.
    fn next(self, answer: Result<Reservation, StoreError>, request: &Request) -> Next {
        let Self {
            store,
            settings,
            key,
            entry,
        } = self;
        let lease = match answer {
            Ok(Reservation::Reserved(token)) => Some(Lease {
                store,
                settings,
                entry,
                token,
            }),
            Ok(Reservation::Completed(stored)) => {
                return Next::Done(replay(&settings, &stored, request, &key));
            }
            Ok(Reservation::InFlight) if settings.in_flight == InFlight::Fail => {
                return Next::Done(Err(Error::IdempotencyKeyInFlight {
                    key: key.to_string(),
                    waited: Duration::ZERO,
                }));
            }
            Ok(Reservation::InFlight) => {
                return Next::Wait(Self {
                    store,
                    settings,
                    key,
                    entry,
                });
            }
            Err(source) if settings.ledger_down == LedgerDown::FailOpen => {
                tracing::warn!(
                    steadfast.idempotency_key = %key,
                    error = %source,
                    "idempotency ledger unavailable; sending without its protection"
                );
                None
            }
            Err(source) => {
                return Next::Done(Err(Error::Ledger {
                    key: key.to_string(),
                    source,
                }));
            }
        };
        Next::Send(Keyed { key, lease })
    }

    /// The call after a reservation the ledger answers later.
    async fn run<S>(
        self,
        inner: S,
        request: Request,
        first: StoreFuture<Reservation>,
    ) -> Result<Response, Error>
    where
        S: Service<Request, Response = Response>,
        S::Error: Into<BoxError>,
    {
        let answer = first.await;
        match self.next(answer, &request) {
            Next::Send(keyed) => send(inner, request, keyed).await,
            Next::Done(result) => result,
            Next::Wait(call) => call.wait_then_run(inner, request).await,
        }
    }

    /// Waits, with backoff, until the other holder of the key finishes or the wait ends.
    async fn wait_then_run<S>(mut self, inner: S, request: Request) -> Result<Response, Error>
    where
        S: Service<Request, Response = Response>,
        S::Error: Into<BoxError>,
    {
        let started = Instant::now();
        let mut pause = Duration::from_millis(10);
        let max = match self.settings.in_flight {
            InFlight::Wait { max } => max,
            InFlight::Fail => Duration::ZERO,
        };
        loop {
            let waited = started.elapsed();
            if waited >= max {
                return Err(Error::IdempotencyKeyInFlight {
                    key: self.key.to_string(),
                    waited,
                });
            }
            tokio::time::sleep(pause.min(max.saturating_sub(waited))).await;
            pause = (pause * 2).min(Duration::from_millis(250));
            let answer = self.store.reserve(&self.entry, self.settings.lease).await;
            match self.next(answer, &request) {
                Next::Send(keyed) => return send(inner, request, keyed).await,
                Next::Done(result) => return result,
                Next::Wait(call) => self = call,
            }
        }
    }
}

/// Sends a keyed call on a service that is not known to be ready, then settles its lease.
async fn send<S>(mut inner: S, request: Request, keyed: Keyed) -> Result<Response, Error>
where
    S: Service<Request, Response = Response>,
    S::Error: Into<BoxError>,
{
    let result = async {
        poll_fn(|cx| inner.poll_ready(cx))
            .await
            .map_err(|e| Error::from_inner(e.into()))?;
        inner
            .call(request)
            .await
            .map_err(|e| Error::from_inner(e.into()))
    }
    .await;
    let Some(lease) = keyed.lease else {
        return with_key(result, keyed.key);
    };
    match lease.settle(keyed.key, result) {
        Settled::Now(result) => result,
        Settled::Later(future) => future.await,
    }
}

/// A call's end: known now, or after the boxed rest (reading the body, a ledger's I/O).
enum Settled {
    Now(Result<Response, Error>),
    Later(BoxResponseFuture),
}

impl Lease {
    /// Records the outcome: completes the key after a success (or a permanent failure, when
    /// so configured), frees it otherwise so a later call may try again.
    fn settle(self, key: IdempotencyKey, result: Result<Response, Error>) -> Settled {
        match result {
            Ok(response) => {
                let verdict = self
                    .settings
                    .classifier
                    .classify(Outcome::Response(&response))
                    .verdict();
                if verdict == Verdict::Success {
                    return Settled::Later(Box::pin(self.record(key, response)));
                }
                // A stack without a retry layer can pass failures through as responses.
                self.release(key, Ok(response))
            }
            Err(error) => {
                let permanent = self.settings.complete_on == CompleteOn::SuccessOrPermanent
                    && error
                        .failure()
                        .is_some_and(|f| f.verdict() == Verdict::Permanent);
                match permanent.then(|| error.take_response()).flatten() {
                    Some(response) => {
                        Settled::Later(Box::pin(self.record_failure(key, error, response)))
                    }
                    None => self.release(key, Err(error)),
                }
            }
        }
    }

    async fn record(self, key: IdempotencyKey, response: Response) -> Result<Response, Error> {
        let (response, stored, read_error) = buffer(response, self.settings.max_body_bytes).await;
        self.complete(stored, &key).await;
        match read_error {
            None => with_key(Ok(response), key),
            // The server acted (2xx) but the body was lost: the key stays completed.
            Some(e) => with_key(Err(Error::transport(Box::new(e.without_url()))), key),
        }
    }

    async fn record_failure(
        self,
        key: IdempotencyKey,
        error: Error,
        response: Response,
    ) -> Result<Response, Error> {
        let (response, stored, _) = buffer(response, self.settings.max_body_bytes).await;
        self.complete(stored, &key).await;
        if let Some(failure) = error.failure() {
            failure.put_response(response);
        }
        with_key(Err(error), key)
    }

    async fn complete(&self, stored: StoredResponse, key: &IdempotencyKey) {
        let done = self
            .store
            .complete(&self.entry, &self.token, stored, self.settings.ttl);
        match done.await {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                steadfast.idempotency_key = %key,
                "idempotency lease expired before the call finished; the key was not recorded"
            ),
            Err(e) => tracing::warn!(
                steadfast.idempotency_key = %key,
                error = %e,
                "could not record a completed idempotency key; a repeat would reach the server"
            ),
        }
    }

    /// Frees the key; at once when the ledger answers at once.
    fn release(self, key: IdempotencyKey, result: Result<Response, Error>) -> Settled {
        match self.store.release(&self.entry, &self.token).now() {
            Ok(released) => {
                warn_unreleased(released, &key);
                Settled::Now(with_key(result, key))
            }
            Err(pending) => Settled::Later(Box::pin(async move {
                warn_unreleased(pending.await, &key);
                with_key(result, key)
            })),
        }
    }
}

fn warn_unreleased(released: Result<(), StoreError>, key: &IdempotencyKey) {
    if let Err(e) = released {
        tracing::warn!(
            steadfast.idempotency_key = %key,
            error = %e,
            "could not free an idempotency key; it stays reserved until its lease ends"
        );
    }
}

/// Reads the body, returning a response equal to the original, its snapshot, and the read
/// error if the body could not be read.
async fn buffer(
    mut response: Response,
    max_body_bytes: usize,
) -> (Response, StoredResponse, Option<reqwest::Error>) {
    let (body, error) = match read_body(&mut response).await {
        Ok(body) => (Some(body), None),
        Err(e) => (None, Some(e)),
    };
    // The snapshot copies what it keeps (see `StoredResponse::new`).
    let (status, version) = (response.status(), response.version());
    let kept = body.as_deref().filter(|b| b.len() <= max_body_bytes);
    let stored = StoredResponse::new(status, response.headers(), kept);
    let headers = std::mem::take(response.headers_mut());
    let extensions = std::mem::take(response.extensions_mut());
    let url = response.url().clone();
    let rebuilt = rebuild(
        status,
        version,
        headers,
        extensions,
        body.unwrap_or_default(),
        url,
    );
    (rebuilt, stored, error)
}

/// The whole body, read in place: one chunk (the common case) is kept as it came.
async fn read_body(response: &mut Response) -> Result<Bytes, reqwest::Error> {
    let Some(first) = response.chunk().await? else {
        return Ok(Bytes::new());
    };
    let Some(second) = response.chunk().await? else {
        return Ok(first);
    };
    let mut body = BytesMut::with_capacity(first.len() + second.len());
    body.extend_from_slice(&first);
    body.extend_from_slice(&second);
    while let Some(chunk) = response.chunk().await? {
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// A response with `body`, as reqwest builds one: the URL travels in the extensions, which
/// are the response's own (so that adding the idempotency key later allocates no map).
fn rebuild(
    status: reqwest::StatusCode,
    version: reqwest::Version,
    headers: reqwest::header::HeaderMap,
    extensions: http::Extensions,
    body: Bytes,
    url: Url,
) -> Response {
    let mut builder = http::Response::builder().status(status).version(version);
    if let Some(own) = builder.extensions_mut() {
        *own = extensions;
    }
    let mut response = builder
        .url(url)
        .body(body)
        // Only an invalid status or version can fail, and both come from a real response.
        .unwrap_or_else(|_| http::Response::new(Bytes::new()));
    *response.headers_mut() = headers;
    Response::from(response)
}

/// The stored outcome of an earlier call with the same key, without any network I/O.
fn replay(
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
        stored.body().unwrap_or_default(),
        url.clone(),
    );
    response.extensions_mut().insert(Replayed);
    let classification = settings.classifier.classify(Outcome::Response(&response));
    tracing::info!(
        steadfast.idempotency_key = %key,
        http.response.status_code = stored.status().as_u16(),
        "replayed from the ledger"
    );
    if classification.verdict() == Verdict::Success {
        return with_key(Ok(response), key.clone());
    }
    let failure = Failure::new(
        request.method().clone(),
        url.host_str().map(str::to_owned),
        0,
        classification,
        Some(response),
    );
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
fn with_key(mut result: Result<Response, Error>, key: IdempotencyKey) -> Result<Response, Error> {
    put_key(&mut result, key);
    result
}

/// Puts the call's key on its response, or on its error.
fn put_key(result: &mut Result<Response, Error>, key: IdempotencyKey) {
    match result {
        Ok(response) => {
            response.extensions_mut().insert(key);
        }
        Err(error) => error.set_idempotency_key(key),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_ledger_keeps_a_copy_of_the_body_and_the_caller_gets_it_whole() {
        let read = Bytes::from(br#"{"id":"inv_1"} and the rest of a read buffer"#.to_vec());
        let response = Response::from(http::Response::new(read.slice(..14)));
        let (response, stored, error) = buffer(response, 1024).await;
        assert!(error.is_none());
        let kept = stored.body().expect("under the cap");
        assert_eq!(&kept[..], br#"{"id":"inv_1"}"#);
        assert!(
            !read.as_ptr_range().contains(&kept.as_ptr()),
            "a copy, not a view"
        );
        assert_eq!(
            &response.bytes().await.expect("body")[..],
            br#"{"id":"inv_1"}"#
        );
    }

    #[tokio::test]
    async fn a_body_in_many_chunks_is_read_whole_and_the_rest_kept() {
        let chunks = ["{\"id\":", "\"inv_1\"", "}"].map(Ok::<_, std::io::Error>);
        let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
        let mut original = http::Response::builder()
            .status(201)
            .url("http://127.0.0.1:9/invoices".parse().expect("valid url"))
            .header("x-invoice", "inv_1")
            .body(body)
            .expect("valid response");
        original.extensions_mut().insert(Replayed);
        let (response, stored, error) = buffer(Response::from(original), 1024).await;
        assert!(error.is_none());
        assert_eq!(stored.body().as_deref(), Some(&br#"{"id":"inv_1"}"#[..]));
        assert_eq!(stored.to_headers()["x-invoice"], "inv_1");
        assert_eq!(response.status(), 201);
        assert_eq!(response.url().as_str(), "http://127.0.0.1:9/invoices");
        assert_eq!(response.headers()["x-invoice"], "inv_1");
        assert!(Replayed::is(&response), "extensions are kept");
        assert_eq!(response.text().await.expect("body"), r#"{"id":"inv_1"}"#);
    }

    #[tokio::test]
    async fn a_body_that_fails_half_way_is_an_error_and_kept_as_none() {
        let chunks = [
            Ok("{\"id\":"),
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "reset",
            )),
        ];
        let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
        let (_, stored, error) = buffer(Response::from(http::Response::new(body)), 1024).await;
        assert!(error.is_some());
        assert_eq!(stored.body(), None);
    }

    #[tokio::test]
    async fn a_body_over_the_cap_is_returned_but_not_kept() {
        let response = Response::from(http::Response::new("0123456789"));
        let (response, stored, _) = buffer(response, 9).await;
        assert_eq!(stored.body(), None);
        assert_eq!(response.text().await.expect("body"), "0123456789");
    }
}
