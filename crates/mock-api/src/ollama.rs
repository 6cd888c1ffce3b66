//! Ollama `POST /api/generate` and `POST /api/chat`: NDJSON streams (the default when the
//! request has no `stream`), or one JSON object with `"stream": false`.
//!
//! Durations in the final object are nanoseconds: `load_duration` is the time from the
//! request's arrival to the stream's start, `prompt_eval_duration` the time to the first
//! content line (`ttft + jitter`), `eval_duration` the time from the first content line to the
//! last, and `total_duration` the measured time from arrival to the final line. Non-streamed:
//! `prompt_eval_duration` = latency + jitter, `eval_duration` = tokens × per-token time.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::stream::{self, millis, rfc3339, Chunk, Format, Piece, Schedule};
use crate::{
    chat_prompt_tokens, parse, token_text, ChatMessage, Dialect, InFlight, Shared, MODEL_NAME,
};

#[derive(Deserialize)]
struct GenerateRequest {
    model: Option<String>,
    #[serde(default)]
    prompt: String,
    stream: Option<bool>,
    options: Option<Value>,
}

#[derive(Deserialize)]
struct ChatRequest {
    model: Option<String>,
    messages: Vec<ChatMessage>,
    stream: Option<bool>,
    options: Option<Value>,
}

fn num_predict(options: Option<&Value>) -> Option<f64> {
    options?.get("num_predict")?.as_f64()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `/api/generate`: text in `response`.
    Generate,
    /// `/api/chat`: text in `message.content`.
    Chat,
}

/// What every line of one reply shares.
#[derive(Clone)]
struct Reply {
    kind: Kind,
    model: String,
    prompt_tokens: usize,
    tokens: u32,
    done_reason: &'static str,
    received: Instant,
}

/// Durations of the final object.
struct Timings {
    load: Duration,
    prompt_eval: Duration,
    eval: Duration,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Reply {
    /// One object: a content line, or the final one when `done` has timings.
    fn object(&self, text: String, done: Option<&Timings>) -> Value {
        let mut v = json!({
            "model": self.model,
            "created_at": rfc3339(SystemTime::now()),
        });
        match self.kind {
            Kind::Generate => v["response"] = text.into(),
            Kind::Chat => v["message"] = json!({"role": "assistant", "content": text}),
        }
        v["done"] = done.is_some().into();
        if let Some(t) = done {
            v["done_reason"] = self.done_reason.into();
            v["total_duration"] = nanos(self.received.elapsed()).into();
            v["load_duration"] = nanos(t.load).into();
            v["prompt_eval_count"] = self.prompt_tokens.into();
            v["prompt_eval_duration"] = nanos(t.prompt_eval).into();
            v["eval_count"] = self.tokens.into();
            v["eval_duration"] = nanos(t.eval).into();
        }
        v
    }
}

fn line(v: &Value) -> Bytes {
    Bytes::from(format!("{v}\n"))
}

struct OllamaStream {
    reply: Reply,
    sched: Schedule,
}

impl Format for OllamaStream {
    fn content_type(&self) -> &'static str {
        "application/x-ndjson"
    }

    fn chunk(&self, c: &Chunk) -> Piece {
        let reply = self.reply.clone();
        let text = token_text(c.first_token, c.tokens);
        Piece::lazy(move || line(&reply.object(text, None)))
    }

    fn tail(&self, _chunks: usize) -> Vec<Piece> {
        let reply = self.reply.clone();
        let timings = Timings {
            load: self.sched.start.saturating_duration_since(reply.received),
            prompt_eval: self.sched.first(),
            eval: self.sched.last().saturating_sub(self.sched.first()),
        };
        vec![Piece::lazy(move || {
            line(&reply.object(String::new(), Some(&timings)))
        })]
    }

    fn error(&self) -> Piece {
        "{\"error\": \"injected stream error\"}\n".into()
    }

    fn malformed(&self) -> Piece {
        match self.reply.kind {
            Kind::Generate => "{\"response\": \n".into(),
            Kind::Chat => "{\"message\": {\n".into(),
        }
    }
}

/// Both endpoints once the request is parsed.
async fn reply(s: &Shared, mut guard: InFlight, reply: Reply, stream: bool) -> Response {
    let cfg = s.cfg();
    if stream {
        let draw = match guard.draw_stream(Dialect::Ollama).await {
            Ok(draw) => draw,
            Err(resp) => return resp,
        };
        let sched = Schedule::new(cfg, reply.tokens, draw.jitter_ms);
        return stream::respond(guard, &sched, &draw, &OllamaStream { reply, sched });
    }
    let plain = match guard.simulate(reply.tokens, Dialect::Ollama).await {
        Ok(plain) => plain,
        Err(resp) => return resp,
    };
    let timings = Timings {
        load: Duration::ZERO,
        prompt_eval: millis(cfg.latency_ms + plain.jitter_ms),
        eval: millis(f64::from(reply.tokens) * cfg.per_token_ms),
    };
    let body = reply.object(token_text(0, reply.tokens), Some(&timings));
    drop(guard);
    plain.respond(&body)
}

/// `POST /api/generate`.
pub(crate) async fn generate(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let received = Instant::now();
    let mut guard = InFlight::enter(&s, "/api/generate", &headers);
    let req: GenerateRequest = match parse(&body) {
        Ok(r) => r,
        Err(msg) => return guard.reject(Dialect::Ollama, &msg),
    };
    let (tokens, cut) = s.cfg().tokens_for(&[num_predict(req.options.as_ref())]);
    let r = Reply {
        kind: Kind::Generate,
        model: req.model.unwrap_or_else(|| MODEL_NAME.to_string()),
        prompt_tokens: req.prompt.split_whitespace().count(),
        tokens,
        done_reason: if cut { "length" } else { "stop" },
        received,
    };
    reply(&s, guard, r, req.stream.unwrap_or(true)).await
}

/// `POST /api/chat`.
pub(crate) async fn chat(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let received = Instant::now();
    let mut guard = InFlight::enter(&s, "/api/chat", &headers);
    let req: ChatRequest = match parse(&body) {
        Ok(r) => r,
        Err(msg) => return guard.reject(Dialect::Ollama, &msg),
    };
    let (tokens, cut) = s.cfg().tokens_for(&[num_predict(req.options.as_ref())]);
    let r = Reply {
        kind: Kind::Chat,
        model: req.model.unwrap_or_else(|| MODEL_NAME.to_string()),
        prompt_tokens: chat_prompt_tokens(&req.messages),
        tokens,
        done_reason: if cut { "length" } else { "stop" },
        received,
    };
    reply(&s, guard, r, req.stream.unwrap_or(true)).await
}
