//! The validated settings: rules compiled for matching, and the draw that picks a fault.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};

use super::route::PathPattern;
use super::{ChaosConfig, ChaosRule, Fault, FaultKind};
use crate::error::ConfigError;

/// A fault ready to inject: statuses and headers parsed.
#[derive(Debug)]
pub(crate) enum Injection {
    Pass,
    Latency(Duration),
    Status(StatusCode, HeaderMap),
    ResetBefore,
    TimeoutAfter,
    ResetAfter,
}

impl Injection {
    fn new(fault: &Fault) -> Result<Self, ConfigError> {
        Ok(match fault {
            Fault::Pass => Self::Pass,
            Fault::Latency { delay } if delay.is_zero() => {
                return Err(ConfigError::ZeroDuration {
                    name: "chaos latency",
                });
            }
            Fault::Latency { delay } => Self::Latency(*delay),
            Fault::Status { status, headers } => {
                let code = StatusCode::from_u16(*status)
                    .ok()
                    .filter(|code| !code.is_informational())
                    .ok_or_else(|| ConfigError::Invalid {
                        name: "chaos status",
                        value: status.to_string(),
                    })?;
                let mut map = HeaderMap::with_capacity(headers.len());
                for (name, value) in headers {
                    let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                        ConfigError::HeaderName {
                            name: "chaos status headers",
                            value: name.clone(),
                        }
                    })?;
                    // The value is the user's own test setting, so it may be shown.
                    let value = HeaderValue::from_str(value).map_err(|_| ConfigError::Invalid {
                        name: "chaos status header value",
                        value: value.clone(),
                    })?;
                    map.append(name, value);
                }
                Self::Status(code, map)
            }
            Fault::ResetBefore => Self::ResetBefore,
            Fault::TimeoutAfter => Self::TimeoutAfter,
            Fault::ResetAfter => Self::ResetAfter,
        })
    }

    pub(crate) fn kind(&self) -> FaultKind {
        match self {
            Self::Pass => FaultKind::Pass,
            Self::Latency(_) => FaultKind::Latency,
            Self::Status(..) => FaultKind::Status,
            Self::ResetBefore => FaultKind::ResetBefore,
            Self::TimeoutAfter => FaultKind::TimeoutAfter,
            Self::ResetAfter => FaultKind::ResetAfter,
        }
    }
}

/// The compiled rules; shared by every service a layer makes.
#[derive(Debug)]
pub(crate) struct Plan {
    rules: Vec<Rule>,
}

#[derive(Debug)]
struct Rule {
    methods: Vec<Method>,
    path: Option<PathPattern>,
    choice: Choice,
}

#[derive(Debug)]
enum Choice {
    /// Each fault with the sum of its rate and those before it; one draw picks the first
    /// whose sum exceeds it.
    Draw {
        faults: Vec<(f64, Injection)>,
        total: f64,
        state: AtomicU64,
    },
    Script {
        steps: Vec<Injection>,
        next: AtomicUsize,
        repeat: bool,
    },
}

/// `SplitMix64`'s increment (the golden ratio in 64 bits).
const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// `SplitMix64`'s output function: a well-mixed 64-bit value from a counter.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Plan {
    pub(crate) fn new(config: &ChaosConfig) -> Result<Self, ConfigError> {
        let rules = (0u64..)
            .zip(&config.rules)
            .map(|(index, rule)| Rule::new(rule, mix(config.seed ^ mix(index))))
            .collect::<Result<_, _>>()?;
        Ok(Self { rules })
    }

    /// The fault for a call, or `None`; the first rule that matches decides.
    #[inline]
    pub(crate) fn pick(&self, method: &Method, path: &str) -> Option<&Injection> {
        let rule = self.rules.iter().find(|rule| rule.matches(method, path))?;
        rule.choice.pick()
    }
}

impl Rule {
    fn new(rule: &ChaosRule, seed: u64) -> Result<Self, ConfigError> {
        let path = rule.path.as_deref().map(PathPattern::parse).transpose()?;
        let choice = if rule.script.is_empty() {
            let mut total = 0.0;
            let mut faults = Vec::with_capacity(rule.faults.len());
            for entry in &rule.faults {
                check_rate("chaos rate", entry.rate)?;
                total += entry.rate;
                faults.push((total, Injection::new(&entry.fault)?));
            }
            // A little slack for sums such as 0.1 + 0.2.
            if total > 1.0 + 1e-9 {
                return Err(ConfigError::OutOfRange {
                    name: "chaos rates of a rule, added up",
                    range: "0..=1",
                    value: total,
                });
            }
            Choice::Draw {
                faults,
                total,
                state: AtomicU64::new(seed),
            }
        } else {
            // Rates are checked even when the script is what runs: a file stays valid
            // when its script is removed.
            for entry in &rule.faults {
                check_rate("chaos rate", entry.rate)?;
            }
            Choice::Script {
                steps: rule
                    .script
                    .iter()
                    .map(Injection::new)
                    .collect::<Result<_, _>>()?,
                next: AtomicUsize::new(0),
                repeat: rule.repeat,
            }
        };
        Ok(Self {
            methods: rule.methods.clone(),
            path,
            choice,
        })
    }

    fn matches(&self, method: &Method, path: &str) -> bool {
        (self.methods.is_empty() || self.methods.contains(method))
            && self.path.as_ref().is_none_or(|p| p.matches(path))
    }
}

impl Choice {
    fn pick(&self) -> Option<&Injection> {
        match self {
            Self::Draw {
                faults,
                total,
                state,
            } => {
                if *total <= 0.0 {
                    return None;
                }
                // `SplitMix64` on an atomic counter: one draw per call, no lock, and the same
                // sequence for the same seed.
                let z = mix(state
                    .fetch_add(GAMMA, Ordering::Relaxed)
                    .wrapping_add(GAMMA));
                let draw = unit(z);
                faults
                    .iter()
                    .find(|(upto, _)| draw < *upto)
                    .map(|(_, fault)| fault)
            }
            Self::Script {
                steps,
                next,
                repeat,
            } => {
                let step = next.fetch_add(1, Ordering::Relaxed);
                let step = if *repeat { step % steps.len() } else { step };
                steps.get(step)
            }
        }
    }
}

/// A value in `[0, 1)` from the top 53 bits.
#[allow(clippy::cast_precision_loss)] // 53 bits fit an f64's mantissa exactly
fn unit(z: u64) -> f64 {
    (z >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

fn check_rate(name: &'static str, rate: f64) -> Result<(), ConfigError> {
    if (0.0..=1.0).contains(&rate) {
        Ok(())
    } else {
        Err(ConfigError::OutOfRange {
            name,
            range: "0..=1",
            value: rate,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(plan: &Plan, calls: usize) -> Vec<Option<FaultKind>> {
        (0..calls)
            .map(|_| plan.pick(&Method::GET, "/orders").map(Injection::kind))
            .collect()
    }

    #[test]
    fn rates_outside_zero_to_one_are_refused() {
        for rate in [-0.1, 1.5, f64::NAN, f64::INFINITY] {
            let config =
                ChaosConfig::default().rule(ChaosRule::default().fault(Fault::ResetAfter, rate));
            let error = Plan::new(&config).expect_err("refused");
            assert!(
                matches!(error, ConfigError::OutOfRange { .. }),
                "{rate}: {error}"
            );
        }
        let over = ChaosConfig::default().rule(
            ChaosRule::default()
                .fault(Fault::ResetAfter, 0.6)
                .fault(Fault::ResetBefore, 0.6),
        );
        assert!(matches!(
            Plan::new(&over),
            Err(ConfigError::OutOfRange { .. })
        ));
        let exact = ChaosConfig::default().rule(
            ChaosRule::default()
                .fault(Fault::ResetAfter, 0.7)
                .fault(Fault::ResetBefore, 0.2)
                .fault(Fault::TimeoutAfter, 0.1),
        );
        assert!(Plan::new(&exact).is_ok());
    }

    #[test]
    fn bad_faults_are_refused() {
        let table = [
            Fault::Status {
                status: 99,
                headers: std::collections::BTreeMap::new(),
            },
            Fault::Status {
                status: 101,
                headers: std::collections::BTreeMap::new(),
            },
            Fault::status(StatusCode::OK).header("bad name", "x"),
            Fault::status(StatusCode::OK).header("x-ok", "line\nbreak"),
            Fault::latency(Duration::ZERO),
        ];
        for fault in table {
            let config = ChaosConfig::default().rule(ChaosRule::default().script([fault.clone()]));
            assert!(Plan::new(&config).is_err(), "{fault:?}");
        }
    }

    #[test]
    fn a_script_runs_in_order_then_passes_or_repeats() {
        let script = [Fault::ResetBefore, Fault::Pass, Fault::ResetAfter];
        let once = ChaosConfig::default().rule(ChaosRule::default().script(script.clone()));
        let expected = [
            Some(FaultKind::ResetBefore),
            Some(FaultKind::Pass),
            Some(FaultKind::ResetAfter),
            None,
            None,
        ];
        assert_eq!(kinds(&Plan::new(&once).expect("valid"), 5), expected);
        let again = ChaosConfig::default().rule(ChaosRule::default().script(script).repeat(true));
        let seen = kinds(&Plan::new(&again).expect("valid"), 6);
        assert_eq!(seen[..3], seen[3..]);
    }

    #[test]
    fn the_first_matching_rule_decides() {
        let config = ChaosConfig::default()
            .rule(
                ChaosRule::default()
                    .method(Method::POST)
                    .path("/orders/*")
                    .script([Fault::ResetBefore])
                    .repeat(true),
            )
            .rule(
                ChaosRule::default()
                    .script([Fault::ResetAfter])
                    .repeat(true),
            );
        let plan = Plan::new(&config).expect("valid");
        let kind = |method: &Method, path| plan.pick(method, path).map(Injection::kind);
        assert_eq!(
            kind(&Method::POST, "/orders/1"),
            Some(FaultKind::ResetBefore)
        );
        assert_eq!(kind(&Method::GET, "/orders/1"), Some(FaultKind::ResetAfter));
        assert_eq!(
            kind(&Method::POST, "/customers/1"),
            Some(FaultKind::ResetAfter)
        );
    }

    #[test]
    fn draws_are_uniform_enough_and_seeded() {
        let config = |seed| {
            ChaosConfig::default()
                .seed(seed)
                .rule(ChaosRule::default().fault(Fault::ResetAfter, 0.5))
        };
        let a = kinds(&Plan::new(&config(1)).expect("valid"), 200);
        let b = kinds(&Plan::new(&config(1)).expect("valid"), 200);
        let c = kinds(&Plan::new(&config(2)).expect("valid"), 200);
        assert_eq!(a, b);
        assert_ne!(a, c);
        let units: Vec<f64> = (0..1000u64).map(|i| unit(mix(i))).collect();
        assert!(units.iter().all(|u| (0.0..1.0).contains(u)));
    }

    #[test]
    fn a_zero_rate_never_injects() {
        let config =
            ChaosConfig::default().rule(ChaosRule::default().fault(Fault::ResetAfter, 0.0));
        assert!(
            kinds(&Plan::new(&config).expect("valid"), 1000)
                .iter()
                .all(Option::is_none)
        );
    }
}
