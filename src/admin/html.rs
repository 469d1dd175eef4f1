//! HTML pieces: escaping, query-string encoding, the page shell and its stylesheet.

use std::fmt::{self, Write as _};

/// Text escaped for HTML content and attribute values: `& < > " '`.
pub(crate) struct Esc<'a>(pub(crate) &'a str);

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..at])?;
            f.write_str(match rest.as_bytes()[at] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[at + 1..];
        }
        f.write_str(rest)
    }
}

/// `text` percent-encoded for a query string value (unreserved characters kept).
pub(crate) fn query_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// Kept small and inline: no build step, no requests besides the page. Below 700 px the
/// letters' table becomes a list of cards.
const STYLE: &str = "\
:root{color-scheme:light dark;--line:#8884;--muted:#888}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:12px}
h1{font-size:1.35em;margin:.3em 0}h2{font-size:1.1em;margin:1.2em 0 .4em}
a{color:#2a6fd6}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid var(--line);padding:6px;text-align:left;vertical-align:top}
td.url,pre,code{overflow-wrap:anywhere;word-break:break-word}
pre{background:#8881;padding:8px;white-space:pre-wrap;max-height:24em;overflow:auto}
.muted{color:var(--muted)}
table.pairs th{width:28%;font-weight:600}
.tabs a{display:inline-block;margin:0 8px 6px 0}
.tabs a.on{font-weight:bold;text-decoration:none}
form.filters{display:flex;flex-wrap:wrap;gap:6px;align-items:end;margin:8px 0}
form.filters label{display:flex;flex-direction:column;font-size:.85em}
input,select,button{font:inherit;padding:5px}
button{cursor:pointer}
.actions{display:flex;flex-wrap:wrap;gap:10px;margin:10px 0}
.actions form{display:flex;gap:6px;flex-wrap:wrap}
.notice{padding:8px;border:1px solid var(--line);background:#2a6fd61a;margin:8px 0}
.notice.error{background:#d62a2a1a}
.state{font-weight:bold}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 12px}
dt{color:var(--muted)}dd{margin:0;overflow-wrap:anywhere}
ol.attempts li{margin-bottom:4px}
@media (max-width:700px){
 table.letters thead{display:none}
 table.letters,table.letters tbody,table.letters tr,table.letters td{display:block;width:100%}
 table.letters tr{border:1px solid var(--line);margin-bottom:10px;padding:4px}
 table.letters td{border:0;padding:2px 4px}
 table.letters td::before{content:attr(data-label) \": \";color:var(--muted)}
 dl{grid-template-columns:1fr}
}
";

/// A whole page: `title` (escaped) and `body` (already HTML).
pub(crate) fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"same-origin\">\
         <title>{}</title><style>{STYLE}</style></head><body>{body}</body></html>\n",
        Esc(title)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        let table = [
            ("plain", "plain"),
            (
                "<script>alert('x')</script>",
                "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;",
            ),
            ("a&b \"c\"", "a&amp;b &quot;c&quot;"),
            ("é<", "é&lt;"),
            ("", ""),
        ];
        for (input, expected) in table {
            assert_eq!(Esc(input).to_string(), expected);
        }
        assert_eq!(query_value("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }
}
