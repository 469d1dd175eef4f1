//! Which names are sensitive, and how a name is compared with a listed one.

/// Field names masked by default (see the [module docs](super) for how names are compared).
pub const DEFAULT_SENSITIVE_FIELDS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "secret",
    "token",
    "access_token",
    "refresh_token",
    "api_key",
    "apikey",
    "authorization",
    "auth",
    "credential",
    "private_key",
    "secret_key",
    "secret_access_key",
    "signing_key",
    "card_number",
    "pan",
    "cvv",
    "cvc",
    "pin",
    "otp",
    "ssn",
    "client_secret",
    "session_id",
    "cookie",
    "jwt",
];

/// Header names masked by default, compared in any case.
pub const DEFAULT_SENSITIVE_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "x-auth-token",
    "x-session",
    "x-csrf-token",
    "x-xsrf-token",
];

/// Query parameter names masked by default besides the field names (compared like them).
pub const DEFAULT_SENSITIVE_QUERY_PARAMS: &[&str] = &[
    "token",
    "access_token",
    "api_key",
    "key",
    "secret",
    "signature",
    "sig",
    "password",
    "auth",
    "code",
    "jwt",
    "session",
    "sid",
    // Session ids as Java and PHP servers accept them in a URL (`;jsessionid=…`).
    "jsessionid",
    "phpsessid",
];

/// Returns `true` when `name` is one of the [default sensitive field names](DEFAULT_SENSITIVE_FIELDS)
/// or a JSON field name configured in the process (see [`Redactor::new`](super::Redactor::new)).
///
/// Does not allocate.
#[must_use]
pub fn is_sensitive_field(name: &str) -> bool {
    is_default_field(name) || super::process::is_field(name)
}

pub(crate) fn is_default_field(name: &str) -> bool {
    DEFAULT_SENSITIVE_FIELDS
        .iter()
        .any(|pattern| name_or_plural_matches(name, pattern))
}

pub(crate) fn is_listed_header<'a>(name: &str, extra: impl IntoIterator<Item = &'a str>) -> bool {
    DEFAULT_SENSITIVE_HEADERS
        .iter()
        .copied()
        .chain(extra)
        .any(|listed| listed.eq_ignore_ascii_case(name))
}

/// Whether a compound name (`user[password]`, `card[number]`, `user.password`) is
/// sensitive: any of its parts, or all of them read as one name (`card_number`).
pub(crate) fn is_sensitive_compound(name: &str, sensitive: impl Fn(&str) -> bool) -> bool {
    if !name.contains(['[', ']', '.']) {
        return sensitive(name);
    }
    if name
        .split(['[', ']', '.'])
        .any(|part| !part.is_empty() && sensitive(part))
    {
        return true;
    }
    let joined: String = name
        .chars()
        .map(|c| if matches!(c, '[' | ']' | '.') { '_' } else { c })
        .collect();
    sensitive(&joined)
}

/// A list of secrets (`tokens`, `api_keys`) is as sensitive as one.
pub(crate) fn name_or_plural_matches(name: &str, pattern: &str) -> bool {
    name_matches(name, pattern)
        || name
            .strip_suffix(['s', 'S'])
            .is_some_and(|singular| name_matches(singular, pattern))
}

/// Compares from the end so that `user_password` matches `password`, skipping
/// separators in both names and ignoring ASCII case.
fn name_matches(name: &str, pattern: &str) -> bool {
    let name = name.as_bytes();
    let pattern = pattern.as_bytes();
    let mut i = name.len();
    let mut j = pattern.len();
    // Index in `name` of the earliest byte that matched the pattern.
    let mut first = name.len();
    loop {
        while j > 0 && is_separator(pattern[j - 1]) {
            j -= 1;
        }
        if j == 0 {
            break;
        }
        while i > 0 && is_separator(name[i - 1]) {
            i -= 1;
        }
        if i == 0 || !name[i - 1].eq_ignore_ascii_case(&pattern[j - 1]) {
            return false;
        }
        i -= 1;
        j -= 1;
        first = i;
    }
    if first == name.len() {
        // An empty pattern (or one of separators only) matches nothing.
        return false;
    }
    if name[..first].iter().all(|&b| is_separator(b)) {
        return true;
    }
    let before = name[first - 1];
    is_separator(before)
        || (name[first].is_ascii_uppercase()
            && (before.is_ascii_lowercase() || before.is_ascii_digit()))
}

pub(crate) fn is_separator(b: u8) -> bool {
    b == b'-' || b == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_names() {
        let table: &[(&str, bool)] = &[
            ("password", true),
            ("PASSWORD", true),
            ("Password", true),
            ("secret", true),
            ("token", true),
            ("access_token", true),
            ("accessToken", true),
            ("access-token", true),
            ("ACCESS_TOKEN", true),
            ("refresh_token", true),
            ("refreshToken", true),
            ("api_key", true),
            ("apiKey", true),
            ("API-KEY", true),
            ("x-api-key", true),
            ("apikey", true),
            ("authorization", true),
            ("Authorization", true),
            ("card_number", true),
            ("cardNumber", true),
            ("credit_card_number", true),
            ("cvv", true),
            ("ssn", true),
            ("client_secret", true),
            ("clientSecret", true),
            ("user_password", true),
            ("newPassword", true),
            ("githubToken", true),
            ("csrf_token", true),
            ("password_", true),
            ("_password", true),
            ("tokens", true),
            ("api_keys", true),
            ("clientSecrets", true),
            // Added after the probe of issue 13.
            ("private_key", true),
            ("privateKey", true),
            ("secret_key", true),
            ("aws_secret_access_key", true),
            ("AWS_SECRET_ACCESS_KEY", true),
            ("signing_key", true),
            ("passwd", true),
            ("pwd", true),
            ("passphrase", true),
            ("pin", true),
            ("customer_pin", true),
            ("otp", true),
            ("cvc", true),
            ("pan", true),
            ("credentials", true),
            ("credential", true),
            ("session_id", true),
            ("sessionId", true),
            ("sessionid", true),
            ("cookie", true),
            ("auth", true),
            ("x_auth", true),
            ("jwt", true),
            // Not sensitive.
            ("", false),
            ("-", false),
            ("name", false),
            ("email", false),
            ("business", false),
            ("passwordHash", false),
            ("tokenizer", false),
            ("mytoken", false),
            ("s", false),
            ("tokenss", false),
            ("USERTOKEN", false),
            ("card", false),
            ("number", false),
            ("key", false),
            ("code", false),
            ("oauth", false),
            ("author", false),
            ("company", false),
            ("shipping", false),
            ("passwor", false),
            ("ünïcödé", false),
        ];
        for (name, expected) in table {
            assert_eq!(is_default_field(name), *expected, "{name:?}");
        }
    }

    #[test]
    fn compound_names() {
        let table: &[(&str, bool)] = &[
            ("user[password]", true),
            ("card[number]", true),
            ("payment[card][number]", true),
            ("token[]", true),
            ("token[0]", true),
            ("user.password", true),
            ("user[name]", false),
            ("items[0][sku]", false),
            ("[", false),
        ];
        for (name, expected) in table {
            assert_eq!(
                is_sensitive_compound(name, is_default_field),
                *expected,
                "{name:?}"
            );
        }
    }

    #[test]
    fn listed_headers_ignore_case() {
        for (name, expected) in [
            ("Cookie", true),
            ("X-Session", true),
            ("X-Csrf-Token", true),
            ("x-partner-pin", true),
            ("accept", false),
        ] {
            assert_eq!(
                is_listed_header(name, ["X-Partner-Pin"]),
                expected,
                "{name}"
            );
        }
    }
}
