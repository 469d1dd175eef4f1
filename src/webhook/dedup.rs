//! The deduplication layer: [`DeduplicateLayer`] and its service.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{Request, Response, StatusCode};
use http_body::Body as HttpBody;
use http_body_util::BodyExt as _;
use tower_layer::Layer;
use tower_service::Service;

use super::claim::{Claim, Namespace, claim};
use super::delivery_id::Source;
use super::future::WebhookFuture;
use super::read::read_body;
use super::respond::plain;
use super::{DedupConfig, DeliveryId, WebhookBody};
use crate::error::ConfigError;
use crate::idempotency::store::{
    BodyOmitted, IdempotencyStore, MemoryStore, SharedStore, StoredResponse, Terms,
};

/// Applies [`Deduplicate`] to a service.
///
/// The store defaults to a [`MemoryStore`] of its own; give one that several receivers
/// share (a `RedisStore`) with [`store`](Self::store) or [`shared_store`](Self::shared_store).
/// A memory store is bounded (10,000 entries by default) and evicts the oldest handled ids
/// first: size it for the deliveries of a whole TTL, or an id evicted early is handled
/// again if its provider sends it once more.
///
/// # Clone
///
/// Clones share the configuration and the store.
#[derive(Clone)]
pub struct DeduplicateLayer {
    shared: Arc<Shared>,
}

#[derive(Clone)]
struct Shared {
    store: SharedStore,
    source: Source,
    namespace: Namespace,
    terms: Terms,
    max_wait: Duration,
    max_stored_body: usize,
    max_body_bytes: usize,
    body_timeout: Duration,
}

impl std::fmt::Debug for DeduplicateLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeduplicateLayer")
            .field("source", &self.shared.source)
            .field("terms", &self.shared.terms)
            .finish_non_exhaustive()
    }
}

impl DeduplicateLayer {
    /// A layer deduplicating as `config` says, on a [`MemoryStore`] of its own.
    ///
    /// # Errors
    ///
    /// [`ConfigError::HeaderName`] for an id header that is not a header name,
    /// [`ConfigError::Invalid`] for a JSON pointer that does not start with `/` or a
    /// namespace that cannot name a store scope, and [`ConfigError::ZeroDuration`] for a
    /// zero lease or TTL.
    pub fn new(config: &DedupConfig) -> Result<Self, ConfigError> {
        for (name, value) in [("webhook.lease", config.lease), ("webhook.ttl", config.ttl)] {
            if value.is_zero() {
                return Err(ConfigError::ZeroDuration { name });
            }
        }
        let namespace = Namespace::new(&config.namespace).ok_or_else(|| ConfigError::Invalid {
            name: "webhook.namespace",
            value: config.namespace.clone(),
        })?;
        Ok(Self {
            shared: Arc::new(Shared {
                store: Arc::new(MemoryStore::new()),
                source: Source::new(&config.delivery_id)?,
                namespace,
                terms: Terms::new(config.lease, config.ttl),
                max_wait: config.max_wait,
                max_stored_body: config.max_stored_body,
                max_body_bytes: config.max_body_bytes,
                body_timeout: config.body_timeout,
            }),
        })
    }

    /// Gives the layer its own store.
    #[must_use]
    pub fn store(self, store: impl IdempotencyStore) -> Self {
        self.shared_store(Arc::new(store))
    }

    /// Uses a store other layers or receivers hold too.
    #[must_use]
    pub fn shared_store(self, store: SharedStore) -> Self {
        let mut shared = Arc::unwrap_or_clone(self.shared);
        shared.store = store;
        Self {
            shared: Arc::new(shared),
        }
    }
}

impl<S> Layer<S> for DeduplicateLayer {
    type Service = Deduplicate<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Deduplicate {
            inner,
            shared: Arc::clone(&self.shared),
        }
    }
}

/// Runs the handler once per delivery id; repeats get the first answer.
///
/// For each request the id is read (a header, or a JSON pointer into the body, which is
/// then read whole, bounded in bytes and time) and claimed in the store:
///
/// | the id is | the request gets |
/// |---|---|
/// | new | the handler's answer; a 2xx–4xx answer (except 408 and 429) is kept for the TTL, a 5xx, 408, 429 or an error releases the id so the sender's retry is handled |
/// | being handled | 409 with `Retry-After: 1`, after waiting up to `max_wait` for the answer |
/// | handled | the kept answer (status, headers, body up to `max_stored_body`), the handler not run |
/// | held by a handler whose lease ran out | handled again: the first run crashed or hung, and the sender got no answer |
/// | missing or unusable (empty, longer than 256 bytes, not visible ASCII) | 400 |
///
/// When the store cannot be reached, the answer is 503 and the handler does not run: the
/// sender retries later, and nothing is handled twice. A request cancelled while its
/// handler runs (the sender hung up) releases its id.
///
/// Place it inside [`VerifySignature`](super::VerifySignature): an unverified request
/// must not claim an id, or anyone could block a real delivery.
///
/// The handler sees the id in the request's extensions as a [`DeliveryId`].
#[derive(Clone)]
pub struct Deduplicate<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S: std::fmt::Debug> std::fmt::Debug for Deduplicate<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deduplicate")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S> Deduplicate<S> {
    /// Wraps `inner`, deduplicating as `layer` says.
    #[must_use]
    pub fn new(inner: S, layer: &DeduplicateLayer) -> Self {
        layer.layer(inner)
    }

    /// The inner service.
    #[must_use]
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    #[must_use]
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Consumes the service, returning the inner one.
    #[must_use]
    pub fn into_inner(self) -> S {
        self.inner
    }
}

/// Whether an answer says the delivery was not handled and should come again.
fn releases(status: StatusCode) -> bool {
    status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
}

impl<S, B, ResBody> Service<Request<B>> for Deduplicate<S>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Send,
    B: HttpBody + From<Bytes> + Send + 'static,
    ResBody: HttpBody<Data = Bytes> + Send + 'static,
    ResBody::Error: Send,
{
    type Response = Response<WebhookBody<ResBody>>;
    type Error = S::Error;
    type Future = WebhookFuture<Self::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let shared = Arc::clone(&self.shared);
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let (id, body) = if shared.source.needs_body() {
                let bytes = match read_body(
                    &parts.headers,
                    body,
                    shared.max_body_bytes,
                    shared.body_timeout,
                )
                .await
                {
                    Ok(bytes) => bytes,
                    Err(unread) => return Ok(plain(unread.status())),
                };
                (shared.source.find(&parts.headers, &bytes), B::from(bytes))
            } else {
                (shared.source.find(&parts.headers, &[]), body)
            };
            let Some(id) = id else {
                tracing::warn!(webhook.rejected = "missing_delivery_id", "webhook rejected");
                return Ok(plain(StatusCode::BAD_REQUEST));
            };
            let key = shared.namespace.key(&id);
            let held = match claim(
                &shared.store,
                &shared.namespace,
                key,
                shared.terms,
                shared.max_wait,
            )
            .await
            {
                Claim::Run(held) => held,
                Claim::Replay(stored) => {
                    tracing::debug!(webhook.delivery_id = %id, "webhook duplicate answered from the store");
                    return Ok(replay(&stored));
                }
                Claim::Busy => {
                    tracing::info!(webhook.delivery_id = %id, "webhook duplicate while the first is handled");
                    return Ok(plain(StatusCode::CONFLICT));
                }
                Claim::Unavailable(why) => {
                    tracing::warn!(webhook.delivery_id = %id, error.type = why, "webhook store unavailable; answered 503");
                    return Ok(plain(StatusCode::SERVICE_UNAVAILABLE));
                }
            };
            parts.extensions.insert(DeliveryId(id.clone()));
            let response = match inner.call(Request::from_parts(parts, body)).await {
                Ok(response) => response,
                Err(error) => {
                    let _ = held.release().await;
                    return Err(error);
                }
            };
            if releases(response.status()) {
                if let Err(error) = held.release().await {
                    tracing::warn!(webhook.delivery_id = %id, error = %error, "webhook id not released");
                }
                return Ok(response.map(|body| WebhookBody::prefixed(Bytes::new(), Box::pin(body))));
            }
            let (parts, body) = response.into_parts();
            let (kept, body) = keep(body, shared.max_stored_body, shared.body_timeout).await;
            let stored = match &kept {
                Ok(bytes) => StoredResponse::new(parts.status, &parts.headers, Some(bytes)),
                Err(why) => {
                    StoredResponse::new(parts.status, &parts.headers, None).without_body(*why)
                }
            };
            match held.complete(stored, shared.terms.ttl).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(webhook.delivery_id = %id, "webhook handled after its lease ran out; a retry may be handled again");
                }
                Err(error) => {
                    tracing::warn!(webhook.delivery_id = %id, error = %error, "webhook answer not stored; a retry may be handled again");
                }
            }
            Ok(Response::from_parts(parts, body))
        })
    }
}

/// Reads the handler's answer to keep it: `Ok` with the whole body when it fits in `max`
/// and arrives within `within`; otherwise why not. Either way the body to send on.
async fn keep<B>(
    body: B,
    max: usize,
    within: Duration,
) -> (Result<Bytes, BodyOmitted>, WebhookBody<B>)
where
    B: HttpBody<Data = Bytes>,
{
    let mut body = Box::pin(body);
    let mut head = BytesMut::new();
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let Ok(frame) = tokio::time::timeout_at(deadline, body.frame()).await else {
            return (
                Err(BodyOmitted::TooSlow),
                WebhookBody::prefixed(head.freeze(), body),
            );
        };
        match frame {
            None => {
                let bytes = head.freeze();
                return (Ok(bytes.clone()), WebhookBody::full(bytes));
            }
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    head.extend_from_slice(&data);
                    if head.len() > max {
                        return (
                            Err(BodyOmitted::TooLarge),
                            WebhookBody::prefixed(head.freeze(), body),
                        );
                    }
                }
            }
            Some(Err(error)) => {
                let body = WebhookBody::failed(head.freeze(), error);
                return (Err(BodyOmitted::Unreadable), body);
            }
        }
    }
}

/// The kept answer, as a response.
fn replay<B: HttpBody>(stored: &StoredResponse) -> Response<WebhookBody<B>> {
    let mut response = Response::new(WebhookBody::full(stored.body().unwrap_or_default()));
    *response.status_mut() = stored.status();
    *response.headers_mut() = stored.to_headers();
    response
}
