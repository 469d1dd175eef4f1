//! `Client::paginate`.

use super::walk::Walk;
use super::{Pages, PaginateError, PaginateErrorKind, Paginator, Position};
use crate::{Client, RequestBuilder};

impl Client {
    /// Walks a paginated list: `request` is the first page's, `paginator` says where each
    /// next page is. Every page is a call through this client's whole stack (rate limit,
    /// retry, logs, dead letters). See [`flow`](crate::flow) for an example, the bounds and
    /// resuming.
    ///
    /// Nothing is sent until the stream is polled. A request that cannot be built (or sent
    /// twice: a streaming body) makes the stream's one item an error.
    pub fn paginate<P: Paginator>(&self, request: RequestBuilder, paginator: P) -> Pages {
        match request.build() {
            Ok(request) => Pages::new(Walk::new(self.clone(), request, Box::new(paginator))),
            Err(error) => Pages::failed(PaginateError::new(
                PaginateErrorKind::Call(error),
                0,
                Position::start(),
            )),
        }
    }
}
