//! One scripted HTTP/1.1 server on 127.0.0.1:0, for what wiremock cannot do.
//!
//! It runs in the test's own runtime, so it reads the same (possibly paused) clock as the
//! client: it stamps arrivals in virtual time, can keep a penalty window, and can dribble a
//! body on virtual time. It answers request `n` (from 0) with whatever the script says.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// A body sent after the head, `chunk` bytes of `x` per write, `gap` apart.
#[derive(Debug, Clone, Copy)]
pub struct Body {
    /// The `Content-Length` announced.
    pub len: u64,
    /// How many bytes are sent before the server hangs up (unless the client stops first).
    stop: u64,
    chunk: usize,
    gap: Duration,
}

impl Body {
    /// `len` bytes, one every `gap`.
    pub fn dribble(len: u64, gap: Duration) -> Self {
        Self {
            len,
            stop: len,
            chunk: 1,
            gap,
        }
    }

    /// Announces `len` bytes, sends `sent` of them at once and hangs up.
    pub fn cut(len: u64, sent: u64) -> Self {
        Self {
            stop: sent,
            ..Self::huge(len)
        }
    }

    /// `len` bytes as fast as the client takes them, made up as they go (64 KiB a write).
    pub fn huge(len: u64) -> Self {
        Self {
            len,
            stop: len,
            chunk: 64 * 1024,
            gap: Duration::ZERO,
        }
    }
}

/// What the server answers one request with.
#[derive(Debug, Clone, Default)]
pub struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Option<Body>,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Self {
            status,
            ..Self::default()
        }
    }

    #[must_use]
    pub fn header(mut self, name: &str, value: &dyn std::fmt::Display) -> Self {
        self.headers.push((name.to_owned(), value.to_string()));
        self
    }

    /// A body after the head; a reply with a body ends its connection once it is written.
    #[must_use]
    pub fn body(mut self, body: Body) -> Self {
        self.body = Some(body);
        self
    }
}

/// One request as the server saw it: when, and what it answered.
#[derive(Debug, Clone, Copy)]
pub struct Arrival {
    pub at: Instant,
    pub status: u16,
}

type Script = dyn Fn(usize, Instant) -> Reply + Send + Sync;

/// Shared between the server's tasks and the test.
#[derive(Default)]
struct Seen {
    count: AtomicUsize,
    arrivals: Mutex<Vec<Arrival>>,
    /// Body bytes written.
    written: AtomicU64,
    /// Connections open now.
    connections: AtomicU64,
}

/// The server; it stops when dropped.
pub struct Server {
    /// `http://127.0.0.1:port`, the origin.
    pub base: String,
    seen: Arc<Seen>,
    task: JoinHandle<()>,
}

impl Server {
    /// Starts a server that answers request `n` (from 0), arriving at `at`, with
    /// `script(n, at)`.
    pub async fn start(script: impl Fn(usize, Instant) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let script: Arc<Script> = Arc::new(script);
        let seen = Arc::new(Seen::default());
        let shared = Arc::clone(&seen);
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (script, seen) = (Arc::clone(&script), Arc::clone(&shared));
                tokio::spawn(async move {
                    seen.connections.fetch_add(1, Ordering::SeqCst);
                    // A client closing its connection ends the task; nothing to report.
                    let _ = serve(socket, &*script, &seen).await;
                    seen.connections.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Self { base, seen, task }
    }

    /// Starts a server that answers every request with `reply`.
    pub async fn always(reply: Reply) -> Self {
        Self::start(move |_, _| reply.clone()).await
    }

    /// The URL of `/orders` (the server answers any path alike).
    pub fn url(&self) -> String {
        self.url_at("/orders")
    }

    pub fn url_at(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn arrivals(&self) -> Vec<Arrival> {
        self.seen.arrivals.lock().expect("not poisoned").clone()
    }

    /// How many requests were answered with `status`.
    pub fn count(&self, status: u16) -> usize {
        self.arrivals()
            .iter()
            .filter(|a| a.status == status)
            .count()
    }

    /// Body bytes written so far.
    pub fn written(&self) -> u64 {
        self.seen.written.load(Ordering::SeqCst)
    }

    /// Waits (at most `limit` of real time) until every connection has ended.
    pub async fn all_closed(&self, limit: Duration) -> bool {
        let start = std::time::Instant::now();
        while self.seen.connections.load(Ordering::SeqCst) > 0 {
            if start.elapsed() > limit {
                return false;
            }
            tokio::task::yield_now().await;
            std::thread::sleep(Duration::from_millis(1));
        }
        true
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(socket: TcpStream, script: &Script, seen: &Seen) -> std::io::Result<()> {
    let (read, mut write) = socket.into_split();
    let mut read = BufReader::new(read);
    let mut line = String::new();
    loop {
        line.clear();
        if read.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let mut body = 0;
        loop {
            line.clear();
            read.read_line(&mut line).await?;
            if line.trim().is_empty() {
                break;
            }
            let lower = line.to_ascii_lowercase();
            if let Some(length) = lower.strip_prefix("content-length:") {
                body = length.trim().parse().unwrap_or(0);
            }
        }
        read.read_exact(&mut vec![0; body]).await?;
        let at = Instant::now();
        let reply = script(seen.count.fetch_add(1, Ordering::SeqCst), at);
        seen.arrivals.lock().expect("not poisoned").push(Arrival {
            at,
            status: reply.status,
        });
        let len = reply.body.map_or(0, |body| body.len);
        let mut head = format!("HTTP/1.1 {} X\r\ncontent-length: {len}\r\n", reply.status);
        for (name, value) in &reply.headers {
            head.push_str(name);
            head.push_str(": ");
            head.push_str(value);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        write.write_all(head.as_bytes()).await?;
        if let Some(body) = reply.body {
            write_body(&mut write, body, &seen.written).await?;
            return Ok(());
        }
    }
}

/// Writes `body`; an error means the client stopped reading.
async fn write_body(
    write: &mut (impl AsyncWriteExt + Unpin),
    body: Body,
    written: &AtomicU64,
) -> std::io::Result<()> {
    let chunk = vec![b'x'; body.chunk];
    let mut sent = 0;
    while sent < body.stop {
        let n = body
            .chunk
            .min(usize::try_from(body.stop - sent).unwrap_or(usize::MAX));
        write.write_all(&chunk[..n]).await?;
        sent += n as u64;
        written.fetch_add(n as u64, Ordering::SeqCst);
        if !body.gap.is_zero() {
            tokio::time::sleep(body.gap).await;
        }
    }
    Ok(())
}
