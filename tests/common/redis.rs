//! A `redis-server` child process on a free loopback port, for the suites that need Redis.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::closed_port;

/// A `redis-server` child process, killed when dropped.
pub struct RedisServer {
    child: Child,
    pub port: u16,
    args: Vec<String>,
}

impl RedisServer {
    pub fn start() -> Self {
        Self::start_with(&["--save", "", "--appendonly", "no"])
    }

    /// A server that logs every write to an append-only file before answering, in a fresh
    /// directory: killed and restarted, it has all its data.
    pub fn start_durable() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "steadfast-redis-{}-{}",
            std::process::id(),
            closed_port()
        ));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let dir = dir.to_str().expect("utf-8 path").to_owned();
        Self::start_with(&[
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--dir",
            &dir,
        ])
    }

    pub fn start_with(args: &[&str]) -> Self {
        let port = closed_port();
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let child = Self::spawn(port, &args);
        Self { child, port, args }
    }

    /// Kills the server at once: no shutdown, no final save.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the killed server again, on its port and with its files.
    pub fn restart(&mut self) {
        self.child = Self::spawn(self.port, &self.args);
    }

    fn spawn(port: u16, args: &[String]) -> Child {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(args)
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "could not start redis-server ({e}). The Redis tests need it on the PATH: \
                     `apt-get install redis-server` on Debian, or run `bash .ci/run`, which \
                     installs it"
                )
            });
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        child
    }

    /// The server's address, as a `redis://` URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
