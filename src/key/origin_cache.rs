//! The state of the origins a process calls, found by the parts of the `Url` itself: a
//! per-host layer asks here before its map, so that a call to an origin it knows builds no
//! text, takes no lock and makes no allocation.
//!
//! The first origin offered is the cache's home and stays for good: most clients call one
//! API, and its value is found with one atomic load and one comparison. Later
//! origins share a few slots, each found with a mix of a few bytes of the host and an
//! `arc-swap` load.

use std::sync::{Arc, OnceLock};

use arc_swap::ArcSwapOption;
use reqwest::Url;
use url::Position;

/// A process calls a handful of hosts; two that land in one slot are both still found, in
/// the map behind the cache.
const SLOTS: usize = 16;

/// An odd constant with its bits spread (the 64-bit golden ratio).
const MIX: u64 = 0x9e37_79b9_7f4a_7c15;

/// Recently used values by origin (scheme, host and port), the home and one per slot,
/// lock-free.
pub(crate) struct OriginCache<T> {
    home: OnceLock<Home<T>>,
    slots: [ArcSwapOption<Cached<T>>; SLOTS],
}

/// The home origin, by the text the URL starts with up to its path (`scheme://host:port` as
/// spelled): one comparison finds it.
struct Home<T> {
    prefix: Box<str>,
    value: Arc<T>,
}

impl<T> Home<T> {
    /// Whether `url` (its text) is of this origin: it starts with the prefix and its
    /// authority ends there. A URL's text has no `/`, `?` or `#` before its path but the
    /// `//` after the scheme, so text going on past the prefix (a longer host or port,
    /// userinfo's `@`) is another origin. The same as comparing the text before the path,
    /// without finding where the path starts.
    #[inline]
    fn is(&self, url: &str) -> bool {
        let prefix = self.prefix.as_bytes();
        let url = url.as_bytes();
        url.starts_with(prefix) && matches!(url.get(prefix.len()), None | Some(b'/' | b'?' | b'#'))
    }
}

struct Cached<T> {
    scheme: Box<str>,
    host: Box<str>,
    /// As [`Url::port`] gives it: `None` for the scheme's default.
    port: Option<u16>,
    value: Arc<T>,
}

impl<T> Cached<T> {
    #[inline]
    fn is(&self, url: &Url, host: &str, port: Option<u16>) -> bool {
        self.port == port && *self.host == *host && *self.scheme == *url.scheme()
    }
}

impl<T> Default for OriginCache<T> {
    fn default() -> Self {
        Self {
            home: OnceLock::new(),
            slots: std::array::from_fn(|_| ArcSwapOption::empty()),
        }
    }
}

impl<T> OriginCache<T> {
    /// The value cached for `url`'s origin if it is the home origin: a load and a
    /// comparison, inlined into the caller.
    #[inline(always)]
    pub(crate) fn home(&self, url: &Url) -> Option<Arc<T>> {
        let home = self.home.get()?;
        home.is(url.as_str()).then(|| Arc::clone(&home.value))
    }

    /// The value cached for `url`'s origin.
    #[inline]
    pub(crate) fn get(&self, url: &Url) -> Option<Arc<T>> {
        if let Some(found) = self.home(url) {
            return Some(found);
        }
        let host = url.host_str()?;
        let port = url.port();
        let cached = self.slots[slot(host, port)].load();
        let cached = cached.as_ref()?;
        cached
            .is(url, host, port)
            .then(|| Arc::clone(&cached.value))
    }

    /// Caches `value` for `url`'s origin: as the home if there is none yet, else in its
    /// slot unless that is taken (a slot shared by two busy origins is not fought over).
    pub(crate) fn offer(&self, url: &Url, value: &Arc<T>) {
        let Some(host) = url.host_str() else {
            return;
        };
        let port = url.port();
        let cached = || Cached {
            scheme: url.scheme().into(),
            host: host.into(),
            port,
            value: Arc::clone(value),
        };
        // A home is kept for good, so never one whose text holds a password.
        if self.home.get().is_none() && url.username().is_empty() && url.password().is_none() {
            let mut made = false;
            self.home.get_or_init(|| {
                made = true;
                Home {
                    prefix: url[..Position::BeforePath].into(),
                    value: Arc::clone(value),
                }
            });
            if made {
                return;
            }
        }
        let slot = &self.slots[slot(host, port)];
        if slot.load().is_none() {
            slot.store(Some(Arc::new(cached())));
        }
    }

    /// Forgets every value but the home's, so that the map behind can tell which ones no
    /// call holds.
    pub(crate) fn clear(&self) {
        for slot in &self.slots {
            slot.store(None);
        }
    }
}

/// The slot of an origin: a mix of the host's length, three of its bytes and the port. Not
/// a hash of every byte: it only spreads a handful of hosts, and two that meet are still
/// found, in the map behind.
#[inline]
fn slot(host: &str, port: Option<u16>) -> usize {
    let bytes = host.as_bytes();
    let len = bytes.len();
    let byte = |at: usize| u64::from(bytes.get(at).copied().unwrap_or(0));
    // The first byte, the middle one and the one before a short top-level domain.
    let mixed = (len as u64)
        ^ byte(0) << 8
        ^ byte(len / 2) << 16
        ^ byte(len.saturating_sub(5)) << 24
        ^ u64::from(port.unwrap_or(0)) << 32;
    // The top bits of an odd multiple, the best mixed; `SLOTS` is a power of two.
    usize::try_from(mixed.wrapping_mul(MIX) >> 60).unwrap_or(0) % SLOTS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        text.parse().expect("valid url")
    }

    #[test]
    fn found_by_scheme_host_and_port() {
        let cache = OriginCache::default();
        let home = Arc::new("home");
        let with_password = Arc::new("with a password");
        cache.offer(&url("https://user:pw@z.example/"), &with_password);
        cache.offer(&url("https://a.example/orders"), &home);
        let b = Arc::new("b");
        cache.offer(&url("https://b.example/"), &b);
        let found = cache.get(&url("https://a.example/invoices?page=2"));
        assert!(found.is_some_and(|v| Arc::ptr_eq(&v, &home)));
        // With userinfo the home's origin is found in a slot, once offered.
        let spelled = url("https://user:pw@a.example/invoices");
        assert!(cache.get(&spelled).is_none());
        cache.offer(&spelled, &home);
        assert!(cache.get(&spelled).is_some_and(|v| Arc::ptr_eq(&v, &home)));
        let found = cache.get(&url("https://b.example/customers"));
        assert!(found.is_some_and(|v| Arc::ptr_eq(&v, &b)));
        for other in [
            "http://a.example/",
            "https://a.example:8443/",
            "https://c.example/",
            "https://a.example.org/",
            "http://b.example/",
        ] {
            assert!(cache.get(&url(other)).is_none(), "{other}");
        }
        // A taken slot is kept.
        cache.offer(&url("https://b.example/"), &Arc::new("b again"));
        assert!(
            cache
                .get(&url("https://b.example/"))
                .is_some_and(|v| *v == "b")
        );
        cache.clear();
        assert!(cache.get(&url("https://b.example/")).is_none());
        assert_eq!(Arc::strong_count(&b), 1, "cleared slots hold nothing");
        assert!(
            cache.get(&url("https://a.example/")).is_some(),
            "the home stays"
        );
        assert_eq!(
            Arc::strong_count(&with_password),
            1,
            "a URL with a password was never the home"
        );
    }

    #[test]
    fn the_home_is_found_as_by_the_text_before_the_path() {
        let homes = [
            "https://a.example",
            "http://a.example:8080",
            "foo://a.example",
        ];
        let urls = [
            "https://a.example/",
            "https://a.example:443/x",
            "https://a.example:4430/",
            "https://a.example.org/",
            "https://a.exampl/",
            "https://a.example@b.example/",
            "https://user@a.example/",
            "https://a.example/?q#f",
            "http://a.example:8080/",
            "http://a.example:18080/",
            "http://a.example:8080@b.example/",
            "http://a.example:808/",
            "foo://a.example",
            "foo://a.example?q",
            "foo://a.example#f",
            "foo://a.example/p",
            "foo://a.examplex",
            "foo://a.example:1",
        ];
        for home in homes {
            let home = Home {
                prefix: Box::from(home),
                value: Arc::new(()),
            };
            for text in urls {
                let parsed = url(text);
                assert_eq!(
                    home.is(parsed.as_str()),
                    *home.prefix == parsed[..Position::BeforePath],
                    "{} {text}",
                    home.prefix
                );
            }
        }
    }

    #[test]
    fn urls_without_a_host_are_never_cached() {
        let cache = OriginCache::default();
        let value = Arc::new(());
        cache.offer(&url("data:text/plain,x"), &value);
        assert!(cache.get(&url("data:text/plain,x")).is_none());
        assert_eq!(Arc::strong_count(&value), 1);
    }
}
