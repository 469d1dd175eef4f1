//! A loopback HTTP/1.1 server whose status is set on command and whose answers take a
//! virtual-time delay, noticing clients that hang up while it waits (a cancelled attempt).
//!
//! It runs in the test's runtime, on the test's (paused) clock, like `server`.

use std::sync::atomic::{AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::Instant;

#[derive(Default)]
struct State {
    status: AtomicU16,
    /// Milliseconds each answer waits.
    delay_ms: AtomicU64,
    /// Extra headers of every answer.
    headers: Mutex<Vec<(String, String)>>,
    body: Mutex<String>,
    arrivals: Mutex<Vec<(Instant, String)>>,
    answered: AtomicUsize,
    dropped: AtomicUsize,
}

/// The server; it stops when dropped.
pub struct Api {
    pub base: String,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl Api {
    /// Answers `status` at once until told otherwise.
    pub async fn start(status: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let state = Arc::new(State::default());
        state.status.store(status, Ordering::SeqCst);
        let shared = Arc::clone(&state);
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let state = Arc::clone(&shared);
                tokio::spawn(async move {
                    let _ = serve(socket, &state).await;
                });
            }
        });
        Self { base, state, task }
    }

    pub fn url(&self) -> String {
        format!("{}/orders", self.base)
    }

    /// From now on, answers `status`.
    pub fn set(&self, status: u16) {
        self.state.status.store(status, Ordering::SeqCst);
    }

    /// From now on, every answer waits `delay` (virtual time).
    pub fn delay(&self, delay: Duration) {
        let ms = u64::try_from(delay.as_millis()).expect("short");
        self.state.delay_ms.store(ms, Ordering::SeqCst);
    }

    /// From now on, every answer carries `name: value` too.
    pub fn header(&self, name: &str, value: &str) {
        let mut headers = self.state.headers.lock().expect("not poisoned");
        headers.push((name.to_owned(), value.to_owned()));
    }

    /// From now on, every answer has `body`.
    pub fn body(&self, body: &str) {
        body.clone_into(&mut self.state.body.lock().expect("not poisoned"));
    }

    /// Drops the extra headers.
    pub fn clear_headers(&self) {
        self.state.headers.lock().expect("not poisoned").clear();
    }

    /// Requests that arrived so far.
    pub fn arrived(&self) -> usize {
        self.state.arrivals.lock().expect("not poisoned").len()
    }

    /// When each request arrived, with its method.
    pub fn arrivals(&self) -> Vec<(Instant, String)> {
        self.state.arrivals.lock().expect("not poisoned").clone()
    }

    pub fn answered(&self) -> usize {
        self.state.answered.load(Ordering::SeqCst)
    }

    /// Requests whose client hung up before the answer.
    pub fn dropped(&self) -> usize {
        self.state.dropped.load(Ordering::SeqCst)
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(socket: TcpStream, state: &State) -> std::io::Result<()> {
    let (read, mut write) = socket.into_split();
    let mut read = BufReader::new(read);
    let mut line = String::new();
    loop {
        line.clear();
        if read.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let method = line.split(' ').next().unwrap_or_default().to_owned();
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
        state
            .arrivals
            .lock()
            .expect("not poisoned")
            .push((Instant::now(), method.clone()));
        let delay = Duration::from_millis(state.delay_ms.load(Ordering::SeqCst));
        if !delay.is_zero() {
            let mut probe = [0_u8; 1];
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                _ = read.read(&mut probe) => {
                    // The client hung up (or sent more, which these tests never do).
                    state.dropped.fetch_add(1, Ordering::SeqCst);
                    return Ok(());
                }
            }
        }
        let status = state.status.load(Ordering::SeqCst);
        let body = state.body.lock().expect("not poisoned").clone();
        let body = if method == "HEAD" {
            String::new()
        } else {
            body
        };
        let mut head = format!("HTTP/1.1 {status} X\r\ncontent-length: {}\r\n", body.len());
        for (name, value) in state.headers.lock().expect("not poisoned").iter() {
            for part in [name.as_str(), ": ", value.as_str(), "\r\n"] {
                head.push_str(part);
            }
        }
        head.push_str("\r\n");
        head.push_str(&body);
        write.write_all(head.as_bytes()).await?;
        state.answered.fetch_add(1, Ordering::SeqCst);
    }
}
