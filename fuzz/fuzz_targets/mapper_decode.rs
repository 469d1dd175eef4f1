//! The mapper's decoder on arbitrary bytes, into a record with the shapes integrations meet:
//! nested objects, options, numbers, lists, renamed and defaulted fields. Nothing may panic;
//! an error's text never holds a sensitive value verbatim.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::Deserialize;
use steadfast::mapper::decode_with_drift;

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Order {
    id: u64,
    #[serde(rename = "customerEmail")]
    email: Option<String>,
    #[serde(default)]
    lines: Vec<Line>,
    total: f64,
    password: Option<String>,
    status: Status,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Line {
    sku: String,
    quantity: u32,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Status {
    Open,
    Paid,
}

fuzz_target!(|data: &[u8]| {
    if let Err(error) = decode_with_drift::<Order>(data) {
        let _ = error.to_string();
        let _ = format!("{error:?}");
    }
});
