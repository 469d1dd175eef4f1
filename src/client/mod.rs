//! The `Client` facade: reqwest-like requests through the whole resilience stack.
//!
//! ```no_run
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let client = steadfast::Client::new(reqwest::Client::new());
//! let orders: serde_json::Value = client
//!     .get("http://127.0.0.1:8080/orders")
//!     .query(&[("status", "open")])
//!     .send()
//!     .await?
//!     .json()
//!     .await?;
//! # let _ = orders;
//! # Ok(())
//! # }
//! ```

mod base_url;
mod builder;
mod config;
mod config_error;
mod config_load;
mod dead_letters;
mod facade;
mod profile;
mod reload;
mod reload_watch;
mod request;
mod response;
mod switch;

pub use base_url::IntoRequestUrl;
pub use builder::ClientBuilder;
pub use config::ClientConfig;
pub use config_error::{ConfigSource, LoadError};
pub use facade::Client;
pub use profile::Profiles;
pub use reload_watch::FileWatch;
pub use request::RequestBuilder;
pub use response::ResponseExt;
