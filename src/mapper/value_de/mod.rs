//! A `serde` deserializer over a borrowed `serde_json::Value` that knows where it is.
//!
//! `serde_json`'s own `Value` deserializer would do for decoding, but its errors quote
//! the offending value (a secret, say) and do not say where in the document they
//! happened. This one reports the path and a redacted preview, and can record which
//! fields each struct declares so that drift detection can compare them with the input.

mod access;
mod de;
mod decode;
mod error;
mod node;

pub(crate) use decode::{from_value, from_value_observed};
