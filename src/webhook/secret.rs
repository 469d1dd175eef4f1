//! Signing secrets, in a type that never shows them.

use std::fmt;

use serde::{Deserialize, Deserializer};

/// A webhook signing secret, as the provider shows it (`whsec_…` for Stripe and Standard
/// Webhooks, the app's client secret for Shopify, the text typed into GitHub).
///
/// Its `Debug` shows `WebhookSecret([redacted])` and it has no `Display` nor `Serialize`:
/// the secret cannot reach a log line, an error message or a saved configuration by
/// accident. It deserializes from a string, so a configuration file or an environment
/// variable can hold it.
///
/// ```
/// use steadfast::webhook::WebhookSecret;
///
/// let secret = WebhookSecret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
/// assert_eq!(format!("{secret:?}"), "WebhookSecret([redacted])");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Box<str>);

impl WebhookSecret {
    /// The secret `text`, as the provider gave it.
    #[must_use]
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into().into_boxed_str())
    }

    /// The secret's text, to derive a signing key from.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret([redacted])")
    }
}

impl<'de> Deserialize<'de> for WebhookSecret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_shown() {
        let secret: WebhookSecret =
            serde_json::from_str(r#""whsec_c2VjcmV0""#).expect("a string deserializes");
        assert_eq!(secret.expose(), "whsec_c2VjcmV0");
        let shown = format!("{secret:?} {:?}", vec![secret.clone()]);
        assert!(!shown.contains("c2VjcmV0"), "{shown}");
    }
}
