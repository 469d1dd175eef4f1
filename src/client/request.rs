use std::fmt;
use std::future::IntoFuture;
use std::pin::Pin;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Body, Response};
use serde::Serialize;

use super::Client;
use crate::error::Error;

/// A request being built, like `reqwest::RequestBuilder`, sent through the client's stack.
///
/// Created by [`Client::get`], [`Client::post`] and the other method helpers.
#[must_use = "a request does nothing until it is sent"]
pub struct RequestBuilder {
    client: Client,
    inner: reqwest::RequestBuilder,
    error: Option<Error>,
}

impl fmt::Debug for RequestBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // reqwest's own Debug shows the URL and headers, which may hold secrets.
        f.debug_struct("RequestBuilder").finish_non_exhaustive()
    }
}

impl RequestBuilder {
    pub(super) fn new(client: Client, inner: reqwest::RequestBuilder) -> Self {
        Self {
            client,
            inner,
            error: None,
        }
    }

    /// A request that fails with `error` at [`send`](Self::send), sending nothing.
    pub(super) fn fail(mut self, error: Error) -> Self {
        self.error.get_or_insert(error);
        self
    }

    fn map(self, f: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder) -> Self {
        Self {
            client: self.client,
            inner: f(self.inner),
            error: self.error,
        }
    }

    /// Names the call's idempotency key after business data (`invoice-2024-0042`), so that
    /// a re-run of the same job reuses it: the server, or the ledger, sees a repeat and not a
    /// new operation. Written in the client's configured header and format; a key that is
    /// not printable ASCII makes [`send`](Self::send) fail with [`Error::InvalidRequest`].
    pub fn idempotency_key(mut self, key: &str) -> Self {
        let (name, format) = self.client.key_header();
        if let Some(value) = format
            .encode(key)
            .and_then(|value| HeaderValue::try_from(value).ok())
        {
            return self.map(|b| b.header(name, value));
        }
        self.error.get_or_insert(Error::InvalidRequest(
            "idempotency key must be printable ASCII".into(),
        ));
        self
    }

    /// Adds a header. An invalid name or value makes [`send`](Self::send) fail with
    /// [`Error::InvalidRequest`].
    pub fn header<K, V>(self, key: K, value: V) -> Self
    where
        HeaderName: TryFrom<K>,
        <HeaderName as TryFrom<K>>::Error: Into<http::Error>,
        HeaderValue: TryFrom<V>,
        <HeaderValue as TryFrom<V>>::Error: Into<http::Error>,
    {
        self.map(|b| b.header(key, value))
    }

    /// Adds several headers.
    pub fn headers(self, headers: HeaderMap) -> Self {
        self.map(|b| b.headers(headers))
    }

    /// Adds query parameters from anything `serde` can serialize as a map or pairs.
    pub fn query<T: Serialize + ?Sized>(self, query: &T) -> Self {
        self.map(|b| b.query(query))
    }

    /// Sends `json` as the body, with `Content-Type: application/json`.
    pub fn json<T: Serialize + ?Sized>(self, json: &T) -> Self {
        self.map(|b| b.json(json))
    }

    /// Sends `form` URL-encoded as the body.
    pub fn form<T: Serialize + ?Sized>(self, form: &T) -> Self {
        self.map(|b| b.form(form))
    }

    /// Sets the body. A streaming body is sent once: it cannot be retried.
    pub fn body(self, body: impl Into<Body>) -> Self {
        self.map(|b| b.body(body))
    }

    /// Sets `Authorization: Bearer <token>`, marked sensitive.
    pub fn bearer_auth<T: fmt::Display>(self, token: T) -> Self {
        self.map(|b| b.bearer_auth(token))
    }

    /// Sets HTTP basic authentication, marked sensitive.
    pub fn basic_auth<U: fmt::Display, P: fmt::Display>(
        self,
        username: U,
        password: Option<P>,
    ) -> Self {
        self.map(|b| b.basic_auth(username, password))
    }

    /// Sets reqwest's own timeout for this request, applied to each attempt.
    pub fn timeout(self, timeout: Duration) -> Self {
        self.map(|b| b.timeout(timeout))
    }

    /// Builds the `reqwest::Request` without sending it.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] when the URL, a header or the body is invalid.
    pub fn build(self) -> Result<reqwest::Request, Error> {
        if let Some(error) = self.error {
            return Err(error);
        }
        build(self.inner)
    }

    /// Sends the request through the client's stack.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] when the request cannot be built (nothing is sent), and the
    /// stack's errors otherwise: see [`Error`].
    pub async fn send(self) -> Result<Response, Error> {
        let Self {
            client,
            inner,
            error,
        } = self;
        if let Some(error) = error {
            return Err(error);
        }
        client.execute(build(inner)?).await
    }
}

fn build(inner: reqwest::RequestBuilder) -> Result<reqwest::Request, Error> {
    inner
        .build()
        .map_err(|e| Error::InvalidRequest(Box::new(e.without_url())))
}

impl IntoFuture for RequestBuilder {
    type Output = Result<Response, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}
