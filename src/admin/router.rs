//! The router: the pages, the forms' actions and the JSON API over one [`DeadLetters`].

use std::sync::Arc;
use std::time::SystemTime;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Form, OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::AdminConfig;
use super::api;
use super::csrf::{self, CsrfKey};
use super::pages::{self, Frame, Notice};
use super::query::ListQuery;
use super::view;
use crate::ConfigError;
use crate::dead_letter::{DeadLetter, DeadLetters, LetterCounts, LetterId, ReplayError, Replayed};

/// The most bytes a POST's body may have (a reason and a token).
const MAX_FORM_BYTES: usize = 16 * 1024;
/// The most characters of a discard reason kept.
pub(crate) const MAX_REASON: usize = 500;

/// What every handler shares.
#[derive(Debug)]
pub(crate) struct Admin {
    pub(crate) letters: DeadLetters,
    pub(crate) config: AdminConfig,
    pub(crate) key: CsrfKey,
}

pub(crate) type Shared = State<Arc<Admin>>;

/// The admin page and its JSON API over `dead_letters`, to mount behind the application's
/// own authentication (see the [module docs](super)).
///
/// # Errors
///
/// [`ConfigError`] when `config` is not valid: a page size of 0 or above
/// [`MAX_PAGE_SIZE`](super::MAX_PAGE_SIZE), a zero token lifetime, a secret shorter than
/// [`MIN_SECRET_BYTES`](super::MIN_SECRET_BYTES), an allowed origin that is not one.
pub fn router(dead_letters: DeadLetters, config: AdminConfig) -> Result<Router, ConfigError> {
    config.validate()?;
    let key = CsrfKey::new(config.secret.as_deref(), config.token_ttl);
    let admin = Arc::new(Admin {
        letters: dead_letters,
        config,
        key,
    });
    Ok(Router::new()
        .route("/", get(list_page))
        .route("/letters/{id}", get(letter_page))
        .route("/letters/{id}/{action}", post(letter_action))
        .route("/api/token", get(api::token))
        .route("/api/letters", get(api::list))
        .route("/api/letters/{id}", get(api::letter))
        .route("/api/letters/{id}/{action}", post(api::action))
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
        .layer(axum::middleware::map_response(secure))
        .with_state(admin))
}

/// Headers on every response: no script, no framing, nothing cached, no sniffing.
async fn secure(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::CACHE_CONTROL, "no-store"),
        (header::REFERRER_POLICY, "same-origin"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// The path the router is mounted at: the original path minus the part the router saw.
pub(crate) fn base(original: &Uri, seen: &Uri) -> String {
    let original = original.path();
    let seen = seen.path();
    let base = if seen == "/" {
        original.trim_end_matches('/')
    } else {
        original.strip_suffix(seen).unwrap_or("")
    };
    base.to_owned()
}

/// 403 with no detail.
pub(crate) fn forbidden() -> Response {
    (StatusCode::FORBIDDEN, "forbidden").into_response()
}

/// Whether a POST passes the CSRF checks: its origin, and `token`.
pub(crate) fn allowed(admin: &Admin, headers: &HeaderMap, token: Option<&str>) -> bool {
    csrf::same_origin(headers, &admin.config.allowed_origins)
        && token.is_some_and(|t| admin.key.verify(t, SystemTime::now()))
}

/// A page (or API) error a person can read; nothing from the request in it.
pub(crate) fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "the dead-letter store cannot be read now; try again",
    )
        .into_response()
}

/// The letters of a listing's page, whether there is a next, and the counts per state.
pub(crate) async fn listing(
    admin: &Admin,
    query: &ListQuery,
) -> Result<(usize, Vec<DeadLetter>, bool, LetterCounts), Response> {
    let config = &admin.config;
    let listing = query.listing(config.max_page).map_err(|field| {
        (StatusCode::BAD_REQUEST, format!("invalid filter: {field}")).into_response()
    })?;
    let size = config.page_size;
    let skip = listing.page * size;
    let filter = listing.filter.clone().limit(skip + size + 1);
    let found = admin
        .letters
        .list(&filter)
        .await
        .map_err(|_| unavailable())?;
    let counts = admin
        .letters
        .counts(&listing.all_states)
        .await
        .map_err(|_| unavailable())?;
    let has_next = found.len() > skip + size;
    let redactor = admin.letters.redactor();
    let shown = found
        .iter()
        .skip(skip)
        .take(size)
        .map(|letter| view::shown(letter, redactor, config.preview_bytes))
        .collect();
    Ok((listing.page, shown, has_next, counts))
}

async fn list_page(
    State(admin): Shared,
    OriginalUri(original): OriginalUri,
    uri: Uri,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(query)) = query else {
        return (StatusCode::BAD_REQUEST, "invalid query").into_response();
    };
    let (page, letters, has_next, counts) = match listing(&admin, &query).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let base = base(&original, &uri);
    let frame = Frame {
        base: &base,
        title: &admin.config.title,
    };
    Html(pages::list(
        &frame, &query, page, &letters, &counts, has_next,
    ))
    .into_response()
}

/// What an action's redirect tells the letter's page (`?done=…`): fixed texts only.
fn notice(code: &str) -> Option<Notice> {
    let (text, error) = match code {
        "resolved" => (
            "Replayed: the server accepted it. The letter is resolved.",
            false,
        ),
        "failed_again" => ("Replayed, and it failed again: see the new attempts.", true),
        "already_resolved" => ("Already resolved: nothing was sent.", false),
        "discarded" => ("Discarded.", false),
        "confirmed" => ("Marked as not applied: it may be replayed now.", false),
        "held" => (
            "Another replay holds this letter now: nothing was sent.",
            true,
        ),
        "unknown" => (
            "The server may have acted on this call: check, then confirm it was not applied. \
             Nothing was sent.",
            true,
        ),
        "not_replayable" => ("Its body was not kept: it cannot be replayed.", true),
        "is_discarded" => ("It was discarded: nothing was sent.", true),
        "reason" => ("Say why it is discarded.", true),
        "failed" => (
            "That did not work (the store or the ledger failed): try again.",
            true,
        ),
        _ => return None,
    };
    Some(Notice { text, error })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct LetterQuery {
    done: Option<String>,
}

async fn letter_page(
    State(admin): Shared,
    OriginalUri(original): OriginalUri,
    uri: Uri,
    Path(id): Path<String>,
    query: Result<Query<LetterQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(id) = id.parse::<LetterId>() else {
        return (StatusCode::NOT_FOUND, "no such letter").into_response();
    };
    let letter = match admin.letters.get(id).await {
        Ok(Some(letter)) => letter,
        Ok(None) => return (StatusCode::NOT_FOUND, "no such letter").into_response(),
        Err(_) => return unavailable(),
    };
    let done = query.ok().and_then(|Query(q)| q.done);
    let base = base(&original, &uri);
    let frame = Frame {
        base: &base,
        title: &admin.config.title,
    };
    let shown = view::shown(
        &letter,
        admin.letters.redactor(),
        admin.config.preview_bytes,
    );
    let token = admin.key.issue(SystemTime::now());
    Html(pages::detail(
        &frame,
        &shown,
        letter.is_replayable(),
        &token,
        done.as_deref().and_then(notice),
    ))
    .into_response()
}

#[derive(Debug, Deserialize)]
struct ActionForm {
    csrf: String,
    #[serde(default)]
    reason: Option<String>,
}

/// What an action did, as a code for `?done=` and the API's `result`/`error`.
pub(crate) enum Done {
    Letter(&'static str, Box<DeadLetter>),
    Refused(&'static str, StatusCode),
}

/// Runs `action` (`replay`, `discard`, `confirm`) on the letter `id`.
pub(crate) async fn run(admin: &Admin, id: LetterId, action: &str, reason: Option<&str>) -> Done {
    let result = match action {
        "replay" => admin
            .letters
            .replay(id)
            .await
            .map(|replayed| match replayed {
                Replayed::Resolved { letter, .. } => ("resolved", letter),
                Replayed::FailedAgain { letter, .. } => ("failed_again", letter),
                Replayed::AlreadyResolved { letter } => ("already_resolved", letter),
            }),
        "discard" => {
            let Some(reason) = reason.map(str::trim).filter(|r| !r.is_empty()) else {
                return Done::Refused("reason", StatusCode::BAD_REQUEST);
            };
            let reason: String = reason.chars().take(MAX_REASON).collect();
            admin
                .letters
                .discard(id, reason)
                .await
                .map(|l| ("discarded", Box::new(l)))
        }
        "confirm" => admin
            .letters
            .confirm_not_applied(id)
            .await
            .map(|l| ("confirmed", Box::new(l))),
        _ => return Done::Refused("not_found", StatusCode::NOT_FOUND),
    };
    match result {
        Ok((code, letter)) => Done::Letter(code, letter),
        Err(error) => {
            let (code, status) = match error {
                ReplayError::NotFound(_) => ("not_found", StatusCode::NOT_FOUND),
                ReplayError::Held { .. } => ("held", StatusCode::CONFLICT),
                ReplayError::OutcomeUnknown(_) => ("unknown", StatusCode::CONFLICT),
                ReplayError::NotReplayable(_) | ReplayError::Invalid(_) => {
                    ("not_replayable", StatusCode::CONFLICT)
                }
                ReplayError::Discarded(_) => ("is_discarded", StatusCode::CONFLICT),
                _ => ("failed", StatusCode::SERVICE_UNAVAILABLE),
            };
            tracing::warn!(letter = %id, action, code, "dead-letter admin action refused");
            Done::Refused(code, status)
        }
    }
}

async fn letter_action(
    State(admin): Shared,
    OriginalUri(original): OriginalUri,
    uri: Uri,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    form: Result<Form<ActionForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let token = form.as_ref().ok().map(|Form(f)| f.csrf.as_str());
    if !allowed(&admin, &headers, token) {
        return forbidden();
    }
    let (Ok(id), Ok(Form(form))) = (id.parse::<LetterId>(), form) else {
        return (StatusCode::NOT_FOUND, "no such letter").into_response();
    };
    let code = match run(&admin, id, &action, form.reason.as_deref()).await {
        Done::Refused("not_found", _) => {
            return (StatusCode::NOT_FOUND, "no such letter").into_response();
        }
        Done::Letter(code, _) | Done::Refused(code, _) => code,
    };
    let location = format!("{}/letters/{id}?done={code}", base(&original, &uri));
    match HeaderValue::try_from(location) {
        Ok(location) => (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response(),
        Err(_) => (StatusCode::OK, "done").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mount_point_is_the_original_path_minus_what_the_router_saw() {
        let table = [
            ("/ops/dead-letters", "/", "/ops/dead-letters"),
            ("/ops/dead-letters/", "/", "/ops/dead-letters"),
            ("/", "/", ""),
            (
                "/ops/dead-letters/letters/abc",
                "/letters/abc",
                "/ops/dead-letters",
            ),
            ("/letters/abc", "/letters/abc", ""),
            ("/elsewhere", "/letters/abc", ""),
        ];
        for (original, seen, expected) in table {
            let original: Uri = original.parse().expect("valid");
            let seen: Uri = seen.parse().expect("valid");
            assert_eq!(base(&original, &seen), expected, "{original} {seen}");
        }
    }

    #[test]
    fn notices_are_fixed_texts() {
        for code in [
            "resolved",
            "failed_again",
            "held",
            "unknown",
            "reason",
            "failed",
        ] {
            assert!(notice(code).is_some(), "{code}");
        }
        assert!(notice("<script>").is_none());
        assert!(notice("").is_none());
    }
}
