//! The service that acknowledges a delivery once it is on the event queue.

use std::convert::Infallible;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::Body as HttpBody;
use http_body_util::Full;
use tower_service::Service;

use super::future::WebhookFuture;
use super::queue::QueueError;
use super::read::read_body;
use super::respond::plain;
use super::{DeliveryId, EventQueue};

/// A handler that puts each delivery on an [`EventQueue`] and answers 202 once Redis has
/// it, so the provider's clock stops before any processing starts.
///
/// The event carries the body and the [`DeliveryId`] that [`Deduplicate`](super::Deduplicate)
/// put in the request's extensions (none without it). A full queue or an unreachable Redis
/// is answered 503, so the sender retries later, and behind `Deduplicate` the id is
/// released for that retry. Place it behind [`VerifySignature`](super::VerifySignature)
/// and `Deduplicate`, so that only verified deliveries are queued, each once.
///
/// # Clone
///
/// Clones share the queue's connection.
#[derive(Debug, Clone)]
pub struct Enqueue {
    queue: EventQueue,
    max_body_bytes: usize,
    body_timeout: Duration,
}

impl Enqueue {
    /// Enqueues each delivery on `queue`; bodies up to 1 MiB, read within 10 s.
    #[must_use]
    pub fn new(queue: EventQueue) -> Self {
        Self {
            queue,
            max_body_bytes: 1 << 20,
            body_timeout: Duration::from_secs(10),
        }
    }

    /// Sets the largest body enqueued. Default 1 MiB.
    #[must_use]
    pub fn max_body_bytes(mut self, max: usize) -> Self {
        self.max_body_bytes = max;
        self
    }

    /// Sets how long a body may take to arrive. Default 10 s.
    #[must_use]
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
        self
    }
}

impl<B> Service<Request<B>> for Enqueue
where
    B: HttpBody + Send + 'static,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = WebhookFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let body = match read_body(&parts.headers, body, this.max_body_bytes, this.body_timeout)
                .await
            {
                Ok(body) => body,
                Err(unread) => return Ok(plain(unread.status())),
            };
            let id = parts.extensions.get::<DeliveryId>().map(|id| id.0.as_str());
            match this.queue.enqueue(id, &body).await {
                Ok(_) => Ok(plain(StatusCode::ACCEPTED)),
                Err(error) => {
                    let reason = match error {
                        QueueError::Full => "queue_full",
                        _ => "queue_unavailable",
                    };
                    tracing::warn!(
                        webhook.delivery_id = id.unwrap_or_default(),
                        error.type = reason,
                        "webhook not enqueued; answered 503"
                    );
                    Ok(plain(StatusCode::SERVICE_UNAVAILABLE))
                }
            }
        })
    }
}
