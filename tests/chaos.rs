//! Never twice, nothing lost: 10,000 logical POSTs, 64 at a time, against a seeded API that
//! faults 30 % of arrivals, before it acts (503, 429, a dropped connection) or after it
//! committed (a dropped connection, a 500, a hang past the attempt timeout). The server counts commits per call
//! from its own side, and every assertion reads that count:
//!
//! - no call is committed twice;
//! - a call reported not applied was committed 0 times;
//! - a call reported `Ok` was committed exactly once;
//! - with a verifier, at most 1 % of calls end unknown;
//! - a job that runs twice with named keys sends nothing the second time for calls the
//!   first run applied or left unknown, and a key settled by hand is replayed after.
//!
//! The retry budget is off, so that every call may use all four attempts: the harshest case
//! for "never twice". The assertions hold whatever the machine's speed: a normal answer
//! slower than the attempt timeout was still committed, so it ends unknown (or verified),
//! never twice. With feature `chaos`, one more run injects the faults with the crate's own
//! `ChaosLayer` instead, against the same API with no faults of its own. Run with `--nocapture` to see the tallies the README quotes.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use common::chaos::{ChaosApi, Keys};
use futures_util::StreamExt as _;
use reqwest::Method;
use steadfast::classify::Applied;
use steadfast::idempotency::Replayed;
use steadfast::idempotency::store::{MemoryStore, Resolution, StoredResponse};
use steadfast::retry::RetryConfig;
use steadfast::verify::{Sender, Verification, Verified, VerifyRequest};
use steadfast::{Client, ClientBuilder, Error};

const CALLS: usize = 10_000;
const TASKS: usize = 64;
const FAULTS: f64 = 0.30;
const SEED: u64 = 0x5eed_f457;
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(500);
/// Longer than the attempt timeout: a hang always becomes a client-side timeout.
const HANG: Duration = Duration::from_secs(1);

/// How a call ended, as the caller was told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Told {
    /// `Ok` with the response of an attempt.
    Created,
    /// `Ok` with what the verifier found, marked [`Verified`].
    Verified,
    /// `Ok` from the ledger, marked [`Replayed`]: nothing sent.
    Replayed,
    /// `Err` whose outcome is not applied.
    NotApplied,
    /// `Err` whose outcome is unknown.
    Unknown,
    /// `Err(IdempotencyOutcomeUnknown)`: an earlier call's outcome is unknown, nothing sent.
    Held,
}

impl Told {
    fn is_ok(self) -> bool {
        matches!(self, Self::Created | Self::Verified | Self::Replayed)
    }
}

fn told(result: &Result<reqwest::Response, Error>) -> Told {
    match result {
        Ok(response) if Replayed::is(response) => Told::Replayed,
        Ok(response) if Verified::of(response) => Told::Verified,
        Ok(_) => Told::Created,
        Err(Error::IdempotencyOutcomeUnknown { .. }) => Told::Held,
        Err(error) if error.outcome() == Applied::NotApplied => Told::NotApplied,
        Err(_) => Told::Unknown,
    }
}

/// Short delays, no retry budget (every call may make all four attempts).
fn retry() -> RetryConfig {
    RetryConfig::default()
        .base_delay(Duration::from_millis(1))
        .max_delay(Duration::from_millis(20))
        .without_budget()
}

fn builder(retry: RetryConfig) -> ClientBuilder {
    Client::builder()
        .retry(retry)
        .attempt_timeout(ATTEMPT_TIMEOUT)
}

/// Looks the invoice up by the reference its POST carried: applied if the API has it, not
/// applied if it has none, unknown when the lookup fails.
async fn lookup(request: VerifyRequest, sender: Sender) -> Verification {
    let Some(body) = request.body else {
        return Verification::Unknown;
    };
    let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let Some(reference) = parsed["ref"].as_str() else {
        return Verification::Unknown;
    };
    let mut url = request.url;
    url.query_pairs_mut().clear().append_pair("ref", reference);
    let Ok(response) = sender.send(reqwest::Request::new(Method::GET, url)).await else {
        return Verification::Unknown;
    };
    if response.status() != 200 {
        return Verification::Unknown;
    }
    let Ok(found) = response.json::<Vec<serde_json::Value>>().await else {
        return Verification::Unknown;
    };
    match found.into_iter().next() {
        Some(invoice) => Verification::Applied(reqwest::Response::from(
            http::Response::builder()
                .status(201)
                .body(invoice.to_string())
                .expect("a valid response"),
        )),
        None => Verification::NotApplied,
    }
}

/// Sends `CALLS` logical POSTs, `TASKS` at a time; returns how each ended, by reference.
async fn run(api: &ChaosApi, client: &Client, named_keys: bool) -> HashMap<String, Told> {
    let url = api.url("/invoices");
    let ended: HashMap<String, Told> = futures_util::stream::iter(0..CALLS)
        .map(|i| {
            let (client, url) = (client.clone(), url.clone());
            async move {
                let reference = format!("call-{i}");
                let mut request = client
                    .post(url)
                    .json(&serde_json::json!({ "ref": reference, "total_cents": 1999 }));
                if named_keys {
                    request = request.idempotency_key(&format!("invoice-{reference}"));
                }
                let result = request.send().await;
                (reference, told(&result))
            }
        })
        .buffer_unordered(TASKS)
        .collect()
        .await;
    assert_eq!(ended.len(), CALLS, "every call ended once");
    ended
}

/// Where the server's books contradict what the callers were told.
fn broken_promises(api: &ChaosApi, ended: &HashMap<String, Told>) -> Vec<String> {
    let commits = api.commits();
    let mut broken: Vec<String> = commits
        .iter()
        .filter(|&(_, &n)| n > 1)
        .map(|(reference, n)| format!("{reference} committed {n} times"))
        .collect();
    for (reference, &told) in ended {
        let n = commits.get(reference).copied().unwrap_or(0);
        if told.is_ok() && n != 1 {
            broken.push(format!(
                "{reference} ended {told:?} but was committed {n} times"
            ));
        }
        if told == Told::NotApplied && n != 0 {
            broken.push(format!(
                "{reference} ended not applied but was committed {n} times"
            ));
        }
    }
    broken.sort();
    broken
}

/// The promise, from the server's side; returns how the calls ended, counted.
fn assert_never_twice(api: &ChaosApi, ended: &HashMap<String, Told>) -> BTreeMap<Told, usize> {
    let broken = broken_promises(api, ended);
    assert!(
        broken.is_empty(),
        "{} broken promises, first: {:?}",
        broken.len(),
        &broken[..broken.len().min(5)]
    );
    let mut tally = BTreeMap::new();
    for &told in ended.values() {
        *tally.entry(told).or_insert(0) += 1;
    }
    tally
}

fn report(mode: &str, api: &ChaosApi, tally: &BTreeMap<Told, usize>, started: Instant) {
    println!(
        "{mode}: {tally:?}; {} POST arrivals {:?}; {} lookups; {:.1?}",
        api.total_arrivals(),
        api.fates(),
        api.lookups(),
        started.elapsed(),
    );
}

fn count(tally: &BTreeMap<Told, usize>, told: Told) -> usize {
    tally.get(&told).copied().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_that_dedupes_keys_commits_each_call_once() {
    let started = Instant::now();
    let api = ChaosApi::start(Keys::Dedupes, SEED, FAULTS, HANG).await;
    let client = builder(retry().server_dedupes(true))
        .build(common::http())
        .expect("valid config");
    let ended = run(&api, &client, false).await;
    let tally = assert_never_twice(&api, &ended);
    report("dedupes", &api, &tally, started);
    // Trusted keys make every fault retryable: only four faults in a row end a call (99 %
    // applied; 78 % when unknown failures are not retried).
    assert!(
        count(&tally, Told::Created) * 100 >= CALLS * 95,
        "too few applied: {tally:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_that_ignores_keys_commits_each_call_at_most_once() {
    let started = Instant::now();
    let api = ChaosApi::start(Keys::Ignores, SEED, FAULTS, HANG).await;
    let client = builder(retry())
        .build(common::http())
        .expect("valid config");
    let ended = run(&api, &client, false).await;
    let tally = assert_never_twice(&api, &ended);
    report("ignores", &api, &tally, started);
    // Without a verifier, a POST that may have been applied is never sent again.
    assert!(count(&tally, Told::Unknown) > CALLS / 10, "{tally:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verifier_settles_nearly_every_unknown_attempt() {
    let started = Instant::now();
    let api = ChaosApi::start(Keys::Ignores, SEED, FAULTS, HANG).await;
    let client = builder(retry())
        .verifier(lookup)
        .build(common::http())
        .expect("valid config");
    let ended = run(&api, &client, false).await;
    let tally = assert_never_twice(&api, &ended);
    report("ignores + verifier", &api, &tally, started);
    let unknown = count(&tally, Told::Unknown);
    assert!(
        unknown * 100 <= CALLS,
        "{unknown} of {CALLS} calls ended unknown"
    );
    assert!(count(&tally, Told::Verified) > CALLS / 10, "{tally:?}");
    // A drop before processing was looked up, found missing and sent again.
    assert!(api.lookups() > count(&tally, Told::Verified) as u64 + 100);
}

/// The harness itself: a client told that an API dedupes keys it ignores must be caught
/// committing twice, or the assertions above could not fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trusting_keys_the_api_ignores_is_caught_committing_twice() {
    let api = ChaosApi::start(Keys::Ignores, SEED, FAULTS, HANG).await;
    let client = builder(retry().server_dedupes(true))
        .build(common::http())
        .expect("valid config");
    let url = api.url("/invoices");
    let ended: HashMap<String, Told> = futures_util::stream::iter(0..500)
        .map(|i| {
            let (client, url) = (client.clone(), url.clone());
            async move {
                let reference = format!("call-{i}");
                let result = client
                    .post(url)
                    .json(&serde_json::json!({ "ref": reference }))
                    .send()
                    .await;
                (reference, told(&result))
            }
        })
        .buffer_unordered(TASKS)
        .collect()
        .await;
    let broken = broken_promises(&api, &ended);
    assert!(
        broken.iter().any(|b| b.contains("committed 2 times")),
        "no double commit seen: {broken:?}"
    );
}

/// A job that runs twice with keys named after its invoices, sharing a memory ledger, then
/// a third time after someone settled the unknown keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_runs_twice_sends_nothing_for_applied_or_unknown_calls() {
    let started = Instant::now();
    let api = ChaosApi::start(Keys::Ignores, SEED, FAULTS, HANG).await;
    // Room for every key: a ledger that had to evict completed keys would let them through.
    let ledger = MemoryStore::new().max_entries(2 * CALLS);
    let job = || {
        // No retries: many calls end not applied, for the next run to send again.
        builder(retry().max_retries(0))
            .idempotency_store(ledger.clone())
            .build(common::http())
            .expect("valid config")
    };

    let first = run(&api, &job(), true).await;
    let tally = assert_never_twice(&api, &first);
    report("job, first run", &api, &tally, started);
    let sent_first = api.arrivals();

    let second = run(&api, &job(), true).await;
    let tally = assert_never_twice(&api, &second);
    report("job, second run", &api, &tally, started);
    let sent_second = api.arrivals();
    for (reference, &before) in &first {
        let now = second[reference];
        match before {
            Told::Created => assert_eq!(now, Told::Replayed, "{reference}"),
            Told::Unknown => assert_eq!(now, Told::Held, "{reference}"),
            _ => {}
        }
        if matches!(before, Told::Created | Told::Unknown) {
            assert_eq!(
                sent_second.get(reference),
                sent_first.get(reference),
                "{reference} ended {before:?} in the first run and was sent again"
            );
        }
    }
    // Not applied the first time: sent again (whether it arrived depends on the machine).
    let resent = first
        .iter()
        .filter(|&(_, &t)| t == Told::NotApplied)
        .inspect(|&(reference, _)| {
            let now = second[reference];
            assert!(
                !matches!(now, Told::Replayed | Told::Held),
                "{reference}: {now:?}"
            );
        })
        .count();
    assert!(
        resent > CALLS / 20,
        "{resent} calls were not applied in the first run"
    );

    // Someone checks every held key with the API and settles it.
    let client = job();
    let url = api.url("/invoices");
    let commits = api.commits();
    let mut settled = HashMap::new();
    for (reference, _) in second.iter().filter(|(_, t)| **t == Told::Held) {
        let resolution = if commits.get(reference).copied().unwrap_or(0) > 0 {
            Resolution::Applied(StoredResponse::new(
                reqwest::StatusCode::CREATED,
                &reqwest::header::HeaderMap::new(),
                Some(format!(r#"{{"ref":"{reference}"}}"#).as_bytes()),
            ))
        } else {
            Resolution::NotApplied
        };
        let applied = matches!(resolution, Resolution::Applied(_));
        let key = format!("invoice-{reference}");
        assert!(
            client
                .resolve_idempotency_key(Method::POST, &url, &key, resolution)
                .await
                .expect("the memory ledger answers"),
            "{key} was unknown"
        );
        settled.insert(reference.clone(), applied);
    }
    let third = run(&api, &client, true).await;
    let tally = assert_never_twice(&api, &third);
    report("job, third run", &api, &tally, started);
    let sent_third = api.arrivals();
    let applied = settled.values().filter(|&&applied| applied).count();
    println!(
        "settled by hand: {applied} applied, {} not applied",
        settled.len() - applied
    );
    for (reference, applied) in settled {
        if applied {
            assert_eq!(third[&reference], Told::Replayed, "{reference}");
            assert_eq!(
                sent_third.get(&reference),
                sent_second.get(&reference),
                "{reference}"
            );
        } else {
            let now = third[&reference];
            assert!(
                !matches!(now, Told::Replayed | Told::Held),
                "{reference}: {now:?}"
            );
        }
    }
}

/// The same promise with the faults injected by steadfast's own
/// [`ChaosLayer`](steadfast::chaos::ChaosLayer) at the attempt level, against the API with
/// none of its own: the server still counts commits, and with the default attempt timeout
/// every unknown outcome is an "after" fault the layer injected, committed exactly once.
#[cfg(feature = "chaos")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_injected_by_the_chaos_layer_keep_the_promise() {
    use reqwest::StatusCode;
    use steadfast::chaos::{ChaosConfig, ChaosLayer, ChaosRule, Fault, FaultKind};

    let started = Instant::now();
    let api = ChaosApi::start(Keys::Ignores, SEED, 0.0, HANG).await;
    // 30 % of attempts, as the server-side runs: 22 % before the server acts, 8 % after.
    let rule = ChaosRule::default()
        .method(Method::POST)
        .path("/invoices")
        .fault(Fault::status(StatusCode::SERVICE_UNAVAILABLE), 0.08)
        .fault(Fault::too_many_requests(Duration::ZERO), 0.06)
        .fault(Fault::ResetBefore, 0.08)
        .fault(Fault::ResetAfter, 0.05)
        .fault(Fault::TimeoutAfter, 0.03);
    let layer = ChaosLayer::new(&ChaosConfig::default().enabled(true).seed(SEED).rule(rule))
        .expect("valid chaos config");
    let stats = layer.stats().clone();
    let client = Client::builder()
        .retry(retry())
        .chaos(layer)
        .build(common::http())
        .expect("valid config");
    let ended = run(&api, &client, false).await;
    let tally = assert_never_twice(&api, &ended);
    report("chaos layer", &api, &tally, started);
    println!("injected: {stats:?}");

    let after = stats.injected(FaultKind::ResetAfter) + stats.injected(FaultKind::TimeoutAfter);
    assert_eq!(count(&tally, Told::Unknown) as u64, after, "{tally:?}");
    assert_eq!(
        api.commits().len(),
        count(&tally, Told::Created) + count(&tally, Told::Unknown),
        "every applied or unknown call committed, nothing else"
    );
    // Four faults before the server in a row (0.22⁴ of calls, about 23): not applied.
    assert!(count(&tally, Told::NotApplied) > 0, "{tally:?}");
    assert_eq!(
        api.total_arrivals(),
        api.commits().values().map(|&n| u64::from(n)).sum::<u64>(),
        "the server saw only what it committed"
    );
}
