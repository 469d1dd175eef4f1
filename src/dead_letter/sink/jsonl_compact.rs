//! Rewriting a JSON Lines file of letters with only the latest version of each.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::SinkError;
use crate::dead_letter::{DeadLetter, LetterId};

/// Whether a file of `lines` lines holding `letters` letters is worth rewriting: when the
/// superseded lines outnumber the letters (and a thousand), so that the file stays within
/// about twice its live size and each rewrite is paid for by as many appends.
pub(super) fn worth_it(lines: u64, letters: usize) -> bool {
    let letters = u64::try_from(letters).unwrap_or(u64::MAX);
    lines.saturating_sub(letters) > letters.max(1_000)
}

/// Writes `letters` to a file beside `path`, synced, and renames it over `path`: a crash
/// leaves either the old file or the new one, whole. Returns the new file, open for
/// appending.
pub(super) fn rewrite(
    path: &Path,
    letters: &BTreeMap<LetterId, DeadLetter>,
) -> Result<File, SinkError> {
    let temporary = beside(path);
    let mut out = BufWriter::new(File::create(&temporary)?);
    for letter in letters.values() {
        serde_json::to_writer(&mut out, letter)?;
        out.write_all(b"\n")?;
    }
    let written = out
        .into_inner()
        .map_err(std::io::IntoInnerError::into_error)?;
    written.sync_all()?;
    drop(written);
    std::fs::rename(&temporary, path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // The rename itself made durable; not every platform can open a directory.
        if let Ok(dir) = File::open(dir) {
            let _ = dir.sync_all();
        }
    }
    Ok(OpenOptions::new().read(true).append(true).open(path)?)
}

/// `letters.jsonl` → `letters.jsonl.compacting`, in the same directory (a rename across
/// file systems would not be atomic).
fn beside(path: &Path) -> PathBuf {
    let mut name: OsString = path.file_name().map(OsString::from).unwrap_or_default();
    name.push(".compacting");
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_only_when_superseded_lines_dominate() {
        for (lines, letters, expected) in [
            (0, 0, false),
            (1_000, 0, false),
            (1_001, 0, true),
            (2_000, 1_000, false),
            (2_001, 1_000, true),
            (30_000, 20_000, false),
            (40_001, 20_000, true),
        ] {
            assert_eq!(
                worth_it(lines, letters),
                expected,
                "{lines} lines, {letters} letters"
            );
        }
    }

    #[test]
    fn the_temporary_file_is_beside_the_file() {
        assert_eq!(
            beside(Path::new("data/letters.jsonl")),
            Path::new("data/letters.jsonl.compacting")
        );
    }
}
