//! `stampede-mock` binary: parses flags, starts the library's servers, prints where they
//! listen (tests read these lines), and stops on Ctrl-C or SIGTERM.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};
use stampede_mock::{start, start_app, start_tls, MockConfig, Tls};

/// Mock model-API server for Stampede: the seed API (`/generate`), OpenAI
/// (`/v1/chat/completions`, `/v1/completions`), Ollama (`/api/generate`, `/api/chat`) and TGI
/// (`/generate` with `inputs`, `/generate_stream`), streamed or not, with configurable latency,
/// time to first token, token rate, chunking and injected failures. `GET /stats` counts
/// requests, concurrency and injected faults; `GET /stats/requests` lists each recent request's
/// fault. With --tls the model API is served over HTTPS with HTTP/2 (and HTTP/1.1) on a
/// self-signed certificate.
#[derive(Parser, Debug)]
#[command(
    name = "stampede-mock",
    version,
    allow_negative_numbers = true,
    after_help = FAULTS_HELP
)]
struct Cli {
    /// Address of the model API; repeatable. Port 0 picks a free port.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8000")]
    listen: Vec<SocketAddr>,
    /// Base latency of every non-streamed model request, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 50.0, value_parser = millis)]
    latency_ms: f64,
    /// Time per generated token, in milliseconds: added per token to non-streamed requests;
    /// in streams, chunk k (0-based) is sent at TTFT + k × tokens-per-chunk × MS after the
    /// headers.
    #[arg(long, value_name = "MS", default_value_t = 0.0, value_parser = millis)]
    per_token_ms: f64,
    /// Streams: time from the response headers to the first content-bearing chunk, in
    /// milliseconds (headers are sent at once; --latency-ms does not apply to streams).
    #[arg(long, value_name = "MS", default_value_t = 50.0, value_parser = millis)]
    ttft_ms: f64,
    /// Tokens per response (the request's max_length / max_tokens / max_completion_tokens /
    /// num_predict / max_new_tokens can lower it). Each token is 4 characters.
    #[arg(long, value_name = "N", default_value_t = 50)]
    tokens: u32,
    /// Streams: tokens packed into one chunk (the last chunk may carry fewer).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = at_least_one)]
    tokens_per_chunk: u32,
    /// OpenAI chat streams: send a first chunk with delta {"role": "assistant", "content": ""}
    /// right after the headers, before the first token (the default).
    #[arg(long, overrides_with = "no_role_chunk")]
    role_chunk: bool,
    /// OpenAI chat streams: no role chunk; the first chunk carries the first token.
    #[arg(long, overrides_with = "role_chunk")]
    no_role_chunk: bool,
    /// OpenAI chat: the first N tokens are sent as reasoning_content instead of content (vLLM
    /// style); they still count in usage.
    #[arg(long, value_name = "N", default_value_t = 0)]
    reasoning_tokens: u32,
    /// Uniform random extra latency in [0, MS); in streams it delays the first content chunk
    /// (and the schedule after it).
    #[arg(long, value_name = "MS", default_value_t = 0.0, value_parser = millis)]
    jitter_ms: f64,
    /// Probability (0..=1) of HTTP 429 with a Retry-After header (--retry-after-secs).
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    rate_limit_rate: f64,
    /// The Retry-After of injected 429s, in whole seconds.
    #[arg(long, value_name = "S", default_value_t = 1)]
    retry_after_secs: u32,
    /// Probability (0..=1) that a model request fails with HTTP 500.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    error_rate: f64,
    /// Probability (0..=1) of HTTP 502.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    bad_gateway_rate: f64,
    /// Probability (0..=1) of HTTP 503.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    unavailable_rate: f64,
    /// Probability (0..=1) of HTTP 504.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    gateway_timeout_rate: f64,
    /// Probability (0..=1) that a request is never answered: no status, no headers, the
    /// connection kept open until the client gives up (or 10 minutes pass, or shutdown; then
    /// the connection is closed).
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    hang_rate: f64,
    /// Probability (0..=1) that the connection is aborted mid-body: plain responses send 200,
    /// the full Content-Length and half the body; streams send half their chunks. HTTP/2
    /// resets the stream instead of the connection.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    reset_rate: f64,
    /// Non-streamed requests: probability (0..=1) of 200 with Content-Type application/json
    /// and invalid JSON (the body cut in half, sent completely).
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    malformed_body_rate: f64,
    /// Streams: probability (0..=1) of an in-band error event after half the chunks, which
    /// then ends the stream (no [DONE] / done:true / final event).
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    stream_error_rate: f64,
    /// Streams: probability (0..=1) that the body ends cleanly after half the chunks, with no
    /// terminal event.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    cut_rate: f64,
    /// Streams: probability (0..=1) of one malformed event after half the chunks; the stream
    /// then goes on normally.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    malformed_rate: f64,
    /// Send no CORS headers and answer no preflight with them, so a browser's cross-origin
    /// fetch fails as a CORS error.
    #[arg(long)]
    no_cors: bool,
    /// Keep CORS but send no Timing-Allow-Origin (like vLLM, Ollama and TGI by default), so a
    /// cross-origin page's resource timing hides the connection and request phases.
    #[arg(long)]
    no_timing_allow_origin: bool,
    /// Seed for jitter and failure injection.
    #[arg(long, value_name = "N", default_value_t = 42)]
    seed: u64,
    /// Serve the model API over HTTPS, HTTP/2 and HTTP/1.1 negotiated by ALPN (HTTP/2 allows
    /// 1000 concurrent streams per connection, so a browser is not held to 6 connections).
    /// The certificate is self-signed, made at start for localhost, 127.0.0.1, ::1 and every
    /// --listen IP: trust it (--cert-out) or let the client skip verification (Chromium:
    /// --ignore-certificate-errors). The web app (--app-dir) stays plain HTTP.
    #[arg(long)]
    tls: bool,
    /// With --tls: write the certificate (PEM) to this file, for clients that want to trust
    /// it.
    #[arg(long, value_name = "PATH", requires = "tls")]
    cert_out: Option<PathBuf>,
    /// Also serve the built web app from this directory. Its responses send
    /// Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp,
    /// so the page is cross-origin isolated (5 µs performance.now()).
    #[arg(long, value_name = "PATH")]
    app_dir: Option<PathBuf>,
    /// Address for the web app (with --app-dir).
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:8080",
        requires = "app_dir"
    )]
    app_listen: SocketAddr,
    /// Also shut down when standard input closes. A parent that holds the other end of a pipe
    /// (`cargo xtask demo`) then stops the mock by exiting, however it was stopped: SIGTERM
    /// or SIGKILL leave a child running, a closed pipe does not.
    #[arg(long)]
    exit_on_stdin_close: bool,
}

/// How faults combine; shown at the end of --help.
const FAULTS_HELP: &str = "\
Faults: each model request draws at most one fault. One uniform u in [0, 1) from the seeded
RNG is compared against the cumulative probabilities in this order: --rate-limit-rate (429),
--error-rate (500), --bad-gateway-rate (502), --unavailable-rate (503), --gateway-timeout-rate
(504), --hang-rate, --reset-rate, --malformed-body-rate, --stream-error-rate, --cut-rate,
--malformed-rate; u past their sum means no fault, so the probabilities must add up to at most
1. The same --seed and request order give the same faults. A request that draws a fault which
cannot happen to it (--stream-error-rate, --cut-rate or --malformed-rate on a non-streamed
request, --malformed-body-rate on a stream) is served normally and counted as ok. Status faults
answer non-streamed requests after the simulated generation time and streams at once, with the
API's error body. GET /stats counts requests by outcome under \"faults\"; GET /stats/requests
lists the last 100000 requests with their fault and X-Stampede-Request header.";

fn millis(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err("must be a non-negative number of milliseconds".to_string()),
    }
}

fn at_least_one(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(v) if v >= 1 => Ok(v),
        _ => Err("must be a whole number of tokens, at least 1".to_string()),
    }
}

fn probability(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err("must be a probability between 0 and 1".to_string()),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(dir) = &cli.app_dir {
        if !dir.join("index.html").is_file() {
            let msg = format!("--app-dir {}: no index.html there", dir.display());
            Cli::command().error(ErrorKind::ValueValidation, msg).exit();
        }
    }
    let cfg = config(&cli);
    // Checked here too, so a bad combination (e.g. fault probabilities adding up to more than
    // 1) is a usage error (exit 2) like any other bad flag.
    if let Err(msg) = cfg.validate() {
        Cli::command()
            .error(ErrorKind::ArgumentConflict, msg)
            .exit();
    }
    match run(cli, cfg).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stampede-mock: {e}");
            ExitCode::FAILURE
        }
    }
}

fn config(cli: &Cli) -> MockConfig {
    MockConfig {
        latency_ms: cli.latency_ms,
        per_token_ms: cli.per_token_ms,
        tokens: cli.tokens,
        jitter_ms: cli.jitter_ms,
        error_rate: cli.error_rate,
        seed: cli.seed,
        ttft_ms: cli.ttft_ms,
        tokens_per_chunk: cli.tokens_per_chunk,
        role_chunk: !cli.no_role_chunk,
        reasoning_tokens: cli.reasoning_tokens,
        stream_error_rate: cli.stream_error_rate,
        cut_rate: cli.cut_rate,
        malformed_rate: cli.malformed_rate,
        rate_limit_rate: cli.rate_limit_rate,
        retry_after_secs: cli.retry_after_secs,
        bad_gateway_rate: cli.bad_gateway_rate,
        unavailable_rate: cli.unavailable_rate,
        gateway_timeout_rate: cli.gateway_timeout_rate,
        hang_rate: cli.hang_rate,
        reset_rate: cli.reset_rate,
        malformed_body_rate: cli.malformed_body_rate,
        cors: !cli.no_cors,
        timing_allow_origin: !cli.no_timing_allow_origin,
    }
}

async fn run(cli: Cli, cfg: MockConfig) -> io::Result<()> {
    let mock = if cli.tls {
        let ips: Vec<_> = cli.listen.iter().map(SocketAddr::ip).collect();
        let tls = Tls::self_signed(&ips)?;
        if let Some(path) = &cli.cert_out {
            std::fs::write(path, tls.cert_pem()).map_err(|e| {
                io::Error::new(e.kind(), format!("--cert-out {}: {e}", path.display()))
            })?;
        }
        start_tls(cfg, &cli.listen, &tls).await?
    } else {
        start(cfg, &cli.listen).await?
    };
    let app = match &cli.app_dir {
        Some(dir) => Some(start_app(dir, cli.app_listen).await?),
        None => None,
    };
    let signalled = shutdown_signal()?;
    let orphaned = stdin_closed(cli.exit_on_stdin_close);
    {
        let mut out = io::stdout().lock();
        for addr in mock.addrs() {
            writeln!(out, "stampede-mock listening on {}://{addr}", mock.scheme())?;
        }
        if let Some(app) = &app {
            writeln!(out, "stampede-mock serving app on {}/", app.url())?;
        }
        out.flush()?;
    }

    tokio::select! {
        _ = signalled => {}
        _ = orphaned => eprintln!("stampede-mock: standard input closed"),
    }
    eprintln!("stampede-mock: shutting down");
    // In-flight requests get a moment to finish; a stuck client must not keep us alive.
    mock.shutdown_handle().shutdown();
    if let Some(app) = &app {
        app.shutdown_handle().shutdown();
    }
    let stop = async {
        mock.wait().await?;
        if let Some(app) = app {
            app.wait().await?;
        }
        io::Result::Ok(())
    };
    match tokio::time::timeout(Duration::from_secs(5), stop).await {
        Ok(result) => result,
        Err(_) => Ok(()),
    }
}

/// With `watch`, resolves once standard input reaches its end (or fails); without, never.
/// The read blocks, so it runs on a thread of its own.
fn stdin_closed(watch: bool) -> impl std::future::Future<Output = ()> {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    if watch {
        std::thread::spawn(move || {
            let mut buf = [0u8; 256];
            let mut stdin = io::stdin().lock();
            while matches!(std::io::Read::read(&mut stdin, &mut buf), Ok(n) if n > 0) {}
            let _ = tx.send(());
        });
    }
    async move {
        if rx.await.is_err() {
            // No watcher (its sender is gone): wait for a signal instead.
            std::future::pending::<()>().await;
        }
    }
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM. The handlers are registered when this is called,
/// not when it is first awaited, so calling it before printing the listening lines leaves no
/// window in which a script that signals right after reading them kills the process by the
/// signal's default action instead of shutting it down.
fn shutdown_signal() -> io::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        // No SIGTERM here; Ctrl-C registers on first poll.
        Ok(async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        })
    }
}
