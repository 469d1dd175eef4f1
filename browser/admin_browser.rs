//! The admin page in a real browser: headless Chromium, driven through `chromedriver`,
//! opens the list, opens a letter, clicks Replay and sees it resolved; a screenshot is saved
//! to `target/admin-screenshot.png`.
//!
//! Ignored by default (it needs `chromium` and `chromium-driver`); `.ci/run` runs it:
//!
//! ```text
//! apt-get install chromium chromium-driver
//! STEADFAST_BROWSER_TEST=1 cargo test -p steadfast-browser-tests -- --ignored
//! ```
//!
//! It lives in its own package so that the WebDriver client and what it pulls in are never
//! built for `cargo test` or `cargo run --example …` in the steadfast package.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use fantoccini::{ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use steadfast::Client;
use steadfast::admin::{self, AdminConfig};
use steadfast::dead_letter::{LetterFilter, LetterState, MemorySink};
use steadfast::log::LogConfig;
use steadfast::redact::RedactConfig;
use steadfast::retry::RetryConfig;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const MOUNT: &str = "/ops/dead-letters";
/// How long the browser may take for one page (a busy machine is slow, never this slow).
const PAGE: Duration = Duration::from_secs(30);

/// A child process killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The first of `names` on the `PATH`.
fn on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

fn chromedriver() -> (Killed, u16) {
    let Some(driver) = std::env::var_os("CHROMEDRIVER")
        .map(PathBuf::from)
        .or_else(|| on_path(&["chromedriver"]))
    else {
        panic!(
            "STEADFAST_BROWSER_TEST is set but chromedriver is not on the PATH: install \
             Debian's `chromium` and `chromium-driver` (`apt-get install chromium \
             chromium-driver`; `bash .ci/run` does), or set CHROMEDRIVER to its path"
        );
    };
    let port = closed_port();
    let child = Command::new(&driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("could not start {}: {e}", driver.display()));
    let child = Killed(child);
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < PAGE, "chromedriver did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, port)
}

fn capabilities(profile: &std::path::Path) -> serde_json::Map<String, serde_json::Value> {
    let mut options = serde_json::json!({
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1024,900",
            format!("--user-data-dir={}", profile.display()),
        ],
    });
    if let Some(binary) = std::env::var_os("CHROME_BIN")
        .map(PathBuf::from)
        .or_else(|| on_path(&["chromium", "chromium-browser", "google-chrome"]))
    {
        options["binary"] = binary.display().to_string().into();
    }
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("goog:chromeOptions".into(), options);
    capabilities
}

/// A billing API that is down until `down` is cleared, a client whose failed calls land in
/// memory, and the admin page over them on a free port.
async fn app(down: Arc<AtomicBool>) -> (MockServer, Client, String) {
    let api = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(move |request: &Request| {
            if !down.load(Ordering::SeqCst) {
                return ResponseTemplate::new(201).set_body_string(r#"{"status":"created"}"#);
            }
            let status = if request.url.path() == "/charges" {
                500
            } else {
                503
            };
            ResponseTemplate::new(status).set_body_string(
                r#"{"error":"maintenance","detail":"<b>billing</b> is being upgraded"}"#,
            )
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
        .build(http())
        .expect("valid config");
    let uri = api.uri();
    for (customer, cents) in [("acme", 1999), ("globex", 4500)] {
        let invoice = serde_json::json!({ "customer": customer, "total_cents": cents });
        let _ = client
            .post(format!("{uri}/invoices"))
            .json(&invoice)
            .send()
            .await;
    }
    let _ = client
        .post(format!(
            "{uri}/hooks/whk_live_0123456789/deliveries?api_key=qk_live_query_key"
        ))
        .bearer_auth("sk_live_billing_token")
        .json(&serde_json::json!({ "event": "invoice.created" }))
        .send()
        .await;
    let _ = client
        .post(format!("{uri}/charges"))
        .json(&serde_json::json!({ "customer": "acme", "amount_cents": 1999 }))
        .send()
        .await;
    let letters = client.dead_letters().expect("dead letters are on");
    let page = axum::Router::new().nest(
        MOUNT,
        admin::router(
            letters,
            AdminConfig::default().title("Billing sync: dead letters"),
        )
        .expect("valid admin config"),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}{MOUNT}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, page).await });
    (api, client, url)
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs chromium and chromium-driver: STEADFAST_BROWSER_TEST=1 cargo test --features admin --test admin_browser -- --ignored"]
async fn a_browser_lists_opens_and_replays_a_letter() {
    if std::env::var_os("STEADFAST_BROWSER_TEST").is_none() {
        eprintln!("skipped: set STEADFAST_BROWSER_TEST=1 to run the browser test");
        return;
    }
    let (_driver, port) = chromedriver();
    let down = Arc::new(AtomicBool::new(true));
    let (api, client, url) = app(Arc::clone(&down)).await;
    let letters = client.dead_letters().expect("on");
    let pending = letters
        .list(&LetterFilter::default())
        .await
        .expect("memory");
    assert_eq!(pending.len(), 4, "{pending:?}");
    down.store(false, Ordering::SeqCst);

    let profile =
        std::env::temp_dir().join(format!("steadfast-chromium-{}-{port}", std::process::id()));
    let browser = ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities(&profile))
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a Chromium session (is `chromium` installed?)");

    let result = async {
        browser.goto(&url).await?;
        let table = browser
            .wait()
            .at_most(PAGE)
            .for_element(Locator::Css("table.letters"))
            .await?;
        let listed = table.text().await?;
        assert!(listed.contains("/invoices"), "{listed}");
        assert!(listed.contains("/hooks/REDACTED/deliveries"), "{listed}");
        let tabs = browser.find(Locator::Css("nav.tabs")).await?.text().await?;
        assert!(tabs.contains("pending (4)"), "{tabs}");

        // The oldest letter: the first invoice.
        let links = browser
            .find_all(Locator::Css("table.letters td.url a"))
            .await?;
        links.last().expect("a letter").click().await?;
        let replay = browser
            .wait()
            .at_most(PAGE)
            .for_element(Locator::Css("button[value=replay]"))
            .await?;
        let state = browser.find(Locator::Id("state")).await?.text().await?;
        assert_eq!(state, "pending");
        replay.click().await?;
        browser
            .wait()
            .at_most(PAGE)
            .for_element(Locator::Css("p.notice"))
            .await?;
        let state = browser.find(Locator::Id("state")).await?.text().await?;
        let notice = browser.find(Locator::Css("p.notice")).await?.text().await?;
        let shown = browser.source().await?;
        let png = browser.screenshot().await?;
        Ok::<_, fantoccini::error::CmdError>((state, notice, shown, png))
    }
    .await;
    let _ = browser.close().await;
    let _ = std::fs::remove_dir_all(&profile);
    let (state, notice, shown, png) = result.expect("the browser session");

    assert_eq!(state, "resolved", "{notice}");
    assert!(notice.contains("resolved"), "{notice}");
    for secret in [
        "sk_live_billing_token",
        "qk_live_query_key",
        "whk_live_0123456789",
    ] {
        assert!(!shown.contains(secret), "{secret} shown");
    }
    let resolved = letters
        .list(&LetterFilter::default().state("resolved"))
        .await
        .expect("memory");
    assert_eq!(resolved.len(), 1);
    assert!(matches!(resolved[0].state, LetterState::Resolved));
    let requests = api.received_requests().await.expect("recorded");
    let last = requests.last().expect("the replay");
    assert_eq!(
        last.headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok()),
        resolved[0].idempotency_key.as_deref(),
        "the replay carried the original key"
    );

    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    );
    let screenshot = target.join("admin-screenshot.png");
    std::fs::write(&screenshot, &png).expect("write the screenshot");
    println!("screenshot: {}", screenshot.display());
}

/// A loopback port with nothing listening on it.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.local_addr().expect("local addr").port()
}

/// A plain reqwest client for the calls that make letters.
fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_idle_timeout(None)
        .build()
        .expect("a plain HTTP client builds")
}
