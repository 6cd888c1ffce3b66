//! The secrets policy (DESIGN §8) as plain string functions: which header values may leave the
//! page, which URL query values are credentials, and scrubbing what a server echoed back.
//!
//! An allow-list, not a deny-list: a header nobody thought of (`X-Goog-Api-Key`,
//! `Ocp-Apim-Subscription-Key`, …) is redacted by default.

/// What a withheld value reads as in exports and links.
pub const REDACTED: &str = "[redacted]";

/// Headers whose values are harmless to share: they describe the request, they grant nothing.
pub const HARMLESS_HEADERS: [&str; 8] = [
    "accept",
    "accept-encoding",
    "accept-language",
    "cache-control",
    "content-type",
    "pragma",
    "user-agent",
    "x-request-id",
];

/// Substrings of query parameter names that mark a credential (`api_key`, `access_token`, `sig`).
const SECRET_QUERY_WORDS: [&str; 9] = [
    "key",
    "token",
    "secret",
    "signature",
    "password",
    "passwd",
    "auth",
    "credential",
    "session",
];

/// Server echoes are scrubbed of values at least this long: shorter ones (`1`, `on`) would
/// blank ordinary words.
const MIN_SCRUB_LEN: usize = 4;

pub fn is_harmless_header(name: &str) -> bool {
    HARMLESS_HEADERS
        .iter()
        .any(|h| h.eq_ignore_ascii_case(name.trim()))
}

/// A query parameter name that looks like a credential.
pub fn is_secret_query_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n == "sig" || n == "code" || SECRET_QUERY_WORDS.iter().any(|w| n.contains(w))
}

/// `url` with the values of credential-like query parameters replaced by [`REDACTED`]; the
/// rest of the text is kept exactly as typed.
pub fn redact_url(url: &str) -> String {
    let (before_fragment, fragment) = match url.split_once('#') {
        Some((a, f)) => (a, Some(f)),
        None => (url, None),
    };
    let Some((base, query)) = before_fragment.split_once('?') else {
        return url.to_string();
    };
    let query = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_secret_query_name(&decode(name)) => format!("{name}={REDACTED}"),
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&");
    let mut out = format!("{base}?{query}");
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

/// Values of credential-like query parameters in `url`, decoded as the server sees them.
pub fn url_secrets(url: &str) -> Vec<String> {
    let Ok(parsed) = url::Url::parse(url.trim()) else {
        return Vec::new();
    };
    parsed
        .query_pairs()
        .filter(|(name, _)| is_secret_query_name(name))
        .map(|(_, value)| value.into_owned())
        .collect()
}

/// The pieces of a header value worth scrubbing from echoes: the whole value and each word of
/// it (so `Bearer sk-…` also hides a bare `sk-…`).
pub fn header_secrets(value: &str) -> Vec<String> {
    let mut out = vec![value.trim().to_string()];
    out.extend(value.split_whitespace().map(str::to_string));
    // Scheme words are no secret, and scrubbing them would blank ordinary error text.
    out.retain(|s| {
        s.chars().count() >= MIN_SCRUB_LEN
            && !["bearer", "basic", "token", "digest"].contains(&s.to_ascii_lowercase().as_str())
    });
    out.sort();
    out.dedup();
    // Longest first, so a whole value is replaced before any word inside it.
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out
}

/// `text` with every occurrence of each secret replaced by [`REDACTED`].
pub fn scrub(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets {
        if s.chars().count() >= MIN_SCRUB_LEN && out.contains(s.as_str()) {
            out = out.replace(s.as_str(), REDACTED);
        }
    }
    out
}

/// A query parameter name as the server reads it (percent- and plus-decoded).
pub(crate) fn decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("{s}=").as_bytes())
        .next()
        .map(|(k, _)| k.into_owned())
        .unwrap_or_else(|| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_harmless_headers_pass() {
        assert!(is_harmless_header("Content-Type") && is_harmless_header(" accept "));
        for name in [
            "Authorization",
            "X-Goog-Api-Key",
            "Ocp-Apim-Subscription-Key",
            "X-Auth-Token",
            "apikey",
            "X-Team",
        ] {
            assert!(!is_harmless_header(name), "{name}");
        }
    }

    #[test]
    fn credential_query_values_are_redacted_and_the_rest_kept() {
        assert_eq!(
            redact_url("https://h.test/v1?key=AIza123&model=x&X-Amz-Signature=abc#frag"),
            "https://h.test/v1?key=[redacted]&model=x&X-Amz-Signature=[redacted]#frag"
        );
        assert_eq!(
            redact_url("http://h/p?api%5Fkey=s&sig=1&flag"),
            "http://h/p?api%5Fkey=[redacted]&sig=[redacted]&flag"
        );
        assert_eq!(redact_url("http://h/p"), "http://h/p");
        assert_eq!(
            url_secrets("https://h.test/?access_token=tok%2B1&n=2"),
            ["tok+1"]
        );
    }

    #[test]
    fn echoes_lose_every_piece_of_a_secret() {
        let secrets = header_secrets("Bearer sk-live-1234");
        assert_eq!(secrets, ["Bearer sk-live-1234", "sk-live-1234"]);
        let echoed = "401: invalid key sk-live-1234 (header was 'Bearer sk-live-1234')";
        assert_eq!(
            scrub(echoed, &secrets),
            "401: invalid key [redacted] (header was '[redacted]')"
        );
        assert_eq!(scrub("ok", &["ab".to_string()]), "ok", "short values stay");
    }
}
