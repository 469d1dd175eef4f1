//! Which hosts deduplicate requests by their idempotency key: `server_dedupes` for every
//! host, overridden per `host` or `host:port`.

use std::collections::BTreeMap;

use reqwest::Url;

use crate::error::ConfigError;

/// `server_dedupes` with its per-host overrides, validated.
#[derive(Debug, Clone)]
pub(crate) struct Dedupes {
    every_host: bool,
    /// Overrides by host (lowercase, as [`Url::host_str`] spells it) and optional port.
    hosts: Box<[HostRule]>,
    /// Whether any request may be found deduplicated: when not, nothing is looked up.
    any: bool,
}

#[derive(Debug, Clone)]
struct HostRule {
    host: Box<str>,
    port: Option<u16>,
    dedupes: bool,
}

impl Dedupes {
    /// The setting for every host and its overrides (`RetryConfig::server_dedupes_hosts`).
    pub(crate) fn new(
        every_host: bool,
        overrides: &BTreeMap<String, bool>,
    ) -> Result<Self, ConfigError> {
        let hosts = overrides
            .iter()
            .map(|(entry, &dedupes)| {
                let (host, port) = parse(entry).ok_or_else(|| ConfigError::Invalid {
                    name: "retry.server_dedupes_hosts",
                    value: entry.clone(),
                })?;
                Ok(HostRule {
                    host: host.into(),
                    port,
                    dedupes,
                })
            })
            .collect::<Result<Box<[_]>, ConfigError>>()?;
        let any = every_host || hosts.iter().any(|rule| rule.dedupes);
        Ok(Self {
            every_host,
            hosts,
            any,
        })
    }

    /// Whether any request may be found deduplicated (so its key is worth looking up).
    #[inline]
    pub(crate) fn any(&self) -> bool {
        self.any
    }

    /// Whether the server at `url` deduplicates by the key: a `host:port` override, else a
    /// `host` one, else the setting for every host.
    pub(crate) fn at(&self, url: &Url) -> bool {
        if self.hosts.is_empty() {
            return self.every_host;
        }
        let Some(host) = url.host_str() else {
            return self.every_host;
        };
        let port = url.port_or_known_default();
        let mut by_host = None;
        for rule in self
            .hosts
            .iter()
            .filter(|r| r.host.eq_ignore_ascii_case(host))
        {
            match rule.port {
                None => by_host = Some(rule.dedupes),
                Some(p) if Some(p) == port => return rule.dedupes,
                Some(_) => {}
            }
        }
        by_host.unwrap_or(self.every_host)
    }
}

/// `host` or `host:port` (an IPv6 address in brackets), as the URL parser spells the host;
/// `None` for anything else (a scheme, a path, userinfo, a bad port, an empty host).
fn parse(entry: &str) -> Option<(String, Option<u16>)> {
    let (host, port) = match entry.rsplit_once(':') {
        // A bracketed IPv6 address has colons of its own.
        Some((host, port)) if !port.ends_with(']') => (host, Some(port.parse::<u16>().ok()?)),
        _ => (entry, None),
    };
    if host.is_empty() || host.contains(['/', '?', '#', '@', ' ']) {
        return None;
    }
    let url = Url::parse(&format!("http://{host}/")).ok()?;
    let plain = url.port().is_none() && url.path() == "/" && url.username().is_empty();
    plain
        .then(|| url.host_str().map(str::to_owned))
        .flatten()
        .zip(Some(port))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A host as the URL parser spells it, and a port.
    type Parsed = Option<(&'static str, Option<u16>)>;

    #[test]
    fn entries_are_hosts_with_an_optional_port() {
        let cases: &[(&str, Parsed)] = &[
            ("api.example.com", Some(("api.example.com", None))),
            ("API.Example.COM", Some(("api.example.com", None))),
            (
                "api.example.com:8443",
                Some(("api.example.com", Some(8443))),
            ),
            ("127.0.0.1:80", Some(("127.0.0.1", Some(80)))),
            ("[::1]", Some(("[::1]", None))),
            ("[::1]:9000", Some(("[::1]", Some(9000)))),
            ("", None),
            (":443", None),
            ("api.example.com:", None),
            ("api.example.com:99999", None),
            ("api.example.com:https", None),
            ("https://api.example.com", None),
            ("api.example.com/v1", None),
            ("user@api.example.com", None),
            ("api.example.com?x=1", None),
            ("api example.com", None),
            ("::1", None),
            ("a:b:c", None),
        ];
        for (entry, expected) in cases {
            let parsed = parse(entry);
            let parsed = parsed.as_ref().map(|(h, p)| (h.as_str(), *p));
            assert_eq!(parsed, *expected, "{entry:?}");
        }
    }

    #[test]
    fn an_invalid_entry_is_a_typed_config_error() {
        let overrides = BTreeMap::from([("https://crm.example.com".to_owned(), true)]);
        let error = Dedupes::new(false, &overrides).expect_err("a URL is not a host");
        assert!(
            matches!(
                &error,
                ConfigError::Invalid { name: "retry.server_dedupes_hosts", value }
                    if value == "https://crm.example.com"
            ),
            "{error:?}"
        );
    }

    #[test]
    fn a_port_override_wins_over_its_host_which_wins_over_every_host() {
        let overrides = BTreeMap::from([
            ("Pay.Example.com".to_owned(), true),
            ("pay.example.com:8443".to_owned(), false),
            ("crm.example.com".to_owned(), false),
        ]);
        let url = |text: &str| Url::parse(text).expect("valid url");
        for every_host in [false, true] {
            let dedupes = Dedupes::new(every_host, &overrides).expect("valid");
            assert!(dedupes.any());
            let cases = [
                ("https://pay.example.com/charges", true),
                ("https://PAY.EXAMPLE.COM:443/charges", true),
                ("http://pay.example.com/charges", true),
                ("https://pay.example.com:8443/charges", false),
                ("https://crm.example.com/contacts", false),
                ("https://erp.example.com/orders", every_host),
                ("https://sub.pay.example.com/charges", every_host),
            ];
            for (text, expected) in cases {
                assert_eq!(
                    dedupes.at(&url(text)),
                    expected,
                    "{text}, every host {every_host}"
                );
            }
        }
    }

    #[test]
    fn nothing_is_looked_up_when_no_host_dedupes() {
        let off = BTreeMap::from([("crm.example.com".to_owned(), false)]);
        assert!(!Dedupes::new(false, &off).expect("valid").any());
        assert!(!Dedupes::new(false, &BTreeMap::new()).expect("valid").any());
        assert!(Dedupes::new(true, &off).expect("valid").any());
    }
}
