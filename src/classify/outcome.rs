use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use super::Classification;

/// One outcome of an attempt: the response the server sent, or the error that happened
/// instead.
#[derive(Clone, Copy)]
pub enum Outcome<'a> {
    /// The server answered.
    Response(&'a reqwest::Response),
    /// No response: the error, whose `source()` chain the classifier may walk.
    Error(&'a (dyn StdError + 'static)),
}

impl fmt::Debug for Outcome<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Deliberately no URL and no headers: they may carry secrets.
        match self {
            Self::Response(response) => {
                f.debug_tuple("Response").field(&response.status()).finish()
            }
            Self::Error(_) => f.write_str("Error(..)"),
        }
    }
}

/// Decides what an outcome means. Every layer reads the same verdict.
///
/// Implemented by [`DefaultClassifier`](super::DefaultClassifier) and by any
/// `Fn(Outcome<'_>) -> Classification` closure.
///
/// # Example
///
/// ```
/// use steadfast::classify::{Classification, Classify, DefaultClassifier, Outcome, Reason};
///
/// // An API whose 409 means "try again, a lock is held"; everything else as by default.
/// let default = DefaultClassifier::new();
/// let classifier = move |outcome: Outcome<'_>| match outcome {
///     Outcome::Response(r) if r.status() == 409 => {
///         Classification::transient(Reason::Status(r.status()))
///     }
///     other => default.classify(other),
/// };
/// # fn assert_classify(_: impl Classify) {}
/// assert_classify(classifier);
/// ```
pub trait Classify: Send + Sync + 'static {
    /// Classifies one outcome.
    fn classify(&self, outcome: Outcome<'_>) -> Classification;
}

impl<F> Classify for F
where
    F: Fn(Outcome<'_>) -> Classification + Send + Sync + 'static,
{
    fn classify(&self, outcome: Outcome<'_>) -> Classification {
        self(outcome)
    }
}

/// A classifier shared by every layer of a stack.
pub type SharedClassifier = Arc<dyn Classify>;
