//! The queue worker on a real `redis-server` (started by the test on a free port): 1,000
//! events with seeded faults and a consumer crash, each committed once or dead-lettered.
#![cfg(feature = "redis")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::redis::RedisServer;
use steadfast::flow::queue::{
    Event, HandleError, Queue, QueueError, RedisQueue, RedisQueueConfig, Worker, WorkerConfig,
};
use steadfast::idempotency::SharedStore;
use steadfast::idempotency::store::{RedisStore, RedisStoreConfig};

fn config(redis: &RedisServer, consumer: &str) -> RedisQueueConfig {
    RedisQueueConfig::new(redis.url())
        .stream("orders:events")
        .dead_stream("orders:dead")
        .consumer(consumer)
        .lease(Duration::from_millis(300))
        .block(Duration::from_millis(100))
}

async fn ledger(redis: &RedisServer) -> SharedStore {
    let store = RedisStore::connect(&RedisStoreConfig::new(redis.url()))
        .await
        .expect("redis answers");
    Arc::new(store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_events_with_faults_and_a_crash_are_each_committed_once_or_dead_lettered() {
    let redis = RedisServer::start();
    let connect = |name: &'static str| {
        let config = config(&redis, name);
        async move { RedisQueue::connect(&config).await.expect("redis answers") }
    };
    let (publisher, a, b) = (
        connect("publisher").await,
        connect("a").await,
        connect("b").await,
    );
    let ledgers = [ledger(&redis).await, ledger(&redis).await];
    common::queue::run(publisher, a, b.clone(), ledgers).await;

    // Nothing is left: every entry was acknowledged and deleted, none is pending.
    let mut connection = redis::Client::open(redis.url())
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("redis answers");
    let left: usize = redis::cmd("XLEN")
        .arg("orders:events")
        .query_async(&mut connection)
        .await
        .expect("XLEN");
    assert_eq!(left, 0, "every message settled");
}

#[tokio::test]
async fn a_message_handed_out_too_often_is_dead_lettered_without_running_the_handler() {
    let redis = RedisServer::start();
    let queue = RedisQueue::connect(&config(&redis, "c").lease(Duration::from_millis(50)))
        .await
        .expect("redis answers");
    queue.publish(b"{\"n\":1}").await.expect("published");
    // Taken and never settled, three times: a message that crashes every consumer.
    for _ in 0..3 {
        let taken = loop {
            let taken = queue.receive(1).await.expect("receive");
            if !taken.is_empty() {
                break taken;
            }
        };
        assert_eq!(taken.len(), 1);
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = Arc::clone(&runs);
    let handler = move |_: Event| {
        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async { Ok::<(), HandleError>(()) }
    };
    let worker = Worker::new(
        queue.clone(),
        handler,
        WorkerConfig::default().max_deliveries(3),
    )
    .expect("valid");
    assert_eq!(worker.run_once().await.expect("receive"), 1);
    assert_eq!(
        runs.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the handler never ran"
    );
    let dead = queue.dead_messages(10).await.expect("dead letters");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].deliveries, 4);
    assert_eq!(dead[0].note.reason.as_str(), "max_deliveries");
    assert_eq!(&dead[0].payload[..], b"{\"n\":1}");
}

#[tokio::test]
async fn a_broker_that_is_down_is_a_typed_error_and_the_worker_keeps_trying_losing_nothing() {
    // Durable: the event and the group survive the restart, as on a production Redis.
    let mut redis = RedisServer::start_durable();
    let queue = RedisQueue::connect(&config(&redis, "d"))
        .await
        .expect("redis answers");
    queue.publish(b"{\"n\":7}").await.expect("published");
    redis.kill();
    assert!(matches!(
        queue.receive(1).await,
        Err(QueueError::Unavailable(_))
    ));

    common::queue::handles_the_event_published_before_an_outage(queue, || redis.restart()).await;
}

#[tokio::test]
async fn a_message_left_for_later_comes_back_after_its_delay_with_its_count() {
    let redis = RedisServer::start();
    let queue = RedisQueue::connect(&config(&redis, "e").lease(Duration::from_secs(5)))
        .await
        .expect("redis answers");
    let id = queue.publish(b"{\"n\":1}").await.expect("published");
    let first = queue.receive(1).await.expect("receive");
    assert_eq!(
        (first[0].id.as_str(), first[0].deliveries),
        (id.as_str(), 1)
    );
    queue
        .retry_later(&first[0], Duration::from_millis(200))
        .await
        .expect("left for later");
    let started = std::time::Instant::now();
    let again = loop {
        if let Some(message) = queue.receive(1).await.expect("receive").into_iter().next() {
            break message;
        }
    };
    // Not before its delay, and long before the 5 s lease.
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(150) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    assert_eq!((again.id.as_str(), again.deliveries), (id.as_str(), 2));
    queue.ack(&again).await.expect("ack");
    assert!(queue.receive(1).await.expect("receive").is_empty());
}
