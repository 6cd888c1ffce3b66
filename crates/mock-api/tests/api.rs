//! In-process tests over real loopback TCP. Timing checks are lower bounds only: a loaded
//! machine can make a request slower, never faster.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use stampede_mock::{start, start_app, MockConfig, RunningMock, Stats};

mod common;
use common::{instant, loopback, stats, stats_until};

fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

async fn mock(cfg: MockConfig) -> RunningMock {
    start(cfg, &[loopback()]).await.expect("start mock")
}

async fn post(c: &Client, url: String, body: Value) -> (StatusCode, Value) {
    let resp = c.post(url).json(&body).send().await.expect("send");
    let status = resp.status();
    (status, resp.json().await.expect("json body"))
}

fn seed_body(max_length: Option<i64>) -> Value {
    let mut body = json!({
        "prompt": "Explain the concept of machine learning in detail.",
        "temperature": 0.7,
        "do_sample": true,
    });
    if let Some(n) = max_length {
        body["max_length"] = json!(n);
    }
    body
}

fn chat_body() -> Value {
    json!({
        "model": "my-model",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": [{"type": "text", "text": "Say hello to the world"}]},
        ],
    })
}

#[tokio::test]
async fn health_is_ok_with_timing_allow_origin() {
    let m = mock(instant()).await;
    let resp = client()
        .get(format!("{}/health", m.url()))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["timing-allow-origin"], "*");
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body, json!({"status": "ok"}));
}

#[tokio::test]
async fn model_lists_name_the_mock_for_openai_and_ollama_clients() {
    let m = mock(instant()).await;
    for (path, pointer) in [
        ("/v1/models", "/data/0/id"),
        ("/api/tags", "/models/0/name"),
    ] {
        let resp = client()
            .get(format!("{}{path}", m.url()))
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        let body: Value = resp.json().await.expect("json");
        assert_eq!(
            body.pointer(pointer),
            Some(&json!("stampede-mock")),
            "{path}"
        );
    }
}

#[tokio::test]
async fn unknown_route_is_json_404() {
    let m = mock(instant()).await;
    let resp = client()
        .get(format!("{}/nope", m.url()))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(resp.headers()["timing-allow-origin"], "*");
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"]["type"], "not_found");
}

#[tokio::test]
async fn generate_has_seed_shape_and_four_chars_per_token() {
    let m = mock(instant()).await;
    let (status, body) = post(&client(), format!("{}/generate", m.url()), seed_body(None)).await;
    assert_eq!(status, StatusCode::OK);
    let text = body["generated_text"].as_str().expect("generated_text");
    assert_eq!(text.chars().count(), 50 * 4);
    assert_eq!(
        body["input_prompt"],
        "Explain the concept of machine learning in detail."
    );
    assert_eq!(body["model_info"]["name"], "stampede-mock");
    assert!(body["inference_time"].as_f64().expect("inference_time") >= 0.0);
    assert!(
        body["tokens_per_second"]
            .as_f64()
            .expect("tokens_per_second")
            >= 0.0
    );
}

#[tokio::test]
async fn max_length_lowers_tokens_but_never_raises_them() {
    let m = mock(instant()).await;
    let c = client();
    let url = format!("{}/generate", m.url());
    for (max_length, tokens) in [(7, 7), (1000, 50), (0, 50), (-3, 50)] {
        let (status, body) = post(&c, url.clone(), seed_body(Some(max_length))).await;
        assert_eq!(status, StatusCode::OK);
        let text = body["generated_text"].as_str().expect("generated_text");
        assert_eq!(text.len(), tokens * 4, "max_length {max_length}");
    }
}

#[tokio::test]
async fn chat_completion_has_openai_shape_and_usage() {
    let m = mock(MockConfig {
        tokens: 12,
        ..instant()
    })
    .await;
    let c = client();
    let url = format!("{}/v1/chat/completions", m.url());

    let (status, body) = post(&c, url.clone(), chat_body()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "my-model");
    assert!(body["id"].as_str().expect("id").starts_with("chatcmpl-"));
    assert!(body["created"].as_u64().expect("created") > 0);
    let choice = &body["choices"][0];
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(
        choice["message"]["content"]
            .as_str()
            .expect("content")
            .len(),
        48
    );
    assert_eq!(choice["finish_reason"], "stop");
    // "You are terse." (3 words) + "Say hello to the world" (5 words).
    assert_eq!(
        body["usage"],
        json!({"prompt_tokens": 8, "completion_tokens": 12, "total_tokens": 20})
    );

    let mut limited = chat_body();
    limited["max_tokens"] = json!(5);
    let (_, body) = post(&c, url.clone(), limited).await;
    assert_eq!(body["choices"][0]["finish_reason"], "length");
    assert_eq!(body["usage"]["completion_tokens"], 5);
    assert_eq!(
        body["choices"][0]["message"]["content"]
            .as_str()
            .expect("content")
            .len(),
        20
    );

    let mut limited = chat_body();
    limited["max_completion_tokens"] = json!(3);
    let (_, body) = post(&c, url, limited).await;
    assert_eq!(body["usage"]["completion_tokens"], 3);
}

#[tokio::test]
async fn chat_stream_is_served_as_sse_now() {
    // Until streaming existed this was a 400; the wire format is tested in tests/streaming.rs.
    let m = mock(instant()).await;
    let mut body = chat_body();
    body["stream"] = json!(true);
    let resp = client()
        .post(format!("{}/v1/chat/completions", m.url()))
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let text = resp.text().await.expect("body");
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
}

#[tokio::test]
async fn malformed_or_incomplete_bodies_are_400() {
    let m = mock(instant()).await;
    let c = client();
    let cases = [
        ("/generate", "{not json"),
        ("/generate", r#"{"max_length": 5}"#),
        ("/v1/chat/completions", r#"{"model": "x"}"#),
        ("/v1/chat/completions", ""),
    ];
    for (path, raw) in cases {
        let resp = c
            .post(format!("{}{path}", m.url()))
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{path} {raw:?}");
        let body: Value = resp.json().await.expect("json");
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert!(body["error"]["message"]
            .as_str()
            .expect("message")
            .contains("invalid request body"));
    }
}

#[tokio::test]
async fn text_plain_bodies_are_accepted() {
    // Browsers can skip the preflight with text/plain; the mock must still parse the JSON.
    let m = mock(instant()).await;
    let resp = client()
        .post(format!("{}/generate", m.url()))
        .header("content-type", "text/plain")
        .body(seed_body(Some(2)).to_string())
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn latency_and_per_token_time_are_lower_bounds() {
    let m = mock(MockConfig {
        latency_ms: 80.0,
        ..MockConfig::default()
    })
    .await;
    let c = client();
    let t0 = Instant::now();
    let (status, body) = post(&c, format!("{}/generate", m.url()), seed_body(None)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(t0.elapsed() >= Duration::from_millis(80));
    assert!(body["inference_time"].as_f64().expect("inference_time") >= 0.080);

    let m = mock(MockConfig {
        latency_ms: 0.0,
        per_token_ms: 3.0,
        tokens: 20,
        ..MockConfig::default()
    })
    .await;
    let t0 = Instant::now();
    let (status, _) = post(&c, format!("{}/v1/chat/completions", m.url()), chat_body()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(t0.elapsed() >= Duration::from_millis(60));
}

#[tokio::test]
async fn cors_preflight_allows_any_origin_and_caches_a_day() {
    let m = mock(instant()).await;
    let c = client();
    let resp = c
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/v1/chat/completions", m.url()),
        )
        .header("origin", "http://example.test")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,authorization",
        )
        .send()
        .await
        .expect("send");
    assert!(resp.status().is_success());
    let h = resp.headers();
    assert_eq!(h["access-control-allow-origin"], "*");
    assert_eq!(h["access-control-max-age"], "86400");
    let allowed = h["access-control-allow-headers"].to_str().expect("ascii");
    assert!(allowed.contains("authorization"), "{allowed}");
    assert!(allowed.contains("content-type"), "{allowed}");
    assert_eq!(h["timing-allow-origin"], "*");

    let resp = c
        .post(format!("{}/generate", m.url()))
        .header("origin", "http://example.test")
        .json(&seed_body(Some(1)))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    assert_eq!(resp.headers()["timing-allow-origin"], "*");
}

#[tokio::test]
async fn error_rate_one_always_fails_and_is_counted() {
    let m = mock(MockConfig {
        error_rate: 1.0,
        ..instant()
    })
    .await;
    let c = client();
    let (status, body) = post(&c, format!("{}/generate", m.url()), seed_body(None)).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        body,
        json!({"error": {"message": "injected failure", "type": "server_error"}})
    );
    let (status, _) = post(&c, format!("{}/v1/chat/completions", m.url()), chat_body()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let s = stats(&c, &m).await;
    assert_eq!((s.requests, s.errors, s.in_flight), (2, 2, 0));
}

#[tokio::test]
async fn concurrent_requests_are_counted_and_reset() {
    // 500 ms (not less) so all five overlap even on a busy machine.
    let m = mock(MockConfig {
        latency_ms: 500.0,
        ..MockConfig::default()
    })
    .await;
    let c = client();
    let tasks: Vec<_> = (0..5)
        .map(|_| {
            let (c, url) = (c.clone(), format!("{}/generate", m.url()));
            tokio::spawn(async move { post(&c, url, seed_body(None)).await.0 })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.expect("task"), StatusCode::OK);
    }
    let s = stats(&c, &m).await;
    assert_eq!(
        s,
        Stats {
            requests: 5,
            in_flight: 0,
            max_in_flight: 5,
            ..Stats::default()
        }
    );

    let resp = c
        .post(format!("{}/stats/reset", m.url()))
        .send()
        .await
        .expect("reset");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(stats(&c, &m).await, Stats::default());

    // A reset during a request keeps that request as the new maximum.
    let (c2, url) = (c.clone(), format!("{}/generate", m.url()));
    let slow = tokio::spawn(async move { post(&c2, url, seed_body(None)).await.0 });
    let s = stats_until(&c, &m, |s| s.in_flight == 1).await;
    assert_eq!(s.in_flight, 1);
    c.post(format!("{}/stats/reset", m.url()))
        .send()
        .await
        .expect("reset");
    let s = stats(&c, &m).await;
    assert_eq!((s.requests, s.in_flight, s.max_in_flight), (0, 1, 1));
    assert_eq!(slow.await.expect("task"), StatusCode::OK);
}

#[tokio::test]
async fn client_disconnect_is_counted_out() {
    // The handler would sleep a minute; only dropping it on disconnect clears in_flight.
    let m = mock(MockConfig {
        latency_ms: 60_000.0,
        ..MockConfig::default()
    })
    .await;
    let impatient = Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .expect("client");
    let err = impatient
        .post(format!("{}/generate", m.url()))
        .json(&seed_body(None))
        .send()
        .await
        .expect_err("should time out");
    assert!(err.is_timeout());
    drop(impatient);
    let c = client();
    let mut s = stats(&c, &m).await;
    for _ in 0..200 {
        if s.in_flight == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        s = stats(&c, &m).await;
    }
    assert_eq!((s.requests, s.in_flight, s.max_in_flight), (1, 0, 1));
}

#[tokio::test]
async fn several_listeners_and_shutdown() {
    let m = start(instant(), &[loopback(), loopback()])
        .await
        .expect("start");
    assert_eq!(m.addrs().len(), 2);
    assert_ne!(m.addrs()[0], m.addrs()[1]);
    let c = client();
    for addr in m.addrs() {
        let resp = c
            .get(format!("http://{addr}/health"))
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status(), StatusCode::OK);
    }
    drop(c); // close keep-alive connections so shutdown has nothing to wait for
    tokio::time::timeout(Duration::from_secs(60), m.shutdown())
        .await
        .expect("shutdown finishes")
        .expect("shutdown");
}

#[tokio::test]
async fn bad_config_and_empty_listen_are_rejected() {
    let bad = MockConfig {
        error_rate: 1.5,
        ..MockConfig::default()
    };
    assert!(bad.validate().is_err());
    let err = start(bad, &[loopback()]).await.expect_err("invalid");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    let negative = MockConfig {
        latency_ms: -1.0,
        ..MockConfig::default()
    };
    assert!(negative.validate().is_err());
    assert!(start(instant(), &[]).await.is_err());
    assert!(MockConfig::default().validate().is_ok());
}

/// A fresh directory under Cargo's per-target temp dir.
fn temp_dir(name: &str) -> PathBuf {
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

#[tokio::test]
async fn serves_the_static_app_with_wasm_mime_and_index_fallback() {
    let dir = temp_dir("app");
    let index = "<!doctype html><title>Stampede</title>";
    let wasm: &[u8] = b"\0asm\x01\0\0\0";
    std::fs::write(dir.join("index.html"), index).expect("write index");
    std::fs::write(dir.join("stampede_bg.wasm"), wasm).expect("write wasm");

    let app = start_app(&dir, loopback()).await.expect("start app");
    let c = client();

    let resp = c.get(format!("{}/", app.url())).send().await.expect("send");
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .starts_with("text/html"));
    assert_eq!(resp.text().await.expect("text"), index);

    let resp = c
        .get(format!("{}/stampede_bg.wasm", app.url()))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/wasm");
    assert_eq!(resp.bytes().await.expect("bytes").as_ref(), wasm);

    let resp = c
        .get(format!("{}/some/client/route", app.url()))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.text().await.expect("text"), index);

    drop(app);
    let empty = temp_dir("empty-app");
    assert!(start_app(&empty, loopback()).await.is_err());
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&empty);
}

#[tokio::test]
async fn app_server_is_cross_origin_isolated_for_every_file_type() {
    let dir = temp_dir("isolated-app");
    let files: [(&str, &[u8], &str); 5] = [
        (
            "index.html",
            b"<!doctype html><title>S</title>",
            "text/html",
        ),
        ("stampede-1a2b.js", b"export default 1;", "text/javascript"),
        (
            "stampede_bg-1a2b.wasm",
            b"\0asm\x01\0\0\0",
            "application/wasm",
        ),
        ("style-1a2b.css", b"body { margin: 0 }", "text/css"),
        (
            "icon.svg",
            b"<svg xmlns='http://www.w3.org/2000/svg'/>",
            "image/svg+xml",
        ),
    ];
    for (name, bytes, _) in files {
        std::fs::write(dir.join(name), bytes).expect("write file");
    }
    let app = start_app(&dir, loopback()).await.expect("start app");
    let c = client();
    let mut paths: Vec<(String, &[u8], &str)> = files
        .iter()
        .map(|(name, bytes, mime)| (format!("/{name}"), *bytes, *mime))
        .collect();
    // The root and a client-side route (index fallback) too.
    paths.push(("/".into(), files[0].1, "text/html"));
    paths.push(("/results/42".into(), files[0].1, "text/html"));
    for (path, bytes, mime) in paths {
        let resp = c
            .get(format!("{}{path}", app.url()))
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        let h = resp.headers();
        assert_eq!(h["cross-origin-opener-policy"], "same-origin", "{path}");
        assert_eq!(h["cross-origin-embedder-policy"], "require-corp", "{path}");
        assert_eq!(h["timing-allow-origin"], "*", "{path}");
        let content_type = h["content-type"].to_str().expect("ascii");
        assert!(content_type.starts_with(mime), "{path}: {content_type}");
        assert_eq!(resp.bytes().await.expect("bytes").as_ref(), bytes, "{path}");
    }
    drop(app);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn every_api_response_allows_cross_origin_isolated_pages() {
    let m = mock(instant()).await;
    let failing = mock(MockConfig {
        error_rate: 1.0,
        ..instant()
    })
    .await;
    let c = client();
    let origin = "http://127.0.0.1:8080";
    let requests = [
        c.get(format!("{}/health", m.url())),
        c.get(format!("{}/stats", m.url())),
        c.get(format!("{}/nope", m.url())),
        c.post(format!("{}/generate", m.url()))
            .json(&seed_body(Some(1))),
        c.post(format!("{}/v1/chat/completions", m.url())).body("{"),
        c.post(format!("{}/v1/chat/completions", m.url()))
            .json(&json!({"messages": [{"role": "user", "content": "hi"}], "stream": true})),
        c.post(format!("{}/api/generate", m.url()))
            .json(&json!({"model": "m", "prompt": "hi"})),
        c.post(format!("{}/generate", failing.url()))
            .json(&seed_body(None)),
        c.request(
            reqwest::Method::OPTIONS,
            format!("{}/v1/chat/completions", m.url()),
        )
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type"),
    ];
    let mut statuses = Vec::new();
    for req in requests {
        let resp = req.header("origin", origin).send().await.expect("send");
        statuses.push(resp.status().as_u16());
        let h = resp.headers();
        assert_eq!(h["cross-origin-resource-policy"], "cross-origin", "{h:?}");
        assert_eq!(h["access-control-allow-origin"], "*", "{h:?}");
        assert_eq!(h["timing-allow-origin"], "*", "{h:?}");
        // The API itself is not isolated: only the app page is.
        assert!(!h.contains_key("cross-origin-embedder-policy"), "{h:?}");
        resp.bytes().await.expect("body");
    }
    assert_eq!(statuses, [200, 200, 404, 200, 400, 200, 200, 500, 200]);
}
