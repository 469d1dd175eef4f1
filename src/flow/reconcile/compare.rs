//! Field-by-field comparison of two records, numbers compared by value.

use serde_json::{Number, Value};

use super::pointer::{Pointer, Step};

/// What the comparison leaves out or treats as equal.
#[derive(Debug)]
pub(crate) struct Rules<'c> {
    pub(crate) ignore: &'c [Pointer],
    pub(crate) missing_is_null: bool,
}

/// Receives each difference: its place and the two values (`None` where absent).
pub(crate) type Sink<'s> = dyn FnMut(&[Step<'_>], Option<&Value>, Option<&Value>) + 's;

/// Compares `source` with `destination` and returns whether they differ. With `sink`,
/// every difference is handed to it; without, the walk stops at the first one.
pub(crate) fn compare(
    source: &Value,
    destination: &Value,
    rules: &Rules<'_>,
    sink: Option<&mut Sink<'_>>,
) -> bool {
    let mut walk = Walk {
        rules,
        sink,
        path: Vec::with_capacity(8),
    };
    walk.value(Some(source), Some(destination))
}

struct Walk<'r, 'c, 's, 'v> {
    rules: &'r Rules<'c>,
    sink: Option<&'r mut Sink<'s>>,
    path: Vec<Step<'v>>,
}

impl<'v> Walk<'_, '_, '_, 'v> {
    fn value(&mut self, source: Option<&'v Value>, destination: Option<&'v Value>) -> bool {
        if self.rules.ignore.iter().any(|p| p.matches(&self.path)) {
            return false;
        }
        match (source, destination) {
            (Some(Value::Object(a)), Some(Value::Object(b))) => {
                let mut differs = false;
                // Records of one shape list their fields in the same order: try the
                // destination's field at the same place before looking the name up.
                let mut in_step = b.iter();
                let mut all_in_step = a.len() == b.len();
                for (name, value) in a {
                    let other = match in_step.next() {
                        Some((other_name, other)) if other_name == name => Some(other),
                        _ => {
                            all_in_step = false;
                            b.get(name)
                        }
                    };
                    differs |= self.step(Step::Key(name), Some(value), other);
                    if differs && self.sink.is_none() {
                        return true;
                    }
                }
                if !all_in_step {
                    for (name, value) in b {
                        if !a.contains_key(name) {
                            differs |= self.step(Step::Key(name), None, Some(value));
                            if differs && self.sink.is_none() {
                                return true;
                            }
                        }
                    }
                }
                differs
            }
            (Some(Value::Array(a)), Some(Value::Array(b))) => {
                let mut differs = false;
                for index in 0..a.len().max(b.len()) {
                    differs |= self.step(Step::Index(index), a.get(index), b.get(index));
                    if differs && self.sink.is_none() {
                        return true;
                    }
                }
                differs
            }
            (Some(a), Some(b)) if scalars_equal(a, b) => false,
            (None, None) => false,
            (None, Some(Value::Null)) | (Some(Value::Null), None) if self.rules.missing_is_null => {
                false
            }
            _ => {
                if let Some(sink) = self.sink.as_mut() {
                    sink(&self.path, source, destination);
                }
                true
            }
        }
    }

    fn step(
        &mut self,
        step: Step<'v>,
        source: Option<&'v Value>,
        destination: Option<&'v Value>,
    ) -> bool {
        self.path.push(step);
        let differs = self.value(source, destination);
        self.path.pop();
        differs
    }
}

/// Two leaves (or an object against a non-object) are equal when their types and values
/// are; numbers by value.
fn scalars_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => numbers_equal(x, y),
        (Value::Object(_) | Value::Array(_), _) | (_, Value::Object(_) | Value::Array(_)) => false,
        _ => a == b,
    }
}

/// `1`, `1.0` and `1e0` are one number; integers compare exactly at any size, other
/// numbers as `f64`.
pub(crate) fn numbers_equal(a: &Number, b: &Number) -> bool {
    if let (Some(x), Some(y)) = (integral(a), integral(b)) {
        return x == y;
    }
    match (a.as_f64(), b.as_f64()) {
        // Exact on purpose: a margin would make equality depend on magnitude.
        #[allow(clippy::float_cmp)]
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// The number's exact integer value, if it has no fractional part.
pub(crate) fn integral(n: &Number) -> Option<i128> {
    if let Some(i) = n.as_i64() {
        return Some(i128::from(i));
    }
    if let Some(u) = n.as_u64() {
        return Some(i128::from(u));
    }
    let f = n.as_f64()?;
    // Below 2^127 in magnitude every integral f64 converts to i128 exactly.
    #[allow(clippy::cast_possible_truncation)]
    (f.is_finite() && f.fract() == 0.0 && f.abs() < 1.7e38).then_some(f as i128)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::pointer::render;
    use super::*;

    fn diffs(a: &Value, b: &Value, ignore: &[&str], missing_is_null: bool) -> Vec<String> {
        let ignore: Vec<Pointer> = ignore
            .iter()
            .map(|p| Pointer::parse(p).expect("pointer"))
            .collect();
        let rules = Rules {
            ignore: &ignore,
            missing_is_null,
        };
        let mut found = Vec::new();
        let differs = compare(
            a,
            b,
            &rules,
            Some(
                &mut |path: &[Step<'_>], _: Option<&Value>, _: Option<&Value>| {
                    found.push(render(path));
                },
            ),
        );
        assert_eq!(differs, !found.is_empty());
        assert_eq!(compare(a, b, &rules, None), differs, "fast path agrees");
        found
    }

    #[test]
    fn numbers_by_value() {
        let cases = [
            (json!(1), json!(1.0), true),
            (json!(1), json!(1e0), true),
            (json!(-0.0), json!(0), true),
            (json!(u64::MAX), json!(u64::MAX), true),
            (
                json!(9_007_199_254_740_993_i64),
                json!(9_007_199_254_740_992.0),
                false,
            ),
            (json!(0.5), json!(0.5), true),
            (json!(1), json!(1.5), false),
            (json!(1), json!("1"), false),
        ];
        for (a, b, equal) in cases {
            assert_eq!(diffs(&a, &b, &[], false).is_empty(), equal, "{a} vs {b}");
        }
    }

    #[test]
    fn nested_paths_ignore_and_null() {
        let a = json!({"id": 1, "total": 10, "updated_at": "x",
            "lines": [{"sku": "a", "synced_at": 1}, {"sku": "b"}], "note": null});
        let b = json!({"id": 1, "total": 10.0, "updated_at": "y",
            "lines": [{"sku": "a", "synced_at": 2}, {"sku": "c"}, {"sku": "d"}], "extra": true});
        assert_eq!(
            diffs(&a, &b, &["/updated_at", "/lines/*/synced_at"], true),
            ["/lines/1/sku", "/lines/2", "/extra"]
        );
        assert_eq!(
            diffs(&a, &b, &["/updated_at", "/lines"], false),
            ["/note", "/extra"]
        );
        assert_eq!(diffs(&a, &a, &[], false), Vec::<String>::new());
        assert_eq!(
            diffs(
                &json!({"a": 1, "c": 2}),
                &json!({"b": 1, "c": 2}),
                &[],
                false
            ),
            ["/a", "/b"]
        );
        assert_eq!(
            diffs(&json!({"a": {}}), &json!({"a": []}), &[], false),
            ["/a"]
        );
    }
}
