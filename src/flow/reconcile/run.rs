//! The entry points: check the settings, read both sides in the configured order, report.

use std::pin::pin;

use futures_core::Stream;
use serde::Serialize;

use crate::error::BoxError;

use super::config::{Order, ReconcileConfig};
use super::error::{ReconcileError, Side};
use super::indexed::index;
use super::key::RecordKey;
use super::read::Reader;
use super::report::ReconcileReport;
use super::sorted::merge;
use super::tally::Tally;

/// Reconciles `source` with `destination` by `key` with the default settings
/// ([`ReconcileConfig::default`]: any order, capped index, no field ignored or revealed).
///
/// # Errors
///
/// See [`ReconcileConfig::reconcile`].
pub async fn reconcile<S, D, T, U, E, F>(
    source: S,
    destination: D,
    key: impl Into<RecordKey>,
) -> Result<ReconcileReport, ReconcileError>
where
    S: Stream<Item = Result<T, E>>,
    D: Stream<Item = Result<U, F>>,
    T: Serialize + 'static,
    U: Serialize + 'static,
    E: Into<BoxError>,
    F: Into<BoxError>,
{
    ReconcileConfig::default()
        .reconcile(source, destination, key)
        .await
}

impl ReconcileConfig {
    /// Reads both streams to their end and reports the keys missing from the destination,
    /// the extra ones and the records that differ, field by field.
    ///
    /// Records are `serde_json::Value`s (taken as they are) or any `Serialize` type (turned
    /// into JSON first), already mapped to the shape both sides share.
    ///
    /// # Errors
    ///
    /// [`ReconcileError`]: invalid settings or key before anything is read; a stream's
    /// error, a record that cannot be keyed, out of order or repeated, or a full index,
    /// each naming the side and the record's place. No partial report is returned: a
    /// report is complete or there is none.
    pub async fn reconcile<S, D, T, U, E, F>(
        &self,
        source: S,
        destination: D,
        key: impl Into<RecordKey>,
    ) -> Result<ReconcileReport, ReconcileError>
    where
        S: Stream<Item = Result<T, E>>,
        D: Stream<Item = Result<U, F>>,
        T: Serialize + 'static,
        U: Serialize + 'static,
        E: Into<BoxError>,
        F: Into<BoxError>,
    {
        let keys = key.into().check().map_err(ReconcileError::Config)?;
        let mut tally = Tally::new(self, keys.clone()).map_err(ReconcileError::Config)?;
        let (source, destination) = (pin!(source), pin!(destination));
        let mut source = Reader::new(Side::Source, source, keys.clone());
        let mut destination = Reader::new(Side::Destination, destination, keys);
        match self.order {
            Order::Sorted => merge(&mut tally, &mut source, &mut destination).await?,
            Order::Unsorted => index(self, &mut tally, &mut source, &mut destination).await?,
        }
        tally.report.counts.source = source.position();
        tally.report.counts.destination = destination.position();
        Ok(tally.report)
    }
}
