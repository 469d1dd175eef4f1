//! The signature-checking layer: [`VerifySignatureLayer`] and its service.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body as HttpBody;
use tower_layer::Layer;
use tower_service::Service;

use super::check::Checker;
use super::future::WebhookFuture;
use super::keys::Keys;
use super::read::read_body;
use super::respond::plain;
use super::{Scheme, VerifyConfig};
use crate::error::ConfigError;

/// Marks a request whose signature [`VerifySignature`] checked; in its extensions.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// When the provider signed it, for schemes that sign a timestamp.
    pub signed_at: Option<SystemTime>,
}

/// Applies [`VerifySignature`] to a service.
///
/// # Clone
///
/// Clones share the configuration and the keys.
#[derive(Debug, Clone)]
pub struct VerifySignatureLayer {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    checker: Checker,
    scheme: &'static str,
    max_body_bytes: usize,
    body_timeout: Duration,
}

impl VerifySignatureLayer {
    /// A layer checking signatures as `config` says.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] when no secret is given or one is unusable (empty, or a
    /// Standard Webhooks secret that is not base64; the error never shows the secret), and
    /// [`ConfigError::HeaderName`] for a [`Scheme::Hmac`] header that is not a header name.
    pub fn new(config: &VerifyConfig) -> Result<Self, ConfigError> {
        let keys = Keys::new(&config.scheme, &config.secrets)?;
        Ok(Self {
            shared: Arc::new(Shared {
                checker: Checker::new(&config.scheme, keys, config.tolerance)?,
                scheme: Scheme::name(&config.scheme),
                max_body_bytes: config.max_body_bytes,
                body_timeout: config.body_timeout,
            }),
        })
    }
}

impl<S> Layer<S> for VerifySignatureLayer {
    type Service = VerifySignature<S>;

    fn layer(&self, inner: S) -> Self::Service {
        VerifySignature {
            inner,
            shared: Arc::clone(&self.shared),
        }
    }
}

/// Lets through only deliveries whose signature is valid, with their body read whole.
///
/// The body is read up to the configured size and time (413 and 408 beyond them), then
/// checked; a delivery that fails gets 400 (a header missing or malformed) or 401 (no
/// signature matches, or its timestamp is outside the window) with a body that says no
/// more, and a `WARN` event (target `steadfast::webhook::verify`) that names the scheme and the
/// reason, never a secret or a signature. A valid one reaches the inner service with the
/// same headers, its body as bytes, and a [`Verified`] extension.
///
/// The request body type must be buildable from [`Bytes`] (axum's `Body` is), and so must
/// the response body type.
#[derive(Debug, Clone)]
pub struct VerifySignature<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> VerifySignature<S> {
    /// Wraps `inner`, checking signatures as `layer` says.
    #[must_use]
    pub fn new(inner: S, layer: &VerifySignatureLayer) -> Self {
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

impl<S, B, ResBody> Service<Request<B>> for VerifySignature<S>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    B: HttpBody + From<Bytes> + Send + 'static,
    ResBody: From<Bytes>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = WebhookFuture<Response<ResBody>, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // The ready service handles this request; a clone waits for the next one.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let shared = Arc::clone(&self.shared);
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let body = match read_body(
                &parts.headers,
                body,
                shared.max_body_bytes,
                shared.body_timeout,
            )
            .await
            {
                Ok(body) => body,
                Err(unread) => {
                    tracing::warn!(
                        webhook.scheme = shared.scheme,
                        webhook.rejected = unread.reason(),
                        http.response.status_code = unread.status().as_u16(),
                        "webhook rejected"
                    );
                    return Ok(plain(unread.status()));
                }
            };
            match shared
                .checker
                .check(&parts.headers, &body, SystemTime::now())
            {
                Ok(signed_at) => {
                    parts.extensions.insert(Verified {
                        signed_at: signed_at.map(|s| UNIX_EPOCH + Duration::from_secs(s)),
                    });
                    inner.call(Request::from_parts(parts, B::from(body))).await
                }
                Err(rejection) => {
                    tracing::warn!(
                        webhook.scheme = shared.scheme,
                        webhook.rejected = rejection.reason(),
                        http.response.status_code = rejection.status().as_u16(),
                        body.size = body.len(),
                        "webhook rejected"
                    );
                    Ok(plain(rejection.status()))
                }
            }
        })
    }
}
