//! Logging support: redaction of secrets before anything is shown.
//!
//! For now this holds the JSON part of redaction, which the [`mapper`](crate::mapper) uses
//! so that a bad `password` field is never printed.
//!
//! ```
//! use steadfast::log::redact::is_sensitive_field;
//!
//! assert!(is_sensitive_field("client_secret"));
//! assert!(!is_sensitive_field("customer_id"));
//! ```

pub mod redact;
