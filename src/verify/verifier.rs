use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::{Sender, Verification, VerifyRequest};

/// The future a verifier returns.
pub type VerifyFuture = Pin<Box<dyn Future<Output = Verification> + Send + 'static>>;

/// Looks a request up on the server to learn whether an earlier attempt was applied.
///
/// Implemented for every `Fn(VerifyRequest, Sender) -> impl Future<Output = Verification>`
/// closure whose future is `Send + 'static`; see the [module docs](super) for an example.
///
/// # Contract
///
/// Answer [`Verification::NotApplied`] only when the server shows the request was not
/// applied: that answer lets it be sent again. When in doubt (an error, an ambiguous
/// lookup), answer [`Verification::Unknown`]. Callers bound the time and the number of
/// verifications; a verifier need not.
///
/// # Implementing
///
/// ```
/// use steadfast::verify::{Sender, Verification, Verify, VerifyFuture, VerifyRequest};
///
/// /// Finds an order by the client's reference, which the POST body carries.
/// struct OrderByReference {
///     base: reqwest::Url,
/// }
///
/// impl Verify for OrderByReference {
///     fn verify(&self, request: VerifyRequest, sender: Sender) -> VerifyFuture {
///         let url = self.base.join("orders");
///         Box::pin(async move {
///             let (Ok(mut url), Some(reference)) = (url, request.idempotency_key) else {
///                 return Verification::Unknown;
///             };
///             url.query_pairs_mut().append_pair("reference", &reference);
///             match sender.send(reqwest::Request::new(reqwest::Method::GET, url)).await {
///                 Ok(found) if found.status() == 200 => Verification::Applied(found),
///                 Ok(missing) if missing.status() == 404 => Verification::NotApplied,
///                 _ => Verification::Unknown,
///             }
///         })
///     }
/// }
/// # let _ = OrderByReference { base: "http://127.0.0.1:9/".parse()? };
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Verify: Send + Sync + 'static {
    /// Asks the server about `request`, sending lookups through `sender`.
    fn verify(&self, request: VerifyRequest, sender: Sender) -> VerifyFuture;
}

impl<F, Fut> Verify for F
where
    F: Fn(VerifyRequest, Sender) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Verification> + Send + 'static,
{
    fn verify(&self, request: VerifyRequest, sender: Sender) -> VerifyFuture {
        Box::pin(self(request, sender))
    }
}

/// A verifier shared by every clone of a layer or client.
pub type SharedVerifier = Arc<dyn Verify>;
