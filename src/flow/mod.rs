//! Whole integrations, not just calls: pages as a stream, records in bulk calls,
//! reconciliation of what two systems hold ([`reconcile`](mod@reconcile)), and a
//! queue-driven worker ([`queue`]).
//!
//! [`Client::paginate`](crate::Client::paginate) walks a paginated list, one call
//! through the client's whole stack per page (rate limit, retry, logs, dead letters), as a
//! [`Stream`](futures_core::Stream) of [`Page`]s or, with [`Pages::items`], of records.
//! A [`Paginator`] says where the next page is: [`LinkHeader`] (RFC 8288 `Link:
//! rel="next"`), [`BodyCursor`] (a cursor in the JSON body), [`Offset`] (page numbers or
//! offsets, with a [`Stop`] rule) or your own. A [`Batcher`] groups records into bulk calls
//! by count, bytes and linger time and reports, record by record, what the server did.
//!
//! ```
//! use futures_util::StreamExt as _;
//! use serde::Deserialize;
//! use steadfast::flow::BodyCursor;
//!
//! #[derive(Debug, Deserialize)]
//! struct Order {
//!     id: u64,
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! # let base = format!("http://{}", listener.local_addr()?);
//! # tokio::spawn(async move {
//! #     use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
//! #     while let Ok((mut socket, _)) = listener.accept().await {
//! #         let mut head = vec![0; 4096];
//! #         let n = socket.read(&mut head).await.unwrap_or(0);
//! #         let last = String::from_utf8_lossy(&head[..n]).contains("cursor=c2");
//! #         let body = if last { r#"{"data":[{"id":3}],"next":null}"# }
//! #             else { r#"{"data":[{"id":1},{"id":2}],"next":"c2"}"# };
//! #         let reply = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
//! #             content-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
//! #         let _ = socket.write_all(reply.as_bytes()).await;
//! #     }
//! # });
//! let client = steadfast::Client::new(reqwest::Client::new());
//! let paginator = BodyCursor::pointer("/next", "cursor");
//! let mut orders = client
//!     .paginate(client.get(format!("{base}/orders")), paginator)
//!     .items::<Order>("/data");
//! let mut ids = Vec::new();
//! while let Some(order) = orders.next().await {
//!     ids.push(order?.id);
//! }
//! assert_eq!(ids, [1, 2, 3]);
//! // Stored after each page, a position lets a later run carry on where this one stopped.
//! assert!(orders.position().is_done());
//! # Ok(())
//! # }
//! ```
//!
//! # Bounds
//!
//! A walk stops with a typed error at its page cap ([`PaginateConfig::max_pages`]), on a
//! page body over its byte cap ([`PaginateConfig::max_page_bytes`]; the client's deadline
//! bounds the read in time), and when a page would repeat an earlier request (a server that
//! hands back the same cursor or link): [`PaginateErrorKind::Loop`]. A next page on another
//! origin (scheme, host, port) is refused: [`PaginateErrorKind::CrossOrigin`], so the
//! client's credentials never reach a host the caller did not name.
//!
//! # Resuming
//!
//! Every [`Page`] carries the [`Position`] after it ([`Page::resume_from`]), every error the
//! position to resume from ([`PaginateError::resume_from`]), and [`Items::position`] the
//! position after the last page whose records were all handed out; [`Items::until_error`]
//! hands out plain records (for a [`Batcher`]) and keeps the error and the position in a
//! [`Checkpoint`]. `Position` is serde:
//! store it, and after a crash start again with [`Pages::resume_from`]. Resuming is
//! at-least-once: the records of a page that was not finished come again.
//!
//! # Errors
//!
//! A failed page ends the stream with a [`PaginateError`]: its kind (the crate's
//! [`Error`](crate::Error) for a failed call, after the stack's retries) and the position to
//! resume from. Nothing panics on a hostile server.
//!
//! # Batching
//!
//! See [`Batcher`]: pull-based (it reads its input stream only when it has room), so memory
//! is one batch, whatever the input's size.

mod batch;
mod paginate;
pub mod queue;
mod read;
pub mod reconcile;

pub use batch::{
    BatchConfig, BatchError, BatchReport, Batcher, RecordFailure, RecordOutcome, RecordReport,
    RecordResult, RecordState, Reports,
};
pub use paginate::{
    BodyCursor, Checkpoint, Cursor, Items, LinkHeader, Offset, Page, Pages, PaginateConfig,
    PaginateError, PaginateErrorKind, Paginator, Position, Stop, UntilError, set_query_param,
};
pub use reconcile::{ReconcileConfig, ReconcileError, ReconcileReport, reconcile};
