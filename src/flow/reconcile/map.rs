//! Mapping a side's records to the shared shape on the way in.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use pin_project_lite::pin_project;

use crate::error::BoxError;
use crate::mapper::Mapper;

pin_project! {
    /// A stream of records passed through a [`Mapper`], built by [`map_records`].
    ///
    /// A record the mapper rejects is an error item (its [`MapError`](crate::mapper::MapError),
    /// values redacted), so reconciliation stops there with
    /// [`ReconcileError::Read`](super::ReconcileError::Read), naming the side and how many
    /// records came before it: a record that cannot be mapped is never silently left out.
    #[derive(Debug)]
    #[must_use = "streams do nothing unless polled"]
    pub struct MapRecords<S, M> {
        #[pin]
        stream: S,
        mapper: M,
    }
}

/// Maps every record of `stream` with `mapper` (a [`Mapper`], a closure or a function).
///
/// ```
/// use futures_util::stream;
/// use serde_json::{Value, json};
/// use steadfast::flow::reconcile::{map_records, reconcile};
/// use steadfast::mapper::{Fields, MapError};
///
/// fn from_crm(customer: Value) -> Result<Value, MapError> {
///     let mut f = Fields::new(&customer);
///     let id = f.required::<i64>("customer_id");
///     f.finish(|| Some(json!({"id": id?})))
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let crm = stream::iter([Ok::<_, std::io::Error>(json!({"customer_id": 7}))]);
/// let billing = stream::iter([Ok::<_, std::io::Error>(json!({"id": 7}))]);
/// let report = reconcile(map_records(crm, from_crm), billing, "/id").await?;
/// assert!(report.is_clean());
/// # Ok(())
/// # }
/// ```
pub fn map_records<S, M>(stream: S, mapper: M) -> MapRecords<S, M> {
    MapRecords { stream, mapper }
}

impl<S, M, T, E> Stream for MapRecords<S, M>
where
    S: Stream<Item = Result<T, E>>,
    M: Mapper<T>,
    E: Into<BoxError>,
{
    type Item = Result<M::Out, BoxError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        this.stream.poll_next(cx).map(|item| {
            item.map(|record| match record {
                Ok(record) => this.mapper.map(record).map_err(BoxError::from),
                Err(error) => Err(error.into()),
            })
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.stream.size_hint()
    }
}
