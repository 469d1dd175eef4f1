use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use pin_project_lite::pin_project;
use reqwest::header::HeaderValue;
use reqwest::{Request, Response, ResponseBuilderExt, Url};
use tokio::time::Instant;
use tower_service::Service;

use super::layer::Settings;
use super::store::{LeaseToken, Reservation, StoredResponse};
use super::{CompleteOn, IdempotencyKey, InFlight, LedgerDown, Replayed};
use crate::boxed::InlineOrBoxed;
use crate::classify::{Outcome, Verdict};
use crate::error::{BoxError, Error, Failure, NotRetried};

pin_project! {
    /// The future returned by [`Idempotency`](super::Idempotency).
    ///
    /// A request that needs no key (a GET without one) runs the inner future in place;
    /// only a keyed call, which may wait on the ledger and reads the response body, is
    /// boxed.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F> {
        #[pin]
        state: InlineOrBoxed<F>,
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn passthrough(inner: F) -> Self {
        Self {
            state: InlineOrBoxed::Inline { inner },
        }
    }

    pub(crate) fn keyed<S>(inner: S, settings: Arc<Settings>, request: Request) -> Self
    where
        S: Service<Request, Response = Response> + Send + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send,
    {
        Self {
            state: InlineOrBoxed::Boxed {
                inner: Box::pin(run(inner, settings, request)),
            },
        }
    }

    #[cfg(test)]
    pub(crate) fn is_passthrough(&self) -> bool {
        self.state.is_inline()
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("keyed", &!self.state.is_inline())
            .finish_non_exhaustive()
    }
}

impl<F, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response, E>>,
    E: Into<BoxError>,
{
    type Output = Result<Response, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().state.poll(cx)
    }
}

/// Whether `request` is the layer's business: it carries a key, or its method gets one.
pub(crate) fn needs_key(settings: &Settings, request: &Request) -> bool {
    request.headers().contains_key(&settings.header) || settings.methods.contains(request.method())
}

async fn send<S>(inner: &mut S, request: Request) -> Result<Response, Error>
where
    S: Service<Request, Response = Response>,
    S::Error: Into<BoxError>,
{
    poll_fn(|cx| inner.poll_ready(cx))
        .await
        .map_err(|e| Error::from_inner(e.into()))?;
    inner
        .call(request)
        .await
        .map_err(|e| Error::from_inner(e.into()))
}

async fn run<S>(
    mut inner: S,
    settings: Arc<Settings>,
    mut request: Request,
) -> Result<Response, Error>
where
    S: Service<Request, Response = Response>,
    S::Error: Into<BoxError>,
{
    let key = match request.headers().get(&settings.header) {
        Some(value) => match value.to_str() {
            Ok(text) => settings.format.decode(text),
            Err(e) => return Err(Error::InvalidRequest(Box::new(e))),
        },
        None if settings.methods.contains(request.method()) => {
            let key = settings.maker.make_key();
            let value = settings
                .format
                .encode(&key)
                .and_then(|v| HeaderValue::try_from(v).ok())
                .ok_or_else(|| {
                    Error::InvalidRequest("idempotency key is not printable ASCII".into())
                })?;
            request.headers_mut().insert(settings.header.clone(), value);
            key
        }
        // Neither a key nor a method that needs one: nothing to do (`call` passes such
        // requests through without coming here).
        None => return send(&mut inner, request).await,
    };
    let key = IdempotencyKey::new(&key);
    tracing::Span::current().record("steadfast.idempotency_key", key.as_str());
    let Some(store) = settings.store.clone() else {
        return with_key(send(&mut inner, request).await, &key);
    };
    let ledger_key = ledger_key(&request, key.as_str());

    let token = match reserve(&*store, &settings, &ledger_key, &key).await? {
        Reserved::Token(token) => Some(token),
        Reserved::Replay(stored) => return replay(&settings, &stored, &request, &key),
        Reserved::Unprotected => None,
    };
    let result = send(&mut inner, request).await;
    let Some(token) = token else {
        return with_key(result, &key);
    };
    settle(&settings, &*store, &ledger_key, &token, &key, result).await
}

enum Reserved {
    Token(LeaseToken),
    Replay(StoredResponse),
    /// The ledger is down and the configuration says to send anyway.
    Unprotected,
}

async fn reserve(
    store: &dyn super::IdempotencyStore,
    settings: &Settings,
    ledger_key: &str,
    key: &IdempotencyKey,
) -> Result<Reserved, Error> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(10);
    loop {
        match store.reserve(ledger_key, settings.lease).await {
            Ok(Reservation::Reserved(token)) => return Ok(Reserved::Token(token)),
            Ok(Reservation::Completed(stored)) => return Ok(Reserved::Replay(stored)),
            Ok(Reservation::InFlight) => {
                let waited = started.elapsed();
                let gave_up = match settings.in_flight {
                    InFlight::Fail => true,
                    InFlight::Wait { max } => waited >= max,
                };
                if gave_up {
                    return Err(Error::IdempotencyKeyInFlight {
                        key: key.to_string(),
                        waited,
                    });
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(250));
            }
            Err(source) => {
                if settings.ledger_down == LedgerDown::FailOpen {
                    tracing::warn!(
                        steadfast.idempotency_key = %key,
                        error = %source,
                        "idempotency ledger unavailable; sending without its protection"
                    );
                    return Ok(Reserved::Unprotected);
                }
                return Err(Error::Ledger {
                    key: key.to_string(),
                    source,
                });
            }
        }
    }
}

/// Records the outcome: completes the key after a success (or a permanent failure, when so
/// configured), frees it otherwise so a later call may try again.
async fn settle(
    settings: &Settings,
    store: &dyn super::IdempotencyStore,
    ledger_key: &str,
    token: &LeaseToken,
    key: &IdempotencyKey,
    result: Result<Response, Error>,
) -> Result<Response, Error> {
    match result {
        Ok(response) => {
            let verdict = settings
                .classifier
                .classify(Outcome::Response(&response))
                .verdict();
            if verdict != Verdict::Success {
                // A stack without a retry layer can pass failures through as responses.
                release(store, ledger_key, token, key).await;
                return with_key(Ok(response), key);
            }
            let (response, stored, read_error) = buffer(response, settings.max_body_bytes).await;
            complete(settings, store, ledger_key, token, key, &stored).await;
            match read_error {
                None => with_key(Ok(response), key),
                // The server acted (2xx) but the body was lost: the key stays completed.
                Some(e) => with_key(Err(Error::transport(Box::new(e.without_url()))), key),
            }
        }
        Err(error) => {
            let permanent = settings.complete_on == CompleteOn::SuccessOrPermanent
                && error
                    .failure()
                    .is_some_and(|f| f.verdict() == Verdict::Permanent);
            let kept = if permanent {
                error.take_response()
            } else {
                None
            };
            match kept {
                Some(response) => {
                    let (response, stored, _) = buffer(response, settings.max_body_bytes).await;
                    complete(settings, store, ledger_key, token, key, &stored).await;
                    if let Some(failure) = error.failure() {
                        failure.put_response(response);
                    }
                }
                None => release(store, ledger_key, token, key).await,
            }
            with_key(Err(error), key)
        }
    }
}

/// Reads the body, returning a response equal to the original, its snapshot, and the read
/// error if the body could not be read.
async fn buffer(
    mut response: Response,
    max_body_bytes: usize,
) -> (Response, StoredResponse, Option<reqwest::Error>) {
    let status = response.status();
    let version = response.version();
    // Reading the body needs neither the headers nor the URL: take them, not copies.
    let headers = std::mem::take(response.headers_mut());
    let url = response.url().clone();
    let extensions = std::mem::take(response.extensions_mut());
    let (body, error) = match response.bytes().await {
        Ok(body) => (Some(body), None),
        Err(e) => (None, Some(e)),
    };
    // A copy, not a view: a body read off the network may share the connection's read
    // buffer, which a view kept in the ledger would keep alive for the TTL.
    let kept = body
        .as_ref()
        .filter(|b| b.len() <= max_body_bytes)
        .map(|b| Bytes::copy_from_slice(b));
    let stored = StoredResponse::new(status, &headers, kept);
    let mut rebuilt = rebuild(status, version, headers, body.unwrap_or_default(), url);
    *rebuilt.extensions_mut() = extensions;
    (rebuilt, stored, error)
}

fn rebuild(
    status: reqwest::StatusCode,
    version: reqwest::Version,
    headers: reqwest::header::HeaderMap,
    body: Bytes,
    url: Url,
) -> Response {
    let mut response = http::Response::builder()
        .status(status)
        .version(version)
        .url(url)
        .body(body)
        // Only an invalid status or version can fail, and both come from a real response.
        .unwrap_or_else(|_| http::Response::new(Bytes::new()));
    *response.headers_mut() = headers;
    Response::from(response)
}

async fn complete(
    settings: &Settings,
    store: &dyn super::IdempotencyStore,
    ledger_key: &str,
    token: &LeaseToken,
    key: &IdempotencyKey,
    stored: &StoredResponse,
) {
    match store
        .complete(ledger_key, token, stored, settings.ttl)
        .await
    {
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

async fn release(
    store: &dyn super::IdempotencyStore,
    ledger_key: &str,
    token: &LeaseToken,
    key: &IdempotencyKey,
) {
    if let Err(e) = store.release(ledger_key, token).await {
        tracing::warn!(
            steadfast.idempotency_key = %key,
            error = %e,
            "could not free an idempotency key; it stays reserved until its lease ends"
        );
    }
}

/// The stored outcome of an earlier call with the same key, without any network I/O.
fn replay(
    settings: &Settings,
    stored: &StoredResponse,
    request: &Request,
    key: &IdempotencyKey,
) -> Result<Response, Error> {
    let url = request.url();
    let body = stored.body().cloned().unwrap_or_default();
    let mut response = rebuild(
        stored.status(),
        reqwest::Version::HTTP_11,
        stored.headers().clone(),
        body,
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
        return with_key(Ok(response), key);
    }
    let failure = Failure {
        method: request.method().clone(),
        host: url.host_str().map(str::to_owned),
        attempts: 0,
        classification,
        status: Some(stored.status()),
        retry_at: None,
        response: Mutex::new(Some(response)),
        idempotency_key: None,
    };
    with_key(
        Err(Error::NotRetried {
            why: NotRetried::Permanent,
            failure: Box::new(failure),
            source: None,
        }),
        key,
    )
}

fn with_key(result: Result<Response, Error>, key: &IdempotencyKey) -> Result<Response, Error> {
    match result {
        Ok(mut response) => {
            response.extensions_mut().insert(key.clone());
            Ok(response)
        }
        Err(mut error) => {
            error.set_idempotency_key(key);
            Err(error)
        }
    }
}

/// The ledger entry's name: the caller's key, scoped to the method and the URL without its
/// query, so that one business key used for two operations cannot replay the wrong one.
fn ledger_key(request: &Request, key: &str) -> String {
    let url = request.url();
    let mut hash = Fnv64::default();
    hash.write(request.method().as_str().as_bytes());
    hash.write(b" ");
    hash.write(url.scheme().as_bytes());
    hash.write(url.host_str().unwrap_or_default().as_bytes());
    hash.write(&url.port_or_known_default().unwrap_or(0).to_be_bytes());
    hash.write(url.path().as_bytes());
    let mut name = String::with_capacity(key.len() + 17);
    name.push_str(key);
    name.push(':');
    push_hex16(&mut name, hash.0);
    name
}

/// Writes `n` as 16 lowercase hex digits, as `{:016x}` does, without the formatter.
fn push_hex16(out: &mut String, n: u64) {
    for shift in (0..16).rev() {
        let nibble = u32::try_from((n >> (shift * 4)) & 0xf).unwrap_or(0);
        out.push(char::from_digit(nibble, 16).unwrap_or('0'));
    }
}

/// FNV-1a, 64 bits: specified, so every instance of an integration names entries alike.
struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv64 {
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ledger_keys_are_the_key_and_the_hash_in_sixteen_hex_digits() {
        let request = |method: reqwest::Method, url: &str| {
            Request::new(method, url.parse().expect("valid url"))
        };
        let cases = [
            request(
                reqwest::Method::POST,
                "https://api.example.com/invoices?x=1",
            ),
            request(reqwest::Method::PATCH, "http://127.0.0.1:9/"),
            request(reqwest::Method::POST, "https://a.example/"),
        ];
        for request in &cases {
            let url = request.url();
            let mut hash = Fnv64::default();
            hash.write(request.method().as_str().as_bytes());
            hash.write(b" ");
            hash.write(url.scheme().as_bytes());
            hash.write(url.host_str().unwrap_or_default().as_bytes());
            hash.write(&url.port_or_known_default().unwrap_or(0).to_be_bytes());
            hash.write(url.path().as_bytes());
            assert_eq!(
                ledger_key(request, "order-42"),
                format!("order-42:{:016x}", hash.0)
            );
        }
        // The query is not part of it; the method is.
        assert_eq!(
            ledger_key(&cases[0], "k"),
            ledger_key(
                &request(reqwest::Method::POST, "https://api.example.com/invoices"),
                "k"
            )
        );
        assert_ne!(
            ledger_key(&cases[0], "k"),
            ledger_key(
                &request(reqwest::Method::PATCH, "https://api.example.com/invoices"),
                "k"
            )
        );
    }

    #[tokio::test]
    async fn the_ledger_keeps_a_copy_of_the_body_and_the_caller_gets_it_whole() {
        let read = Bytes::from(br#"{"id":"inv_1"} and the rest of a read buffer"#.to_vec());
        let response = Response::from(http::Response::new(read.slice(..14)));
        let (response, stored, error) = buffer(response, 1024).await;
        assert!(error.is_none());
        let kept = stored.body().expect("under the cap");
        assert_eq!(&kept[..], br#"{"id":"inv_1"}"#);
        assert_ne!(kept.as_ptr(), read.as_ptr(), "a copy, not a view");
        assert_eq!(
            &response.bytes().await.expect("body")[..],
            br#"{"id":"inv_1"}"#
        );
    }

    #[test]
    fn hex_digits_match_the_formatter() {
        for n in [0, 0xabc, 0x0123_4567_89ab_cdef, u64::MAX] {
            let mut out = String::new();
            push_hex16(&mut out, n);
            assert_eq!(out, format!("{n:016x}"));
        }
    }
}
