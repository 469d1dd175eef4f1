//! A credential read from a file, and read again when the file changes.

use std::fmt;
use std::fs::{self, Metadata};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use reqwest::header::HeaderName;
use secrecy::{ExposeSecret as _, SecretString};
use tokio::time::Instant;

use super::credential::Placement;
use super::{Credential, Credentials, Lookup, RefreshFuture};
use crate::error::{ConfigError, CredentialsError};

/// A header or query parameter whose value is a file's content: a Kubernetes secret or a
/// Vault agent's token mounted as a file, re-read when the file changes.
///
/// # Rotation
///
/// At most once per [`recheck`](Self::recheck) interval (default 1 s), the next attempt
/// looks at the file's modification time, length and inode (a Kubernetes update swaps a
/// symlink: a new inode); only a change reads it again. The content is read up to
/// [`max_bytes`](Self::max_bytes) (default 16 KiB) and a trailing newline is trimmed.
/// Replace the file atomically (write aside, rename over it), as Kubernetes and Vault agent
/// do: a rewrite in place to a value of the same length within the file system's timestamp
/// granularity keeps all three the same, and is only seen at the next change.
/// On a `401`, the file is looked at at once and, when it changed since the attempt, the
/// attempt is sent once more with the new value ([`resend_on_unauthorized`](Self::resend_on_unauthorized)).
///
/// # A file that goes away
///
/// Until the file has been read once, a missing, unreadable, empty or oversized file fails
/// the attempt with [`CredentialsError`] (not sent). Once a value was read, a file that is
/// missing or unreadable at a later check keeps the **last good value** in use, with a
/// warning in the log at every check: a secret mount being swapped, or an agent restarting,
/// must not stop every call; a key really revoked is refused by the server (a `401`, which
/// needs a person either way).
///
/// # Cost
///
/// Between checks, an attempt takes a read lock and clones the header (reference counts).
/// A check is one `stat` on the calling thread (secret mounts are in memory), and a change
/// one bounded read. With `resend_on_unauthorized` on, each attempt also keeps a copy of
/// its request.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use steadfast::credentials::FileCredentials;
///
/// let key = FileCredentials::header("/var/run/secrets/crm/api-key", "x-api-key")?
///     .recheck(Duration::from_secs(5));
/// # let _ = key;
/// # Ok::<(), steadfast::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct FileCredentials {
    path: PathBuf,
    placement: Placement,
    prefix: String,
    recheck: Duration,
    max_bytes: u64,
    resend_on_unauthorized: bool,
    last: Arc<RwLock<Option<Read>>>,
}

/// The last good read: when the file was last looked at, what it looked like, and the
/// credential built from it.
struct Read {
    checked_at: Instant,
    stamp: Stamp,
    credential: Credential,
}

/// What a file looked like: a change in any of these means it was replaced or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

impl Stamp {
    fn of(meta: &Metadata) -> Self {
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(meta);
        #[cfg(not(unix))]
        let inode = 0;
        Self {
            modified: meta.modified().ok(),
            len: meta.len(),
            inode,
        }
    }
}

impl fmt::Debug for FileCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileCredentials")
            .field("path", &self.path)
            .field("placement", &self.placement)
            .field("recheck", &self.recheck)
            .finish_non_exhaustive()
    }
}

impl FileCredentials {
    /// The header `header` set to the content of the file at `path`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::HeaderName`] for an invalid header name.
    pub fn header(path: impl Into<PathBuf>, header: &str) -> Result<Self, ConfigError> {
        let name = HeaderName::try_from(header).map_err(|_| ConfigError::HeaderName {
            name: "credentials.file.header",
            value: header.to_owned(),
        })?;
        Ok(Self::at(path.into(), Placement::Header(name)))
    }

    /// The query parameter `name` set to the content of the file at `path`.
    #[must_use]
    pub fn query(path: impl Into<PathBuf>, name: &str) -> Self {
        Self::at(path.into(), Placement::Query(Arc::from(name)))
    }

    fn at(path: PathBuf, placement: Placement) -> Self {
        Self {
            path,
            placement,
            prefix: String::new(),
            recheck: Duration::from_secs(1),
            max_bytes: 16 * 1024,
            resend_on_unauthorized: true,
            last: Arc::new(RwLock::new(None)),
        }
    }

    /// Puts `prefix` before the file's content (`"Bearer "`). Default none.
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How often, at most, an attempt looks whether the file changed. Default 1 s;
    /// `Duration::ZERO` looks on every attempt.
    #[must_use]
    pub fn recheck(mut self, every: Duration) -> Self {
        self.recheck = every;
        self
    }

    /// The largest file read, in bytes; a larger one is an error. Default 16 KiB.
    #[must_use]
    pub fn max_bytes(mut self, max: u64) -> Self {
        self.max_bytes = max;
        self
    }

    /// Whether a `401` looks at the file at once and, when it changed since the attempt,
    /// sends the attempt once more with the new value. Default `true`.
    #[must_use]
    pub fn resend_on_unauthorized(mut self, resend: bool) -> Self {
        self.resend_on_unauthorized = resend;
        self
    }

    /// The credential for an attempt now; `force` looks at the file whatever the interval.
    fn current(&self, force: bool) -> Result<Credential, CredentialsError> {
        let now = Instant::now();
        let known = match self.last.read() {
            Ok(last) => match last.as_ref() {
                Some(read)
                    if !force && now.saturating_duration_since(read.checked_at) < self.recheck =>
                {
                    return Ok(read.credential.clone());
                }
                Some(read) => Some(read.stamp),
                None => None,
            },
            Err(_) => None,
        };
        let fresh = fs::metadata(&self.path)
            .map_err(|source| self.unreadable(source))
            .and_then(|meta| {
                let stamp = Stamp::of(&meta);
                if known == Some(stamp) {
                    return Ok(None);
                }
                self.read().map(|credential| Some((stamp, credential)))
            });
        let Ok(mut last) = self.last.write() else {
            return fresh.and_then(|f| f.map(|(_, c)| c).ok_or_else(|| self.poisoned()));
        };
        match (fresh, last.as_mut()) {
            (Ok(Some((stamp, credential))), _) => {
                *last = Some(Read {
                    checked_at: now,
                    stamp,
                    credential: credential.clone(),
                });
                Ok(credential)
            }
            (Ok(None), Some(read)) => {
                read.checked_at = now;
                Ok(read.credential.clone())
            }
            (Err(error), Some(read)) => {
                tracing::warn!(
                    path = %self.path.display(),
                    error = %error,
                    "credential file unreadable; the last value read stays in use"
                );
                read.checked_at = now;
                Ok(read.credential.clone())
            }
            (Err(error), None) => Err(error),
            // Unchanged but nothing kept: only after a poisoned lock was cleared.
            (Ok(None), None) => Err(self.poisoned()),
        }
    }

    /// Reads the file, bounded, and builds its credential.
    fn read(&self) -> Result<Credential, CredentialsError> {
        let file = fs::File::open(&self.path).map_err(|source| self.unreadable(source))?;
        let mut bytes = Vec::new();
        file.take(self.max_bytes.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|source| self.unreadable(source))?;
        if bytes.len() as u64 > self.max_bytes {
            return Err(CredentialsError::FileTooLarge {
                path: self.path.clone(),
                limit: self.max_bytes,
            });
        }
        let text = SecretString::from(String::from_utf8(bytes).map_err(|_| self.invalid())?);
        let value = text.expose_secret().trim_end_matches(['\n', '\r']);
        Credential::prefixed(&self.placement, &self.prefix, value, &self.what())
    }

    fn what(&self) -> String {
        format!("credential file {}", self.path.display())
    }

    fn invalid(&self) -> CredentialsError {
        CredentialsError::Invalid { what: self.what() }
    }

    fn poisoned(&self) -> CredentialsError {
        self.unreadable(std::io::Error::other("a reader panicked"))
    }

    fn unreadable(&self, source: std::io::Error) -> CredentialsError {
        CredentialsError::File {
            path: self.path.clone(),
            source,
        }
    }

    /// The file this provider reads.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Credentials for FileCredentials {
    fn credential(&self) -> Lookup {
        Lookup::Ready(self.current(false))
    }

    fn can_refresh(&self) -> bool {
        self.resend_on_unauthorized
    }

    fn unauthorized(&self, rejected: &Credential) -> RefreshFuture {
        let fresh = self
            .current(true)
            .map(|now| (now != *rejected).then_some(now));
        Box::pin(std::future::ready(fresh))
    }
}
