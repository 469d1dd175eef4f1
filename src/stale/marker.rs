use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;

/// Marks a response served from the stale-if-error store instead of the server's answer:
/// found in the response's extensions.
///
/// # Example
///
/// ```
/// use steadfast::stale::Stale;
///
/// # async fn show(client: steadfast::Client) -> Result<(), steadfast::Error> {
/// let response = client.get("http://127.0.0.1:9/catalog").send().await?;
/// if let Some(stale) = Stale::of(&response) {
///     println!("the catalog as of {:?} ago: {}", stale.age, stale.error);
/// }
/// # Ok(())
/// # }
/// ```
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct Stale {
    /// How old the response is.
    pub age: Duration,
    /// Why the call failed, and a stale response was served instead.
    pub error: Arc<Error>,
}

impl Stale {
    /// The marker of `response`, when it was served stale.
    #[must_use]
    pub fn of(response: &reqwest::Response) -> Option<&Self> {
        response.extensions().get::<Self>()
    }
}
