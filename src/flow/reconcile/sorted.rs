//! Sorted streams merged in one pass: two records held at a time.

use std::cmp::Ordering;

use futures_core::Stream;
use serde::Serialize;
use serde_json::Value;

use crate::error::BoxError;

use super::error::ReconcileError;
use super::key::Key;
use super::read::Reader;
use super::tally::Tally;

/// Walks both streams in key order: the smaller key is missing or extra, equal keys are
/// compared. Each new key must be greater than the one before it on its side.
pub(crate) async fn merge<S, D, T, U, E, F>(
    tally: &mut Tally,
    source: &mut Reader<'_, S>,
    destination: &mut Reader<'_, D>,
) -> Result<(), ReconcileError>
where
    S: Stream<Item = Result<T, E>>,
    D: Stream<Item = Result<U, F>>,
    T: Serialize + 'static,
    U: Serialize + 'static,
    E: Into<BoxError>,
    F: Into<BoxError>,
{
    let mut from_source = source.next().await?;
    let mut from_destination = destination.next().await?;
    loop {
        let order = match (&from_source, &from_destination) {
            (None, None) => return Ok(()),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some((a, _)), Some((b, _))) => a.cmp(b),
        };
        match order {
            Ordering::Less => {
                if let Some((key, _)) = from_source.take() {
                    tally.missing(&key);
                    from_source = next_after(tally, source, key).await?;
                }
            }
            Ordering::Greater => {
                if let Some((key, _)) = from_destination.take() {
                    tally.extra(&key);
                    from_destination = next_after(tally, destination, key).await?;
                }
            }
            Ordering::Equal => {
                if let (Some((key, record)), Some((other_key, other))) =
                    (from_source.take(), from_destination.take())
                {
                    tally.matched(&key, &record, &other);
                    from_source = next_after(tally, source, key).await?;
                    from_destination = next_after(tally, destination, other_key).await?;
                }
            }
        }
    }
}

/// The next record of `reader`, checked to come after `previous`.
async fn next_after<S, T, E>(
    tally: &Tally,
    reader: &mut Reader<'_, S>,
    previous: Key,
) -> Result<Option<(Key, Value)>, ReconcileError>
where
    S: Stream<Item = Result<T, E>>,
    T: Serialize + 'static,
    E: Into<BoxError>,
{
    let next = reader.next().await?;
    if let Some((key, _)) = &next {
        match key.cmp(&previous) {
            Ordering::Greater => {}
            Ordering::Equal => {
                return Err(ReconcileError::DuplicateKey {
                    side: reader.side(),
                    position: reader.position(),
                    key: tally.show(key),
                });
            }
            Ordering::Less => {
                return Err(ReconcileError::Unsorted {
                    side: reader.side(),
                    position: reader.position(),
                    key: tally.show(key),
                    previous: tally.show(&previous),
                });
            }
        }
    }
    Ok(next)
}
