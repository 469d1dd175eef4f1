//! Letters in Redis: a stream of every version, a hash of the latest, and a consumer group
//! that hands letters to replayers.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, Script};
use serde::{Deserialize, Serialize};

use super::{Claim, DeadLetterSink, SinkError, SinkFuture};
use crate::dead_letter::{DeadLetter, LetterFilter, LetterId, LetterState};

/// Settings of a [`RedisSink`].
///
/// ```
/// use steadfast::dead_letter::sink::RedisSinkConfig;
///
/// let config = RedisSinkConfig::new("redis://127.0.0.1:6379/0")
///     .prefix("billing-sync:dead-letters:")
///     .max_letters(50_000);
/// # let _ = config;
/// ```
#[non_exhaustive]
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisSinkConfig {
    /// The server, as a `redis://` URL (it may hold a password: it is never logged).
    /// Default `redis://127.0.0.1:6379`.
    pub url: String,
    /// Prepended to every key. Default `steadfast:dead-letters:`.
    pub prefix: String,
    /// The most letters kept (the oldest go first) and the approximate length of the
    /// streams (`XADD … MAXLEN ~`). Default 100,000.
    pub max_letters: u64,
    /// The consumer group replayers read through. Default `replayers`.
    pub group: String,
    /// The limit for connecting and for each command. Default 1 s.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for RedisSinkConfig {
    fn default() -> Self {
        Self {
            url: "redis://127.0.0.1:6379".to_owned(),
            prefix: "steadfast:dead-letters:".to_owned(),
            max_letters: 100_000,
            group: "replayers".to_owned(),
            timeout: Duration::from_secs(1),
        }
    }
}

impl fmt::Debug for RedisSinkConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSinkConfig")
            .field("url", &"[redacted]")
            .field("prefix", &self.prefix)
            .field("max_letters", &self.max_letters)
            .field("group", &self.group)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl RedisSinkConfig {
    /// Settings for the server at `url`, other fields at their defaults.
    #[must_use]
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ..Self::default()
        }
    }

    /// Sets the key prefix. Default `steadfast:dead-letters:`.
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Sets the most letters kept. Default 100,000.
    #[must_use]
    pub fn max_letters(mut self, max: u64) -> Self {
        self.max_letters = max;
        self
    }

    /// Sets the consumer group's name. Default `replayers`.
    #[must_use]
    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.group = group.into();
        self
    }

    /// Sets the connect and command limit. Default 1 s.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// Keeps letters in Redis, shared by every instance of an integration (feature `redis`).
///
/// - `<prefix>log`: a stream with every version of every letter (`XADD … MAXLEN ~`), the
///   history an operator can read with `XRANGE`.
/// - `<prefix>letters`: a hash of each letter's latest version, which `get` and `list` read,
///   and `<prefix>index`, a sorted set by creation time that bounds it (the oldest go
///   first).
/// - `<prefix>work`: a stream with one entry per new letter, read by replayers through the
///   consumer group (`XREADGROUP`): two workers never get one letter. An entry a crashed
///   worker left is taken over with `XAUTOCLAIM` once it has been idle for the lease.
///   Resolving, discarding or a failed replay acknowledges it (`XACK`).
/// - `<prefix>claim:<id>`: a claim on one letter (`SET NX PX` the lease), so that an operator's
///   replay and a worker's never send one letter twice.
///
/// Every step is a Lua script, atomic on the server; one Redis (or a replicated primary),
/// not a cluster. Redis 6.2 or later (`XAUTOCLAIM`).
///
/// # Clone
///
/// Clones share one multiplexed connection, re-established after failures.
///
/// # Example
///
/// ```no_run
/// use steadfast::dead_letter::sink::{RedisSink, RedisSinkConfig};
///
/// # #[tokio::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let sink = RedisSink::connect(&RedisSinkConfig::new("redis://127.0.0.1:6379")).await?;
/// let client = steadfast::Client::builder()
///     .dead_letter_sink(sink)
///     .build(reqwest::Client::new())?;
/// # let _ = client;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisSink {
    connection: ConnectionManager,
    shared: Arc<Shared>,
}

struct Shared {
    keys: Keys,
    group: String,
    max_letters: u64,
    store: Script,
    claim: Script,
    claim_next: Script,
}

struct Keys {
    log: String,
    letters: String,
    index: String,
    work: String,
    work_ids: String,
    claim_prefix: String,
}

impl fmt::Debug for RedisSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSink")
            .field("letters", &self.shared.keys.letters)
            .field("group", &self.shared.group)
            .finish_non_exhaustive()
    }
}

/// KEYS: log, letters, index, work, `work_ids`, claim prefix.
/// ARGV: id, letter JSON, created (ms), state name, cap, group.
const STORE: &str = r"
local id, json, state, cap, group = ARGV[1], ARGV[2], ARGV[4], tonumber(ARGV[5]), ARGV[6]
local existed = redis.call('HEXISTS', KEYS[2], id)
redis.call('HSET', KEYS[2], id, json)
redis.call('ZADD', KEYS[3], 'NX', ARGV[3], id)
redis.call('XADD', KEYS[1], 'MAXLEN', '~', cap, '*', 'id', id, 'letter', json)
if existed == 0 and state == 'pending' then
  local m = redis.call('XADD', KEYS[4], 'MAXLEN', '~', cap, '*', 'id', id)
  redis.call('HSET', KEYS[5], id, m)
elseif state == 'resolved' or state == 'discarded' or state == 'failed_again' then
  local m = redis.call('HGET', KEYS[5], id)
  if m then
    redis.call('XACK', KEYS[4], group, m)
    redis.call('HDEL', KEYS[5], id)
  end
  redis.call('DEL', KEYS[6] .. id)
end
while redis.call('ZCARD', KEYS[3]) > cap do
  local oldest = redis.call('ZPOPMIN', KEYS[3])
  redis.call('HDEL', KEYS[2], oldest[1])
  redis.call('HDEL', KEYS[5], oldest[1])
end
return 1
";

/// Takes the claim on one letter. KEYS: letters, claim prefix. ARGV: id, claimant, lease
/// (ms). Returns {kind, letter}.
const CLAIM: &str = r"
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return {'notfound'} end
local s = cjson.decode(v).state.state
if s == 'resolved' or s == 'discarded' then return {'final', v} end
local key = KEYS[2] .. ARGV[1]
if redis.call('SET', key, ARGV[2], 'NX', 'PX', ARGV[3]) then return {'claimed', v} end
if redis.call('GET', key) == ARGV[2] then
  redis.call('PEXPIRE', key, ARGV[3])
  return {'claimed', v}
end
return {'held', v}
";

/// Hands up to ARGV[3] letters to a worker: first entries left idle for the lease by
/// another, then new ones. KEYS: work, letters, `work_ids`, claim prefix. ARGV: group,
/// claimant, count, lease (ms). Returns the letters claimed.
const CLAIM_NEXT: &str = r"
local group, claimant, count, lease = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local entries = {}
local idle = redis.call('XAUTOCLAIM', KEYS[1], group, claimant, lease, '0-0', 'COUNT', count)
for _, e in ipairs(idle[2]) do
  if e[2] then table.insert(entries, e) end
end
if #entries < count then
  local fresh = redis.call('XREADGROUP', 'GROUP', group, claimant, 'COUNT', count - #entries,
    'STREAMS', KEYS[1], '>')
  if fresh then
    for _, e in ipairs(fresh[1][2]) do table.insert(entries, e) end
  end
end
local out = {}
for _, e in ipairs(entries) do
  local m, id = e[1], e[2][2]
  local v = redis.call('HGET', KEYS[2], id)
  local done = not v
  if v then
    local s = cjson.decode(v).state.state
    done = s == 'resolved' or s == 'discarded' or s == 'failed_again'
  end
  if done then
    redis.call('XACK', KEYS[1], group, m)
    redis.call('HDEL', KEYS[3], id)
  else
    local key = KEYS[4] .. id
    if redis.call('SET', key, claimant, 'NX', 'PX', lease) or redis.call('GET', key) == claimant then
      redis.call('PEXPIRE', key, lease)
      table.insert(out, v)
    end
  end
end
return out
";

pub(super) fn backend(error: redis::RedisError) -> SinkError {
    SinkError::Backend(Box::new(error))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl RedisSink {
    /// Connects to the server and makes the consumer group.
    ///
    /// # Errors
    ///
    /// [`SinkError::Backend`] when the server cannot be reached or the URL is invalid.
    pub async fn connect(config: &RedisSinkConfig) -> Result<Self, SinkError> {
        let client = Client::open(config.url.as_str()).map_err(backend)?;
        let manager = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.timeout))
            .set_response_timeout(Some(config.timeout))
            .set_number_of_retries(1);
        let connection = ConnectionManager::new_with_config(client, manager)
            .await
            .map_err(backend)?;
        let p = &config.prefix;
        let sink = Self {
            connection,
            shared: Arc::new(Shared {
                keys: Keys {
                    log: format!("{p}log"),
                    letters: format!("{p}letters"),
                    index: format!("{p}index"),
                    work: format!("{p}work"),
                    work_ids: format!("{p}work-ids"),
                    claim_prefix: format!("{p}claim:"),
                },
                group: config.group.clone(),
                max_letters: config.max_letters.max(1),
                store: Script::new(STORE),
                claim: Script::new(CLAIM),
                claim_next: Script::new(CLAIM_NEXT),
            }),
        };
        sink.make_group().await?;
        Ok(sink)
    }

    /// Creates the consumer group (from the stream's start), unless it exists.
    async fn make_group(&self) -> Result<(), SinkError> {
        let made: Result<(), redis::RedisError> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&self.shared.keys.work)
            .arg(&self.shared.group)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut self.connection.clone())
            .await;
        match made {
            Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
            other => other.map_err(backend),
        }
    }

    async fn store_letter(&self, letter: &DeadLetter) -> Result<(), SinkError> {
        let json = serde_json::to_string(letter)?;
        let created = letter
            .created
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, millis);
        let keys = &self.shared.keys;
        let _: i64 = self
            .shared
            .store
            .key(&keys.log)
            .key(&keys.letters)
            .key(&keys.index)
            .key(&keys.work)
            .key(&keys.work_ids)
            .key(&keys.claim_prefix)
            .arg(letter.id.to_string())
            .arg(json)
            .arg(created)
            .arg(letter.state.as_str())
            .arg(self.shared.max_letters)
            .arg(&self.shared.group)
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(backend)?;
        Ok(())
    }

    /// Marks a claimed letter as replaying by `claimant` and stores it.
    async fn mark(
        &self,
        json: &[u8],
        claimant: &str,
        lease: Duration,
    ) -> Result<DeadLetter, SinkError> {
        let mut letter: DeadLetter = serde_json::from_slice(json)?;
        let now = SystemTime::now();
        letter.state = LetterState::Replaying {
            by: claimant.to_owned(),
            until: now + lease,
        };
        letter.updated = now;
        self.store_letter(&letter).await?;
        Ok(letter)
    }
}

impl DeadLetterSink for RedisSink {
    fn store(&self, letter: &DeadLetter) -> SinkFuture<'_, ()> {
        let letter = letter.clone();
        Box::pin(async move { self.store_letter(&letter).await })
    }

    fn get(&self, id: LetterId) -> SinkFuture<'_, Option<DeadLetter>> {
        Box::pin(async move {
            let found: Option<Vec<u8>> = redis::cmd("HGET")
                .arg(&self.shared.keys.letters)
                .arg(id.to_string())
                .query_async(&mut self.connection.clone())
                .await
                .map_err(backend)?;
            found
                .map(|json| serde_json::from_slice(&json))
                .transpose()
                .map_err(SinkError::from)
        })
    }

    fn list(&self, filter: &LetterFilter) -> SinkFuture<'_, Vec<DeadLetter>> {
        let filter = filter.clone();
        Box::pin(async move {
            let keys = &self.shared.keys;
            super::redis_list::list(&self.connection, &keys.index, &keys.letters, &filter).await
        })
    }

    fn claim(&self, id: LetterId, claimant: &str, lease: Duration) -> SinkFuture<'_, Claim> {
        let claimant = claimant.to_owned();
        Box::pin(async move {
            let keys = &self.shared.keys;
            let reply: Vec<Vec<u8>> = self
                .shared
                .claim
                .key(&keys.letters)
                .key(&keys.claim_prefix)
                .arg(id.to_string())
                .arg(&claimant)
                .arg(millis(lease))
                .invoke_async(&mut self.connection.clone())
                .await
                .map_err(backend)?;
            let (kind, json) = match reply.as_slice() {
                [kind, json] => (kind.as_slice(), json.as_slice()),
                _ => return Ok(Claim::NotFound),
            };
            Ok(match kind {
                b"claimed" => Claim::Claimed(self.mark(json, &claimant, lease).await?),
                b"final" => Claim::Final(serde_json::from_slice(json)?),
                _ => Claim::Held(serde_json::from_slice(json)?),
            })
        })
    }

    fn claim_next(
        &self,
        claimant: &str,
        count: usize,
        lease: Duration,
    ) -> SinkFuture<'_, Vec<DeadLetter>> {
        let claimant = claimant.to_owned();
        Box::pin(async move {
            let keys = &self.shared.keys;
            let found: Vec<Vec<u8>> = self
                .shared
                .claim_next
                .key(&keys.work)
                .key(&keys.letters)
                .key(&keys.work_ids)
                .key(&keys.claim_prefix)
                .arg(&self.shared.group)
                .arg(&claimant)
                .arg(count.max(1))
                .arg(millis(lease))
                .invoke_async(&mut self.connection.clone())
                .await
                .map_err(backend)?;
            let mut claimed = Vec::with_capacity(found.len());
            for json in found {
                claimed.push(self.mark(&json, &claimant, lease).await?);
            }
            Ok(claimed)
        })
    }
}
