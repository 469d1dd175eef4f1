//! The redactor on arbitrary input, as text, as a body (JSON or form), as a URL and as
//! header values. Nothing may panic, a body never outgrows its cap, and a secret planted
//! after a sensitive name never survives.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reqwest::Url;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use steadfast::redact::{RedactConfig, Redactor};

/// Distinctive enough that it cannot appear in a mask or in the fuzzer's other text.
const SECRET: &str = "Zq7SECRETxW3vK9";

fn redactor() -> &'static Redactor {
    static REDACTOR: std::sync::OnceLock<Redactor> = std::sync::OnceLock::new();
    REDACTOR.get_or_init(|| Redactor::new(&RedactConfig::default()).expect("default config"))
}

fuzz_target!(|data: &[u8]| {
    let redactor = redactor();
    let cap = 256;
    let shown = redactor.body(data, cap);
    // The cap counts the body's own bytes; an ellipsis or a notice may follow.
    assert!(shown.len() <= cap + 64, "{} bytes shown for a cap of {cap}", shown.len());
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = redactor.text(text);
    if let Ok(url) = Url::parse(text) {
        let _ = redactor.url(&url).to_string();
    }
    for name in ["location", "link", "set-cookie", "x-note"] {
        if let Ok(value) = HeaderValue::from_str(text) {
            let _ = redactor.header_value(&HeaderName::from_static(name), &value);
            let mut headers = HeaderMap::new();
            headers.insert(HeaderName::from_static(name), value);
            let _ = redactor.headers(&headers).to_string();
        }
    }
    // The fuzzer's text around a planted secret: it must be masked in every form. (The
    // fuzzer learns the secret from the comparison below; its own copies prove nothing.)
    if text.contains(SECRET) {
        return;
    }
    let planted = [
        format!("{text}&password={SECRET}"),
        format!("{text}\ntoken: {SECRET}"),
        format!(r#"{{"note":{},"api_key":"{SECRET}"}}"#, serde_json::Value::String(text.to_owned())),
    ];
    for body in &planted {
        let shown = redactor.body(body.as_bytes(), 1 << 16);
        assert!(!shown.contains(SECRET), "the secret survived in {shown:?}");
    }
});
