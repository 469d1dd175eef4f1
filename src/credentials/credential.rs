//! What a provider applies to one attempt: a header or a query parameter.

use std::fmt;
use std::sync::Arc;

use reqwest::Request;
use reqwest::header::{HeaderName, HeaderValue};

use crate::error::CredentialsError;

/// One credential, ready to be applied to an attempt: a header (marked sensitive, so that
/// HTTP/2 never indexes it and its `Debug` says `Sensitive`) or a query parameter.
///
/// Cloning is cheap (reference counts, no copy of the value); `Debug` never shows the value.
///
/// # Example
///
/// ```
/// use steadfast::credentials::Credential;
///
/// let key = Credential::header("x-api-key", "k-123")?;
/// assert!(!format!("{key:?}").contains("k-123"));
/// let bearer = Credential::bearer("eyJhbGciOi...")?;
/// # let _ = bearer;
/// # Ok::<(), steadfast::credentials::CredentialsError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    target: Target,
}

#[derive(Clone, PartialEq, Eq)]
enum Target {
    Header(HeaderName, HeaderValue),
    // The value is kept as a sensitive `HeaderValue`: bytes behind a reference count that
    // never print, and the same validity rules (no control characters).
    Query(Arc<str>, HeaderValue),
}

impl Credential {
    /// A header `name: value`.
    ///
    /// # Errors
    ///
    /// [`CredentialsError::Invalid`] when `name` is not a header name or `value` is empty
    /// or not a valid header value.
    pub fn header(name: &str, value: &str) -> Result<Self, CredentialsError> {
        let name = HeaderName::try_from(name).map_err(|_| invalid("the header name"))?;
        Ok(Self::from_header(
            name,
            sensitive(value.as_bytes(), "the value")?,
        ))
    }

    /// `Authorization: Bearer <token>`.
    ///
    /// # Errors
    ///
    /// [`CredentialsError::Invalid`] when the token is empty or not a valid header value.
    pub fn bearer(token: &str) -> Result<Self, CredentialsError> {
        Self::prefixed(
            &Placement::Header(reqwest::header::AUTHORIZATION),
            "Bearer ",
            token,
            "the token",
        )
    }

    /// A query parameter `name=value`, added to the attempt's URL (any parameter of that
    /// name the caller set is replaced).
    ///
    /// # Errors
    ///
    /// [`CredentialsError::Invalid`] when the value is empty or holds control characters.
    pub fn query(name: &str, value: &str) -> Result<Self, CredentialsError> {
        Ok(Self {
            target: Target::Query(Arc::from(name), sensitive(value.as_bytes(), "the value")?),
        })
    }

    /// A header credential from a name and a value already built.
    #[must_use]
    pub fn from_header(name: HeaderName, mut value: HeaderValue) -> Self {
        value.set_sensitive(true);
        Self {
            target: Target::Header(name, value),
        }
    }

    /// `prefix` and `secret` at `placement`; `what` names the source in errors.
    pub(crate) fn prefixed(
        placement: &Placement,
        prefix: &str,
        secret: &str,
        what: &str,
    ) -> Result<Self, CredentialsError> {
        if secret.is_empty() {
            return Err(invalid(what));
        }
        let mut bytes = Vec::with_capacity(prefix.len() + secret.len());
        bytes.extend_from_slice(prefix.as_bytes());
        bytes.extend_from_slice(secret.as_bytes());
        let value =
            HeaderValue::from_maybe_shared(bytes::Bytes::from(bytes)).map_err(|_| invalid(what))?;
        Ok(placement.with(value))
    }

    /// The header name, for a header credential.
    #[must_use]
    pub fn header_name(&self) -> Option<&HeaderName> {
        match &self.target {
            Target::Header(name, _) => Some(name),
            Target::Query(..) => None,
        }
    }

    /// Sets the credential on `request`, replacing one the caller set by hand.
    pub fn apply_to(&self, request: &mut Request) {
        self.clone().apply(request);
    }

    /// [`apply_to`](Self::apply_to), moving the credential in rather than cloning it.
    pub fn apply(self, request: &mut Request) {
        match self.target {
            Target::Header(name, value) => {
                request.headers_mut().insert(name, value);
            }
            Target::Query(name, value) => {
                let url = request.url_mut();
                let kept: Vec<(String, String)> = url
                    .query_pairs()
                    .filter(|(n, _)| *n != *name)
                    .map(|(n, v)| (n.into_owned(), v.into_owned()))
                    .collect();
                let mut pairs = url.query_pairs_mut();
                pairs.clear();
                for (n, v) in &kept {
                    pairs.append_pair(n, v);
                }
                // Checked at construction: no control characters, so visible ASCII or
                // opaque bytes read as Latin-1 would be; secrets are ASCII in practice.
                pairs.append_pair(&name, &String::from_utf8_lossy(value.as_bytes()));
            }
        }
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.target {
            Target::Header(name, _) => f
                .debug_struct("Credential")
                .field("header", name)
                .field("value", &"[redacted]")
                .finish(),
            Target::Query(name, _) => f
                .debug_struct("Credential")
                .field("query", name)
                .field("value", &"[redacted]")
                .finish(),
        }
    }
}

/// Where a provider puts its secret: a header or a query parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Placement {
    Header(HeaderName),
    Query(Arc<str>),
}

impl Placement {
    /// The credential of `value` (already holding any prefix) at this place.
    pub(crate) fn with(&self, mut value: HeaderValue) -> Credential {
        value.set_sensitive(true);
        Credential {
            target: match self {
                Self::Header(name) => Target::Header(name.clone(), value),
                Self::Query(name) => Target::Query(Arc::clone(name), value),
            },
        }
    }
}

fn sensitive(value: &[u8], what: &str) -> Result<HeaderValue, CredentialsError> {
    if value.is_empty() {
        return Err(invalid(what));
    }
    let mut value = HeaderValue::from_bytes(value).map_err(|_| invalid(what))?;
    value.set_sensitive(true);
    Ok(value)
}

pub(crate) fn invalid(what: &str) -> CredentialsError {
    CredentialsError::Invalid {
        what: what.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(url: &str) -> Request {
        Request::new(reqwest::Method::GET, url.parse().expect("valid url"))
    }

    #[test]
    fn a_header_is_set_sensitive_and_replaces_the_callers() {
        let mut request = request("http://127.0.0.1/orders");
        request
            .headers_mut()
            .insert("x-api-key", HeaderValue::from_static("old"));
        Credential::header("x-api-key", "k-1")
            .expect("valid")
            .apply_to(&mut request);
        let value = &request.headers()["x-api-key"];
        assert_eq!(value, "k-1");
        assert!(value.is_sensitive());
        assert_eq!(request.headers().get_all("x-api-key").iter().count(), 1);
    }

    #[test]
    fn a_query_parameter_replaces_the_callers() {
        let mut request = request("http://127.0.0.1/orders?api_key=old&status=open");
        Credential::query("api_key", "k 1&2")
            .expect("valid")
            .apply_to(&mut request);
        assert_eq!(request.url().query(), Some("status=open&api_key=k+1%262"));
    }

    #[test]
    fn empty_and_control_characters_are_refused_without_the_value() {
        for bad in ["", "a\nb", "a\rb"] {
            let error = Credential::header("authorization", bad).expect_err("invalid");
            assert!(!error.to_string().contains('\n'), "{error}");
            assert!(Credential::query("key", bad).is_err());
        }
        assert!(Credential::bearer("").is_err());
    }

    #[test]
    fn debug_never_shows_the_value() {
        let shown = format!(
            "{:?} {:?}",
            Credential::bearer("s3cret-token").expect("valid"),
            Credential::query("key", "s3cret-key").expect("valid")
        );
        assert!(!shown.contains("s3cret"), "{shown}");
    }
}
