//! The dead-letter admin page over HTTP: list, filters, counts, one letter, replay, discard
//! and confirm from its forms and its JSON API, CSRF refusals, escaping of what servers sent,
//! and no secret on any page. The page is mounted where an application would mount it.
#![cfg(feature = "admin")]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::redirect::Policy;
use steadfast::Client;
use steadfast::admin::{self, AdminConfig};
use steadfast::dead_letter::{DeadLetter, DeadLetters, LetterFilter, LetterState, MemorySink};
use steadfast::log::LogConfig;
use steadfast::redact::RedactConfig;
use steadfast::retry::RetryConfig;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const MOUNT: &str = "/ops/dead-letters";

/// Values that must never appear on a page.
const SECRETS: &[&str] = &[
    "bearer-secret-456",
    "qs-secret-123",
    "hooksecret789",
    "apikey-secret-000",
    "body-password-321",
];

/// What the billing API answers while it is down: hostile markup in a header and the body.
const HOSTILE_BODY: &str = r#"<script>alert("body")</script>"#;
const HOSTILE_HEADER: &str = "<img src=x onerror=alert(1)>";

struct Fixture {
    api: MockServer,
    down: Arc<AtomicBool>,
    client: Client,
    letters: DeadLetters,
    /// The page's URL: `http://127.0.0.1:PORT/ops/dead-letters`.
    page: String,
    origin: String,
    http: reqwest::Client,
}

impl Fixture {
    async fn start(config: AdminConfig) -> Self {
        let down = Arc::new(AtomicBool::new(true));
        let api = MockServer::start().await;
        let is_down = Arc::clone(&down);
        Mock::given(wiremock::matchers::any())
            .respond_with(move |request: &Request| {
                if !is_down.load(Ordering::SeqCst) {
                    return ResponseTemplate::new(201).set_body_string(r#"{"id":"inv_1"}"#);
                }
                // A charge may have been made before the 500: its outcome is unknown.
                let status = if request.url.path() == "/charges" {
                    500
                } else {
                    503
                };
                ResponseTemplate::new(status)
                    .insert_header("x-debug", HOSTILE_HEADER)
                    .set_body_string(HOSTILE_BODY)
            })
            .mount(&api)
            .await;
        let client = Client::builder()
            .retry(
                RetryConfig::default()
                    .max_retries(2)
                    .base_delay(Duration::from_millis(1))
                    .max_delay(Duration::from_millis(2))
                    .without_budget(),
            )
            .log(LogConfig::default().redact(RedactConfig::default().path("/hooks/{secret}")))
            .dead_letter_sink(MemorySink::default())
            .build(common::http())
            .expect("valid config");
        let letters = client.dead_letters().expect("dead letters are on");
        let app = axum::Router::new().nest(
            MOUNT,
            admin::router(letters.clone(), config).expect("valid admin config"),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            api,
            down,
            client,
            letters,
            page: format!("http://{address}{MOUNT}"),
            origin: format!("http://{address}"),
            http: reqwest::Client::builder()
                .redirect(Policy::none())
                .build()
                .expect("client"),
        }
    }

    /// Five failed calls, newest last: a plain POST, one to `localhost`, one carrying
    /// credentials, one to a token path, and a charge whose outcome is unknown.
    async fn seeded(config: AdminConfig) -> (Self, Vec<DeadLetter>) {
        let fixture = Self::start(config).await;
        let api = fixture.api.uri();
        let port = fixture.api.address().port();
        let c = &fixture.client;
        let invoice = serde_json::json!({ "customer": "acme", "total_cents": 1999 });
        c.post(format!("{api}/invoices"))
            .json(&invoice)
            .send()
            .await
            .expect_err("503");
        c.post(format!("http://localhost:{port}/invoices"))
            .json(&invoice)
            .send()
            .await
            .expect_err("503");
        c.post(format!("{api}/invoices?api_key=qs-secret-123&page=2"))
            .bearer_auth("bearer-secret-456")
            .header("X-Api-Key", "apikey-secret-000")
            .header("X-Request-Source", "<b onmouseover=alert(3)>nightly</b>")
            .json(&serde_json::json!({ "customer": "acme", "password": "body-password-321" }))
            .send()
            .await
            .expect_err("503");
        c.post(format!("{api}/hooks/hooksecret789/events"))
            .body("event=invoice.failed")
            .send()
            .await
            .expect_err("503");
        c.post(format!("{api}/charges"))
            .json(&serde_json::json!({ "amount": 1999 }))
            .send()
            .await
            .expect_err("500");
        let mut letters = fixture
            .letters
            .list(&LetterFilter::default())
            .await
            .expect("memory");
        letters.reverse();
        assert_eq!(letters.len(), 5, "{letters:?}");
        (fixture, letters)
    }

    async fn get(&self, path_and_query: &str) -> (StatusCode, String) {
        let response = self
            .http
            .get(format!("{}{path_and_query}", self.page))
            .send()
            .await
            .expect("the page answers");
        let status = response.status();
        (status, response.text().await.expect("a body"))
    }

    async fn json(&self, path_and_query: &str) -> serde_json::Value {
        let (status, body) = self.get(path_and_query).await;
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).expect("JSON")
    }

    /// The CSRF token in a letter's page.
    async fn token(&self, letter: &DeadLetter) -> String {
        let (_, page) = self.get(&format!("/letters/{}", letter.id)).await;
        let start = page.find(r#"name="csrf" value=""#).expect("a token") + 19;
        let end = start + page[start..].find('"').expect("closed");
        page[start..end].to_owned()
    }

    /// POSTs a letter's form as a browser would (with its `Origin`).
    async fn post_form(
        &self,
        letter: &DeadLetter,
        action: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        self.http
            .post(format!("{}/letters/{}/{action}", self.page, letter.id))
            .header("Origin", &self.origin)
            .form(form)
            .send()
            .await
            .expect("answers")
    }

    async fn stored(&self, letter: &DeadLetter) -> DeadLetter {
        self.letters
            .get(letter.id)
            .await
            .expect("memory")
            .expect("kept")
    }

    async fn sent(&self) -> usize {
        common::received(&self.api).await
    }
}

fn ids_in(page: &str, letters: &[DeadLetter]) -> Vec<usize> {
    letters
        .iter()
        .enumerate()
        .filter(|(_, l)| page.contains(&l.id.to_string()))
        .map(|(i, _)| i)
        .collect()
}

#[tokio::test]
async fn the_list_shows_every_letter_with_counts_and_links_under_the_mount() {
    let (fixture, letters) = Fixture::seeded(AdminConfig::default()).await;
    let response = fixture
        .http
        .get(&fixture.page)
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    let page = response.text().await.expect("body");
    assert!(
        headers["content-type"]
            .to_str()
            .expect("text")
            .starts_with("text/html")
    );
    assert!(
        headers["content-security-policy"]
            .to_str()
            .expect("text")
            .contains("default-src 'none'")
    );
    assert_eq!(headers["x-frame-options"], "DENY");
    assert!(
        page.contains(r#"<meta name="viewport""#),
        "readable on a phone"
    );
    assert!(!page.contains("<script"), "no script at all");
    assert_eq!(ids_in(&page, &letters), [0, 1, 2, 3, 4]);
    assert!(
        page.contains(&format!("href=\"{MOUNT}/letters/{}\"", letters[0].id)),
        "{page}"
    );
    assert!(page.contains("pending (5)"), "{page}");
    assert!(page.contains("all (5)"), "{page}");
    assert!(page.contains("resolved (0)"), "{page}");
}

#[tokio::test]
async fn filters_narrow_the_list_and_the_json_api() {
    let (fixture, letters) = Fixture::seeded(AdminConfig::default()).await;
    let cases: &[(&str, &[usize])] = &[
        ("host=localhost", &[1]),
        ("host=127.0.0.1", &[0, 2, 3, 4]),
        ("outcome=unknown", &[4]),
        ("outcome=not_applied", &[0, 1, 2, 3]),
        ("status=500", &[4]),
        ("status=503&host=localhost", &[1]),
        ("state=pending", &[0, 1, 2, 3, 4]),
        ("state=resolved", &[]),
        ("since=2100-01-01T00:00", &[]),
        ("until=2000-01-01T00:00:00Z", &[]),
        (
            "since=2000-01-01T00:00&host=&state=&outcome=&status=",
            &[0, 1, 2, 3, 4],
        ),
    ];
    for (query, expected) in cases {
        let (status, page) = fixture.get(&format!("?{query}")).await;
        assert_eq!(status, 200, "{query}: {page}");
        assert_eq!(ids_in(&page, &letters), *expected, "{query}");
        let json = fixture.json(&format!("/api/letters?{query}")).await;
        let listed = json["letters"].as_array().expect("letters").len();
        assert_eq!(listed, expected.len(), "{query}: {json}");
    }
    // Counts per state ignore the state filter, so the tabs still tell.
    let json = fixture.json("/api/letters?state=resolved").await;
    assert_eq!(json["counts"]["by_state"]["pending"], 5, "{json}");
    assert_eq!(json["counts"]["by_outcome"]["unknown"], 1, "{json}");
    let (_, page) = fixture.get("?host=localhost").await;
    assert!(page.contains("pending (1)"), "{page}");

    for bad in [
        "state=gone",
        "outcome=applied",
        "status=abc",
        "since=yesterday",
        "page=x",
    ] {
        let (status, _) = fixture.get(&format!("?{bad}")).await;
        assert_eq!(status, 400, "{bad}");
    }
}

#[tokio::test]
async fn lists_are_paged_and_bounded() {
    let config = AdminConfig::default().page_size(2).max_page(3);
    let (fixture, letters) = Fixture::seeded(config).await;
    let (_, first) = fixture.get("").await;
    assert_eq!(ids_in(&first, &letters), [3, 4], "newest first");
    assert!(first.contains("?page=1"), "a link to older letters");
    let (_, second) = fixture.get("?page=1").await;
    assert_eq!(ids_in(&second, &letters), [1, 2]);
    let (_, third) = fixture.get("?page=2").await;
    assert_eq!(ids_in(&third, &letters), [0]);
    assert!(!third.contains("rel=\"next\""), "the last page");
    let (status, _) = fixture.get("?page=3").await;
    assert_eq!(status, 400, "beyond max_page");

    let json = fixture.json("/api/letters?page=1").await;
    assert_eq!(json["letters"].as_array().expect("letters").len(), 2);
    assert_eq!(json["next_page"], 2);
    assert!(fixture.json("/api/letters?page=2").await["next_page"].is_null());

    assert!(admin::router(fixture.letters.clone(), AdminConfig::default().page_size(0)).is_err());
}

#[tokio::test]
async fn a_letter_shows_its_request_response_attempts_and_actions() {
    let (fixture, letters) = Fixture::seeded(AdminConfig::default().preview_bytes(20)).await;
    let letter = &letters[0];
    let (status, page) = fixture.get(&format!("/letters/{}", letter.id)).await;
    assert_eq!(status, 200);
    let key = letter.idempotency_key.as_deref().expect("a POST has a key");
    for expected in [
        "POST",
        "/invoices",
        key,
        "pending",
        "not applied",
        "<b>503</b>",
        "content-type",
        "more bytes)", // the bodies cut at 20 bytes
        ">Replay</button>",
        ">Discard</button>",
        r#"name="reason""#,
    ] {
        assert!(page.contains(expected), "{expected} missing: {page}");
    }
    assert_eq!(
        page.matches(r#"<li class="attempt">"#).count(),
        3,
        "three attempts"
    );
    assert!(
        !page.contains("I checked"),
        "a not-applied letter needs no confirmation"
    );

    let json = fixture.json(&format!("/api/letters/{}", letter.id)).await;
    assert_eq!(json["letter"]["idempotency_key"], key);
    assert_eq!(
        json["letter"]["attempts"]
            .as_array()
            .expect("attempts")
            .len(),
        3
    );
    assert_eq!(json["replayable"], true);

    let (status, _) = fixture.get("/letters/not-a-letter").await;
    assert_eq!(status, 404);
    let (status, _) = fixture
        .get(&format!(
            "/letters/{}",
            steadfast::dead_letter::LetterId::new()
        ))
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn replay_from_the_page_resolves_the_letter_with_its_original_key() {
    let (fixture, letters) = Fixture::seeded(AdminConfig::default()).await;
    let letter = &letters[0];
    let token = fixture.token(letter).await;
    fixture.down.store(false, Ordering::SeqCst);
    let before = fixture.sent().await;

    let response = fixture
        .post_form(letter, "replay", &[("csrf", &token)])
        .await;
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"]
        .to_str()
        .expect("text")
        .to_owned();
    assert_eq!(
        location,
        format!("{MOUNT}/letters/{}?done=resolved", letter.id)
    );
    assert_eq!(fixture.stored(letter).await.state, LetterState::Resolved);

    let requests = fixture.api.received_requests().await.expect("recorded");
    assert_eq!(requests.len(), before + 1, "one replay sent");
    let replayed = requests.last().expect("the replay");
    assert_eq!(replayed.url.path(), "/invoices");
    assert_eq!(
        replayed
            .headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok()),
        letter.idempotency_key.as_deref(),
        "the original key"
    );

    let (_, page) = fixture
        .get(&format!("/letters/{}?done=resolved", letter.id))
        .await;
    assert!(page.contains("The letter is resolved."), "{page}");
    assert!(page.contains(r#"id="state">resolved<"#), "{page}");
    assert!(!page.contains(">Replay</button>"), "nothing left to do");

    // Twice: nothing sent again.
    let again = fixture
        .post_form(letter, "replay", &[("csrf", &token)])
        .await;
    assert_eq!(again.status(), 303);
    assert_eq!(fixture.sent().await, before + 1);
}

#[tokio::test]
async fn discard_needs_a_reason_and_records_it() {
    let (fixture, letters) = Fixture::seeded(AdminConfig::default()).await;
    let letter = &letters[1];
    let token = fixture.token(letter).await;

    let refused = fixture
        .post_form(letter, "discard", &[("csrf", &token), ("reason", "  ")])
        .await;
    assert!(
        refused.headers()["location"]
            .to_str()
            .expect("text")
            .ends_with("?done=reason")
    );
    assert_eq!(fixture.stored(letter).await.state, LetterState::Pending);

    let reason = "duplicate of INV-1042 <already paid>";
    let done = fixture
        .post_form(letter, "discard", &[("csrf", &token), ("reason", reason)])
        .await;
    assert!(
        done.headers()["location"]
            .to_str()
            .expect("text")
            .ends_with("?done=discarded")
    );
    assert_eq!(
        fixture.stored(letter).await.state,
        LetterState::Discarded {
            reason: reason.to_owned()
        }
    );
    let (_, page) = fixture.get(&format!("/letters/{}", letter.id)).await;
    assert!(
        page.contains("discarded: duplicate of INV-1042 &lt;already paid&gt;"),
        "{page}"
    );
    let (_, list) = fixture.get("?state=discarded").await;
    assert_eq!(ids_in(&list, &letters), [1]);
}

#[tokio::test]
async fn an_unknown_letter_is_replayed_only_after_a_person_confirms_it() {
    let (fixture, letters) = Fixture::seeded(AdminConfig::default()).await;
    let charge = &letters[4];
    let (_, page) = fixture.get(&format!("/letters/{}", charge.id)).await;
    assert!(page.contains("I checked: not applied"), "{page}");
    let token = fixture.token(charge).await;
    fixture.down.store(false, Ordering::SeqCst);
    let before = fixture.sent().await;

    let refused = fixture
        .post_form(charge, "replay", &[("csrf", &token)])
        .await;
    assert!(
        refused.headers()["location"]
            .to_str()
            .expect("text")
            .ends_with("?done=unknown")
    );
    assert_eq!(fixture.sent().await, before, "nothing sent");

    let confirmed = fixture
        .post_form(charge, "confirm", &[("csrf", &token)])
        .await;
    assert!(
        confirmed.headers()["location"]
            .to_str()
            .expect("text")
            .ends_with("?done=confirmed")
    );
    assert!(fixture.stored(charge).await.confirmed_not_applied);
    let replayed = fixture
        .post_form(charge, "replay", &[("csrf", &token)])
        .await;
    assert!(
        replayed.headers()["location"]
            .to_str()
            .expect("text")
            .ends_with("?done=resolved")
    );
    assert_eq!(fixture.sent().await, before + 1);
}

/// POSTs the CSRF checks refuse: no, empty, forged token; another origin or referer; the
/// API without its header.
fn refused_posts<'a>(
    fixture: &Fixture,
    letter: &DeadLetter,
    token: &'a str,
    forged: &'a str,
) -> Vec<(&'static str, reqwest::RequestBuilder)> {
    let url = format!("{}/letters/{}/replay", fixture.page, letter.id);
    vec![
        (
            "no token",
            fixture
                .http
                .post(&url)
                .header("Origin", &fixture.origin)
                .form(&[("x", "1")]),
        ),
        (
            "no body",
            fixture.http.post(&url).header("Origin", &fixture.origin),
        ),
        ("empty token", fixture.http.post(&url).form(&[("csrf", "")])),
        (
            "forged token",
            fixture.http.post(&url).form(&[("csrf", forged)]),
        ),
        (
            "another origin",
            fixture
                .http
                .post(&url)
                .header("Origin", "https://evil.example")
                .form(&[("csrf", token)]),
        ),
        (
            "another referer",
            fixture
                .http
                .post(&url)
                .header("Referer", "https://evil.example/x")
                .form(&[("csrf", token)]),
        ),
        (
            "null origin",
            fixture
                .http
                .post(&url)
                .header("Origin", "null")
                .form(&[("csrf", token)]),
        ),
        (
            "api without header",
            fixture
                .http
                .post(format!("{}/api/letters/{}/replay", fixture.page, letter.id)),
        ),
        (
            "api with a wrong header",
            fixture
                .http
                .post(format!("{}/api/letters/{}/replay", fixture.page, letter.id))
                .header("X-CSRF-Token", forged),
        ),
        (
            "api discard without header",
            fixture
                .http
                .post(format!(
                    "{}/api/letters/{}/discard",
                    fixture.page, letter.id
                ))
                .json(&serde_json::json!({"reason": "x"})),
        ),
    ]
}

#[tokio::test]
async fn a_post_without_a_valid_token_or_from_another_origin_gets_403_and_does_nothing() {
    let (fixture, letters) = Fixture::seeded(AdminConfig::default()).await;
    let letter = &letters[0];
    let token = fixture.token(letter).await;
    fixture.down.store(false, Ordering::SeqCst);
    let before = fixture.sent().await;
    // A token another router signed (another key).
    let other = Fixture::start(AdminConfig::default()).await;
    let mut forged = token.clone().into_bytes();
    forged[10] = if forged[10] == b'a' { b'b' } else { b'a' };
    let forged = String::from_utf8(forged).expect("hex");

    let attempts = refused_posts(&fixture, letter, &token, &forged);
    for (what, request) in attempts {
        let response = request.send().await.expect("answers");
        assert_eq!(response.status(), 403, "{what}");
        assert_eq!(
            response.text().await.expect("body"),
            "forbidden",
            "no detail: {what}"
        );
    }
    // The other router's token, on this one.
    let other_token: serde_json::Value = other
        .http
        .get(format!("{}/api/token", other.page))
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON");
    let response = fixture
        .post_form(
            letter,
            "replay",
            &[("csrf", other_token["token"].as_str().expect("token"))],
        )
        .await;
    assert_eq!(response.status(), 403, "another router's token");

    assert_eq!(fixture.sent().await, before, "nothing replayed");
    assert_eq!(fixture.stored(letter).await.state, LetterState::Pending);
}

#[tokio::test]
async fn the_json_api_replays_and_discards_with_the_token_header() {
    let (fixture, letters) = Fixture::seeded(AdminConfig::default()).await;
    let token = fixture.json("/api/token").await;
    assert_eq!(token["header"], admin::CSRF_HEADER);
    let token = token["token"].as_str().expect("a token").to_owned();
    fixture.down.store(false, Ordering::SeqCst);

    let api = |id: &DeadLetter, action: &str| {
        fixture
            .http
            .post(format!("{}/api/letters/{}/{action}", fixture.page, id.id))
            .header(admin::CSRF_HEADER, &token)
    };
    let replayed: serde_json::Value = api(&letters[0], "replay")
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON");
    assert_eq!(replayed["result"], "resolved", "{replayed}");
    assert_eq!(
        replayed["letter"]["state"]["state"], "resolved",
        "{replayed}"
    );

    let refused = api(&letters[4], "replay").send().await.expect("answers");
    assert_eq!(refused.status(), 409);
    assert_eq!(
        refused.json::<serde_json::Value>().await.expect("JSON")["error"],
        "unknown"
    );

    let no_reason = api(&letters[1], "discard")
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("answers");
    assert_eq!(no_reason.status(), 400);
    let discarded: serde_json::Value = api(&letters[1], "discard")
        .json(&serde_json::json!({ "reason": "sent by hand" }))
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON");
    assert_eq!(discarded["result"], "discarded");
    assert_eq!(discarded["letter"]["state"]["reason"], "sent by hand");

    let missing = api(&letters[0], "nonsense").send().await.expect("answers");
    assert_eq!(missing.status(), 404);
    let (status, _) = fixture
        .get(&format!(
            "/api/letters/{}",
            steadfast::dead_letter::LetterId::new()
        ))
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn what_servers_and_callers_sent_is_escaped() {
    let (fixture, letters) = Fixture::seeded(AdminConfig::default()).await;
    let (_, page) = fixture.get(&format!("/letters/{}", letters[2].id)).await;
    assert!(!page.contains("<script"), "{page}");
    assert!(!page.contains("<img"), "{page}");
    assert!(!page.contains("<b onmouseover"), "{page}");
    assert!(
        page.contains("&lt;script&gt;alert(&quot;body&quot;)&lt;/script&gt;"),
        "{page}"
    );
    assert!(
        page.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{page}"
    );
    assert!(
        page.contains("&lt;b onmouseover=alert(3)&gt;nightly&lt;/b&gt;"),
        "{page}"
    );
    let (_, list) = fixture.get("?host=%3Cscript%3E").await;
    assert!(
        list.contains("value=\"&lt;script&gt;\""),
        "a filter's value is escaped too"
    );
    assert!(!list.contains("<script"), "{list}");
}

#[tokio::test]
async fn no_credential_or_secret_value_is_on_any_page() {
    let (fixture, letters) = Fixture::seeded(AdminConfig::default()).await;
    let mut shown = vec![fixture.get("").await.1, fixture.get("/api/letters").await.1];
    for letter in &letters {
        shown.push(fixture.get(&format!("/letters/{}", letter.id)).await.1);
        shown.push(fixture.get(&format!("/api/letters/{}", letter.id)).await.1);
    }
    // After a replay too (it appends attempts and the new state).
    fixture.down.store(false, Ordering::SeqCst);
    let token = fixture.token(&letters[2]).await;
    fixture
        .post_form(&letters[2], "replay", &[("csrf", &token)])
        .await;
    shown.push(fixture.get(&format!("/letters/{}", letters[2].id)).await.1);
    for page in &shown {
        for secret in SECRETS {
            assert!(!page.contains(secret), "{secret} shown: {page}");
        }
    }
    let everything = shown.join("\n");
    assert!(
        everything.contains("/hooks/REDACTED/events"),
        "the token path is masked"
    );
    assert!(
        everything.contains("api_key=REDACTED"),
        "the query secret is masked"
    );
    // The stored letter keeps what replay needs; only views redact it.
    let stored = fixture.stored(&letters[2]).await;
    assert!(stored.request.url.contains("qs-secret-123"));
}
