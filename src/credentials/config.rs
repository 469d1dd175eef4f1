//! Credentials described in a configuration file; secrets themselves never are.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::token::{ClientAuth, ClientSecret};
use super::{EnvCredentials, FileCredentials, OAuth2Credentials, SharedCredentials};
use crate::error::ConfigError;

/// Where a client's credentials come from, as a configuration file says it: the names of
/// variables and files that hold secrets, never the secrets.
///
/// # Example
///
/// ```
/// use steadfast::credentials::CredentialsConfig;
///
/// let config: CredentialsConfig = serde_json::from_str(
///     r#"{ "file": { "path": "/var/run/secrets/crm/api-key", "header": "x-api-key" } }"#,
/// )?;
/// let client = steadfast::Client::builder()
///     .config(steadfast::ClientConfig::default().credentials(config))
///     .build(reqwest::Client::new())?;
/// # let _ = client;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum CredentialsConfig {
    /// An environment variable's value in a header or query parameter.
    Env(EnvConfig),
    /// A file's content in a header or query parameter, re-read when it changes.
    File(FileConfig),
    /// An OAuth 2.0 client-credentials token.
    Oauth2(OAuth2Config),
}

/// [`CredentialsConfig::Env`]: `{ env = { var = "CRM_TOKEN", header = "authorization",
/// prefix = "Bearer " } }`.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvConfig {
    /// The variable's name.
    pub var: String,
    /// The header to set; give this or `query`.
    #[serde(default)]
    pub header: Option<String>,
    /// The query parameter to set; give this or `header`.
    #[serde(default)]
    pub query: Option<String>,
    /// Put before the value (`"Bearer "`). Default none.
    #[serde(default)]
    pub prefix: String,
}

/// [`CredentialsConfig::File`]: `{ file = { path = "/var/run/secrets/crm/token", header =
/// "authorization", prefix = "Bearer ", recheck = "5s" } }`.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// The file.
    pub path: PathBuf,
    /// The header to set; give this or `query`.
    #[serde(default)]
    pub header: Option<String>,
    /// The query parameter to set; give this or `header`.
    #[serde(default)]
    pub query: Option<String>,
    /// Put before the content (`"Bearer "`). Default none.
    #[serde(default)]
    pub prefix: String,
    /// How often, at most, an attempt looks whether the file changed. Default 1 s.
    #[serde(default = "one_second", with = "humantime_serde")]
    pub recheck: Duration,
    /// The largest file read, in bytes. Default 16 KiB.
    #[serde(default = "sixteen_kib")]
    pub max_bytes: u64,
}

/// [`CredentialsConfig::Oauth2`]: `{ oauth2 = { token_url = "https://auth.example.com/token",
/// client_id = "billing-sync", client_secret_env = "BILLING_CLIENT_SECRET", scopes =
/// ["invoices:write"] } }`.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth2Config {
    /// The token endpoint.
    pub token_url: String,
    /// The client id (not a secret).
    pub client_id: String,
    /// The variable holding the client secret; give this or `client_secret_file`.
    #[serde(default)]
    pub client_secret_env: Option<String>,
    /// The file holding the client secret; give this or `client_secret_env`.
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    /// The scopes asked for. Default none.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The `audience` parameter. Default none.
    #[serde(default)]
    pub audience: Option<String>,
    /// How long before its expiry a token is replaced. Default 60 s.
    #[serde(default = "one_minute", with = "humantime_serde")]
    pub refresh_margin: Duration,
    /// How the client authenticates: `basic` or `body`. Default `basic`.
    #[serde(default)]
    pub client_auth: ClientAuth,
    /// The limit of a token request. Default 10 s.
    #[serde(default = "ten_seconds", with = "humantime_serde")]
    pub token_timeout: Duration,
    /// The largest token response read, in bytes. Default 64 KiB.
    #[serde(default = "sixty_four_kib")]
    pub max_bytes: usize,
}

fn one_second() -> Duration {
    Duration::from_secs(1)
}

fn one_minute() -> Duration {
    Duration::from_secs(60)
}

fn ten_seconds() -> Duration {
    Duration::from_secs(10)
}

fn sixteen_kib() -> u64 {
    16 * 1024
}

fn sixty_four_kib() -> usize {
    64 * 1024
}

impl CredentialsConfig {
    /// The provider this configuration describes; an OAuth 2.0 provider requests its tokens
    /// with `http`.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for an invalid header name or token URL, both or neither of
    /// `header` and `query` (or of `client_secret_env` and `client_secret_file`), or a
    /// zero limit.
    pub fn build(&self, http: &reqwest::Client) -> Result<SharedCredentials, ConfigError> {
        Ok(match self {
            Self::Env(env) => {
                let provider =
                    match one_of("credentials.env", env.header.as_ref(), env.query.as_ref())? {
                        Place::Header(header) => EnvCredentials::header(env.var.clone(), header)?,
                        Place::Query(query) => EnvCredentials::query(env.var.clone(), query),
                    };
                Arc::new(provider.prefix(env.prefix.clone()))
            }
            Self::File(file) => {
                if file.max_bytes == 0 {
                    return Err(invalid("credentials.file.max_bytes", "0"));
                }
                let provider = match one_of(
                    "credentials.file",
                    file.header.as_ref(),
                    file.query.as_ref(),
                )? {
                    Place::Header(header) => FileCredentials::header(file.path.clone(), header)?,
                    Place::Query(query) => FileCredentials::query(file.path.clone(), query),
                };
                Arc::new(
                    provider
                        .prefix(file.prefix.clone())
                        .recheck(file.recheck)
                        .max_bytes(file.max_bytes),
                )
            }
            Self::Oauth2(oauth2) => {
                let url = reqwest::Url::parse(&oauth2.token_url)
                    .map_err(|_| invalid("credentials.oauth2.token_url", &oauth2.token_url))?;
                if oauth2.token_timeout.is_zero() {
                    return Err(ConfigError::ZeroDuration {
                        name: "credentials.oauth2.token_timeout",
                    });
                }
                if oauth2.max_bytes == 0 {
                    return Err(invalid("credentials.oauth2.max_bytes", "0"));
                }
                let secret = match (&oauth2.client_secret_env, &oauth2.client_secret_file) {
                    (Some(var), None) => ClientSecret::Env(var.clone()),
                    (None, Some(path)) => ClientSecret::File(path.clone()),
                    _ => {
                        return Err(invalid(
                            "credentials.oauth2",
                            "give one of client_secret_env and client_secret_file",
                        ));
                    }
                };
                Arc::new(
                    OAuth2Credentials::with_secret(
                        http.clone(),
                        url,
                        oauth2.client_id.clone(),
                        secret,
                    )
                    .scopes(oauth2.scopes.clone())
                    .refresh_margin(oauth2.refresh_margin)
                    .client_auth(oauth2.client_auth)
                    .token_timeout(oauth2.token_timeout)
                    .max_bytes(oauth2.max_bytes)
                    .with_audience(oauth2.audience.clone()),
                )
            }
        })
    }
}

enum Place<'a> {
    Header(&'a str),
    Query(&'a str),
}

fn one_of<'a>(
    name: &'static str,
    header: Option<&'a String>,
    query: Option<&'a String>,
) -> Result<Place<'a>, ConfigError> {
    match (header, query) {
        (Some(header), None) => Ok(Place::Header(header)),
        (None, Some(query)) => Ok(Place::Query(query)),
        _ => Err(invalid(name, "give one of header and query")),
    }
}

fn invalid(name: &'static str, value: &str) -> ConfigError {
    ConfigError::Invalid {
        name,
        value: value.to_owned(),
    }
}

impl OAuth2Credentials {
    fn with_audience(self, audience: Option<String>) -> Self {
        match audience {
            Some(audience) => self.audience(audience),
            None => self,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<CredentialsConfig, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn each_form_parses_and_builds() {
        let http = reqwest::Client::new();
        for json in [
            r#"{"env":{"var":"CRM_TOKEN","header":"authorization","prefix":"Bearer "}}"#,
            r#"{"env":{"var":"CRM_KEY","query":"api_key"}}"#,
            r#"{"file":{"path":"/run/secrets/key","header":"x-api-key","recheck":"250ms"}}"#,
            r#"{"oauth2":{"token_url":"https://auth.example.com/token","client_id":"sync",
                "client_secret_env":"SECRET","scopes":["a","b"],"audience":"api",
                "refresh_margin":"30s"}}"#,
        ] {
            let config = parse(json).expect(json);
            config.build(&http).expect(json);
        }
    }

    #[test]
    fn mistakes_are_config_errors() {
        let http = reqwest::Client::new();
        assert!(parse(r#"{"env":{"var":"X","header":"a","secret":"s"}}"#).is_err());
        assert!(
            parse(r#"{"oauth2":{"token_url":"x","client_id":"c","client_secret":"s"}}"#).is_err()
        );
        for json in [
            r#"{"env":{"var":"X"}}"#,
            r#"{"env":{"var":"X","header":"a","query":"b"}}"#,
            r#"{"env":{"var":"X","header":"bad header"}}"#,
            r#"{"file":{"path":"/x","header":"a","max_bytes":0}}"#,
            r#"{"oauth2":{"token_url":"not a url","client_id":"c","client_secret_env":"S"}}"#,
            r#"{"oauth2":{"token_url":"https://a/t","client_id":"c"}}"#,
            r#"{"oauth2":{"token_url":"https://a/t","client_id":"c","client_secret_env":"S",
                "token_timeout":"0s"}}"#,
        ] {
            let config = parse(json).expect(json);
            assert!(config.build(&http).is_err(), "{json}");
        }
    }
}
