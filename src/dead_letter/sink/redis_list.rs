//! Listing letters from Redis newest first, a chunk at a time: the creation-time index
//! (`<prefix>index`) gives the order, so a page reads about as many letters as it shows
//! (plus those the filter skips), never the whole hash.

use std::time::SystemTime;

use redis::aio::ConnectionManager;

use super::SinkError;
use super::redis::backend;
use crate::dead_letter::{DeadLetter, LetterFilter};

/// Ids read from the index per round trip.
const CHUNK: usize = 256;
#[allow(clippy::cast_possible_wrap)] // 256
const CHUNK_RANKS: isize = CHUNK as isize;

/// The letters `filter` selects, newest first, at most its limit. `index` is the sorted
/// set by creation time (ms), `letters` the hash of letters by id.
pub(super) async fn list(
    connection: &ConnectionManager,
    index: &str,
    letters: &str,
    filter: &LetterFilter,
) -> Result<Vec<DeadLetter>, SinkError> {
    let mut connection = connection.clone();
    let newest = newest_score(&mut connection, index, filter).await?;
    let oldest = filter.since.map_or(f64::NEG_INFINITY, score);
    // Rank 0 is the newest; skip every letter newer than the filter allows: ZCOUNT and
    // ZREVRANGE by rank are both O(log n), unlike an offset that walks the set.
    let mut rank: isize = match newest {
        Some(newest) => redis::cmd("ZCOUNT")
            .arg(index)
            .arg(format!("({newest}"))
            .arg("+inf")
            .query_async(&mut connection)
            .await
            .map_err(backend)?,
        None => 0,
    };
    let mut found = Vec::new();
    while found.len() < filter.limit {
        let chunk: Vec<(String, f64)> = redis::cmd("ZREVRANGE")
            .arg(index)
            .arg(rank)
            .arg(rank + CHUNK_RANKS - 1)
            .arg("WITHSCORES")
            .query_async(&mut connection)
            .await
            .map_err(backend)?;
        let ids: Vec<&str> = chunk
            .iter()
            .take_while(|(_, s)| *s >= oldest)
            .map(|(id, _)| id.as_str())
            .collect();
        if !ids.is_empty() {
            let jsons: Vec<Option<Vec<u8>>> = redis::cmd("HMGET")
                .arg(letters)
                .arg(&ids)
                .query_async(&mut connection)
                .await
                .map_err(backend)?;
            // A letter that does not parse (written by another version) is left out, as
            // `get` would fail on it alone.
            let matching = jsons
                .iter()
                .flatten()
                .filter_map(|json| serde_json::from_slice::<DeadLetter>(json).ok())
                .filter(|letter| filter.matches(letter));
            found.extend(matching.take(filter.limit - found.len()));
        }
        if ids.len() < chunk.len() || chunk.len() < CHUNK {
            break;
        }
        rank += CHUNK_RANKS;
    }
    Ok(found)
}

/// The highest creation score a selected letter may have: from `until` and the
/// `before` cursor's own score (its letter, or the time in its UUID v7 when it is gone).
async fn newest_score(
    connection: &mut ConnectionManager,
    index: &str,
    filter: &LetterFilter,
) -> Result<Option<f64>, SinkError> {
    // Whole ms: the filter itself then keeps only letters created before `until`.
    let until = filter.until.map(score);
    let Some(before) = filter.before else {
        return Ok(until);
    };
    let own: Option<f64> = redis::cmd("ZSCORE")
        .arg(index)
        .arg(before.to_string())
        .query_async(connection)
        .await
        .map_err(backend)?;
    let from_id = before.as_uuid().get_timestamp().map(|t| {
        let (secs, nanos) = t.to_unix();
        score(SystemTime::UNIX_EPOCH + std::time::Duration::new(secs, nanos))
    });
    // One ms of slack: a letter's creation time and its id's are read apart.
    let cursor = own.or(from_id).map(|s| s + 1.0);
    Ok(match (until, cursor) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    })
}

/// A time as the index's score: ms since the Unix epoch.
fn score(time: SystemTime) -> f64 {
    let ms = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    #[allow(clippy::cast_precision_loss)] // ms since 1970 fit an f64 exactly
    let score = ms as f64;
    score
}
