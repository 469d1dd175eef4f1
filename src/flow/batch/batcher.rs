//! The batcher: one bulk call for a group of records, its results mapped back to each.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use bytes::{BufMut as _, Bytes, BytesMut};
use futures_core::Stream;
use serde::Serialize;
use serde_json::Value;

use super::reports::Reports;
use super::{
    BatchConfig, BatchError, BatchReport, RecordFailure, RecordOutcome, RecordReport, RecordResult,
};
use crate::error::ConfigError;
use crate::flow::read::{Unread, read_capped};
use crate::mapper::{DecodeError, Mapper};
use crate::{Client, RequestBuilder};

/// Groups records into bulk calls through a [`Client`] and maps the bulk response back to
/// each record.
///
/// Records are serialized once, as they come; a batch's body is the JSON array of its
/// records, handed to `request` to make the call (method, URL, headers; wrap the array if
/// the API wants an object). The call goes through the client's whole stack, so batches
/// keep within its rate limit and are retried, logged and dead-lettered like any call.
/// `results`, a [`Mapper`] from the response's JSON body (`null` when empty), gives one
/// [`RecordResult`] per record, in order. A partly failed batch reports exactly the
/// records the server rejected; a call that failed as a whole reports every record with
/// its error and whether the server may have acted ([`BatchError::state`]).
///
/// # Dead letters
///
/// A bulk call that fails is recorded by the client's dead-letter layer like any call, with
/// its whole body. A record rejected inside a successful response is in
/// [`BatchReport::failed`], with the record itself, and, when the client keeps dead letters,
/// also a letter of its own: the bulk call with that record alone, not applied, replayable
/// (a replay sends it again; whether the server takes it this time is in the replay's
/// response, as the HTTP status of a bulk call says nothing of its records).
///
/// # Memory
///
/// [`run`](Self::run) pulls its input only when the batch being filled has room: it holds
/// one batch (at most `max_records` records and `max_bytes` of JSON) and one record more,
/// whatever the input's size; a slow API slows the input down (backpressure).
///
/// # Cancellation
///
/// Dropping the [`Reports`] stream while a batch's call is in flight cancels the call: what
/// became of that batch's records is then unknown and goes unreported. Drain the stream.
///
/// # Example
///
/// ```
/// use futures_util::StreamExt as _;
/// use serde_json::{Value, json};
/// use steadfast::flow::{BatchConfig, Batcher, RecordFailure, RecordResult};
/// use steadfast::mapper::MapError;
///
/// // {"results": [{"ok": true, "id": 7}, {"ok": false, "error": "sku unknown"}]}
/// fn results(body: &Value) -> Result<Vec<RecordResult>, MapError> {
///     let Some(results) = body["results"].as_array() else {
///         return Err(MapError::custom("no results array"));
///     };
///     Ok(results
///         .iter()
///         .map(|r| match r["ok"].as_bool() {
///             Some(true) => Ok(r["id"].clone()),
///             _ => Err(RecordFailure::new(r["error"].as_str().unwrap_or("rejected"))),
///         })
///         .collect())
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// # let base = format!("http://{}", listener.local_addr()?);
/// # tokio::spawn(async move {
/// #     use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
/// #     while let Ok((mut socket, _)) = listener.accept().await {
/// #         let mut head = vec![0; 4096];
/// #         let _ = socket.read(&mut head).await;
/// #         let body = r#"{"results":[{"ok":true,"id":1},{"ok":false,"error":"sku unknown"}]}"#;
/// #         let reply = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
/// #             content-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
/// #         let _ = socket.write_all(reply.as_bytes()).await;
/// #     }
/// # });
/// let client = steadfast::Client::new(reqwest::Client::new());
/// let url = format!("{base}/orders/bulk");
/// let batcher = Batcher::new(
///     client,
///     &BatchConfig::default().max_records(2),
///     move |client: &steadfast::Client, body| {
///         client.post(&url).header("content-type", "application/json").body(body)
///     },
///     results,
/// )?;
/// let orders = futures_util::stream::iter([json!({"sku": "A-1"}), json!({"sku": "Z-9"})]);
/// let mut reports = batcher.run(orders);
/// while let Some(report) = reports.next().await {
///     for failed in report.failed() {
///         eprintln!("{}: {:?}", failed.record, failed.outcome);
///     }
///     assert_eq!(report.failed().count(), 1);
/// }
/// # Ok(())
/// # }
/// ```
pub struct Batcher<R, B, M> {
    pub(super) client: Client,
    pub(super) config: BatchConfig,
    request: B,
    results: M,
    _records: PhantomData<fn(R)>,
}

impl<R, B, M> fmt::Debug for Batcher<R, B, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batcher")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A record serialized, ready for a batch.
pub(super) struct Encoded<R> {
    pub(super) record: R,
    pub(super) json: Vec<u8>,
}

impl<R, B, M> Batcher<R, B, M>
where
    R: Serialize,
    B: Fn(&Client, Bytes) -> RequestBuilder,
    M: for<'a> Mapper<&'a Value, Out = Vec<RecordResult>>,
{
    /// A batcher sending through `client`, each batch's call made by `request` from the
    /// JSON array of its records, each response read by `results`. Annotate a closure's
    /// argument types (`|client: &Client, body|`, `|body: &Value|`).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for a zero bound in `config`.
    pub fn new(
        client: Client,
        config: &BatchConfig,
        request: B,
        results: M,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            client,
            config: config.clone(),
            request,
            results,
            _records: PhantomData,
        })
    }

    /// Sends `records` in one bulk call, whatever the batch bounds, and reports what
    /// became of each.
    pub async fn send(&self, records: Vec<R>) -> BatchReport<R> {
        let mut batch = Vec::with_capacity(records.len());
        let mut unsent = Vec::new();
        for record in records {
            match encode(record) {
                Ok(encoded) => batch.push(encoded),
                Err(report) => unsent.push(report),
            }
        }
        self.send_encoded(0, batch, unsent).await
    }

    /// Sends the records of `records` in batches, as the bounds say, and yields a
    /// [`BatchReport`] per batch; the stream ends once `records` has and the last batch is
    /// reported. Batches go one at a time, in order.
    pub fn run<S>(self, records: S) -> Reports<R>
    where
        S: Stream<Item = R> + Send + 'static,
        R: Send + 'static,
        B: Send + Sync + 'static,
        M: Send + Sync + 'static,
    {
        Reports::new(self, records)
    }

    /// One bulk call for `batch`; `unsent` are records that could not be serialized.
    pub(super) async fn send_encoded(
        &self,
        number: u64,
        batch: Vec<Encoded<R>>,
        mut unsent: Vec<RecordReport<R>>,
    ) -> BatchReport<R> {
        let mut report = BatchReport {
            number,
            records: Vec::with_capacity(batch.len() + unsent.len()),
            status: None,
            error: None,
        };
        if !batch.is_empty() {
            let body = join(&batch);
            let outcome = self.call(body, batch.len()).await;
            match outcome {
                Ok((status, results)) => {
                    report.status = Some(status);
                    for (encoded, result) in batch.into_iter().zip(results) {
                        let outcome = match result {
                            Ok(value) => RecordOutcome::Applied(value),
                            Err(failure) => {
                                self.dead_letter(&encoded.json, &failure, status).await;
                                RecordOutcome::Rejected(failure)
                            }
                        };
                        report.records.push(RecordReport {
                            record: encoded.record,
                            outcome,
                        });
                    }
                }
                Err((status, error)) => {
                    let error = Arc::new(error);
                    report.status = status;
                    report.error = Some(Arc::clone(&error));
                    let records = batch.into_iter().map(|e| e.record);
                    report.records.extend(records.map(|record| RecordReport {
                        record,
                        outcome: RecordOutcome::Failed(Arc::clone(&error)),
                    }));
                }
            }
        }
        report.records.append(&mut unsent);
        report
    }

    /// With dead letters on the client, keeps a letter for a record the server rejected:
    /// the bulk call with that record alone, replayable. (A whole call that failed is a
    /// letter already, made by the client's dead-letter layer.)
    async fn dead_letter(&self, json: &[u8], failure: &RecordFailure, status: reqwest::StatusCode) {
        let Some(letters) = self.client.dead_letters() else {
            return;
        };
        let mut alone = Vec::with_capacity(json.len() + 2);
        alone.push(b'[');
        alone.extend_from_slice(json);
        alone.push(b']');
        match (self.request)(&self.client, Bytes::from(alone)).build() {
            Ok(request) => {
                letters
                    .record_rejected(&request, &failure.message, status)
                    .await;
            }
            Err(error) => tracing::warn!(
                target: "steadfast",
                %error,
                "batch: no dead letter for a rejected record, its request could not be built"
            ),
        }
    }

    /// The call and its results, one per record; or why there are none.
    async fn call(
        &self,
        body: Bytes,
        expected: usize,
    ) -> Result<(reqwest::StatusCode, Vec<RecordResult>), (Option<reqwest::StatusCode>, BatchError)>
    {
        let response = match (self.request)(&self.client, body).send().await {
            Ok(response) => response,
            Err(e) => return Err((e.status(), BatchError::Call(e))),
        };
        let status = response.status();
        let fail = |error| Err((Some(status), error));
        let body = match read_capped(response, self.config.max_response_bytes).await {
            Ok(body) => body,
            Err(Unread::TooLarge) => {
                return fail(BatchError::BodyTooLarge {
                    max: self.config.max_response_bytes,
                });
            }
            Err(Unread::Broken(e)) => return fail(BatchError::Body(Box::new(e))),
        };
        let value = if body.is_empty() {
            Value::Null
        } else {
            match serde_json::from_slice(&body) {
                Ok(value) => value,
                Err(source) => return fail(BatchError::Decode(DecodeError::Syntax { source })),
            }
        };
        let results = match self.results.map(&value) {
            Ok(results) => results,
            Err(e) => return fail(BatchError::Results(e)),
        };
        if results.len() != expected {
            return fail(BatchError::ResultCount {
                expected,
                got: results.len(),
            });
        }
        Ok((status, results))
    }
}

/// `record` as JSON, or its report when it cannot be.
pub(super) fn encode<R: Serialize>(record: R) -> Result<Encoded<R>, RecordReport<R>> {
    match serde_json::to_vec(&record) {
        Ok(json) => Ok(Encoded { record, json }),
        Err(e) => Err(RecordReport {
            record,
            outcome: RecordOutcome::Failed(Arc::new(BatchError::Serialize(e))),
        }),
    }
}

/// The JSON array of a batch's records.
fn join<R>(batch: &[Encoded<R>]) -> Bytes {
    let len = batch.iter().map(|e| e.json.len() + 1).sum::<usize>() + 1;
    let mut body = BytesMut::with_capacity(len);
    body.put_u8(b'[');
    for (i, encoded) in batch.iter().enumerate() {
        if i > 0 {
            body.put_u8(b',');
        }
        body.put_slice(&encoded.json);
    }
    body.put_u8(b']');
    body.freeze()
}
