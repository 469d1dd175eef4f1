//! Run with: `cargo run --example config_profiles`
//!
//! Two APIs, a CRM and a billing API, configured from one TOML file: each profile has its
//! base URL, timeouts, retry rules and credentials. The CRM's API key is read from a file
//! (as a Kubernetes secret or a Vault agent mounts it) and rotated while the program runs;
//! billing takes OAuth 2.0 tokens from its token endpoint, refreshed before they expire.
//! Environment variables override the file (here given as pairs, the way `Profiles::load`
//! reads `STEADFAST_APIS__…` from the environment), and `Client::reload` changes the
//! settings of a running client for the calls that follow. Both APIs run in this process on
//! 127.0.0.1; the keys and the client secret are obvious fakes.

use std::time::Duration;

use steadfast::retry::RetryConfig;
use steadfast::{ClientConfig, Profiles};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (crm, billing) = (crm_api().await, billing_api().await);

    // What a deployment would ship as steadfast.toml; in production the file is named by
    // STEADFAST_CONFIG and read by `Client::from_profile("crm")`.
    let dir = std::env::temp_dir().join(format!("steadfast-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("steadfast.toml");
    let (api_key, client_secret) = (dir.join("crm-api-key"), dir.join("billing-client-secret"));
    std::fs::write(&api_key, "crm-key-november\n")?;
    std::fs::write(&client_secret, "not-a-real-secret\n")?;
    std::fs::write(
        &file,
        format!(
            r#"
[apis.crm]
base_url = "{crm}/api/v2"
attempt_timeout = "2s"
retry = {{ max_retries = 2, base_delay = "50ms" }}
credentials = {{ file = {{ path = '{api_key}', header = "x-api-key", recheck = "100ms" }} }}

[apis.billing]
base_url = "{billing}"
attempt_timeout = "5s"
retry = {{ max_retries = 0 }}

[apis.billing.credentials.oauth2]
token_url = "{billing}/oauth/token"
client_id = "billing-sync"
client_secret_file = '{client_secret}'
scopes = ["invoices:write"]
refresh_margin = "1s"
"#,
            crm = crm.uri(),
            billing = billing.uri(),
            api_key = api_key.display(),
            client_secret = client_secret.display(),
        ),
    )?;
    println!("configuration: {}", file.display());

    // The environment of this deployment lets billing retry: a variable wins over the file.
    let environment = [
        ("STEADFAST_APIS__BILLING__RETRY__MAX_RETRIES", "3"),
        ("STEADFAST_APIS__BILLING__RETRY__BASE_DELAY", "100ms"),
    ]
    .map(|(name, value)| (name.to_owned(), value.to_owned()));
    let profiles = Profiles::load_from(&file, environment)?;
    println!(
        "profiles: {}",
        profiles.names().collect::<Vec<_>>().join(", ")
    );

    let http = reqwest::Client::new();
    let crm_client = profiles.client("crm", http.clone())?;
    let billing_client = profiles.client("billing", http)?;

    // Relative URLs resolve against each profile's base URL.
    let contact: serde_json::Value = crm_client.get("contacts/42").send().await?.json().await?;
    println!("crm     GET contacts/42 -> {}", contact["name"]);

    let invoice = billing_client
        .post("invoices")
        .idempotency_key("invoice-2026-0042")
        .json(&serde_json::json!({ "contact": 42, "total_cents": 1999 }))
        .send()
        .await?;
    println!(
        "billing POST invoices -> {} after {} attempts (3 retries allowed by the environment)",
        invoice.status(),
        seen(&billing, "/invoices").await,
    );

    refresh_the_token(&billing_client, &billing).await?;
    rotate_the_key(&crm_client, &crm, &api_key).await?;

    // A report that takes 300 ms is fine under the CRM's 2 s attempt timeout...
    let report = crm_client.get("reports/daily").send().await?;
    println!(
        "crm     GET reports/daily -> {} (2 s attempt timeout)",
        report.status()
    );

    // ...until the operators tighten it; the reload needs no restart, and clones of the
    // client see it too. The budget, rate limits and ledger carry over.
    let tighter = profiles
        .config("crm")?
        .clone()
        .attempt_timeout(Duration::from_millis(100))
        .retry(RetryConfig::default().max_retries(0));
    crm_client.reload(&tighter)?;
    match crm_client.clone().get("reports/daily").send().await {
        Ok(response) => println!("crm     GET reports/daily -> {}", response.status()),
        Err(error) => println!("crm     GET reports/daily -> failed after the reload: {error}"),
    }

    // The base URL is a setting like the others: point the CRM client at another API.
    crm_client.reload(&ClientConfig::default().base_url(format!("{}/", billing.uri()).parse()?))?;
    let moved = crm_client.get("health").send().await?;
    println!(
        "crm     GET health -> {} from the billing API after a second reload",
        moved.status()
    );

    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// The token lives 2 s and is refreshed 1 s before it expires: one token request for the
/// calls within a second, a second one after.
async fn refresh_the_token(
    billing_client: &steadfast::Client,
    billing: &MockServer,
) -> Result<(), Box<dyn std::error::Error>> {
    for _ in 0..3 {
        billing_client.get("health").send().await?;
    }
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    billing_client.get("health").send().await?;
    println!(
        "billing 4 more calls -> {} token requests in all (one per token lifetime)",
        seen(billing, "/oauth/token").await,
    );
    Ok(())
}

/// The CRM's key is rotated: the new one is written to the mounted file, and the next
/// call after the recheck interval sends it, without a restart or a failed call.
async fn rotate_the_key(
    crm_client: &steadfast::Client,
    crm: &MockServer,
    api_key: &std::path::Path,
) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::write(api_key, "crm-key-december\n")?;
    tokio::time::sleep(Duration::from_millis(150)).await;
    crm_client.get("contacts/42").send().await?;
    let latest = crm.received_requests().await.unwrap_or_default();
    let sent = latest
        .last()
        .and_then(|r| r.headers.get("x-api-key"))
        .and_then(|v| v.to_str().ok())
        .map_or("no", |key| {
            if key.ends_with("december") {
                "the new"
            } else {
                "the old"
            }
        });
    println!("crm     GET contacts/42 after the rotation -> {sent} key was sent");
    Ok(())
}

/// How many requests `api` received on `route`.
async fn seen(api: &MockServer, route: &str) -> usize {
    let requests = api.received_requests().await.unwrap_or_default();
    requests.iter().filter(|r| r.url.path() == route).count()
}

/// A CRM with a contact and a slow report; it takes either of this year's two API keys.
async fn crm_api() -> MockServer {
    let api = MockServer::start().await;
    for key in ["crm-key-november", "crm-key-december"] {
        Mock::given(method("GET"))
            .and(path("/api/v2/contacts/42"))
            .and(header("x-api-key", key))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(serde_json::json!({ "id": 42, "name": "Ada Lovelace" })),
            )
            .mount(&api)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/api/v2/reports/daily"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(300)))
        .mount(&api)
        .await;
    api
}

/// A billing API that is unavailable twice before it creates the invoice, with its OAuth 2.0
/// token endpoint.
async fn billing_api() -> MockServer {
    let api = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": "demo-token", "token_type": "Bearer", "expires_in": 2
        })))
        .mount(&api)
        .await;
    Mock::given(method("POST"))
        .and(path("/invoices"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&api)
        .await;
    Mock::given(method("POST"))
        .and(path("/invoices"))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(serde_json::json!({ "id": "INV-1" })),
        )
        .with_priority(2)
        .mount(&api)
        .await;
    Mock::given(method("GET"))
        .and(path("/health"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&api)
        .await;
    api
}
