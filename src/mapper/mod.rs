//! Every transformation between two systems in one place.
//!
//! A [`Mapper`] turns a record of one system into a record of another. [`Fields`] makes
//! the usual moves one-liners (required, optional, default, parse, rename, type change,
//! nested paths, text clean-up) and collects every problem of a record into one
//! [`MapError`]. [`map_batch`] maps many records and reports the rejected ones with
//! their reasons. [`decode_with_drift`] and [`DriftMonitor`] decode an upstream body and
//! report fields that appeared or disappeared.
//!
//! ```
//! use serde_json::{Value, json};
//! use steadfast::mapper::{Fields, MapError, Mapper, Text, map_batch_with_ids};
//!
//! /// A customer as the CRM sends it, mapped to a client of the billing system.
//! #[derive(Debug, PartialEq)]
//! struct BillingClient {
//!     external_client_id: String,
//!     email: Option<String>,
//!     country: String,
//!     currency: String,
//! }
//!
//! fn to_billing_client(customer: &Value) -> Result<BillingClient, MapError> {
//!     let mut f = Fields::new(customer);
//!     let id = f.required::<i64>("customer_id");
//!     let email = f.optional_text("email", Text::EMAIL);
//!     let country = f.required_text("address.country", Text::TRIMMED);
//!     let currency = f.or_default("currency", "EUR".to_owned());
//!     f.finish(|| {
//!         Some(BillingClient {
//!             external_client_id: format!("crm-{}", id?),
//!             email,
//!             country: country?.to_uppercase(),
//!             currency,
//!         })
//!     })
//! }
//!
//! fn main() -> Result<(), MapError> {
//!     let one = json!({"customer_id": 7, "email": " Ada@Example.com", "address": {"country": "de"}});
//!     assert_eq!(to_billing_client.map(&one)?.external_client_id, "crm-7");
//!
//!     let customers = [one, json!({"customer_id": "x", "address": {}})];
//!     let report = map_batch_with_ids(&to_billing_client, &customers, |c| {
//!         c.get("customer_id").map(Value::to_string)
//!     });
//!     assert_eq!(report.mapped.len(), 1);
//!     let rejected = &report.rejected[0];
//!     assert_eq!(rejected.index, 1);
//!     assert_eq!(
//!         rejected.error.to_string(),
//!         "2 field problems: `customer_id`: invalid, expected i64 (got \"x\"); \
//!          `address.country`: missing"
//!     );
//!     Ok(())
//! }
//! ```
//!
//! # Errors
//!
//! A [`MapError`] holds one [`FieldError`] per problem: the path (`items[2].sku`), the
//! [`FieldErrorKind`] and a preview of the offending value. Values under a sensitive
//! field name (see [`crate::redact`]; JSON field names configured
//! in a [`RedactConfig`](crate::redact::RedactConfig) anywhere in the process included) are shown as `[redacted]`; others are cut to
//! [`MAX_VALUE_CHARS`] characters.
//!
//! # Logging
//!
//! Batch mapping logs one WARN per rejected record and one INFO summary; a
//! [`DriftMonitor`] logs one WARN per distinct drift. Nothing here installs a subscriber.

mod batch;
mod drift;
mod error;
mod fields;
mod path;
mod text;
mod traits;
mod value_de;

pub use batch::{BatchReport, Rejected, map_batch, map_batch_with_ids};
pub use drift::{
    DecodeError, DriftMonitor, DriftReport, decode_value_with_drift, decode_with_drift,
};
pub use error::{FieldError, FieldErrorKind, MAX_VALUE_CHARS, MapError};
pub use fields::Fields;
pub use text::Text;
pub use traits::{AndThen, Mapper};
