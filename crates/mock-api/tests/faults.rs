//! The fault matrix over real loopback TCP: each fault as a client sees it (statuses and
//! `Retry-After`, hangs, resets and truncated bodies read by a raw TCP client, malformed
//! bodies), the CORS and `Timing-Allow-Origin` switches, the per-request log, and every fault
//! at once over 400 requests: what the client saw, request by request, matches the server's
//! log, its counters and an outcome worked out from the seed by hand.

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{json, Value};
use stampede_mock::{start, Faults, MockConfig, Outcome, RunningMock, Stats, TAG_LIMIT};

mod common;
use common::{faults, instant, loopback, raw, raw_post, request_log, stats, stats_until, RawEnd};

/// Bound against hangs of the test itself only.
const PATIENCE: Duration = Duration::from_secs(30);

fn client() -> Client {
    Client::builder().timeout(PATIENCE).build().expect("client")
}

async fn mock(cfg: MockConfig) -> RunningMock {
    start(cfg, &[loopback()]).await.expect("start mock")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    OpenAi,
    Ollama,
    Tgi,
}

/// One kind of model request.
#[derive(Debug, Clone, Copy)]
struct Api {
    path: &'static str,
    body: &'static str,
    stream: bool,
    dialect: Dialect,
}

const fn api(path: &'static str, body: &'static str, stream: bool, dialect: Dialect) -> Api {
    Api {
        path,
        body,
        stream,
        dialect,
    }
}

/// Every endpoint, plain and streamed.
const APIS: [Api; 9] = [
    api("/generate", r#"{"prompt": "hi"}"#, false, Dialect::OpenAi),
    api(
        "/v1/chat/completions",
        r#"{"messages": [{"role": "user", "content": "hi"}]}"#,
        false,
        Dialect::OpenAi,
    ),
    api(
        "/v1/chat/completions",
        r#"{"messages": [{"role": "user", "content": "hi"}], "stream": true}"#,
        true,
        Dialect::OpenAi,
    ),
    api(
        "/v1/completions",
        r#"{"prompt": "hi"}"#,
        false,
        Dialect::OpenAi,
    ),
    api(
        "/v1/completions",
        r#"{"prompt": "hi", "stream": true}"#,
        true,
        Dialect::OpenAi,
    ),
    api(
        "/api/generate",
        r#"{"prompt": "hi", "stream": false}"#,
        false,
        Dialect::Ollama,
    ),
    api(
        "/api/chat",
        r#"{"messages": [{"role": "user", "content": "hi"}]}"#,
        true,
        Dialect::Ollama,
    ),
    api("/generate", r#"{"inputs": "hi"}"#, false, Dialect::Tgi),
    api(
        "/generate_stream",
        r#"{"inputs": "hi"}"#,
        true,
        Dialect::Tgi,
    ),
];

fn plain_apis() -> impl Iterator<Item = Api> {
    APIS.into_iter().filter(|a| !a.stream)
}

fn stream_apis() -> impl Iterator<Item = Api> {
    APIS.into_iter().filter(|a| a.stream)
}

fn request(c: &Client, m: &RunningMock, api: Api) -> reqwest::RequestBuilder {
    c.post(format!("{}{}", m.url(), api.path))
        .header("content-type", "application/json")
        .body(api.body)
}

/// The API's error body for an injected status.
fn error_body(d: Dialect, status: StatusCode, message: &str) -> Value {
    let limited = status == StatusCode::TOO_MANY_REQUESTS;
    match d {
        Dialect::OpenAi => {
            let kind = if limited {
                "rate_limit_exceeded"
            } else {
                "server_error"
            };
            json!({"error": {"message": message, "type": kind}})
        }
        Dialect::Ollama => json!({"error": message}),
        Dialect::Tgi => {
            let kind = if limited { "overloaded" } else { "generation" };
            json!({"error": message, "error_type": kind})
        }
    }
}

/// The payloads of a stream body: SSE `data:` values, or NDJSON lines.
fn payloads(api: Api, body: &[u8]) -> Vec<String> {
    let text = std::str::from_utf8(body).expect("utf-8 stream");
    if api.dialect == Dialect::Ollama {
        return text.lines().map(str::to_string).collect();
    }
    text.split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            let data = e.strip_prefix("data:").expect("an SSE data line");
            data.trim_start().to_string()
        })
        .collect()
}

/// What a complete stream body shows: an error event, a malformed event (then the rest), no
/// terminal event, or a proper end.
fn classify_stream(api: Api, body: &[u8]) -> Outcome {
    let (mut end, mut malformed) = (false, false);
    for p in payloads(api, body) {
        if p == "[DONE]" {
            end = true;
            continue;
        }
        let Ok(v) = serde_json::from_str::<Value>(&p) else {
            malformed = true;
            continue;
        };
        if v.get("error").is_some() {
            return Outcome::StreamError;
        }
        // Ollama's final object; TGI's last token event.
        if v["done"] == true || v["generated_text"].is_string() {
            end = true;
        }
    }
    match (malformed, end) {
        (false, true) => Outcome::Ok,
        (false, false) => Outcome::Cut,
        (true, true) => Outcome::MalformedEvent,
        (true, false) => panic!("{api:?}: a malformed event and no end"),
    }
}

/// What the client saw of one request, from the response alone.
async fn observe(api: Api, sent: reqwest::Result<Response>) -> Outcome {
    let resp = match sent {
        Ok(r) => r,
        Err(e) if e.is_timeout() => return Outcome::Hang,
        Err(e) => panic!("{api:?}: {e}"),
    };
    let status = resp.status();
    if status == StatusCode::TOO_MANY_REQUESTS {
        assert_eq!(resp.headers()["retry-after"], "1", "{api:?}");
    }
    match status.as_u16() {
        200 => {}
        429 => return Outcome::Http429,
        500 => return Outcome::Http500,
        502 => return Outcome::Http502,
        503 => return Outcome::Http503,
        504 => return Outcome::Http504,
        s => panic!("{api:?}: status {s}"),
    }
    let body = match resp.bytes().await {
        Ok(b) => b,
        Err(e) if e.is_timeout() => panic!("{api:?}: body timed out"),
        Err(_) => return Outcome::Reset,
    };
    if api.stream {
        return classify_stream(api, &body);
    }
    match serde_json::from_slice::<Value>(&body) {
        Ok(_) => Outcome::Ok,
        Err(_) => Outcome::MalformedBody,
    }
}

/// The documented partition, written out independently of the server's code: the fault drawn
/// by uniform `u`, and what is served (a fault that cannot happen to the request is `ok`).
fn by_hand(cfg: &MockConfig, u: f64, stream: bool) -> (Outcome, Outcome) {
    let order = [
        (Outcome::Http429, cfg.rate_limit_rate),
        (Outcome::Http500, cfg.error_rate),
        (Outcome::Http502, cfg.bad_gateway_rate),
        (Outcome::Http503, cfg.unavailable_rate),
        (Outcome::Http504, cfg.gateway_timeout_rate),
        (Outcome::Hang, cfg.hang_rate),
        (Outcome::Reset, cfg.reset_rate),
        (Outcome::MalformedBody, cfg.malformed_body_rate),
        (Outcome::StreamError, cfg.stream_error_rate),
        (Outcome::Cut, cfg.cut_rate),
        (Outcome::MalformedEvent, cfg.malformed_rate),
    ];
    let mut upto = 0.0;
    for (fault, p) in order {
        upto += p;
        if u < upto {
            let served = match fault {
                Outcome::MalformedBody if stream => Outcome::Ok,
                Outcome::StreamError | Outcome::Cut | Outcome::MalformedEvent if !stream => {
                    Outcome::Ok
                }
                f => f,
            };
            return (fault, served);
        }
    }
    (Outcome::Ok, Outcome::Ok)
}

/// Waits until the server has decided `n` outcomes, so the next request draws after them.
async fn drawn(c: &Client, m: &RunningMock, n: u64) {
    let deadline = Instant::now() + PATIENCE;
    while faults(c, m).await.total() < n {
        assert!(Instant::now() < deadline, "request {n} never drew");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after_on_every_api() {
    let m = mock(MockConfig {
        rate_limit_rate: 1.0,
        retry_after_secs: 7,
        ..instant()
    })
    .await;
    let c = client();
    for api in APIS {
        let resp = request(&c, &m, api)
            .header("origin", "http://page.test")
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS, "{api:?}");
        let h = resp.headers();
        assert_eq!(h["retry-after"], "7", "{api:?}");
        assert_eq!(h["access-control-allow-origin"], "*");
        // Retry-After is not CORS-safelisted: a page reads it only if it is exposed.
        assert_eq!(h["access-control-expose-headers"], "*");
        let body: Value = resp.json().await.expect("json");
        let want = error_body(
            api.dialect,
            StatusCode::TOO_MANY_REQUESTS,
            "injected rate limit",
        );
        assert_eq!(body, want, "{api:?}");
    }
    let f = faults(&c, &m).await;
    assert_eq!(
        f,
        Faults {
            http_429: 9,
            ..Faults::default()
        }
    );
    let s = stats(&c, &m).await;
    assert_eq!((s.requests, s.errors, s.in_flight), (9, 0, 0));
}

#[tokio::test]
async fn gateway_statuses_answer_with_the_api_error_body_and_no_retry_after() {
    let cases = [
        (
            MockConfig {
                bad_gateway_rate: 1.0,
                ..instant()
            },
            StatusCode::BAD_GATEWAY,
            "injected bad gateway",
            Outcome::Http502,
        ),
        (
            MockConfig {
                unavailable_rate: 1.0,
                ..instant()
            },
            StatusCode::SERVICE_UNAVAILABLE,
            "injected unavailable",
            Outcome::Http503,
        ),
        (
            MockConfig {
                gateway_timeout_rate: 1.0,
                ..instant()
            },
            StatusCode::GATEWAY_TIMEOUT,
            "injected gateway timeout",
            Outcome::Http504,
        ),
    ];
    let c = client();
    for (cfg, status, message, outcome) in cases {
        let m = mock(cfg).await;
        for api in APIS {
            let resp = request(&c, &m, api).send().await.expect("send");
            assert_eq!(resp.status(), status, "{api:?}");
            assert!(resp.headers().get("retry-after").is_none());
            let body: Value = resp.json().await.expect("json");
            assert_eq!(body, error_body(api.dialect, status, message), "{api:?}");
        }
        let f = faults(&c, &m).await;
        assert_eq!((f.get(outcome), f.total()), (9, 9), "{status}");
        // Only --error-rate feeds the legacy `errors` counter.
        assert_eq!(stats(&c, &m).await.errors, 0);
    }
}

#[tokio::test]
async fn a_hung_request_times_out_while_the_others_are_answered() {
    let cfg = MockConfig {
        hang_rate: 0.5,
        seed: 5,
        ..instant()
    };
    // Which of the first 8 requests hang, from the seed: one draw each, hang when u < 0.5.
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let plan: Vec<bool> = (0..8).map(|_| rng.random::<f64>() < 0.5).collect();
    assert!(plan.contains(&true) && plan.contains(&false), "{plan:?}");
    let m = mock(cfg).await;
    let c = client();
    let impatient = Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .expect("client");
    let mut hung = Vec::new();
    for (i, hangs) in plan.iter().enumerate() {
        let api = APIS[i % 2]; // the seed API and plain chat
        if *hangs {
            let req = request(&impatient, &m, api);
            hung.push(tokio::spawn(async move {
                let t0 = Instant::now();
                (req.send().await, t0.elapsed())
            }));
            drawn(&c, &m, i as u64 + 1).await;
        } else {
            // Answered at once, with a hung request pending on the same server.
            let resp = request(&c, &m, api).send().await.expect("send");
            assert_eq!(resp.status(), StatusCode::OK, "request {i}");
            let _: Value = resp.json().await.expect("a whole JSON body");
        }
    }
    let pending = hung.len() as u64;
    assert_eq!(
        stats(&c, &m).await.in_flight,
        pending,
        "hangs count in flight"
    );
    for task in hung {
        let (sent, waited) = task.await.expect("task");
        let err = sent.expect_err("a hang is never answered");
        assert!(err.is_timeout(), "{err}");
        assert!(waited >= Duration::from_secs(3), "{waited:?}");
    }
    // The client gave up: the server counts the hangs out.
    let s = stats_until(&c, &m, |s| s.in_flight == 0).await;
    assert_eq!((s.requests, s.in_flight), (8, 0));
    let log = request_log(&c, &m).await;
    let hangs: Vec<bool> = log
        .requests
        .iter()
        .map(|r| r.fault == Outcome::Hang)
        .collect();
    assert_eq!(hangs, plan);
    assert_eq!(faults(&c, &m).await.hang, pending);
}

#[tokio::test]
async fn shutdown_ends_a_hang_by_closing_the_connection_unanswered() {
    let m = mock(MockConfig {
        hang_rate: 1.0,
        ..instant()
    })
    .await;
    let addr = m.addrs()[0];
    let req = raw_post("/v1/chat/completions", APIS[2].body);
    let reader = tokio::spawn(async move { raw(addr, &req, PATIENCE).await });
    let c = client();
    stats_until(&c, &m, |s| s.in_flight == 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!reader.is_finished(), "a hang sends nothing");
    drop(c);
    tokio::time::timeout(Duration::from_secs(10), m.shutdown())
        .await
        .expect("shutdown does not wait for the hang")
        .expect("shutdown");
    let got = reader.await.expect("reader");
    assert_ne!(got.end, RawEnd::TimedOut);
    assert_eq!((got.head.as_str(), got.body.len()), ("", 0), "{got:?}");
}

#[tokio::test]
async fn reset_aborts_a_plain_body_after_half_its_content_length() {
    let c = client();
    let clean = mock(instant()).await;
    let m = mock(MockConfig {
        reset_rate: 1.0,
        ..instant()
    })
    .await;
    for api in plain_apis() {
        let req = raw_post(api.path, api.body);
        // The same raw read of a healthy response: the whole Content-Length, valid JSON.
        let ok = raw(clean.addrs()[0], &req, PATIENCE).await;
        let len: usize = ok
            .header("content-length")
            .expect("length")
            .parse()
            .expect("n");
        assert_eq!(ok.body.len(), len, "{api:?}");
        serde_json::from_slice::<Value>(&ok.body).expect("json");

        let got = raw(m.addrs()[0], &req, PATIENCE).await;
        assert!(got.head.starts_with("http/1.1 200 ok"), "{api:?} {got:?}");
        assert_eq!(got.header("content-type"), Some("application/json"));
        assert!(got.header("transfer-encoding").is_none());
        let len: usize = got
            .header("content-length")
            .expect("length")
            .parse()
            .expect("n");
        assert!(len > 0);
        assert_eq!(
            got.body.len(),
            len / 2,
            "{api:?}: half the body, then the abort"
        );
        assert_eq!(got.body[0], b'{');
        assert!(
            matches!(got.end, RawEnd::Eof | RawEnd::Error(_)),
            "{api:?} {:?}",
            got.end
        );

        // An HTTP client gets the status, then fails reading the body.
        let resp = request(&c, &m, api).send().await.expect("headers come");
        assert_eq!(resp.status(), StatusCode::OK);
        let err = resp.bytes().await.expect_err("a truncated body");
        assert!(!err.is_timeout(), "{err}");
    }
    let f = faults(&c, &m).await;
    assert_eq!((f.reset, f.total()), (10, 10));
}

/// Decodes an HTTP/1.1 chunked body; also says whether it ended with the last-chunk marker.
fn dechunk(mut raw: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    loop {
        let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") else {
            return (out, false);
        };
        let size = std::str::from_utf8(&raw[..eol]).expect("size line");
        let size = usize::from_str_radix(size, 16).expect("hex size");
        if size == 0 {
            return (out, raw[eol..].starts_with(b"\r\n\r\n"));
        }
        let data = &raw[eol + 2..];
        if data.len() < size + 2 {
            out.extend_from_slice(&data[..data.len().min(size)]);
            return (out, false);
        }
        out.extend_from_slice(&data[..size]);
        raw = &data[size + 2..];
    }
}

#[tokio::test]
async fn reset_aborts_a_stream_after_half_its_chunks() {
    // 4 tokens, one per chunk: 2 content chunks, then the abort.
    let cfg = MockConfig {
        tokens: 4,
        ..instant()
    };
    let clean = mock(cfg.clone()).await;
    let m = mock(MockConfig {
        reset_rate: 1.0,
        ..cfg
    })
    .await;
    let chat = APIS[2];
    let req = raw_post(chat.path, chat.body);
    let ok = raw(clean.addrs()[0], &req, PATIENCE).await;
    let (body, ended) = dechunk(&ok.body);
    assert!(ended, "a healthy stream ends with the last chunk");
    assert_eq!(
        payloads(chat, &body).last().map(String::as_str),
        Some("[DONE]")
    );

    let got = raw(m.addrs()[0], &req, PATIENCE).await;
    assert!(got.head.starts_with("http/1.1 200 ok"), "{got:?}");
    assert_eq!(got.header("transfer-encoding"), Some("chunked"));
    assert!(matches!(got.end, RawEnd::Eof | RawEnd::Error(_)), "{got:?}");
    let (body, ended) = dechunk(&got.body);
    assert!(!ended, "no last chunk: the body was aborted");
    // The role chunk and 2 content chunks, nothing after.
    let events = payloads(chat, &body);
    assert_eq!(events.len(), 3, "{events:?}");
    assert!(events.iter().all(|e| e != "[DONE]"));

    let c = client();
    for api in stream_apis() {
        let mut resp = request(&c, &m, api).send().await.expect("headers come");
        assert_eq!(resp.status(), StatusCode::OK);
        let mut seen = Vec::new();
        let err = loop {
            match resp.chunk().await {
                Ok(Some(bytes)) => seen.extend_from_slice(&bytes),
                Ok(None) => panic!("{api:?}: the stream ended cleanly"),
                Err(e) => break e,
            }
        };
        assert!(!err.is_timeout(), "{err}");
        let role = usize::from(api.path == "/v1/chat/completions");
        assert_eq!(payloads(api, &seen).len(), role + 2, "{api:?}");
        assert_eq!(classify_stream(api, &seen), Outcome::Cut, "{api:?}: no end");
    }
    let f = faults(&c, &m).await;
    assert_eq!((f.reset, f.total()), (5, 5));
    // Not a cut: the legacy counters of sent stream faults stay at zero.
    let s = stats_until(&c, &m, |s| s.in_flight == 0).await;
    assert_eq!(
        (s.cuts, s.stream_errors, s.malformed, s.in_flight),
        (0, 0, 0, 0)
    );
}

#[tokio::test]
async fn malformed_body_is_a_complete_200_json_that_does_not_parse() {
    let m = mock(MockConfig {
        malformed_body_rate: 1.0,
        tokens: 4,
        ..instant()
    })
    .await;
    let c = client();
    for api in plain_apis() {
        let resp = request(&c, &m, api).send().await.expect("send");
        assert_eq!(resp.status(), StatusCode::OK, "{api:?}");
        let h = resp.headers().clone();
        assert_eq!(h["content-type"], "application/json");
        let body = resp.bytes().await.expect("the whole (short) body");
        assert_eq!(h["content-length"], body.len().to_string().as_str());
        assert_eq!(body[0], b'{');
        let err = serde_json::from_slice::<Value>(&body).expect_err("invalid JSON");
        assert!(err.is_eof(), "{api:?}: a truncated object, got {err}");
    }
    // A stream cannot carry a malformed JSON body: it is served whole and counted ok.
    for api in stream_apis() {
        let resp = request(&c, &m, api).send().await.expect("send");
        let body = resp.bytes().await.expect("body");
        assert_eq!(classify_stream(api, &body), Outcome::Ok, "{api:?}");
    }
    let f = faults(&c, &m).await;
    assert_eq!((f.malformed_body, f.ok, f.total()), (5, 4, 9));
}

#[tokio::test]
async fn stream_faults_leave_plain_requests_alone() {
    let m = mock(MockConfig {
        cut_rate: 1.0,
        tokens: 4,
        ..instant()
    })
    .await;
    let c = client();
    for api in APIS {
        let sent = request(&c, &m, api).send().await;
        let want = if api.stream {
            Outcome::Cut
        } else {
            Outcome::Ok
        };
        assert_eq!(observe(api, sent).await, want, "{api:?}");
    }
    let f = faults(&c, &m).await;
    assert_eq!((f.cut, f.ok, f.total()), (4, 5, 9));
    assert_eq!(stats(&c, &m).await.cuts, 4);
}

fn has_cors_headers(resp: &Response) -> bool {
    resp.headers()
        .keys()
        .any(|k| k.as_str().starts_with("access-control-"))
}

async fn preflight(c: &Client, m: &RunningMock) -> Response {
    c.request(Method::OPTIONS, format!("{}/v1/chat/completions", m.url()))
        .header("origin", "http://page.test")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,authorization",
        )
        .send()
        .await
        .expect("preflight")
}

#[tokio::test]
async fn no_cors_sends_no_cors_header_not_even_to_preflights() {
    let c = client();
    for cors in [true, false] {
        let m = mock(MockConfig { cors, ..instant() }).await;
        let pre = preflight(&c, &m).await;
        assert_eq!(
            has_cors_headers(&pre),
            cors,
            "cors {cors}: {:?}",
            pre.headers()
        );
        assert_eq!(pre.status().is_success(), cors, "{}", pre.status());
        let resp = request(&c, &m, APIS[1])
            .header("origin", "http://page.test")
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(
            has_cors_headers(&resp),
            cors,
            "cors {cors}: {:?}",
            resp.headers()
        );
        // Timing-Allow-Origin and CORP have their own switches.
        assert_eq!(resp.headers()["timing-allow-origin"], "*");
        assert_eq!(
            resp.headers()["cross-origin-resource-policy"],
            "cross-origin"
        );
        let health = c
            .get(format!("{}/health", m.url()))
            .header("origin", "http://page.test")
            .send()
            .await
            .expect("health");
        assert_eq!(has_cors_headers(&health), cors);
    }
}

#[tokio::test]
async fn no_timing_allow_origin_keeps_cors() {
    let m = mock(MockConfig {
        timing_allow_origin: false,
        ..instant()
    })
    .await;
    let c = client();
    let pre = preflight(&c, &m).await;
    assert!(pre.status().is_success());
    assert_eq!(pre.headers()["access-control-allow-origin"], "*");
    let allowed = pre.headers()["access-control-allow-headers"]
        .to_str()
        .expect("ascii");
    assert!(allowed.contains("authorization"), "{allowed}");
    assert!(pre.headers().get("timing-allow-origin").is_none());
    for api in [APIS[1], APIS[2]] {
        let resp = request(&c, &m, api)
            .header("origin", "http://page.test")
            .send()
            .await
            .expect("send");
        assert_eq!(resp.headers()["access-control-allow-origin"], "*");
        assert!(
            resp.headers().get("timing-allow-origin").is_none(),
            "{:?}",
            resp.headers()
        );
        assert_eq!(
            resp.headers()["cross-origin-resource-policy"],
            "cross-origin"
        );
    }
}

#[tokio::test]
async fn the_request_log_keeps_tags_and_resets_with_the_counters() {
    let m = mock(instant()).await;
    let c = client();
    let long = "x".repeat(TAG_LIMIT + 44);
    let sends = [
        (APIS[1], Some("run-1/req-0"), r#"{"messages": []}"#),
        (APIS[2], None, APIS[2].body),
        (APIS[8], Some(long.as_str()), APIS[8].body),
        (APIS[6], Some("bad"), "{not json"),
    ];
    for (api, tag, body) in sends {
        let mut req = c
            .post(format!("{}{}", m.url(), api.path))
            .header("content-type", "application/json")
            .body(body);
        if let Some(tag) = tag {
            req = req.header("x-stampede-request", tag);
        }
        let resp = req.send().await.expect("send");
        resp.bytes().await.expect("body");
    }
    let log = request_log(&c, &m).await;
    assert_eq!((log.total, log.dropped), (4, 0));
    let got: Vec<_> = log
        .requests
        .iter()
        .map(|r| (r.seq, &*r.path, r.stream, r.fault, r.tag.clone()))
        .collect();
    let cut = "x".repeat(TAG_LIMIT);
    assert_eq!(
        got,
        [
            (
                1,
                "/v1/chat/completions",
                false,
                Outcome::Ok,
                Some("run-1/req-0".to_string())
            ),
            (2, "/v1/chat/completions", true, Outcome::Ok, None),
            (3, "/generate_stream", true, Outcome::Ok, Some(cut)),
            (
                4,
                "/api/chat",
                false,
                Outcome::BadRequest,
                Some("bad".to_string())
            ),
        ]
    );
    // The JSON names exactly what browser tests read.
    let raw: Value = c
        .get(format!("{}/stats/requests", m.url()))
        .send()
        .await
        .expect("log")
        .json()
        .await
        .expect("json");
    assert_eq!(
        raw["requests"][3],
        json!({"seq": 4, "path": "/api/chat", "stream": false, "fault": "bad_request", "tag": "bad"})
    );
    let f = faults(&c, &m).await;
    assert_eq!((f.ok, f.bad_request, f.total()), (3, 1, 4));
    assert_eq!(stats(&c, &m).await.requests, f.total());

    let reset: Value = c
        .post(format!("{}/stats/reset", m.url()))
        .send()
        .await
        .expect("reset")
        .json()
        .await
        .expect("json");
    assert_eq!(
        reset["faults"],
        serde_json::to_value(Faults::default()).expect("json")
    );
    assert_eq!(request_log(&c, &m).await.total, 0);
    request(&c, &m, APIS[0]).send().await.expect("send");
    let log = request_log(&c, &m).await;
    assert_eq!((log.total, log.requests[0].seq), (1, 1));
}

#[tokio::test]
async fn every_fault_at_once_adds_up_request_by_request() {
    const N: usize = 400;
    let cfg = MockConfig {
        seed: 2024,
        tokens: 4,
        rate_limit_rate: 0.04,
        error_rate: 0.04,
        bad_gateway_rate: 0.04,
        unavailable_rate: 0.04,
        gateway_timeout_rate: 0.04,
        hang_rate: 0.03,
        reset_rate: 0.04,
        malformed_body_rate: 0.06,
        stream_error_rate: 0.06,
        cut_rate: 0.06,
        malformed_rate: 0.06,
        ..instant()
    };
    // The outcome of each request from the seed: one draw each (no jitter), in order.
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let plan: Vec<(Outcome, Outcome)> = (0..N)
        .map(|i| by_hand(&cfg, rng.random::<f64>(), APIS[i % APIS.len()].stream))
        .collect();
    let predicted: Vec<Outcome> = plan.iter().map(|p| p.1).collect();
    // The seed exercises every fault, and faults that do not apply to a request.
    for fault in Outcome::FAULTS {
        assert!(predicted.contains(&fault), "{fault:?} never served");
    }
    assert!(plan.iter().any(|(drawn, served)| drawn != served));

    let m = mock(cfg).await;
    let c = client();
    // Hangs end on this client's timeout; everything else is answered at once.
    let impatient = Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .expect("client");
    let mut tasks = Vec::with_capacity(N);
    for i in 0..N {
        let api = APIS[i % APIS.len()];
        let req = request(&impatient, &m, api).header("x-stampede-request", format!("req-{i}"));
        tasks.push(tokio::spawn(
            async move { observe(api, req.send().await).await },
        ));
        // Sent one after another's draw, so the draws follow i; hangs wait in parallel.
        drawn(&c, &m, i as u64 + 1).await;
    }
    let mut observed = Vec::with_capacity(N);
    for t in tasks {
        observed.push(t.await.expect("task"));
    }
    assert_eq!(observed, predicted, "the client saw what the seed says");

    let log = request_log(&c, &m).await;
    assert_eq!((log.total, log.dropped), (N as u64, 0));
    for (i, r) in log.requests.iter().enumerate() {
        let api = APIS[i % APIS.len()];
        assert_eq!(r.seq, i as u64 + 1);
        assert_eq!(r.tag.as_deref(), Some(format!("req-{i}").as_str()));
        assert_eq!((&*r.path, r.stream), (api.path, api.stream), "{i}");
        assert_eq!(r.fault, observed[i], "request {i}");
    }

    let f = faults(&c, &m).await;
    assert_eq!(f.total(), N as u64);
    for outcome in Outcome::FAULTS.into_iter().chain([Outcome::Ok]) {
        let seen = observed.iter().filter(|o| **o == outcome).count() as u64;
        assert_eq!(f.get(outcome), seen, "{outcome:?}");
    }
    assert_eq!(f.bad_request, 0);
    let s: Stats = stats_until(&c, &m, |s| s.in_flight == 0).await;
    assert_eq!((s.requests, s.in_flight), (N as u64, 0));
    // The legacy counters count what was sent; every fault here reached its client.
    assert_eq!(
        (s.errors, s.cuts, s.stream_errors, s.malformed),
        (f.http_500, f.cut, f.stream_error, f.malformed_event)
    );
}

#[tokio::test]
async fn fault_probabilities_must_add_up_to_at_most_one() {
    let over = MockConfig {
        error_rate: 0.25,
        hang_rate: 0.5,
        malformed_rate: 0.5,
        ..instant()
    };
    let err = start(over, &[loopback()]).await.expect_err("sum 1.25");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert_eq!(
        err.to_string(),
        "fault probabilities must add up to at most 1 (each request draws at most one \
         fault), got 1.25: --error-rate 0.25 + --hang-rate 0.5 + --malformed-rate 0.5"
    );
    let exactly_one = MockConfig {
        rate_limit_rate: 0.5,
        cut_rate: 0.5,
        ..instant()
    };
    assert!(start(exactly_one, &[loopback()]).await.is_ok());
    for (cfg, flag) in [
        (
            MockConfig {
                rate_limit_rate: 1.5,
                ..instant()
            },
            "--rate-limit-rate",
        ),
        (
            MockConfig {
                reset_rate: f64::NAN,
                ..instant()
            },
            "--reset-rate",
        ),
        (
            MockConfig {
                malformed_body_rate: -0.5,
                ..instant()
            },
            "--malformed-body-rate",
        ),
    ] {
        let msg = cfg.validate().expect_err(flag);
        assert!(
            msg.starts_with(flag) && msg.contains("between 0 and 1"),
            "{msg}"
        );
    }
}
