//! The dead-letter admin page (feature `admin`): an [`axum::Router`] an application mounts
//! behind its own authentication, where operators list, read, replay and discard letters.
//!
//! **It has no authentication of its own.** Anyone who can reach it can replay calls:
//! mount it behind the middleware that guards the rest of your operations pages.
//!
//! ```
//! use axum::extract::Request;
//! use axum::http::{StatusCode, header};
//! use axum::middleware::{self, Next};
//! use axum::response::Response;
//! use steadfast::admin::{self, AdminConfig};
//! use steadfast::dead_letter::MemorySink;
//!
//! /// The application's own check; here a fixed bearer token, for the example.
//! async fn operators_only(request: Request, next: Next) -> Result<Response, StatusCode> {
//!     let authorized = request
//!         .headers()
//!         .get(header::AUTHORIZATION)
//!         .is_some_and(|v| v == "Bearer ops-token");
//!     if authorized { Ok(next.run(request).await) } else { Err(StatusCode::UNAUTHORIZED) }
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let client = steadfast::Client::builder()
//!     .dead_letter_sink(MemorySink::default())
//!     .build(reqwest::Client::new())?;
//! let letters = client.dead_letters().ok_or("dead letters are on")?;
//!
//! let app: axum::Router = axum::Router::new()
//!     .nest("/ops/dead-letters", admin::router(letters, AdminConfig::default())?)
//!     .layer(middleware::from_fn(operators_only));
//! // axum::serve(listener, app).await?;
//! # let _ = app;
//! # Ok(())
//! # }
//! ```
//!
//! # Pages
//!
//! Server-rendered HTML, no JavaScript, readable on a phone (the table becomes cards):
//!
//! - `GET /`: the letters, newest first, a page at a time
//!   ([`AdminConfig::page_size`]), with counts per state and filters by host, state,
//!   outcome, status and time (`?host=…&state=pending&outcome=unknown&status=503&since=…&until=…&page=1`;
//!   times RFC 3339 or `2026-12-02T13:05`, UTC).
//! - `GET /letters/{id}`: one letter: its state, key and error; the request (method, URL,
//!   headers, body) and the last response; every attempt (verdict, applied or not, status,
//!   timing); its history; and buttons: **Replay**, **Discard** (with a reason) and, for a
//!   letter whose outcome is unknown, **I checked: not applied**.
//! - `POST /letters/{id}/replay`, `…/discard`, `…/confirm`: the buttons' forms; they
//!   redirect back to the letter with what happened.
//!
//! # JSON API
//!
//! - `GET /api/letters?…` (the same filters): `{"letters": […], "counts": {…}, "page": 0, "next_page": 1}`
//! - `GET /api/letters/{id}`: `{"letter": {…}, "replayable": true}`
//! - `POST /api/letters/{id}/replay`, `…/confirm`, `…/discard` (body `{"reason": "…"}`):
//!   `{"result": "resolved", "letter": {…}}`, or `{"error": "held"}` with 404, 409 or 503.
//! - `GET /api/token`: `{"token": "…", "header": "x-csrf-token"}`. Every API POST needs
//!   that token in the [`CSRF_HEADER`] header.
//!
//! # What is shown
//!
//! Only redacted letters ([`DeadLetter::redacted`](crate::dead_letter::DeadLetter::redacted)):
//! the URL's secret query parameters and path segments, secret header values, JSON fields and
//! token-like text are masked; credentials were never stored. Bodies are cut after
//! [`AdminConfig::preview_bytes`], headers, URLs and attempts bounded. Every text is
//! HTML-escaped: letters carry what servers sent.
//!
//! # CSRF
//!
//! Every POST (form or API) needs a token the router signed (HMAC-SHA256 of a random nonce
//! and the time, valid for [`AdminConfig::token_ttl`]) and, when the request has an
//! `Origin` (or else a `Referer`) header, that it names the host the request went to (or an
//! [allowed origin](AdminConfig::allowed_origin)). Anything else gets `403 Forbidden` and
//! nothing is done. The key is random per router unless [`AdminConfig::secret`] sets one
//! (needed when several instances serve the page). Responses forbid scripts and framing
//! (`Content-Security-Policy`, `X-Frame-Options`) and caching.

mod api;
mod config;
mod csrf;
mod html;
mod pages;
mod query;
mod router;
mod view;

pub use api::CSRF_HEADER;
pub use config::{AdminConfig, MAX_PAGE_SIZE, MIN_SECRET_BYTES};
pub use router::router;
