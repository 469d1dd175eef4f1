//! The queue-worker scenario both brokers run: 1,000 events against a loopback orders API
//! with seeded faults, two consumers, one of which crashes holding unacknowledged messages.
//!
//! The API counts commits per idempotency key and does **not** deduplicate: a second send
//! of an applied event would show as a second commit.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use steadfast::Client;
use steadfast::dead_letter::{LetterFilter, LetterState, MemorySink, SharedSink};
use steadfast::flow::queue::{DeadReason, Event, HandleError, Queue, Worker, WorkerConfig};
use steadfast::idempotency::SharedStore;
use steadfast::retry::RetryConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub const EVENTS: u32 = 1_000;
pub const POISON: u32 = 10;

/// What a seeded event meets at the API, by its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 503 on the first three attempts, then committed: redelivered, then applied.
    Unavailable,
    /// Committed, then 500: outcome unknown, dead-lettered (and committed once).
    CommittedThen500,
    /// 400 on every attempt: permanent, dead-lettered, never committed.
    BadRequest,
    /// The connection dropped after the request was read, before any commit: outcome
    /// unknown, dead-lettered, never committed.
    Dropped,
    /// Committed, 201.
    None,
}

pub fn fault(n: u32) -> Fault {
    match n % 10 {
        1 => Fault::Unavailable,
        2 => Fault::CommittedThen500,
        3 => Fault::BadRequest,
        4 => Fault::Dropped,
        _ => Fault::None,
    }
}

#[derive(Debug, Default, Clone)]
pub struct KeySeen {
    pub n: u32,
    pub attempts: u32,
    pub commits: u32,
}

/// The loopback orders API: one request per connection (`Connection: close`).
#[derive(Clone, Default)]
pub struct OrdersApi {
    pub seen: Arc<Mutex<HashMap<String, KeySeen>>>,
}

impl OrdersApi {
    pub async fn start(&self) -> String {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let url = format!("http://{}/orders", listener.local_addr().expect("addr"));
        let api = self.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let api = api.clone();
                tokio::spawn(async move { api.serve(socket).await });
            }
        });
        url
    }

    async fn serve(&self, mut socket: TcpStream) {
        let mut buf = Vec::with_capacity(1024);
        let mut chunk = [0u8; 1024];
        let head_end = loop {
            if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            assert!(buf.len() < 64 * 1024, "request head too large");
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        let header = |name: &str| {
            head.lines()
                .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()))
        };
        let length: usize = header("content-length:")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let key = header("idempotency-key:").unwrap_or_default();
        while buf.len() < head_end + length {
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body: serde_json::Value =
            serde_json::from_slice(&buf[head_end..head_end + length]).unwrap_or_default();
        let n = u32::try_from(body["n"].as_u64().unwrap_or(u64::MAX)).unwrap_or(u32::MAX);
        let status = {
            let mut seen = self.seen.lock().expect("not poisoned");
            let entry = seen.entry(key).or_default();
            entry.n = n;
            entry.attempts += 1;
            match (fault(n), entry.attempts) {
                (Fault::Unavailable, 1..=3) => 503,
                (Fault::BadRequest, _) => 400,
                (Fault::Dropped, 1) => 0,
                (Fault::CommittedThen500, 1) => {
                    entry.commits += 1;
                    500
                }
                _ => {
                    entry.commits += 1;
                    201
                }
            }
        };
        if status == 0 {
            return; // dropped: the socket closes with no answer
        }
        let reply = format!(
            "HTTP/1.1 {status} X\r\ncontent-length: 2\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{{}}"
        );
        let _ = socket.write_all(reply.as_bytes()).await;
        let _ = socket.shutdown().await;
    }

    pub fn snapshot(&self) -> HashMap<String, KeySeen> {
        self.seen.lock().expect("not poisoned").clone()
    }
}

/// A worker's client: one retry per delivery, no breaker (its opening would only add
/// redeliveries), the shared ledger and dead-letter sink.
pub fn client(ledger: SharedStore, sink: SharedSink) -> Client {
    Client::builder()
        .retry(
            RetryConfig::default()
                .max_retries(1)
                .base_delay(Duration::from_millis(5))
                .max_delay(Duration::from_millis(10))
                .without_budget(),
        )
        .without_breaker()
        .without_rate_limit()
        .shared_idempotency_store(ledger)
        .shared_dead_letter_sink(sink)
        .build(reqwest::Client::new())
        .expect("valid client")
}

pub fn worker_config() -> WorkerConfig {
    WorkerConfig::default()
        .concurrency(8)
        .batch(8)
        .max_deliveries(6)
        .backoff_base(Duration::from_millis(40))
        .backoff_max(Duration::from_millis(150))
        .broker_timeout(Duration::from_secs(5))
        .key_prefix("orders")
}

/// The handler: decode the order (poison when it is not JSON), post it with the event's key.
/// With `crash_after`, once that many events were applied, every later applied event
/// hangs after its call, before its ack: the consumer "crashes" holding them.
pub fn handler(
    client: Client,
    url: String,
    crash_after: Option<(usize, Arc<AtomicUsize>, Arc<AtomicUsize>)>,
) -> impl Fn(Event) -> futures_util::future::BoxFuture<'static, Result<(), HandleError>>
+ Send
+ Sync
+ 'static {
    move |event: Event| {
        let client = client.clone();
        let url = url.clone();
        let crash = crash_after.clone();
        Box::pin(async move {
            let order: serde_json::Value = serde_json::from_slice(&event.payload)
                .map_err(|e| HandleError::Poison(e.into()))?;
            client
                .post(url.as_str())
                .idempotency_key(&event.idempotency_key)
                .json(&order)
                .send()
                .await?;
            if let Some((after, applied, stuck)) = crash
                && applied.fetch_add(1, Ordering::SeqCst) >= after
            {
                stuck.fetch_add(1, Ordering::SeqCst);
                std::future::pending::<()>().await;
            }
            Ok(())
        })
    }
}

/// Runs the scenario: publishes 1,000 orders and 10 poison messages through `publisher`,
/// runs consumer `a` (which crashes after 60 applied events holding 8 unacknowledged
/// messages, and is aborted) and consumer `b`, and checks every event's fate from the API's
/// counts and the queue's and the client's dead letters.
pub async fn run<Q: Queue + Clone>(publisher: Q, a: Q, b: Q, ledgers: [SharedStore; 2]) {
    let api = OrdersApi::default();
    let url = api.start().await;
    let sink: SharedSink = Arc::new(MemorySink::new(10_000));

    let mut ids: BTreeMap<String, Option<u32>> = BTreeMap::new();
    for n in 0..EVENTS {
        let body =
            serde_json::to_vec(&serde_json::json!({ "n": n, "sku": "SKU-1" })).expect("json");
        let id = publisher.publish(&body).await.expect("published");
        ids.insert(id, Some(n));
        if n % (EVENTS / POISON) == 0 {
            let id = publisher.publish(b"{not json").await.expect("published");
            ids.insert(id, None);
        }
    }
    assert_eq!(
        ids.len(),
        (EVENTS + POISON) as usize,
        "distinct message ids"
    );

    let [ledger_a, ledger_b] = ledgers;
    let (applied, stuck) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let client_a = client(ledger_a, Arc::clone(&sink));
    let letters_a = client_a
        .dead_letters()
        .expect("the client keeps dead letters");
    let crashing = handler(
        client_a,
        url.clone(),
        Some((60, Arc::clone(&applied), Arc::clone(&stuck))),
    );
    let worker_a = Worker::new(a, crashing, worker_config())
        .expect("valid")
        .resolve_client_letters(letters_a);
    let task_a = tokio::spawn(async move { worker_a.run(std::future::pending()).await });

    // Consumer A crashes once all its slots hang between a call and its ack.
    wait_for("consumer A to hang on 8 events", || {
        stuck.load(Ordering::SeqCst) >= 8
    })
    .await;
    task_a.abort();
    let _ = task_a.await;

    let client_b = client(ledger_b, Arc::clone(&sink));
    let letters_b = client_b
        .dead_letters()
        .expect("the client keeps dead letters");
    let worker_b = Worker::new(b, handler(client_b, url, None), worker_config())
        .expect("valid")
        .resolve_client_letters(letters_b);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let runner = worker_b.clone();
    let task_b = tokio::spawn(async move {
        runner
            .run(async {
                let _ = stopped.await;
            })
            .await
    });

    let expected_dead = (0..EVENTS)
        .filter(|n| {
            matches!(
                fault(*n),
                Fault::BadRequest | Fault::Dropped | Fault::CommittedThen500
            )
        })
        .count()
        + POISON as usize;
    let expected_commits = (0..EVENTS)
        .filter(|n| !matches!(fault(*n), Fault::BadRequest | Fault::Dropped))
        .count();
    let queue = worker_b.queue().clone();
    let started = std::time::Instant::now();
    let dead = loop {
        let commits: u32 = api.snapshot().values().map(|s| s.commits).sum();
        let dead = queue
            .dead_messages(10_000)
            .await
            .expect("dead letters readable");
        if commits as usize >= expected_commits && dead.len() >= expected_dead {
            break dead;
        }
        assert!(
            started.elapsed() < Duration::from_secs(45),
            "not done after 45 s: {commits}/{expected_commits} commits, {}/{expected_dead} dead, stats {:?}",
            dead.len(),
            worker_b.stats()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let _ = stop.send(());
    let stats = task_b.await.expect("worker B ran");
    assert!(
        stats.acked > 0 && stats.dead_lettered > 0,
        "consumer B took over: {stats:?}"
    );

    check(&api, &ids, &dead, &sink).await;
    assert!(
        stats.retried > 0,
        "503s were left for redelivery: {stats:?}"
    );
}

async fn check(
    api: &OrdersApi,
    ids: &BTreeMap<String, Option<u32>>,
    dead: &[steadfast::flow::queue::DeadMessage],
    sink: &SharedSink,
) {
    let seen = api.snapshot();
    let mut by_n: HashMap<u32, &KeySeen> = HashMap::new();
    for (key, s) in &seen {
        assert!(s.commits <= 1, "key {key} committed {} times", s.commits);
        assert!(
            by_n.insert(s.n, s).is_none(),
            "event {} sent under two keys",
            s.n
        );
    }
    let mut dead_by_id: HashMap<&str, DeadReason> = HashMap::new();
    for d in dead {
        assert!(
            dead_by_id.insert(d.id.as_str(), d.note.reason).is_none(),
            "message {} dead-lettered twice",
            d.id
        );
        assert_eq!(d.note.idempotency_key, format!("orders-{}", d.id));
    }
    let letters = sink
        .list(&LetterFilter::default().limit(100_000))
        .await
        .expect("letters");
    for (id, n) in ids {
        let reason = dead_by_id.get(id.as_str()).copied();
        let Some(n) = n else {
            assert_eq!(reason, Some(DeadReason::Poison), "poison message {id}");
            continue;
        };
        let s = by_n.get(n).copied().cloned().unwrap_or_default();
        let key = format!("orders-{id}");
        let expected = match fault(*n) {
            Fault::BadRequest => (0, Some(DeadReason::Permanent)),
            Fault::Dropped => (0, Some(DeadReason::OutcomeUnknown)),
            Fault::CommittedThen500 => (1, Some(DeadReason::OutcomeUnknown)),
            Fault::Unavailable | Fault::None => (1, None),
        };
        assert_eq!(
            (s.commits, reason),
            expected,
            "event {n} (message {id}): {s:?}"
        );
        if fault(*n) == Fault::Unavailable {
            assert!(s.attempts >= 4, "event {n} was redelivered: {s:?}");
            // Its failed deliveries left letters, resolved once a later one succeeded.
            let mine: Vec<_> = letters
                .iter()
                .filter(|l| l.idempotency_key.as_deref() == Some(key.as_str()))
                .collect();
            assert!(
                !mine.is_empty(),
                "event {n}'s failed deliveries left no letter"
            );
            for letter in mine {
                assert_eq!(
                    letter.state,
                    LetterState::Resolved,
                    "event {n} was applied, its letter {letter}"
                );
            }
        }
        if expected.1.is_some() {
            assert!(
                letters
                    .iter()
                    .any(|l| l.idempotency_key.as_deref() == Some(key.as_str())),
                "the client's dead letter for event {n}"
            );
        }
    }
}

pub async fn wait_for(what: &str, done: impl Fn() -> bool) {
    let started = std::time::Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Runs a worker on `queue` while its broker is down (`restart` brings it back once the
/// worker has failed to receive twice) and checks it then handles `{"n":7}`, published
/// before the outage, and acknowledges it.
pub async fn handles_the_event_published_before_an_outage<Q: Queue + Clone>(
    queue: Q,
    restart: impl FnOnce(),
) {
    let signal = Arc::new(tokio::sync::Notify::new());
    let notify = Arc::clone(&signal);
    let handler = move |event: Event| {
        let notify = Arc::clone(&notify);
        async move {
            assert_eq!(&event.payload[..], b"{\"n\":7}");
            notify.notify_one();
            Ok::<(), HandleError>(())
        }
    };
    let settings = WorkerConfig::default().broker_backoff_max(Duration::from_millis(100));
    let worker = Worker::new(queue, handler, settings).expect("valid");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let background = worker.clone();
    let task = tokio::spawn(async move {
        background
            .run(async {
                let _ = stopped.await;
            })
            .await
    });
    wait_for("failed receives", || worker.stats().broker_errors >= 2).await;
    restart();
    tokio::time::timeout(Duration::from_secs(20), signal.notified())
        .await
        .expect("the worker recovered and handled the event published before the outage");
    let _ = stop.send(());
    let stats = task.await.expect("ran");
    assert!(stats.broker_errors >= 2, "{stats:?}");
    wait_for("the ack", || worker.stats().acked == 1).await;
}
