//! Which errors mean the call was stopped before anything reached the server.

use super::Error;

impl Error {
    /// Whether steadfast refused the call itself before anything was sent: a local limit
    /// (rate limiter, shared quota, open circuit, full bulkhead), credentials that could not
    /// be had, the idempotency ledger, or a request or configuration that cannot be sent.
    /// The server saw nothing of the call, so the error says all there is to say: a retry
    /// layer hands it on as it is rather than wrapped in an attempt history, and a circuit
    /// does not count it against the host.
    ///
    /// Not the same as [`outcome`](Self::outcome) being `NotApplied`: a refused connection
    /// or a 503 are not applied too, but they were the server's (or the network's) answer.
    ///
    /// # Example
    ///
    /// ```
    /// # async fn example(client: steadfast::Client) {
    /// match client.post("http://127.0.0.1:9/invoices").send().await {
    ///     Ok(response) => println!("{}", response.status()),
    ///     Err(e) if e.refused_before_sending() => eprintln!("never sent: {e}"),
    ///     Err(e) => eprintln!("sent, and failed: {e}"),
    /// }
    /// # }
    /// ```
    #[must_use]
    pub fn refused_before_sending(&self) -> bool {
        // Every variant named, so that a new one must be sorted here.
        match self {
            Self::Config(_)
            | Self::InvalidRequest(_)
            | Self::IdempotencyKeyInFlight { .. }
            | Self::Ledger { .. }
            | Self::RateLimited { .. }
            | Self::QuotaUnavailable { .. }
            | Self::CircuitOpen { .. }
            | Self::BulkheadFull { .. }
            | Self::IdempotencyOutcomeUnknown { .. }
            | Self::Credentials { .. }
            | Self::IdempotencyKeyReused { .. } => true,
            // Sent (or maybe sent): the server or the network answered, or nothing did.
            Self::Timeout { .. }
            | Self::Decode(_)
            | Self::Transport { .. }
            | Self::RetriesExhausted { .. }
            | Self::NotRetried { .. }
            | Self::DeadlineExceeded { .. } => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use reqwest::Method;
    use tokio::time::Instant;

    use super::*;
    use crate::classify::{Classification, Reason};
    use crate::error::{ConfigError, CredentialsError, Failure, NotRetried, StoreError};
    use crate::key::IdempotencyKey;

    fn failure() -> Box<Failure> {
        Box::new(Failure::new(
            Method::POST,
            None,
            1,
            Classification::transient(Reason::Timeout),
            None,
        ))
    }

    /// One error of every variant that was sent, or may have been.
    fn sent() -> Vec<Error> {
        vec![
            Error::Timeout {
                elapsed: Duration::from_secs(1),
                idempotency_key: None,
            },
            Error::Decode(crate::mapper::DecodeError::Syntax {
                source: serde_json::from_str::<u8>("x").expect_err("not a number"),
            }),
            Error::transport("reset".into()),
            Error::RetriesExhausted {
                failure: failure(),
                source: None,
            },
            Error::NotRetried {
                why: NotRetried::Permanent,
                failure: failure(),
                source: None,
            },
            Error::DeadlineExceeded {
                failure: failure(),
                source: None,
            },
        ]
    }

    /// One error of every variant refused before sending.
    fn refused() -> Vec<Error> {
        let key = || IdempotencyKey::new("inv-1");
        vec![
            Error::Config(ConfigError::ZeroDuration { name: "x" }),
            Error::InvalidRequest("bad".into()),
            Error::IdempotencyKeyInFlight {
                key: key(),
                waited: Duration::ZERO,
            },
            Error::Ledger {
                key: key(),
                source: StoreError::Full,
            },
            Error::RateLimited {
                retry_after: Duration::from_secs(1),
                key: None,
                idempotency_key: None,
            },
            Error::QuotaUnavailable {
                key: None,
                source: "redis down".into(),
                idempotency_key: None,
            },
            Error::CircuitOpen {
                until: Instant::now(),
                retry_after: Duration::from_secs(1),
                key: None,
                idempotency_key: None,
            },
            Error::BulkheadFull {
                max_concurrent: 1,
                key: None,
                idempotency_key: None,
            },
            Error::IdempotencyOutcomeUnknown { key: key() },
            Error::Credentials {
                source: CredentialsError::EnvMissing {
                    var: "API_KEY".to_owned(),
                },
                idempotency_key: None,
            },
            Error::IdempotencyKeyReused { key: key() },
        ]
    }

    /// The number of variants. Exhaustive on purpose: a new variant fails to compile here
    /// until it has a row in [`sent`] or [`refused`] and the count is raised.
    const VARIANTS: usize = 17;
    fn _every_variant_has_a_row(error: &Error) {
        match error {
            Error::Config(_)
            | Error::InvalidRequest(_)
            | Error::Timeout { .. }
            | Error::Decode(_)
            | Error::IdempotencyKeyInFlight { .. }
            | Error::Ledger { .. }
            | Error::Transport { .. }
            | Error::RetriesExhausted { .. }
            | Error::RateLimited { .. }
            | Error::QuotaUnavailable { .. }
            | Error::CircuitOpen { .. }
            | Error::BulkheadFull { .. }
            | Error::NotRetried { .. }
            | Error::DeadlineExceeded { .. }
            | Error::IdempotencyOutcomeUnknown { .. }
            | Error::Credentials { .. }
            | Error::IdempotencyKeyReused { .. } => {}
        }
    }

    #[test]
    fn every_variant_is_sorted_and_a_refusal_sent_nothing() {
        let (sent, refused) = (sent(), refused());
        let mut kinds: Vec<_> = sent
            .iter()
            .chain(&refused)
            .map(std::mem::discriminant)
            .collect();
        kinds.dedup();
        assert_eq!(kinds.len(), VARIANTS, "one row per variant");
        for error in &sent {
            assert!(!error.refused_before_sending(), "{error:?}");
        }
        for error in &refused {
            assert!(error.refused_before_sending(), "{error:?}");
            // A refusal is never a history of attempts, and says nothing was sent.
            assert!(error.failure().is_none(), "{error:?}");
            let shown = error.to_string();
            assert!(
                shown.contains("nothing was sent") || shown.contains("not sent"),
                "{shown}"
            );
        }
    }
}
