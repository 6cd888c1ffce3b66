//! `stampede-mock`: a small model-API server to demo and test Stampede against.
//!
//! It speaks the seed API (`POST /generate`), OpenAI chat and text completions
//! (`POST /v1/chat/completions`, `POST /v1/completions`, SSE when `"stream": true`), Ollama
//! (`POST /api/generate`, `POST /api/chat`, NDJSON) and TGI (`POST /generate` with `inputs`,
//! `POST /generate_stream`, SSE). Knobs set latency, time to first token, per-token time,
//! packing of tokens into chunks, jitter, and a matrix of faults (HTTP 429/500/502/503/504,
//! hangs, connection resets, malformed bodies, in-band stream faults; see [`Outcome`]), at
//! most one per request. It counts concurrency and outcomes so tests can check what a load
//! generator really did (`GET /stats`, `GET /stats/requests`).
//! CORS is open and `Timing-Allow-Origin: *` and `Cross-Origin-Resource-Policy: cross-origin`
//! are sent everywhere, because the client is a web page on another origin (and may be
//! cross-origin isolated); [`MockConfig::cors`] and [`MockConfig::timing_allow_origin`] turn
//! the first two off to imitate servers that do not send them.
//!
//! The model API speaks plain HTTP/1.1, or with [`start_tls`] (`--tls`) HTTPS with HTTP/2 and
//! HTTP/1.1 negotiated by ALPN, on a self-signed certificate made at start. The web app server
//! ([`start_app`]) is plain HTTP and sends `Cross-Origin-Opener-Policy: same-origin` and
//! `Cross-Origin-Embedder-Policy: require-corp`, so the page is cross-origin isolated and its
//! `performance.now()` has the finer (5 µs) resolution.
//!
//! Streams follow an exact schedule measured from the moment the response headers are sent:
//! content chunk `k` (0-based) goes out at `ttft + jitter + k × tokens_per_chunk × per_token`,
//! each awaited with `sleep_until` against the stream's start, so delays never accumulate.

mod faults;
mod ollama;
mod openai;
mod stream;
mod tgi;
mod tls;

pub use faults::{Faults, Outcome, RequestLog, RequestRecord, REQUEST_LOG_LIMIT, TAG_LIMIT};
pub use tls::{Tls, H2_MAX_CONCURRENT_STREAMS};

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::{Json, Router};
use futures_util::StreamExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower_http::cors::{AllowHeaders, Any, CorsLayer};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

/// Name reported in `model_info.name` and used as the default `model`.
pub const MODEL_NAME: &str = "stampede-mock";

/// Four-character tokens: the client estimates tokens as ceil(chars / 4), so text built from
/// these makes that estimate exact.
const WORDS: [&str; 8] = [
    " the", " cat", " sat", " mat", " and", " ran", " far", " off",
];

/// Knobs of the simulated model. `Default` matches the CLI defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct MockConfig {
    /// Base delay of every non-streamed model request, in milliseconds.
    pub latency_ms: f64,
    /// Time per generated token, in milliseconds: added per token to non-streamed requests,
    /// and the inter-token time of streams.
    pub per_token_ms: f64,
    /// Tokens per response (a request's own limit can only lower it).
    pub tokens: u32,
    /// Uniform extra delay in `[0, jitter_ms)`; in streams it delays the first content chunk
    /// (and so the whole schedule after it).
    pub jitter_ms: f64,
    /// Probability in `[0, 1]` that a model request fails with a 500 (before any streaming).
    /// This and every other fault probability below share one draw per request: their sum
    /// must be at most 1 (see [`Outcome::FAULTS`] for the order).
    pub error_rate: f64,
    /// Seed of the RNG behind jitter and failures, so runs are repeatable.
    pub seed: u64,
    /// Streams: time from the response headers to the first content-bearing chunk, in ms.
    pub ttft_ms: f64,
    /// Streams: tokens packed into one content chunk (the last chunk may carry fewer); ≥ 1.
    pub tokens_per_chunk: u32,
    /// OpenAI chat streams: send `delta: {"role": "assistant", "content": ""}` right after the
    /// headers, before the first token.
    pub role_chunk: bool,
    /// OpenAI chat: the first N tokens are sent as `reasoning_content` (vLLM style).
    pub reasoning_tokens: u32,
    /// Streams: probability of an in-band error event after half the chunks.
    pub stream_error_rate: f64,
    /// Streams: probability that the body ends cleanly after half the chunks, with no
    /// terminal event.
    pub cut_rate: f64,
    /// Streams: probability of one malformed event after half the chunks (the stream then
    /// goes on normally).
    pub malformed_rate: f64,
    /// Probability of an HTTP 429 with `Retry-After: retry_after_secs`.
    pub rate_limit_rate: f64,
    /// The `Retry-After` of injected 429s, in seconds.
    pub retry_after_secs: u32,
    /// Probability of an HTTP 502.
    pub bad_gateway_rate: f64,
    /// Probability of an HTTP 503.
    pub unavailable_rate: f64,
    /// Probability of an HTTP 504.
    pub gateway_timeout_rate: f64,
    /// Probability that the request is never answered (until the client leaves,
    /// [`HANG_LIMIT`] passes or the server shuts down; then the connection is closed).
    pub hang_rate: f64,
    /// Probability that the connection is aborted mid-body: plain responses after half their
    /// `Content-Length`, streams after half their chunks.
    pub reset_rate: f64,
    /// Plain requests: probability of a 200 whose JSON body is cut in half (invalid JSON,
    /// complete transfer).
    pub malformed_body_rate: f64,
    /// Send CORS headers and answer preflights (the default). Off, a browser's cross-origin
    /// fetch fails as a CORS error.
    pub cors: bool,
    /// Send `Timing-Allow-Origin: *` (the default). Off, as vLLM, Ollama and TGI do by
    /// default, a cross-origin page's resource timing hides the connection phases.
    pub timing_allow_origin: bool,
}

/// A hung request is closed after this at the latest, so a forgotten client cannot hold the
/// server's memory forever.
pub const HANG_LIMIT: Duration = Duration::from_secs(600);

/// A reset waits this long after the last bytes it sends, so they reach the client before
/// the connection is aborted (an abort drops whatever is still buffered).
pub(crate) const RESET_PAUSE: Duration = Duration::from_millis(20);

impl Default for MockConfig {
    fn default() -> Self {
        MockConfig {
            latency_ms: 50.0,
            per_token_ms: 0.0,
            tokens: 50,
            jitter_ms: 0.0,
            error_rate: 0.0,
            seed: 42,
            ttft_ms: 50.0,
            tokens_per_chunk: 1,
            role_chunk: true,
            reasoning_tokens: 0,
            stream_error_rate: 0.0,
            cut_rate: 0.0,
            malformed_rate: 0.0,
            rate_limit_rate: 0.0,
            retry_after_secs: 1,
            bad_gateway_rate: 0.0,
            unavailable_rate: 0.0,
            gateway_timeout_rate: 0.0,
            hang_rate: 0.0,
            reset_rate: 0.0,
            malformed_body_rate: 0.0,
            cors: true,
            timing_allow_origin: true,
        }
    }
}

impl MockConfig {
    /// Checks the knobs; the message names the offending CLI flag.
    pub fn validate(&self) -> Result<(), String> {
        for (flag, v) in [
            ("--latency-ms", self.latency_ms),
            ("--per-token-ms", self.per_token_ms),
            ("--jitter-ms", self.jitter_ms),
            ("--ttft-ms", self.ttft_ms),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!(
                    "{flag} must be a non-negative number of milliseconds, got {v}"
                ));
            }
        }
        faults::validate(self)?;
        if self.tokens_per_chunk == 0 {
            return Err("--tokens-per-chunk must be at least 1, got 0".to_string());
        }
        Ok(())
    }

    /// Tokens to generate: the configured count, lowered by the smallest positive request
    /// limit. Also says whether that limit is what cut the text (`finish_reason: "length"`).
    fn tokens_for(&self, limits: &[Option<f64>]) -> (u32, bool) {
        let limit = limits
            .iter()
            .flatten()
            .filter(|v| v.is_finite() && **v >= 1.0)
            .map(|v| v.min(u32::MAX as f64) as u32)
            .min();
        match limit {
            Some(l) if l <= self.tokens => (l, true),
            _ => (self.tokens, false),
        }
    }
}

/// Counters reported by `GET /stats` (beside `faults`, see [`Faults`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Model requests received (including rejected and failed ones).
    pub requests: u64,
    /// Model requests currently being handled (a stream until its body ends or the client
    /// goes away).
    pub in_flight: u64,
    /// Highest `in_flight` seen since start or the last reset.
    pub max_in_flight: u64,
    /// Injected HTTP 500s (`--error-rate`), counted when sent; the other injected statuses
    /// are only in `faults`.
    pub errors: u64,
    /// In-band stream error events sent (`--stream-error-rate`).
    #[serde(default)]
    pub stream_errors: u64,
    /// Streams cut short without a terminal event (`--cut-rate`).
    #[serde(default)]
    pub cuts: u64,
    /// Malformed stream events sent (`--malformed-rate`).
    #[serde(default)]
    pub malformed: u64,
}

/// `GET /stats`: the counters above and, under `faults`, the model requests by outcome.
#[derive(Serialize)]
struct StatsBody {
    #[serde(flatten)]
    stats: Stats,
    faults: Faults,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
    errors: AtomicU64,
    stream_errors: AtomicU64,
    cuts: AtomicU64,
    malformed: AtomicU64,
}

/// One model request being handled: counts it in flight and decrements on drop, so a handler
/// cancelled by a client disconnect is counted out too (streams move it into their body). It
/// also carries what the request's outcome is logged with.
pub(crate) struct InFlight {
    shared: Arc<Shared>,
    path: &'static str,
    tag: Option<String>,
}

impl InFlight {
    fn enter(s: &Arc<Shared>, path: &'static str, headers: &HeaderMap) -> Self {
        let c = &s.counters;
        c.requests.fetch_add(1, Ordering::SeqCst);
        let now = c.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        c.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let tag = headers
            .get("x-stampede-request")
            .map(|v| faults::bounded_tag(&String::from_utf8_lossy(v.as_bytes())));
        InFlight {
            shared: Arc::clone(s),
            path,
            tag,
        }
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// Draws jitter and the request's outcome, and logs it. A knob at zero draws nothing, so
    /// with no faults the jitter sequence is the same as before faults existed, and with
    /// only `--error-rate` the 500s fall on the same requests as before the fault matrix.
    pub(crate) fn draw(&mut self, streaming: bool) -> Draw {
        let s = &self.shared;
        let cfg = &s.cfg;
        // A poisoned lock only means another handler panicked; the state is still usable.
        let mut ledger = s.ledger.lock().unwrap_or_else(|e| e.into_inner());
        let jitter_ms = if cfg.jitter_ms > 0.0 {
            ledger.rng.random::<f64>() * cfg.jitter_ms
        } else {
            0.0
        };
        let fault = if faults::total(cfg) > 0.0 {
            let u = ledger.rng.random::<f64>();
            faults::pick(cfg, u, streaming)
        } else {
            Outcome::Ok
        };
        ledger
            .faults
            .record(self.path, streaming, fault, self.tag.take());
        Draw { jitter_ms, fault }
    }

    /// Logs the request as rejected and builds its 400.
    pub(crate) fn reject(&mut self, dialect: Dialect, message: &str) -> Response {
        let s = &self.shared;
        let mut ledger = s.ledger.lock().unwrap_or_else(|e| e.into_inner());
        ledger
            .faults
            .record(self.path, false, Outcome::BadRequest, self.tag.take());
        dialect.bad_request(message)
    }

    /// Draws for a non-streamed request and sleeps its simulated generation time
    /// (latency + tokens × per-token time + jitter). Returns what the response body needs, or
    /// the whole response of an HTTP fault (a hang never sleeps: it waits for its end).
    pub(crate) async fn simulate(
        &mut self,
        tokens: u32,
        dialect: Dialect,
    ) -> Result<Plain, Response> {
        let draw = self.draw(false);
        if draw.fault == Outcome::Hang {
            return Err(self.shared.hang().await);
        }
        let cfg = &self.shared.cfg;
        let ms = cfg.latency_ms + f64::from(tokens) * cfg.per_token_ms + draw.jitter_ms;
        if ms.is_finite() && ms > 0.0 {
            tokio::time::sleep(stream::millis(ms)).await;
        }
        if let Some(resp) = self.shared.status_fault(draw.fault, dialect) {
            return Err(resp);
        }
        Ok(Plain {
            jitter_ms: draw.jitter_ms,
            fault: draw.fault,
        })
    }

    /// Draws for a stream and answers its HTTP faults (at once, before any streaming) and
    /// hangs; `Err` is that whole response, `Ok` the draw to stream with.
    pub(crate) async fn draw_stream(&mut self, dialect: Dialect) -> Result<Draw, Response> {
        let draw = self.draw(true);
        if draw.fault == Outcome::Hang {
            return Err(self.shared.hang().await);
        }
        match self.shared.status_fault(draw.fault, dialect) {
            Some(resp) => Err(resp),
            None => Ok(draw),
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.shared
            .counters
            .in_flight
            .fetch_sub(1, Ordering::SeqCst);
    }
}

/// Error body shapes of the APIs the mock imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// `{"error": {"message", "type"}}` (also used by the seed API).
    OpenAi,
    /// `{"error": message}`.
    Ollama,
    /// `{"error": message, "error_type"}`.
    Tgi,
}

impl Dialect {
    fn error(self, status: StatusCode, message: &str) -> Response {
        let client = status.is_client_error();
        let limited = status == StatusCode::TOO_MANY_REQUESTS;
        match self {
            Dialect::OpenAi => {
                let kind = if limited {
                    "rate_limit_exceeded"
                } else if client {
                    "invalid_request_error"
                } else {
                    "server_error"
                };
                error(status, kind, message)
            }
            Dialect::Ollama => (status, Json(json!({"error": message}))).into_response(),
            Dialect::Tgi => {
                // TGI answers a full queue with 429 "overloaded".
                let kind = if limited {
                    "overloaded"
                } else if client {
                    "validation"
                } else {
                    "generation"
                };
                (status, Json(json!({"error": message, "error_type": kind}))).into_response()
            }
        }
    }

    pub(crate) fn bad_request(self, message: &str) -> Response {
        self.error(StatusCode::BAD_REQUEST, message)
    }
}

/// What the seeded RNG decided for one request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Draw {
    pub jitter_ms: f64,
    pub fault: Outcome,
}

/// A non-streamed request that got past its HTTP faults: its jitter, and the fault its body
/// may still carry (a reset or a malformed body).
pub(crate) struct Plain {
    pub jitter_ms: f64,
    fault: Outcome,
}

impl Plain {
    /// The JSON response with `body`, or the fault drawn for it.
    pub(crate) fn respond(self, body: &Value) -> Response {
        let bytes = Bytes::from(body.to_string());
        match self.fault {
            Outcome::Reset => reset_midway(bytes),
            Outcome::MalformedBody => json_bytes(bytes.slice(..bytes.len() / 2)),
            _ => json_bytes(bytes),
        }
    }
}

fn json_bytes(bytes: Bytes) -> Response {
    let mut resp = Response::new(Body::from(bytes));
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// The error a body stream yields to make hyper abort the connection (HTTP/2: reset the
/// stream) instead of ending the body properly.
pub(crate) fn injected_reset() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionReset, "injected reset")
}

/// 200 with the full `Content-Length` and the first half of `bytes`; then, after
/// [`RESET_PAUSE`], the connection is aborted, so the client sees a truncated body.
fn reset_midway(bytes: Bytes) -> Response {
    let len = bytes.len();
    let part = bytes.slice(..len / 2);
    let first = futures_util::stream::once(async move { Ok::<_, io::Error>(part) });
    let abort = futures_util::stream::once(async {
        tokio::time::sleep(RESET_PAUSE).await;
        Err(injected_reset())
    });
    let mut resp = json_bytes(Bytes::new());
    *resp.body_mut() = Body::from_stream(first.chain(abort));
    resp.headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from(len));
    resp
}

/// A response that aborts the connection before anything is written (hyper buffers the head
/// until the body's first frame, and an error drops both), so the client never sees a status.
fn abort() -> Response {
    let body = futures_util::stream::once(async { Err::<Bytes, _>(injected_reset()) });
    Response::new(Body::from_stream(body))
}

/// An in-band stream fault, counted in the legacy `/stats` fields when it is actually sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    StreamError,
    Cut,
    Malformed,
}

/// The seeded RNG and the outcome ledger, under one lock so the log follows the draws.
struct Draws {
    rng: StdRng,
    faults: faults::Ledger,
}

pub(crate) struct Shared {
    cfg: MockConfig,
    ledger: Mutex<Draws>,
    counters: Counters,
    next_id: AtomicU64,
    /// Turns true on shutdown (or errs once every sender is gone): ends hangs.
    stop: watch::Receiver<bool>,
}

impl Shared {
    /// The response of an HTTP status fault (`None` for any other outcome). The 500 also
    /// counts in the legacy `errors` field.
    fn status_fault(&self, fault: Outcome, dialect: Dialect) -> Option<Response> {
        let (status, message) = match fault {
            Outcome::Http429 => (StatusCode::TOO_MANY_REQUESTS, "injected rate limit"),
            Outcome::Http500 => {
                self.counters.errors.fetch_add(1, Ordering::SeqCst);
                (StatusCode::INTERNAL_SERVER_ERROR, "injected failure")
            }
            Outcome::Http502 => (StatusCode::BAD_GATEWAY, "injected bad gateway"),
            Outcome::Http503 => (StatusCode::SERVICE_UNAVAILABLE, "injected unavailable"),
            Outcome::Http504 => (StatusCode::GATEWAY_TIMEOUT, "injected gateway timeout"),
            _ => return None,
        };
        let mut resp = dialect.error(status, message);
        if fault == Outcome::Http429 {
            let secs = HeaderValue::from(self.cfg.retry_after_secs);
            resp.headers_mut().insert(RETRY_AFTER, secs);
        }
        Some(resp)
    }

    /// Waits until shutdown or [`HANG_LIMIT`] (a client that leaves first drops the handler
    /// and so ends it sooner), then closes the connection without an answer.
    async fn hang(&self) -> Response {
        let mut stop = self.stop.clone();
        tokio::select! {
            () = tokio::time::sleep(HANG_LIMIT) => {}
            _ = stop.wait_for(|stop| *stop) => {}
        }
        abort()
    }

    pub(crate) fn count(&self, fault: Fault) {
        let c = &self.counters;
        let counter = match fault {
            Fault::StreamError => &c.stream_errors,
            Fault::Cut => &c.cuts,
            Fault::Malformed => &c.malformed,
        };
        counter.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn cfg(&self) -> &MockConfig {
        &self.cfg
    }

    /// A number for response ids, unique within this server.
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::SeqCst)
    }

    fn stats(&self) -> StatsBody {
        let c = &self.counters;
        let faults = self
            .ledger
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .faults
            .counts;
        StatsBody {
            stats: Stats {
                requests: c.requests.load(Ordering::SeqCst),
                in_flight: c.in_flight.load(Ordering::SeqCst),
                max_in_flight: c.max_in_flight.load(Ordering::SeqCst),
                errors: c.errors.load(Ordering::SeqCst),
                stream_errors: c.stream_errors.load(Ordering::SeqCst),
                cuts: c.cuts.load(Ordering::SeqCst),
                malformed: c.malformed.load(Ordering::SeqCst),
            },
            faults,
        }
    }
}

/// OpenAI-style error body, which both presets' clients can show.
fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    let body = json!({"error": {"message": message, "type": kind}});
    (status, Json(body)).into_response()
}

/// Parses the body as JSON whatever the content type, so a browser may send `text/plain`
/// (no preflight) as well as `application/json`.
pub(crate) fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("invalid request body: {e}"))
}

/// `count` generated tokens starting at token number `from` (each 4 characters).
pub(crate) fn token_text(from: u32, count: u32) -> String {
    WORDS
        .iter()
        .cycle()
        .skip(from as usize % WORDS.len())
        .take(count as usize)
        .copied()
        .collect()
}

fn generated_text(tokens: u32) -> String {
    token_text(0, tokens)
}

/// Seconds since the Unix epoch, for OpenAI's `created`.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Words in a message's content: a string, or an array of parts with `text`. The mock's
/// prompt-token count.
pub(crate) fn words(content: &Value) -> usize {
    match content {
        Value::String(s) => s.split_whitespace().count(),
        Value::Array(parts) => parts
            .iter()
            .map(|p| match p {
                Value::String(s) => s.split_whitespace().count(),
                _ => p
                    .get("text")
                    .and_then(Value::as_str)
                    .map_or(0, |s| s.split_whitespace().count()),
            })
            .sum(),
        _ => 0,
    }
}

#[derive(Deserialize)]
pub(crate) struct ChatMessage {
    pub content: Option<Value>,
}

/// Prompt tokens of a chat request: the words of every message.
pub(crate) fn chat_prompt_tokens(messages: &[ChatMessage]) -> usize {
    messages
        .iter()
        .filter_map(|m| m.content.as_ref())
        .map(words)
        .sum()
}

#[derive(Deserialize)]
struct GenerateRequest {
    prompt: String,
    max_length: Option<f64>,
}

/// `POST /generate`: TGI when the body has `inputs`, else the seed API.
async fn generate(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let started = Instant::now();
    let mut guard = InFlight::enter(&s, "/generate", &headers);
    if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&body) {
        if map.contains_key("inputs") {
            return tgi::generate(&s, guard, &body).await;
        }
    }
    let req: GenerateRequest = match parse(&body) {
        Ok(r) => r,
        Err(msg) => return guard.reject(Dialect::OpenAi, &msg),
    };
    let (tokens, _) = s.cfg.tokens_for(&[req.max_length]);
    let plain = match guard.simulate(tokens, Dialect::OpenAi).await {
        Ok(plain) => plain,
        Err(resp) => return resp,
    };
    let secs = started.elapsed().as_secs_f64();
    let tps = if secs > 0.0 {
        f64::from(tokens) / secs
    } else {
        0.0
    };
    plain.respond(&json!({
        "generated_text": generated_text(tokens),
        "input_prompt": req.prompt,
        "model_info": {"name": MODEL_NAME, "version": env!("CARGO_PKG_VERSION"), "tokens": tokens},
        "inference_time": secs,
        "tokens_per_second": tps,
    }))
}

async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /v1/models`: the OpenAI model list, so a client can offer the server's model.
async fn openai_models() -> Json<Value> {
    Json(json!({
        "object": "list",
        "data": [{"id": MODEL_NAME, "object": "model", "created": 0, "owned_by": "stampede"}],
    }))
}

/// `GET /api/tags`: Ollama's list of local models.
async fn ollama_tags() -> Json<Value> {
    Json(json!({
        "models": [{"name": MODEL_NAME, "model": MODEL_NAME, "size": 0, "details": {"family": "mock"}}],
    }))
}

async fn stats(State(s): State<Arc<Shared>>) -> Json<StatsBody> {
    Json(s.stats())
}

/// `GET /stats/requests`: the outcome of each recent model request, for tests that match
/// request by request.
async fn request_log(State(s): State<Arc<Shared>>) -> Json<RequestLog> {
    let log = s
        .ledger
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .faults
        .log();
    Json(log)
}

/// `POST /stats/reset`: zeroes the counters and the request log (not the RNG, so a reset
/// does not replay the same faults).
async fn reset_stats(State(s): State<Arc<Shared>>) -> Json<StatsBody> {
    s.ledger
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .faults
        .reset();
    let c = &s.counters;
    for counter in [
        &c.requests,
        &c.errors,
        &c.stream_errors,
        &c.cuts,
        &c.malformed,
    ] {
        counter.store(0, Ordering::SeqCst);
    }
    c.max_in_flight
        .store(c.in_flight.load(Ordering::SeqCst), Ordering::SeqCst);
    Json(s.stats())
}

/// JSON 404 so a wrong base URL shows up clearly in the client's error message.
async fn not_found(method: Method, uri: Uri) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "not_found",
        &format!("no route for {method} {}", uri.path()),
    )
}

/// Sets (overrides) one response header on every response.
fn header(name: &'static str, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::overriding(
        HeaderName::from_static(name),
        HeaderValue::from_static(value),
    )
}

/// `Timing-Allow-Origin: *` lets a cross-origin page read full `PerformanceResourceTiming`
/// (including `nextHopProtocol`).
fn timing_allow_origin() -> SetResponseHeaderLayer<HeaderValue> {
    header("timing-allow-origin", "*")
}

/// The model API. `stop` ends hung requests at shutdown.
fn api_router(cfg: MockConfig, stop: watch::Receiver<bool>) -> Router {
    let (cors, tao) = (cfg.cors, cfg.timing_allow_origin);
    let shared = Arc::new(Shared {
        ledger: Mutex::new(Draws {
            rng: StdRng::seed_from_u64(cfg.seed),
            faults: faults::Ledger::default(),
        }),
        cfg,
        counters: Counters::default(),
        next_id: AtomicU64::new(1),
        stop,
    });
    let mut router = Router::new()
        .route("/health", get(health))
        .route("/generate", post(generate))
        .route("/generate_stream", post(tgi::generate_stream))
        .route("/v1/chat/completions", post(openai::chat))
        .route("/v1/completions", post(openai::completions))
        .route("/api/generate", post(ollama::generate))
        .route("/api/chat", post(ollama::chat))
        .route("/v1/models", get(openai_models))
        .route("/api/tags", get(ollama_tags))
        .route("/stats", get(stats))
        .route("/stats/reset", post(reset_stats))
        .route("/stats/requests", get(request_log))
        .fallback(not_found)
        .with_state(shared);
    if cors {
        // Mirror requested headers rather than `*`: a wildcard does not cover
        // `Authorization`. Exposing every header lets the page read `Retry-After`, which is
        // not CORS-safelisted.
        router = router.layer(
            CorsLayer::new()
                .allow_origin(Any)
                .allow_methods(Any)
                .allow_headers(AllowHeaders::mirror_request())
                .expose_headers(Any)
                .allow_private_network(true)
                .max_age(Duration::from_secs(86400)),
        );
    }
    // Outside CORS, so preflight responses carry them too. CORP lets a cross-origin isolated
    // page (COEP require-corp) use the responses; CORS already does for `cors` fetches.
    if tao {
        router = router.layer(timing_allow_origin());
    }
    router.layer(header("cross-origin-resource-policy", "cross-origin"))
}

/// Stops the servers of a [`RunningMock`]; cheap to clone and send to a signal handler.
#[derive(Clone, Debug)]
pub struct ShutdownHandle(Arc<watch::Sender<bool>>);

impl ShutdownHandle {
    /// Asks every server to stop accepting and finish in-flight requests.
    pub fn shutdown(&self) {
        self.0.send_replace(true);
    }
}

/// Servers started by [`start`] or [`start_app`]. Dropping it (and every [`ShutdownHandle`])
/// also stops them.
#[derive(Debug)]
pub struct RunningMock {
    addrs: Vec<SocketAddr>,
    tls: bool,
    connections: Arc<AtomicU64>,
    stop: ShutdownHandle,
    tasks: Vec<JoinHandle<io::Result<()>>>,
}

impl RunningMock {
    /// The bound addresses, in the order given (port 0 resolved to the real port).
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// `http://ADDR` (`https://ADDR` with TLS) of the first listener.
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme(), self.addrs[0])
    }

    /// `https` when serving TLS, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls {
            "https"
        } else {
            "http"
        }
    }

    /// TCP connections accepted so far by all listeners (keep-alive and HTTP/2 reuse one
    /// connection for many requests).
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::SeqCst)
    }

    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.stop.clone()
    }

    /// Signals shutdown and waits for the servers to finish.
    pub async fn shutdown(self) -> io::Result<()> {
        self.stop.shutdown();
        self.wait().await
    }

    /// Waits until the servers stop (after a [`ShutdownHandle::shutdown`]).
    pub async fn wait(self) -> io::Result<()> {
        // Keep `stop` alive while waiting: dropping the last sender would stop the servers.
        let RunningMock { stop, tasks, .. } = self;
        for task in tasks {
            task.await.map_err(io::Error::other)??;
        }
        drop(stop);
        Ok(())
    }
}

/// Binds every address first (so a bad one leaves nothing running), then serves `router`,
/// over TLS when `tls` is given.
async fn serve(
    router: Router,
    listen: &[SocketAddr],
    tls: Option<Tls>,
    tx: watch::Sender<bool>,
) -> io::Result<RunningMock> {
    if listen.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "no listen address",
        ));
    }
    let mut listeners = Vec::with_capacity(listen.len());
    for addr in listen {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))?;
        listeners.push(listener);
    }
    let connections = Arc::new(AtomicU64::new(0));
    let mut addrs = Vec::with_capacity(listeners.len());
    let mut tasks = Vec::with_capacity(listeners.len());
    for listener in listeners {
        addrs.push(listener.local_addr()?);
        let mut rx = tx.subscribe();
        let app = router.clone();
        let count = Arc::clone(&connections);
        if let Some(tls) = &tls {
            let task = tls::serve(listener, app, tls.clone(), count, rx);
            tasks.push(tokio::spawn(task));
            continue;
        }
        // No Nagle: a small stream chunk must leave now, not wait for the previous one's ACK.
        let listener = listener.tap_io(move |tcp| {
            count.fetch_add(1, Ordering::SeqCst);
            let _ = tcp.set_nodelay(true);
        });
        tasks.push(tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    // Err means every sender is gone: stop as well.
                    let _ = rx.wait_for(|stop| *stop).await;
                })
                .await
        }));
    }
    Ok(RunningMock {
        addrs,
        tls: tls.is_some(),
        connections,
        stop: ShutdownHandle(Arc::new(tx)),
        tasks,
    })
}

/// Starts the model API on every `listen` address.
pub async fn start(cfg: MockConfig, listen: &[SocketAddr]) -> io::Result<RunningMock> {
    cfg.validate()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let (tx, rx) = watch::channel(false);
    serve(api_router(cfg, rx), listen, None, tx).await
}

/// Starts the model API over HTTPS on every `listen` address, with `tls`'s certificate
/// (see [`Tls::self_signed`]). Clients get HTTP/2 or HTTP/1.1 as they negotiate by ALPN
/// (HTTP/2 with up to [`H2_MAX_CONCURRENT_STREAMS`] requests at once per connection); every
/// route, header and stream behaves as over plain HTTP.
pub async fn start_tls(
    cfg: MockConfig,
    listen: &[SocketAddr],
    tls: &Tls,
) -> io::Result<RunningMock> {
    cfg.validate()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let (tx, rx) = watch::channel(false);
    serve(api_router(cfg, rx), listen, Some(tls.clone()), tx).await
}

/// Serves the built web app from `dir` on `addr` (plain HTTP). Unknown paths get
/// `index.html`, so client-side routes survive a reload. Every response carries
/// `Cross-Origin-Opener-Policy: same-origin` and `Cross-Origin-Embedder-Policy: require-corp`,
/// which make the page cross-origin isolated (finer `performance.now()`); the app's own files
/// are same-origin, and the model API it calls answers CORS and sends
/// `Cross-Origin-Resource-Policy: cross-origin`.
pub async fn start_app(dir: &Path, addr: SocketAddr) -> io::Result<RunningMock> {
    let index = dir.join("index.html");
    if !index.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no index.html in app dir {}", dir.display()),
        ));
    }
    let files = ServeDir::new(dir).fallback(ServeFile::new(index));
    let router = Router::new()
        .fallback_service(files)
        .layer(timing_allow_origin())
        .layer(header("cross-origin-opener-policy", "same-origin"))
        .layer(header("cross-origin-embedder-policy", "require-corp"));
    serve(router, &[addr], None, watch::channel(false).0).await
}
