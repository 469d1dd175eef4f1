//! JSON field names configured anywhere in the process, masked by every redactor.
//!
//! The mapper's errors have no client or log layer at hand, so a field name configured
//! in a [`RedactConfig`](super::RedactConfig) would not reach them otherwise. The set only
//! grows: masking a name too many is cheap, missing one leaks.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{PoisonError, RwLock};

use super::names::name_or_plural_matches;

/// Set once a name is registered, so that a process that configures none never locks.
static ANY: AtomicBool = AtomicBool::new(false);
static FIELDS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Adds `names` to the process-wide set (each once, compared ignoring ASCII case).
pub(crate) fn register<'a>(names: impl IntoIterator<Item = &'a str>) {
    let mut fields = FIELDS.write().unwrap_or_else(PoisonError::into_inner);
    for name in names {
        if !name.is_empty() && !fields.iter().any(|f| f.eq_ignore_ascii_case(name)) {
            fields.push(name.to_owned());
            ANY.store(true, Ordering::Release);
        }
    }
}

/// Whether `name` matches a registered field name.
pub(crate) fn is_field(name: &str) -> bool {
    if !ANY.load(Ordering::Acquire) {
        return false;
    }
    FIELDS
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .any(|pattern| name_or_plural_matches(name, pattern))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_names_are_matched_like_defaults_and_kept_once() {
        register(["process_wide_iban", "PROCESS_WIDE_IBAN", ""]);
        assert!(is_field("processWideIban"));
        assert!(is_field("process-wide-ibans"));
        assert!(!is_field("process_wide"));
        let fields = FIELDS.read().expect("not poisoned");
        assert_eq!(
            fields
                .iter()
                .filter(|f| f.eq_ignore_ascii_case("process_wide_iban"))
                .count(),
            1
        );
    }
}
