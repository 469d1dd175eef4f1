//! A `nats-server` child process with `JetStream`, on a free loopback port, for the suites that
//! need NATS.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::closed_port;

/// A `nats-server -js` child process storing in a fresh directory, killed when dropped.
pub struct NatsServer {
    child: Child,
    pub port: u16,
    dir: std::path::PathBuf,
}

impl NatsServer {
    pub fn start() -> Self {
        let port = closed_port();
        let dir =
            std::env::temp_dir().join(format!("steadfast-nats-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let child = Self::spawn(port, &dir);
        Self { child, port, dir }
    }

    /// Stops the server as a crash would; its `JetStream` files stay.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the killed server again, on its port and with its files.
    pub fn restart(&mut self) {
        self.child = Self::spawn(self.port, &self.dir);
    }

    fn spawn(port: u16, dir: &std::path::Path) -> Child {
        let child = Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "could not start nats-server ({e}). The NATS tests need it on the PATH: \
                     install nats-server (Debian package nats-server), or run `bash .ci/run`, \
                     which installs it"
                )
            });
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "nats-server did not start"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        child
    }

    /// The server's address, as a `nats://` URL.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
