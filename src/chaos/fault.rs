//! The faults the layer injects, and the error that marks an injected one.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use reqwest::StatusCode;
use serde::{Deserialize, Serialize};

/// One fault to inject into a call.
///
/// In a file, a fault is a table with a `kind`: `{ kind = "latency", delay = "250ms" }`,
/// `{ kind = "status", status = 429, headers = { "retry-after" = "2" } }`,
/// `{ kind = "reset_before" }`, `{ kind = "timeout_after" }`, `{ kind = "reset_after" }`,
/// `{ kind = "pass" }`.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// The call goes through untouched (a step of a script that injects nothing).
    Pass,
    /// The request waits `delay` before it is sent, then goes through.
    Latency {
        /// How long the request waits.
        #[serde(with = "humantime_serde")]
        delay: Duration,
    },
    /// The call is answered with this status and headers without reaching the server: a
    /// `reqwest::Response` with an empty body and the request's URL.
    Status {
        /// The status code.
        status: u16,
        /// Headers of the response, by name.
        #[serde(default)]
        headers: BTreeMap<String, String>,
    },
    /// The connection fails before the request is sent: the server never sees it, and the
    /// caller gets the connect error the transport reports (not applied).
    ResetBefore,
    /// The request reaches the server and its response arrives, then the caller gets an
    /// attempt timeout instead: applied, but unknown to the caller.
    TimeoutAfter,
    /// The request reaches the server and its response arrives, then the caller gets a
    /// connection reset instead: applied, but unknown to the caller.
    ResetAfter,
}

impl Fault {
    /// A delay of `delay` before the request is sent.
    #[must_use]
    pub fn latency(delay: Duration) -> Self {
        Self::Latency { delay }
    }

    /// A response with `status` and no headers.
    #[must_use]
    pub fn status(status: StatusCode) -> Self {
        Self::Status {
            status: status.as_u16(),
            headers: BTreeMap::new(),
        }
    }

    /// A 429 with `Retry-After` in whole seconds (rounded up).
    #[must_use]
    pub fn too_many_requests(retry_after: Duration) -> Self {
        let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
        Self::status(StatusCode::TOO_MANY_REQUESTS).header("retry-after", seconds.to_string())
    }

    /// Adds a header to a [`Fault::Status`]; other faults are returned unchanged.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        if let Self::Status { headers, .. } = &mut self {
            headers.insert(name.into(), value.into());
        }
        self
    }

    /// The kind's name, as in a file and in [`InjectedFault`]'s message.
    #[must_use]
    pub fn kind(&self) -> FaultKind {
        match self {
            Self::Pass => FaultKind::Pass,
            Self::Latency { .. } => FaultKind::Latency,
            Self::Status { .. } => FaultKind::Status,
            Self::ResetBefore => FaultKind::ResetBefore,
            Self::TimeoutAfter => FaultKind::TimeoutAfter,
            Self::ResetAfter => FaultKind::ResetAfter,
        }
    }
}

/// The kind of a [`Fault`], without its settings.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// [`Fault::Pass`].
    Pass,
    /// [`Fault::Latency`].
    Latency,
    /// [`Fault::Status`].
    Status,
    /// [`Fault::ResetBefore`].
    ResetBefore,
    /// [`Fault::TimeoutAfter`].
    TimeoutAfter,
    /// [`Fault::ResetAfter`].
    ResetAfter,
}

impl FaultKind {
    /// The name used in files: `pass`, `latency`, `status`, `reset_before`,
    /// `timeout_after`, `reset_after`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Latency => "latency",
            Self::Status => "status",
            Self::ResetBefore => "reset_before",
            Self::TimeoutAfter => "timeout_after",
            Self::ResetAfter => "reset_after",
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Marks a connection error as injected by the chaos layer.
///
/// It is the payload of the [`io::Error`](std::io::Error) an injected reset carries, whose
/// kind decides the classification, as for a real one: `ConnectionRefused` for
/// [`Fault::ResetBefore`] (a connection reset while it was being opened, as the operating
/// system reports it), `ConnectionReset` for [`Fault::ResetAfter`]. Find it with
/// [`io::Error::get_ref`](std::io::Error::get_ref) and `downcast_ref`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("connection fault injected by the chaos layer: {kind}")]
pub struct InjectedFault {
    kind: FaultKind,
}

impl InjectedFault {
    pub(crate) fn new(kind: FaultKind) -> Self {
        Self { kind }
    }

    /// Which fault was injected.
    #[must_use]
    pub fn kind(&self) -> FaultKind {
        self.kind
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_read_from_a_file() {
        let table = [
            (r#"{ "kind": "pass" }"#, Fault::Pass),
            (
                r#"{ "kind": "latency", "delay": "250ms" }"#,
                Fault::latency(Duration::from_millis(250)),
            ),
            (
                r#"{ "kind": "status", "status": 429, "headers": { "retry-after": "2" } }"#,
                Fault::too_many_requests(Duration::from_secs(2)),
            ),
            (
                r#"{ "kind": "status", "status": 503 }"#,
                Fault::status(StatusCode::SERVICE_UNAVAILABLE),
            ),
            (r#"{ "kind": "reset_before" }"#, Fault::ResetBefore),
            (r#"{ "kind": "timeout_after" }"#, Fault::TimeoutAfter),
            (r#"{ "kind": "reset_after" }"#, Fault::ResetAfter),
        ];
        for (text, fault) in table {
            let read: Fault = serde_json::from_str(text).expect(text);
            assert_eq!(read, fault, "{text}");
            assert_eq!(
                read.kind().as_str(),
                text.split('"').nth(3).expect("a kind")
            );
        }
    }

    #[test]
    fn retry_after_is_rounded_up_to_whole_seconds() {
        let fault = Fault::too_many_requests(Duration::from_millis(1500));
        assert_eq!(
            fault,
            Fault::status(StatusCode::TOO_MANY_REQUESTS).header("retry-after", "2")
        );
    }

    #[test]
    fn an_unknown_kind_is_refused() {
        assert!(serde_json::from_str::<Fault>(r#"{ "kind": "explode" }"#).is_err());
    }
}
