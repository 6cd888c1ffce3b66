//! Runs the real `stampede-mock` binary the way scripts and e2e tests will: start it, read the
//! printed listening lines from a pipe, talk to it, stop it.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_stampede-mock");
/// Generous bound against hangs only (a slow machine must not fail the test).
const PATIENCE: Duration = Duration::from_secs(60);

/// Kills the child if a test fails before stopping it.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Running {
    fn spawn(args: &[&str]) -> Running {
        let mut child = Command::new(BIN)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn stampede-mock");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running { child, lines }
    }

    fn line(&self) -> String {
        self.lines.recv_timeout(PATIENCE).expect("a line on stdout")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("stampede-mock did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn url_after<'a>(line: &'a str, prefix: &str) -> &'a str {
    line.strip_prefix(prefix)
        .unwrap_or_else(|| panic!("unexpected line {line:?}"))
}

#[tokio::test]
async fn binary_prints_its_address_serves_and_stops_on_sigterm() {
    let mut mock = Running::spawn(&["--listen", "127.0.0.1:0", "--latency-ms", "0"]);
    let line = mock.line();
    let base = url_after(&line, "stampede-mock listening on http://127.0.0.1:");
    let port: u16 = base.parse().expect("port");
    assert_ne!(port, 0);

    let body: Value = reqwest::get(format!("http://127.0.0.1:{port}/health"))
        .await
        .expect("health")
        .json()
        .await
        .expect("json");
    assert_eq!(body["status"], "ok");

    let status = Command::new("kill")
        .args(["-TERM", &mock.child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    assert!(wait(&mut mock.child).success());
}

#[tokio::test]
async fn binary_serves_the_app_dir() {
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("bin-app-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create dir");
    std::fs::write(dir.join("index.html"), "<p>hi</p>").expect("write index");
    let dir_arg = dir.to_str().expect("utf-8 path");

    let mock = Running::spawn(&[
        "--listen",
        "127.0.0.1:0",
        "--app-dir",
        dir_arg,
        "--app-listen",
        "127.0.0.1:0",
    ]);
    let first = mock.line();
    url_after(&first, "stampede-mock listening on http://127.0.0.1:");
    let second = mock.line();
    let app = url_after(&second, "stampede-mock serving app on ");
    assert!(
        app.starts_with("http://127.0.0.1:") && app.ends_with('/'),
        "{app}"
    );

    let text = reqwest::get(app)
        .await
        .expect("get app")
        .text()
        .await
        .expect("text");
    assert_eq!(text, "<p>hi</p>");
    drop(mock);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn invalid_flags_exit_with_code_2() {
    let cases: [&[&str]; 13] = [
        &["--error-rate", "1.5"],
        &["--latency-ms", "-5"],
        &["--jitter-ms", "nan"],
        &["--app-listen", "127.0.0.1:0"],
        &["--app-dir", "/nonexistent/stampede-app"],
        &["--ttft-ms", "-1"],
        &["--ttft-ms", "inf"],
        &["--tokens-per-chunk", "0"],
        &["--reasoning-tokens", "-1"],
        &["--stream-error-rate", "1.01"],
        &["--cut-rate", "-0.5"],
        &["--malformed-rate", "often"],
        &["--role-chunk", "yes"],
    ];
    for args in cases {
        let mut child = Command::new(BIN)
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        assert_eq!(wait(&mut child).code(), Some(2), "{args:?}");
    }
}

#[test]
fn invalid_stream_flags_say_what_is_wrong() {
    let out = Command::new(BIN)
        .args(["--tokens-per-chunk", "0"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--tokens-per-chunk") && err.contains("at least 1"),
        "{err}"
    );
    let out = Command::new(BIN)
        .args(["--cut-rate", "2"])
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--cut-rate") && err.contains("between 0 and 1"),
        "{err}"
    );
}

#[test]
fn help_documents_the_stream_flags() {
    let out = Command::new(BIN).arg("--help").output().expect("run");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--ttft-ms",
        "--per-token-ms",
        "--tokens-per-chunk",
        "--role-chunk",
        "--no-role-chunk",
        "--reasoning-tokens",
        "--stream-error-rate",
        "--cut-rate",
        "--malformed-rate",
        "/api/generate",
        "/generate_stream",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
    }
}

/// The data payloads of an SSE body.
fn sse_payloads(body: &str) -> Vec<&str> {
    body.split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| e.strip_prefix("data: ").expect("data line"))
        .collect()
}

async fn chat_stream(port: &str) -> String {
    reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/v1/chat/completions"))
        .json(&serde_json::json!({
            "messages": [{"role": "user", "content": "hi"}],
            "stream": true,
        }))
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("body")
}

#[tokio::test]
async fn binary_stream_flags_reach_the_server() {
    let mock = Running::spawn(&[
        "--listen",
        "127.0.0.1:0",
        "--ttft-ms",
        "0",
        "--tokens",
        "3",
        "--tokens-per-chunk",
        "2",
        "--reasoning-tokens",
        "1",
        "--role-chunk",
        "--no-role-chunk",
        "--malformed-rate",
        "1",
    ]);
    let line = mock.line();
    let port = url_after(&line, "stampede-mock listening on http://127.0.0.1:").to_string();
    let body = chat_stream(&port).await;
    let events = sse_payloads(&body);
    // No role chunk (the later flag wins); 3 tokens in chunks of 2, the first one reasoning;
    // the malformed event after half (1 of 2) the chunks.
    assert_eq!(events.len(), 4, "{body}");
    let first: Value = serde_json::from_str(events[0]).expect("json");
    assert_eq!(
        first["choices"][0]["delta"],
        serde_json::json!({"reasoning_content": " the", "content": " cat"})
    );
    assert_eq!(events[1], r#"{"choices": ["#);
    let second: Value = serde_json::from_str(events[2]).expect("json");
    assert_eq!(
        second["choices"][0]["delta"],
        serde_json::json!({"content": " sat"})
    );
    assert_eq!(events[3], "[DONE]");

    let stats: Value = reqwest::get(format!("http://127.0.0.1:{port}/stats"))
        .await
        .expect("stats")
        .json()
        .await
        .expect("json");
    assert_eq!(stats["malformed"], 1);
    assert_eq!(stats["cuts"], 0);
    assert_eq!(stats["stream_errors"], 0);

    drop(mock);
    // The role chunk is on by default.
    let mock = Running::spawn(&["--listen", "127.0.0.1:0", "--ttft-ms", "0", "--tokens", "1"]);
    let line = mock.line();
    let port = url_after(&line, "stampede-mock listening on http://127.0.0.1:").to_string();
    let body = chat_stream(&port).await;
    let events = sse_payloads(&body);
    assert_eq!(events.len(), 3, "{body}");
    let role: Value = serde_json::from_str(events[0]).expect("json");
    assert_eq!(
        role["choices"][0]["delta"],
        serde_json::json!({"role": "assistant", "content": ""})
    );
}

// Two workers: while one blocks waiting for the exit, the other keeps the client's idle
// HTTP/2 connection answering the server's graceful shutdown (GOAWAY, PING).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_with_tls_prints_https_serves_http2_and_keeps_the_app_on_http() {
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("bin-tls-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create dir");
    std::fs::write(dir.join("index.html"), "<p>hi</p>").expect("write index");
    let cert = dir.join("cert.pem");
    let (dir_arg, cert_arg) = (
        dir.to_str().expect("utf-8 path"),
        cert.to_str().expect("utf-8 path"),
    );

    let mut mock = Running::spawn(&[
        "--tls",
        "--listen",
        "127.0.0.1:0",
        "--latency-ms",
        "0",
        "--cert-out",
        cert_arg,
        "--app-dir",
        dir_arg,
        "--app-listen",
        "127.0.0.1:0",
    ]);
    let line = mock.line();
    let port = url_after(&line, "stampede-mock listening on https://127.0.0.1:").to_string();
    let port: u16 = port.parse().expect("port");
    assert_ne!(port, 0);
    let app_line = mock.line();
    let app = url_after(&app_line, "stampede-mock serving app on ").to_string();
    assert!(app.starts_with("http://127.0.0.1:"), "{app}");

    // The written certificate is enough to verify the server.
    let pem = std::fs::read(&cert).expect("--cert-out file");
    let client = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("pem"))
        .timeout(PATIENCE)
        .build()
        .expect("client");
    let resp = client
        .get(format!("https://127.0.0.1:{port}/health"))
        .send()
        .await
        .expect("health");
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    assert_eq!(
        resp.headers()["cross-origin-resource-policy"],
        "cross-origin"
    );
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["status"], "ok");

    let resp = reqwest::get(&app).await.expect("get app");
    assert_eq!(resp.headers()["cross-origin-opener-policy"], "same-origin");
    assert_eq!(
        resp.headers()["cross-origin-embedder-policy"],
        "require-corp"
    );
    assert_eq!(resp.text().await.expect("text"), "<p>hi</p>");

    let status = Command::new("kill")
        .args(["-TERM", &mock.child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    assert!(wait(&mut mock.child).success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cert_out_needs_tls_and_help_documents_tls() {
    let out = Command::new(BIN)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--cert-out",
            "/tmp/never-written.pem",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--tls"), "{err}");

    let out = Command::new(BIN).arg("--help").output().expect("run");
    let help = String::from_utf8_lossy(&out.stdout);
    for word in [
        "--tls",
        "--cert-out",
        "HTTP/2",
        "Cross-Origin-Embedder-Policy",
    ] {
        assert!(help.contains(word), "--help lacks {word}:\n{help}");
    }
}

#[test]
fn invalid_fault_flags_exit_with_code_2_and_name_the_flags() {
    let cases: [&[&str]; 6] = [
        &["--rate-limit-rate", "1.5"],
        &["--hang-rate", "-0.1"],
        &["--reset-rate", "often"],
        &["--malformed-body-rate", "nan"],
        &["--retry-after-secs", "-1"],
        &["--bad-gateway-rate", "2"],
    ];
    for args in cases {
        let out = Command::new(BIN)
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(args[0]), "{args:?}: {err}");
    }
    // Each valid alone, too much together: one draw per request cannot give more than 1.
    let out = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0"])
        .args(["--error-rate", "0.7", "--unavailable-rate", "0.4"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("at most 1") && err.contains("--error-rate 0.7 + --unavailable-rate 0.4"),
        "{err}"
    );
}

#[test]
fn help_documents_the_fault_flags() {
    let out = Command::new(BIN).arg("--help").output().expect("run");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for word in [
        "--rate-limit-rate",
        "--retry-after-secs",
        "--error-rate",
        "--bad-gateway-rate",
        "--unavailable-rate",
        "--gateway-timeout-rate",
        "--hang-rate",
        "--reset-rate",
        "--malformed-body-rate",
        "--no-cors",
        "--no-timing-allow-origin",
        "at most one fault",
        "counted as ok",
        "/stats/requests",
        "X-Stampede-Request",
    ] {
        assert!(help.contains(word), "--help lacks {word}:\n{help}");
    }
}

/// Starts the binary with `args` (and no delays) and returns its port.
fn spawn_fast(args: &[&str]) -> (Running, String) {
    let mut all = vec![
        "--listen",
        "127.0.0.1:0",
        "--latency-ms",
        "0",
        "--ttft-ms",
        "0",
    ];
    all.extend_from_slice(args);
    let mock = Running::spawn(&all);
    let line = mock.line();
    let port = url_after(&line, "stampede-mock listening on http://127.0.0.1:").to_string();
    (mock, port)
}

async fn get_json(url: String) -> Value {
    reqwest::get(url)
        .await
        .expect("get")
        .json()
        .await
        .expect("json")
}

#[tokio::test]
async fn binary_fault_flags_reach_the_server() {
    // Each rate flag at 1: the one request's logged fault names the flag's outcome.
    let plain = r#"{"prompt": "hi"}"#;
    let stream = r#"{"prompt": "hi", "stream": true}"#;
    let cases = [
        ("--rate-limit-rate", plain, "http_429"),
        ("--error-rate", plain, "http_500"),
        ("--bad-gateway-rate", plain, "http_502"),
        ("--unavailable-rate", plain, "http_503"),
        ("--gateway-timeout-rate", plain, "http_504"),
        ("--hang-rate", plain, "hang"),
        ("--reset-rate", plain, "reset"),
        ("--malformed-body-rate", plain, "malformed_body"),
        ("--stream-error-rate", stream, "stream_error"),
        ("--cut-rate", stream, "cut"),
        ("--malformed-rate", stream, "malformed_event"),
    ];
    for (flag, body, fault) in cases {
        let (mock, port) = spawn_fast(&[flag, "1"]);
        let url = format!("http://127.0.0.1:{port}/v1/completions");
        // A hang never answers: the request runs on its own until the server has logged it.
        let sent = tokio::spawn(async move {
            let c = reqwest::Client::new();
            let req = c.post(url).header("content-type", "application/json");
            req.body(body).send().await.map(|r| r.status())
        });
        let deadline = Instant::now() + PATIENCE;
        let log = loop {
            let log = get_json(format!("http://127.0.0.1:{port}/stats/requests")).await;
            if log["total"] == 1 {
                break log;
            }
            assert!(
                Instant::now() < deadline,
                "{flag}: the request never arrived"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        assert_eq!(log["requests"][0]["fault"], fault, "{flag}");
        let stats = get_json(format!("http://127.0.0.1:{port}/stats")).await;
        assert_eq!(stats["faults"][fault], 1, "{flag}: {stats}");
        sent.abort();
        drop(mock);
    }

    let (_mock, port) = spawn_fast(&[
        "--rate-limit-rate",
        "1",
        "--retry-after-secs",
        "3",
        "--no-timing-allow-origin",
    ]);
    let resp = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/generate"))
        .header("origin", "http://page.test")
        .body(r#"{"prompt": "hi"}"#)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), reqwest::StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(resp.headers()["retry-after"], "3");
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    assert!(resp.headers().get("timing-allow-origin").is_none());

    let (_mock, port) = spawn_fast(&["--no-cors"]);
    let resp = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/generate"))
        .header("origin", "http://page.test")
        .body(r#"{"prompt": "hi"}"#)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), reqwest::StatusCode::OK);
    assert!(resp.headers().get("access-control-allow-origin").is_none());
    assert_eq!(resp.headers()["timing-allow-origin"], "*");
}

#[test]
fn binary_with_exit_on_stdin_close_stops_when_its_parent_closes_the_pipe() {
    let mut child = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--exit-on-stdin-close"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn stampede-mock");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("a line");
    url_after(
        line.trim_end(),
        "stampede-mock listening on http://127.0.0.1:",
    );
    // The pipe is open: it keeps serving.
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "exited early"
    );
    // What the kernel does when the parent dies, however it was killed.
    drop(child.stdin.take());
    assert!(wait(&mut child).success());
}
