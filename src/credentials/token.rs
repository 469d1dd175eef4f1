//! One OAuth 2.0 client-credentials token request (RFC 6749 §4.4), bounded in bytes and time.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION};
use reqwest::{StatusCode, Url};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use tokio::time::Instant;

use super::Credential;
use super::credential::Placement;
use crate::error::{CredentialsError, without_url};

/// Where the client secret comes from; env and file are read at every token request, so a
/// rotated secret is used by the next one.
#[derive(Debug, Clone)]
pub(super) enum ClientSecret {
    Value(SecretString),
    Env(String),
    File(PathBuf),
}

impl ClientSecret {
    fn read(&self) -> Result<SecretString, CredentialsError> {
        match self {
            Self::Value(secret) => Ok(secret.clone()),
            Self::Env(var) => std::env::var(var)
                .map(SecretString::from)
                .map_err(|_| CredentialsError::EnvMissing { var: var.clone() }),
            Self::File(path) => {
                let read =
                    std::fs::read_to_string(path).map_err(|source| CredentialsError::File {
                        path: path.clone(),
                        source,
                    })?;
                let secret = SecretString::from(read);
                Ok(SecretString::from(
                    secret.expose_secret().trim_end_matches(['\n', '\r']),
                ))
            }
        }
    }
}

/// How the client authenticates to the token endpoint (RFC 6749 §2.3.1).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// HTTP Basic with the form-encoded id and secret (`client_secret_basic`), which every
    /// server must accept. The default.
    #[default]
    Basic,
    /// `client_id` and `client_secret` in the form body (`client_secret_post`).
    Body,
}

/// What a token request needs.
#[derive(Debug, Clone)]
pub(super) struct TokenRequest {
    pub(super) token_url: Url,
    pub(super) client_id: String,
    pub(super) client_secret: ClientSecret,
    pub(super) client_auth: ClientAuth,
    pub(super) scopes: Vec<String>,
    pub(super) audience: Option<String>,
    pub(super) timeout: Option<Duration>,
    pub(super) max_bytes: usize,
    pub(super) refresh_margin: Duration,
}

/// A token and when to fetch the next one.
#[derive(Debug, Clone)]
pub(super) struct Token {
    pub(super) credential: Credential,
    /// When a new token is fetched; `None` when the server named no lifetime (kept until a
    /// `401`).
    pub(super) refresh_at: Option<Instant>,
    /// When the server said it expires: until then it may still be used if a refresh fails.
    pub(super) expires_at: Option<Instant>,
}

impl Token {
    pub(super) fn is_fresh(&self, now: Instant) -> bool {
        self.refresh_at.is_none_or(|at| now < at)
    }

    pub(super) fn is_valid(&self, now: Instant) -> bool {
        self.expires_at.is_none_or(|at| now < at)
    }
}

#[derive(Deserialize)]
struct Granted {
    access_token: SecretString,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Refused {
    #[serde(default)]
    error: Option<String>,
}

impl TokenRequest {
    /// Asks the token endpoint for a token.
    pub(super) async fn fetch(&self, http: &reqwest::Client) -> Result<Token, CredentialsError> {
        let exchange = self.exchange(http);
        let (status, body) = match self.timeout {
            Some(limit) => tokio::time::timeout(limit, exchange)
                .await
                .map_err(|_| CredentialsError::TokenTimeout { limit })??,
            None => exchange.await?,
        };
        if !status.is_success() {
            return Err(CredentialsError::TokenRejected {
                status,
                error: error_code(&body),
            });
        }
        self.token(&body, Instant::now())
    }

    /// Sends the request and reads the answer, up to `max_bytes`.
    async fn exchange(
        &self,
        http: &reqwest::Client,
    ) -> Result<(StatusCode, Vec<u8>), CredentialsError> {
        let secret = self.client_secret.read()?;
        let scope = self.scopes.join(" ");
        let mut form: Vec<(&str, &str)> = vec![("grant_type", "client_credentials")];
        if !scope.is_empty() {
            form.push(("scope", &scope));
        }
        if let Some(audience) = &self.audience {
            form.push(("audience", audience));
        }
        let mut builder = http
            .post(self.token_url.clone())
            .header(ACCEPT, "application/json");
        match self.client_auth {
            ClientAuth::Basic => {
                // Zeroed when dropped, at the end of this block.
                let value = SecretString::from(basic(&self.client_id, secret.expose_secret()));
                let mut header = reqwest::header::HeaderValue::from_str(value.expose_secret())
                    .map_err(|_| CredentialsError::Invalid {
                        what: "the client id or secret".to_owned(),
                    })?;
                header.set_sensitive(true);
                builder = builder.header(AUTHORIZATION, header);
            }
            ClientAuth::Body => {
                form.push(("client_id", &self.client_id));
                form.push(("client_secret", secret.expose_secret()));
            }
        }
        let unreachable = |e: reqwest::Error| CredentialsError::TokenUnreachable {
            source: without_url(Box::new(e)),
        };
        let mut response = builder.form(&form).send().await.map_err(unreachable)?;
        let status = response.status();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
            if body.len() + chunk.len() > self.max_bytes {
                return Err(CredentialsError::TokenResponse {
                    reason: "larger than the limit",
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, body))
    }

    /// The token in a successful answer.
    fn token(&self, body: &[u8], now: Instant) -> Result<Token, CredentialsError> {
        let granted: Granted =
            serde_json::from_slice(body).map_err(|_| CredentialsError::TokenResponse {
                reason: "not a JSON object with an access_token",
            })?;
        if granted
            .token_type
            .as_deref()
            .is_some_and(|t| !t.eq_ignore_ascii_case("bearer"))
        {
            return Err(CredentialsError::TokenResponse {
                reason: "token_type is not Bearer",
            });
        }
        let lifetime = match granted.expires_in {
            Some(serde_json::Value::Number(n)) => n.as_u64(),
            // Some servers send it as a string.
            Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        }
        .map(Duration::from_secs);
        let credential = Credential::prefixed(
            &Placement::Header(AUTHORIZATION),
            "Bearer ",
            granted.access_token.expose_secret(),
            "the token endpoint's access_token",
        )?;
        // A lifetime no longer than the margin is refreshed half-way, not on every call.
        let refresh_in = lifetime.map(|life| {
            life.checked_sub(self.refresh_margin)
                .filter(|left| !left.is_zero())
                .unwrap_or(life / 2)
        });
        Ok(Token {
            credential,
            refresh_at: refresh_in.and_then(|d| now.checked_add(d)),
            expires_at: lifetime.and_then(|d| now.checked_add(d)),
        })
    }
}

/// `Basic base64(urlencode(id):urlencode(secret))`, as RFC 6749 §2.3.1 asks.
fn basic(id: &str, secret: &str) -> String {
    use base64::Engine as _;
    let pair = format!("{}:{}", form_encode(id), form_encode(secret));
    let mut encoded = String::from("Basic ");
    base64::engine::general_purpose::STANDARD.encode_string(pair, &mut encoded);
    encoded
}

/// `application/x-www-form-urlencoded` encoding of one value.
fn form_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The RFC 6749 §5.2 `error` code of a refusal, when it is a plain code: shown in errors,
/// so anything else (a description, HTML, an echo of the request) is left out.
fn error_code(body: &[u8]) -> Option<String> {
    let refused: Refused = serde_json::from_slice(body).ok()?;
    refused.error.filter(|code| {
        code.len() <= 64 && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_encodes_the_form_encoded_pair() {
        // RFC 6749 §2.3.1: the id and secret are form-encoded, then joined and base64'd.
        assert_eq!(
            basic("Aladdin", "open sesame"),
            "Basic QWxhZGRpbjpvcGVuK3Nlc2FtZQ=="
        );
        assert_eq!(basic("a:b", "c/d"), "Basic YSUzQWI6YyUyRmQ=");
    }

    #[test]
    fn basic_form_encodes_id_and_secret_first() {
        // "a b:c%d" → "a+b:c%25d"
        assert_eq!(basic("a b", "c%d"), "Basic YStiOmMlMjVk");
    }

    #[test]
    fn only_plain_error_codes_are_kept() {
        let cases: &[(&str, Option<&str>)] = &[
            (r#"{"error":"invalid_client"}"#, Some("invalid_client")),
            (r#"{"error":"secret=abc123"}"#, None),
            (r#"{"error_description":"bad"}"#, None),
            ("<html>oops</html>", None),
        ];
        for (body, expected) in cases {
            assert_eq!(error_code(body.as_bytes()).as_deref(), *expected, "{body}");
        }
    }

    fn request(margin: Duration) -> TokenRequest {
        TokenRequest {
            token_url: "http://127.0.0.1:9/token".parse().expect("valid"),
            client_id: "id".to_owned(),
            client_secret: ClientSecret::Value(SecretString::from("secret")),
            client_auth: ClientAuth::Basic,
            scopes: Vec::new(),
            audience: None,
            timeout: None,
            max_bytes: 1024,
            refresh_margin: margin,
        }
    }

    #[test]
    fn a_token_is_refreshed_a_margin_before_it_expires() {
        let now = Instant::now();
        let request = request(Duration::from_secs(30));
        let cases: &[(&str, Option<u64>, Option<u64>)] = &[
            (
                r#"{"access_token":"t","token_type":"Bearer","expires_in":3600}"#,
                Some(3570),
                Some(3600),
            ),
            (
                r#"{"access_token":"t","token_type":"bearer","expires_in":"120"}"#,
                Some(90),
                Some(120),
            ),
            (
                r#"{"access_token":"t","expires_in":20}"#,
                Some(10),
                Some(20),
            ),
            (r#"{"access_token":"t"}"#, None, None),
        ];
        for (body, refresh, expiry) in cases {
            let token = request.token(body.as_bytes(), now).expect("usable");
            assert_eq!(
                token.refresh_at.map(|at| (at - now).as_secs()),
                *refresh,
                "{body}"
            );
            assert_eq!(
                token.expires_at.map(|at| (at - now).as_secs()),
                *expiry,
                "{body}"
            );
        }
    }

    #[test]
    fn unusable_answers_are_typed_and_quote_nothing() {
        let request = request(Duration::from_secs(30));
        for body in [
            r#"{"token_type":"Bearer"}"#,
            r#"{"access_token":"s3cret","token_type":"mac"}"#,
            r#"{"access_token":""}"#,
            "s3cret",
        ] {
            let error = request
                .token(body.as_bytes(), Instant::now())
                .expect_err(body);
            assert!(!error.to_string().contains("s3cret"), "{error}");
            assert!(!format!("{error:?}").contains("s3cret"), "{error:?}");
        }
    }
}
