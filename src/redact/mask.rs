//! What a masked value is replaced with.

/// Text that replaces a masked value.
pub const REDACTED: &str = "[redacted]";

/// Text that replaces a masked userinfo, path segment or query value in a URL, as
/// OpenTelemetry spells it.
pub const URL_REDACTED: &str = "REDACTED";
