//! Batch mapping: every record either mapped or rejected with its reasons, none lost.

use super::error::MapError;
use super::traits::Mapper;

/// A record the mapper refused, with where it was and why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rejected {
    /// Position of the record in the input, from 0.
    pub index: usize,
    /// The record's own id, when an id extractor was given and found one.
    pub id: Option<String>,
    /// Every problem with the record.
    pub error: MapError,
}

/// The outcome of a batch: `mapped.len() + rejected.len()` equals the number of input
/// records.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchReport<Out> {
    /// Mapped records, in input order.
    pub mapped: Vec<Out>,
    /// Rejected records, in input order.
    pub rejected: Vec<Rejected>,
}

impl<Out> BatchReport<Out> {
    /// Number of input records.
    #[must_use]
    pub fn total(&self) -> usize {
        self.mapped.len() + self.rejected.len()
    }

    /// `true` when no record was rejected.
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.rejected.is_empty()
    }
}

/// Maps every record with `mapper`; see [`map_batch_with_ids`] to name rejected records
/// by their own id.
///
/// Logs one `tracing` WARN per rejected record (index, error) and one INFO summary
/// (total, mapped, rejected).
///
/// ```
/// use steadfast::mapper::{FieldError, FieldErrorKind, MapError, map_batch};
///
/// let parse = |raw: &str| -> Result<u32, MapError> {
///     raw.parse().map_err(|_| FieldError::new("quantity", FieldErrorKind::invalid("u32")).into())
/// };
/// let report = map_batch(&parse, ["1", "two", "3"]);
/// assert_eq!(report.mapped, [1, 3]);
/// assert_eq!(report.rejected[0].index, 1);
/// assert_eq!(report.total(), 3);
/// ```
pub fn map_batch<In, M>(mapper: &M, records: impl IntoIterator<Item = In>) -> BatchReport<M::Out>
where
    M: Mapper<In> + ?Sized,
{
    map_batch_with_ids(mapper, records, |_: &In| None)
}

/// Maps every record with `mapper`, naming rejected records with `record_id`.
///
/// `record_id` runs before mapping, because the mapper consumes the record; keep it
/// cheap. Logs like [`map_batch`], with the id on each WARN.
///
/// ```
/// use serde_json::{Value, json};
/// use steadfast::mapper::{Fields, MapError, map_batch_with_ids};
///
/// let to_id = |record: &Value| -> Result<i64, MapError> {
///     let mut f = Fields::new(record);
///     let id = f.required::<i64>("customer_id");
///     f.finish(|| id)
/// };
/// let records = [json!({"customer_id": 1, "ref": "a"}), json!({"ref": "b"})];
/// let report = map_batch_with_ids(&to_id, &records, |record| {
///     record["ref"].as_str().map(str::to_owned)
/// });
/// assert_eq!(report.mapped, [1]);
/// assert_eq!(report.rejected[0].id.as_deref(), Some("b"));
/// ```
pub fn map_batch_with_ids<In, M>(
    mapper: &M,
    records: impl IntoIterator<Item = In>,
    record_id: impl Fn(&In) -> Option<String>,
) -> BatchReport<M::Out>
where
    M: Mapper<In> + ?Sized,
{
    let records = records.into_iter();
    let mut report = BatchReport {
        mapped: Vec::with_capacity(records.size_hint().0),
        rejected: Vec::new(),
    };
    for (index, record) in records.enumerate() {
        let id = record_id(&record);
        match mapper.map(record) {
            Ok(out) => report.mapped.push(out),
            Err(error) => {
                if let Some(id) = &id {
                    tracing::warn!(index, id = %id, error = %error, "record rejected by mapper");
                } else {
                    tracing::warn!(index, error = %error, "record rejected by mapper");
                }
                report.rejected.push(Rejected { index, id, error });
            }
        }
    }
    tracing::info!(
        total = report.total(),
        mapped = report.mapped.len(),
        rejected = report.rejected.len(),
        "batch mapped"
    );
    report
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::mapper::{FieldError, FieldErrorKind};

    fn even(n: i32) -> Result<i32, MapError> {
        if n % 2 == 0 {
            Ok(n / 2)
        } else {
            Err(FieldError::new("n", FieldErrorKind::custom("odd")).into())
        }
    }

    #[test]
    fn splits_mapped_and_rejected_in_order() {
        let report = map_batch_with_ids(&even, [2, 3, 4, 5], |n| Some(format!("n{n}")));
        assert_eq!(report.mapped, [1, 2]);
        let rejected: Vec<(usize, Option<&str>)> = report
            .rejected
            .iter()
            .map(|r| (r.index, r.id.as_deref()))
            .collect();
        assert_eq!(rejected, [(1, Some("n3")), (3, Some("n5"))]);
        assert_eq!(report.total(), 4);
        assert!(!report.is_clean());
    }

    #[test]
    fn empty_batch() {
        let report = map_batch(&even, Vec::new());
        assert_eq!(report.total(), 0);
        assert!(report.is_clean());
    }

    proptest! {
        #[test]
        fn nothing_is_lost(input in proptest::collection::vec(any::<i32>(), 0..200)) {
            let report = map_batch(&even, input.clone());
            prop_assert_eq!(report.mapped.len() + report.rejected.len(), input.len());
            let expected_rejected: Vec<usize> = input
                .iter()
                .enumerate()
                .filter(|(_, n)| *n % 2 != 0)
                .map(|(i, _)| i)
                .collect();
            let rejected: Vec<usize> = report.rejected.iter().map(|r| r.index).collect();
            prop_assert_eq!(rejected, expected_rejected);
            let expected_mapped: Vec<i32> = input.iter().filter(|n| *n % 2 == 0).map(|n| n / 2).collect();
            prop_assert_eq!(report.mapped, expected_mapped);
        }
    }
}
