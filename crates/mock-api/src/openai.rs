//! OpenAI `POST /v1/chat/completions` and `POST /v1/completions`, plain JSON or SSE.
//!
//! Stream events are `data: <json>\n\n`: a role chunk (chat only, unless `--no-role-chunk`),
//! content chunks whose last one has `finish_reason`, a usage chunk with `"choices": []` when
//! the request asks for `stream_options.include_usage`, then `data: [DONE]\n\n`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::stream::{self, Chunk, Format, Piece, Schedule};
use crate::{
    chat_prompt_tokens, parse, token_text, unix_now, words, ChatMessage, Dialect, InFlight, Shared,
    MODEL_NAME,
};

#[derive(Deserialize)]
struct ChatRequest {
    model: Option<String>,
    messages: Vec<ChatMessage>,
    #[serde(default)]
    stream: bool,
    max_tokens: Option<f64>,
    max_completion_tokens: Option<f64>,
    stream_options: Option<Value>,
}

#[derive(Deserialize)]
struct CompletionRequest {
    model: Option<String>,
    prompt: Value,
    #[serde(default)]
    stream: bool,
    max_tokens: Option<f64>,
    stream_options: Option<Value>,
}

fn include_usage(options: Option<&Value>) -> bool {
    options
        .and_then(|o| o.get("include_usage"))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

fn usage(prompt_tokens: usize, tokens: u32) -> Value {
    json!({
        "prompt_tokens": prompt_tokens,
        "completion_tokens": tokens,
        "total_tokens": prompt_tokens as u64 + u64::from(tokens),
    })
}

fn finish_reason(cut: bool) -> &'static str {
    if cut {
        "length"
    } else {
        "stop"
    }
}

/// Chat-only parts of a stream.
struct ChatParts {
    role_chunk: bool,
    reasoning_tokens: u32,
}

/// SSE stream of either endpoint.
struct OpenAiStream {
    id: String,
    /// `chat.completion.chunk` or `text_completion`.
    object: &'static str,
    created: u64,
    model: String,
    /// `Some` for chat (`delta`), `None` for completions (`text`).
    chat: Option<ChatParts>,
    finish: &'static str,
    usage: Option<Value>,
}

fn sse(v: &Value) -> Piece {
    format!("data: {v}\n\n").into()
}

impl OpenAiStream {
    fn event(&self, choices: Value) -> Value {
        json!({
            "id": self.id,
            "object": self.object,
            "created": self.created,
            "model": self.model,
            "choices": choices,
        })
    }

    /// A choice with this delta (chat) or text (completions).
    fn choice(&self, delta: Value, text: String, finish: Option<&str>) -> Value {
        match self.chat {
            Some(_) => json!([{"index": 0, "delta": delta, "finish_reason": finish}]),
            None => json!([{"index": 0, "text": text, "finish_reason": finish}]),
        }
    }
}

impl Format for OpenAiStream {
    fn content_type(&self) -> &'static str {
        "text/event-stream"
    }

    fn head(&self) -> Vec<Piece> {
        match &self.chat {
            Some(chat) if chat.role_chunk => {
                let delta = json!({"role": "assistant", "content": ""});
                vec![sse(&self.event(self.choice(delta, String::new(), None)))]
            }
            _ => Vec::new(),
        }
    }

    fn chunk(&self, c: &Chunk) -> Piece {
        let finish = c.last.then_some(self.finish);
        let (delta, text) = match &self.chat {
            Some(chat) => {
                // The first `reasoning_tokens` tokens are reasoning; a chunk that straddles
                // the boundary carries both fields.
                let reasoning = chat
                    .reasoning_tokens
                    .saturating_sub(c.first_token)
                    .min(c.tokens);
                let mut delta = serde_json::Map::new();
                if reasoning > 0 {
                    delta.insert(
                        "reasoning_content".into(),
                        token_text(c.first_token, reasoning).into(),
                    );
                }
                if reasoning < c.tokens {
                    delta.insert(
                        "content".into(),
                        token_text(c.first_token + reasoning, c.tokens - reasoning).into(),
                    );
                }
                (Value::Object(delta), String::new())
            }
            None => (Value::Null, token_text(c.first_token, c.tokens)),
        };
        sse(&self.event(self.choice(delta, text, finish)))
    }

    fn tail(&self, chunks: usize) -> Vec<Piece> {
        let mut pieces = Vec::new();
        if chunks == 0 {
            // Nothing generated: the finish reason still needs a chunk.
            let choice = self.choice(json!({}), String::new(), Some(self.finish));
            pieces.push(sse(&self.event(choice)));
        }
        if let Some(usage) = &self.usage {
            let mut event = self.event(json!([]));
            event["usage"] = usage.clone();
            pieces.push(sse(&event));
        }
        pieces.push("data: [DONE]\n\n".into());
        pieces
    }

    fn error(&self) -> Piece {
        "data: {\"error\": {\"message\": \"injected stream error\", \"type\": \"server_error\"}}\n\n"
            .into()
    }

    fn malformed(&self) -> Piece {
        "data: {\"choices\": [\n\n".into()
    }
}

/// `POST /v1/chat/completions`.
pub(crate) async fn chat(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut guard = InFlight::enter(&s, "/v1/chat/completions", &headers);
    let req: ChatRequest = match parse(&body) {
        Ok(r) => r,
        Err(msg) => return guard.reject(Dialect::OpenAi, &msg),
    };
    let cfg = s.cfg();
    let (tokens, cut) = cfg.tokens_for(&[req.max_tokens, req.max_completion_tokens]);
    let prompt_tokens = chat_prompt_tokens(&req.messages);
    let model = req.model.unwrap_or_else(|| MODEL_NAME.to_string());
    if req.stream {
        let draw = match guard.draw_stream(Dialect::OpenAi).await {
            Ok(draw) => draw,
            Err(resp) => return resp,
        };
        let sched = Schedule::new(cfg, tokens, draw.jitter_ms);
        let fmt = OpenAiStream {
            id: format!("chatcmpl-mock-{}", s.next_id()),
            object: "chat.completion.chunk",
            created: unix_now(),
            model,
            chat: Some(ChatParts {
                role_chunk: cfg.role_chunk,
                reasoning_tokens: cfg.reasoning_tokens,
            }),
            finish: finish_reason(cut),
            usage: include_usage(req.stream_options.as_ref()).then(|| usage(prompt_tokens, tokens)),
        };
        return stream::respond(guard, &sched, &draw, &fmt);
    }
    let plain = match guard.simulate(tokens, Dialect::OpenAi).await {
        Ok(plain) => plain,
        Err(resp) => return resp,
    };
    let reasoning = cfg.reasoning_tokens.min(tokens);
    let mut message = json!({
        "role": "assistant",
        "content": token_text(reasoning, tokens - reasoning),
    });
    if reasoning > 0 {
        message["reasoning_content"] = token_text(0, reasoning).into();
    }
    let resp = plain.respond(&json!({
        "id": format!("chatcmpl-mock-{}", s.next_id()),
        "object": "chat.completion",
        "created": unix_now(),
        "model": model,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish_reason(cut),
        }],
        "usage": usage(prompt_tokens, tokens),
    }));
    drop(guard);
    resp
}

/// `POST /v1/completions`.
pub(crate) async fn completions(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut guard = InFlight::enter(&s, "/v1/completions", &headers);
    let req: CompletionRequest = match parse(&body) {
        Ok(r) => r,
        Err(msg) => return guard.reject(Dialect::OpenAi, &msg),
    };
    let cfg = s.cfg();
    let (tokens, cut) = cfg.tokens_for(&[req.max_tokens]);
    let prompt_tokens = words(&req.prompt);
    let model = req.model.unwrap_or_else(|| MODEL_NAME.to_string());
    if req.stream {
        let draw = match guard.draw_stream(Dialect::OpenAi).await {
            Ok(draw) => draw,
            Err(resp) => return resp,
        };
        let sched = Schedule::new(cfg, tokens, draw.jitter_ms);
        let fmt = OpenAiStream {
            id: format!("cmpl-mock-{}", s.next_id()),
            object: "text_completion",
            created: unix_now(),
            model,
            chat: None,
            finish: finish_reason(cut),
            usage: include_usage(req.stream_options.as_ref()).then(|| usage(prompt_tokens, tokens)),
        };
        return stream::respond(guard, &sched, &draw, &fmt);
    }
    let plain = match guard.simulate(tokens, Dialect::OpenAi).await {
        Ok(plain) => plain,
        Err(resp) => return resp,
    };
    let resp = plain.respond(&json!({
        "id": format!("cmpl-mock-{}", s.next_id()),
        "object": "text_completion",
        "created": unix_now(),
        "model": model,
        "choices": [{
            "index": 0,
            "text": token_text(0, tokens),
            "logprobs": null,
            "finish_reason": finish_reason(cut),
        }],
        "usage": usage(prompt_tokens, tokens),
    }));
    drop(guard);
    resp
}
