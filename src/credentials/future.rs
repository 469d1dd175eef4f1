use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use reqwest::{Request, Response, StatusCode};
use tower_service::Service;

use super::{Lookup, SharedCredentials};
use crate::boxed::{BoxResponseFuture, InlineOrBoxed};
use crate::error::{BoxError, CredentialsError, Error};

pin_project! {
    /// The future returned by [`ApplyCredentials`](super::ApplyCredentials).
    ///
    /// A credential at hand and a provider that does not refresh send the attempt in place;
    /// a credential that has to be fetched, or a provider that may answer a `401` with a
    /// fresher one, takes a boxed path.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Call {
            #[pin]
            call: InlineOrBoxed<F>,
        },
        Refused {
            error: Option<CredentialsError>,
        },
    }
}

impl<F> ResponseFuture<F> {
    #[inline(always)]
    pub(super) fn sending(inner: F) -> Self {
        Self {
            state: State::Call {
                call: InlineOrBoxed::Inline { inner },
            },
        }
    }

    pub(super) fn boxed(inner: BoxResponseFuture) -> Self {
        Self {
            state: State::Call {
                call: InlineOrBoxed::Boxed { inner },
            },
        }
    }

    pub(super) fn refused(error: CredentialsError) -> Self {
        Self {
            state: State::Refused { error: Some(error) },
        }
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.state {
            State::Call { call } if call.is_inline() => "sending",
            State::Call { .. } => "fetching or refreshing",
            State::Refused { .. } => "refused",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish()
    }
}

impl<F, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response, E>>,
    E: Into<BoxError>,
{
    type Output = Result<Response, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Call { call } => call.poll(cx),
            StateProj::Refused { error } => {
                Poll::Ready(Err(refused(error.take().expect("polled after completion"))))
            }
        }
    }
}

/// The error of an attempt that was not sent for want of a credential.
fn refused(source: CredentialsError) -> Error {
    tracing::warn!(error = %source, "no credentials for the attempt; not sent");
    Error::Credentials {
        source,
        idempotency_key: None,
    }
}

/// The slow path: waits for the credential, sends the attempt and, on a `401`, asks the
/// provider once for a fresher credential and sends a copy of the attempt with it. A
/// second `401` is the attempt's outcome: never a loop.
pub(super) async fn resend_after_unauthorized<S>(
    mut inner: S,
    credentials: SharedCredentials,
    lookup: Lookup,
    mut request: Request,
) -> Result<Response, Error>
where
    S: Service<Request, Response = Response> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    let credential = match lookup {
        Lookup::Ready(found) => found,
        Lookup::Pending(coming) => coming.await,
    }
    .map_err(refused)?;
    let spare = if credentials.can_refresh() {
        request.try_clone()
    } else {
        None
    };
    credential.apply_to(&mut request);
    // `inner` was made ready by the caller of `call`.
    let response = inner
        .call(request)
        .await
        .map_err(|e| Error::from_inner(e.into()))?;
    if response.status() != StatusCode::UNAUTHORIZED || !credentials.can_refresh() {
        return Ok(response);
    }
    let fresh = credentials
        .unauthorized(&credential)
        .await
        .map_err(refused)?;
    let (Some(fresh), Some(mut spare)) = (fresh, spare) else {
        // Nothing fresher, or a streamed body that cannot be sent twice: the provider
        // knows, and the next attempt gets whatever it has now.
        return Ok(response);
    };
    tracing::debug!("401 with a credential the provider has since replaced; sending once more");
    drop(response);
    fresh.apply_to(&mut spare);
    let mut again = inner.clone();
    poll_fn(|cx: &mut Context<'_>| again.poll_ready(cx))
        .await
        .map_err(|e| Error::from_inner(e.into()))?;
    again
        .call(spare)
        .await
        .map_err(|e| Error::from_inner(e.into()))
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use bytes::Bytes;
    use tower::ServiceExt as _;

    use super::super::{ApplyCredentials, Credential, Credentials, RefreshFuture};
    use super::*;

    /// Hands out `k-1`, then `k-2` once told of a 401.
    #[derive(Default)]
    struct Rotating {
        told: AtomicUsize,
    }

    impl Credentials for Rotating {
        fn credential(&self) -> Lookup {
            let n = self.told.load(Ordering::SeqCst) + 1;
            Lookup::Ready(Credential::header("x-api-key", &format!("k-{n}")))
        }

        fn can_refresh(&self) -> bool {
            true
        }

        fn unauthorized(&self, _: &Credential) -> RefreshFuture {
            let n = self.told.fetch_add(1, Ordering::SeqCst) + 2;
            Box::pin(std::future::ready(
                Credential::header("x-api-key", &format!("k-{n}")).map(Some),
            ))
        }
    }

    /// Answers 401 to everything, recording each key it saw.
    fn refusing(
        seen: Arc<std::sync::Mutex<Vec<String>>>,
    ) -> impl Service<Request, Response = Response, Error = Infallible, Future: Send> + Clone {
        tower::service_fn(move |request: Request| {
            let key = request.headers()["x-api-key"]
                .to_str()
                .unwrap_or("?")
                .to_owned();
            seen.lock().expect("not poisoned").push(key);
            let mut response = http::Response::new(reqwest::Body::from(""));
            *response.status_mut() = StatusCode::UNAUTHORIZED;
            std::future::ready(Ok::<_, Infallible>(Response::from(response)))
        })
    }

    fn post(body: reqwest::Body) -> Request {
        let mut request = Request::new(
            reqwest::Method::POST,
            "http://127.0.0.1/orders".parse().expect("valid"),
        );
        *request.body_mut() = Some(body);
        request
    }

    #[tokio::test]
    async fn a_401_resends_once_with_the_fresher_credential() {
        let seen = Arc::default();
        let provider = Arc::new(Rotating::default());
        let service = ApplyCredentials::new(refusing(Arc::clone(&seen)), provider.clone());
        let response = service
            .oneshot(post("{}".into()))
            .await
            .expect("a response");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(*seen.lock().expect("not poisoned"), ["k-1", "k-2"]);
        assert_eq!(
            provider.told.load(Ordering::SeqCst),
            1,
            "told once, no loop"
        );
    }

    #[tokio::test]
    async fn a_streamed_body_is_not_resent_but_the_provider_is_told() {
        let seen = Arc::default();
        let provider = Arc::new(Rotating::default());
        let service = ApplyCredentials::new(refusing(Arc::clone(&seen)), provider.clone());
        let stream = futures_util::stream::iter([Ok::<_, Infallible>(Bytes::from("{}"))]);
        let response = service
            .oneshot(post(reqwest::Body::wrap_stream(stream)))
            .await
            .expect("a response");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(*seen.lock().expect("not poisoned"), ["k-1"], "sent once");
        assert_eq!(
            provider.told.load(Ordering::SeqCst),
            1,
            "the next attempt gets k-2"
        );
    }
}
