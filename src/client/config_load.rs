//! Reading a [`ClientConfig`] from a file and `STEADFAST_*` variables, layered with figment.

use std::path::Path;

use figment::error::{Actual, Kind};
use figment::providers::{Format, Json, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::de::DeserializeOwned;

use super::ClientConfig;
use super::config_error::{ConfigSource, LoadError};

/// The prefix of every variable steadfast reads.
pub(super) const PREFIX: &str = "STEADFAST_";
/// The variable that names the configuration file of [`Client::from_profile`](super::Client::from_profile).
pub(super) const FILE_VARIABLE: &str = "STEADFAST_CONFIG";
/// Nested keys in a variable's name are separated by this.
const SEPARATOR: &str = "__";

impl ClientConfig {
    /// Reads a configuration from a TOML (`.toml`) or JSON (`.json`) file; what it leaves
    /// out keeps its default.
    ///
    /// # Errors
    ///
    /// [`LoadError`] when the file cannot be read, has another extension, does not parse,
    /// or has an unknown key or a bad value (the error names the file and the key).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, LoadError> {
        load_layers(Some(path.as_ref()), Vec::new())
    }

    /// Reads a configuration from this process's `STEADFAST_*` environment variables; see
    /// [`from_vars`](Self::from_vars).
    ///
    /// # Errors
    ///
    /// [`LoadError::Invalid`] naming the variable.
    pub fn from_env() -> Result<Self, LoadError> {
        Self::from_vars(process_vars())
    }

    /// Reads a configuration from variables given as name and value pairs, as
    /// [`from_env`](Self::from_env) reads the environment: handy in tests.
    ///
    /// Only names starting with `STEADFAST_` are read, apart from `STEADFAST_CONFIG` (a
    /// file name) and `STEADFAST_APIS__…` (profiles, see [`Profiles`](crate::Profiles)).
    /// Nested keys are separated by `__` and the name is not case-sensitive:
    /// `STEADFAST_RETRY__MAX_RETRIES=5`. Values read as in a file: numbers, `true` and
    /// `false`, durations as text (`250ms`), and tables in braces
    /// (`STEADFAST_RETRY__SERVER_DEDUPES_HOSTS={"crm.example.com"=true}`) or by name
    /// (`STEADFAST_RETRY__SERVER_DEDUPES_HOSTS__LOCALHOST=true`).
    ///
    /// # Errors
    ///
    /// [`LoadError::Invalid`] naming the variable.
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Result<Self, LoadError> {
        load_layers(None, Vars::parse(vars, Scope::Client)?)
    }

    /// Reads the defaults, then `path`, then this process's `STEADFAST_*` variables, each
    /// overriding the one before: `STEADFAST_RETRY__MAX_RETRIES=5` wins over
    /// `retry.max_retries` in the file.
    ///
    /// # Example
    ///
    /// ```no_run
    /// let config = steadfast::ClientConfig::load("steadfast.toml")?;
    /// let client = steadfast::Client::from_config(reqwest::Client::new(), &config)?;
    /// # let _ = client;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
        load_layers(Some(path.as_ref()), Vars::parse(vars, Scope::Client)?)
    }
}

/// This process's variables. Unlike `std::env::vars`, a name or value that is not UTF-8
/// does not panic: it is read lossily, and one of ours then fails to parse by name.
pub(super) fn process_vars() -> impl Iterator<Item = (String, String)> {
    std::env::vars_os().map(|(name, value)| {
        (
            name.to_string_lossy().into_owned(),
            value.to_string_lossy().into_owned(),
        )
    })
}

/// Which variables a loader reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scope {
    /// One client: every `STEADFAST_*` variable but the file name and profiles.
    Client,
    /// Profiles: `STEADFAST_APIS__*` only.
    Profiles,
}

/// Reads `T` from the file (if any), then the variables over it. Each source is first read
/// alone, so that an unknown key or a bad value is blamed on the file or variable it is in.
pub(super) fn load_layers<T: DeserializeOwned>(
    file: Option<&Path>,
    vars: Vec<Var>,
) -> Result<T, LoadError> {
    let mut figment = Figment::new();
    if let Some(path) = file {
        let origin = ConfigSource::File(path.to_path_buf());
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let layer = match extension.as_deref() {
            Some("toml") => Figment::from(Toml::string(&text)),
            Some("json") => Figment::from(Json::string(&text)),
            _ => {
                return Err(LoadError::UnsupportedFormat {
                    path: path.to_path_buf(),
                });
            }
        };
        alone(layer.extract::<T>(), origin)?;
        figment = layer;
    }
    for var in &vars {
        let origin = ConfigSource::Variable(var.name.clone());
        alone(
            Figment::from(Vars(vec![var.clone()])).extract_lossy::<T>(),
            origin,
        )?;
    }
    let origin = if vars.is_empty() {
        file.map_or(ConfigSource::Variables, |p| {
            ConfigSource::File(p.to_path_buf())
        })
    } else {
        ConfigSource::Variables
    };
    figment
        .merge(Vars(vars))
        .extract_lossy::<T>()
        .map_err(|error| invalid(origin, &error))
}

/// The result of reading one source alone: a key it leaves out may come from another
/// source, so only the layers together can miss one.
fn alone<T>(read: Result<T, figment::Error>, origin: ConfigSource) -> Result<(), LoadError> {
    match read {
        Err(error) if !error.missing() => Err(invalid(origin, &error)),
        _ => Ok(()),
    }
}

/// One `STEADFAST_*` variable: its name, the key path it sets and its value.
#[derive(Debug, Clone)]
pub(super) struct Var {
    name: String,
    path: Vec<String>,
    value: Value,
}

/// Variables as a figment provider.
#[derive(Debug)]
pub(super) struct Vars(Vec<Var>);

impl Vars {
    /// The variables of `scope` among `vars`, their names split into key paths.
    pub(super) fn parse(
        vars: impl IntoIterator<Item = (String, String)>,
        scope: Scope,
    ) -> Result<Vec<Var>, LoadError> {
        let mut found = Vec::new();
        for (name, raw) in vars {
            let Some(rest) = name
                .get(..PREFIX.len())
                .filter(|p| p.eq_ignore_ascii_case(PREFIX))
                .and_then(|_| name.get(PREFIX.len()..))
            else {
                continue;
            };
            if name.eq_ignore_ascii_case(FILE_VARIABLE) {
                continue;
            }
            let path: Vec<String> = rest.split(SEPARATOR).map(str::to_ascii_lowercase).collect();
            let for_profiles = path.first().is_some_and(|first| first == "apis");
            if for_profiles != (scope == Scope::Profiles) {
                continue;
            }
            if path.iter().any(String::is_empty) {
                return Err(LoadError::Invalid {
                    origin: ConfigSource::Variable(name),
                    key: None,
                    message: "the name has an empty key: separate keys with one `__`".into(),
                });
            }
            found.push(Var {
                name,
                path,
                value: parse_value(&raw),
            });
        }
        Ok(found)
    }
}

/// A variable's value as a file would have it: tables and lists parsed, everything else
/// text that reads as a number or a boolean where one is expected.
fn parse_value(raw: &str) -> Value {
    let trimmed = raw.trim();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        match trimmed.parse::<Value>() {
            Ok(value) => value,
            Err(never) => match never {},
        }
    } else {
        Value::from(raw.to_owned())
    }
}

impl Provider for Vars {
    fn metadata(&self) -> Metadata {
        Metadata::named("environment variables")
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut dict = Dict::new();
        for var in &self.0 {
            insert(&mut dict, &var.path, var.value.clone());
        }
        Ok(Profile::Default.collect(dict))
    }
}

/// Sets `path` in `dict` to `value`, making the tables on the way.
fn insert(dict: &mut Dict, path: &[String], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut current = dict;
    for key in parents {
        let slot = current
            .entry(key.clone())
            .or_insert_with(|| Value::from(Dict::new()));
        if !matches!(slot, Value::Dict(..)) {
            *slot = Value::from(Dict::new());
        }
        let Value::Dict(_, next) = slot else {
            return;
        };
        current = next;
    }
    current.insert(last.clone(), value);
}

/// A figment error as a [`LoadError`], without the offending value.
fn invalid(origin: ConfigSource, error: &figment::Error) -> LoadError {
    let mut path = error.path.clone();
    if let Kind::UnknownField(field, _) = &error.kind
        && path.last() != Some(field)
    {
        path.push(field.clone());
    }
    LoadError::Invalid {
        origin,
        key: (!path.is_empty()).then(|| path.join(".")),
        message: describe(&error.kind),
    }
}

fn describe(kind: &Kind) -> String {
    match kind {
        Kind::InvalidType(actual, expected) => {
            format!("expected {expected}, found {}", what(actual))
        }
        Kind::InvalidValue(actual, expected) => {
            format!("invalid {}, expected {expected}", what(actual))
        }
        Kind::UnknownField(_, expected) => {
            format!("unknown key; expected one of: {}", expected.join(", "))
        }
        Kind::UnknownVariant(_, expected) => {
            format!("unknown value; expected one of: {}", expected.join(", "))
        }
        // A parser's message may quote the line it stopped at, which may hold a secret:
        // keep where and why, drop the quoted source.
        Kind::Message(message) => message
            .lines()
            .filter(|line| !quotes_source(line))
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    }
}

/// Whether a line of a parser's message is a quoted line of the file (`1 | key = …`) or a
/// marker under one (`  |   ^`).
fn quotes_source(line: &str) -> bool {
    let line = line.trim_start();
    let after_number = line.trim_start_matches(|c: char| c.is_ascii_digit());
    line.is_empty() || after_number.trim_start().starts_with('|')
}

fn what(actual: &Actual) -> &'static str {
    match actual {
        Actual::Bool(_) => "a boolean",
        Actual::Unsigned(_) | Actual::Signed(_) => "an integer",
        Actual::Float(_) => "a number",
        Actual::Str(_) | Actual::Char(_) => "text",
        Actual::Seq => "a list",
        Actual::Map => "a table",
        _ => "another kind of value",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn scopes_split_client_and_profile_variables() {
        let all = vars(&[
            ("STEADFAST_RETRY__MAX_RETRIES", "5"),
            ("STEADFAST_APIS__CRM__ATTEMPT_TIMEOUT", "2s"),
            ("STEADFAST_CONFIG", "x.toml"),
            ("HOME", "/root"),
        ]);
        let client = Vars::parse(all.clone(), Scope::Client).expect("parses");
        assert_eq!(client.len(), 1);
        assert_eq!(client[0].path, ["retry", "max_retries"]);
        let profiles = Vars::parse(all, Scope::Profiles).expect("parses");
        assert_eq!(profiles.len(), 1);
        assert_eq!(profiles[0].path, ["apis", "crm", "attempt_timeout"]);
    }

    #[test]
    fn a_syntax_error_does_not_quote_the_file() {
        let message = "TOML parse error at line 2, column 15\n  |\n2 | api_key = \"sk_live_1\" x\n  |               ^\nexpected newline, `#`\n";
        let described = describe(&Kind::Message(message.into()));
        assert_eq!(
            described,
            "TOML parse error at line 2, column 15 expected newline, `#`"
        );
    }

    #[test]
    fn an_empty_key_is_named() {
        let error = Vars::parse(vars(&[("STEADFAST_RETRY____X", "1")]), Scope::Client)
            .expect_err("empty key");
        assert!(
            error.to_string().contains("STEADFAST_RETRY____X"),
            "{error}"
        );
    }
}
