//! Dead letters in Redis Streams against a real `redis-server` this test starts on a free
//! loopback port: letters shared by instances, replayers that never take one letter twice,
//! and letters a crashed replayer left taken over.
#![cfg(feature = "redis")]

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::redis::RedisServer;
use steadfast::dead_letter::sink::{RedisSink, RedisSinkConfig};
use steadfast::dead_letter::{
    DeadLetterConfig, DeadLetters, LetterFilter, LetterId, LetterState, ReplayError, Replayed,
};
use steadfast::retry::RetryConfig;
use steadfast::{Client, Error};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const LEASE: Duration = Duration::from_millis(300);

async fn sink(redis: &RedisServer, prefix: &str) -> RedisSink {
    RedisSink::connect(&RedisSinkConfig::new(redis.url()).prefix(prefix))
        .await
        .expect("redis answers")
}

async fn client(redis: &RedisServer, prefix: &str) -> Client {
    Client::builder()
        .retry(RetryConfig::default().max_retries(0).without_budget())
        .dead_letter(DeadLetterConfig::default().replay_lease(LEASE))
        .dead_letter_sink(sink(redis, prefix).await)
        .build(common::http())
        .expect("valid")
}

/// An API that fails the first `fails` POSTs with 503, then creates.
async fn api(fails: u64) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(fails)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201))
        .with_priority(2)
        .mount(&server)
        .await;
    server
}

async fn fail(client: &Client, server: &MockServer, n: usize) {
    for i in 0..n {
        let error: Error = client
            .post(format!("{}/invoices", server.uri()))
            .json(&serde_json::json!({ "ref": format!("inv-{i}") }))
            .send()
            .await
            .expect_err("503");
        assert!(!error.outcome().is_maybe_applied());
    }
}

fn ids(letters: &[steadfast::dead_letter::DeadLetter]) -> HashSet<LetterId> {
    letters.iter().map(|l| l.id).collect()
}

fn handle(client: &Client) -> DeadLetters {
    client.dead_letters().expect("dead letters on")
}

#[tokio::test]
async fn letters_are_shared_by_instances_and_bounded() {
    let redis = RedisServer::start();
    let server = api(100).await;
    let writer = client(&redis, "a:").await;
    fail(&writer, &server, 3).await;
    let reader = handle(&client(&redis, "a:").await);
    let letters = reader.list(&LetterFilter::default()).await.expect("listed");
    assert_eq!(letters.len(), 3);
    let one = reader
        .get(letters[0].id)
        .await
        .expect("read")
        .expect("there");
    assert_eq!(one, letters[0]);

    let capped = RedisSink::connect(
        &RedisSinkConfig::new(redis.url())
            .prefix("capped:")
            .max_letters(2),
    )
    .await
    .expect("redis answers");
    let small = Client::builder()
        .retry(RetryConfig::default().max_retries(0))
        .dead_letter_sink(capped)
        .build(common::http())
        .expect("valid");
    fail(&small, &server, 4).await;
    let kept = handle(&small)
        .list(&LetterFilter::default())
        .await
        .expect("listed");
    assert_eq!(kept.len(), 2, "the oldest went");
}

#[tokio::test]
async fn two_replayers_claim_disjoint_letters_and_send_each_once() {
    let redis = RedisServer::start();
    let server = api(6).await;
    let producer = client(&redis, "b:").await;
    fail(&producer, &server, 6).await;
    let (one, two) = (
        handle(&client(&redis, "b:").await),
        handle(&client(&redis, "b:").await),
    );
    assert_ne!(one.claimant(), two.claimant());

    let (a, b) = tokio::join!(one.claim_next(4), two.claim_next(4));
    let (a, b) = (a.expect("claimed"), b.expect("claimed"));
    assert_eq!(a.len() + b.len(), 6, "{} + {}", a.len(), b.len());
    assert!(ids(&a).is_disjoint(&ids(&b)));
    assert!(
        a.iter()
            .all(|l| matches!(&l.state, LetterState::Replaying { by, .. } if by == one.claimant()))
    );

    // A letter one holds is refused to two, even by id.
    let refused = two.replay(a[0].id).await.expect_err("held by one");
    assert!(matches!(refused, ReplayError::Held { .. }), "{refused:?}");

    for letter in &a {
        let done = one.replay(letter.id).await.expect("sent");
        assert!(matches!(done, Replayed::Resolved { .. }), "{done:?}");
    }
    for letter in &b {
        let done = two.replay(letter.id).await.expect("sent");
        assert!(matches!(done, Replayed::Resolved { .. }), "{done:?}");
    }
    assert_eq!(
        common::received(&server).await,
        12,
        "six calls, six replays"
    );
    assert!(
        one.claim_next(10).await.expect("read").is_empty(),
        "nothing left"
    );
    assert!(
        two.claim_next(10).await.expect("read").is_empty(),
        "nothing left"
    );
    let again = one.replay(a[0].id).await.expect("answered");
    assert!(
        matches!(again, Replayed::AlreadyResolved { .. }),
        "{again:?}"
    );
    assert_eq!(common::received(&server).await, 12);
}

#[tokio::test]
async fn a_letter_left_by_a_crashed_replayer_is_reclaimed() {
    let redis = RedisServer::start();
    let server = api(2).await;
    fail(&client(&redis, "c:").await, &server, 2).await;
    let crashed = handle(&client(&redis, "c:").await);
    let taken = crashed.claim_next(10).await.expect("claimed");
    assert_eq!(taken.len(), 2);
    drop(crashed); // never replays them

    let survivor = handle(&client(&redis, "c:").await);
    assert!(
        survivor.claim_next(10).await.expect("read").is_empty(),
        "still leased"
    );
    tokio::time::sleep(LEASE + Duration::from_millis(100)).await;
    let reclaimed = survivor.claim_next(10).await.expect("claimed");
    assert_eq!(ids(&reclaimed), ids(&taken));
    for letter in &reclaimed {
        let done = survivor.replay(letter.id).await.expect("sent");
        assert!(matches!(done, Replayed::Resolved { .. }), "{done:?}");
    }
    assert_eq!(common::received(&server).await, 4);
}

#[tokio::test]
async fn a_long_list_is_read_page_by_page_newest_first() {
    let redis = RedisServer::start();
    let sink = sink(&redis, "pages:").await;
    let client = common::letters::failing_client(Client::builder().dead_letter_sink(sink));
    // Over two of the sink's 256-id chunks.
    common::letters::pages_cover_every_letter_once(&client, 600).await;
}
