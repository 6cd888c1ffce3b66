//! `stampede-mock`: a small model-API server to demo and test Stampede against.
//!
//! It speaks the seed API (`POST /generate`) and OpenAI chat completions
//! (`POST /v1/chat/completions`, non-streaming), with knobs for latency, per-token time, jitter
//! and injected failures, and counts concurrency so tests can check what a load generator
//! really did (`GET /stats`). CORS is open and `Timing-Allow-Origin: *` is sent everywhere,
//! because the client is a web page on another origin.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
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

/// Name reported in `model_info.name` and used as the default chat `model`.
pub const MODEL_NAME: &str = "stampede-mock";

/// Four-character tokens: the client estimates tokens as ceil(chars / 4), so text built from
/// these makes that estimate exact.
const WORDS: [&str; 8] = [
    " the", " cat", " sat", " mat", " and", " ran", " far", " off",
];

/// Knobs of the simulated model. `Default` matches the CLI defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct MockConfig {
    /// Base delay of every model request, in milliseconds.
    pub latency_ms: f64,
    /// Extra delay per generated token, in milliseconds.
    pub per_token_ms: f64,
    /// Tokens per response (a request's own limit can only lower it).
    pub tokens: u32,
    /// Uniform extra delay in `[0, jitter_ms)`.
    pub jitter_ms: f64,
    /// Probability in `[0, 1]` that a model request fails with a 500.
    pub error_rate: f64,
    /// Seed of the RNG behind jitter and failures, so runs are repeatable.
    pub seed: u64,
}

impl Default for MockConfig {
    fn default() -> Self {
        MockConfig {
            latency_ms: 50.0,
            per_token_ms: 0.0,
            tokens: 50,
            jitter_ms: 0.0,
            error_rate: 0.0,
            seed: 42,
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
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!(
                    "{flag} must be a non-negative number of milliseconds, got {v}"
                ));
            }
        }
        if !(0.0..=1.0).contains(&self.error_rate) {
            return Err(format!(
                "--error-rate must be between 0 and 1, got {}",
                self.error_rate
            ));
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

/// Counters reported by `GET /stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Model requests received (including rejected and failed ones).
    pub requests: u64,
    /// Model requests currently being handled.
    pub in_flight: u64,
    /// Highest `in_flight` seen since start or the last reset.
    pub max_in_flight: u64,
    /// Injected failures.
    pub errors: u64,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
    errors: AtomicU64,
}

/// Counts one model request in flight; decrements on drop, so a handler cancelled by a client
/// disconnect is counted out too.
struct InFlight<'a>(&'a Counters);

impl<'a> InFlight<'a> {
    fn enter(c: &'a Counters) -> Self {
        c.requests.fetch_add(1, Ordering::SeqCst);
        let now = c.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        c.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(c)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

struct Shared {
    cfg: MockConfig,
    rng: Mutex<StdRng>,
    counters: Counters,
    next_id: AtomicU64,
}

impl Shared {
    /// Sleeps for the simulated generation time; returns the injected failure, if any.
    async fn simulate(&self, tokens: u32) -> Option<Response> {
        let cfg = &self.cfg;
        let (jitter, fail) = {
            // A poisoned lock only means another handler panicked; the RNG is still usable.
            let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
            let jitter = if cfg.jitter_ms > 0.0 {
                rng.random::<f64>() * cfg.jitter_ms
            } else {
                0.0
            };
            let fail = cfg.error_rate > 0.0 && rng.random::<f64>() < cfg.error_rate;
            (jitter, fail)
        };
        let ms = cfg.latency_ms + f64::from(tokens) * cfg.per_token_ms + jitter;
        if ms.is_finite() && ms > 0.0 {
            tokio::time::sleep(Duration::from_secs_f64(ms / 1000.0)).await;
        }
        if fail {
            self.counters.errors.fetch_add(1, Ordering::SeqCst);
            return Some(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "injected failure",
            ));
        }
        None
    }

    fn stats(&self) -> Stats {
        let c = &self.counters;
        Stats {
            requests: c.requests.load(Ordering::SeqCst),
            in_flight: c.in_flight.load(Ordering::SeqCst),
            max_in_flight: c.max_in_flight.load(Ordering::SeqCst),
            errors: c.errors.load(Ordering::SeqCst),
        }
    }
}

/// OpenAI-style error body, which both presets' clients can show.
fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    let body = json!({"error": {"message": message, "type": kind}});
    (status, Json(body)).into_response()
}

fn bad_request(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "invalid_request_error", message)
}

/// Parses the body as JSON whatever the content type, so a browser may send `text/plain`
/// (no preflight) as well as `application/json`.
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("invalid request body: {e}"))
}

fn generated_text(tokens: u32) -> String {
    WORDS
        .iter()
        .cycle()
        .take(tokens as usize)
        .copied()
        .collect()
}

#[derive(Deserialize)]
struct GenerateRequest {
    prompt: String,
    max_length: Option<f64>,
}

async fn generate(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    let started = Instant::now();
    let _guard = InFlight::enter(&s.counters);
    let req: GenerateRequest = match parse(&body) {
        Ok(r) => r,
        Err(msg) => return bad_request(&msg),
    };
    let (tokens, _) = s.cfg.tokens_for(&[req.max_length]);
    if let Some(resp) = s.simulate(tokens).await {
        return resp;
    }
    let secs = started.elapsed().as_secs_f64();
    let tps = if secs > 0.0 {
        f64::from(tokens) / secs
    } else {
        0.0
    };
    Json(json!({
        "generated_text": generated_text(tokens),
        "input_prompt": req.prompt,
        "model_info": {"name": MODEL_NAME, "version": env!("CARGO_PKG_VERSION"), "tokens": tokens},
        "inference_time": secs,
        "tokens_per_second": tps,
    }))
    .into_response()
}

#[derive(Deserialize)]
struct ChatRequest {
    model: Option<String>,
    messages: Vec<ChatMessage>,
    #[serde(default)]
    stream: bool,
    max_tokens: Option<f64>,
    max_completion_tokens: Option<f64>,
}

#[derive(Deserialize)]
struct ChatMessage {
    content: Option<Value>,
}

/// Words in a message's content: a string, or an array of parts with `text`.
fn words(content: &Value) -> usize {
    match content {
        Value::String(s) => s.split_whitespace().count(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .map(|s| s.split_whitespace().count())
            .sum(),
        _ => 0,
    }
}

async fn chat(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    let _guard = InFlight::enter(&s.counters);
    let req: ChatRequest = match parse(&body) {
        Ok(r) => r,
        Err(msg) => return bad_request(&msg),
    };
    if req.stream {
        return bad_request("streaming is not supported by this mock yet");
    }
    let (tokens, cut) = s
        .cfg
        .tokens_for(&[req.max_tokens, req.max_completion_tokens]);
    if let Some(resp) = s.simulate(tokens).await {
        return resp;
    }
    let prompt_tokens: usize = req
        .messages
        .iter()
        .filter_map(|m| m.content.as_ref())
        .map(words)
        .sum();
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let id = s.next_id.fetch_add(1, Ordering::SeqCst);
    Json(json!({
        "id": format!("chatcmpl-mock-{id}"),
        "object": "chat.completion",
        "created": created,
        "model": req.model.unwrap_or_else(|| MODEL_NAME.to_string()),
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": generated_text(tokens)},
            "logprobs": null,
            "finish_reason": if cut { "length" } else { "stop" },
        }],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": tokens,
            "total_tokens": prompt_tokens as u64 + u64::from(tokens),
        },
    }))
    .into_response()
}

async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn stats(State(s): State<Arc<Shared>>) -> Json<Stats> {
    Json(s.stats())
}

async fn reset_stats(State(s): State<Arc<Shared>>) -> Json<Stats> {
    let c = &s.counters;
    c.requests.store(0, Ordering::SeqCst);
    c.errors.store(0, Ordering::SeqCst);
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

/// `Timing-Allow-Origin: *` lets a cross-origin page read full `PerformanceResourceTiming`
/// (including `nextHopProtocol`).
fn timing_allow_origin() -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::overriding(
        HeaderName::from_static("timing-allow-origin"),
        HeaderValue::from_static("*"),
    )
}

fn api_router(cfg: MockConfig) -> Router {
    let shared = Arc::new(Shared {
        rng: Mutex::new(StdRng::seed_from_u64(cfg.seed)),
        cfg,
        counters: Counters::default(),
        next_id: AtomicU64::new(1),
    });
    // Mirror requested headers rather than `*`: a wildcard does not cover `Authorization`.
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods(Any)
        .allow_headers(AllowHeaders::mirror_request())
        .allow_private_network(true)
        .max_age(Duration::from_secs(86400));
    Router::new()
        .route("/health", get(health))
        .route("/generate", post(generate))
        .route("/v1/chat/completions", post(chat))
        .route("/stats", get(stats))
        .route("/stats/reset", post(reset_stats))
        .fallback(not_found)
        .with_state(shared)
        .layer(cors)
        // Outermost, so preflight responses carry it too.
        .layer(timing_allow_origin())
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
    stop: ShutdownHandle,
    tasks: Vec<JoinHandle<io::Result<()>>>,
}

impl RunningMock {
    /// The bound addresses, in the order given (port 0 resolved to the real port).
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// `http://ADDR` of the first listener.
    pub fn url(&self) -> String {
        format!("http://{}", self.addrs[0])
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

/// Binds every address first (so a bad one leaves nothing running), then serves `router`.
async fn serve(router: Router, listen: &[SocketAddr]) -> io::Result<RunningMock> {
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
    let (tx, _) = watch::channel(false);
    let mut addrs = Vec::with_capacity(listeners.len());
    let mut tasks = Vec::with_capacity(listeners.len());
    for listener in listeners {
        addrs.push(listener.local_addr()?);
        let mut rx = tx.subscribe();
        let app = router.clone();
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
        stop: ShutdownHandle(Arc::new(tx)),
        tasks,
    })
}

/// Starts the model API on every `listen` address.
pub async fn start(cfg: MockConfig, listen: &[SocketAddr]) -> io::Result<RunningMock> {
    cfg.validate()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    serve(api_router(cfg), listen).await
}

/// Serves the built web app from `dir` on `addr`. Unknown paths get `index.html`, so
/// client-side routes survive a reload.
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
        .layer(timing_allow_origin());
    serve(router, &[addr]).await
}
