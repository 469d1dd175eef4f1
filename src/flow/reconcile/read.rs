//! Reading one side: records pulled from its stream, turned into JSON and keyed.

use std::any::Any;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use serde::Serialize;
use serde_json::Value;

use crate::error::BoxError;

use super::error::{ReconcileError, Side};
use super::key::{Key, KeyReader};

/// How many records are read between two yields to the runtime, so that a long run over
/// streams that are always ready does not hold a worker thread.
const YIELD_EVERY: u64 = 1024;

/// One side's stream and how far it got.
#[derive(Debug)]
pub(crate) struct Reader<'s, S> {
    side: Side,
    stream: Pin<&'s mut S>,
    keys: KeyReader,
    read: u64,
}

impl<'s, S> Reader<'s, S> {
    pub(crate) fn new(side: Side, stream: Pin<&'s mut S>, keys: KeyReader) -> Self {
        Self {
            side,
            stream,
            keys,
            read: 0,
        }
    }

    /// Which side this is.
    pub(crate) fn side(&self) -> Side {
        self.side
    }

    /// How many records were read, which is also the place of the last one.
    pub(crate) fn position(&self) -> u64 {
        self.read
    }

    /// The next record and its key; `None` at the end of the stream.
    pub(crate) async fn next<T, E>(&mut self) -> Result<Option<(Key, Value)>, ReconcileError>
    where
        S: Stream<Item = Result<T, E>>,
        T: Serialize + 'static,
        E: Into<BoxError>,
    {
        let Some(item) = poll_fn(|cx| self.stream.as_mut().poll_next(cx)).await else {
            return Ok(None);
        };
        let record = item.map_err(|error| ReconcileError::Read {
            side: self.side,
            records_read: self.read,
            source: error.into(),
        })?;
        self.read += 1;
        if self.read.is_multiple_of(YIELD_EVERY) {
            YieldNow(false).await;
        }
        let value = into_value(record).map_err(|source| ReconcileError::Encode {
            side: self.side,
            position: self.read,
            source,
        })?;
        let key = self
            .keys
            .read(&value)
            .ok_or_else(|| ReconcileError::MissingKey {
                side: self.side,
                position: self.read,
                pointers: self.keys.describe(),
            })?;
        Ok(Some((key, value)))
    }
}

/// A record as JSON; a `Value` is taken as it is, anything else goes through serde.
fn into_value<T: Serialize + 'static>(record: T) -> Result<Value, serde_json::Error> {
    let mut slot = Some(record);
    if let Some(value) = (&mut slot as &mut dyn Any).downcast_mut::<Option<Value>>() {
        return Ok(value.take().unwrap_or(Value::Null));
    }
    slot.map_or(Ok(Value::Null), serde_json::to_value)
}

/// Returns `Pending` once, after asking to be woken at once.
struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[derive(Serialize)]
    struct Order {
        id: u32,
        total: f64,
    }

    #[test]
    fn values_pass_through_and_types_serialize() {
        assert_eq!(into_value(json!({"id": 1})).ok(), Some(json!({"id": 1})));
        assert_eq!(
            into_value(Order { id: 2, total: 9.5 }).ok(),
            Some(json!({"id": 2, "total": 9.5}))
        );
    }
}
