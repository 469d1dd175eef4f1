//! OAuth 2.0 client credentials: a bearer token cached until shortly before it expires.

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use reqwest::Url;
use secrecy::SecretString;
use tokio::time::Instant;

use super::token::{ClientAuth, ClientSecret, Token, TokenRequest};
use super::{Credential, Credentials, Lookup, RefreshFuture};
use crate::error::CredentialsError;

/// `Authorization: Bearer <token>` from an OAuth 2.0 token endpoint (the client credentials
/// grant, RFC 6749 §4.4).
///
/// # Caching and refresh
///
/// The token is kept until [`refresh_margin`](Self::refresh_margin) (default 60 s) before
/// the `expires_in` the server gave; an attempt then fetches a new one. A lifetime shorter
/// than the margin is refreshed half-way through; a token without `expires_in` is kept
/// until a `401`. **One refresh for all callers**: attempts that need a token while one is
/// being fetched wait for that one, and share its failure too
/// ([`CredentialsError::TokenShared`]) rather than each making a request of its own. If a
/// refresh fails while the old token has not expired yet, the old token is used (with a
/// warning in the log).
///
/// # 401
///
/// A `401` to an attempt fetches a new token (unless another attempt already did) and
/// sends the attempt once more with it. A second `401` is the attempt's answer, never a
/// loop: the retry layer classifies it permanent and needing a person
/// ([`Classification::needs_attention`](crate::classify::Classification::needs_attention)).
///
/// # Errors
///
/// An attempt for which no token can be had is not sent and fails with
/// [`Error::Credentials`](crate::Error::Credentials): the endpoint unreachable
/// ([`CredentialsError::TokenUnreachable`]), slower than
/// [`token_timeout`](Self::token_timeout) (default 10 s,
/// [`CredentialsError::TokenTimeout`]), refusing the client
/// ([`CredentialsError::TokenRejected`], its `error` code kept when it is a plain one) or
/// answering something unusable, larger than [`max_bytes`](Self::max_bytes) (default
/// 64 KiB) among them ([`CredentialsError::TokenResponse`]).
///
/// # Clone
///
/// Clones share the token and the refresh.
///
/// # Example
///
/// ```
/// use secrecy::SecretString;
/// use steadfast::credentials::OAuth2Credentials;
///
/// let http = reqwest::Client::new();
/// let token = OAuth2Credentials::new(
///     http.clone(),
///     "https://auth.example.com/oauth2/token".parse()?,
///     "billing-sync",
///     SecretString::from(std::env::var("BILLING_CLIENT_SECRET").unwrap_or_default()),
/// )
/// .scopes(["invoices:write"]);
/// let client = steadfast::Client::builder().credentials(token).build(http)?;
/// # let _ = client;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct OAuth2Credentials {
    http: reqwest::Client,
    request: Arc<TokenRequest>,
    shared: Arc<Shared>,
}

/// What every clone shares: the token and the one refresh.
struct Shared {
    token: RwLock<Option<Token>>,
    refresh: tokio::sync::Mutex<()>,
    /// Token requests made so far, so that a caller that waited can tell one was made.
    requests: AtomicU64,
    /// How the last token request failed (its message, whether transient), if it did.
    failure: RwLock<Option<(String, bool)>>,
}

impl fmt::Debug for OAuth2Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuth2Credentials")
            .field("token_url", &self.request.token_url.as_str())
            .field("client_id", &self.request.client_id)
            .field("scopes", &self.request.scopes)
            .finish_non_exhaustive()
    }
}

impl OAuth2Credentials {
    /// Tokens for `client_id` with `client_secret` from `token_url`, requested with `http`.
    #[must_use]
    pub fn new(
        http: reqwest::Client,
        token_url: Url,
        client_id: impl Into<String>,
        client_secret: SecretString,
    ) -> Self {
        Self::with_secret(
            http,
            token_url,
            client_id.into(),
            ClientSecret::Value(client_secret),
        )
    }

    pub(super) fn with_secret(
        http: reqwest::Client,
        token_url: Url,
        client_id: String,
        client_secret: ClientSecret,
    ) -> Self {
        Self {
            http,
            request: Arc::new(TokenRequest {
                token_url,
                client_id,
                client_secret,
                client_auth: ClientAuth::Basic,
                scopes: Vec::new(),
                audience: None,
                timeout: Some(Duration::from_secs(10)),
                max_bytes: 64 * 1024,
                refresh_margin: Duration::from_secs(60),
            }),
            shared: Arc::new(Shared {
                token: RwLock::new(None),
                refresh: tokio::sync::Mutex::new(()),
                requests: AtomicU64::new(0),
                failure: RwLock::new(None),
            }),
        }
    }

    /// Tokens with the secret read from the environment variable `var` at each token
    /// request, so a rotated secret is used by the next one.
    #[must_use]
    pub fn secret_from_env(
        http: reqwest::Client,
        token_url: Url,
        client_id: impl Into<String>,
        var: impl Into<String>,
    ) -> Self {
        Self::with_secret(
            http,
            token_url,
            client_id.into(),
            ClientSecret::Env(var.into()),
        )
    }

    /// Tokens with the secret read from the file at `path` (trailing newline trimmed) at
    /// each token request.
    #[must_use]
    pub fn secret_from_file(
        http: reqwest::Client,
        token_url: Url,
        client_id: impl Into<String>,
        path: impl Into<PathBuf>,
    ) -> Self {
        Self::with_secret(
            http,
            token_url,
            client_id.into(),
            ClientSecret::File(path.into()),
        )
    }

    fn configure(mut self, change: impl FnOnce(&mut TokenRequest)) -> Self {
        change(Arc::make_mut(&mut self.request));
        self
    }

    /// The scopes asked for, sent space-separated. Default none.
    #[must_use]
    pub fn scopes<I, S>(self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let scopes = scopes.into_iter().map(Into::into).collect();
        self.configure(|r| r.scopes = scopes)
    }

    /// The `audience` parameter some servers (Auth0, Okta) need. Default none.
    #[must_use]
    pub fn audience(self, audience: impl Into<String>) -> Self {
        let audience = audience.into();
        self.configure(|r| r.audience = Some(audience))
    }

    /// How long before its expiry a token is replaced. Default 60 s.
    #[must_use]
    pub fn refresh_margin(self, margin: Duration) -> Self {
        self.configure(|r| r.refresh_margin = margin)
    }

    /// How the client authenticates to the token endpoint. Default [`ClientAuth::Basic`].
    #[must_use]
    pub fn client_auth(self, auth: ClientAuth) -> Self {
        self.configure(|r| r.client_auth = auth)
    }

    /// The limit of a token request, its answer read included. Default 10 s.
    #[must_use]
    pub fn token_timeout(self, limit: Duration) -> Self {
        self.configure(|r| r.timeout = Some(limit))
    }

    /// Turns the token request's own limit off: only the attempt's bounds it. For tests on
    /// a paused clock, which would fire the timer while the request waits on the network.
    /// Default on (10 s).
    #[must_use]
    pub fn without_token_timeout(self) -> Self {
        self.configure(|r| r.timeout = None)
    }

    /// The largest token response read, in bytes. Default 64 KiB.
    #[must_use]
    pub fn max_bytes(self, max: usize) -> Self {
        self.configure(|r| r.max_bytes = max)
    }

    /// The cached token, when it is still fresh.
    fn cached(&self, now: Instant) -> Option<Credential> {
        let token = self.shared.token.read().ok()?;
        token
            .as_ref()
            .filter(|t| t.is_fresh(now))
            .map(|t| t.credential.clone())
    }

    /// A fresh token: the one another caller fetched while this one waited, or a new one.
    /// `rejected` is a token the server refused, which is never handed out again.
    fn fetch(
        &self,
        rejected: Option<Credential>,
    ) -> impl Future<Output = Result<Credential, CredentialsError>> + Send + 'static {
        let http = self.http.clone();
        let request = Arc::clone(&self.request);
        let shared = Arc::clone(&self.shared);
        async move {
            let seen = shared.requests.load(Ordering::Acquire);
            let _one_refresh = shared.refresh.lock().await;
            let now = Instant::now();
            let mut known = shared.token.read().ok().and_then(|t| t.clone());
            if let Some(token) = &known {
                if rejected.as_ref() == Some(&token.credential) {
                    // Refused by the server: never handed out again, even if no new one
                    // can be had.
                    if let Ok(mut slot) = shared.token.write() {
                        *slot = None;
                    }
                    known = None;
                } else if token.is_fresh(now) {
                    return Ok(token.credential.clone());
                }
            }
            if shared.requests.load(Ordering::Acquire) != seen {
                // Another caller's token request failed while this one waited: its answer is
                // this one's too, rather than one more request per waiting caller.
                if let Some(token) = known.as_ref().filter(|t| t.is_valid(now)) {
                    return Ok(token.credential.clone());
                }
                if let Some((reason, transient)) =
                    shared.failure.read().ok().and_then(|f| f.clone())
                {
                    return Err(CredentialsError::TokenShared { reason, transient });
                }
            }
            tracing::debug!(token_url = %request.token_url, "requesting an OAuth 2.0 token");
            let fetched = request.fetch(&http).await;
            if let Ok(mut failure) = shared.failure.write() {
                *failure = fetched
                    .as_ref()
                    .err()
                    .map(|e| (e.to_string(), e.is_transient()));
            }
            shared.requests.fetch_add(1, Ordering::AcqRel);
            match fetched {
                Ok(token) => {
                    let credential = token.credential.clone();
                    if let Ok(mut slot) = shared.token.write() {
                        *slot = Some(token);
                    }
                    Ok(credential)
                }
                // Refreshing early failed: the old token is still good until it expires.
                Err(error) => match known {
                    Some(token) if token.is_valid(Instant::now()) => {
                        tracing::warn!(
                            error = %error,
                            "OAuth2 token refresh failed; the current token is used until it expires"
                        );
                        Ok(token.credential)
                    }
                    _ => Err(error),
                },
            }
        }
    }
}

impl Credentials for OAuth2Credentials {
    fn credential(&self) -> Lookup {
        match self.cached(Instant::now()) {
            Some(credential) => Lookup::Ready(Ok(credential)),
            None => Lookup::Pending(Box::pin(self.fetch(None))),
        }
    }

    fn can_refresh(&self) -> bool {
        true
    }

    fn unauthorized(&self, rejected: &Credential) -> RefreshFuture {
        let fresh = self.fetch(Some(rejected.clone()));
        Box::pin(async move { fresh.await.map(Some) })
    }
}
