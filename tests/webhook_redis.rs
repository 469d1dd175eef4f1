//! Inbound webhooks on a real `redis-server` (started by the test on a free port):
//! deduplication shared by receivers, and the event queue on a Redis Stream.
#![cfg(all(feature = "webhook", feature = "redis"))]

mod common;
mod webhook_support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use common::redis::RedisServer;
use steadfast::idempotency::store::{RedisStore, RedisStoreConfig};
use steadfast::webhook::{
    DedupConfig, DeduplicateLayer, Enqueue, EventQueue, EventQueueConfig, Scheme, VerifyConfig,
    VerifySignatureLayer, WebhookSecret,
};
use tokio::sync::Notify;
use tower::ServiceBuilder;
use webhook_support::*;

async fn store(redis: &RedisServer) -> RedisStore {
    let config = RedisStoreConfig::new(redis.url()).prefix("shop:webhooks:");
    RedisStore::connect(&config).await.expect("redis answers")
}

fn dedup_on(store: RedisStore) -> DeduplicateLayer {
    DeduplicateLayer::new(&DedupConfig::for_scheme(&Scheme::Stripe))
        .expect("valid")
        .store(store)
}

#[tokio::test]
async fn a_hundred_concurrent_deliveries_run_the_handler_once_on_redis() {
    let redis = RedisServer::start();
    let gate = Arc::new(Notify::new());
    let handler = Handler {
        gate: Some(Arc::clone(&gate)),
        ..Handler::default()
    };
    let url = stripe_receiver(handler.clone(), dedup_on(store(&redis).await)).await;
    hundred_at_once(&url, &handler, &gate).await;
}

#[tokio::test]
async fn receivers_sharing_redis_handle_a_delivery_once_and_a_failure_lets_the_retry_through() {
    let redis = RedisServer::start();
    let handler = Handler {
        failures: 1,
        ..Handler::default()
    };
    let a = stripe_receiver(handler.clone(), dedup_on(store(&redis).await)).await;
    let b = stripe_receiver(handler.clone(), dedup_on(store(&redis).await)).await;
    // The first run fails: the id is released, and the retry (to the other instance) runs.
    let (status, _) = send(&a, &stripe_delivery(BODY), BODY).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let (status, text) = send(&b, &stripe_delivery(BODY), BODY).await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.ends_with("on run 1"), "{text}");
    for url in [&a, &b] {
        assert_eq!(
            send(url, &stripe_delivery(BODY), BODY).await,
            (status, text.clone())
        );
    }
    assert_eq!(handler.runs.count(), 2);
}

#[tokio::test]
async fn an_unreachable_store_answers_503_and_runs_nothing() {
    let config = RedisStoreConfig::new(format!("redis://127.0.0.1:{}", common::closed_port()))
        .timeout(Duration::from_millis(200));
    let store = RedisStore::lazy(&config).expect("a valid url");
    let handler = Handler::default();
    let url = stripe_receiver(handler.clone(), dedup_on(store)).await;
    let (status, text) = send(&url, &stripe_delivery(BODY), BODY).await;
    assert_eq!(
        (status, text.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "try again later\n")
    );
    assert_eq!(handler.runs.count(), 0);
}

/// A receiver that verifies, deduplicates on Redis and enqueues: what a fast one looks like.
async fn queueing_receiver(redis: &RedisServer, queue: EventQueue) -> String {
    let verify = VerifySignatureLayer::new(&VerifyConfig::new(
        Scheme::Stripe,
        WebhookSecret::new(DEDUP_SECRET),
    ))
    .expect("valid");
    let service = ServiceBuilder::new()
        .layer(verify)
        .layer(dedup_on(store(redis).await))
        .service(Enqueue::new(queue));
    let app = Router::new().route_service("/hooks", service);
    format!("http://{}/hooks", serve(app).await)
}

fn event(n: usize) -> &'static [u8] {
    Box::leak(
        format!(r#"{{"id":"evt_{n}","type":"invoice.paid"}}"#)
            .into_bytes()
            .into_boxed_slice(),
    )
}

#[tokio::test]
async fn deliveries_are_acknowledged_once_queued_and_each_is_processed_once() {
    let redis = RedisServer::start();
    let config = EventQueueConfig::new(redis.url()).block(Duration::from_millis(50));
    let queue = EventQueue::connect(&config).await.expect("redis answers");
    let url = queueing_receiver(&redis, queue.clone()).await;
    // Every event twice, every third one three times.
    for n in 0..30 {
        let times = if n % 3 == 0 { 3 } else { 2 };
        for _ in 0..times {
            let (status, text) = send(&url, &stripe_delivery(event(n)), event(n)).await;
            assert_eq!(
                (status, text.as_str()),
                (StatusCode::ACCEPTED, "accepted\n")
            );
        }
    }
    assert_eq!(
        queue.backlog().await.expect("len"),
        30,
        "one entry per event"
    );

    let mut worker = queue.worker("worker-1").await.expect("a worker");
    let mut seen = BTreeMap::new();
    loop {
        let processed = worker
            .process(|event| {
                *seen
                    .entry(event.delivery_id.clone().expect("an id"))
                    .or_insert(0) += 1;
                let body = String::from_utf8(event.body.to_vec()).expect("utf-8");
                assert!(body.contains(event.delivery_id.as_deref().unwrap_or("?")));
                std::future::ready(Ok::<(), String>(()))
            })
            .await
            .expect("the queue answers");
        if processed.acked == 0 {
            break;
        }
    }
    assert_eq!(seen.len(), 30);
    assert!(seen.values().all(|&n| n == 1), "{seen:?}");
    assert_eq!(
        queue.backlog().await.expect("len"),
        0,
        "processed events are deleted"
    );
}

#[tokio::test]
async fn a_full_queue_answers_503_and_the_retry_is_queued_once_there_is_room() {
    let redis = RedisServer::start();
    let config = EventQueueConfig::new(redis.url())
        .max_len(2)
        .block(Duration::from_millis(50));
    let queue = EventQueue::connect(&config).await.expect("redis answers");
    let url = queueing_receiver(&redis, queue.clone()).await;
    for n in 0..2 {
        assert_eq!(
            send(&url, &stripe_delivery(event(n)), event(n)).await.0,
            StatusCode::ACCEPTED
        );
    }
    assert_eq!(
        send(&url, &stripe_delivery(event(2)), event(2)).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let mut worker = queue.worker("worker-1").await.expect("a worker");
    let drained = worker
        .process(|_| std::future::ready(Ok::<(), String>(())))
        .await
        .expect("answers");
    assert_eq!(drained.acked, 2);
    assert_eq!(
        send(&url, &stripe_delivery(event(2)), event(2)).await.0,
        StatusCode::ACCEPTED
    );
    let batch = worker.next_batch().await.expect("answers");
    assert_eq!(batch.len(), 1);
    assert_eq!(batch[0].delivery_id.as_deref(), Some("evt_2"));
}

#[tokio::test]
async fn events_a_worker_left_unacknowledged_are_claimed_by_another() {
    let redis = RedisServer::start();
    let config = EventQueueConfig::new(redis.url())
        .block(Duration::from_millis(50))
        .claim_after(Duration::from_millis(300));
    let queue = EventQueue::connect(&config).await.expect("redis answers");
    for n in 0..3 {
        queue
            .enqueue(Some(&format!("evt_{n}")), event(n))
            .await
            .expect("queued");
    }
    let mut crashed = queue.worker("worker-crashed").await.expect("a worker");
    let failed = crashed
        .process(|_| std::future::ready(Err::<(), _>("the ERP is down")))
        .await
        .expect("answers");
    assert_eq!((failed.acked, failed.failed), (0, 3));

    let mut other = queue.worker("worker-2").await.expect("a worker");
    assert!(
        other.next_batch().await.expect("answers").is_empty(),
        "not stale yet"
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    let claimed = other.next_batch().await.expect("answers");
    let ids: Vec<_> = claimed
        .iter()
        .filter_map(|e| e.delivery_id.clone())
        .collect();
    assert_eq!(ids, ["evt_0", "evt_1", "evt_2"]);
    for event in &claimed {
        other.ack(event).await.expect("acked");
    }
    assert_eq!(queue.backlog().await.expect("len"), 0);
}

#[tokio::test]
async fn a_worker_with_a_store_processes_each_delivery_id_once() {
    // An event enqueued twice (say its first 202 was lost and the store had not kept the
    // answer) is processed once and acknowledged twice.
    let redis = RedisServer::start();
    let config = EventQueueConfig::new(redis.url()).block(Duration::from_millis(50));
    let queue = EventQueue::connect(&config).await.expect("redis answers");
    for id in ["evt_1", "evt_2", "evt_1"] {
        queue.enqueue(Some(id), b"{}").await.expect("queued");
    }
    let mut worker = queue
        .worker("worker-1")
        .await
        .expect("a worker")
        .store(store(&redis).await);
    let mut ran = Vec::new();
    let processed = worker
        .process(|event| {
            ran.push(event.delivery_id.clone().expect("an id"));
            std::future::ready(Ok::<(), String>(()))
        })
        .await
        .expect("answers");
    assert_eq!(ran, ["evt_1", "evt_2"]);
    assert_eq!(
        (processed.acked, processed.repeats, processed.failed),
        (2, 1, 0)
    );
    assert_eq!(queue.backlog().await.expect("backlog"), 0);

    // A failure releases the id: the event, claimed again later, is processed then.
    queue.enqueue(Some("evt_3"), b"{}").await.expect("queued");
    let failed = worker
        .process(|_| std::future::ready(Err::<(), _>("the ERP is down")))
        .await
        .expect("answers");
    assert_eq!(failed.failed, 1);
    queue
        .enqueue(Some("evt_3"), b"{}")
        .await
        .expect("queued again");
    let retried = worker
        .process(|_| std::future::ready(Ok::<(), String>(())))
        .await
        .expect("answers");
    assert_eq!((retried.acked, retried.repeats), (1, 0));
}
