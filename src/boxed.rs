//! The boxed future behind layers whose call is an `async` state machine too large to
//! write by hand. Each layer still names its own `ResponseFuture`, so a layer can move to a
//! hand-written future later without changing its public type.

/// Declares `ResponseFuture`: a boxed `Future<Output = Result<reqwest::Response, Error>>`
/// with a `Debug` that shows nothing of the request.
macro_rules! boxed_response_future {
    ($(#[$doc:meta])*) => {
        $(#[$doc])*
        #[must_use = "futures do nothing unless polled"]
        pub struct ResponseFuture {
            inner: ::std::pin::Pin<
                Box<
                    dyn ::std::future::Future<
                            Output = Result<::reqwest::Response, $crate::Error>,
                        > + Send,
                >,
            >,
        }

        impl ::std::fmt::Debug for ResponseFuture {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct("ResponseFuture").finish_non_exhaustive()
            }
        }

        impl ResponseFuture {
            fn boxed(
                future: impl ::std::future::Future<
                        Output = Result<::reqwest::Response, $crate::Error>,
                    > + Send
                    + 'static,
            ) -> Self {
                Self {
                    inner: Box::pin(future),
                }
            }
        }

        impl ::std::future::Future for ResponseFuture {
            type Output = Result<::reqwest::Response, $crate::Error>;

            fn poll(
                mut self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<Self::Output> {
                self.inner.as_mut().poll(cx)
            }
        }
    };
}

pub(crate) use boxed_response_future;

/// The boxed slow path of a layer whose fast path runs the inner future in place.
pub(crate) type BoxResponseFuture = ::std::pin::Pin<
    Box<dyn ::std::future::Future<Output = Result<::reqwest::Response, crate::Error>> + Send>,
>;
