//! Properties of the redactor as a whole: it never panics, a planted secret never
//! survives, output stays within the cap.

use proptest::prelude::*;
use reqwest::Url;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

use super::{
    DEFAULT_SENSITIVE_FIELDS, DEFAULT_SENSITIVE_HEADERS, DEFAULT_SENSITIVE_QUERY_PARAMS,
    JsonRedactor, Redactor,
};

/// Every name masked by default, in any role.
fn sensitive_name() -> impl Strategy<Value = String> {
    let names: Vec<&'static str> = DEFAULT_SENSITIVE_FIELDS
        .iter()
        .chain(DEFAULT_SENSITIVE_QUERY_PARAMS)
        .chain(DEFAULT_SENSITIVE_HEADERS)
        .copied()
        .collect();
    (proptest::sample::select(names), 0..4u8).prop_map(|(name, spelling)| match spelling {
        0 => name.to_owned(),
        1 => name.to_ascii_uppercase(),
        2 => format!("{name}s"),
        _ => format!("my_{name}"),
    })
}

fn secret() -> impl Strategy<Value = String> {
    "[A-Za-z0-9]{12,40}"
}

/// Text that may stand before a planted pair without gluing onto its name.
fn before() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(vec![
        "", " ", "&", "\n", "{", "x=1&", "; ", "<p>", "error: ",
    ])
}

fn after() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(vec![
        "",
        " ",
        "&y=1",
        "\nnext: 1",
        "}",
        ", \"n\": 1}",
        ";b=2",
    ])
}

/// `name` and `secret` in one of the forms the text scrubber supports.
fn planted(name: &str, secret: &str, form: u8) -> String {
    let escaped: String = name
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i == 0 {
                format!("\\u{:04x}", u32::from(c))
            } else {
                c.to_string()
            }
        })
        .collect();
    let encoded: String = name
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i == 0 {
                format!("%{:02X}", u32::from(c))
            } else {
                c.to_string()
            }
        })
        .collect();
    match form {
        0 => format!("{name}={secret}"),
        1 => format!("{name}: {secret}"),
        2 => format!("\"{name}\": \"{secret}\""),
        3 => format!("\"{name}\":{secret}"),
        4 => format!("{name}[]={secret}"),
        5 => format!("user[{name}]={secret}"),
        6 => format!("user%5B{name}%5D={secret}"),
        7 => format!("{encoded}={secret}"),
        8 => format!("\"{escaped}\": \"{secret}\""),
        9 => format!("a=1;{name}={secret}"),
        10 => format!("\"{name}\": {{\"a\": \"{secret}\", \"b\": [1]}}"),
        11 => format!("\"{name}\": [\"x\", \"{secret}\"]"),
        12 => format!("'{name}' = '{secret}'"),
        13 => format!("{{\\\"{name}\\\":\\\"{secret}\\\"}}"),
        14 => format!("see https://h/x?{name}={secret}&n=1 ok"),
        15 => format!("{name}[0]={secret}"),
        _ => format!("\"{name}\": \"{secret}"),
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        "\\PC{0,24}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map("[a-zA-Z_\\[\\]%-]{0,12}", inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn never_panics_on_any_text_or_bytes(text in "\\PC*", bytes in proptest::collection::vec(any::<u8>(), 0..256), cap in 0usize..300) {
        let redactor = Redactor::default();
        let _ = redactor.text(&text);
        let _ = redactor.body(text.as_bytes(), cap);
        let _ = redactor.body(&bytes, cap);
        if let Ok(value) = HeaderValue::from_bytes(&bytes) {
            let mut headers = HeaderMap::new();
            headers.insert(HeaderName::from_static("location"), value.clone());
            headers.insert(HeaderName::from_static("link"), value);
            let _ = redactor.headers(&headers).to_string();
        }
    }

    #[test]
    fn never_panics_on_form_like_text(text in "([a-z%\\[\\]\\\\u0-9]{0,8}[=:;&\"' {}\\[\\]]){0,12}") {
        let _ = Redactor::default().text(&text);
        let _ = Redactor::default().body(text.as_bytes(), 16);
    }

    #[test]
    fn never_panics_on_any_json(value in json_value(), cap in 0usize..200) {
        let redactor = Redactor::default();
        let text = value.to_string();
        let _ = redactor.body(text.as_bytes(), cap);
        let _ = redactor.body(&text.as_bytes()[..text.len() / 2], cap);
        let mut value = value;
        redactor.json().redact(&mut value);
    }

    #[test]
    fn never_panics_on_any_url(
        path in "(/[a-zA-Z0-9%:.{}*\\[\\]-]{0,10}){0,5}",
        query in "[a-zA-Z0-9%=&;\\[\\]+]{0,40}",
        user in "[a-z0-9%]{0,8}",
    ) {
        let text = format!("http://{user}@h{path}?{query}#f");
        if let Ok(url) = Url::parse(&text) {
            let _ = Redactor::default().url(&url).to_string();
        }
        let _ = Redactor::default().text(&text);
    }

    #[test]
    fn a_planted_secret_never_survives_in_text(
        name in sensitive_name(),
        secret in secret(),
        form in 0u8..17,
        before in before(),
        after in after(),
        cap in 1usize..600,
    ) {
        let text = format!("{before}{}{after}", planted(&name, &secret, form));
        let shown = Redactor::default().text(&text);
        prop_assert!(!shown.contains(&secret), "{} -> {}", text, shown);
        // Parsed JSON is masked by field names only (`{"code": 404}` stays readable).
        if serde_json::from_str::<Value>(&text).is_err() || JsonRedactor::DEFAULT.is_sensitive(&name) {
            let shown = Redactor::default().body(text.as_bytes(), cap);
            prop_assert!(!shown.contains(&secret), "{} -> {}", text, shown);
        }
    }

    #[test]
    fn a_planted_secret_never_survives_in_json(
        name in sensitive_name(),
        secret in secret(),
        noise in json_value(),
        cap in 1usize..600,
    ) {
        // Query names that are not field names are masked in the URL only.
        let field = if JsonRedactor::DEFAULT.is_sensitive(&name) { name.clone() } else { "token".to_owned() };
        let body = serde_json::json!({"noise": noise, "deep": [{"x": 1, field: secret}],
            "link": format!("https://h/cb?{name}={secret}")});
        let text = body.to_string();
        let redactor = Redactor::default();
        for input in [&text[..], &text[..text.len() - 2]] {
            let shown = redactor.body(input.as_bytes(), cap);
            prop_assert!(!shown.contains(&secret), "{} -> {}", input, shown);
        }
        let mut value = body;
        redactor.json().redact(&mut value);
        prop_assert!(!value.to_string().contains(&secret), "{}", value);
    }

    #[test]
    fn a_planted_secret_never_survives_in_urls(
        name in sensitive_name(),
        secret in secret(),
        form in 0u8..9,
    ) {
        let name = name.to_ascii_lowercase();
        let text = match form {
            0 => format!("https://ada:{secret}@h/p"),
            1 => format!("https://h/p?a=1&{name}={secret}"),
            2 => format!("https://h/p?a=1;{name}[]={secret}"),
            3 => format!("https://h/p?user%5B{name}%5D={secret}"),
            4 => format!("https://h/bot{secret}/sendMessage"),
            5 => format!("https://h/services/T0/B0/{secret}"),
            6 => format!("https://h/basic-auth/ada/{secret}"),
            7 => format!("https://h/p?redirect_uri=https%3A%2F%2Fh%2Fcb%3F{name}%3D{secret}"),
            _ => format!("https://h/p?x=1#{name}={secret}"),
        };
        let url = Url::parse(&text).expect("a valid URL");
        let shown = Redactor::default().url(&url).to_string();
        prop_assert!(!shown.contains(&secret), "{} -> {}", text, shown);
        let mut headers = HeaderMap::new();
        headers.insert(HeaderName::from_static("location"), HeaderValue::from_str(&text).expect("valid"));
        headers.insert(HeaderName::from_static("link"), HeaderValue::from_str(&format!("<{text}>; rel=\"next\"")).expect("valid"));
        let shown = Redactor::default().headers(&headers).to_string();
        prop_assert!(!shown.contains(&secret), "{} -> {}", text, shown);
    }

    #[test]
    fn a_secret_in_a_listed_header_never_survives(
        name in proptest::sample::select(DEFAULT_SENSITIVE_HEADERS),
        secret in secret(),
    ) {
        let mut headers = HeaderMap::new();
        headers.insert(HeaderName::from_static(name), HeaderValue::from_str(&format!("a=1; b {secret}")).expect("valid"));
        let shown = Redactor::default().headers(&headers).to_string();
        prop_assert!(!shown.contains(&secret), "{}", shown);
    }

    #[test]
    fn output_stays_within_the_cap(
        bytes in proptest::collection::vec(any::<u8>(), 0..2048),
        text in "\\PC{0,600}",
        value in json_value(),
        cap in 1usize..400,
    ) {
        let redactor = Redactor::default();
        let json = value.to_string();
        for input in [&bytes[..], text.as_bytes(), json.as_bytes()] {
            let shown = redactor.body(input, cap);
            prop_assert!(shown.len() <= cap + '…'.len_utf8(), "{} > {}: {}", shown.len(), cap, shown);
        }
    }
}
