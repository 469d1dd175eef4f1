//! Streams in any order: records wait in a capped, keyed index for their match.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use futures_core::Stream;
use serde::Serialize;
use serde_json::Value;

use crate::error::BoxError;

use super::config::ReconcileConfig;
use super::error::{IndexLimit, ReconcileError, Side};
use super::key::Key;
use super::read::Reader;
use super::tally::Tally;

/// A key the index has seen.
#[derive(Debug)]
enum Slot {
    /// Seen on one side only so far; the record waits for the other.
    Waiting(Side, Value),
    /// Seen on both sides and compared; kept to catch a third record with the key.
    Matched,
}

/// The index and its caps.
#[derive(Debug)]
struct Index {
    // The std hasher (SipHash with a random key): keys come from other systems, and a
    // chosen set of colliding keys must not turn the index quadratic.
    slots: HashMap<Key, Slot>,
    waiting: usize,
    max_pending: usize,
    max_keys: usize,
}

/// Reads one record from each side in turn, so that two streams in roughly the same
/// order keep the index small; a record whose key the other side already delivered is
/// compared at once.
pub(crate) async fn index<S, D, T, U, E, F>(
    config: &ReconcileConfig,
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
    let mut index = Index {
        slots: HashMap::new(),
        waiting: 0,
        max_pending: config.max_pending,
        max_keys: config.max_keys,
    };
    let (mut source_open, mut destination_open) = (true, true);
    while source_open || destination_open {
        if source_open {
            match source.next().await? {
                Some((key, record)) => {
                    index.place(tally, Side::Source, source.position(), key, record)?;
                }
                None => source_open = false,
            }
        }
        if destination_open {
            match destination.next().await? {
                Some((key, record)) => {
                    index.place(
                        tally,
                        Side::Destination,
                        destination.position(),
                        key,
                        record,
                    )?;
                }
                None => destination_open = false,
            }
        }
    }
    let mut unmatched: Vec<(Key, Side)> = index
        .slots
        .into_iter()
        .filter_map(|(key, slot)| match slot {
            Slot::Waiting(side, _) => Some((key, side)),
            Slot::Matched => None,
        })
        .collect();
    unmatched.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    for (key, side) in unmatched {
        match side {
            Side::Source => tally.missing(&key),
            Side::Destination => tally.extra(&key),
        }
    }
    Ok(())
}

impl Index {
    fn place(
        &mut self,
        tally: &mut Tally,
        side: Side,
        position: u64,
        key: Key,
        record: Value,
    ) -> Result<(), ReconcileError> {
        let known = self.slots.len();
        match self.slots.entry(key) {
            Entry::Occupied(mut entry) => {
                let slot = entry.get_mut();
                let waiting = match slot {
                    Slot::Waiting(other, waiting) if *other != side => std::mem::take(waiting),
                    _ => {
                        return Err(ReconcileError::DuplicateKey {
                            side,
                            position,
                            key: tally.show(entry.key()),
                        });
                    }
                };
                *slot = Slot::Matched;
                self.waiting -= 1;
                let (a, b) = match side {
                    Side::Source => (&record, &waiting),
                    Side::Destination => (&waiting, &record),
                };
                tally.matched(entry.key(), a, b);
            }
            Entry::Vacant(entry) => {
                let full = if known >= self.max_keys {
                    Some((IndexLimit::Keys, self.max_keys))
                } else if self.waiting >= self.max_pending {
                    Some((IndexLimit::Pending, self.max_pending))
                } else {
                    None
                };
                if let Some((what, limit)) = full {
                    return Err(ReconcileError::IndexFull {
                        side,
                        position,
                        what,
                        limit,
                    });
                }
                entry.insert(Slot::Waiting(side, record));
                self.waiting += 1;
            }
        }
        Ok(())
    }
}
