//! Configuration outside the code: files and `STEADFAST_*` variables layered over the
//! defaults, profiles per API with base URLs, and reloading a running client.

mod common;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::server::{Reply, Server};
use steadfast::breaker::{BulkheadConfig, CircuitBreakerConfig};
use steadfast::dead_letter::DeadLetterConfig;
use steadfast::rate_limit::{Quota, RateLimitConfig, RateLimitMode};
use steadfast::retry::{Jitter, RetryConfig};
use steadfast::{Client, ClientConfig, ConfigSource, Error, LoadError, Profiles};

/// A file with `contents` in a directory of this test's own.
fn file(name: &str, contents: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "steadfast-config-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write");
    path
}

fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn invalid(error: &LoadError) -> (&ConfigSource, Option<&str>) {
    match error {
        LoadError::Invalid { origin, key, .. } => (origin, key.as_deref()),
        other => panic!("not an invalid value: {other}"),
    }
}

// ---- loading and layering ----

#[test]
fn defaults_then_file_then_variables() {
    let path = file(
        "client.toml",
        r#"
        attempt_timeout = "5s"
        [retry]
        max_retries = 2
        base_delay = "100ms"
        "#,
    );
    let config = ClientConfig::load_from(
        &path,
        vars(&[("STEADFAST_RETRY__MAX_RETRIES", "7"), ("PATH", "/usr/bin")]),
    )
    .expect("loads");
    assert_eq!(
        config.retry.max_retries, 7,
        "the variable wins over the file"
    );
    assert_eq!(
        config.retry.base_delay,
        Duration::from_millis(100),
        "the file wins over the default"
    );
    assert_eq!(config.attempt_timeout, Some(Duration::from_secs(5)));
    let defaults = RetryConfig::default();
    assert_eq!(
        config.retry.max_delay, defaults.max_delay,
        "the default where nobody said"
    );
    assert!(config.idempotency.is_some());

    let file_only = ClientConfig::from_file(&path).expect("loads");
    assert_eq!(file_only.retry.max_retries, 2);
    let vars_only =
        ClientConfig::from_vars(vars(&[("STEADFAST_RETRY__MAX_RETRIES", "7")])).expect("loads");
    assert_eq!(vars_only.retry.max_retries, 7);
    assert_eq!(vars_only.retry.base_delay, defaults.base_delay);
}

#[test]
fn json_files_read_like_toml() {
    let toml = file(
        "a.toml",
        "attempt_timeout = \"2s\"\n[retry]\nmax_retries = 1\njitter = \"equal\"\n",
    );
    let json = file(
        "a.json",
        r#"{ "attempt_timeout": "2s", "retry": { "max_retries": 1, "jitter": "equal" } }"#,
    );
    let (toml, json) = (
        ClientConfig::from_file(toml).expect("toml"),
        ClientConfig::from_file(json).expect("json"),
    );
    assert_eq!(toml, json);
    assert_eq!(toml.retry.jitter, Jitter::Equal);
}

#[test]
fn variables_read_as_the_same_types_as_a_file() {
    let from_file = ClientConfig::from_file(file(
        "types.toml",
        r#"
        deadline_covers_body = false
        attempt_timeout = "250ms"
        [retry]
        max_retries = 5
        server_dedupes = true
        deadline = "1m"
        budget = { retry_ratio = 0.5, window = "30s" }
        server_dedupes_hosts = { "crm.example.com" = false, "localhost" = true }
        [rate_limit]
        quota = { rate = 50, per = "1s", burst = 5 }
        mode = "fail_fast"
        "#,
    ))
    .expect("file");
    let from_vars = ClientConfig::from_vars(vars(&[
        ("STEADFAST_DEADLINE_COVERS_BODY", "false"),
        ("STEADFAST_ATTEMPT_TIMEOUT", "250ms"),
        ("STEADFAST_RETRY__MAX_RETRIES", "5"),
        ("STEADFAST_RETRY__SERVER_DEDUPES", "true"),
        ("STEADFAST_RETRY__DEADLINE", "1m"),
        ("STEADFAST_RETRY__BUDGET__RETRY_RATIO", "0.5"),
        ("STEADFAST_RETRY__BUDGET__WINDOW", "30s"),
        (
            "STEADFAST_RETRY__SERVER_DEDUPES_HOSTS",
            r#"{"crm.example.com"=false}"#,
        ),
        ("STEADFAST_RETRY__SERVER_DEDUPES_HOSTS__LOCALHOST", "true"),
        (
            "STEADFAST_RATE_LIMIT__QUOTA",
            "{rate=50, per=\"1s\", burst=5}",
        ),
        ("steadfast_rate_limit__mode", "fail_fast"),
    ]))
    .expect("variables");
    assert_eq!(from_vars, from_file);
    assert_eq!(from_vars.retry.server_dedupes_hosts.len(), 2);
    assert_eq!(
        from_vars.rate_limit.as_ref().map(|r| r.mode),
        Some(RateLimitMode::FailFast)
    );
}

#[test]
fn an_unknown_key_names_the_file_and_the_key() {
    let path = file("typo.toml", "[retry]\nmax_retry = 3\n");
    let error = ClientConfig::from_file(&path).expect_err("unknown key");
    assert_eq!(
        invalid(&error),
        (&ConfigSource::File(path.clone()), Some("retry.max_retry"))
    );
    let shown = error.to_string();
    assert!(shown.contains(&path.display().to_string()), "{shown}");
    assert!(shown.contains("retry.max_retry"), "{shown}");
    assert!(
        shown.contains("max_retries"),
        "says what is expected: {shown}"
    );

    let top = file("top.json", r#"{ "retries": 3 }"#);
    let error = ClientConfig::from_file(&top).expect_err("unknown key");
    assert_eq!(invalid(&error).1, Some("retries"));
}

#[test]
fn an_unknown_key_names_the_variable() {
    for loaded in [
        ClientConfig::from_vars(vars(&[("STEADFAST_RETRY__MAX_RETRY", "3")])),
        ClientConfig::load_from(
            file("fine.toml", "[retry]\nmax_retries = 1\n"),
            vars(&[("STEADFAST_RETRY__MAX_RETRY", "3")]),
        ),
    ] {
        let error = loaded.expect_err("unknown key");
        assert_eq!(
            invalid(&error),
            (
                &ConfigSource::Variable("STEADFAST_RETRY__MAX_RETRY".into()),
                Some("retry.max_retry")
            )
        );
        assert!(
            error.to_string().contains("STEADFAST_RETRY__MAX_RETRY"),
            "{error}"
        );
    }
    let error = ClientConfig::from_vars(vars(&[("STEADFAST_RETRIES", "3")])).expect_err("unknown");
    assert!(error.to_string().contains("STEADFAST_RETRIES"), "{error}");
}

#[test]
fn a_bad_value_names_its_source_without_the_value() {
    let path = file("bad.toml", "[retry]\nmax_retries = \"hunter2\"\n");
    let error = ClientConfig::from_file(&path).expect_err("bad value");
    assert_eq!(
        invalid(&error),
        (&ConfigSource::File(path), Some("retry.max_retries"))
    );
    assert!(!error.to_string().contains("hunter2"), "{error}");

    let error = ClientConfig::from_vars(vars(&[("STEADFAST_ATTEMPT_TIMEOUT", "5 fortnights")]))
        .expect_err("bad duration");
    let (origin, key) = invalid(&error);
    assert_eq!(
        origin,
        &ConfigSource::Variable("STEADFAST_ATTEMPT_TIMEOUT".into())
    );
    assert_eq!(key, Some("attempt_timeout"));

    let error = ClientConfig::from_vars(vars(&[("STEADFAST_RETRY__MAX_RETRIES", "s3cr3t-value")]))
        .expect_err("not a number");
    assert!(
        error.to_string().contains("STEADFAST_RETRY__MAX_RETRIES"),
        "{error}"
    );
    assert!(!error.to_string().contains("s3cr3t"), "{error}");
}

#[test]
fn files_that_cannot_be_used_say_why() {
    let missing = std::env::temp_dir().join("steadfast-config-no-such-file.toml");
    assert!(matches!(
        ClientConfig::from_file(&missing),
        Err(LoadError::Read { path, .. }) if path == missing
    ));
    let yaml = file("client.yaml", "retry: {}\n");
    assert!(matches!(
        ClientConfig::from_file(&yaml),
        Err(LoadError::UnsupportedFormat { .. })
    ));
    let broken = file("broken.toml", "[retry\nmax_retries = 1\n");
    let error = ClientConfig::from_file(&broken).expect_err("does not parse");
    assert_eq!(invalid(&error).0, &ConfigSource::File(broken));
    assert!(error.to_string().contains("line 1"), "says where: {error}");

    // The parser quotes the line it stopped at; the error must not, it may hold a secret.
    let leaky = file(
        "leaky.toml",
        "[log]\npartner_token = \"tok_9f8e7d\" trailing\n",
    );
    let error = ClientConfig::from_file(&leaky).expect_err("does not parse");
    assert!(error.to_string().contains("line 2"), "says where: {error}");
    assert!(
        !format!("{error} {error:?}").contains("tok_9f8e7d"),
        "{error}"
    );
}

#[test]
fn a_valid_file_with_an_invalid_setting_fails_at_build() {
    let path = file("zero.toml", "attempt_timeout = \"0s\"\n");
    let config = ClientConfig::from_file(path).expect("reads");
    assert!(Client::from_config(common::http(), &config).is_err());
}

/// Run by [`from_env_reads_the_process_environment`] in a child process with variables
/// set; on its own (no `CONFIG_TEST_CHILD`) it has nothing to check.
#[test]
fn child_reads_its_environment() {
    if std::env::var_os("CONFIG_TEST_CHILD").is_none() {
        return;
    }
    let config = ClientConfig::from_env().expect("loads");
    assert_eq!(config.retry.max_retries, 9);
    let client = Client::from_profile("crm").expect("the profile of STEADFAST_CONFIG");
    let request = client.get("contacts").build().expect("resolves");
    assert_eq!(
        request.url().as_str(),
        "https://crm.staging.example.com/v3/contacts"
    );
}

#[test]
fn from_env_reads_the_process_environment() {
    let path = file(
        "steadfast.toml",
        "[apis.crm]\nbase_url = \"https://crm.example.com/v3/\"\n",
    );
    let run = |extra: &[(&str, &str)]| {
        let mut child = std::process::Command::new(std::env::current_exe().expect("test binary"));
        child
            .args(["--exact", "child_reads_its_environment", "--test-threads=1"])
            .env("CONFIG_TEST_CHILD", "1")
            .env("STEADFAST_CONFIG", &path)
            .env("STEADFAST_RETRY__MAX_RETRIES", "9")
            .env(
                "STEADFAST_APIS__CRM__BASE_URL",
                "https://crm.staging.example.com/v3",
            );
        for (name, value) in extra {
            child.env(name, value);
        }
        child.output().expect("runs")
    };
    let output = run(&[]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    // The same child fails when the environment is wrong: it really reads it.
    let output = run(&[("STEADFAST_RETRY__MAX_RETRIES", "8")]);
    assert!(!output.status.success());
}

// ---- base URLs ----

fn with_base(base: &str) -> Client {
    Client::builder()
        .base_url(base.parse().expect("valid"))
        .build(common::http())
        .expect("valid")
}

#[test]
fn relative_urls_resolve_against_the_base_url() {
    let cases = [
        ("https://h.test/v2", "orders", "https://h.test/v2/orders"),
        ("https://h.test/v2/", "orders", "https://h.test/v2/orders"),
        ("https://h.test/v2", "/orders", "https://h.test/v2/orders"),
        (
            "https://h.test/v2/",
            "/orders/42",
            "https://h.test/v2/orders/42",
        ),
        (
            "https://h.test/api/v2/",
            "../v1/orders",
            "https://h.test/api/v1/orders",
        ),
        (
            "https://h.test/v2",
            "orders?status=open&page=2",
            "https://h.test/v2/orders?status=open&page=2",
        ),
        (
            "https://h.test/v2?key=x",
            "orders",
            "https://h.test/v2/orders",
        ),
        ("https://h.test", "orders", "https://h.test/orders"),
        (
            "https://h.test/v2",
            "https://other.test/x?y=1",
            "https://other.test/x?y=1",
        ),
    ];
    for (base, url, want) in cases {
        let request = with_base(base).get(url).build().expect("resolves");
        assert_eq!(request.url().as_str(), want, "{base} + {url}");
    }
    // Every URL type the methods took before still works.
    let client = with_base("https://h.test/v2/");
    let owned = String::from("orders");
    let parsed: reqwest::Url = "https://other.test/".parse().expect("valid");
    for request in [
        client.get(owned.clone()),
        client.get(&owned),
        client.get(parsed.clone()),
        client.get(&parsed),
        client.request(reqwest::Method::GET, "orders"),
    ] {
        assert!(request.build().is_ok());
    }
    // The query builder adds to a resolved URL.
    let request = client
        .get("orders?a=1")
        .query(&[("b", "2")])
        .build()
        .expect("resolves");
    assert_eq!(request.url().as_str(), "https://h.test/v2/orders?a=1&b=2");
}

#[tokio::test]
async fn bad_urls_are_typed_errors_at_send_and_nothing_goes_out() {
    let server = Server::always(Reply::status(200)).await;
    let without_base = Client::new(common::http());
    for url in ["/orders", "http://[::1", "http://"] {
        let error = without_base
            .get(url)
            .send()
            .await
            .expect_err("not sendable");
        assert!(matches!(error, Error::InvalidRequest(_)), "{url}: {error}");
    }
    let with_base = with_base(&server.base);
    let error = with_base
        .get("http://[::1")
        .send()
        .await
        .expect_err("does not parse");
    assert!(matches!(error, Error::InvalidRequest(_)));
    assert_eq!(server.arrivals().len(), 0);
    with_base.get("orders").send().await.expect("sent");
    assert_eq!(server.arrivals().len(), 1);
}

#[test]
fn a_base_url_must_be_http() {
    let error = Client::builder()
        .base_url("ftp://files.example.com/".parse().expect("valid"))
        .build(common::http())
        .expect_err("not http");
    assert!(error.to_string().contains("base_url"), "{error}");
}

// ---- profiles ----

fn profiles_file(crm: &Server, billing: &Server) -> PathBuf {
    file(
        "apis.toml",
        &format!(
            r#"
            [apis.crm]
            base_url = "{crm}/api/v2"
            attempt_timeout = "5s"
            retry = {{ max_retries = 0 }}

            [apis.billing]
            base_url = "{billing}"
            retry = {{ max_retries = 2, base_delay = "1ms", max_delay = "2ms" }}
            "#,
            crm = crm.base,
            billing = billing.base,
        ),
    )
}

#[tokio::test]
async fn each_profile_calls_its_api_with_its_own_settings() {
    let crm = Server::always(Reply::status(503)).await;
    let billing = Server::always(Reply::status(503)).await;
    let profiles = Profiles::from_file(profiles_file(&crm, &billing)).expect("loads");
    assert_eq!(profiles.names().collect::<Vec<_>>(), ["billing", "crm"]);

    let client = profiles.client("crm", common::http()).expect("crm");
    client.get("/contacts").send().await.expect_err("503");
    assert_eq!(crm.arrivals().len(), 1, "crm: no retries");
    let client = profiles.client("billing", common::http()).expect("billing");
    client.get("invoices").send().await.expect_err("503");
    assert_eq!(billing.arrivals().len(), 3, "billing: two retries");
    assert_eq!(crm.arrivals().len(), 1, "nothing else went to crm");
}

#[tokio::test]
async fn variables_override_one_profile() {
    let crm = Server::always(Reply::status(503)).await;
    let billing = Server::always(Reply::status(503)).await;
    let profiles = Profiles::load_from(
        profiles_file(&crm, &billing),
        vars(&[
            ("STEADFAST_APIS__BILLING__RETRY__MAX_RETRIES", "0"),
            // Other variables are for single clients, not profiles.
            ("STEADFAST_RETRY__MAX_RETRIES", "5"),
        ]),
    )
    .expect("loads");
    assert_eq!(
        profiles
            .config("billing")
            .expect("billing")
            .retry
            .max_retries,
        0
    );
    assert_eq!(
        profiles
            .config("billing")
            .expect("billing")
            .retry
            .base_delay,
        Duration::from_millis(1),
        "the rest of the profile stays"
    );
    assert_eq!(profiles.config("crm").expect("crm").retry.max_retries, 0);
    let client = profiles.client("billing", common::http()).expect("billing");
    client.get("invoices").send().await.expect_err("503");
    assert_eq!(billing.arrivals().len(), 1);

    let error = Profiles::load_from(
        profiles_file(&crm, &billing),
        vars(&[("STEADFAST_APIS__CRM__RETRY__MAX_RETRYS", "1")]),
    )
    .expect_err("unknown key");
    assert!(
        error
            .to_string()
            .contains("STEADFAST_APIS__CRM__RETRY__MAX_RETRYS"),
        "{error}"
    );
}

#[tokio::test]
async fn an_unknown_profile_lists_the_known_ones() {
    let crm = Server::always(Reply::status(200)).await;
    let profiles = Profiles::from_file(profiles_file(&crm, &crm)).expect("loads");
    let error = profiles
        .client("erp", common::http())
        .expect_err("no such profile");
    assert!(
        matches!(&error, LoadError::UnknownProfile { name, known, .. } if name == "erp" && known == &["billing", "crm"])
    );
    let shown = error.to_string();
    assert!(
        shown.contains("erp") && shown.contains("billing, crm"),
        "{shown}"
    );

    let path = file(
        "bad-profile.toml",
        "[apis.crm]\nretry = { max_retrys = 1 }\n",
    );
    let error = Profiles::from_file(&path).expect_err("unknown key");
    assert_eq!(invalid(&error).1, Some("apis.crm.retry.max_retrys"));
    let path = file("bad-top.toml", "[crm]\nretry = {}\n");
    assert!(Profiles::from_file(path).is_err(), "only `apis` at the top");
}

// ---- reload ----

/// A client for paused-clock tests (no timers of its own) whose retries wait 10 s each.
fn slow_retries(max_retries: u32) -> ClientConfig {
    ClientConfig::default().without_attempt_timeout().retry(
        RetryConfig::default()
            .max_retries(max_retries)
            .base_delay(Duration::from_secs(10))
            .max_delay(Duration::from_secs(10))
            .jitter(Jitter::None)
            .without_deadline()
            .without_budget(),
    )
}

#[tokio::test(start_paused = true)]
async fn a_reload_changes_new_calls_and_not_a_call_in_flight() {
    let server = Server::always(Reply::status(503)).await;
    let client = Client::from_config(common::http(), &slow_retries(3)).expect("valid");
    let clone = client.clone();

    let url = server.url();
    let in_flight = tokio::spawn({
        let client = client.clone();
        async move { client.get(url).send().await }
    });
    // The first attempt is answered and the call waits 10 s for its first retry.
    while server.arrivals().is_empty() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    client.reload(&slow_retries(0)).expect("valid");

    // A new call, on a clone, takes the new settings: one attempt.
    clone.get(server.url()).send().await.expect_err("503");
    assert_eq!(server.arrivals().len(), 2);

    // The call in flight keeps its three retries.
    in_flight.await.expect("joins").expect_err("503 in the end");
    assert_eq!(server.arrivals().len(), 2 + 3);
}

#[tokio::test(start_paused = true)]
async fn a_reload_keeps_the_retry_budget() {
    let server = Server::always(Reply::status(503)).await;
    let with_budget = |retries: u32| {
        ClientConfig::default().without_attempt_timeout().retry(
            RetryConfig::default()
                .max_retries(retries)
                .base_delay(Duration::from_millis(1))
                .without_deadline(),
        )
    };
    let client = Client::from_config(common::http(), &with_budget(1)).expect("valid");
    let budget = client.retry_budget().expect("a budget");
    while budget.try_withdraw() {}
    client.reload(&with_budget(3)).expect("valid");

    let error = client.get(server.url()).send().await.expect_err("503");
    assert!(
        common::budget_exhausted(&error),
        "the spent budget carried over: {error}"
    );
    assert_eq!(server.arrivals().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_reload_keeps_the_rate_limiters_buckets_and_applies_its_new_quota() {
    let server = Server::always(Reply::status(200)).await;
    let limited = |quota: Quota| {
        slow_retries(0).rate_limit(
            RateLimitConfig::new(quota)
                .mode(RateLimitMode::FailFast)
                .jitter(Duration::ZERO),
        )
    };
    let client =
        Client::from_config(common::http(), &limited(Quota::per_minute(1))).expect("valid");
    assert!(client.rate_limiter().is_some());
    client
        .get(server.url())
        .send()
        .await
        .expect("the one permit");

    // Same quota, other settings: the spent bucket carries over.
    client
        .reload(&limited(Quota::per_minute(1)).retry(RetryConfig::default().max_retries(1)))
        .expect("valid");
    let error = client
        .get(server.url())
        .send()
        .await
        .expect_err("no permit");
    assert!(matches!(error, Error::RateLimited { .. }), "{error}");

    // A larger quota applies to the next call.
    client
        .reload(&limited(Quota::per_second(100)))
        .expect("valid");
    client
        .get(server.url())
        .send()
        .await
        .expect("the new quota");
    assert_eq!(server.arrivals().len(), 2);

    // Turning it off, then on again, finds the same limiter: a new one would not know the
    // server's origin yet.
    client.reload(&slow_retries(0)).expect("valid");
    assert!(client.rate_limiter().is_none());
    assert!(client.rate_limit_state(&server.base).is_none());
    client
        .reload(&limited(Quota::per_second(100)))
        .expect("valid");
    let state = client
        .rate_limit_state(&server.base)
        .expect("the key is known");
    assert_eq!(state.waiting, 0);
}

#[tokio::test]
async fn a_reload_moves_the_base_url_and_rejects_invalid_settings() {
    let old = Server::always(Reply::status(200)).await;
    let new = Server::always(Reply::status(200)).await;
    let client = with_base(&old.base);
    client.get("orders").send().await.expect("old");
    client
        .reload(&ClientConfig::default().base_url(new.base.parse().expect("valid")))
        .expect("valid");
    client.get("orders").send().await.expect("new");
    assert_eq!((old.arrivals().len(), new.arrivals().len()), (1, 1));

    let invalid = ClientConfig::default().retry(
        RetryConfig::default()
            .base_delay(Duration::from_secs(10))
            .max_delay(Duration::from_secs(1)),
    );
    assert!(client.reload(&invalid).is_err());
    client.get("orders").send().await.expect("settings kept");
    assert_eq!(new.arrivals().len(), 2);
}

/// Lets a watch look at its file once: its interval fires and its task runs.
async fn next_look() {
    tokio::time::advance(Duration::from_secs(1)).await;
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_watched_file_reloads_on_change_and_keeps_settings_on_a_bad_one() {
    let path = file("watched.toml", "base_url = \"http://first.test/v1/\"\n");
    let client = Client::new(common::http());
    let url = |client: &Client| {
        let request = client.get("orders").build().expect("resolves");
        request.url().to_string()
    };
    let watch = client
        .watch_file(&path, Duration::from_secs(1))
        .expect("loads");
    assert_eq!(
        url(&client),
        "http://first.test/v1/orders",
        "applied at once"
    );

    std::fs::write(&path, "base_url = \"http://second.test/v2\"\n").expect("write");
    assert_eq!(
        url(&client),
        "http://first.test/v1/orders",
        "not before the next look"
    );
    next_look().await;
    assert_eq!(url(&client.clone()), "http://second.test/v2/orders");

    std::fs::write(&path, "base_url = \"http://third.test/\"\nretries = 3\n").expect("write");
    next_look().await;
    assert_eq!(
        url(&client),
        "http://second.test/v2/orders",
        "a bad file is not applied"
    );

    drop(watch);
    std::fs::write(&path, "base_url = \"http://fourth.test/\"\n").expect("write");
    next_look().await;
    assert_eq!(
        url(&client),
        "http://second.test/v2/orders",
        "the watch stopped"
    );

    let bad = file("bad-watch.toml", "retries = 3\n");
    let error = client
        .watch_file(&bad, Duration::from_secs(1))
        .expect_err("does not load");
    assert!(error.to_string().contains("retries"), "{error}");
}

// ---- turning settings off ----

#[test]
fn a_file_turns_settings_off_and_on() {
    let path = file(
        "switches.toml",
        r#"
        attempt_timeout = "off"
        idempotency = false
        breaker = true
        bulkhead = "off"
        dead_letter = true
        "#,
    );
    let config = ClientConfig::from_file(&path).expect("loads");
    assert_eq!(config.attempt_timeout, None);
    assert_eq!(config.idempotency, None);
    assert_eq!(config.breaker, Some(CircuitBreakerConfig::default()));
    assert_eq!(config.bulkhead, None);
    assert_eq!(config.dead_letter, Some(DeadLetterConfig::default()));

    let json = file(
        "switches.json",
        r#"{ "idempotency": null, "attempt_timeout": null }"#,
    );
    let config = ClientConfig::from_file(&json).expect("loads");
    assert_eq!((config.idempotency, config.attempt_timeout), (None, None));

    let on = file(
        "on.toml",
        "attempt_timeout = \"2s\"\n[breaker]\nbreak_duration = \"9s\"\n",
    );
    let config = ClientConfig::from_file(&on).expect("loads");
    assert_eq!(config.attempt_timeout, Some(Duration::from_secs(2)));
    assert_eq!(
        config.breaker.map(|b| b.break_duration),
        Some(Duration::from_secs(9))
    );
}

#[test]
fn variables_turn_settings_off_over_a_file() {
    let path = file(
        "on.toml",
        "attempt_timeout = \"5s\"\nbreaker = true\n[idempotency]\nheader = \"X-Request-Key\"\n",
    );
    let config = ClientConfig::load_from(
        &path,
        vars(&[
            ("STEADFAST_IDEMPOTENCY", "off"),
            ("STEADFAST_ATTEMPT_TIMEOUT", "false"),
            ("STEADFAST_BREAKER", "OFF"),
            ("STEADFAST_BULKHEAD", "true"),
        ]),
    )
    .expect("loads");
    assert_eq!(config.bulkhead, Some(BulkheadConfig::default()));
    assert_eq!(config.idempotency, None);
    assert_eq!(config.attempt_timeout, None);
    assert_eq!(config.breaker, None);
}

#[test]
fn a_switch_that_is_neither_on_nor_off_is_a_typed_error() {
    for (name, contents, key) in [
        ("maybe.toml", "breaker = \"maybe\"\n", "breaker"),
        (
            "soon.toml",
            "attempt_timeout = \"soon\"\n",
            "attempt_timeout",
        ),
        ("on.toml", "attempt_timeout = true\n", "attempt_timeout"),
        // A quota has no default: `true` does not say which.
        ("quota.toml", "rate_limit = true\n", "rate_limit"),
    ] {
        let path = file(name, contents);
        let error = ClientConfig::from_file(&path).expect_err(contents);
        assert_eq!(
            invalid(&error),
            (&ConfigSource::File(path.clone()), Some(key)),
            "{contents}"
        );
    }
    let typo = file("typo.toml", "[breaker]\nbreak_duraton = \"9s\"\n");
    let error = ClientConfig::from_file(&typo).expect_err("unknown key");
    assert_eq!(invalid(&error).1, Some("breaker.break_duraton"), "{error}");
}

#[tokio::test]
async fn a_client_from_a_file_without_idempotency_sends_no_key() {
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(wiremock::ResponseTemplate::new(201))
        .mount(&server)
        .await;
    for (contents, keyed) in [
        ("idempotency = false\n", false),
        ("idempotency = true\n", true),
    ] {
        let config = ClientConfig::from_file(file("keys.toml", contents)).expect("loads");
        let client = Client::from_config(common::http(), &config).expect("builds");
        client
            .post(format!("{}/orders", server.uri()))
            .body("{}")
            .send()
            .await
            .expect("201");
        let seen = server.received_requests().await.expect("recorded");
        let last = seen.last().expect("one request");
        assert_eq!(
            last.headers.contains_key("idempotency-key"),
            keyed,
            "{contents}"
        );
    }
}
