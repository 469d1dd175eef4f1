//! Run with: `cargo run --example credentials`
//!
//! Credentials that rotate while the program runs, with no failed call:
//!
//! 1. A CRM API key mounted as a file (as a Kubernetes secret or a Vault agent writes it) is
//!    rotated half-way through: the operator replaces the file and the CRM accepts only the
//!    new key from that moment. The next call is answered 401, the client looks at the file
//!    at once, and sends that call again with the new key.
//! 2. A billing API behind OAuth 2.0 client credentials whose tokens live two seconds: one
//!    token request per expiry, not per call, shared by every call.
//!
//! Both APIs and the token endpoint run in this process on 127.0.0.1.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use secrecy::SecretString;
use steadfast::Client;
use steadfast::credentials::{FileCredentials, OAuth2Credentials};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    rotated_api_key().await?;
    println!();
    refreshed_oauth2_token().await
}

/// Part 1: an API key in a file, rotated while calls go on.
async fn rotated_api_key() -> Result<(), Box<dyn std::error::Error>> {
    let secrets = std::env::temp_dir().join(format!("steadfast-example-{}", std::process::id()));
    std::fs::create_dir_all(&secrets)?;
    let key_file = secrets.join("crm-api-key");
    write_atomically(&key_file, "crm-key-version-1\n")?;
    let crm = CrmApi::start("crm-key-version-1").await;

    // Looks at the file at most every 5 s, and at once on a 401.
    let key = FileCredentials::header(&key_file, "x-api-key")?.recheck(Duration::from_secs(5));
    let client = Client::builder()
        .credentials(key)
        .build(reqwest::Client::new())?;

    println!("1. CRM API key from {}", key_file.display());
    for customer in 1..=8 {
        if customer == 5 {
            // The operator rotates the key: a new file, and the old key revoked at once.
            write_atomically(&key_file, "crm-key-version-2\n")?;
            crm.accept_only("crm-key-version-2");
            println!("   -- key rotated in the file and at the CRM --");
        }
        let response = client
            .get(format!("{}/customers/{customer}", crm.server.uri()))
            .send()
            .await?
            .error_for_status()?;
        let body: serde_json::Value = response.json().await?;
        println!(
            "   customer {customer}: 200, accepted with key version {}",
            body["key_version"].as_str().unwrap_or("?")
        );
    }
    println!(
        "   {} attempt(s) answered 401 and sent again with the new key; no call failed",
        crm.rejected.load(Ordering::SeqCst)
    );
    std::fs::remove_dir_all(&secrets)?;
    Ok(())
}

/// Replaces `file` the way secret mounts do: write aside, then rename over it.
fn write_atomically(file: &Path, content: &str) -> std::io::Result<()> {
    let aside: PathBuf = file.with_extension("new");
    std::fs::write(&aside, content)?;
    std::fs::rename(&aside, file)
}

/// A CRM that accepts one API key at a time.
struct CrmApi {
    server: MockServer,
    current: Arc<Mutex<String>>,
    rejected: Arc<AtomicU32>,
}

impl CrmApi {
    async fn start(key: &str) -> Self {
        let server = MockServer::start().await;
        let current = Arc::new(Mutex::new(key.to_owned()));
        let rejected = Arc::new(AtomicU32::new(0));
        let (accepted, refused) = (Arc::clone(&current), Arc::clone(&rejected));
        Mock::given(path_regex("^/customers/[0-9]+$"))
            .respond_with(move |request: &Request| {
                let sent = request
                    .headers
                    .get("x-api-key")
                    .and_then(|v| v.to_str().ok());
                let current = accepted.lock().expect("not poisoned").clone();
                if sent == Some(current.as_str()) {
                    let version = current.rsplit('-').next().unwrap_or_default().to_owned();
                    ResponseTemplate::new(200)
                        .set_body_json(serde_json::json!({ "key_version": version }))
                } else {
                    refused.fetch_add(1, Ordering::SeqCst);
                    ResponseTemplate::new(401)
                }
            })
            .mount(&server)
            .await;
        Self {
            server,
            current,
            rejected,
        }
    }

    fn accept_only(&self, key: &str) {
        key.clone_into(&mut self.current.lock().expect("not poisoned"));
    }
}

/// Part 2: OAuth 2.0 tokens that expire every two seconds.
async fn refreshed_oauth2_token() -> Result<(), Box<dyn std::error::Error>> {
    let auth = MockServer::start().await;
    let issued = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&issued);
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(move |_: &Request| {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "access_token": format!("token-{n}"),
                "token_type": "Bearer",
                "expires_in": 2,
            }))
        })
        .mount(&auth)
        .await;
    let billing = MockServer::start().await;
    Mock::given(path("/invoices"))
        .respond_with(|request: &Request| {
            let auth = request
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok());
            match auth.and_then(|a| a.strip_prefix("Bearer token-")) {
                Some(n) => {
                    ResponseTemplate::new(200).set_body_json(serde_json::json!({ "token": n }))
                }
                None => ResponseTemplate::new(401),
            }
        })
        .mount(&billing)
        .await;

    let http = reqwest::Client::new();
    // In production the secret comes from the environment or a file:
    // `OAuth2Credentials::secret_from_env(.., "BILLING_CLIENT_SECRET")`, or
    // `credentials = { oauth2 = { .., client_secret_env = "BILLING_CLIENT_SECRET" } }`.
    let token = OAuth2Credentials::new(
        http.clone(),
        format!("{}/oauth2/token", auth.uri()).parse()?,
        "billing-sync",
        SecretString::from("example-client-secret"),
    )
    .scopes(["invoices:read"])
    // Replace a token one second before it expires.
    .refresh_margin(Duration::from_secs(1));
    let client = Client::builder().credentials(token).build(http)?;

    println!("2. billing API with OAuth 2.0 tokens that live 2 s");
    let calls = 16;
    for call in 1..=calls {
        let response = client
            .get(format!("{}/invoices", billing.uri()))
            .send()
            .await?
            .error_for_status()?;
        let body: serde_json::Value = response.json().await?;
        println!(
            "   call {call:>2}: 200 with token {}",
            body["token"].as_str().unwrap_or("?")
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "   {} token request(s) for {calls} calls: one per expiry",
        issued.load(Ordering::SeqCst)
    );
    Ok(())
}
