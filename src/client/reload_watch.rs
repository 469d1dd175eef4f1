//! Reloading a client when its configuration file changes.

use std::path::{Path, PathBuf};
use std::sync::Weak;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::facade::Inner;
use super::{Client, ClientConfig, LoadError};

/// Watches a configuration file for a client; see [`Client::watch_file`]. Watching stops
/// when this is dropped, or when every clone of the client is gone.
#[derive(Debug)]
#[must_use = "the watch stops when dropped"]
pub struct FileWatch {
    task: JoinHandle<()>,
}

impl Drop for FileWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Client {
    /// Loads `path` with [`ClientConfig::load`] (the file, then `STEADFAST_*` variables),
    /// applies it with [`reload`](Self::reload), and reloads again whenever the file's
    /// contents change, looking every `every`.
    ///
    /// A change that does not load or is invalid is logged (a `tracing` WARN naming the
    /// file and key, never a value) and the client keeps its settings, so a half-written
    /// file does no harm: write the new file beside the old and rename it over.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    ///
    /// let client = steadfast::Client::new(reqwest::Client::new());
    /// let _watch = client.watch_file("/etc/orders-sync/steadfast.toml", Duration::from_secs(5))?;
    /// // ... calls take the file's settings, and its new ones after each change.
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`LoadError`] when the file cannot be loaded now or its settings are invalid.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn watch_file(
        &self,
        path: impl Into<PathBuf>,
        every: Duration,
    ) -> Result<FileWatch, LoadError> {
        let path = path.into();
        let mut seen = std::fs::read(&path).map_err(|source| LoadError::Read {
            path: path.clone(),
            source,
        })?;
        self.reload(&ClientConfig::load(&path)?)?;
        let client = std::sync::Arc::downgrade(&self.inner);
        // The first look is `every` from now, however late the task first runs.
        let every = every.max(Duration::from_millis(1));
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let task = tokio::spawn(async move {
            loop {
                ticks.tick().await;
                if !check(&client, &path, &mut seen) {
                    return;
                }
            }
        });
        Ok(FileWatch { task })
    }
}

/// Reloads when the file changed; `false` once the client is gone.
fn check(client: &Weak<Inner>, path: &Path, seen: &mut Vec<u8>) -> bool {
    let Some(inner) = client.upgrade() else {
        return false;
    };
    let client = Client { inner };
    match std::fs::read(path) {
        Ok(contents) if contents == *seen => {}
        Ok(contents) => {
            // Each version of the file is tried once: a bad one warns once, not every tick.
            *seen = contents;
            let loaded = ClientConfig::load(path).and_then(|config| Ok(client.reload(&config)?));
            match loaded {
                Ok(()) => {
                    tracing::info!(file = %path.display(), "configuration reloaded");
                }
                Err(error) => {
                    tracing::warn!(%error, "configuration changed but not reloaded: settings kept");
                }
            }
        }
        Err(error) => {
            tracing::warn!(file = %path.display(), %error, "configuration file not readable: settings kept");
        }
    }
    true
}
