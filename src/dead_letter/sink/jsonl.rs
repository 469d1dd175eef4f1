//! Letters in a JSON Lines file: one letter per line, appended and flushed per record.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use super::jsonl_compact;
use super::memory::claim_in_place;
use super::{Claim, DeadLetterSink, SinkError, SinkFuture};
use crate::dead_letter::{DeadLetter, LetterFilter, LetterId};

/// Keeps letters in a JSON Lines file that survives a restart.
///
/// Every new letter and every change (a claim, a replay's result, a discard) is appended as
/// a line and flushed before the call returns; the latest line of an id supersedes the
/// earlier ones. When the file is opened, every line is read, each bounded by
/// [`DEFAULT_MAX_LINE_BYTES`] (or the bound given to [`open_with`](Self::open_with)): a
/// line cut short by a crash, or one that does not parse or is too long, is skipped with a
/// WARN, never a failed open. The latest version of each letter is kept in memory for `get`
/// and `list`.
///
/// Writes are blocking file I/O, run on tokio's blocking pool. "Flushed" means handed to
/// the operating system (it survives the process crashing, not the machine losing power).
///
/// # Compaction
///
/// Every change adds a line, so the file is rewritten with the latest version of each
/// letter once the superseded lines outnumber the letters (and a thousand): it stays within
/// about twice its live size. The new file is written beside the old one, synced and
/// renamed over it, so a crash leaves one whole file or the other. [`compact`](Self::compact)
/// does it at once. Letters themselves are kept until discarded or resolved and rotated
/// away: one process owns the file (two processes appending to one file would each miss
/// the other's letters).
///
/// # Clone
///
/// Clones share the file and its index.
#[derive(Debug, Clone)]
pub struct JsonlSink {
    inner: Arc<Mutex<State>>,
    path: Arc<PathBuf>,
}

#[derive(Debug)]
struct State {
    file: File,
    letters: BTreeMap<LetterId, DeadLetter>,
    skipped: u64,
    /// Lines in the file, superseded ones included.
    lines: u64,
    path: Arc<PathBuf>,
}

/// The default bound of a line read back: the body cap of a letter and room for the rest.
pub const DEFAULT_MAX_LINE_BYTES: usize = 4 * 1024 * 1024;

impl JsonlSink {
    /// Opens (or creates) the file at `path` and reads the letters it holds.
    ///
    /// # Errors
    ///
    /// [`SinkError::Io`] when the file cannot be opened or read.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, SinkError> {
        Self::open_with(path, DEFAULT_MAX_LINE_BYTES)
    }

    /// [`open`](Self::open), skipping lines longer than `max_line_bytes`.
    ///
    /// # Errors
    ///
    /// [`SinkError::Io`] when the file cannot be opened or read.
    pub fn open_with(path: impl AsRef<Path>, max_line_bytes: usize) -> Result<Self, SinkError> {
        let path = path.as_ref().to_path_buf();
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)?;
        let (letters, skipped, lines, ends_in_newline) = read_all(&mut file, max_line_bytes)?;
        if !ends_in_newline {
            // The next record starts on a line of its own, after a torn one.
            file.write_all(b"\n")?;
            file.flush()?;
        }
        let path = Arc::new(path);
        Ok(Self {
            inner: Arc::new(Mutex::new(State {
                file,
                letters,
                skipped,
                lines,
                path: Arc::clone(&path),
            })),
            path,
        })
    }

    /// The file's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many lines were skipped when the file was opened (torn, unreadable or too long).
    #[must_use]
    pub fn skipped(&self) -> u64 {
        self.lock().skipped
    }

    /// Rewrites the file with the latest version of each letter now (it also happens by
    /// itself, see [Compaction](Self#compaction)).
    ///
    /// # Errors
    ///
    /// [`SinkError::Io`] when the new file cannot be written or renamed; the old file is
    /// then left as it was.
    pub async fn compact(&self) -> Result<(), SinkError> {
        self.blocking(State::compact).await
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the state on tokio's blocking pool.
    fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut State) -> Result<T, SinkError> + Send + 'static,
    ) -> SinkFuture<'_, T> {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let mut state = inner.lock().unwrap_or_else(PoisonError::into_inner);
                f(&mut state)
            })
            .await
            .map_err(|e| SinkError::Backend(Box::new(e)))?
        })
    }
}

impl State {
    /// Appends `letter` as one line, flushed, then indexes it.
    fn append(&mut self, letter: &DeadLetter) -> Result<(), SinkError> {
        let mut line = serde_json::to_vec(letter)?;
        line.push(b'\n');
        // One write of the whole line: a crash leaves at most a torn last line.
        self.file.write_all(&line)?;
        self.file.flush()?;
        self.letters.insert(letter.id, letter.clone());
        self.lines += 1;
        if jsonl_compact::worth_it(self.lines, self.letters.len()) {
            // The letter is stored already: a failed rewrite is the next append's to retry.
            if let Err(error) = self.compact() {
                tracing::warn!(target: "steadfast", %error, "dead-letter file: compaction failed");
            }
        }
        Ok(())
    }

    fn compact(&mut self) -> Result<(), SinkError> {
        self.file = jsonl_compact::rewrite(&self.path, &self.letters)?;
        self.lines = u64::try_from(self.letters.len()).unwrap_or(u64::MAX);
        Ok(())
    }
}

impl DeadLetterSink for JsonlSink {
    fn store(&self, letter: &DeadLetter) -> SinkFuture<'_, ()> {
        let letter = letter.clone();
        self.blocking(move |state| state.append(&letter))
    }

    fn get(&self, id: LetterId) -> SinkFuture<'_, Option<DeadLetter>> {
        let found = self.lock().letters.get(&id).cloned();
        Box::pin(std::future::ready(Ok(found)))
    }

    fn list(&self, filter: &LetterFilter) -> SinkFuture<'_, Vec<DeadLetter>> {
        let found = filter.select_from(&self.lock().letters);
        Box::pin(std::future::ready(Ok(found)))
    }

    fn claim(&self, id: LetterId, claimant: &str, lease: Duration) -> SinkFuture<'_, Claim> {
        let claimant = claimant.to_owned();
        self.blocking(move |state| {
            let Some(letter) = state.letters.get(&id) else {
                return Ok(Claim::NotFound);
            };
            let mut letter = letter.clone();
            let claim = claim_in_place(&mut letter, &claimant, lease, SystemTime::now());
            if matches!(claim, Claim::Claimed(_)) {
                state.append(&letter)?;
            }
            Ok(claim)
        })
    }
}

/// What [`read_all`] found: the latest letter per id, the lines skipped, the lines in all,
/// and whether the file ends with a newline (or is empty).
type Read = (BTreeMap<LetterId, DeadLetter>, u64, u64, bool);

/// Reads every line of `file` from its start.
fn read_all(file: &mut File, max_line_bytes: usize) -> Result<Read, SinkError> {
    file.seek(SeekFrom::Start(0))?;
    let mut reader = BufReader::new(file.try_clone()?);
    let mut letters = BTreeMap::new();
    let (mut skipped, mut number) = (0_u64, 0_u64);
    let mut line = Vec::new();
    let mut ends_in_newline = true;
    loop {
        line.clear();
        let (read, complete, too_long) = read_line(&mut reader, &mut line, max_line_bytes)?;
        if read == 0 {
            break;
        }
        number += 1;
        ends_in_newline = complete;
        if line.iter().all(u8::is_ascii_whitespace) && !too_long {
            continue;
        }
        let parsed = if too_long {
            None
        } else {
            serde_json::from_slice::<DeadLetter>(&line).ok()
        };
        if let Some(letter) = parsed {
            letters.insert(letter.id, letter);
        } else {
            skipped += 1;
            let why = match (too_long, complete) {
                (true, _) => "longer than the line limit",
                (false, false) => "torn (cut short by a crash)",
                (false, true) => "not a letter",
            };
            tracing::warn!(target: "steadfast", line = number, why, "dead-letter file: line skipped");
        }
    }
    Ok((letters, skipped, number, ends_in_newline))
}

/// Reads one line into `line`, keeping at most `max` bytes of it (the rest is read and
/// dropped). Returns the bytes read, whether the line ended with a newline, and whether it
/// was longer than `max`.
fn read_line(
    reader: &mut impl BufRead,
    line: &mut Vec<u8>,
    max: usize,
) -> Result<(usize, bool, bool), SinkError> {
    let (mut read, mut too_long) = (0_usize, false);
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return Ok((read, false, too_long));
        }
        let (chunk, done) = match available.iter().position(|&b| b == b'\n') {
            Some(at) => (&available[..at], Some(at + 1)),
            None => (available, None),
        };
        if line.len() + chunk.len() > max {
            too_long = true;
        } else {
            line.extend_from_slice(chunk);
        }
        let used = done.unwrap_or(available.len());
        reader.consume(used);
        read += used;
        if done.is_some() {
            return Ok((read, true, too_long));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dead_letter::LetterState;
    use crate::dead_letter::record::tests::letter;

    /// A fresh directory, removed when the test ends.
    struct Temp(PathBuf);

    impl Drop for Temp {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn temp(name: &str) -> (Temp, PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "steadfast-jsonl-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).expect("a temp dir");
        let path = dir.join(name);
        (Temp(dir), path)
    }

    #[tokio::test]
    async fn letters_survive_a_reopen_and_updates_supersede() {
        let (_dir, path) = temp("letters.jsonl");
        let sink = JsonlSink::open(&path).expect("opens");
        let (a, mut b) = (letter(), letter());
        sink.store(&a).await.expect("stored");
        sink.store(&b).await.expect("stored");
        b.state = LetterState::Resolved;
        sink.store(&b).await.expect("updated");
        drop(sink);

        let reopened = JsonlSink::open(&path).expect("reopens");
        assert_eq!(reopened.skipped(), 0);
        let all = reopened
            .list(&LetterFilter::default())
            .await
            .expect("listed");
        assert_eq!(all.len(), 2);
        let b_now = reopened.get(b.id).await.expect("read").expect("there");
        assert_eq!(b_now.state, LetterState::Resolved);
        assert_eq!(reopened.get(a.id).await.expect("read"), Some(a));
    }

    #[tokio::test]
    async fn superseded_lines_are_compacted_away_and_nothing_is_lost() {
        let (_dir, path) = temp("busy.jsonl");
        let sink = JsonlSink::open(&path).expect("opens");
        let mut letters: Vec<DeadLetter> = (0..50).map(|_| letter()).collect();
        for round in 0..30 {
            for l in &mut letters {
                l.error = format!("round {round}");
                sink.store(l).await.expect("stored");
            }
        }
        let lines = std::fs::read_to_string(&path)
            .expect("reads")
            .lines()
            .count();
        // 1,500 lines written; the rewrite came at 1,051 and left 50 + what followed.
        assert!(lines < 600, "{lines} lines: the file was not compacted");
        drop(sink);
        let reopened = JsonlSink::open(&path).expect("reopens");
        assert_eq!(reopened.skipped(), 0);
        for l in &letters {
            assert_eq!(reopened.get(l.id).await.expect("read").as_ref(), Some(l));
        }
        reopened.compact().await.expect("compacts");
        let lines = std::fs::read_to_string(&path)
            .expect("reads")
            .lines()
            .count();
        assert_eq!(lines, 50, "one line per letter");
        let again = JsonlSink::open(&path).expect("reopens");
        let all = again.list(&LetterFilter::default()).await.expect("listed");
        assert_eq!(all.len(), 50);
        assert!(!path.with_file_name("busy.jsonl.compacting").exists());
    }

    #[tokio::test]
    async fn a_torn_last_line_is_skipped_and_the_next_record_starts_clean() {
        let (_dir, path) = temp("torn.jsonl");
        let sink = JsonlSink::open(&path).expect("opens");
        let kept = letter();
        sink.store(&kept).await.expect("stored");
        drop(sink);
        let whole = serde_json::to_string(&letter()).expect("encodes");
        let mut file = OpenOptions::new().append(true).open(&path).expect("opens");
        file.write_all(&whole.as_bytes()[..whole.len() / 2])
            .expect("a torn write");
        drop(file);

        let reopened = JsonlSink::open(&path).expect("a torn line is no failure");
        assert_eq!(reopened.skipped(), 1);
        let next = letter();
        reopened
            .store(&next)
            .await
            .expect("stored after the torn line");
        drop(reopened);
        let again = JsonlSink::open(&path).expect("reopens");
        assert_eq!(again.skipped(), 1, "only the torn line");
        let all = again.list(&LetterFilter::default()).await.expect("listed");
        assert_eq!(all.len(), 2);
    }

    #[tokio::test]
    async fn an_overlong_line_is_skipped() {
        let (_dir, path) = temp("long.jsonl");
        let sink = JsonlSink::open(&path).expect("opens");
        let mut big = letter();
        big.error = "x".repeat(10_000);
        sink.store(&big).await.expect("stored");
        sink.store(&letter()).await.expect("stored");
        drop(sink);
        let reopened = JsonlSink::open_with(&path, 4096).expect("opens");
        assert_eq!(reopened.skipped(), 1);
        assert_eq!(
            reopened
                .list(&LetterFilter::default())
                .await
                .expect("listed")
                .len(),
            1
        );
    }

    #[test]
    fn a_line_reader_bounds_and_splits() {
        let mut input: &[u8] = b"abc\ndefghij\nxy";
        let mut line = Vec::new();
        assert_eq!(
            read_line(&mut input, &mut line, 5).expect("reads"),
            (4, true, false)
        );
        assert_eq!(line, b"abc");
        line.clear();
        assert_eq!(
            read_line(&mut input, &mut line, 5).expect("reads"),
            (8, true, true)
        );
        line.clear();
        assert_eq!(
            read_line(&mut input, &mut line, 5).expect("reads"),
            (2, false, false)
        );
        assert_eq!(line, b"xy");
    }
}
