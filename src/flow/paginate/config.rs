//! The bounds of a walk.

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

/// The bounds of a walk over pages.
///
/// ```
/// use steadfast::flow::PaginateConfig;
///
/// let config: PaginateConfig = serde_json::from_str(r#"{ "max_pages": 500 }"#)?;
/// assert_eq!(config, PaginateConfig::default().max_pages(500));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PaginateConfig {
    /// Pages read at most, counted across resumes; one more page ends the walk with
    /// [`PageCap`](super::PaginateErrorKind::PageCap). Default 10,000.
    pub max_pages: u64,
    /// Bytes of one page's body at most. Default 16 MiB.
    pub max_page_bytes: usize,
}

impl Default for PaginateConfig {
    fn default() -> Self {
        Self {
            max_pages: 10_000,
            max_page_bytes: 16 * 1024 * 1024,
        }
    }
}

impl PaginateConfig {
    /// Sets the page cap. Default 10,000.
    #[must_use]
    pub fn max_pages(mut self, max_pages: u64) -> Self {
        self.max_pages = max_pages;
        self
    }

    /// Sets the byte cap of one page's body. Default 16 MiB.
    #[must_use]
    pub fn max_page_bytes(mut self, max_page_bytes: usize) -> Self {
        self.max_page_bytes = max_page_bytes;
        self
    }

    /// Checks the bounds.
    ///
    /// # Errors
    ///
    /// [`ConfigError::OutOfRange`] for a zero bound.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let zero = |name| ConfigError::OutOfRange {
            name,
            range: ">= 1",
            value: 0.0,
        };
        if self.max_pages == 0 {
            return Err(zero("max_pages"));
        }
        if self.max_page_bytes == 0 {
            return Err(zero("max_page_bytes"));
        }
        Ok(())
    }
}
