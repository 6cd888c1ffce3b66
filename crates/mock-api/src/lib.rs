//! `stampede-mock`: a small model-API server to demo and test Stampede against.
//!
//! It speaks the seed API (`POST /generate`), OpenAI chat and text completions
//! (`POST /v1/chat/completions`, `POST /v1/completions`, SSE when `"stream": true`), Ollama
//! (`POST /api/generate`, `POST /api/chat`, NDJSON) and TGI (`POST /generate` with `inputs`,
//! `POST /generate_stream`, SSE). Knobs set latency, time to first token, per-token time,
//! packing of tokens into chunks, jitter, HTTP failures and in-band stream faults. It counts
//! concurrency and faults so tests can check what a load generator really did (`GET /stats`).
//! CORS is open and `Timing-Allow-Origin: *` and `Cross-Origin-Resource-Policy: cross-origin`
//! are sent everywhere, because the client is a web page on another origin (and may be
//! cross-origin isolated).
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

mod ollama;
mod openai;
mod stream;
mod tgi;
mod tls;

pub use tls::{Tls, H2_MAX_CONCURRENT_STREAMS};

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
use axum::serve::ListenerExt;
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
            ttft_ms: 50.0,
            tokens_per_chunk: 1,
            role_chunk: true,
            reasoning_tokens: 0,
            stream_error_rate: 0.0,
            cut_rate: 0.0,
            malformed_rate: 0.0,
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
        for (flag, v) in [
            ("--error-rate", self.error_rate),
            ("--stream-error-rate", self.stream_error_rate),
            ("--cut-rate", self.cut_rate),
            ("--malformed-rate", self.malformed_rate),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("{flag} must be between 0 and 1, got {v}"));
            }
        }
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

/// Counters reported by `GET /stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Model requests received (including rejected and failed ones).
    pub requests: u64,
    /// Model requests currently being handled (a stream until its body ends or the client
    /// goes away).
    pub in_flight: u64,
    /// Highest `in_flight` seen since start or the last reset.
    pub max_in_flight: u64,
    /// Injected HTTP failures (`--error-rate`).
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

/// Counts one model request in flight; decrements on drop, so a handler cancelled by a client
/// disconnect is counted out too. Streams move it into their body.
pub(crate) struct InFlight(Arc<Shared>);

impl InFlight {
    fn enter(s: &Arc<Shared>) -> Self {
        let c = &s.counters;
        c.requests.fetch_add(1, Ordering::SeqCst);
        let now = c.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        c.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(Arc::clone(s))
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.0
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.counters.in_flight.fetch_sub(1, Ordering::SeqCst);
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
        match self {
            Dialect::OpenAi => {
                let kind = if client {
                    "invalid_request_error"
                } else {
                    "server_error"
                };
                error(status, kind, message)
            }
            Dialect::Ollama => (status, Json(json!({"error": message}))).into_response(),
            Dialect::Tgi => {
                let kind = if client { "validation" } else { "generation" };
                (status, Json(json!({"error": message, "error_type": kind}))).into_response()
            }
        }
    }

    pub(crate) fn bad_request(self, message: &str) -> Response {
        self.error(StatusCode::BAD_REQUEST, message)
    }
}

/// What the seeded RNG decided for one request.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Draw {
    pub jitter_ms: f64,
    pub fail: bool,
    pub stream_error: bool,
    pub cut: bool,
    pub malformed: bool,
}

/// An in-band stream fault, counted when it is actually sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    StreamError,
    Cut,
    Malformed,
}

pub(crate) struct Shared {
    cfg: MockConfig,
    rng: Mutex<StdRng>,
    counters: Counters,
    next_id: AtomicU64,
}

/// True with probability `p`; draws nothing when `p` is zero.
fn chance(rng: &mut StdRng, p: f64) -> bool {
    p > 0.0 && rng.random::<f64>() < p
}

impl Shared {
    /// Draws jitter and failures for one request; a stream also draws its faults. A knob at
    /// zero draws nothing, so the draws of non-streamed requests are the same as before
    /// streams existed.
    pub(crate) fn draw(&self, streaming: bool) -> Draw {
        let cfg = &self.cfg;
        // A poisoned lock only means another handler panicked; the RNG is still usable.
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        let rng = &mut *rng;
        let jitter_ms = if cfg.jitter_ms > 0.0 {
            rng.random::<f64>() * cfg.jitter_ms
        } else {
            0.0
        };
        let fail = chance(rng, cfg.error_rate);
        let mut d = Draw {
            jitter_ms,
            fail,
            ..Draw::default()
        };
        if streaming && !fail {
            d.stream_error = chance(rng, cfg.stream_error_rate);
            d.cut = chance(rng, cfg.cut_rate);
            d.malformed = chance(rng, cfg.malformed_rate);
        }
        d
    }

    /// Counts and builds the injected HTTP failure.
    pub(crate) fn fail(&self, dialect: Dialect) -> Response {
        self.counters.errors.fetch_add(1, Ordering::SeqCst);
        dialect.error(StatusCode::INTERNAL_SERVER_ERROR, "injected failure")
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

    /// Sleeps for the simulated generation time of a non-streamed request
    /// (latency + tokens × per-token time + jitter). Returns the jitter it drew in ms, or the
    /// injected failure.
    pub(crate) async fn simulate(&self, tokens: u32, dialect: Dialect) -> Result<f64, Response> {
        let cfg = &self.cfg;
        let draw = self.draw(false);
        let ms = cfg.latency_ms + f64::from(tokens) * cfg.per_token_ms + draw.jitter_ms;
        if ms.is_finite() && ms > 0.0 {
            tokio::time::sleep(stream::millis(ms)).await;
        }
        if draw.fail {
            return Err(self.fail(dialect));
        }
        Ok(draw.jitter_ms)
    }

    pub(crate) fn cfg(&self) -> &MockConfig {
        &self.cfg
    }

    /// A number for response ids, unique within this server.
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::SeqCst)
    }

    fn stats(&self) -> Stats {
        let c = &self.counters;
        Stats {
            requests: c.requests.load(Ordering::SeqCst),
            in_flight: c.in_flight.load(Ordering::SeqCst),
            max_in_flight: c.max_in_flight.load(Ordering::SeqCst),
            errors: c.errors.load(Ordering::SeqCst),
            stream_errors: c.stream_errors.load(Ordering::SeqCst),
            cuts: c.cuts.load(Ordering::SeqCst),
            malformed: c.malformed.load(Ordering::SeqCst),
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
async fn generate(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    let started = Instant::now();
    let guard = InFlight::enter(&s);
    if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&body) {
        if map.contains_key("inputs") {
            return tgi::generate(&s, guard, &body).await;
        }
    }
    let req: GenerateRequest = match parse(&body) {
        Ok(r) => r,
        Err(msg) => return Dialect::OpenAi.bad_request(&msg),
    };
    let (tokens, _) = s.cfg.tokens_for(&[req.max_length]);
    if let Err(resp) = s.simulate(tokens, Dialect::OpenAi).await {
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

async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn stats(State(s): State<Arc<Shared>>) -> Json<Stats> {
    Json(s.stats())
}

async fn reset_stats(State(s): State<Arc<Shared>>) -> Json<Stats> {
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
        .route("/generate_stream", post(tgi::generate_stream))
        .route("/v1/chat/completions", post(openai::chat))
        .route("/v1/completions", post(openai::completions))
        .route("/api/generate", post(ollama::generate))
        .route("/api/chat", post(ollama::chat))
        .route("/stats", get(stats))
        .route("/stats/reset", post(reset_stats))
        .fallback(not_found)
        .with_state(shared)
        .layer(cors)
        // Outermost, so preflight responses carry them too. CORP lets a cross-origin isolated
        // page (COEP require-corp) use the responses; CORS already does for `cors` fetches.
        .layer(timing_allow_origin())
        .layer(header("cross-origin-resource-policy", "cross-origin"))
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
async fn serve(router: Router, listen: &[SocketAddr], tls: Option<Tls>) -> io::Result<RunningMock> {
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
    serve(api_router(cfg), listen, None).await
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
    serve(api_router(cfg), listen, Some(tls.clone())).await
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
    serve(router, &[addr], None).await
}
