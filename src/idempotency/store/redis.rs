use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, Script};
use serde::{Deserialize, Serialize};

use super::{
    IdempotencyStore, LeaseToken, LedgerKey, Reservation, StoreError, StoreFuture, StoredResponse,
};

/// Settings of a [`RedisStore`].
///
/// # Example
///
/// ```
/// use steadfast::idempotency::store::RedisStoreConfig;
///
/// let config = RedisStoreConfig::new("redis://127.0.0.1:6379/0").prefix("billing-sync:idem:");
/// # let _ = config;
/// ```
#[non_exhaustive]
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisStoreConfig {
    /// The server, as a `redis://` URL (it may hold a password: it is never logged).
    /// Default `redis://127.0.0.1:6379`.
    pub url: String,
    /// Prepended to every key, so that several integrations can share a server.
    /// Default `steadfast:idempotency:`.
    pub prefix: String,
    /// The limit for connecting and for each command. Default 1 s.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for RedisStoreConfig {
    fn default() -> Self {
        Self {
            url: "redis://127.0.0.1:6379".to_owned(),
            prefix: "steadfast:idempotency:".to_owned(),
            timeout: Duration::from_secs(1),
        }
    }
}

impl fmt::Debug for RedisStoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStoreConfig")
            .field("url", &"[redacted]")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl RedisStoreConfig {
    /// Settings for the server at `url`, other fields at their defaults.
    #[must_use]
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ..Self::default()
        }
    }

    /// Sets the key prefix. Default `steadfast:idempotency:`.
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Sets the connect and command limit. Default 1 s.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// A ledger in Redis, shared by every instance of an integration.
///
/// A reservation is `SET key "inflight:<token>" NX PX <lease>`, done in one script with the
/// read of a completed entry; completion and release check the token first, so a holder
/// whose lease ran out cannot overwrite the next holder. A crashed holder's lease simply
/// expires. A completed entry is one value (`done:` + the snapshot) with the TTL.
///
/// # Clone
///
/// Clones share one multiplexed connection, re-established after failures.
///
/// # Example
///
/// ```no_run
/// use steadfast::idempotency::store::{RedisStore, RedisStoreConfig};
///
/// # #[tokio::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = RedisStore::connect(&RedisStoreConfig::new("redis://127.0.0.1:6379")).await?;
/// let client = steadfast::Client::builder()
///     .idempotency_store(store)
///     .build(reqwest::Client::new())?;
/// # let _ = client;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisStore {
    connection: ConnectionManager,
    prefix: Arc<str>,
    scripts: Arc<Scripts>,
}

/// The scripts, hashed once rather than per call.
struct Scripts {
    reserve: Script,
    complete: Script,
    release: Script,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

const RESERVE: &str = r"
local current = redis.call('GET', KEYS[1])
if current then return current end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false
";

const COMPLETE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
";

const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
end
return 0
";

const IN_FLIGHT: &[u8] = b"inflight:";
const DONE: &[u8] = b"done:";

fn unavailable(error: redis::RedisError) -> StoreError {
    StoreError::Unavailable(Box::new(error))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl RedisStore {
    /// Connects to the server now.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] when the URL is invalid or the server cannot be reached
    /// within the timeout.
    pub async fn connect(config: &RedisStoreConfig) -> Result<Self, StoreError> {
        let client = Client::open(config.url.as_str()).map_err(unavailable)?;
        let connection = ConnectionManager::new_with_config(client, manager_config(config))
            .await
            .map_err(unavailable)?;
        Ok(Self::from_parts(connection, config))
    }

    /// A store that connects on first use; an unreachable server then fails each call with
    /// [`StoreError::Unavailable`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] when the URL is invalid.
    pub fn lazy(config: &RedisStoreConfig) -> Result<Self, StoreError> {
        let client = Client::open(config.url.as_str()).map_err(unavailable)?;
        let connection = client
            .get_connection_manager_lazy(manager_config(config))
            .map_err(unavailable)?;
        Ok(Self::from_parts(connection, config))
    }

    fn from_parts(connection: ConnectionManager, config: &RedisStoreConfig) -> Self {
        Self {
            connection,
            prefix: Arc::from(config.prefix.as_str()),
            scripts: Arc::new(Scripts {
                reserve: Script::new(RESERVE),
                complete: Script::new(COMPLETE),
                release: Script::new(RELEASE),
            }),
        }
    }

    fn key(&self, key: &LedgerKey) -> String {
        format!("{}{key}", self.prefix)
    }
}

fn manager_config(config: &RedisStoreConfig) -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(config.timeout))
        .set_response_timeout(Some(config.timeout))
        .set_number_of_retries(1)
}

fn holder(token: &LeaseToken) -> Vec<u8> {
    [IN_FLIGHT, token.as_str().as_bytes()].concat()
}

impl IdempotencyStore for RedisStore {
    fn reserve(&self, key: &LedgerKey, lease: Duration) -> StoreFuture<Reservation> {
        let (key, mut connection, scripts) = (
            self.key(key),
            self.connection.clone(),
            Arc::clone(&self.scripts),
        );
        StoreFuture::new(async move {
            let token = LeaseToken::new();
            let current: Option<Vec<u8>> = scripts
                .reserve
                .key(key)
                .arg(holder(&token))
                .arg(millis(lease))
                .invoke_async(&mut connection)
                .await
                .map_err(unavailable)?;
            match current {
                None => Ok(Reservation::Reserved(token)),
                Some(value) if value.starts_with(IN_FLIGHT) => Ok(Reservation::InFlight),
                Some(value) if value.starts_with(DONE) => Ok(Reservation::Completed(
                    StoredResponse::from_bytes(&value[DONE.len()..])?,
                )),
                Some(_) => Err(StoreError::Corrupt("unknown entry kind")),
            }
        })
    }

    fn complete(
        &self,
        key: &LedgerKey,
        token: &LeaseToken,
        response: StoredResponse,
        ttl: Duration,
    ) -> StoreFuture<bool> {
        let (key, mut connection, scripts) = (
            self.key(key),
            self.connection.clone(),
            Arc::clone(&self.scripts),
        );
        let (holder, value) = (holder(token), [DONE, response.as_bytes()].concat());
        StoreFuture::new(async move {
            let done: i64 = scripts
                .complete
                .key(key)
                .arg(holder)
                .arg(value)
                .arg(millis(ttl))
                .invoke_async(&mut connection)
                .await
                .map_err(unavailable)?;
            Ok(done == 1)
        })
    }

    fn release(&self, key: &LedgerKey, token: &LeaseToken) -> StoreFuture<()> {
        let (key, mut connection, scripts) = (
            self.key(key),
            self.connection.clone(),
            Arc::clone(&self.scripts),
        );
        let holder = holder(token);
        StoreFuture::new(async move {
            let _: i64 = scripts
                .release
                .key(key)
                .arg(holder)
                .invoke_async(&mut connection)
                .await
                .map_err(unavailable)?;
            Ok(())
        })
    }
}
