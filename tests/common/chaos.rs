//! A seeded, fault-injecting invoices API on loopback that counts commits from its own side.
//!
//! Every `POST /invoices` names its logical call in the body (`{"ref": "call-17"}`); the
//! server decides each arrival's fate from `(seed, ref, n)`, where `n` counts that call's
//! arrivals, so the faults do not depend on the order the 64 tasks interleave in. A fault
//! happens either **before** the server acts (503, 429, a dropped connection: nothing
//! committed) or **after** it committed (a dropped connection, a 500, a hang past the
//! client's attempt timeout). The client cannot tell the two drops apart: both may have
//! been applied, as far as it knows.
//! `GET /invoices?ref=…` looks an invoice up by its reference and is never faulted: the
//! route a verifier asks.
//!
//! Everything the server knows sits behind one lock, so that a key's check and its commit
//! are one step, as a unique constraint makes them in a real database.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// Whether the API honours `Idempotency-Key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keys {
    /// A repeat of a committed key gets the stored answer and commits nothing.
    Dedupes,
    /// The header is ignored: a repeat commits again (most CRMs and ERPs).
    Ignores,
}

/// What the server does with one arrival.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fate {
    Ok,
    /// 503 before processing.
    Unavailable,
    /// 429 (`Retry-After: 0`) before processing.
    Throttled,
    /// Drops the connection before processing: nothing committed, but the client cannot
    /// tell it from a drop after committing (only a verifier can).
    DropThenNothing,
    /// Commits, then drops the connection without an answer.
    CommitThenDrop,
    /// Commits, then answers 500.
    CommitThen500,
    /// Commits, then hangs past the client's attempt timeout before answering 201.
    CommitThenHang,
}

/// The server's own records.
#[derive(Debug, Default)]
struct Books {
    /// POST arrivals per call.
    arrivals: HashMap<String, u32>,
    /// Invoices created per call.
    commits: HashMap<String, u32>,
    /// Dedupes mode: the answer stored per key.
    stored: HashMap<String, String>,
    /// How many arrivals got each fate.
    fates: HashMap<Fate, u64>,
    /// Lookups answered.
    lookups: u64,
}

#[derive(Debug)]
struct State {
    keys: Keys,
    seed: u64,
    /// Faults per million arrivals.
    fault_ppm: u64,
    hang: Duration,
    books: Mutex<Books>,
}

impl State {
    fn books(&self) -> MutexGuard<'_, Books> {
        self.books.lock().expect("not poisoned")
    }
}

/// The running API. The server task lives until the test's runtime ends.
#[derive(Debug, Clone)]
pub struct ChaosApi {
    addr: SocketAddr,
    state: Arc<State>,
}

impl ChaosApi {
    /// Starts the API on 127.0.0.1 with `fault_rate` (0.0..=1.0) of arrivals faulted; a
    /// hang lasts `hang`.
    pub async fn start(keys: Keys, seed: u64, fault_rate: f64, hang: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("bound address");
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let fault_ppm = (fault_rate * 1_000_000.0) as u64;
        let state = Arc::new(State {
            keys,
            seed,
            fault_ppm,
            hang,
            books: Mutex::default(),
        });
        let serving = Arc::clone(&state);
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                let state = Arc::clone(&serving);
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let state = Arc::clone(&state);
                        async move { handle(&state, request).await }
                    });
                    // A dropped connection ends here with an error: expected.
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(socket), service)
                        .await;
                });
            }
        });
        Self { addr, state }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Invoices created per call, as the server counted them.
    pub fn commits(&self) -> HashMap<String, u32> {
        self.state.books().commits.clone()
    }

    /// POST arrivals per call.
    pub fn arrivals(&self) -> HashMap<String, u32> {
        self.state.books().arrivals.clone()
    }

    /// POST arrivals in all.
    pub fn total_arrivals(&self) -> u64 {
        self.state
            .books()
            .arrivals
            .values()
            .map(|&n| u64::from(n))
            .sum()
    }

    /// How many arrivals got each fate, in a stable order.
    pub fn fates(&self) -> Vec<(Fate, u64)> {
        let mut fates: Vec<_> = self.state.books().fates.clone().into_iter().collect();
        fates.sort();
        fates
    }

    /// Lookups answered.
    pub fn lookups(&self) -> u64 {
        self.state.books().lookups
    }
}

/// splitmix64: a small, well-mixed hash of the seed, the call and its arrival number.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn fate(state: &State, reference: &str, n: u32) -> Fate {
    let mut h = mix(state.seed);
    for b in reference.bytes() {
        h = mix(h ^ u64::from(b));
    }
    h = mix(h ^ u64::from(n));
    if h % 1_000_000 >= state.fault_ppm {
        return Fate::Ok;
    }
    match mix(h) % 6 {
        0 => Fate::Unavailable,
        1 => Fate::Throttled,
        2 => Fate::DropThenNothing,
        3 => Fate::CommitThenDrop,
        4 => Fate::CommitThen500,
        _ => Fate::CommitThenHang,
    }
}

type Reply = Result<Response<Full<Bytes>>, std::io::Error>;

fn reply(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .expect("valid response")
}

fn invoice(reference: &str) -> String {
    format!(r#"{{"id":"inv-{reference}","ref":"{reference}"}}"#)
}

async fn handle(state: &State, request: Request<Incoming>) -> Reply {
    if request.method() == Method::GET {
        let reference = request
            .uri()
            .query()
            .and_then(|q| q.split('&').find_map(|pair| pair.strip_prefix("ref=")))
            .unwrap_or_default()
            .to_owned();
        let mut books = state.books();
        books.lookups += 1;
        let found = if books.commits.get(&reference).copied().unwrap_or(0) > 0 {
            format!("[{}]", invoice(&reference))
        } else {
            "[]".to_owned()
        };
        return Ok(reply(StatusCode::OK, found));
    }
    let key = request
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = request
        .into_body()
        .collect()
        .await
        .map_err(std::io::Error::other)?
        .to_bytes();
    let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let reference = parsed["ref"].as_str().unwrap_or_default().to_owned();
    let (fate, answer) = {
        let mut books = state.books();
        let arrivals = books.arrivals.entry(reference.clone()).or_insert(0);
        let fate = fate(state, &reference, *arrivals);
        *arrivals += 1;
        *books.fates.entry(fate).or_insert(0) += 1;
        let stored = match (state.keys, &key) {
            (Keys::Dedupes, Some(key)) => books.stored.get(key).cloned(),
            _ => None,
        };
        let answer = match fate {
            Fate::Unavailable | Fate::Throttled | Fate::DropThenNothing => None,
            // A key the server already committed: its stored answer, nothing created.
            _ if stored.is_some() => stored,
            _ => {
                *books.commits.entry(reference.clone()).or_insert(0) += 1;
                let answer = invoice(&reference);
                if let (Keys::Dedupes, Some(key)) = (state.keys, key) {
                    books.stored.insert(key, answer.clone());
                }
                Some(answer)
            }
        };
        (fate, answer)
    };
    match (fate, answer) {
        (Fate::Unavailable, _) => Ok(reply(StatusCode::SERVICE_UNAVAILABLE, "{}".to_owned())),
        (Fate::Throttled, _) => {
            let mut response = reply(StatusCode::TOO_MANY_REQUESTS, "{}".to_owned());
            response
                .headers_mut()
                .insert("retry-after", hyper::header::HeaderValue::from_static("0"));
            Ok(response)
        }
        (Fate::DropThenNothing, _) => Err(std::io::Error::other("dropped before processing")),
        (Fate::CommitThenDrop, _) => Err(std::io::Error::other("dropped after commit")),
        (Fate::CommitThen500, _) => Ok(reply(StatusCode::INTERNAL_SERVER_ERROR, "{}".to_owned())),
        (Fate::CommitThenHang, answer) => {
            tokio::time::sleep(state.hang).await;
            Ok(reply(StatusCode::CREATED, answer.unwrap_or_default()))
        }
        (Fate::Ok, answer) => Ok(reply(StatusCode::CREATED, answer.unwrap_or_default())),
    }
}
