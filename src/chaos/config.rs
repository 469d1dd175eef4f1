//! The chaos layer's settings: which calls, which faults, how often.

use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::Fault;

/// The chaos layer's settings. Off unless [`enabled`](Self::enabled).
///
/// The first [rule](ChaosRule) whose route matches a call decides its fault; a call no rule
/// matches goes through untouched.
///
/// ```
/// use std::time::Duration;
/// use reqwest::{Method, StatusCode};
/// use steadfast::chaos::{ChaosConfig, ChaosRule, Fault};
///
/// let config = ChaosConfig::default().enabled(true).seed(7).rule(
///     ChaosRule::default()
///         .method(Method::POST)
///         .path("/orders/*")
///         .fault(Fault::status(StatusCode::SERVICE_UNAVAILABLE), 0.05)
///         .fault(Fault::too_many_requests(Duration::from_secs(2)), 0.02)
///         .fault(Fault::ResetAfter, 0.01),
/// );
/// # let _ = config;
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChaosConfig {
    /// Whether faults are injected at all. Default `false`: the layer passes every call
    /// through.
    pub enabled: bool,
    /// The seed of the random draws: the same seed, the same faults for the same sequence
    /// of calls on each rule. Default `0`.
    pub seed: u64,
    /// The rules, the first match deciding. Default none: nothing is injected.
    pub rules: Vec<ChaosRule>,
}

impl ChaosConfig {
    /// Turns injection on or off. Default `false`.
    #[must_use]
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// Sets the seed of the random draws. Default `0`.
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Adds a rule after the others. Default none.
    #[must_use]
    pub fn rule(mut self, rule: ChaosRule) -> Self {
        self.rules.push(rule);
        self
    }
}

/// Which calls a rule covers (method and path) and the faults it injects into them: drawn at
/// random with their rates, or taken in order from a script.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChaosRule {
    /// The methods the rule covers, as names in a file. Default none: any method.
    #[serde(with = "method_names")]
    pub methods: Vec<Method>,
    /// The path pattern the rule covers: `/orders/*` (`*` is one segment) or `/orders/**`
    /// (`**`, last, is any rest, none included). Default `None`: any path.
    pub path: Option<String>,
    /// Faults drawn at random, each with its rate in `0..=1`; the rates add up to at most 1,
    /// and one draw per call picks at most one. Default none.
    pub faults: Vec<FaultRate>,
    /// A fixed sequence of faults, one per call in order ([`Fault::Pass`] for a call left
    /// alone); when set, `faults` is not drawn. Default none.
    pub script: Vec<Fault>,
    /// Whether the script starts over after its last step; if not, later calls go through.
    /// Default `false`.
    pub repeat: bool,
}

impl ChaosRule {
    /// Adds a method the rule covers. Default none: any method.
    #[must_use]
    pub fn method(mut self, method: Method) -> Self {
        self.methods.push(method);
        self
    }

    /// Sets the path pattern (`*` one segment, a last `**` any rest). Default any path.
    #[must_use]
    pub fn path(mut self, pattern: impl Into<String>) -> Self {
        self.path = Some(pattern.into());
        self
    }

    /// Adds a fault drawn with probability `rate` per call. Default none.
    #[must_use]
    pub fn fault(mut self, fault: Fault, rate: f64) -> Self {
        self.faults.push(FaultRate { fault, rate });
        self
    }

    /// Sets the script, a fault per call in order. Default none.
    #[must_use]
    pub fn script(mut self, script: impl IntoIterator<Item = Fault>) -> Self {
        self.script = script.into_iter().collect();
        self
    }

    /// Whether the script starts over after its last step. Default `false`.
    #[must_use]
    pub fn repeat(mut self, repeat: bool) -> Self {
        self.repeat = repeat;
        self
    }
}

/// A fault and the probability that a call gets it.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRate {
    /// The fault.
    pub fault: Fault,
    /// Its probability per call, in `0..=1`.
    pub rate: f64,
}

/// `methods` as a list of names; a name is upper-cased, so `"post"` is `POST`.
mod method_names {
    use reqwest::Method;
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        methods: &[Method],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(methods.iter().map(Method::as_str))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<Method>, D::Error> {
        Vec::<String>::deserialize(deserializer)?
            .into_iter()
            .map(|name| {
                Method::from_bytes(name.to_ascii_uppercase().as_bytes())
                    .map_err(|_| D::Error::custom(format_args!("invalid method {name:?}")))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_reads_from_a_file() {
        let text = r#"{
            "enabled": true,
            "seed": 42,
            "rules": [{
                "methods": ["post"],
                "path": "/orders/*",
                "faults": [{ "fault": { "kind": "reset_after" }, "rate": 0.1 }],
                "script": [{ "kind": "pass" }, { "kind": "reset_before" }],
                "repeat": true
            }]
        }"#;
        let config: ChaosConfig = serde_json::from_str(text).expect("valid");
        let expected = ChaosConfig::default().enabled(true).seed(42).rule(
            ChaosRule::default()
                .method(Method::POST)
                .path("/orders/*")
                .fault(Fault::ResetAfter, 0.1)
                .script([Fault::Pass, Fault::ResetBefore])
                .repeat(true),
        );
        assert_eq!(config, expected);
        let written = serde_json::to_string(&config).expect("serializes");
        assert_eq!(
            serde_json::from_str::<ChaosConfig>(&written).expect("reads"),
            expected
        );
    }

    #[test]
    fn the_default_injects_nothing() {
        let config = ChaosConfig::default();
        assert!(!config.enabled);
        assert_eq!(config.seed, 0);
        assert!(config.rules.is_empty());
    }
}
