//! A credential read from an environment variable on every attempt.

use std::fmt;
use std::sync::{Arc, RwLock};

use secrecy::{ExposeSecret as _, SecretString};

use super::credential::Placement;
use super::{Credential, Credentials, Lookup, RefreshFuture};
use crate::error::CredentialsError;

type LookupFn = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// A header or query parameter whose value is an environment variable, read again on every
/// attempt, so a value the process changes is used by the next attempt.
///
/// A process's environment changes only from inside it (a secrets agent library, a
/// supervisor thread calling `set_var`); for a secret rotated from outside, mount it as a
/// file and use [`FileCredentials`](super::FileCredentials).
///
/// # Cost
///
/// Each attempt reads the variable (one small allocation by the standard library) and
/// compares it with the last value seen; only a changed value builds a new header. With
/// [`resend_on_unauthorized`](Self::resend_on_unauthorized) each attempt also keeps a copy
/// of its request.
///
/// # Example
///
/// ```
/// use steadfast::credentials::EnvCredentials;
///
/// // `Authorization: Bearer $CRM_TOKEN` on every attempt.
/// let token = EnvCredentials::header("CRM_TOKEN", "authorization")?.prefix("Bearer ");
/// # let _ = token;
/// # Ok::<(), steadfast::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct EnvCredentials {
    var: String,
    placement: Placement,
    prefix: String,
    lookup: LookupFn,
    resend_on_unauthorized: bool,
    last: Arc<RwLock<Option<Seen>>>,
}

/// The last value read and the credential built from it.
struct Seen {
    raw: SecretString,
    credential: Credential,
}

impl fmt::Debug for EnvCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvCredentials")
            .field("var", &self.var)
            .field("placement", &self.placement)
            .finish_non_exhaustive()
    }
}

impl EnvCredentials {
    /// The header `header` set to the value of `var`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::HeaderName`](crate::ConfigError::HeaderName) for an invalid header
    /// name.
    pub fn header(var: impl Into<String>, header: &str) -> Result<Self, crate::ConfigError> {
        let name = reqwest::header::HeaderName::try_from(header).map_err(|_| {
            crate::ConfigError::HeaderName {
                name: "credentials.env.header",
                value: header.to_owned(),
            }
        })?;
        Ok(Self::at(var.into(), Placement::Header(name)))
    }

    /// The query parameter `name` set to the value of `var`.
    #[must_use]
    pub fn query(var: impl Into<String>, name: &str) -> Self {
        Self::at(var.into(), Placement::Query(Arc::from(name)))
    }

    fn at(var: String, placement: Placement) -> Self {
        Self {
            var,
            placement,
            prefix: String::new(),
            lookup: Arc::new(|var| std::env::var(var).ok()),
            resend_on_unauthorized: false,
            last: Arc::new(RwLock::new(None)),
        }
    }

    /// Puts `prefix` before the value (`"Bearer "`, `"Token "`). Default none.
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Reads variables with `lookup` instead of the process environment: for tests (the
    /// crate forbids `unsafe`, and `std::env::set_var` is unsafe), or another store of
    /// variables. Default: `std::env::var`.
    #[must_use]
    pub fn lookup(
        mut self,
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.lookup = Arc::new(lookup);
        self
    }

    /// Whether a `401` reads the variable again and, when it changed since the attempt,
    /// sends the attempt once more with the new value. Default `false`: it costs a copy
    /// of each attempt's request, and a process's environment seldom changes under it.
    #[must_use]
    pub fn resend_on_unauthorized(mut self, resend: bool) -> Self {
        self.resend_on_unauthorized = resend;
        self
    }

    fn current(&self) -> Result<Credential, CredentialsError> {
        let Some(raw) = (self.lookup)(&self.var) else {
            return Err(CredentialsError::EnvMissing {
                var: self.var.clone(),
            });
        };
        let raw = SecretString::from(raw);
        if let Ok(last) = self.last.read()
            && let Some(seen) = last.as_ref()
            && seen.raw.expose_secret() == raw.expose_secret()
        {
            return Ok(seen.credential.clone());
        }
        let credential = Credential::prefixed(
            &self.placement,
            &self.prefix,
            raw.expose_secret(),
            &format!("environment variable {}", self.var),
        )?;
        if let Ok(mut last) = self.last.write() {
            *last = Some(Seen {
                raw,
                credential: credential.clone(),
            });
        }
        Ok(credential)
    }
}

impl Credentials for EnvCredentials {
    fn credential(&self) -> Lookup {
        Lookup::Ready(self.current())
    }

    fn can_refresh(&self) -> bool {
        self.resend_on_unauthorized
    }

    /// A value changed since the rejected attempt read it is worth one more attempt.
    fn unauthorized(&self, rejected: &Credential) -> RefreshFuture {
        let fresh = self.current().map(|now| (now != *rejected).then_some(now));
        Box::pin(std::future::ready(fresh))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use futures_util::FutureExt as _;
    use reqwest::Request;

    use super::*;

    fn ready(lookup: Lookup) -> Credential {
        match lookup {
            Lookup::Ready(found) => found.expect("a credential"),
            Lookup::Pending(_) => panic!("an environment variable is at hand"),
        }
    }

    fn header_bytes(credential: &Credential) -> *const u8 {
        let mut request = Request::new(
            reqwest::Method::GET,
            "http://127.0.0.1/".parse().expect("valid"),
        );
        credential.apply_to(&mut request);
        request.headers()["authorization"].as_bytes().as_ptr()
    }

    #[test]
    fn an_unchanged_value_reuses_its_header_and_a_changed_one_is_fresh() {
        let value = Arc::new(Mutex::new(String::from("t-1")));
        let seen = Arc::clone(&value);
        let provider = EnvCredentials::header("TOKEN", "authorization")
            .expect("valid")
            .prefix("Bearer ")
            .lookup(move |_| Some(seen.lock().expect("not poisoned").clone()));

        let first = ready(provider.credential());
        let again = ready(provider.credential());
        assert_eq!(first, again);
        assert_eq!(
            header_bytes(&first),
            header_bytes(&again),
            "the same bytes, not a copy"
        );

        let unchanged = provider.unauthorized(&first).now_or_never().expect("ready");
        assert!(unchanged.expect("readable").is_none(), "nothing fresher");
        *value.lock().expect("not poisoned") = String::from("t-2");
        let fresh = provider.unauthorized(&first).now_or_never().expect("ready");
        let fresh = fresh.expect("readable").expect("a fresher value");
        assert_ne!(fresh, first);
        assert_eq!(ready(provider.credential()), fresh);
    }
}
