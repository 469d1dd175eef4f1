//! The JSON API beside the pages: the same letters, redacted and bounded, and the same
//! actions behind the same CSRF checks (the token in the `X-CSRF-Token` header).

use std::sync::Arc;
use std::time::SystemTime;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::query::ListQuery;
use super::router::{self, Admin, Done, Shared};
use super::view;
use crate::dead_letter::LetterId;

/// The header a JSON POST carries its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

fn error(status: StatusCode, code: &str) -> Response {
    (status, Json(json!({ "error": code }))).into_response()
}

/// `GET api/token`: a CSRF token for the API's POSTs.
pub(crate) async fn token(State(admin): Shared) -> Response {
    Json(json!({
        "token": admin.key.issue(SystemTime::now()),
        "header": CSRF_HEADER,
        "ttl_seconds": admin.config.token_ttl.as_secs(),
    }))
    .into_response()
}

/// `GET api/letters?host=…&state=…&page=…`: a page of letters and the counts per state.
pub(crate) async fn list(
    State(admin): Shared,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Response {
    let Ok(Query(query)) = query else {
        return error(StatusCode::BAD_REQUEST, "invalid_query");
    };
    match router::listing(&admin, &query).await {
        Ok((page, letters, has_next, counts)) => Json(json!({
            "letters": letters,
            "counts": counts,
            "page": page,
            "next_page": has_next.then_some(page + 1),
        }))
        .into_response(),
        Err(response) if response.status() == StatusCode::BAD_REQUEST => {
            error(StatusCode::BAD_REQUEST, "invalid_filter")
        }
        Err(_) => error(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable"),
    }
}

/// `GET api/letters/{id}`: one letter, redacted.
pub(crate) async fn letter(State(admin): Shared, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<LetterId>() else {
        return error(StatusCode::NOT_FOUND, "not_found");
    };
    match admin.letters.get(id).await {
        Ok(Some(letter)) => Json(json!({
            "letter": view::shown(&letter, admin.letters.redactor(), admin.config.preview_bytes),
            "replayable": letter.is_replayable(),
        }))
        .into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, "not_found"),
        Err(_) => error(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable"),
    }
}

/// A discard's body.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct ActionBody {
    reason: Option<String>,
}

/// `POST api/letters/{id}/{replay|discard|confirm}` with the `X-CSRF-Token` header (and,
/// to discard, `{"reason": "…"}`).
pub(crate) async fn action(
    State(admin): State<Arc<Admin>>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    body: Result<Json<ActionBody>, JsonRejection>,
) -> Response {
    let token = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
    if !router::allowed(&admin, &headers, token) {
        return router::forbidden();
    }
    let Ok(id) = id.parse::<LetterId>() else {
        return error(StatusCode::NOT_FOUND, "not_found");
    };
    let reason = match body {
        Ok(Json(body)) => body.reason,
        // Replay and confirm need no body.
        Err(JsonRejection::MissingJsonContentType(_)) if action != "discard" => None,
        Err(_) => return error(StatusCode::BAD_REQUEST, "invalid_body"),
    };
    match router::run(&admin, id, &action, reason.as_deref()).await {
        Done::Letter(result, letter) => Json(json!({
            "result": result,
            "letter": view::shown(&letter, admin.letters.redactor(), admin.config.preview_bytes),
        }))
        .into_response(),
        Done::Refused(code, status) => error(status, code),
    }
}
