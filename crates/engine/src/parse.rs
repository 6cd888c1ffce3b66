//! Turning a finished HTTP exchange into an outcome: status, body or stream, tokens, timings.
//!
//! Everything is read through the request shape's JSON pointers, so presets and Custom share
//! one code path. Streams are decoded from the chunks as they arrived, with their arrival times.

use serde_json::Value;

use crate::http::HttpOutcome;
use crate::model::{ErrorClass, ServerDurations, TokenSource};
use crate::preset::{Framing, RequestShape};
use crate::store::clip;
use crate::stream::{NdjsonParser, SseParser};

/// Ollama's own timings (reported in ns) as ms, when the object has any.
fn server_durations(v: &Value) -> Option<ServerDurations> {
    {
        let ms = |k: &str| v.get(k).and_then(Value::as_f64).map(|ns| ns / 1e6);
        let d = ServerDurations {
            total_ms: ms("total_duration"),
            load_ms: ms("load_duration"),
            prompt_eval_ms: ms("prompt_eval_duration"),
            eval_ms: ms("eval_duration"),
        };
        (d != ServerDurations::default()).then_some(d)
    }
}

/// What a response amounted to. Times are on the transport's clock.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Parsed {
    pub error: Option<(ErrorClass, String)>,
    pub output_tokens: Option<u64>,
    pub token_source: Option<TokenSource>,
    pub prompt_tokens: Option<u64>,
    pub server_tokens_per_s: Option<f64>,
    pub server_durations: Option<ServerDurations>,
    /// Streams: arrival time of every event that carried generated content.
    pub content_at: Vec<f64>,
    /// The start of the generated text (streams: text and reasoning deltas joined), clipped
    /// to `store::RESPONSE_CHARS` characters; `None` on failure or when it is empty.
    pub text: Option<String>,
}

/// Longest piece of a response body quoted in an error message.
const EXCERPT: usize = 300;

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
        ..Parsed::default()
    }
}

fn at<'a>(v: &'a Value, pointer: &str) -> Option<&'a Value> {
    if pointer.is_empty() {
        None
    } else {
        v.pointer(pointer)
    }
}

/// True for a value that marks something present: not null, false, "" or an empty array.
fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) | Some(Value::Bool(false)) => false,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(_) => true,
    }
}

/// The message of an in-band `{"error": …}` (OpenAI object, Ollama or TGI string).
fn in_band_error(v: &Value) -> Option<String> {
    let e = v.get("error").filter(|e| !e.is_null())?;
    Some(match e {
        Value::String(s) => s.clone(),
        other => other
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| other.to_string()),
    })
}

/// Classify an outcome: transport error, then status (2xx expected), then the body.
pub fn parse(shape: &RequestShape, out: &HttpOutcome) -> Parsed {
    if let Some(e) = &out.error {
        return failure(e.class, e.message.clone());
    }
    let status = out.status.unwrap_or(0);
    if !(200..300).contains(&status) {
        let body = excerpt(&out.body_text());
        let msg = if body.is_empty() {
            format!("HTTP {status}")
        } else {
            format!("HTTP {status}: {body}")
        };
        return failure(ErrorClass::Http, msg);
    }
    match shape.framing {
        Framing::Json => parse_json(shape, &out.body_text()),
        Framing::Sse | Framing::Ndjson => parse_stream(shape, out),
    }
}

fn parse_json(shape: &RequestShape, body: &str) -> Parsed {
    let json: Value = match serde_json::from_str(body) {
        Ok(v) => v,
        Err(e) => {
            return failure(
                ErrorClass::Parse,
                format!("response is not JSON ({e}): {}", excerpt(body)),
            )
        }
    };
    let Some(text) = at(&json, &shape.text_pointer).and_then(Value::as_str) else {
        return failure(
            ErrorClass::Parse,
            format!(
                "no generated text at {} in: {}",
                shape.text_pointer,
                excerpt(body)
            ),
        );
    };
    let (tokens, source) = match at(&json, &shape.tokens_pointer).and_then(Value::as_u64) {
        Some(n) => (n, TokenSource::Usage),
        None => (estimate_tokens(text), TokenSource::Estimate),
    };
    Parsed {
        error: None,
        output_tokens: Some(tokens),
        token_source: Some(source),
        prompt_tokens: at(&json, &shape.prompt_tokens_pointer).and_then(Value::as_u64),
        server_tokens_per_s: at(&json, &shape.server_tps_pointer)
            .and_then(Value::as_f64)
            .filter(|v| v.is_finite()),
        server_durations: server_durations(&json),
        content_at: Vec::new(),
        text: (!text.trim().is_empty()).then(|| clip(text)),
    }
}

/// Streaming state of one request while its events are read in order.
#[derive(Default)]
struct StreamState {
    parsed: Parsed,
    text: String,
    terminal: bool,
    events: usize,
}

impl StreamState {
    fn event(&mut self, shape: &RequestShape, at_ms: f64, data: &str) {
        if self.parsed.error.is_some() || self.terminal {
            return;
        }
        self.events += 1;
        if shape.framing == Framing::Sse && data.trim() == "[DONE]" {
            self.terminal = true;
            return;
        }
        let v: Value = match serde_json::from_str(data) {
            Ok(v) => v,
            Err(e) => {
                self.parsed.error = Some((
                    ErrorClass::Parse,
                    format!("malformed event #{} ({e}): {}", self.events, excerpt(data)),
                ));
                return;
            }
        };
        if let Some(msg) = in_band_error(&v) {
            self.parsed.error = Some((ErrorClass::StreamError, format!("in-band error: {msg}")));
            return;
        }
        let text = at(&v, &shape.text_pointer)
            .and_then(Value::as_str)
            .unwrap_or("");
        let reasoning = at(&v, &shape.reasoning_pointer)
            .and_then(Value::as_str)
            .unwrap_or("");
        let tools = truthy(at(&v, &shape.tool_calls_pointer));
        if !text.is_empty() || !reasoning.is_empty() || tools {
            self.parsed.content_at.push(at_ms);
            self.text.push_str(text);
            self.text.push_str(reasoning);
        }
        if let Some(n) = at(&v, &shape.tokens_pointer).and_then(Value::as_u64) {
            self.parsed.output_tokens = Some(n);
            self.parsed.token_source = Some(TokenSource::Usage);
        }
        if let Some(n) = at(&v, &shape.prompt_tokens_pointer).and_then(Value::as_u64) {
            self.parsed.prompt_tokens = Some(n);
        }
        if let Some(d) = server_durations(&v) {
            self.parsed.server_durations = Some(d);
        }
        if truthy(at(&v, &shape.done_pointer)) {
            self.terminal = true;
        }
    }
}

fn parse_stream(shape: &RequestShape, out: &HttpOutcome) -> Parsed {
    let mut st = StreamState::default();
    let mut incomplete = false;
    match shape.framing {
        Framing::Sse => {
            let mut parser = SseParser::default();
            let mut events = Vec::new();
            for c in &out.chunks {
                parser.push(&c.bytes, &mut events);
                for e in events.drain(..) {
                    if e.event == "error" {
                        st.event(
                            shape,
                            c.at_ms,
                            &format!("{{\"error\": {}}}", Value::String(e.data)),
                        );
                    } else {
                        st.event(shape, c.at_ms, &e.data);
                    }
                }
            }
            incomplete = parser.finish(&mut events);
        }
        Framing::Ndjson => {
            let mut parser = NdjsonParser::default();
            let mut lines = Vec::new();
            for c in &out.chunks {
                parser.push(&c.bytes, &mut lines);
                for l in lines.drain(..) {
                    st.event(shape, c.at_ms, &l);
                }
            }
            parser.finish(&mut lines);
            for l in lines.drain(..) {
                st.event(shape, out.end_ms, &l);
            }
        }
        Framing::Json => {}
    }
    let mut parsed = st.parsed;
    if parsed.error.is_none() && !st.terminal && (shape.require_terminal || incomplete) {
        let what = if shape.done_pointer.is_empty() {
            "data: [DONE]".to_string()
        } else {
            format!("an event with {} set", shape.done_pointer)
        };
        parsed.error = Some((
            ErrorClass::Parse,
            format!(
                "the stream ended without its terminal event ({what}) after {} events: truncated",
                st.events
            ),
        ));
    }
    if let Some(error) = parsed.error.take() {
        // Keep the arrival timeline: the request detail shows how far the stream got.
        return Parsed {
            error: Some(error),
            content_at: parsed.content_at,
            ..Parsed::default()
        };
    }
    if parsed.output_tokens.is_none() {
        let n = parsed.content_at.len() as u64;
        let (tokens, source) = if n > 0 {
            (n, TokenSource::StreamEvents)
        } else {
            (estimate_tokens(&st.text), TokenSource::Estimate)
        };
        parsed.output_tokens = Some(tokens);
        parsed.token_source = Some(source);
    }
    parsed.text = (!st.text.trim().is_empty()).then(|| clip(&st.text));
    parsed
}

/// Characters / 4, rounded up (DESIGN §3).
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{Chunk, TransportError};
    use crate::preset::Preset;

    fn ok(status: u16, body: &str) -> HttpOutcome {
        HttpOutcome {
            start_ms: 0.0,
            headers_ms: Some(1.0),
            end_ms: 2.0,
            status: Some(status),
            chunks: vec![Chunk {
                at_ms: 2.0,
                bytes: body.as_bytes().to_vec(),
            }],
            error: None,
            protocol: None,
            queue_ms: None,
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
        assert_eq!(p.text.as_deref(), Some("abcdefghi"));
    }

    #[test]
    fn a_streams_text_is_joined_and_clipped() {
        // 400 one-character deltas: the excerpt keeps 300 and marks the cut.
        let events: String = (0..400)
            .map(|_| "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n")
            .chain(["data: [DONE]\n\n"])
            .collect();
        let p = parse(&Preset::OpenaiChatStream.shape(), &ok(200, &events));
        assert_eq!(p.error, None);
        let text = p.text.unwrap();
        assert_eq!(text, format!("{}…", "x".repeat(300)));
        // A failure keeps no text: its error message quotes the body instead.
        assert_eq!(parse(&Preset::Seed.shape(), &ok(500, "oops")).text, None);
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
        // An HTTP error on a streaming preset is still `http`, with the body quoted.
        let p = parse(
            &Preset::OpenaiChatStream.shape(),
            &ok(429, r#"{"error":"slow down"}"#),
        );
        assert_eq!(p.error.unwrap().0, ErrorClass::Http);
    }

    #[test]
    fn long_bodies_are_cut_in_messages() {
        let body = "é".repeat(1000);
        let (_, msg) = parse(&Preset::Seed.shape(), &ok(500, &body)).error.unwrap();
        assert!(msg.chars().count() < 320, "{}", msg.len());
    }

    #[test]
    fn estimate_rounds_up() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("abcd"), 1);
        assert_eq!(estimate_tokens("abcde"), 2);
    }
}
