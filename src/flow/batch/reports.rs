//! The stream of batch reports: records pulled, grouped by the bounds, sent in order.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use futures_util::StreamExt as _;
use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;

use super::batcher::{Encoded, encode};
use super::{BatchReport, Batcher, RecordReport, RecordResult};
use crate::mapper::Mapper;
use crate::{Client, RequestBuilder};

/// The reports of a [`Batcher::run`], one per bulk call, in order: a [`Stream`] of
/// [`BatchReport`] that ends after the input has and its last batch is reported.
#[must_use = "a stream does nothing until polled"]
pub struct Reports<R> {
    inner: Pin<Box<dyn Stream<Item = BatchReport<R>> + Send>>,
}

impl<R> fmt::Debug for Reports<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reports").finish_non_exhaustive()
    }
}

impl<R> Stream for Reports<R> {
    type Item = BatchReport<R>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

/// A run between batches.
struct Run<R, B, M, S> {
    batcher: Batcher<R, B, M>,
    input: Pin<Box<S>>,
    /// The record that did not fit the last batch: the next one's first.
    carry: Option<Encoded<R>>,
    input_ended: bool,
    number: u64,
}

impl<R> Reports<R> {
    pub(super) fn new<B, M, S>(batcher: Batcher<R, B, M>, input: S) -> Self
    where
        R: Serialize + Send + 'static,
        B: Fn(&Client, Bytes) -> RequestBuilder + Send + Sync + 'static,
        M: for<'a> Mapper<&'a Value, Out = Vec<RecordResult>> + Send + Sync + 'static,
        S: Stream<Item = R> + Send + 'static,
    {
        let run = Run {
            batcher,
            input: Box::pin(input),
            carry: None,
            input_ended: false,
            number: 0,
        };
        let inner = futures_util::stream::unfold(run, |mut run| async move {
            let report = run.next_batch().await?;
            Some((report, run))
        });
        Self {
            inner: Box::pin(inner),
        }
    }
}

impl<R, B, M, S> Run<R, B, M, S>
where
    R: Serialize,
    B: Fn(&Client, Bytes) -> RequestBuilder,
    M: for<'a> Mapper<&'a Value, Out = Vec<RecordResult>>,
    S: Stream<Item = R>,
{
    /// Fills a batch (count, bytes, linger), sends it and reports it; `None` at the end.
    async fn next_batch(&mut self) -> Option<BatchReport<R>> {
        let config = &self.batcher.config;
        let mut batch: Vec<Encoded<R>> = Vec::new();
        let mut unsent: Vec<RecordReport<R>> = Vec::new();
        // The JSON array's brackets, then a record and a comma each.
        let mut bytes = 2;
        let mut linger_until = None;
        if let Some(first) = self.carry.take() {
            bytes += first.json.len();
            batch.push(first);
            linger_until = Some(Instant::now() + config.linger);
        }
        while batch.len() < config.max_records && !self.input_ended {
            let next = match linger_until {
                None => self.input.next().await,
                // A stream's `next` may be dropped and called again: nothing is lost.
                Some(until) => match tokio::time::timeout_at(until, self.input.next()).await {
                    Ok(next) => next,
                    Err(_) => break,
                },
            };
            let Some(record) = next else {
                self.input_ended = true;
                break;
            };
            let encoded = match encode(record) {
                Ok(encoded) => encoded,
                Err(report) => {
                    unsent.push(report);
                    continue;
                }
            };
            let added = encoded.json.len() + usize::from(!batch.is_empty());
            if !batch.is_empty() && bytes + added > config.max_bytes {
                self.carry = Some(encoded);
                break;
            }
            bytes += added;
            batch.push(encoded);
            linger_until.get_or_insert_with(|| Instant::now() + config.linger);
        }
        if batch.is_empty() && unsent.is_empty() {
            return None;
        }
        let number = self.number;
        self.number += 1;
        Some(self.batcher.send_encoded(number, batch, unsent).await)
    }
}
