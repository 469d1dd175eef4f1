//! Reconciliation: which records of a source are missing from a destination, which are
//! extra, and which differ, field by field.
//!
//! Two systems that should hold the same records drift apart: a call failed after others
//! succeeded, a webhook was lost, someone edited a copy by hand. [`reconcile`] reads both
//! sides as streams of records already mapped to one shape (with a
//! [`Mapper`](crate::mapper::Mapper), on the way in with [`map_records`]), pairs them by a [`RecordKey`], and returns a
//! [`ReconcileReport`]: exact counts, the first keys missing and extra, and for records
//! that differ the fields that differ, as JSON pointers, with their values hidden.
//!
//! ```
//! use futures_util::stream;
//! use serde_json::json;
//! use steadfast::flow::reconcile::{Change, Order, ReconcileConfig};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Orders in the shop (the source) and in the ERP (the destination), sorted by id.
//! let shop = stream::iter([
//!     json!({"id": 1, "total": 10, "status": "paid", "updated_at": "09:00"}),
//!     json!({"id": 2, "total": 25, "status": "paid", "updated_at": "09:05"}),
//!     json!({"id": 3, "total": 7, "status": "open", "updated_at": "09:07"}),
//! ])
//! .map(Ok::<_, std::io::Error>);
//! let erp = stream::iter([
//!     json!({"id": 1, "total": 10.0, "status": "paid", "updated_at": "10:00"}),
//!     json!({"id": 3, "total": 7, "status": "cancelled", "updated_at": "10:00"}),
//!     json!({"id": 4, "total": 1, "status": "open", "updated_at": "10:00"}),
//! ])
//! .map(Ok::<_, std::io::Error>);
//!
//! let report = ReconcileConfig::default()
//!     .order(Order::Sorted)
//!     .ignore("/updated_at")
//!     .reveal("/status")
//!     .reconcile(shop, erp, "/id")
//!     .await?;
//!
//! assert_eq!(report.counts.equal, 1); // 10 and 10.0 are one number
//! assert_eq!(report.missing.items, [json!(2)]);
//! assert_eq!(report.extra.items, [json!(4)]);
//! let order_3 = &report.different.items[0];
//! assert_eq!(order_3.key, json!(3));
//! assert_eq!(order_3.fields[0].path, "/status");
//! assert_eq!(order_3.fields[0].change, Change::Changed);
//! assert_eq!(order_3.fields[0].destination.as_deref(), Some("\"cancelled\""));
//! println!("{report}");
//! let stored = serde_json::to_string(&report)?; // for the job's history
//! # let _ = stored;
//! # Ok(())
//! # }
//! # use futures_util::StreamExt as _;
//! ```
//!
//! # Memory
//!
//! Memory stays bounded however large the sets, in one of two ways ([`Order`]):
//!
//! - [`Order::Sorted`]: both streams come sorted by key (an API's `?sort=id`, a database's
//!   `ORDER BY`); they are merged in one pass holding one record of each side, O(1) memory.
//!   A key smaller than the one before it is [`ReconcileError::Unsorted`], the same key
//!   twice [`ReconcileError::DuplicateKey`], so a stream that is not sorted cannot produce
//!   a wrong report.
//! - [`Order::Unsorted`] (the default): one record is read from each side in turn; a record
//!   whose match has not arrived yet waits in a keyed index, and every key seen is kept to
//!   catch duplicates. At most [`max_pending`](ReconcileConfig::max_pending) records wait
//!   (default 100,000) and at most [`max_keys`](ReconcileConfig::max_keys) keys are kept
//!   (default 1,000,000, about 100 bytes each plus the key's text); one more is
//!   [`ReconcileError::IndexFull`], never unbounded growth. Streams in the same rough
//!   order keep the index small.
//!
//! The report is bounded too: its counts are exact, but it keeps at most
//! [`max_examples`](ReconcileConfig::max_examples) examples of each kind (default 100) and
//! [`max_fields`](ReconcileConfig::max_fields) field differences per record (default 32),
//! and says how many it left out. Beyond the examples, records are compared only until
//! their first difference.
//!
//! # Comparison
//!
//! Records are compared as JSON, field by field at any depth, arrays element by element:
//!
//! - numbers by value: `1`, `1.0` and `1e0` are equal; integers exactly at any size,
//!   fractions as `f64` (`0.1 + 0.2` is not `0.3`: round amounts in the mapper);
//! - strings, booleans and `null` exactly; an object never equals an array;
//! - a field absent on one side differs from `null` on the other, unless
//!   [`missing_is_null`](ReconcileConfig::missing_is_null);
//! - [`ignore`](ReconcileConfig::ignore) leaves fields out (timestamps, sync markers),
//!   as JSON pointers where `*` matches any one key or index: `/lines/*/synced_at`.
//!
//! # Redaction
//!
//! The report names the fields that differ, never their values, unless a field is listed
//! in [`reveal`](ReconcileConfig::reveal); revealed values are rendered through
//! [`crate::redact`] (sensitive fields inside them masked, strings scrubbed) and cut to
//! [`MAX_VALUE_CHARS`]. A field whose path has a sensitive name (`password`, `api_key`, and
//! the names configured in the process) shows `[redacted]` even when revealed, and a key
//! part under such a name is masked wherever the key is shown.
//!
//! # Errors
//!
//! A run either reads both sides to the end or stops with a [`ReconcileError`] saying
//! which [`Side`] and which record: a stream's own error (with how many records it had
//! delivered), a record without a usable key, a sorted stream out of order, a duplicate
//! key, or a full index. Nothing is skipped silently and no half report is returned.
//!
//! # Cost
//!
//! A `Value` record is taken as it is, another `Serialize` type is turned into a `Value`
//! once. A sorted merge of two 100,000-record sets of orders (nested address, one line)
//! costs about 8,200 instructions per source record, freeing both records included
//! (callgrind; `benches/reconcile.rs`). Records beyond the report's examples are compared
//! only up to their first difference.

mod compare;
mod config;
mod error;
mod indexed;
mod key;
mod map;
mod pointer;
mod read;
mod report;
mod run;
mod sorted;
mod tally;

pub use config::{Order, ReconcileConfig};
pub use error::{IndexLimit, ReconcileError, Side};
pub use key::RecordKey;
pub use map::{MapRecords, map_records};
pub use report::{
    Change, Counts, Difference, Examples, FieldDifference, MAX_VALUE_CHARS, ReconcileReport,
};
pub use run::reconcile;
