//! The boxed slow path shared by layers whose fast path runs the inner future in place
//! (idempotency, log, rate limit, retry): a layer boxes only the calls that need an
//! `async` state machine too large to write by hand.

/// A boxed `Future<Output = Result<reqwest::Response, Error>>`.
pub(crate) type BoxResponseFuture = ::std::pin::Pin<
    Box<dyn ::std::future::Future<Output = Result<::reqwest::Response, crate::Error>> + Send>,
>;
