//! The two pages, rendered from letters already made fit to show ([`super::view::shown`]).
//! Every value from a letter or a request goes through [`Esc`].

use std::fmt::Write as _;
use std::time::SystemTime;

use humantime_serde::re::humantime;

use super::html::{Esc, page, query_value};
use super::query::{ListQuery, STATES};
use super::view::truncate;
use crate::dead_letter::{DeadLetter, LetterBody, LetterCounts, LetterOutcome, LetterState};

/// What every page needs: where the router is mounted, its title.
#[derive(Debug)]
pub(crate) struct Frame<'a> {
    /// The path the router is mounted at (`/ops/dead-letters`), or empty at the root.
    pub(crate) base: &'a str,
    pub(crate) title: &'a str,
}

impl Frame<'_> {
    fn home(&self) -> &str {
        if self.base.is_empty() { "/" } else { self.base }
    }
}

fn when(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

fn state_line(state: &LetterState) -> String {
    match state {
        LetterState::Replaying { by, until } => {
            format!("replaying (by {by}, until {})", when(*until))
        }
        LetterState::Discarded { reason } => format!("discarded: {reason}"),
        other => other.as_str().replace('_', " "),
    }
}

fn status(letter: &DeadLetter) -> String {
    letter
        .status()
        .map_or_else(|| "–".to_owned(), |s| s.to_string())
}

/// The query string of `query` minus its state and page, for links that change those.
fn keep(query: &ListQuery) -> String {
    let mut out = String::new();
    for (name, value) in [
        ("host", &query.host),
        ("outcome", &query.outcome),
        ("status", &query.status),
        ("since", &query.since),
        ("until", &query.until),
    ] {
        if let Some(value) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            let _ = write!(out, "&{name}={}", query_value(value));
        }
    }
    out
}

fn input(name: &str, label: &str, kind: &str, value: Option<&String>) -> String {
    format!(
        "<label>{label}<input type=\"{kind}\" name=\"{name}\" value=\"{}\"></label>",
        Esc(value.map_or("", String::as_str))
    )
}

fn select(name: &str, label: &str, options: &[&str], value: Option<&String>) -> String {
    let mut out = format!("<label>{label}<select name=\"{name}\"><option value=\"\">any</option>");
    for option in options {
        let on = if value.map(String::as_str) == Some(*option) {
            " selected"
        } else {
            ""
        };
        let _ = write!(out, "<option{on}>{}</option>", Esc(option));
    }
    out.push_str("</select></label>");
    out
}

/// The filters' form: a GET to the list.
fn filters(body: &mut String, home: &str, query: &ListQuery) {
    let _ = write!(
        body,
        "<form class=\"filters\" method=\"get\" action=\"{}\">",
        Esc(home)
    );
    body.push_str(&input("host", "host", "text", query.host.as_ref()));
    body.push_str(&select("state", "state", STATES, query.state.as_ref()));
    body.push_str(&select(
        "outcome",
        "outcome",
        &["not_applied", "unknown"],
        query.outcome.as_ref(),
    ));
    body.push_str(&input("status", "status", "number", query.status.as_ref()));
    body.push_str(&input(
        "since",
        "since (UTC)",
        "datetime-local",
        query.since.as_ref(),
    ));
    body.push_str(&input(
        "until",
        "until (UTC)",
        "datetime-local",
        query.until.as_ref(),
    ));
    body.push_str("<button type=\"submit\">Filter</button></form>");
}

/// The list of letters: counts per state as tabs, the filters, a table (cards on a phone),
/// and links to the next and previous pages.
pub(crate) fn list(
    frame: &Frame<'_>,
    query: &ListQuery,
    page_number: usize,
    letters: &[DeadLetter],
    counts: &LetterCounts,
    has_next: bool,
) -> String {
    let home = frame.home();
    let kept = keep(query);
    let state = query.state.as_deref().filter(|s| !s.is_empty());
    let mut body = format!("<h1>{}</h1><nav class=\"tabs\">", Esc(frame.title));
    let on = |this: bool| if this { " class=\"on\"" } else { "" };
    let _ = write!(
        body,
        "<a{} href=\"{}?{}\">all ({})</a>",
        on(state.is_none()),
        Esc(home),
        Esc(kept.trim_start_matches('&')),
        counts.total
    );
    for name in STATES {
        let n = counts.by_state.get(*name).copied().unwrap_or(0);
        let _ = write!(
            body,
            "<a{} href=\"{}?state={name}{}\">{} ({n})</a>",
            on(state == Some(*name)),
            Esc(home),
            Esc(&kept),
            name.replace('_', " ")
        );
    }
    body.push_str("</nav>");

    filters(&mut body, home, query);

    if letters.is_empty() {
        body.push_str("<p class=\"muted\">No letters match.</p>");
    } else {
        body.push_str(
            "<table class=\"letters\"><thead><tr><th>created</th><th>request</th>\
             <th>status</th><th>outcome</th><th>state</th><th>attempts</th></tr></thead><tbody>",
        );
        for letter in letters {
            let _ = write!(
                body,
                "<tr><td data-label=\"created\"><a href=\"{base}/letters/{id}\">{created}</a></td>\
                 <td data-label=\"request\" class=\"url\"><a href=\"{base}/letters/{id}\">{method} {url}</a></td>\
                 <td data-label=\"status\">{status}</td><td data-label=\"outcome\">{outcome}</td>\
                 <td data-label=\"state\" class=\"state\">{state}</td>\
                 <td data-label=\"attempts\">{attempts}</td></tr>",
                base = Esc(frame.base),
                id = letter.id,
                created = when(letter.created),
                method = Esc(&letter.request.method),
                url = Esc(&truncate(&letter.request.url, 160)),
                status = status(letter),
                outcome = letter.outcome.as_str().replace('_', " "),
                state = Esc(&truncate(&state_line(&letter.state), 80)),
                attempts = letter.attempts.len(),
            );
        }
        body.push_str("</tbody></table>");
    }
    body.push_str("<p class=\"pages\">");
    let state_part = state
        .map(|s| format!("&state={}", query_value(s)))
        .unwrap_or_default();
    if page_number > 0 {
        let _ = write!(
            body,
            "<a rel=\"prev\" href=\"{}?page={}{}{}\">← newer</a> ",
            Esc(home),
            page_number - 1,
            Esc(&state_part),
            Esc(&kept)
        );
    }
    let _ = write!(
        body,
        "<span class=\"muted\">page {}</span>",
        page_number + 1
    );
    if has_next {
        let _ = write!(
            body,
            " <a rel=\"next\" href=\"{}?page={}{}{}\">older →</a>",
            Esc(home),
            page_number + 1,
            Esc(&state_part),
            Esc(&kept)
        );
    }
    body.push_str("</p>");
    page(frame.title, &body)
}

/// A notice shown above a letter after an action.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Notice {
    pub(crate) text: &'static str,
    pub(crate) error: bool,
}

fn pairs(out: &mut String, pairs: &[(String, String)]) {
    if pairs.is_empty() {
        out.push_str("<p class=\"muted\">no headers</p>");
        return;
    }
    out.push_str("<table class=\"pairs\"><tbody>");
    for (name, value) in pairs {
        let _ = write!(
            out,
            "<tr><th>{}</th><td><code>{}</code></td></tr>",
            Esc(name),
            Esc(value)
        );
    }
    out.push_str("</tbody></table>");
}

fn action(
    out: &mut String,
    base: &str,
    letter: &DeadLetter,
    verb: &str,
    token: &str,
    extra: &str,
    label: &str,
) {
    let _ = write!(
        out,
        "<form method=\"post\" action=\"{}/letters/{}/{verb}\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">{extra}\
         <button type=\"submit\" name=\"do\" value=\"{verb}\">{label}</button></form>",
        Esc(base),
        letter.id,
        Esc(token)
    );
}

/// The buttons of a letter not yet done with.
fn actions(body: &mut String, base: &str, letter: &DeadLetter, replayable: bool, token: &str) {
    if letter.state.is_final() {
        return;
    }
    {
        body.push_str("<div class=\"actions\">");
        let unconfirmed = letter.outcome == LetterOutcome::Unknown && !letter.confirmed_not_applied;
        if unconfirmed {
            body.push_str(
                "<p class=\"muted\">The server may have acted on this call: check with it \
                 before replaying.</p>",
            );
            action(
                body,
                base,
                letter,
                "confirm",
                token,
                "",
                "I checked: not applied",
            );
        }
        if replayable {
            action(body, base, letter, "replay", token, "", "Replay");
        } else {
            body.push_str("<p class=\"muted\">Its body was not kept: it cannot be replayed.</p>");
        }
        action(
            body,
            base,
            letter,
            "discard",
            token,
            "<input name=\"reason\" required maxlength=\"500\" placeholder=\"reason\" aria-label=\"reason\">",
            "Discard",
        );
        body.push_str("</div>");
    }
}

/// The request as sent and the last response.
fn exchange(body: &mut String, letter: &DeadLetter) {
    let request = &letter.request;
    let _ = write!(
        body,
        "<h2>Request</h2><p><code>{} {}</code></p>",
        Esc(&request.method),
        Esc(&request.url)
    );
    pairs(body, &request.headers);
    let request_body = match &request.body {
        LetterBody::Empty => "(empty)".to_owned(),
        LetterBody::Text(text) => text.clone(),
        LetterBody::Binary(bytes) => format!("({} bytes, not text)", bytes.len()),
        LetterBody::TooLarge { len } => format!("({len} bytes, too large to keep)"),
        LetterBody::Streamed => "(streamed, not kept)".to_owned(),
    };
    let _ = write!(body, "<pre>{}</pre>", Esc(&request_body));

    body.push_str("<h2>Response</h2>");
    match &letter.response {
        Some(response) => {
            let _ = write!(body, "<p>status <b>{}</b></p>", response.status);
            pairs(body, &response.headers);
            let _ = write!(
                body,
                "<pre>{}</pre>",
                Esc(response.body.as_deref().unwrap_or("(body not read)"))
            );
        }
        None => body.push_str("<p class=\"muted\">The call ended without a response.</p>"),
    }
}

/// One letter: state and actions, the redacted request and response, the attempts and the
/// letter's history.
pub(crate) fn detail(
    frame: &Frame<'_>,
    letter: &DeadLetter,
    replayable: bool,
    token: &str,
    notice: Option<Notice>,
) -> String {
    let mut body = format!(
        "<p><a href=\"{}\">← {}</a></p><h1>{} <span class=\"url\">{}</span></h1>",
        Esc(frame.home()),
        Esc(frame.title),
        Esc(&letter.request.method),
        Esc(&truncate(&letter.request.url, 300)),
    );
    if let Some(notice) = notice {
        let class = if notice.error {
            "notice error"
        } else {
            "notice"
        };
        let _ = write!(
            body,
            "<p class=\"{class}\" role=\"status\">{}</p>",
            notice.text
        );
    }
    let _ = write!(
        body,
        "<dl><dt>state</dt><dd class=\"state\" id=\"state\">{}</dd>\
         <dt>outcome</dt><dd>{}{}</dd><dt>status</dt><dd>{}</dd>\
         <dt>idempotency key</dt><dd><code>{}</code></dd><dt>error</dt><dd>{}</dd>\
         <dt>id</dt><dd><code>{}</code></dd></dl>",
        Esc(&state_line(&letter.state)),
        letter.outcome.as_str().replace('_', " "),
        if letter.confirmed_not_applied {
            " (confirmed not applied)"
        } else {
            ""
        },
        status(letter),
        Esc(letter.idempotency_key.as_deref().unwrap_or("none")),
        Esc(&letter.error),
        letter.id,
    );

    actions(&mut body, frame.base, letter, replayable, token);
    exchange(&mut body, letter);
    body.push_str("<h2>Attempts</h2><ol class=\"attempts\">");
    for attempt in &letter.attempts {
        let _ = write!(
            body,
            "<li class=\"attempt\">{}{}: <b>{}</b> ({}), {}, status {}, {} ms</li>",
            when(attempt.started),
            if attempt.replay { " replay" } else { "" },
            Esc(&attempt.verdict),
            Esc(&attempt.reason),
            match attempt.outcome {
                LetterOutcome::NotApplied => "not applied",
                _ => "may have been applied",
            },
            attempt
                .status
                .map_or_else(|| "–".to_owned(), |s| s.to_string()),
            attempt.duration.as_millis(),
        );
    }
    body.push_str("</ol>");

    let _ = write!(
        body,
        "<h2>History</h2><ul><li>{} recorded</li><li>{} replay(s) sent</li>{}<li>{} last change: {}</li></ul>",
        when(letter.created),
        letter.replays,
        if letter.confirmed_not_applied {
            "<li>a person or the verifier confirmed: not applied</li>"
        } else {
            ""
        },
        when(letter.updated),
        Esc(&state_line(&letter.state)),
    );
    page(frame.title, &body)
}
