//! The secrets test (issue 13): a distinct secret planted in every place one can hide —
//! query names in every spelling, path templates, userinfo, request headers, URL-valued
//! response headers, JSON, form and text bodies, JSON cut short or over the cap, error
//! pages — and calls that succeed, fail (500, 401), retry and time out, with body capture
//! on and off. No secret may reach the TRACE JSON logs of any target, an error's
//! `Display` or `Debug`, a hook's arguments or a mapper error.

mod common;

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::log::{all_output, capture_json};
use common::{everything_shown, http};
use serde::Deserialize;
use serde_json::json;
use steadfast::log::{BodyCapture, FailedCall, LogConfig};
use steadfast::mapper::{DriftMonitor, FieldError, FieldErrorKind, Fields};
use steadfast::redact::{RedactConfig, Redactor};
use steadfast::retry::{Jitter, RetryConfig};
use steadfast::{Client, Error, ResponseExt};
use wiremock::matchers::header;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Every planted secret, by where it was planted.
struct Secrets(Vec<(&'static str, String)>);

impl Secrets {
    fn new() -> Self {
        let places = [
            // Query names.
            "q_auth",
            "q_code",
            "q_jwt",
            "q_sessionid",
            "q_token_brackets",
            "q_user_password",
            "q_semicolon_token",
            "q_key",
            "q_signature",
            "q_access_token",
            "q_configured",
            "q_redirect_uri",
            // Path templates: defaults and a configured one.
            "p_telegram",
            "p_slack",
            "p_basic_auth",
            "p_configured",
            // Userinfo.
            "u_password",
            // Request headers.
            "h_bearer",
            "h_cookie_sid",
            "h_api_key",
            "h_session",
            "h_csrf",
            "h_configured",
            // Request bodies: JSON and form.
            "b_password",
            "b_private_key",
            "b_credentials",
            "b_iban",
            "b_card_number",
            "b_url",
            "f_password",
            "f_card",
            // URL-valued response headers and cookies.
            "r_location",
            "r_content_location",
            "r_link",
            "r_refresh",
            "r_set_cookie",
            // Response bodies: JSON, error page, cut JSON, JSON over the cap.
            "j_token",
            "j_url",
            "e_password",
            "e_cookie_sid",
            "e_digest",
            "e_form_password",
            "e_form_card",
            "c_token",
            "c_password",
            "c_object",
            "c_escaped_name",
            "g_token",
            "g_password",
            // Mapper errors.
            "m_iban",
            "m_private_key",
            "m_drift_iban",
        ];
        Self(
            places
                .iter()
                .enumerate()
                .map(|(i, place)| (*place, format!("zQ{i:02}x{}", place.replace('_', ""))))
                .collect(),
        )
    }

    fn get(&self, place: &str) -> &str {
        self.0
            .iter()
            .find(|(p, _)| *p == place)
            .map_or_else(|| panic!("no secret for {place}"), |(_, s)| s.as_str())
    }
}

/// Everything the hooks, errors and mappers showed.
#[derive(Clone, Default)]
struct Shown(Arc<Mutex<String>>);

impl Shown {
    fn push(&self, text: &str) {
        let mut shown = self.0.lock().expect("not poisoned");
        shown.push_str(text);
        shown.push('\n');
    }

    fn text(&self) -> String {
        self.0.lock().expect("not poisoned").clone()
    }
}

fn redact_config() -> RedactConfig {
    RedactConfig::default()
        .header("X-Partner-Ref")
        .query_param("partner_ref")
        .json_field("iban")
        .path("/hooks/{secret}")
}

/// What a hook author sees: the call, its URL, its error, and the last response's headers
/// rendered through the redactor as the docs advise.
fn hook(shown: &Shown, name: &'static str) -> impl Fn(&FailedCall<'_>) + Send + Sync + 'static {
    let shown = shown.clone();
    let redactor = Redactor::new(&redact_config()).expect("valid config");
    move |failed| {
        shown.push(&format!("{name}: {failed:?}\n{}", failed.url()));
        if let Some(error) = failed.error() {
            shown.push(&everything_shown(error));
            if let Some(headers) = error.failure().and_then(steadfast::Failure::headers) {
                shown.push(&redactor.headers(&headers).to_string());
            }
        }
    }
}

fn client(bodies: BodyCapture, attempt_timeout: Option<Duration>, shown: &Shown) -> Client {
    let builder = Client::builder().retry(
        RetryConfig::default()
            .max_retries(1)
            .base_delay(Duration::from_millis(10))
            .jitter(Jitter::None)
            .without_deadline()
            .without_budget(),
    );
    let builder = match attempt_timeout {
        Some(limit) => builder.attempt_timeout(limit),
        None => builder.without_attempt_timeout(),
    };
    builder
        .log(LogConfig::default().redact(redact_config()).bodies(bodies))
        .on_give_up(hook(shown, "on_give_up"))
        .on_permanent(hook(shown, "on_permanent"))
        .build(http())
        .expect("valid config")
}

/// The response headers every scenario carries: URLs with secrets and a cookie.
fn with_url_headers(template: ResponseTemplate, s: &Secrets) -> ResponseTemplate {
    template
        .insert_header(
            "location",
            format!(
                "https://h.example/cb?access_token={}&n=1",
                s.get("r_location")
            ),
        )
        .insert_header(
            "content-location",
            format!("https://ada:{}@h.example/x", s.get("r_content_location")),
        )
        .insert_header(
            "link",
            format!(
                "<https://h.example/x?page=2&access_token={}>; rel=\"next\"",
                s.get("r_link")
            ),
        )
        .insert_header(
            "refresh",
            format!("0; url=https://h.example/?token={}", s.get("r_refresh")),
        )
        .insert_header(
            "set-cookie",
            format!("sid={}; HttpOnly", s.get("r_set_cookie")),
        )
}

/// 503 once, then 200: a retried call.
struct Flaky(Mutex<u32>, ResponseTemplate, ResponseTemplate);

impl Respond for Flaky {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let mut seen = self.0.lock().expect("not poisoned");
        *seen += 1;
        if *seen % 2 == 1 {
            self.1.clone()
        } else {
            self.2.clone()
        }
    }
}

async fn mount(server: &MockServer, s: &Secrets) {
    let ok_body = json!({
        "access_token": s.get("j_token"),
        "next": format!("https://h.example/x?access_token={}", s.get("j_url")),
        "user": "ada-lovelace",
    });
    let ok = with_url_headers(ResponseTemplate::new(200).set_body_json(&ok_body), s);
    let error_page = format!(
        "<html><body><h1>500</h1><pre>login failed: password={}\nCookie: a=1; visitor={}\n\
         Authorization: Digest username=\"ada\", response=\"{}\"\n\
         form: user[password]={}&card[number]={}</pre></body></html>",
        s.get("e_password"),
        s.get("e_cookie_sid"),
        s.get("e_digest"),
        s.get("e_form_password"),
        s.get("e_form_card"),
    );
    let cut_json = format!(
        r#"{{"error":"unauthorized","token":"{}","credentials":{{"login":"{}"}},"pass\u0077ord":"{}","detail":{{"password":"{}"#,
        s.get("c_token"),
        s.get("c_object"),
        s.get("c_escaped_name"),
        s.get("c_password")
    );
    let big_json = json!({
        "token": s.get("g_token"),
        "pad": "x".repeat(6000),
        "password": s.get("g_password"),
        "user": "ada-lovelace",
    });
    let scenarios = [
        ("ok", ok.clone()),
        (
            "500",
            with_url_headers(
                ResponseTemplate::new(500).set_body_raw(error_page, "text/html"),
                s,
            ),
        ),
        (
            "401",
            with_url_headers(
                ResponseTemplate::new(401).set_body_raw(cut_json, "application/json"),
                s,
            ),
        ),
        (
            "big",
            with_url_headers(ResponseTemplate::new(502).set_body_json(&big_json), s),
        ),
        (
            "slow",
            with_url_headers(ResponseTemplate::new(200), s).set_delay(Duration::from_secs(30)),
        ),
    ];
    for (name, template) in scenarios {
        Mock::given(header("x-scenario", name))
            .respond_with(template)
            .mount(server)
            .await;
    }
    let unavailable = with_url_headers(ResponseTemplate::new(503).set_body_json(&ok_body), s);
    Mock::given(header("x-scenario", "retry"))
        .respond_with(Flaky(Mutex::new(0), unavailable, ok))
        .mount(server)
        .await;
}

/// The query every call carries: each sensitive name in another spelling.
fn query(s: &Secrets) -> String {
    format!(
        "auth={}&code={}&jwt={}&sessionid={}&token%5B%5D={}&user%5Bpassword%5D={}&a=1;token={}\
         &key={}&signature={}&access_token={}&partner_ref={}\
         &redirect_uri=https%3A%2F%2Fh.example%2Fcb%3Faccess_token%3D{}&page=2",
        s.get("q_auth"),
        s.get("q_code"),
        s.get("q_jwt"),
        s.get("q_sessionid"),
        s.get("q_token_brackets"),
        s.get("q_user_password"),
        s.get("q_semicolon_token"),
        s.get("q_key"),
        s.get("q_signature"),
        s.get("q_access_token"),
        s.get("q_configured"),
        s.get("q_redirect_uri"),
    )
}

fn paths(s: &Secrets) -> [String; 4] {
    [
        format!("/bot{}/sendMessage", s.get("p_telegram")),
        format!("/services/T000/B000/{}", s.get("p_slack")),
        format!("/basic-auth/user/{}", s.get("p_basic_auth")),
        format!("/hooks/{}/fire", s.get("p_configured")),
    ]
}

fn json_body(s: &Secrets) -> serde_json::Value {
    json!({
        "customer": {"name": "Grace Hopper", "password": s.get("b_password")},
        "private_key": s.get("b_private_key"),
        "credentials": {"user": "ada", "value": s.get("b_credentials")},
        "iban": s.get("b_iban"),
        "card_number": s.get("b_card_number"),
        "callback": format!("https://h.example/cb?access_token={}", s.get("b_url")),
    })
}

fn form_body(s: &Secrets) -> String {
    format!(
        "user[password]={}&card[number]={}&note=hello",
        s.get("f_password"),
        s.get("f_card")
    )
}

/// One call: a path, a scenario and a body kind, all request headers set.
async fn call(
    client: &Client,
    server: &MockServer,
    s: &Secrets,
    path: &str,
    scenario: &str,
    form: bool,
    shown: &Shown,
) -> Option<reqwest::Response> {
    let url = format!("{}{path}?{}", server.uri(), query(s));
    let request = client
        .post(url)
        .bearer_auth(s.get("h_bearer"))
        .header("cookie", format!("a=1; sid={}", s.get("h_cookie_sid")))
        .header("x-api-key", s.get("h_api_key"))
        .header("x-session", s.get("h_session"))
        .header("x-csrf-token", s.get("h_csrf"))
        .header("x-partner-ref", s.get("h_configured"))
        .header("x-scenario", scenario);
    let request = if form {
        request
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_body(s))
    } else {
        request.json(&json_body(s))
    };
    match request.send().await {
        Ok(response) => Some(response),
        Err(error) => {
            shown.push(&format!("{error}\n{error:?}\n{}", everything_shown(&error)));
            None
        }
    }
}

/// A request built without reqwest's builder keeps its userinfo in the URL.
async fn call_with_userinfo(client: &Client, server: &MockServer, s: &Secrets, shown: &Shown) {
    let url = format!(
        "http://ada:{}@{}/orders?{}",
        s.get("u_password"),
        server.address(),
        query(s)
    );
    let mut request = reqwest::Request::new(reqwest::Method::GET, url.parse().expect("url"));
    request.headers_mut().insert(
        "x-scenario",
        reqwest::header::HeaderValue::from_static("500"),
    );
    let error = client.execute(request).await.expect_err("a 500");
    shown.push(&format!("{error}\n{error:?}\n{}", everything_shown(&error)));
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Account {
    iban: u64,
}

/// Mapper errors, after a client configured `iban`: none of them has a client at hand.
async fn mappers(client: &Client, server: &MockServer, s: &Secrets, shown: &Shown) {
    let record = json!({
        "iban": [s.get("m_iban")],
        "private_key": {"pem": s.get("m_private_key")},
        "name": "ada",
    });
    let mut fields = Fields::new(&record);
    let _: Option<String> = fields.required("iban");
    let _: Option<u32> = fields.required("private_key");
    let error = fields.finish(|| Some(())).expect_err("two problems");
    shown.push(&format!("{error}\n{error:?}"));
    let problem = FieldError::new("iban", FieldErrorKind::invalid("text"))
        .with_value(&json!(s.get("m_iban")));
    shown.push(&format!("{problem}\n{problem:?}"));

    Mock::given(header("x-scenario", "account"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"iban": s.get("m_drift_iban")})),
        )
        .mount(server)
        .await;
    let response = client
        .get(format!("{}/accounts/1", server.uri()))
        .header("x-scenario", "account")
        .send()
        .await
        .expect("a 200");
    let error = response
        .json_with_drift::<Account>(&DriftMonitor::new())
        .await
        .expect_err("a string is no u64");
    assert!(matches!(error, Error::Decode(_)), "{error:?}");
    shown.push(&format!("{error}\n{error:?}\n{}", everything_shown(&error)));
}

async fn run_everything(bodies: BodyCapture) -> (String, String, Secrets, MockServer) {
    let (_, logs, _guard) = capture_json();
    let server = MockServer::start().await;
    let s = Secrets::new();
    mount(&server, &s).await;
    let shown = Shown::default();
    let fast = client(bodies.clone(), None, &shown);
    let timing_out = client(bodies, Some(Duration::from_secs(1)), &shown);

    for path in paths(&s) {
        for scenario in ["ok", "500", "401", "big", "retry"] {
            for form in [false, true] {
                call(&fast, &server, &s, &path, scenario, form, &shown).await;
            }
        }
    }
    // On the paused clock the attempt timeout fires as soon as the runtime waits on the
    // delayed response.
    let timed_out = call(&timing_out, &server, &s, "/orders", "slow", false, &shown).await;
    assert!(timed_out.is_none(), "the slow call must time out");
    call_with_userinfo(&fast, &server, &s, &shown).await;
    replay_and_deadline(&server, &s, &shown).await;
    mappers(&fast, &server, &s, &shown).await;
    (logs.text(), shown.text(), s, server)
}

/// A ledger replay (the 401 recorded, then answered again without a request) and a call the
/// deadline cuts: both build their errors apart from the retry layer.
async fn replay_and_deadline(server: &MockServer, s: &Secrets, shown: &Shown) {
    // On the paused clock a timer fires as soon as the runtime waits on the server: none.
    let ledger = Client::builder()
        .retry(RetryConfig::default().without_deadline())
        .without_attempt_timeout()
        .idempotency(
            steadfast::idempotency::IdempotencyConfig::default()
                .complete_on(steadfast::idempotency::CompleteOn::SuccessOrPermanent),
        )
        .log(LogConfig::default().redact(redact_config()))
        .on_permanent(hook(shown, "on_permanent"))
        .build(http())
        .expect("valid config");
    let path = &paths(s)[0];
    for attempts in [1, 0] {
        let url = format!("{}{path}?{}", server.uri(), query(s));
        let error = ledger
            .post(url)
            .idempotency_key("invoice-secrets-1")
            .header("x-api-key", s.get("h_api_key"))
            .header("x-scenario", "401")
            .json(&json_body(s))
            .send()
            .await
            .expect_err("a 401, then its replay");
        assert_eq!(
            error.failure().map(steadfast::Failure::attempts),
            Some(attempts),
            "{error}"
        );
        shown.push(&format!("{error}\n{error:?}\n{}", everything_shown(&error)));
    }
    let cut = Client::builder()
        .retry(RetryConfig::default().deadline(Duration::from_secs(1)))
        .log(LogConfig::default().redact(redact_config()))
        .build(http())
        .expect("valid config");
    let url = format!("{}{path}?{}", server.uri(), query(s));
    let error = cut
        .get(url)
        .header("x-scenario", "slow")
        .send()
        .await
        .expect_err("cut by the deadline");
    assert!(matches!(error, Error::DeadlineExceeded { .. }), "{error:?}");
    shown.push(&format!("{error}\n{error:?}\n{}", everything_shown(&error)));
}

fn assert_no_secret(logs: &str, shown: &str, s: &Secrets) {
    for (place, secret) in &s.0 {
        assert!(
            !logs.contains(secret.as_str()),
            "the secret planted in {place} ({secret}) reached the logs:\n{}",
            context(logs, secret)
        );
        assert!(
            !shown.contains(secret.as_str()),
            "the secret planted in {place} ({secret}) reached an error, hook or mapper:\n{}",
            context(shown, secret)
        );
    }
}

/// The lines around the first occurrence of `secret`.
fn context(text: &str, secret: &str) -> String {
    text.lines()
        .filter(|line| line.contains(secret))
        .take(2)
        .map(|line| line.chars().take(3000).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The secrets were really sent: the test plants them where a server sees them.
async fn assert_sent(server: &MockServer, s: &Secrets) {
    let received = server.received_requests().await.expect("recording");
    let mut sent = String::new();
    for r in &received {
        writeln!(
            sent,
            "{} {:?} {}",
            r.url,
            r.headers,
            String::from_utf8_lossy(&r.body)
        )
        .expect("a string never fails");
    }
    for (place, secret) in &s.0 {
        let response_side = ["r_", "j_", "e_", "c_", "g_", "m_", "u_"]
            .iter()
            .any(|prefix| place.starts_with(prefix));
        if !response_side {
            assert!(sent.contains(secret.as_str()), "{place} was never sent");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn no_secret_reaches_logs_errors_hooks_or_mappers_with_bodies_captured() {
    let (logs, shown, s, server) = run_everything(
        BodyCapture::default()
            .request(true)
            .response(true)
            .on_success(true),
    )
    .await;
    assert_no_secret(&logs, &shown, &s);
    assert_sent(&server, &s).await;
    // Not vacuous: every kind of line was written, masks included, and what is not
    // secret shows.
    for expected in [
        "call succeeded",
        "retry scheduled",
        "gave up",
        "http.response.headers",
        "http.request.body",
        "http.response.body",
        "/botREDACTED/sendMessage",
        "/services/T000/B000/REDACTED",
        "/basic-auth/user/REDACTED",
        "/hooks/REDACTED/fire",
        "partner_ref=REDACTED",
        "token%5B%5D=REDACTED",
        "Grace Hopper",
        "ada-lovelace",
        "note=hello",
        "[redacted]",
        "x-partner-ref",
    ] {
        assert!(logs.contains(expected), "{expected} missing from the logs");
    }
    for expected in [
        "on_give_up",
        "on_permanent",
        "timed out",
        "`iban`",
        "[redacted]",
    ] {
        assert!(shown.contains(expected), "{expected} missing:\n{shown}");
    }
}

#[tokio::test(start_paused = true)]
async fn no_secret_reaches_logs_errors_hooks_or_mappers_without_bodies() {
    let (logs, shown, s, server) = run_everything(BodyCapture::default()).await;
    assert_no_secret(&logs, &shown, &s);
    assert_sent(&server, &s).await;
    assert!(!logs.contains("http.request.body"));
    for expected in ["call succeeded", "gave up", "/botREDACTED/sendMessage"] {
        assert!(logs.contains(expected), "{expected} missing from the logs");
    }
}

/// Two calls the API refuses, through a client with `provider`, TRACE logs, bodies and
/// hooks; then, for a file provider, one more after the file vanished.
async fn calls_refused_with(
    server: &MockServer,
    provider: steadfast::credentials::SharedCredentials,
    shown: &Shown,
    vanishing: Option<&std::path::Path>,
) {
    let builder = Client::builder()
        .retry(
            RetryConfig::default()
                .max_retries(1)
                .base_delay(Duration::from_millis(5))
                .jitter(Jitter::None)
                .without_budget(),
        )
        .log(LogConfig::default().bodies(BodyCapture::default().request(true).response(true)))
        .on_give_up(hook(shown, "on_give_up"))
        .on_permanent(hook(shown, "on_permanent"))
        .shared_credentials(provider);
    shown.push(&format!("{builder:?}"));
    let client = builder.build(http()).expect("valid");
    for _ in 0..2 {
        let error = client
            .post(format!("{}/invoices", server.uri()))
            .json(&json!({ "customer": "c-42" }))
            .send()
            .await
            .expect_err("refused");
        shown.push(&everything_shown(&error));
    }
    if let Some(file) = vanishing {
        std::fs::remove_file(file).expect("remove");
        let error = client
            .get(format!("{}/invoices", server.uri()))
            .send()
            .await
            .expect_err("still refused, with the last good key");
        shown.push(&everything_shown(&error));
    }
}

/// A token endpoint handing out `token_1` then `token_2`, one refusing the client while
/// echoing its secret, and an API answering 401 to everything.
async fn credentials_server(secrets: &Secrets) -> (MockServer, Arc<Mutex<u32>>) {
    let server = MockServer::start().await;
    let (token_1, token_2) = (
        secrets.get("token_1").to_owned(),
        secrets.get("token_2").to_owned(),
    );
    let issued = Arc::new(Mutex::new(0_u32));
    let counter = Arc::clone(&issued);
    Mock::given(wiremock::matchers::path("/oauth2/token"))
        .respond_with(move |_: &Request| {
            let mut n = counter.lock().expect("not poisoned");
            *n += 1;
            let token = if *n == 1 { &token_1 } else { &token_2 };
            ResponseTemplate::new(200).set_body_json(json!({
                "access_token": token, "token_type": "Bearer", "expires_in": 3600,
            }))
        })
        .mount(&server)
        .await;
    let echoed = secrets.get("client_secret").to_owned();
    Mock::given(wiremock::matchers::path("/refusing/token"))
        .respond_with(move |_: &Request| {
            ResponseTemplate::new(400).set_body_json(json!({
                "error": format!("invalid_client {echoed}"),
                "error_description": format!("secret {echoed} is wrong"),
            }))
        })
        .mount(&server)
        .await;
    // The API refuses everything: every path ends in a 401.
    Mock::given(wiremock::matchers::path("/invoices"))
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header("www-authenticate", "Bearer error=\"invalid_token\""),
        )
        .mount(&server)
        .await;

    (server, issued)
}

/// Credentials (issue 16): a client secret, access tokens, an environment value, a file's
/// key and a query credential go through every path of the credentials layer (a token
/// fetched, refused by the API, refreshed, refused again; an endpoint refusal echoing the
/// secret; a file that vanishes; a variable the API refuses) with TRACE JSON logs and body
/// capture on. None may reach a log, an error, a hook or a `Debug`.
#[tokio::test]
async fn no_credential_reaches_logs_errors_hooks_or_debug() {
    use secrecy::SecretString;
    use steadfast::credentials::{
        CredentialsConfig, EnvCredentials, FileCredentials, OAuth2Credentials,
    };

    let secrets = Secrets(vec![
        ("client_secret", "zQcsx91client".to_owned()),
        ("token_1", "zQtk1x77token".to_owned()),
        ("token_2", "zQtk2x78token".to_owned()),
        ("env_value", "zQenvx55value".to_owned()),
        ("file_value", "zQfilex33value".to_owned()),
        ("query_value", "zQqryx21value".to_owned()),
    ]);
    let (capture, buffer, _guard) = capture_json();
    let shown = Shown::default();
    let (server, issued) = credentials_server(&secrets).await;

    let oauth2 = |at: &str| {
        OAuth2Credentials::new(
            http(),
            format!("{}/{at}/token", server.uri())
                .parse()
                .expect("valid"),
            "billing-sync",
            SecretString::from(secrets.get("client_secret")),
        )
    };
    let dir = std::env::temp_dir().join(format!("steadfast-secrets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("api-key");
    std::fs::write(&file, secrets.get("file_value")).expect("write");
    let env_value = secrets.get("env_value").to_owned();
    let query_value = secrets.get("query_value").to_owned();
    let providers: Vec<(&str, steadfast::credentials::SharedCredentials)> = vec![
        ("oauth2", Arc::new(oauth2("oauth2"))),
        ("refusing", Arc::new(oauth2("refusing"))),
        (
            "env",
            Arc::new(
                EnvCredentials::header("CRM_TOKEN", "authorization")
                    .expect("valid")
                    .prefix("Bearer ")
                    .resend_on_unauthorized(true)
                    .lookup(move |_| Some(env_value.clone())),
            ),
        ),
        (
            "file",
            Arc::new(
                FileCredentials::header(&file, "x-api-key")
                    .expect("valid")
                    .recheck(Duration::ZERO),
            ),
        ),
        (
            "query",
            Arc::new(
                EnvCredentials::query("CRM_KEY", "api_key")
                    .lookup(move |_| Some(query_value.clone())),
            ),
        ),
    ];
    let debug = FileCredentials::header(&file, "x-api-key").expect("valid");
    shown.push(&format!("{:?} {debug:?}", oauth2("oauth2")));
    for (name, provider) in providers {
        let vanishing = (name == "file").then_some(file.as_path());
        calls_refused_with(&server, provider, &shown, vanishing).await;
    }
    let config: CredentialsConfig = serde_json::from_value(json!({ "oauth2": {
        "token_url": format!("{}/oauth2/token", server.uri()),
        "client_id": "billing-sync",
        "client_secret_env": "BILLING_CLIENT_SECRET",
    }}))
    .expect("valid");
    shown.push(&format!("{config:?}"));
    let credential =
        steadfast::credentials::Credential::bearer(secrets.get("token_1")).expect("valid");
    shown.push(&format!("{credential:?}"));

    // The secrets were really sent where the API sees them, and a token was refreshed.
    let received = server.received_requests().await.expect("recording");
    let sent: Vec<_> = received
        .iter()
        .map(|r| format!("{} {:?}", r.url, r.headers))
        .collect();
    let sent = sent.join("\n");
    for place in [
        "token_1",
        "token_2",
        "env_value",
        "file_value",
        "query_value",
    ] {
        assert!(sent.contains(secrets.get(place)), "{place} was never sent");
    }
    assert!(*issued.lock().expect("not poisoned") >= 2);
    let _ = std::fs::remove_dir_all(&dir);
    assert_no_secret(&all_output(&capture, &buffer), &shown.text(), &secrets);
}
