use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::mapper::{DriftMonitor, DriftReport};

/// Decoding a response while watching for schema drift.
///
/// # Example
///
/// ```no_run
/// use serde::Deserialize;
/// use steadfast::ResponseExt;
/// use steadfast::mapper::DriftMonitor;
///
/// #[derive(Deserialize)]
/// struct Customer {
///     id: i64,
///     email: Option<String>,
/// }
///
/// # #[tokio::main]
/// # async fn main() -> Result<(), steadfast::Error> {
/// let client = steadfast::Client::new(reqwest::Client::new());
/// let drift = DriftMonitor::new(); // share it: each distinct drift is logged once
/// let (customer, report) = client
///     .get("http://127.0.0.1:8080/customers/42")
///     .send()
///     .await?
///     .json_with_drift::<Customer>(&drift)
///     .await?;
/// if !report.is_empty() {
///     println!("the CRM changed: {report:?}");
/// }
/// # let _ = customer;
/// # Ok(())
/// # }
/// ```
pub trait ResponseExt: Sized {
    /// Reads the body and decodes it as JSON into `T`, reporting fields the upstream added
    /// and optional fields it stopped sending; `monitor` logs each distinct drift once.
    ///
    /// # Errors
    ///
    /// [`Error::Transport`] when the body cannot be read, [`Error::Decode`] when it is not
    /// valid JSON or does not fit `T` (with the path of the problem, its value redacted).
    fn json_with_drift<T: DeserializeOwned>(
        self,
        monitor: &DriftMonitor,
    ) -> impl Future<Output = Result<(T, DriftReport), Error>> + Send;
}

impl ResponseExt for reqwest::Response {
    async fn json_with_drift<T: DeserializeOwned>(
        self,
        monitor: &DriftMonitor,
    ) -> Result<(T, DriftReport), Error> {
        let body = self
            .bytes()
            .await
            .map_err(|e| Error::transport(Box::new(e.without_url())))?;
        Ok(monitor.decode::<T>(body)?)
    }
}
