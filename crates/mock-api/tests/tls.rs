//! The model API over HTTPS ([`start_tls`], `--tls`) on real loopback TCP: HTTP/2 and
//! HTTP/1.1 by ALPN, many requests multiplexed on one HTTP/2 connection, streamed bodies
//! flushed event by event over HTTP/2, in-flight accounting, and the same headers as over
//! plain HTTP. Timing checks are lower bounds only.

use std::time::{Duration, Instant};

use reqwest::{Certificate, Client, Method, StatusCode, Version};
use serde_json::{json, Value};
use stampede_mock::{start_tls, MockConfig, RunningMock, Tls, H2_MAX_CONCURRENT_STREAMS};

mod common;
use common::{instant, loopback, stats, stats_until};

/// Bound against hangs only.
const PATIENCE: Duration = Duration::from_secs(60);

fn tls() -> Tls {
    Tls::self_signed(&[]).expect("self-signed certificate")
}

async fn mock(cfg: MockConfig) -> RunningMock {
    start_tls(cfg, &[loopback()], &tls())
        .await
        .expect("start TLS mock")
}

/// Skips certificate checks; offers `h2` and `http/1.1` by ALPN like a browser.
fn builder() -> reqwest::ClientBuilder {
    Client::builder()
        .danger_accept_invalid_certs(true)
        .timeout(PATIENCE)
}

fn alpn_client() -> Client {
    builder().build().expect("client")
}

/// HTTP/2 only (ALPN `h2`): all requests share one connection.
fn h2_client() -> Client {
    builder().http2_prior_knowledge().build().expect("client")
}

fn h1_client() -> Client {
    builder().http1_only().build().expect("client")
}

fn chat_body(stream: bool) -> Value {
    json!({
        "model": "m",
        "messages": [{"role": "user", "content": "Say hello"}],
        "stream": stream,
    })
}

fn assert_api_headers(resp: &reqwest::Response) {
    let h = resp.headers();
    assert_eq!(h["timing-allow-origin"], "*", "{h:?}");
    assert_eq!(h["cross-origin-resource-policy"], "cross-origin", "{h:?}");
    assert_eq!(h["access-control-allow-origin"], "*", "{h:?}");
}

#[tokio::test]
async fn health_over_http2_and_http11_by_alpn_with_the_same_headers() {
    let m = mock(instant()).await;
    assert!(m.url().starts_with("https://127.0.0.1:"), "{}", m.url());
    assert_eq!(m.scheme(), "https");
    for (client, version) in [
        (alpn_client(), Version::HTTP_2),
        (h2_client(), Version::HTTP_2),
        (h1_client(), Version::HTTP_11),
    ] {
        let resp = client
            .get(format!("{}/health", m.url()))
            .header("origin", "http://127.0.0.1:8080")
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.version(), version);
        assert_api_headers(&resp);
        let body: Value = resp.json().await.expect("json");
        assert_eq!(body, json!({"status": "ok"}));

        // Errors and preflights carry the headers too.
        let resp = client
            .get(format!("{}/nope", m.url()))
            .header("origin", "http://127.0.0.1:8080")
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        assert_eq!(resp.version(), version);
        assert_api_headers(&resp);
        let resp = client
            .request(Method::OPTIONS, format!("{}/v1/chat/completions", m.url()))
            .header("origin", "http://127.0.0.1:8080")
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization")
            .send()
            .await
            .expect("send");
        assert!(resp.status().is_success());
        assert_eq!(resp.version(), version);
        assert_api_headers(&resp);
        assert_eq!(resp.headers()["access-control-max-age"], "86400");

        let resp = client
            .post(format!("{}/v1/chat/completions", m.url()))
            .json(&chat_body(false))
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.version(), version);
        let body: Value = resp.json().await.expect("json");
        assert_eq!(body["object"], "chat.completion");
    }
    m.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn the_certificate_is_valid_for_loopback_names_and_listen_ips() {
    let tls = Tls::self_signed(&[
        "127.0.0.1".parse().expect("ip"),
        "127.0.0.2".parse().expect("ip"),
    ])
    .expect("certificate");
    assert_eq!(tls.names(), ["localhost", "127.0.0.1", "::1", "127.0.0.2"]);
    assert!(tls.cert_pem().starts_with("-----BEGIN CERTIFICATE-----"));
    let m = start_tls(instant(), &[loopback()], &tls)
        .await
        .expect("start");
    let port = m.addrs()[0].port();

    // Trusting exactly this certificate (no built-in roots), with verification on.
    let cert = Certificate::from_pem(tls.cert_pem().as_bytes()).expect("pem");
    let trusting = Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(cert)
        .timeout(PATIENCE)
        .build()
        .expect("client");
    for host in ["127.0.0.1", "localhost"] {
        let resp = trusting
            .get(format!("https://{host}:{port}/health"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{host}: {e:?}"));
        assert_eq!(resp.status(), StatusCode::OK, "{host}");
        assert_eq!(resp.version(), Version::HTTP_2, "{host}");
    }

    // A client that trusts another certificate refuses this server.
    let other = Certificate::from_pem(tls_pem().as_bytes()).expect("pem");
    let strict = Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(other)
        .timeout(PATIENCE)
        .build()
        .expect("client");
    let err = strict
        .get(format!("https://127.0.0.1:{port}/health"))
        .send()
        .await
        .expect_err("an untrusted certificate must fail");
    assert!(err.is_connect(), "{err:?}");
    // The failed handshake did not hurt the server.
    let resp = trusting
        .get(format!("https://127.0.0.1:{port}/health"))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::OK);
}

fn tls_pem() -> String {
    tls().cert_pem().to_string()
}

/// Sends `n` concurrent `/generate` requests on `c` and checks each came back over HTTP/2.
async fn concurrent_generates(c: &Client, m: &RunningMock, n: usize) {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (c, url) = (c.clone(), format!("{}/generate", m.url()));
        tasks.spawn(async move {
            let resp = c
                .post(url)
                .json(&json!({"prompt": "hi", "max_length": 2}))
                .send()
                .await
                .expect("send");
            (resp.status(), resp.version())
        });
    }
    while let Some(done) = tasks.join_next().await {
        assert_eq!(done.expect("task"), (StatusCode::OK, Version::HTTP_2));
    }
}

#[tokio::test]
async fn twenty_requests_in_flight_on_one_http2_connection() {
    // 500 ms (not less) so all twenty overlap even on a busy machine.
    let m = mock(MockConfig {
        latency_ms: 500.0,
        ..MockConfig::default()
    })
    .await;
    let c = h2_client();
    // Opens the one connection (and learns the server's settings) before the burst.
    let resp = c
        .get(format!("{}/health", m.url()))
        .send()
        .await
        .expect("health");
    assert_eq!(resp.version(), Version::HTTP_2);

    concurrent_generates(&c, &m, 20).await;
    let s = stats(&c, &m).await;
    assert_eq!((s.requests, s.in_flight, s.max_in_flight), (20, 0, 20));
    assert_eq!(m.connections(), 1, "every request on one connection");
}

#[tokio::test]
async fn one_http2_connection_carries_more_than_256_concurrent_streams() {
    const { assert!(H2_MAX_CONCURRENT_STREAMS >= 256) };
    // hyper's default limit is 200: 300 in flight at once proves the raised setting.
    let n = 300;
    let m = mock(MockConfig {
        latency_ms: 1000.0,
        ..MockConfig::default()
    })
    .await;
    let c = h2_client();
    let resp = c
        .get(format!("{}/health", m.url()))
        .send()
        .await
        .expect("health");
    assert_eq!(resp.version(), Version::HTTP_2);

    concurrent_generates(&c, &m, n).await;
    let s = stats(&c, &m).await;
    assert_eq!(s.requests, n as u64);
    assert_eq!(s.max_in_flight, n as u64);
    assert_eq!(m.connections(), 1);
}

/// Body reads of one streamed response: when each arrived (since `t0`) and its bytes.
async fn reads(mut resp: reqwest::Response, t0: Instant) -> Vec<(Duration, String)> {
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.expect("body chunk") {
        out.push((
            t0.elapsed(),
            String::from_utf8(chunk.to_vec()).expect("utf-8"),
        ));
    }
    out
}

#[tokio::test]
async fn streams_are_flushed_event_by_event_over_http2() {
    let (ttft, per_token, tokens) = (300u64, 100u64, 5u64);
    let m = mock(MockConfig {
        ttft_ms: ttft as f64,
        per_token_ms: per_token as f64,
        tokens: tokens as u32,
        ..MockConfig::default()
    })
    .await;
    let c = h2_client();
    // (path, body, content-type, marker of a content event)
    let cases = [
        (
            "/v1/chat/completions",
            chat_body(true),
            "text/event-stream",
            r#""content":" "#,
        ),
        (
            "/api/generate",
            json!({"model": "m", "prompt": "hi"}),
            "application/x-ndjson",
            r#""done":false"#,
        ),
    ];
    for (path, body, content_type, marker) in cases {
        let t0 = Instant::now();
        let resp = c
            .post(format!("{}{path}", m.url()))
            .header("origin", "http://127.0.0.1:8080")
            .json(&body)
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.version(), Version::HTTP_2);
        assert_api_headers(&resp);
        assert_eq!(resp.headers()["content-type"], content_type);
        let reads = reads(resp, t0).await;
        let content: Vec<&(Duration, String)> =
            reads.iter().filter(|(_, s)| s.contains(marker)).collect();
        // Each content event is its own HTTP/2 DATA frame, read separately...
        assert_eq!(content.len() as u64, tokens, "{path}: {reads:#?}");
        for (k, (at, text)) in content.iter().enumerate() {
            assert_eq!(text.matches(marker).count(), 1, "{path}: {text:?}");
            // ...and none arrives before its time (the first at TTFT).
            let due = Duration::from_millis(ttft + k as u64 * per_token);
            assert!(
                *at >= due,
                "{path}: content read {k} at {at:?}, due {due:?}"
            );
        }
    }
    let s = stats_until(&c, &m, |s| s.in_flight == 0).await;
    assert_eq!((s.requests, s.in_flight, s.max_in_flight), (2, 0, 1));
    assert_eq!(m.connections(), 1);
}

#[tokio::test]
async fn a_cancelled_http2_stream_is_counted_out_and_the_connection_lives_on() {
    let m = mock(MockConfig {
        ttft_ms: 0.0,
        per_token_ms: 1000.0,
        tokens: 50,
        ..MockConfig::default()
    })
    .await;
    let c = h2_client();
    let mut resp = c
        .post(format!("{}/v1/chat/completions", m.url()))
        .json(&chat_body(true))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.version(), Version::HTTP_2);
    let first = resp.chunk().await.expect("chunk").expect("a first chunk");
    assert!(!first.is_empty());
    let s = stats(&c, &m).await;
    assert_eq!(s.in_flight, 1);
    // Dropping the response resets the stream, not the connection.
    drop(resp);
    let s = stats_until(&c, &m, |s| s.in_flight == 0).await;
    assert_eq!((s.requests, s.in_flight, s.max_in_flight), (1, 0, 1));
    assert_eq!(m.connections(), 1);
}

#[tokio::test]
async fn shutdown_waits_for_http2_requests_and_stops_serving() {
    let tls = tls();
    let m = start_tls(
        MockConfig {
            latency_ms: 300.0,
            ..MockConfig::default()
        },
        &[loopback(), loopback()],
        &tls,
    )
    .await
    .expect("start");
    let addrs = m.addrs().to_vec();
    assert_eq!(addrs.len(), 2);
    let c = h2_client();
    for addr in &addrs {
        let resp = c
            .get(format!("https://{addr}/health"))
            .send()
            .await
            .expect("health");
        assert_eq!(resp.version(), Version::HTTP_2);
    }
    assert_eq!(m.connections(), 2);

    // A request in flight when shutdown starts still gets its answer.
    let (c2, url) = (c.clone(), format!("https://{}/generate", addrs[0]));
    let slow = tokio::spawn(async move {
        c2.post(url)
            .json(&json!({"prompt": "hi"}))
            .send()
            .await
            .map(|r| r.status())
    });
    let s = stats_until(&c, &m, |s| s.in_flight == 1).await;
    assert_eq!(s.in_flight, 1);
    tokio::time::timeout(PATIENCE, m.shutdown())
        .await
        .expect("shutdown finishes")
        .expect("shutdown");
    assert_eq!(slow.await.expect("task").expect("answer"), StatusCode::OK);

    let fresh = h2_client();
    for addr in &addrs {
        let err = fresh.get(format!("https://{addr}/health")).send().await;
        assert!(err.is_err(), "{addr} still serves");
    }
}

#[tokio::test]
async fn over_http2_a_reset_or_a_hang_ends_only_its_own_stream() {
    let c = h2_client();
    let m = mock(MockConfig {
        reset_rate: 1.0,
        tokens: 4,
        ..instant()
    })
    .await;
    for stream in [false, true] {
        let resp = c
            .post(format!("{}/v1/chat/completions", m.url()))
            .json(&chat_body(stream))
            .send()
            .await
            .expect("headers come");
        assert_eq!(
            (resp.status(), resp.version()),
            (StatusCode::OK, Version::HTTP_2)
        );
        let err = resp.bytes().await.expect_err("the stream is reset");
        assert!(!err.is_timeout(), "{err}");
    }
    let health = c
        .get(format!("{}/health", m.url()))
        .send()
        .await
        .expect("health");
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(m.connections(), 1, "the connection outlived both resets");

    let m = mock(MockConfig {
        hang_rate: 1.0,
        ..instant()
    })
    .await;
    let impatient = builder()
        .http2_prior_knowledge()
        .timeout(Duration::from_millis(500))
        .build()
        .expect("client");
    let err = impatient
        .post(format!("{}/v1/chat/completions", m.url()))
        .json(&chat_body(false))
        .send()
        .await
        .expect_err("a hang is never answered");
    assert!(err.is_timeout(), "{err}");
    let health = impatient
        .get(format!("{}/health", m.url()))
        .send()
        .await
        .expect("health on the same connection");
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(m.connections(), 1);
    let s = stats_until(&impatient, &m, |s| s.in_flight == 0).await;
    assert_eq!((s.requests, s.in_flight), (1, 0));
}
