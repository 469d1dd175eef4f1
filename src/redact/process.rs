//! JSON field names and path templates configured anywhere in the process, masked by every
//! redactor.
//!
//! The mapper's errors have no client or log layer at hand, and neither has an error's
//! `Display` when it names the endpoint, so a field name or path template configured in a
//! [`RedactConfig`](super::RedactConfig) would not reach them otherwise. The sets only
//! grow: masking a name too many is cheap, missing one leaks.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{PoisonError, RwLock};

use super::names::name_or_plural_matches;
use super::path::PathTemplate;

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

/// Set once a path template is registered.
static ANY_PATH: AtomicBool = AtomicBool::new(false);
static PATHS: RwLock<Vec<PathTemplate>> = RwLock::new(Vec::new());

/// Adds `templates` to the process-wide set (each once).
pub(crate) fn register_paths<'a>(templates: impl IntoIterator<Item = &'a PathTemplate>) {
    let mut paths = PATHS.write().unwrap_or_else(PoisonError::into_inner);
    for template in templates {
        if !paths.contains(template) {
            paths.push(template.clone());
            ANY_PATH.store(true, Ordering::Release);
        }
    }
}

/// Calls `f` with the registered path templates (none without a lock when there are none).
pub(crate) fn with_paths<T>(f: impl FnOnce(&[PathTemplate]) -> T) -> T {
    if !ANY_PATH.load(Ordering::Acquire) {
        return f(&[]);
    }
    f(&PATHS.read().unwrap_or_else(PoisonError::into_inner))
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
