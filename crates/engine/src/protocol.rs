//! Turning a finished HTTP exchange into an outcome, per the request shape's JSON pointers.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::RequestShape;
use crate::runner::{ErrorClass, HttpOutcome};

/// Where a sample's output token count came from (DESIGN §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TokenSource {
    Usage,
    StreamEvents,
    Estimate,
}

/// What a response amounted to.
#[derive(Clone, Debug, PartialEq)]
pub struct Parsed {
    pub error: Option<(ErrorClass, String)>,
    pub output_tokens: Option<u64>,
    pub token_source: Option<TokenSource>,
    pub server_tokens_per_s: Option<f64>,
}

/// Longest piece of a response body quoted in an error message.
const EXCERPT: usize = 200;

fn excerpt(body: &str) -> String {
    let t = body.trim();
    match t.char_indices().nth(EXCERPT) {
        Some((cut, _)) => format!("{}…", &t[..cut]),
        None => t.to_string(),
    }
}

fn failure(class: ErrorClass, message: String) -> Parsed {
    Parsed {
        error: Some((class, message)),
        output_tokens: None,
        token_source: None,
        server_tokens_per_s: None,
    }
}

/// Classify an outcome: transport error, then status (2xx expected), then the body.
pub fn parse(shape: &RequestShape, out: &HttpOutcome) -> Parsed {
    if let Some(e) = &out.error {
        return failure(e.class, e.message.clone());
    }
    let status = out.status.unwrap_or(0);
    if !(200..300).contains(&status) {
        let body = excerpt(&out.body);
        let msg = if body.is_empty() {
            format!("HTTP {status}")
        } else {
            format!("HTTP {status}: {body}")
        };
        return failure(ErrorClass::Http, msg);
    }
    let json: Value = match serde_json::from_str(&out.body) {
        Ok(v) => v,
        Err(e) => {
            return failure(
                ErrorClass::Parse,
                format!("response is not JSON ({e}): {}", excerpt(&out.body)),
            )
        }
    };
    let Some(text) = json.pointer(&shape.text_pointer).and_then(Value::as_str) else {
        return failure(
            ErrorClass::Parse,
            format!(
                "no generated text at {} in: {}",
                shape.text_pointer,
                excerpt(&out.body)
            ),
        );
    };
    let usage = (!shape.tokens_pointer.is_empty())
        .then(|| json.pointer(&shape.tokens_pointer).and_then(Value::as_u64))
        .flatten();
    let (tokens, source) = match usage {
        Some(n) => (n, TokenSource::Usage),
        None => (estimate_tokens(text), TokenSource::Estimate),
    };
    let server_tps = (!shape.server_tps_pointer.is_empty())
        .then(|| {
            json.pointer(&shape.server_tps_pointer)
                .and_then(Value::as_f64)
        })
        .flatten()
        .filter(|v| v.is_finite());
    Parsed {
        error: None,
        output_tokens: Some(tokens),
        token_source: Some(source),
        server_tokens_per_s: server_tps,
    }
}

/// Characters / 4, rounded up (DESIGN §3).
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Preset;
    use crate::runner::TransportError;

    fn ok(status: u16, body: &str) -> HttpOutcome {
        HttpOutcome {
            start_ms: 0.0,
            headers_ms: Some(1.0),
            end_ms: 2.0,
            status: Some(status),
            body: body.into(),
            error: None,
            protocol: None,
        }
    }

    #[test]
    fn seed_response_estimates_tokens_and_reads_server_tps() {
        let p = parse(
            &Preset::Seed.shape(),
            &ok(
                200,
                r#"{"generated_text": "abcdefghi", "tokens_per_second": 12.5}"#,
            ),
        );
        assert_eq!(p.error, None);
        assert_eq!(p.output_tokens, Some(3), "9 chars / 4 rounded up");
        assert_eq!(p.token_source, Some(TokenSource::Estimate));
        assert_eq!(p.server_tokens_per_s, Some(12.5));
    }

    #[test]
    fn openai_usage_wins() {
        let body = r#"{"choices":[{"message":{"role":"assistant","content":"hi"}}],"usage":{"completion_tokens":42}}"#;
        let p = parse(&Preset::OpenaiChat.shape(), &ok(200, body));
        assert_eq!(
            (p.output_tokens, p.token_source),
            (Some(42), Some(TokenSource::Usage))
        );
        assert_eq!(p.server_tokens_per_s, None);
    }

    #[test]
    fn failures_are_classified() {
        let shape = Preset::OpenaiChat.shape();
        let p = parse(&shape, &ok(503, "overloaded"));
        assert_eq!(
            p.error,
            Some((ErrorClass::Http, "HTTP 503: overloaded".into()))
        );
        let p = parse(&shape, &ok(200, "<html>"));
        assert_eq!(p.error.unwrap().0, ErrorClass::Parse);
        let p = parse(&shape, &ok(200, r#"{"choices": []}"#));
        let (class, msg) = p.error.unwrap();
        assert_eq!(class, ErrorClass::Parse);
        assert!(msg.contains("/choices/0/message/content"), "{msg}");
        let mut out = ok(0, "");
        out.status = None;
        out.error = Some(TransportError {
            class: ErrorClass::Network,
            message: "Failed to fetch".into(),
        });
        assert_eq!(
            parse(&shape, &out).error,
            Some((ErrorClass::Network, "Failed to fetch".into()))
        );
    }

    #[test]
    fn long_bodies_are_cut_in_messages() {
        let body = "é".repeat(1000);
        let (_, msg) = parse(&Preset::Seed.shape(), &ok(500, &body)).error.unwrap();
        assert!(msg.chars().count() < 220, "{}", msg.len());
    }

    #[test]
    fn estimate_rounds_up() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("abcd"), 1);
        assert_eq!(estimate_tokens("abcde"), 2);
    }
}
