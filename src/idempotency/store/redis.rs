use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, Script};
use serde::{Deserialize, Serialize};

use super::{
    Fingerprint, IdempotencyStore, LeaseToken, LedgerKey, Reservation, Resolution, StoreError,
    StoreFuture, StoredResponse, Terms,
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
/// Each key is one Redis value, read and written only by Lua scripts, so every operation is
/// atomic: `I` + lease token + fingerprint + the lease's end (Redis's own clock) while in
/// flight, `U` + fingerprint when the outcome is unknown, `D` + fingerprint + the
/// [`StoredResponse`] when completed. A reservation lives for the lease plus the TTL: once
/// the lease ends, the scripts read it as unknown, never as free.
///
/// The scripts read Redis's clock (`TIME`), so Redis 5 or later is needed; each touches a
/// key and the epoch marker, so one Redis (or a replicated primary), not a cluster.
///
/// # Durability
///
/// The ledger is only as good as Redis's memory of it. Run Redis with AOF
/// (`appendonly yes`, `appendfsync everysec` or `always`), and with replicas, `WAIT` or
/// `min-replicas-to-write`, and `maxmemory-policy noeviction`. A Redis that restarts
/// empty, is flushed, or fails over to a replica without the data is **detected**: the store
/// writes an epoch marker once (`<prefix>epoch`, no TTL) and every script checks it. When it
/// is gone or changed, every key is [`Reservation::Unvouched`] (nothing is sent) until
/// [`acknowledge_loss`](Self::acknowledge_loss) is called, on each store that saw the loss.
/// A process that first meets a Redis after it lost its data cannot tell, and trusts it.
///
/// # Clone
///
/// Clones share one multiplexed connection, re-established after failures, and one epoch.
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
    shared: Arc<Shared>,
}

/// What clones share: the scripts, hashed once rather than per call, and the epoch.
struct Shared {
    epoch_key: String,
    /// The epoch marker this store vouches for; `None` until first learned.
    epoch: Mutex<Option<Arc<str>>>,
    learn: Script,
    reserve: Script,
    complete: Script,
    release: Script,
    unknown: Script,
    resolve: Script,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// Reads the epoch marker, writing `ARGV[1]` if there is none.
const LEARN: &str = r"
local e = redis.call('GET', KEYS[1])
if not e then
  redis.call('SET', KEYS[1], ARGV[1])
  e = ARGV[1]
end
return e
";

/// Every script starts here: KEYS[2] is the epoch marker, ARGV[1] the epoch the store
/// vouches for; `now` is Redis's clock in milliseconds.
const PROLOGUE: &str = r"
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return {'lost'} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local v = redis.call('GET', KEYS[1])
local kind = v and string.sub(v, 1, 1)
";

/// ARGV: epoch, token, fingerprint, lease ms, lease + ttl ms.
const RESERVE: &str = r"
if not v then
  local entry = 'I' .. ARGV[2] .. ARGV[3] .. string.format('%.0f', now + tonumber(ARGV[4]))
  redis.call('SET', KEYS[1], entry, 'PX', ARGV[5])
  return {'reserved'}
end
local fp
if kind == 'I' then fp = string.sub(v, 34, 65) else fp = string.sub(v, 2, 33) end
if fp ~= ARGV[3] then return {'reused'} end
if kind == 'I' then
  if tonumber(string.sub(v, 66)) > now then return {'inflight'} end
  return {'unknown'}
end
if kind == 'U' then return {'unknown'} end
if kind == 'D' then return {'done', string.sub(v, 34)} end
return {'corrupt'}
";

/// ARGV: epoch, token, snapshot, ttl ms.
const COMPLETE: &str = r"
if kind == 'I' and string.sub(v, 2, 33) == ARGV[2] then
  redis.call('SET', KEYS[1], 'D' .. string.sub(v, 34, 65) .. ARGV[3], 'PX', ARGV[4])
  return {'ok'}
end
return {'no'}
";

/// ARGV: epoch, token.
const RELEASE: &str = r"
if kind == 'I' and string.sub(v, 2, 33) == ARGV[2] then
  redis.call('DEL', KEYS[1])
end
return {'ok'}
";

/// ARGV: epoch, token, ttl ms.
const UNKNOWN: &str = r"
if kind == 'I' and string.sub(v, 2, 33) == ARGV[2] then
  redis.call('SET', KEYS[1], 'U' .. string.sub(v, 34, 65), 'PX', ARGV[3])
end
return {'ok'}
";

/// ARGV: epoch, `applied` or `not`, snapshot, ttl ms.
const RESOLVE: &str = r"
local fp
if kind == 'I' and tonumber(string.sub(v, 66)) <= now then
  fp = string.sub(v, 34, 65)
elseif kind == 'U' then
  fp = string.sub(v, 2, 33)
else
  return {'no'}
end
if ARGV[2] == 'applied' then
  redis.call('SET', KEYS[1], 'D' .. fp .. ARGV[3], 'PX', ARGV[4])
else
  redis.call('DEL', KEYS[1])
end
return {'ok'}
";

fn unavailable(error: redis::RedisError) -> StoreError {
    StoreError::Unavailable(Box::new(error))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

fn script(body: &str) -> Script {
    Script::new(&format!("{PROLOGUE}{body}"))
}

/// A fresh epoch marker: 128 random bits.
fn new_epoch() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl RedisStore {
    /// Connects to the server now, and learns (or writes) its epoch marker.
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
        let store = Self::from_parts(connection, config);
        store.epoch().await?;
        Ok(store)
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

    /// Accepts that the ledger lost its data: from now on this store (and its clones)
    /// vouches for what Redis holds again. Call it once someone has checked, with the
    /// server, the calls whose keys were lost (dead letters, the server's own records).
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] when Redis cannot be reached.
    pub async fn acknowledge_loss(&self) -> Result<(), StoreError> {
        // Adopts the marker another instance may have written since, or writes a new one:
        // instances that acknowledge one after the other agree on one epoch.
        let epoch = self.learn_epoch().await?;
        *self.lock_epoch() = Some(epoch);
        Ok(())
    }

    fn from_parts(connection: ConnectionManager, config: &RedisStoreConfig) -> Self {
        Self {
            connection,
            prefix: Arc::from(config.prefix.as_str()),
            shared: Arc::new(Shared {
                epoch_key: format!("{}epoch", config.prefix),
                epoch: Mutex::new(None),
                learn: Script::new(LEARN),
                reserve: script(RESERVE),
                complete: script(COMPLETE),
                release: script(RELEASE),
                unknown: script(UNKNOWN),
                resolve: script(RESOLVE),
            }),
        }
    }

    fn key(&self, key: &LedgerKey) -> String {
        format!("{}{key}", self.prefix)
    }

    fn lock_epoch(&self) -> std::sync::MutexGuard<'_, Option<Arc<str>>> {
        self.shared
            .epoch
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    async fn learn_epoch(&self) -> Result<Arc<str>, StoreError> {
        let epoch: String = self
            .shared
            .learn
            .key(&self.shared.epoch_key)
            .arg(new_epoch())
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(unavailable)?;
        Ok(Arc::from(epoch))
    }

    /// The epoch this store vouches for, learned on first use.
    async fn epoch(&self) -> Result<Arc<str>, StoreError> {
        if let Some(epoch) = self.lock_epoch().clone() {
            return Ok(epoch);
        }
        let learned = self.learn_epoch().await?;
        // Concurrent first calls learn the same marker; the first one kept wins.
        Ok(self.lock_epoch().get_or_insert(learned).clone())
    }

    /// Runs `script` on `key` with the epoch first among its arguments, then `args`.
    fn run(
        &self,
        script: fn(&Shared) -> &Script,
        key: &LedgerKey,
        args: Vec<Vec<u8>>,
    ) -> StoreFuture<Vec<Vec<u8>>> {
        let (store, key) = (self.clone(), self.key(key));
        StoreFuture::new(async move {
            let epoch = store.epoch().await?;
            let mut invocation = script(&store.shared).prepare_invoke();
            invocation
                .key(key)
                .key(&store.shared.epoch_key)
                .arg(epoch.as_bytes());
            for arg in args {
                invocation.arg(arg);
            }
            let reply: Vec<Vec<u8>> = invocation
                .invoke_async(&mut store.connection.clone())
                .await
                .map_err(unavailable)?;
            if reply.first().is_some_and(|kind| kind == b"lost") {
                return Err(StoreError::Unvouched);
            }
            Ok(reply)
        })
    }
}

fn manager_config(config: &RedisStoreConfig) -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(config.timeout))
        .set_response_timeout(Some(config.timeout))
        .set_number_of_retries(1)
}

fn text(value: u64) -> Vec<u8> {
    value.to_string().into_bytes()
}

fn kind(reply: &[Vec<u8>]) -> &[u8] {
    reply.first().map_or(&[], Vec::as_slice)
}

impl IdempotencyStore for RedisStore {
    fn reserve(
        &self,
        key: &LedgerKey,
        fingerprint: &Fingerprint,
        terms: Terms,
    ) -> StoreFuture<Reservation> {
        let token = LeaseToken::new();
        let lease = millis(terms.lease);
        let args = vec![
            token.as_str().as_bytes().to_vec(),
            fingerprint.as_bytes().to_vec(),
            text(lease),
            text(lease.saturating_add(millis(terms.ttl))),
        ];
        let reply = self.run(|s| &s.reserve, key, args);
        StoreFuture::new(async move {
            let reply = match reply.await {
                Ok(reply) => reply,
                Err(StoreError::Unvouched) => return Ok(Reservation::Unvouched),
                Err(e) => return Err(e),
            };
            match (kind(&reply), reply.get(1)) {
                (b"reserved", _) => Ok(Reservation::Reserved(token)),
                (b"inflight", _) => Ok(Reservation::InFlight),
                (b"unknown", _) => Ok(Reservation::Unknown),
                (b"reused", _) => Ok(Reservation::KeyReused),
                (b"done", Some(snapshot)) => Ok(Reservation::Completed(
                    StoredResponse::from_bytes(snapshot)?,
                )),
                _ => Err(StoreError::Corrupt("unknown entry kind")),
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
        let args = vec![
            token.as_str().as_bytes().to_vec(),
            response.as_bytes().to_vec(),
            text(millis(ttl)),
        ];
        let reply = self.run(|s| &s.complete, key, args);
        StoreFuture::new(async move { Ok(kind(&reply.await?) == b"ok") })
    }

    fn release(&self, key: &LedgerKey, token: &LeaseToken) -> StoreFuture<()> {
        let reply = self.run(
            |s| &s.release,
            key,
            vec![token.as_str().as_bytes().to_vec()],
        );
        StoreFuture::new(async move { reply.await.map(drop) })
    }

    fn mark_unknown(&self, key: &LedgerKey, token: &LeaseToken, ttl: Duration) -> StoreFuture<()> {
        let args = vec![token.as_str().as_bytes().to_vec(), text(millis(ttl))];
        let reply = self.run(|s| &s.unknown, key, args);
        StoreFuture::new(async move { reply.await.map(drop) })
    }

    fn resolve(&self, key: &LedgerKey, resolution: Resolution, ttl: Duration) -> StoreFuture<bool> {
        let (how, snapshot) = match resolution {
            Resolution::Applied(response) => (&b"applied"[..], response.as_bytes().to_vec()),
            Resolution::NotApplied => (&b"not"[..], Vec::new()),
        };
        let args = vec![how.to_vec(), snapshot, text(millis(ttl))];
        let reply = self.run(|s| &s.resolve, key, args);
        StoreFuture::new(async move { Ok(kind(&reply.await?) == b"ok") })
    }
}
