//! Listing dead letters page by page, the same check for every sink.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use steadfast::dead_letter::{DeadLetter, LetterFilter, LetterId};
use steadfast::retry::RetryConfig;
use steadfast::{Client, ClientBuilder};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// `builder` (its sink set) with no retries.
pub fn failing_client(builder: ClientBuilder) -> Client {
    builder
        .retry(RetryConfig::default().max_retries(0).without_budget())
        .build(super::http())
        .expect("valid config")
}

/// Makes `n` letters through `client` (every POST answered 503) and discards the 3 oldest,
/// then checks what a listing returns: the newest first, pages read with
/// [`LetterFilter::before`] that cover every letter exactly once, in order, a state filter
/// that finds the oldest letters past every chunk of newer ones, and a time window.
pub async fn pages_cover_every_letter_once(client: &Client, n: usize) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let start = SystemTime::now();
    for i in 0..n {
        client
            .post(format!("{}/invoices", server.uri()))
            .json(&serde_json::json!({ "ref": format!("inv-{i}") }))
            .send()
            .await
            .expect_err("503");
    }
    let letters = client.dead_letters().expect("dead letters on");
    let newest = letters
        .list(&LetterFilter::default().limit(5))
        .await
        .expect("listed");
    assert_eq!(newest.len(), 5);
    assert!(newest.windows(2).all(|w| w[0].id > w[1].id), "newest first");

    let mut seen: Vec<LetterId> = Vec::new();
    let mut filter = LetterFilter::default().limit(97);
    for _ in 0..=n / 97 + 1 {
        let page = letters.list(&filter).await.expect("listed");
        let Some(last) = page.last() else { break };
        filter = filter.before(last.id);
        seen.extend(page.iter().map(|l| l.id));
    }
    assert_eq!(seen.len(), n, "every letter once");
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), n, "none twice");
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "pages follow each other"
    );

    let oldest: Vec<LetterId> = seen.iter().rev().take(3).copied().collect();
    for id in &oldest {
        letters.discard(*id, "test").await.expect("discarded");
    }
    let discarded = letters
        .list(&LetterFilter::default().state("discarded"))
        .await
        .expect("listed");
    let mut found: Vec<LetterId> = discarded.iter().map(|l| l.id).collect();
    found.sort();
    let mut expected = oldest.clone();
    expected.sort();
    assert_eq!(found, expected, "found past every newer letter");

    let window: Vec<DeadLetter> = letters
        .list(
            &LetterFilter::default()
                .since(start)
                .until(start + Duration::from_secs(3600))
                .limit(usize::MAX),
        )
        .await
        .expect("listed");
    assert_eq!(window.len(), n);
    let none = letters
        .list(&LetterFilter::default().until(start))
        .await
        .expect("listed");
    assert!(none.is_empty(), "nothing before the run");
}
