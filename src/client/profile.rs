//! Several APIs configured in one file: `[apis.crm]`, `[apis.billing]`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::config_load::{FILE_VARIABLE, Scope, Vars, load_layers, process_vars};
use super::{Client, ClientConfig, LoadError};

/// The file [`Client::from_profile`] reads when `STEADFAST_CONFIG` is not set.
const DEFAULT_FILE: &str = "steadfast.toml";

/// One configuration per API, read from one file: each `[apis.<name>]` table is a whole
/// [`ClientConfig`], usually with its own `base_url`.
///
/// ```toml
/// [apis.crm]
/// base_url = "https://crm.example.com/api/v2/"
/// attempt_timeout = "5s"
/// retry = { max_retries = 4 }
/// rate_limit = { quota = { rate = 600, per = "1m" } }
///
/// [apis.billing]
/// base_url = "https://billing.example.com/"
/// retry = { max_retries = 1, deadline = "20s" }
/// ```
///
/// With [`load`](Self::load), `STEADFAST_APIS__<NAME>__…` variables override a profile's
/// settings: `STEADFAST_APIS__CRM__RETRY__MAX_RETRIES=2`,
/// `STEADFAST_APIS__BILLING__BASE_URL=https://billing.staging.example.com/`. Profile names
/// are matched in lower case.
///
/// # Example
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("steadfast-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// # let path = dir.join("apis.toml");
/// # std::fs::write(&path, "[apis.crm]\nbase_url = \"https://crm.example.com/v2/\"\n")?;
/// let profiles = steadfast::Profiles::from_file(&path)?;
/// let crm = profiles.client("crm", reqwest::Client::new())?;
/// let request = crm.get("contacts/42").build()?;
/// assert_eq!(request.url().as_str(), "https://crm.example.com/v2/contacts/42");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Profiles {
    apis: BTreeMap<String, ClientConfig>,
}

/// The file's shape.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    #[serde(default)]
    apis: BTreeMap<String, ClientConfig>,
}

impl Profiles {
    /// Reads the profiles of a TOML or JSON file.
    ///
    /// # Errors
    ///
    /// [`LoadError`] naming the file and key.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, LoadError> {
        Self::read(path.as_ref(), Vec::new())
    }

    /// Reads the profiles of a file, then this process's `STEADFAST_APIS__…` variables
    /// over them.
    ///
    /// # Errors
    ///
    /// [`LoadError`] naming the file and key, or the variable.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, LoadError> {
        Self::load_from(path, process_vars())
    }

    /// [`load`](Self::load) with the variables given as pairs instead of read from the
    /// environment.
    ///
    /// # Errors
    ///
    /// [`LoadError`] naming the file and key, or the variable.
    pub fn load_from(
        path: impl AsRef<Path>,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, LoadError> {
        Self::read(path.as_ref(), Vars::parse(vars, Scope::Profiles)?)
    }

    fn read(path: &Path, vars: Vec<super::config_load::Var>) -> Result<Self, LoadError> {
        let file: ProfileFile = load_layers(Some(path), vars)?;
        Ok(Self {
            apis: file
                .apis
                .into_iter()
                .map(|(name, config)| (name.to_ascii_lowercase(), config))
                .collect(),
        })
    }

    /// The names of the profiles, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.apis.keys().map(String::as_str)
    }

    /// The configuration of profile `name`.
    ///
    /// # Errors
    ///
    /// [`LoadError::UnknownProfile`], listing the profiles there are.
    pub fn config(&self, name: &str) -> Result<&ClientConfig, LoadError> {
        self.apis
            .get(&name.to_ascii_lowercase())
            .ok_or_else(|| LoadError::UnknownProfile {
                name: name.to_owned(),
                known: self.apis.keys().cloned().collect(),
            })
    }

    /// A client for profile `name` around `http`, the transport.
    ///
    /// # Errors
    ///
    /// [`LoadError::UnknownProfile`], or [`LoadError::Config`] naming the profile when a
    /// setting is invalid.
    pub fn client(&self, name: &str, http: reqwest::Client) -> Result<Client, LoadError> {
        let config = self.config(name)?;
        Client::from_config(http, config).map_err(|source| LoadError::Config {
            profile: Some(name.to_owned()),
            source,
        })
    }
}

impl Client {
    /// A client for the API profile `name`, with a transport of reqwest's defaults.
    ///
    /// Reads the file that `STEADFAST_CONFIG` names, or `steadfast.toml` in the working
    /// directory, and the `STEADFAST_APIS__<NAME>__…` variables over it; see [`Profiles`].
    /// To give the transport, or read another file, use [`Profiles::load`] and
    /// [`Profiles::client`].
    ///
    /// # Errors
    ///
    /// [`LoadError`]: the file cannot be read or has a bad key or value, a variable has a
    /// bad value, there is no such profile, or its settings are invalid.
    pub fn from_profile(name: &str) -> Result<Self, LoadError> {
        let path = std::env::var_os(FILE_VARIABLE)
            .map_or_else(|| PathBuf::from(DEFAULT_FILE), PathBuf::from);
        let http = reqwest::Client::builder()
            .build()
            .map_err(LoadError::Transport)?;
        Profiles::load(path)?.client(name, http)
    }
}
