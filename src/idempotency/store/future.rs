use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::StoreError;

type Boxed<T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send>>;

/// The future a store operation returns: an answer known at once, or a boxed `async` block.
///
/// A store that answers without I/O (the memory ledger) returns [`ready`](Self::ready)
/// values, which the idempotency layer reads without polling or allocating; one that does
/// I/O returns [`new`](Self::new). See the [module docs](super) for an example.
///
/// # Panics
///
/// Polling a ready future again after it gave its answer panics, as futures may.
#[must_use = "futures do nothing unless polled"]
pub struct StoreFuture<T> {
    state: State<T>,
}

enum State<T> {
    Ready(Option<Result<T, StoreError>>),
    Boxed(Boxed<T>),
}

impl<T> StoreFuture<T> {
    /// An answer known now.
    pub fn ready(result: Result<T, StoreError>) -> Self {
        Self {
            state: State::Ready(Some(result)),
        }
    }

    /// An answer `future` will give; it is boxed.
    pub fn new(future: impl Future<Output = Result<T, StoreError>> + Send + 'static) -> Self {
        Self {
            state: State::Boxed(Box::pin(future)),
        }
    }

    /// The answer if it is known without polling, or the future back.
    pub(crate) fn now(self) -> Result<Result<T, StoreError>, Self> {
        match self.state {
            State::Ready(Some(result)) => Ok(result),
            state => Err(Self { state }),
        }
    }
}

// Nothing in a `StoreFuture` is pinned in place: a ready answer is moved out, and a boxed
// future is pinned on the heap.
impl<T> Unpin for StoreFuture<T> {}

impl<T> Future for StoreFuture<T> {
    type Output = Result<T, StoreError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().state {
            State::Ready(result) => {
                Poll::Ready(result.take().expect("StoreFuture polled after completion"))
            }
            State::Boxed(future) => future.as_mut().poll(cx),
        }
    }
}

impl<T> fmt::Debug for StoreFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Ready(_) => "ready",
            State::Boxed(_) => "boxed",
        };
        f.debug_struct("StoreFuture")
            .field("state", &state)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ready_answers_are_read_without_polling_and_boxed_ones_by_polling() {
        assert_eq!(
            StoreFuture::ready(Ok(7)).now().expect("ready").expect("ok"),
            7
        );

        let boxed = StoreFuture::new(async { Ok(8) });
        let boxed = boxed.now().expect_err("a boxed future must be polled");
        assert_eq!(format!("{boxed:?}"), r#"StoreFuture { state: "boxed" }"#);
        assert_eq!(boxed.await.expect("ok"), 8);

        assert_eq!(StoreFuture::ready(Ok(9)).await.expect("ok"), 9);
    }
}
