//! What the Redis Streams users share (the webhook event queue, the queue worker): reading
//! stream replies as entries, and connecting with bounded waits. Errors name the reply
//! that was not as expected; each caller wraps them in its own error type.

use std::time::Duration;

use bytes::Bytes;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, RedisError, Value};

/// A connection re-established after failures, waiting at most `timeout` to connect and
/// `response` for each reply.
pub(crate) async fn connect(
    client: &Client,
    timeout: Duration,
    response: Duration,
) -> Result<ConnectionManager, RedisError> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(response))
        .set_number_of_retries(1);
    ConnectionManager::new_with_config(client.clone(), config).await
}

/// One stream entry: its id and its fields.
pub(crate) struct Entry {
    pub(crate) id: String,
    pub(crate) fields: Vec<(String, Bytes)>,
}

impl Entry {
    pub(crate) fn field(&self, name: &str) -> Option<&Bytes> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The field as text (lossy), empty when absent.
    pub(crate) fn text(&self, name: &str) -> String {
        self.field(name)
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_default()
    }
}

/// `[[id, [field, value, …]], …]`; entries deleted meanwhile (nil fields) are skipped.
pub(crate) fn entries(value: Value) -> Result<Vec<Entry>, &'static str> {
    let list = match value {
        Value::Nil => return Ok(Vec::new()),
        Value::Array(list) => list,
        _ => return Err("stream entries"),
    };
    let mut out = Vec::with_capacity(list.len());
    for entry in list {
        let Value::Array(entry) = entry else {
            continue;
        };
        let mut entry = entry.into_iter();
        let (Some(id), Some(fields)) = (entry.next(), entry.next()) else {
            return Err("stream entry");
        };
        let id = string(id).ok_or("stream entry id")?;
        let pairs: Vec<(Value, Value)> = match fields {
            Value::Array(flat) => {
                let mut flat = flat.into_iter();
                std::iter::from_fn(|| Some((flat.next()?, flat.next()?))).collect()
            }
            Value::Map(pairs) => pairs,
            Value::Nil => continue,
            _ => return Err("stream entry fields"),
        };
        let fields = pairs
            .into_iter()
            .filter_map(|(name, value)| Some((string(name)?, bytes(value)?)))
            .collect();
        out.push(Entry { id, fields });
    }
    Ok(out)
}

/// The entries of the one stream an `XREADGROUP` asked for (an array of pairs, or a map).
pub(crate) fn read_reply(value: Value) -> Result<Vec<Entry>, &'static str> {
    match value {
        Value::Nil => Ok(Vec::new()),
        Value::Array(streams) => match streams.into_iter().next() {
            Some(Value::Array(pair)) => entries(pair.into_iter().nth(1).unwrap_or(Value::Nil)),
            None => Ok(Vec::new()),
            _ => Err("XREADGROUP reply"),
        },
        Value::Map(streams) => entries(streams.into_iter().next().map_or(Value::Nil, |(_, v)| v)),
        _ => Err("XREADGROUP reply"),
    }
}

/// `XPENDING … start end count consumer`: `[[id, consumer, idle, deliveries], …]`.
pub(crate) fn pending_counts(value: Value) -> Result<Vec<(String, u32)>, &'static str> {
    let Value::Array(list) = value else {
        return Err("XPENDING reply");
    };
    let mut out = Vec::with_capacity(list.len());
    for row in list {
        let Value::Array(row) = row else {
            return Err("XPENDING row");
        };
        let mut row = row.into_iter();
        let id = row.next().and_then(string);
        let count = match row.nth(2) {
            Some(Value::Int(n)) => u32::try_from(n).ok(),
            _ => None,
        };
        match (id, count) {
            (Some(id), Some(count)) => out.push((id, count)),
            _ => return Err("XPENDING row"),
        }
    }
    Ok(out)
}

pub(crate) fn bytes(value: Value) -> Option<Bytes> {
    match value {
        Value::BulkString(b) => Some(Bytes::from(b)),
        Value::SimpleString(s) => Some(Bytes::from(s.into_bytes())),
        _ => None,
    }
}

pub(crate) fn string(value: Value) -> Option<String> {
    bytes(value).and_then(|b| String::from_utf8(b.to_vec()).ok())
}

#[cfg(test)]
mod tests {
    use redis::Value;

    use super::{entries, pending_counts, read_reply};

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn hostile_replies_are_errors_not_panics() {
        assert!(entries(Value::Int(1)).is_err());
        assert!(entries(Value::Array(vec![Value::Array(vec![bulk("1-0")])])).is_err());
        assert!(read_reply(Value::Int(3)).is_err());
        assert!(pending_counts(Value::Array(vec![Value::Array(vec![bulk("1-0")])])).is_err());
        assert!(read_reply(Value::Nil).unwrap().is_empty());
    }

    #[test]
    fn entries_read_fields_and_skip_deleted() {
        let reply = Value::Array(vec![
            Value::Array(vec![
                bulk("1-0"),
                Value::Array(vec![bulk("payload"), bulk("{}")]),
            ]),
            Value::Array(vec![bulk("2-0"), Value::Nil]),
        ]);
        let read = entries(reply).unwrap();
        assert_eq!(read.len(), 1);
        assert_eq!(read[0].id, "1-0");
        assert_eq!(read[0].text("payload"), "{}");
    }
}
