//! A listing's query string (`?host=…&state=pending&page=2`) as the forms send it: empty
//! fields mean "any", times are RFC 3339 or a browser's `datetime-local` (read as UTC).

use std::time::SystemTime;

use humantime_serde::re::humantime;
use serde::Deserialize;

use crate::dead_letter::{LetterFilter, LetterOutcome};

/// The state names a filter accepts.
pub(crate) const STATES: &[&str] = &[
    "pending",
    "replaying",
    "resolved",
    "failed_again",
    "discarded",
];

/// The fields of a listing's query string, as sent.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ListQuery {
    pub(crate) host: Option<String>,
    pub(crate) state: Option<String>,
    pub(crate) outcome: Option<String>,
    pub(crate) status: Option<String>,
    pub(crate) since: Option<String>,
    pub(crate) until: Option<String>,
    pub(crate) page: Option<String>,
}

/// A listing's filter and page, read from a [`ListQuery`].
#[derive(Debug, Clone)]
pub(crate) struct Listing {
    /// The filter without a state: what the counts per state are of.
    pub(crate) all_states: LetterFilter,
    /// The filter of the letters listed.
    pub(crate) filter: LetterFilter,
    /// The page, from 0.
    pub(crate) page: usize,
}

fn given(field: Option<&String>) -> Option<&str> {
    field.map(|s| s.trim()).filter(|s| !s.is_empty())
}

/// A time as RFC 3339 (`2026-12-02T13:05:00Z`) or as a `datetime-local` input sends it
/// (`2026-12-02T13:05`, UTC).
fn time(text: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339(text)
        .or_else(|_| humantime::parse_rfc3339_weak(text))
        .or_else(|_| humantime::parse_rfc3339_weak(&format!("{text}:00")))
        .ok()
}

impl ListQuery {
    /// The filter and page, or the name of the field that is not valid.
    pub(crate) fn listing(&self, max_page: usize) -> Result<Listing, &'static str> {
        let mut filter = LetterFilter::default();
        if let Some(host) = given(self.host.as_ref()) {
            filter = filter.host(host.to_ascii_lowercase());
        }
        if let Some(outcome) = given(self.outcome.as_ref()) {
            filter = filter.outcome(match outcome {
                "not_applied" => LetterOutcome::NotApplied,
                "unknown" => LetterOutcome::Unknown,
                _ => return Err("outcome"),
            });
        }
        if let Some(status) = given(self.status.as_ref()) {
            filter = filter.status(status.parse().map_err(|_| "status")?);
        }
        if let Some(since) = given(self.since.as_ref()) {
            filter = filter.since(time(since).ok_or("since")?);
        }
        if let Some(until) = given(self.until.as_ref()) {
            filter = filter.until(time(until).ok_or("until")?);
        }
        let all_states = filter.clone();
        if let Some(state) = given(self.state.as_ref()) {
            if !STATES.contains(&state) {
                return Err("state");
            }
            filter = filter.state(state);
        }
        let page = match given(self.page.as_ref()) {
            Some(page) => page.parse::<usize>().map_err(|_| "page")?,
            None => 0,
        };
        if page >= max_page {
            return Err("page");
        }
        Ok(Listing {
            all_states,
            filter,
            page,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> ListQuery {
        let mut query = ListQuery::default();
        for (name, value) in pairs {
            let value = Some((*value).to_owned());
            match *name {
                "host" => query.host = value,
                "state" => query.state = value,
                "outcome" => query.outcome = value,
                "status" => query.status = value,
                "since" => query.since = value,
                "until" => query.until = value,
                "page" => query.page = value,
                _ => unreachable!(),
            }
        }
        query
    }

    #[test]
    fn fields() {
        let listing = query(&[
            ("host", " Billing.Example.com "),
            ("state", "pending"),
            ("outcome", "unknown"),
            ("status", "503"),
            ("since", "2026-12-02T13:05"),
            ("until", "2026-12-03T00:00:00Z"),
            ("page", "2"),
        ])
        .listing(10)
        .expect("valid");
        let f = &listing.filter;
        assert_eq!(f.host.as_deref(), Some("billing.example.com"));
        assert_eq!(f.state.as_deref(), Some("pending"));
        assert_eq!(listing.all_states.state, None);
        assert_eq!(f.outcome, Some(LetterOutcome::Unknown));
        assert_eq!(f.status, Some(503));
        assert_eq!(
            f.since,
            humantime::parse_rfc3339("2026-12-02T13:05:00Z").ok()
        );
        assert!(f.until.is_some());
        assert_eq!(listing.page, 2);

        let empty = query(&[("host", ""), ("state", ""), ("status", " ")])
            .listing(10)
            .expect("empty fields are any");
        assert_eq!(empty.filter, LetterFilter::default());

        for (name, value) in [
            ("state", "gone"),
            ("outcome", "applied"),
            ("status", "abc"),
            ("since", "yesterday"),
            ("page", "-1"),
            ("page", "10"),
        ] {
            assert_eq!(
                query(&[(name, value)]).listing(10).map(|_| ()),
                Err(name),
                "{value}"
            );
        }
    }
}
