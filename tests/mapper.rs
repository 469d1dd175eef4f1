//! The mapper module through its public API: field helpers, batch reports and their
//! logs, schema drift and its once-per-signature warning.

mod common;

use std::collections::BTreeMap;

use common::log::{Capture, EventRec, LogBuffer, capture_text};

use proptest::prelude::*;
use serde::Deserialize;
use serde_json::{Value, json};
use steadfast::mapper::{
    DecodeError, DriftMonitor, FieldErrorKind, Fields, MapError, Mapper, Text,
    decode_value_with_drift, decode_with_drift, map_batch, map_batch_with_ids,
};
use tracing::Level;

const PLANTED_SECRET: &str = "hunter2-PLANTED-SECRET";

/// Runs `f` with a subscriber that captures events and formatted text.
fn capturing<R>(f: impl FnOnce() -> R) -> (R, Capture, LogBuffer) {
    let (capture, buffer, guard) = capture_text(Level::TRACE);
    let result = f();
    drop(guard);
    (result, capture, buffer)
}

// ---------------------------------------------------------------------------
// The example domain: CRM customers to billing clients.

#[derive(Debug, Clone, PartialEq)]
struct BillingClient {
    external_client_id: String,
    display_name: String,
    email: Option<String>,
    country: String,
    phone: Option<String>,
    currency: String,
}

/// Keeps a leading `+` and the digits; CRMs store phones as text or numbers.
fn normalize_phone(raw: &Value) -> Result<String, FieldErrorKind> {
    let text = match raw {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        _ => return Err(FieldErrorKind::invalid("a phone number")),
    };
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 6 {
        return Err(FieldErrorKind::invalid("a phone number"));
    }
    Ok(if text.starts_with('+') {
        format!("+{digits}")
    } else {
        digits
    })
}

fn to_billing_client(customer: &Value) -> Result<BillingClient, MapError> {
    let mut f = Fields::new(customer);
    let id = f.required::<i64>("customer_id");
    let name = f.required_text("name", Text::COLLAPSED);
    let email = f.optional_text("email", Text::EMAIL);
    let country = f.optional_text("country", Text::TRIMMED);
    let phone = f.optional_with("phone", |raw: Value| normalize_phone(&raw));
    let currency = f.or_default("currency", "EUR".to_owned());
    if email.as_deref().is_some_and(|e| !e.contains('@')) {
        f.report("email", FieldErrorKind::invalid("an email address"));
    }
    f.finish(|| {
        Some(BillingClient {
            external_client_id: id?.to_string(),
            display_name: name?,
            email,
            country: country.map_or_else(|| "DE".to_owned(), |c| c.to_uppercase()),
            phone,
            currency,
        })
    })
}

fn crm_id(customer: &Value) -> Option<String> {
    match customer.get("customer_id")? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn paths_and_kinds(error: &MapError) -> Vec<(String, FieldErrorKind)> {
    error
        .problems()
        .iter()
        .map(|p| (p.path().to_owned(), p.kind().clone()))
        .collect()
}

// ---------------------------------------------------------------------------
// Single records.

#[test]
fn a_good_record_maps() {
    let customer = json!({
        "customer_id": 1001,
        "name": "  Ada   Lovelace ",
        "email": " ADA@Example.COM ",
        "country": "gb",
        "phone": "+44 (20) 7946-0000",
    });
    assert_eq!(
        to_billing_client(&customer),
        Ok(BillingClient {
            external_client_id: "1001".into(),
            display_name: "Ada Lovelace".into(),
            email: Some("ada@example.com".into()),
            country: "GB".into(),
            phone: Some("+442079460000".into()),
            currency: "EUR".into(),
        })
    );
}

#[test]
fn three_bad_fields_are_one_error_naming_all_three() {
    let customer = json!({"name": null, "phone": {"home": "123"}, "email": "a@b.io"});
    let error = to_billing_client(&customer).expect_err("three problems");
    assert_eq!(
        paths_and_kinds(&error),
        [
            ("customer_id".to_owned(), FieldErrorKind::Missing),
            ("name".to_owned(), FieldErrorKind::Null),
            (
                "phone".to_owned(),
                FieldErrorKind::invalid("a phone number")
            ),
        ]
    );
    let shown = error.to_string();
    for path in ["`customer_id`", "`name`", "`phone`"] {
        assert!(shown.contains(path), "{path} in {shown}");
    }
    assert!(shown.starts_with("3 field problems"), "{shown}");
}

#[test]
fn invalid_values_say_what_was_expected() {
    let customer = json!({"customer_id": "1003", "name": "Alan", "email": "alan at example"});
    let error = to_billing_client(&customer).expect_err("two problems");
    assert_eq!(
        paths_and_kinds(&error),
        [
            ("customer_id".to_owned(), FieldErrorKind::invalid("i64")),
            (
                "email".to_owned(),
                FieldErrorKind::invalid("an email address")
            ),
        ]
    );
    assert_eq!(error.problems()[0].value(), Some("\"1003\""));
}

#[test]
fn forgetting_to_finish_is_logged() {
    let record = json!({"customer_id": "x"});
    let ((), capture, _) = capturing(|| {
        let mut f = Fields::new(&record);
        let _ = f.required::<i64>("customer_id");
    });
    let errors: Vec<EventRec> = capture
        .all_events()
        .into_iter()
        .filter(|e| e.level == Level::ERROR)
        .collect();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].field("problems"), Some("1"));

    let ((), capture, _) = capturing(|| {
        let mut f = Fields::new(&record);
        let _ = f.required::<i64>("customer_id");
        let _ = f.into_result();
    });
    assert!(
        capture.all_events().is_empty(),
        "reported problems are not logged again"
    );
}

#[derive(Debug)]
struct Signup {
    login: String,
    password: String,
}

fn to_signup(record: &Value) -> Result<Signup, MapError> {
    let mut f = Fields::new(record);
    let login = f.trimmed("login");
    let password = f.required_with("password", |p: String| {
        if p.chars().count() >= 32 {
            Ok(p)
        } else {
            Err(FieldErrorKind::custom(format!("too short: {p}")))
        }
    });
    f.finish(|| {
        Some(Signup {
            login: login?,
            password: password?,
        })
    })
}

#[test]
fn a_good_signup_keeps_its_password() {
    let long = "correct horse battery staple 1234";
    let signup = to_signup(&json!({"login": " ada ", "password": long})).expect("valid");
    assert_eq!(
        (signup.login.as_str(), signup.password.as_str()),
        ("ada", long)
    );
}

#[test]
fn a_bad_password_never_shows_its_value() {
    let cases = [
        json!({"login": "ada", "password": PLANTED_SECRET}),
        json!({"login": "ada", "password": [PLANTED_SECRET]}),
        json!({"login": {"password": PLANTED_SECRET}, "password": 7}),
    ];
    for record in cases {
        let error = to_signup(&record).expect_err("rejected");
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains(PLANTED_SECRET), "{shown}");
        assert!(
            shown.contains("`password`"),
            "the path is still named: {shown}"
        );
        for problem in error.problems() {
            assert!(!problem.value().unwrap_or("").contains(PLANTED_SECRET));
        }
    }
}

#[test]
fn a_bad_password_never_reaches_the_log() {
    let records = [json!({"login": "ada", "password": PLANTED_SECRET})];
    let (report, capture, text) = capturing(|| map_batch(&to_signup, &records));
    assert_eq!(report.rejected.len(), 1);
    assert_eq!(capture.count(Level::WARN, "steadfast::mapper"), 1);
    let logged = text.text();
    assert!(logged.contains("record rejected by mapper"), "{logged}");
    assert!(logged.contains("password"), "{logged}");
    assert!(!logged.contains(PLANTED_SECRET), "{logged}");
}

// ---------------------------------------------------------------------------
// Batches.

fn crm_export() -> Vec<Value> {
    vec![
        json!({"customer_id": 1001, "name": " Ada  Lovelace ", "email": " ADA@Example.COM ",
               "country": "gb", "phone": "+44 20 7946 0000"}),
        json!({"customer_id": 1002, "name": "Grace Hopper", "email": null, "country": null,
               "phone": 4_930_123_456_u64}),
        json!({"customer_id": "1003", "name": "Alan Turing", "email": "alan at example"}),
        json!({"customer_id": 1004, "name": "   ", "email": "", "phone": "n/a",
               "currency": "USD"}),
        json!({"customer_id": 1005, "name": "Edsger Dijkstra", "country": " nl ",
               "currency": "EUR"}),
    ]
}

#[test]
fn crm_customers_become_billing_clients() {
    let customers = crm_export();
    let report = map_batch_with_ids(&to_billing_client, &customers, |c| crm_id(c));

    assert_eq!(report.total(), customers.len());
    let ids: Vec<&str> = report
        .mapped
        .iter()
        .map(|c| c.external_client_id.as_str())
        .collect();
    assert_eq!(ids, ["1001", "1002", "1005"]);
    assert_eq!(
        report.mapped[1],
        BillingClient {
            external_client_id: "1002".into(),
            display_name: "Grace Hopper".into(),
            email: None,
            country: "DE".into(),
            phone: Some("4930123456".into()),
            currency: "EUR".into(),
        }
    );
    assert_eq!(report.mapped[2].country, "NL");

    let rejected: Vec<(usize, Option<&str>, Vec<String>)> = report
        .rejected
        .iter()
        .map(|r| {
            let paths = r.error.problems().iter().map(|p| p.path().to_owned());
            (r.index, r.id.as_deref(), paths.collect())
        })
        .collect();
    assert_eq!(
        rejected,
        [
            (2, Some("1003"), vec!["customer_id".into(), "email".into()]),
            (3, Some("1004"), vec!["name".into(), "phone".into()]),
        ]
    );
}

#[test]
fn batch_logs_one_warn_per_rejected_record_and_one_summary() {
    let customers = crm_export();
    let (report, capture, _) =
        capturing(|| map_batch_with_ids(&to_billing_client, &customers, |c| crm_id(c)));
    assert_eq!(report.rejected.len(), 2);

    let events = capture.all_events();
    let warns: Vec<&EventRec> = events.iter().filter(|e| e.level == Level::WARN).collect();
    assert_eq!(warns.len(), 2);
    for (warn, rejected) in warns.iter().zip(&report.rejected) {
        assert_eq!(
            warn.field("index"),
            Some(rejected.index.to_string().as_str())
        );
        assert_eq!(warn.field("id"), rejected.id.as_deref());
        assert_eq!(
            warn.field("error"),
            Some(rejected.error.to_string().as_str())
        );
    }

    let infos: Vec<&EventRec> = events.iter().filter(|e| e.level == Level::INFO).collect();
    assert_eq!(infos.len(), 1);
    assert_eq!(infos[0].field("total"), Some("5"));
    assert_eq!(infos[0].field("mapped"), Some("3"));
    assert_eq!(infos[0].field("rejected"), Some("2"));
    assert_eq!(events.len(), 3, "nothing else is logged: {events:?}");
}

#[test]
fn batch_without_ids_still_logs_index() {
    let customers = crm_export();
    let (report, capture, _) = capturing(|| map_batch(&to_billing_client, &customers));
    assert!(report.rejected.iter().all(|r| r.id.is_none()));
    let warns: Vec<EventRec> = capture
        .all_events()
        .into_iter()
        .filter(|e| e.level == Level::WARN)
        .collect();
    let indices: Vec<Option<&str>> = warns.iter().map(|w| w.field("index")).collect();
    assert_eq!(indices, [Some("2"), Some("3")]);
    assert!(warns.iter().all(|w| w.field("id").is_none()));
}

/// A mapper chosen at run time; `for<'a>` lets it map records of any lifetime.
type BoxedMapper = Box<dyn for<'a> Mapper<&'a Value, Out = String>>;

#[test]
fn boxed_mappers_are_usable() {
    let mappers: Vec<(&str, BoxedMapper)> =
        vec![
            (
                "billing id",
                Box::new(to_billing_client.and_then(
                    |c: BillingClient| -> Result<String, MapError> { Ok(c.external_client_id) },
                )),
            ),
            (
                "raw name",
                Box::new(|v: &Value| -> Result<String, MapError> {
                    let mut f = Fields::new(v);
                    let name = f.required::<String>("name");
                    f.finish(|| name)
                }),
            ),
        ];
    let customers = crm_export();
    let mapped: Vec<(&str, usize)> = mappers
        .iter()
        .map(|(label, mapper)| (*label, map_batch(&**mapper, &customers).mapped.len()))
        .collect();
    assert_eq!(mapped, [("billing id", 3), ("raw name", 5)]);
}

// ---------------------------------------------------------------------------
// Schema drift.

#[derive(Debug, Deserialize, PartialEq)]
struct CrmAddress {
    city: String,
    zip: Option<String>,
}

#[derive(Debug, Deserialize, PartialEq)]
struct CrmCustomer {
    customer_id: i64,
    name: String,
    email: Option<String>,
    address: Option<CrmAddress>,
}

#[test]
fn drift_reports_new_and_missing_fields_with_paths() {
    let body = br#"{
        "customer_id": 7,
        "name": "Ada",
        "email": "ada@example.com",
        "address": {"city": "London", "geo": {"lat": 51.5}},
        "loyalty_tier": "gold"
    }"#;
    let (customer, drift) = decode_with_drift::<CrmCustomer>(body).expect("decodes");
    assert_eq!(customer.address.map(|a| a.city).as_deref(), Some("London"));
    assert_eq!(drift.unknown, ["address.geo", "loyalty_tier"]);
    assert_eq!(drift.missing_optional, ["address.zip"]);
}

#[test]
fn drift_warns_once_per_signature() {
    let monitor = DriftMonitor::new();
    let same_drift = json!({"customer_id": 1, "name": "A", "email": null, "vip": true});
    let other_drift = json!({"customer_id": 1, "name": "A", "email": "a@b.io", "vip": true});

    let ((), capture, text) = capturing(|| {
        for i in 0..1000 {
            let mut body = same_drift.clone();
            body["customer_id"] = json!(i);
            let (_, drift) = monitor
                .decode::<CrmCustomer>(body.to_string())
                .expect("decodes");
            assert_eq!(drift.unknown, ["vip"]);
        }
    });
    assert_eq!(capture.count(Level::WARN, "steadfast::mapper::drift"), 1);
    let warn = &capture.all_events()[0];
    assert_eq!(warn.field("unknown"), Some("vip"));
    assert_eq!(warn.field("missing_optional"), Some("address, email"));
    assert!(text.text().contains("CrmCustomer"), "{}", text.text());

    // A clone shares what was seen; a new signature warns once more.
    let shared = monitor.clone();
    let ((), capture, _) = capturing(|| {
        for _ in 0..1000 {
            shared
                .decode_value::<CrmCustomer>(&other_drift)
                .expect("decodes");
            shared
                .decode_value::<CrmCustomer>(&same_drift)
                .expect("decodes");
        }
    });
    assert_eq!(capture.count(Level::WARN, "steadfast::mapper::drift"), 1);
    assert_eq!(
        capture.all_events()[0].field("missing_optional"),
        Some("address")
    );
    assert_eq!(monitor.signatures_seen(), 2);
}

#[test]
fn no_drift_no_warning() {
    let monitor = DriftMonitor::new();
    let exact = json!({"customer_id": 1, "name": "A", "email": "a@b.io",
                       "address": {"city": "X", "zip": "1"}});
    let ((), capture, _) = capturing(|| {
        for _ in 0..10 {
            let (_, drift) = monitor
                .decode_value::<CrmCustomer>(&exact)
                .expect("decodes");
            assert!(drift.is_empty());
        }
    });
    assert!(capture.all_events().is_empty());
}

#[test]
fn malformed_json_is_a_typed_error() {
    let monitor = DriftMonitor::new();
    for body in [
        &b"{\"customer_id\": 1,"[..],
        b"",
        b"\xff\xfe",
        b"{\"name\": \"A\"} trailing",
    ] {
        let error = monitor
            .decode::<CrmCustomer>(body)
            .expect_err("malformed body");
        let DecodeError::Syntax { source } = &error else {
            panic!("expected a syntax error, got {error}");
        };
        assert!(source.is_syntax() || source.is_eof(), "{source}");
        let cause = std::error::Error::source(&error).expect("has a cause");
        assert!(cause.downcast_ref::<serde_json::Error>().is_some());
    }
    let error = decode_with_drift::<CrmCustomer>(r#"{"customer_id": 1}"#).expect_err("no name");
    let DecodeError::Shape { problem, .. } = &error else {
        panic!("expected a shape error, got {error}");
    };
    assert_eq!(
        (problem.path(), problem.kind()),
        ("name", &FieldErrorKind::Missing)
    );
    assert_eq!(monitor.signatures_seen(), 0);
}

// ---------------------------------------------------------------------------
// Properties.

const KNOWN_KEYS: &[&str] = &[
    "customer_id",
    "name",
    "email",
    "country",
    "phone",
    "currency",
    "address",
    "city",
    "zip",
    "password",
    "login",
];

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(KNOWN_KEYS).prop_map(str::to_owned),
        1 => "[a-zA-Z_.\\[\\]0-9]{0,8}",
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "\\PC{0,16}".prop_map(Value::from),
        "[ ]{0,2}[+0-9a-zA-Z@. ()-]{0,14}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// Mostly objects whose keys are the ones mappers read, so the helpers go deep.
fn record() -> impl Strategy<Value = Value> {
    prop_oneof![
        1 => json_value(),
        3 => prop::collection::btree_map(key(), json_value(), 0..10)
            .prop_map(|map| Value::Object(map.into_iter().collect())),
    ]
}

fn secret() -> impl Strategy<Value = String> {
    "[A-Za-z0-9]{12,24}"
}

proptest! {
    #[test]
    fn mappers_never_panic(value in record()) {
        let outcome = to_billing_client(&value);
        if let Err(error) = outcome {
            prop_assert!(!error.problems().is_empty());
            prop_assert!(!error.to_string().is_empty());
        }
        let _ = to_signup(&value);
        let report = map_batch(&to_billing_client, [&value, &value]);
        prop_assert_eq!(report.total(), 2);
    }

    #[test]
    fn drift_decoding_never_panics(value in record(), bytes in prop::collection::vec(any::<u8>(), 0..48)) {
        let _ = decode_value_with_drift::<CrmCustomer>(&value);
        let _ = decode_value_with_drift::<Vec<CrmCustomer>>(&value);
        let _ = decode_value_with_drift::<BTreeMap<String, Option<CrmAddress>>>(&value);
        let _ = decode_value_with_drift::<Value>(&value);
        let text = value.to_string();
        let via_text = decode_with_drift::<CrmCustomer>(&text);
        let via_value = decode_value_with_drift::<CrmCustomer>(&value);
        prop_assert_eq!(via_text.is_ok(), via_value.is_ok());
        let _ = decode_with_drift::<CrmCustomer>(&bytes);
        let _ = DriftMonitor::new().decode::<CrmCustomer>(&bytes);
    }

    #[test]
    fn untyped_decoding_round_trips(value in json_value()) {
        let (decoded, drift) = decode_value_with_drift::<Value>(&value).expect("any json is a value");
        prop_assert!(drift.is_empty());
        prop_assert_eq!(decoded, value);
    }

    #[test]
    fn sensitive_values_never_appear_in_errors(
        secret in secret(),
        shape in 0..3_u8,
        other in record(),
    ) {
        let password = match shape {
            0 => Value::from(secret.clone()),
            1 => json!([secret.clone()]),
            _ => json!({"nested": {"token": secret.clone()}}),
        };
        let mut record = json!({"login": other, "password": password});
        record["credentials"] = json!({"apiKey": secret.clone()});
        let read = |v: &Value| -> Result<(), MapError> {
            let mut f = Fields::new(v);
            let _ = f.required::<u8>("password");
            let _ = f.required::<u8>("credentials");
            let _ = f.required::<u8>("login");
            f.into_result()
        };
        let error = read(&record).expect_err("password is never a u8");
        let shown = format!("{error} {error:?}");
        prop_assert!(!shown.contains(&secret), "{}", shown);
    }
}
