use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};

use reqwest::{Request, Response};
use tower_service::Service;

use crate::error::{BoxError, Error, without_url};

type SendFuture = Pin<Box<dyn Future<Output = Result<Response, BoxError>> + Send + 'static>>;

/// Sends a verifier's lookups through the layers an attempt goes through (in the
/// [`Client`](crate::Client): rate limit and attempt timeout), so lookups take quota and are
/// bounded in time.
///
/// # Clone
///
/// Clones share one service; each lookup runs on its own clone of it.
///
/// # Example
///
/// ```
/// use steadfast::verify::Sender;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // Verifiers get a sender; tests can make one around any service.
/// let sender = Sender::new(reqwest::Client::new());
/// let url = "http://127.0.0.1:9/invoices?external_ref=inv-42".parse()?;
/// let lookup = sender.send(reqwest::Request::new(reqwest::Method::GET, url)).await;
/// assert!(lookup.is_err(), "nothing listens on port 9");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Sender {
    inner: Arc<dyn SendOne>,
}

impl Sender {
    /// A sender through `service`, cloned for each lookup.
    pub fn new<S>(service: S) -> Self
    where
        S: Service<Request, Response = Response> + Clone + Send + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send,
    {
        Self {
            inner: Arc::new(Cloning(Mutex::new(service))),
        }
    }

    /// Sends `request` through the layers below the one that verifies, and returns the
    /// response, whatever its status.
    ///
    /// From the retry layer that is one attempt (rate limit and attempt timeout, no retry);
    /// from the idempotency ledger it is a whole call below the ledger, so a lookup that
    /// fails transiently is retried like any GET.
    ///
    /// # Errors
    ///
    /// The layers' errors: [`Error::RateLimited`] when no permit came in time,
    /// [`Error::Timeout`] when the attempt limit elapsed, [`Error::Transport`] otherwise.
    pub async fn send(&self, request: Request) -> Result<Response, Error> {
        self.inner
            .send(request)
            .await
            .map_err(|e| Error::from_inner(without_url(e)))
    }
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

/// A service behind a trait object, so that a verifier needs no type parameter.
trait SendOne: Send + Sync {
    fn send(&self, request: Request) -> SendFuture;
}

/// A mutex makes any `Send` service shareable; it is held only to clone the service.
struct Cloning<S>(Mutex<S>);

impl<S> SendOne for Cloning<S>
where
    S: Service<Request, Response = Response> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
{
    fn send(&self, request: Request) -> SendFuture {
        let mut service = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        Box::pin(async move {
            poll_fn(|cx| service.poll_ready(cx))
                .await
                .map_err(Into::into)?;
            service.call(request).await.map_err(Into::into)
        })
    }
}
