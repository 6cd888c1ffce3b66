//! Hugging Face TGI: `POST /generate` with `{"inputs", "parameters"}` (the path is shared
//! with the seed API, which has no `inputs`) and `POST /generate_stream` (SSE, `data:` without
//! a space as TGI sends it; the last token's event carries `generated_text` and `details`; no
//! `[DONE]`).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::stream::{self, Chunk, Format, Piece, Schedule};
use crate::{parse, token_text, Dialect, InFlight, Shared};

#[derive(Deserialize)]
struct TgiRequest {
    #[allow(dead_code)] // required, as TGI requires it, but its text does not matter
    inputs: String,
    parameters: Option<Value>,
}

impl TgiRequest {
    fn max_new_tokens(&self) -> Option<f64> {
        self.parameters.as_ref()?.get("max_new_tokens")?.as_f64()
    }
}

fn finish_reason(cut: bool) -> &'static str {
    if cut {
        "length"
    } else {
        "eos_token"
    }
}

/// `POST /generate` with `inputs` (dispatched from the shared handler, which counted the
/// request in flight).
pub(crate) async fn generate(s: &Shared, mut guard: InFlight, body: &[u8]) -> Response {
    let req: TgiRequest = match parse(body) {
        Ok(r) => r,
        Err(msg) => return guard.reject(Dialect::Tgi, &msg),
    };
    let (tokens, cut) = s.cfg().tokens_for(&[req.max_new_tokens()]);
    let plain = match guard.simulate(tokens, Dialect::Tgi).await {
        Ok(plain) => plain,
        Err(resp) => return resp,
    };
    drop(guard);
    plain.respond(&json!({
        "generated_text": token_text(0, tokens),
        "details": {
            "finish_reason": finish_reason(cut),
            "generated_tokens": tokens,
            "seed": null,
            "prefill": [],
            "tokens": [],
        },
    }))
}

struct TgiStream {
    tokens: u32,
    finish: &'static str,
}

impl TgiStream {
    fn details(&self) -> Value {
        json!({"finish_reason": self.finish, "generated_tokens": self.tokens, "seed": null})
    }
}

fn sse(v: &Value) -> Piece {
    format!("data:{v}\n\n").into()
}

impl Format for TgiStream {
    fn content_type(&self) -> &'static str {
        "text/event-stream"
    }

    fn chunk(&self, c: &Chunk) -> Piece {
        let (text, details) = if c.last {
            (token_text(0, self.tokens).into(), self.details())
        } else {
            (Value::Null, Value::Null)
        };
        sse(&json!({
            "index": c.index,
            "token": {
                "id": c.index,
                "text": token_text(c.first_token, c.tokens),
                "logprob": -0.1,
                "special": false,
            },
            "generated_text": text,
            "details": details,
        }))
    }

    fn tail(&self, chunks: usize) -> Vec<Piece> {
        if chunks > 0 {
            // The last token's event was the final one.
            return Vec::new();
        }
        // Nothing generated (`--tokens 0`): one special, empty token ends the stream.
        vec![sse(&json!({
            "index": 0,
            "token": {"id": 0, "text": "", "logprob": 0.0, "special": true},
            "generated_text": "",
            "details": self.details(),
        }))]
    }

    fn error(&self) -> Piece {
        "data:{\"error\": \"injected stream error\", \"error_type\": \"generation\"}\n\n".into()
    }

    fn malformed(&self) -> Piece {
        "data:{\"token\": {\n\n".into()
    }
}

/// `POST /generate_stream`.
pub(crate) async fn generate_stream(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut guard = InFlight::enter(&s, "/generate_stream", &headers);
    let req: TgiRequest = match parse(&body) {
        Ok(r) => r,
        Err(msg) => return guard.reject(Dialect::Tgi, &msg),
    };
    let (tokens, cut) = s.cfg().tokens_for(&[req.max_new_tokens()]);
    let draw = match guard.draw_stream(Dialect::Tgi).await {
        Ok(draw) => draw,
        Err(resp) => return resp,
    };
    let sched = Schedule::new(s.cfg(), tokens, draw.jitter_ms);
    let fmt = TgiStream {
        tokens,
        finish: finish_reason(cut),
    };
    stream::respond(guard, &sched, &draw, &fmt)
}
