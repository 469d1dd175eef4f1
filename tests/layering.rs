//! The crate's floors, checked on its source: the ground floor imports no layer, a layer
//! imports only the ground floor and itself, the facade imports anything; and `mod.rs` files
//! hold docs, `mod` lines and re-exports only.
//!
//! What two layers share moves down a floor instead of one layer reaching into another.
//! Comments (doc links included) and a file's trailing `#[cfg(test)] mod` are exempt: a
//! test may build a neighbour, the crate may not depend on one.

use std::fs;
use std::path::{Path, PathBuf};

/// Read by every layer; imports no layer.
const GROUND: &[&str] = &[
    "body",
    "boxed",
    "classify",
    "error",
    "hints",
    "key",
    "mapper",
    "metrics",
    "redact",
    "redis_stream",
    "telemetry",
    "verify",
];

/// Import the ground floor and themselves only.
const LAYERS: &[&str] = &[
    "chaos",
    "dead_letter",
    "credentials",
    "breaker",
    "idempotency",
    "log",
    "rate_limit",
    "retry",
    "stale",
    "timeout",
];

/// On top: may import anything. `webhook` is a receiver's facade: it builds on the
/// idempotency ledger's stores as a user would, and no layer imports it; `admin` is a page
/// over the dead letters' public API; `flow` (pages, batches, reconciliation, the queue
/// worker) builds on the `Client` as a user would.
const TOP: &[&str] = &["admin", "client", "flow", "lib", "webhook"];

#[derive(Debug, PartialEq, Eq)]
enum Floor {
    Ground,
    Layer,
    Top,
}

fn floor(module: &str) -> Option<Floor> {
    if GROUND.contains(&module) {
        Some(Floor::Ground)
    } else if LAYERS.contains(&module) {
        Some(Floor::Layer)
    } else if TOP.contains(&module) {
        Some(Floor::Top)
    } else {
        None
    }
}

/// The top module a file under `src/` belongs to: `src/retry/future.rs` is `retry`,
/// `src/error.rs` is `error`, `src/lib.rs` is `lib`.
fn module_of(relative: &Path) -> String {
    let first = relative
        .components()
        .next()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .unwrap_or_default();
    first.trim_end_matches(".rs").to_owned()
}

/// The code lines of a file: comments dropped, and everything from a top-level
/// `#[cfg(test)]` module on (unit tests sit at the bottom of each file).
fn code_lines(source: &str) -> Vec<(usize, &str)> {
    let lines: Vec<&str> = source.lines().collect();
    let mut code = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        if *line == "#[cfg(test)]"
            && lines
                .get(index + 1)
                .is_some_and(|next| next.starts_with("mod "))
        {
            break;
        }
        if trimmed.starts_with("//") {
            continue;
        }
        code.push((index + 1, *line));
    }
    code
}

/// The modules a line names through `crate::`, in paths and in `use crate::{a::.., b::..}`.
fn named_modules(line: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("crate::") {
        let after = &rest[at + "crate::".len()..];
        if let Some(group) = after.strip_prefix('{') {
            // `use crate::{a::X, b::{Y, Z}}`: each top-level entry names a module.
            let mut depth = 0;
            let mut entry_start = true;
            for (offset, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => entry_start = true,
                    c if entry_start && (c.is_alphanumeric() || c == '_') => {
                        entry_start = false;
                        let name: String = group[offset..]
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect();
                        found.push(name);
                    }
                    _ => {}
                }
            }
        } else {
            let name: String = after
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            found.push(name);
        }
        rest = after;
    }
    found
}

/// Whether a file of `from` may name the crate item `to` (a module, or a root re-export
/// such as `crate::Error`, which is the ground floor's).
fn allowed(from: &str, to: &str) -> Result<bool, String> {
    let from_floor = floor(from).ok_or_else(|| format!("src/{from} is in no floor"))?;
    // Capitalised: a root re-export (`crate::Error`, `crate::BoxError`, `crate::Client`).
    let to_floor = if to.starts_with(|c: char| c.is_uppercase()) {
        if [
            "Client",
            "ClientBuilder",
            "ClientConfig",
            "RequestBuilder",
            "ResponseExt",
        ]
        .contains(&to)
        {
            Floor::Top
        } else {
            Floor::Ground
        }
    } else {
        floor(to).ok_or_else(|| format!("crate::{to} is in no floor"))?
    };
    Ok(match from_floor {
        Floor::Top => true,
        Floor::Layer => to_floor == Floor::Ground || from == to,
        Floor::Ground => to_floor == Floor::Ground,
    })
}

/// Every import across floors the rules forbid, as `file:line: text`.
fn violations(relative: &Path, source: &str) -> Vec<String> {
    let from = module_of(relative);
    let mut found = Vec::new();
    for (number, line) in code_lines(source) {
        for to in named_modules(line) {
            match allowed(&from, &to) {
                Ok(true) => {}
                Ok(false) => found.push(format!(
                    "{}:{number}: {from} imports crate::{to}: {}",
                    relative.display(),
                    line.trim()
                )),
                Err(unknown) => found.push(format!("{}:{number}: {unknown}", relative.display())),
            }
        }
    }
    found
}

/// Lines of a `mod.rs` that are neither docs, `mod` lines, re-exports nor attributes.
fn logic_in_mod_rs(source: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut in_use = false;
    for (index, line) in source.lines().enumerate() {
        let trimmed = line.trim();
        if in_use {
            in_use = !trimmed.ends_with(';');
            continue;
        }
        let is_mod_line = (trimmed.starts_with("mod ")
            || trimmed.starts_with("pub mod ")
            || trimmed.starts_with("pub(crate) mod "))
            && trimmed.ends_with(';');
        let is_import = ["use ", "pub use ", "pub(crate) use ", "pub(super) use "]
            .iter()
            .any(|start| trimmed.starts_with(start));
        if is_import {
            in_use = !trimmed.ends_with(';');
            continue;
        }
        if trimmed.is_empty()
            || trimmed.starts_with("//")
            || trimmed.starts_with("#[")
            || is_mod_line
        {
            continue;
        }
        found.push((index + 1, line.to_owned()));
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = fs::read_dir(dir).expect("src is readable");
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn sources() -> Vec<(PathBuf, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    assert!(files.len() > 20, "found the crate's sources");
    files
        .into_iter()
        .map(|path| {
            let text = fs::read_to_string(&path).expect("a readable source file");
            let relative = path.strip_prefix(&src).expect("under src").to_path_buf();
            (relative, text)
        })
        .collect()
}

#[test]
fn no_layer_imports_another_layer_and_the_ground_floor_imports_no_layer() {
    let found: Vec<String> = sources()
        .iter()
        .flat_map(|(relative, text)| violations(relative, text))
        .collect();
    assert!(
        found.is_empty(),
        "imports across floors (move what two layers share down to the ground floor):\n{}",
        found.join("\n")
    );
}

#[test]
fn mod_rs_files_hold_docs_mods_and_reexports_only() {
    let found: Vec<String> = sources()
        .iter()
        .filter(|(relative, _)| relative.file_name().is_some_and(|n| n == "mod.rs"))
        .flat_map(|(relative, text)| {
            logic_in_mod_rs(text)
                .into_iter()
                .map(move |(number, line)| format!("{}:{number}: {line}", relative.display()))
        })
        .collect();
    assert!(
        found.is_empty(),
        "logic in mod.rs (move it to a file named for its idea):\n{}",
        found.join("\n")
    );
}

/// The checks themselves catch what they are for, so a green run means something.
#[test]
fn the_checks_catch_upward_imports_and_logic_in_mod_rs() {
    let retry = Path::new("retry/future.rs");
    let upward = "use crate::log::fields::attempt_span;\n";
    assert_eq!(violations(retry, upward).len(), 1);
    let inline = "    let span = crate::log::fields::attempt_span(&request);\n";
    assert_eq!(violations(retry, inline).len(), 1);
    let grouped = "use crate::{error::Error, idempotency::{IdempotencyKey, DEFAULT}};\n";
    assert_eq!(violations(retry, grouped).len(), 1);
    let ground_up = "use crate::idempotency::IdempotencyKey;\n";
    assert_eq!(
        violations(Path::new("error/failure.rs"), ground_up).len(),
        1
    );
    let unknown = "use crate::breaker::Breaker;\n";
    assert_eq!(
        violations(retry, unknown).len(),
        1,
        "a new folder joins a floor"
    );

    let allowed = "use crate::error::Error;\nuse crate::retry::policy::Policy;\n\
                   /// See [`Log`](crate::log::Log).\nlet e = crate::Error::transport(x);\n";
    assert_eq!(violations(retry, allowed), Vec::<String>::new());
    let in_tests =
        "use crate::error::Error;\n\n#[cfg(test)]\nmod tests {\n    use crate::log::Log;\n}\n";
    assert_eq!(violations(retry, in_tests), Vec::<String>::new());
    let facade = "use crate::{idempotency::Idempotency, log::Log, retry::Retry};\n";
    assert_eq!(
        violations(Path::new("client/builder.rs"), facade),
        Vec::<String>::new()
    );

    let logic = "//! Docs.\n\nmod a;\npub use a::{\n    B,\n    C,\n};\n\npub const X: u8 = 1;\n";
    assert_eq!(
        logic_in_mod_rs(logic),
        vec![(9, "pub const X: u8 = 1;".to_owned())]
    );
}
