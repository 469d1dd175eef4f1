//! Field paths as text: `customer.address.zip`, `items[2].sku`.

use std::fmt::Write as _;

/// One step of a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Segment<'p> {
    Key(&'p str),
    Index(usize),
}

/// Splits a dotted path; a piece whose brackets do not hold a plain index is taken as
/// a literal key, so odd keys still resolve instead of failing.
pub(crate) fn parse(path: &str) -> Vec<Segment<'_>> {
    let mut segments = Vec::new();
    if path.is_empty() {
        return segments;
    }
    for piece in path.split('.') {
        match split_indices(piece) {
            Some((key, indices)) => {
                if !key.is_empty() {
                    segments.push(Segment::Key(key));
                }
                segments.extend(indices.into_iter().map(Segment::Index));
            }
            None => segments.push(Segment::Key(piece)),
        }
    }
    segments
}

fn split_indices(piece: &str) -> Option<(&str, Vec<usize>)> {
    let open = piece.find('[')?;
    let (key, mut rest) = piece.split_at(open);
    let mut indices = Vec::new();
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[')?;
        let close = inner.find(']')?;
        indices.push(inner[..close].parse().ok()?);
        rest = &inner[close + 1..];
    }
    Some((key, indices))
}

/// Appends one segment in the canonical text form.
pub(crate) fn push(out: &mut String, segment: Segment<'_>) {
    match segment {
        Segment::Key(key) => {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(key);
        }
        Segment::Index(index) => {
            let _ = write!(out, "[{index}]");
        }
    }
}

/// `prefix` followed by `path`, either of which may be empty.
pub(crate) fn join(prefix: &str, path: &str) -> String {
    if prefix.is_empty() {
        return path.to_owned();
    }
    if path.is_empty() {
        return prefix.to_owned();
    }
    let separator = if path.starts_with('[') { "" } else { "." };
    format!("{prefix}{separator}{path}")
}

/// Replaces array indices with `[]` so that drift in element 0 and element 7 of a
/// list reads as the same change.
pub(crate) fn without_indices(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..=open]);
        let after = &rest[open + 1..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && after[digits..].starts_with(']') {
            rest = &after[digits..];
        } else {
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use Segment::{Index, Key};

    #[test]
    fn parses_paths() {
        let table: &[(&str, &[Segment<'_>])] = &[
            ("", &[]),
            ("a", &[Key("a")]),
            ("a.b.c", &[Key("a"), Key("b"), Key("c")]),
            ("items[2].sku", &[Key("items"), Index(2), Key("sku")]),
            ("m[0][1]", &[Key("m"), Index(0), Index(1)]),
            ("[3].x", &[Index(3), Key("x")]),
            ("a[x]", &[Key("a[x]")]),
            ("a[1", &[Key("a[1")]),
            ("a[1]b", &[Key("a[1]b")]),
        ];
        for (path, expected) in table {
            assert_eq!(parse(path), *expected, "{path:?}");
        }
    }

    #[test]
    fn rendering_round_trips() {
        for path in ["a", "a.b", "items[2].sku", "m[0][1]", "[3].x"] {
            let mut out = String::new();
            for segment in parse(path) {
                push(&mut out, segment);
            }
            assert_eq!(out, path);
        }
    }

    #[test]
    fn strips_indices() {
        let table = [
            ("items[2].sku", "items[].sku"),
            ("m[10][3]", "m[][]"),
            ("a[x]", "a[x]"),
            ("plain", "plain"),
            ("a[", "a["),
        ];
        for (path, expected) in table {
            assert_eq!(without_indices(path), expected);
        }
    }
}
