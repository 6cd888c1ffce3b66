//! Streaming endpoints over real loopback TCP: the exact wire format of every event, the
//! timing of chunk arrival, the in-band fault switches and the in-flight accounting.
//!
//! Timing checks are lower bounds only, measured from just before the request is sent (which
//! precedes the server's stream start): a loaded machine can make a chunk late, never early.

use std::time::{Duration, Instant};

use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};
use stampede_mock::{start, MockConfig, RunningMock, Stats};

mod common;
use common::{instant, loopback, stats, stats_until};

const WORDS: [&str; 8] = [
    " the", " cat", " sat", " mat", " and", " ran", " far", " off",
];

/// The text of `count` tokens starting at token `from`, as the mock generates it.
fn text(from: usize, count: usize) -> String {
    (from..from + count)
        .map(|i| WORDS[i % WORDS.len()])
        .collect()
}

fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client")
}

async fn mock(cfg: MockConfig) -> RunningMock {
    start(cfg, &[loopback()]).await.expect("start mock")
}

/// The streaming APIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    Chat,
    Completions,
    OllamaGenerate,
    OllamaChat,
    Tgi,
}

const ALL: [Api; 5] = [
    Api::Chat,
    Api::Completions,
    Api::OllamaGenerate,
    Api::OllamaChat,
    Api::Tgi,
];

impl Api {
    fn path(self) -> &'static str {
        match self {
            Api::Chat => "/v1/chat/completions",
            Api::Completions => "/v1/completions",
            Api::OllamaGenerate => "/api/generate",
            Api::OllamaChat => "/api/chat",
            Api::Tgi => "/generate_stream",
        }
    }

    fn sse(self) -> bool {
        matches!(self, Api::Chat | Api::Completions | Api::Tgi)
    }

    /// A streaming request body, with the API's own max-tokens field when given.
    fn body(self, max: Option<u32>) -> Value {
        let mut b = match self {
            Api::Chat => json!({
                "model": "m",
                "messages": [{"role": "user", "content": "Say hello to the world"}],
                "stream": true,
            }),
            Api::Completions => {
                json!({"model": "m", "prompt": "Say hello to the world", "stream": true})
            }
            Api::OllamaGenerate => json!({"model": "m", "prompt": "Say hello to the world"}),
            Api::OllamaChat => json!({
                "model": "m",
                "messages": [{"role": "user", "content": "Say hello to the world"}],
            }),
            Api::Tgi => json!({"inputs": "Say hello to the world", "parameters": {}}),
        };
        if let Some(n) = max {
            match self {
                Api::Chat | Api::Completions => b["max_tokens"] = json!(n),
                Api::OllamaGenerate | Api::OllamaChat => b["options"] = json!({"num_predict": n}),
                Api::Tgi => b["parameters"]["max_new_tokens"] = json!(n),
            }
        }
        b
    }

    /// The exact in-band error event.
    fn error_frame(self) -> &'static str {
        match self {
            Api::Chat | Api::Completions => {
                r#"data: {"error": {"message": "injected stream error", "type": "server_error"}}"#
            }
            Api::OllamaGenerate | Api::OllamaChat => r#"{"error": "injected stream error"}"#,
            Api::Tgi => r#"data:{"error": "injected stream error", "error_type": "generation"}"#,
        }
    }

    /// The exact malformed event.
    fn malformed_frame(self) -> &'static str {
        match self {
            Api::Chat | Api::Completions => r#"data: {"choices": ["#,
            Api::OllamaGenerate => r#"{"response": "#,
            Api::OllamaChat => r#"{"message": {"#,
            Api::Tgi => r#"data:{"token": {"#,
        }
    }
}

/// One SSE event or NDJSON line, with the time (since `t0`) its last byte arrived.
#[derive(Debug, Clone)]
struct Frame {
    at: Duration,
    raw: String,
}

/// Reads the whole body as it arrives, splitting it into frames (`\n\n` for SSE, `\n` for
/// NDJSON). A body must end on a frame boundary.
async fn frames(mut resp: Response, t0: Instant, sse: bool) -> Vec<Frame> {
    let sep: &[u8] = if sse { b"\n\n" } else { b"\n" };
    let mut buf: Vec<u8> = Vec::new();
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.expect("body chunk") {
        let at = t0.elapsed();
        buf.extend_from_slice(&chunk);
        while let Some(pos) = buf.windows(sep.len()).position(|w| w == sep) {
            let frame: Vec<u8> = buf.drain(..pos + sep.len()).collect();
            let raw = String::from_utf8(frame[..pos].to_vec()).expect("utf-8 frame");
            out.push(Frame { at, raw });
        }
    }
    assert!(
        buf.is_empty(),
        "body ends inside a frame: {:?}",
        String::from_utf8_lossy(&buf)
    );
    out
}

/// The JSON of a frame (`data:` stripped for SSE), or `None` when it is not JSON.
fn json_of(raw: &str, sse: bool) -> Option<Value> {
    let payload = if sse {
        let data = raw.strip_prefix("data:").expect("an SSE data line");
        assert!(!data.contains('\n'), "one data line per event: {raw:?}");
        data.strip_prefix(' ').unwrap_or(data)
    } else {
        raw
    };
    serde_json::from_str(payload).ok()
}

/// What a frame means to a client.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    /// OpenAI chat's role-only chunk.
    Role,
    /// Generated text (content and reasoning concatenated); `last` when it also ends the
    /// generation (OpenAI finish_reason, TGI generated_text).
    Text {
        text: String,
        last: bool,
    },
    /// OpenAI's usage chunk.
    Usage(Value),
    /// `[DONE]`, Ollama's `done: true`.
    Done,
    Error,
    Malformed,
}

fn kind(api: Api, raw: &str) -> Kind {
    if raw == "data: [DONE]" {
        assert!(
            matches!(api, Api::Chat | Api::Completions),
            "[DONE] from {api:?}"
        );
        return Kind::Done;
    }
    let Some(v) = json_of(raw, api.sse()) else {
        return Kind::Malformed;
    };
    if v.get("error").is_some() {
        return Kind::Error;
    }
    match api {
        Api::Chat | Api::Completions => {
            let choices = v["choices"].as_array().expect("choices");
            if choices.is_empty() {
                return Kind::Usage(v["usage"].clone());
            }
            let c = &choices[0];
            let last = !c["finish_reason"].is_null();
            if api == Api::Chat {
                let d = &c["delta"];
                if d.get("role").is_some() {
                    assert_eq!(d, &json!({"role": "assistant", "content": ""}));
                    assert!(!last);
                    return Kind::Role;
                }
                let reasoning = d["reasoning_content"].as_str().unwrap_or("");
                let content = d["content"].as_str().unwrap_or("");
                Kind::Text {
                    text: format!("{reasoning}{content}"),
                    last,
                }
            } else {
                Kind::Text {
                    text: c["text"].as_str().expect("text").to_string(),
                    last,
                }
            }
        }
        Api::OllamaGenerate | Api::OllamaChat => {
            if v["done"] == json!(true) {
                return Kind::Done;
            }
            assert_eq!(v["done"], json!(false));
            let text = if api == Api::OllamaGenerate {
                v["response"].as_str()
            } else {
                v["message"]["content"].as_str()
            };
            Kind::Text {
                text: text.expect("text").to_string(),
                last: false,
            }
        }
        Api::Tgi => Kind::Text {
            text: v["token"]["text"].as_str().expect("token text").to_string(),
            last: !v["generated_text"].is_null(),
        },
    }
}

/// Sends a streaming request; returns the frames and when each arrived.
async fn stream(c: &Client, m: &RunningMock, api: Api, body: &Value) -> Vec<Frame> {
    let t0 = Instant::now();
    let resp = c
        .post(format!("{}{}", m.url(), api.path()))
        .json(body)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::OK, "{api:?}");
    let ct = resp.headers()["content-type"].to_str().expect("ascii");
    let want = if api.sse() {
        "text/event-stream"
    } else {
        "application/x-ndjson"
    };
    assert_eq!(ct, want, "{api:?}");
    assert_eq!(resp.headers()["timing-allow-origin"], "*");
    frames(resp, t0, api.sse()).await
}

fn texts(api: Api, frames: &[Frame]) -> Vec<String> {
    frames
        .iter()
        .filter_map(|f| match kind(api, &f.raw) {
            Kind::Text { text, .. } => Some(text),
            _ => None,
        })
        .collect()
}

fn sse_json(raw: &str) -> Value {
    json_of(raw, true).unwrap_or_else(|| panic!("not JSON: {raw:?}"))
}

#[tokio::test]
async fn openai_chat_stream_has_role_chunk_reasoning_packing_usage_and_done() {
    let m = mock(MockConfig {
        tokens: 7,
        tokens_per_chunk: 3,
        reasoning_tokens: 4,
        ..instant()
    })
    .await;
    let c = client();
    let mut body = Api::Chat.body(None);
    body["stream_options"] = json!({"include_usage": true});
    let f = stream(&c, &m, Api::Chat, &body).await;
    let raws: Vec<&str> = f.iter().map(|f| f.raw.as_str()).collect();
    assert_eq!(raws.len(), 6, "{raws:#?}");
    assert!(raws.iter().all(|r| r.starts_with("data: ")));
    let events: Vec<Value> = raws[..5].iter().map(|r| sse_json(r)).collect();
    let id = events[0]["id"].as_str().expect("id");
    assert!(id.starts_with("chatcmpl-"), "{id}");
    for e in &events {
        assert_eq!(e["id"], id);
        assert_eq!(e["object"], "chat.completion.chunk");
        assert_eq!(e["model"], "m");
        assert_eq!(e["created"], events[0]["created"]);
        assert!(e["created"].as_u64().expect("created") > 0);
    }
    let choice = |i: usize| events[i]["choices"].clone();
    assert_eq!(
        choice(0),
        json!([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}])
    );
    // 7 tokens, 3 per chunk, the first 4 are reasoning: [r r r] [r c c] [c].
    assert_eq!(
        choice(1),
        json!([{"index": 0, "delta": {"reasoning_content": text(0, 3)}, "finish_reason": null}])
    );
    assert_eq!(
        choice(2),
        json!([{"index": 0, "delta": {"reasoning_content": text(3, 1), "content": text(4, 2)}, "finish_reason": null}])
    );
    assert_eq!(
        choice(3),
        json!([{"index": 0, "delta": {"content": text(6, 1)}, "finish_reason": "stop"}])
    );
    assert_eq!(choice(4), json!([]));
    // "Say hello to the world": 5 words.
    assert_eq!(
        events[4]["usage"],
        json!({"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12})
    );
    assert_eq!(raws[5], "data: [DONE]");
    for t in texts(Api::Chat, &f) {
        assert_eq!(t.len() % 4, 0, "4 characters per token: {t:?}");
    }

    // A request limit cuts the text: finish_reason "length"; no usage chunk unless asked.
    let f = stream(&c, &m, Api::Chat, &Api::Chat.body(Some(2))).await;
    let kinds: Vec<Kind> = f.iter().map(|f| kind(Api::Chat, &f.raw)).collect();
    assert_eq!(
        kinds,
        [
            Kind::Role,
            Kind::Text {
                text: text(0, 2),
                last: true
            },
            Kind::Done
        ]
    );
    assert_eq!(sse_json(&f[1].raw)["choices"][0]["finish_reason"], "length");
    assert_eq!(stats(&c, &m).await.in_flight, 0);
}

#[tokio::test]
async fn openai_chat_stream_without_role_chunk_starts_with_content() {
    let m = mock(MockConfig {
        tokens: 3,
        role_chunk: false,
        ..instant()
    })
    .await;
    let f = stream(&client(), &m, Api::Chat, &Api::Chat.body(None)).await;
    let first = sse_json(&f[0].raw);
    assert_eq!(
        first["choices"],
        json!([{"index": 0, "delta": {"content": " the"}, "finish_reason": null}])
    );
    let kinds: Vec<Kind> = f.iter().map(|f| kind(Api::Chat, &f.raw)).collect();
    assert_eq!(kinds.len(), 4, "{kinds:?}");
    assert_eq!(kinds[3], Kind::Done);
    assert_eq!(texts(Api::Chat, &f), [" the", " cat", " sat"]);
}

#[tokio::test]
async fn openai_chat_non_streaming_reports_reasoning_separately() {
    let m = mock(MockConfig {
        tokens: 5,
        reasoning_tokens: 2,
        ..instant()
    })
    .await;
    let mut body = Api::Chat.body(None);
    body["stream"] = json!(false);
    let v: Value = client()
        .post(format!("{}/v1/chat/completions", m.url()))
        .json(&body)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let msg = &v["choices"][0]["message"];
    assert_eq!(msg["reasoning_content"], text(0, 2));
    assert_eq!(msg["content"], text(2, 3));
    assert_eq!(v["usage"]["completion_tokens"], 5);
}

#[tokio::test]
async fn openai_completions_plain_and_streamed() {
    let m = mock(MockConfig {
        tokens: 5,
        tokens_per_chunk: 2,
        ..instant()
    })
    .await;
    let c = client();
    let url = format!("{}/v1/completions", m.url());

    let v: Value = c
        .post(&url)
        .json(&json!({"model": "m", "prompt": "Say hello to the world"}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(v["object"], "text_completion");
    assert_eq!(v["model"], "m");
    assert!(v["id"].as_str().expect("id").starts_with("cmpl-"));
    assert_eq!(v["choices"][0]["index"], 0);
    assert_eq!(v["choices"][0]["text"], text(0, 5));
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        v["usage"],
        json!({"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10})
    );
    let v: Value = c
        .post(&url)
        .json(&json!({"prompt": "x", "max_tokens": 3}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(v["choices"][0]["text"], text(0, 3));
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    assert_eq!(v["model"], "stampede-mock");

    // Streamed: no role chunk (even though it is on), text deltas packed 2 per chunk.
    let mut body = Api::Completions.body(None);
    body["stream_options"] = json!({"include_usage": true});
    let f = stream(&c, &m, Api::Completions, &body).await;
    assert_eq!(f.len(), 5, "{f:#?}");
    for (i, (want, finish)) in [
        (text(0, 2), None),
        (text(2, 2), None),
        (text(4, 1), Some("stop")),
    ]
    .into_iter()
    .enumerate()
    {
        let e = sse_json(&f[i].raw);
        assert_eq!(e["object"], "text_completion");
        assert_eq!(e["model"], "m");
        assert_eq!(
            e["choices"],
            json!([{"index": 0, "text": want, "finish_reason": finish}])
        );
    }
    let usage = sse_json(&f[3].raw);
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(
        usage["usage"],
        json!({"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10})
    );
    assert_eq!(f[4].raw, "data: [DONE]");

    let f = stream(&c, &m, Api::Completions, &Api::Completions.body(Some(1))).await;
    assert_eq!(f.len(), 2);
    assert_eq!(
        sse_json(&f[0].raw)["choices"],
        json!([{"index": 0, "text": " the", "finish_reason": "length"}])
    );
    assert_eq!(f[1].raw, "data: [DONE]");
}

/// Checks an Ollama final object and returns it.
fn ollama_final(raw: &str, api: Api, reason: &str, prompt: u64, tokens: u64) -> Value {
    let v: Value = serde_json::from_str(raw).expect("final line JSON");
    assert_eq!(v["model"], "m");
    assert_eq!(v["done"], true);
    assert_eq!(v["done_reason"], reason);
    if api == Api::OllamaGenerate {
        assert_eq!(v["response"], "");
    } else {
        assert_eq!(v["message"], json!({"role": "assistant", "content": ""}));
    }
    assert_eq!(v["prompt_eval_count"], prompt);
    assert_eq!(v["eval_count"], tokens);
    for field in [
        "total_duration",
        "load_duration",
        "prompt_eval_duration",
        "eval_duration",
    ] {
        assert!(v[field].is_u64(), "{field} in {v}");
    }
    let created = v["created_at"].as_str().expect("created_at");
    assert!(
        created.len() == 30 && created.ends_with('Z') && created.as_bytes()[10] == b'T',
        "{created}"
    );
    v
}

#[tokio::test]
async fn ollama_streams_ndjson_by_default_with_counts_and_durations() {
    let m = mock(MockConfig {
        tokens: 5,
        tokens_per_chunk: 2,
        ttft_ms: 30.0,
        per_token_ms: 10.0,
        jitter_ms: 20.0,
        // Streams ignore it: prompt_eval_duration below shows the schedule without it.
        latency_ms: 5_000.0,
        ..instant()
    })
    .await;
    let c = client();
    for api in [Api::OllamaGenerate, Api::OllamaChat] {
        let f = stream(&c, &m, api, &api.body(None)).await;
        assert_eq!(f.len(), 4, "{api:?} {f:#?}");
        for (i, want) in [text(0, 2), text(2, 2), text(4, 1)].iter().enumerate() {
            let v: Value = serde_json::from_str(&f[i].raw).expect("line JSON");
            let mut expected = json!({"model": "m", "created_at": v["created_at"], "done": false});
            if api == Api::OllamaGenerate {
                expected["response"] = json!(want);
            } else {
                expected["message"] = json!({"role": "assistant", "content": want});
            }
            assert_eq!(v, expected, "{api:?}");
        }
        let v = ollama_final(&f[3].raw, api, "stop", 5, 5);
        let ns = |k: &str| v[k].as_u64().expect(k);
        // prompt_eval = ttft + jitter; eval = (chunks − 1) × tokens_per_chunk × per_token:
        // jitter shifts the schedule but not its spacing.
        assert!(ns("prompt_eval_duration") >= 30_000_000);
        assert!(ns("prompt_eval_duration") <= 50_000_000);
        assert_eq!(ns("eval_duration"), 40_000_000);
        assert!(
            ns("total_duration")
                >= ns("load_duration") + ns("prompt_eval_duration") + ns("eval_duration")
        );
        // The final line is no earlier than the last content line's schedule.
        assert!(f[3].at >= Duration::from_nanos(ns("prompt_eval_duration") + 40_000_000));

        let f = stream(&c, &m, api, &api.body(Some(3))).await;
        assert_eq!(texts(api, &f).concat(), text(0, 3));
        ollama_final(&f.last().expect("final").raw, api, "length", 5, 3);
    }
}

#[tokio::test]
async fn ollama_stream_false_is_one_object_after_the_whole_delay() {
    let m = mock(MockConfig {
        tokens: 4,
        latency_ms: 40.0,
        per_token_ms: 5.0,
        ..MockConfig::default()
    })
    .await;
    let c = client();
    for api in [Api::OllamaGenerate, Api::OllamaChat] {
        let mut body = api.body(None);
        body["stream"] = json!(false);
        let t0 = Instant::now();
        let resp = c
            .post(format!("{}{}", m.url(), api.path()))
            .json(&body)
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(resp.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("application/json"));
        let v: Value = resp.json().await.expect("json");
        assert!(t0.elapsed() >= Duration::from_millis(60));
        let full = text(0, 4);
        let content = if api == Api::OllamaGenerate {
            &v["response"]
        } else {
            &v["message"]["content"]
        };
        assert_eq!(content, &json!(full));
        assert_eq!(v["done"], true);
        assert_eq!(v["done_reason"], "stop");
        assert_eq!(v["eval_count"], 4);
        assert_eq!(v["prompt_eval_count"], 5);
        assert_eq!(v["prompt_eval_duration"], 40_000_000);
        assert_eq!(v["eval_duration"], 20_000_000);
        assert_eq!(v["load_duration"], 0);
        assert!(v["total_duration"].as_u64().expect("total") >= 60_000_000);
    }
}

#[tokio::test]
async fn tgi_generate_shares_the_path_with_the_seed_api() {
    let m = mock(MockConfig {
        tokens: 6,
        ..instant()
    })
    .await;
    let c = client();
    let url = format!("{}/generate", m.url());

    let v: Value = c
        .post(&url)
        .json(&json!({"inputs": "Hello", "parameters": {"max_new_tokens": 4, "temperature": 0.5}}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(
        v,
        json!({
            "generated_text": text(0, 4),
            "details": {"finish_reason": "length", "generated_tokens": 4, "seed": null, "prefill": [], "tokens": []},
        })
    );
    let v: Value = c
        .post(&url)
        .json(&json!({"inputs": "Hello"}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(v["generated_text"], text(0, 6));
    assert_eq!(v["details"]["finish_reason"], "eos_token");
    assert_eq!(v["details"]["generated_tokens"], 6);

    // Without `inputs` it is still the seed API.
    let v: Value = c
        .post(&url)
        .json(&json!({"prompt": "Explain", "max_length": 3, "temperature": 0.7, "do_sample": true}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(v["generated_text"], text(0, 3));
    assert_eq!(v["input_prompt"], "Explain");
    assert_eq!(v["model_info"]["name"], "stampede-mock");
    assert!(v.get("details").is_none());

    // A TGI body with a bad `inputs` gets TGI's error shape; the seed API keeps its own.
    let resp = c
        .post(&url)
        .json(&json!({"inputs": 5}))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["error_type"], "validation");
    assert!(v["error"]
        .as_str()
        .expect("error")
        .contains("invalid request body"));
    let resp = c
        .post(&url)
        .json(&json!({"max_length": 3}))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert_eq!(stats(&c, &m).await.requests, 5);
}

#[tokio::test]
async fn tgi_stream_events_end_with_generated_text_and_details() {
    let m = mock(MockConfig {
        tokens: 5,
        tokens_per_chunk: 2,
        ..instant()
    })
    .await;
    let c = client();
    let f = stream(&c, &m, Api::Tgi, &Api::Tgi.body(None)).await;
    assert_eq!(f.len(), 3, "{f:#?}");
    for (i, want) in [text(0, 2), text(2, 2), text(4, 1)].iter().enumerate() {
        assert!(f[i].raw.starts_with("data:{"), "{:?}", f[i].raw);
        let last = i == 2;
        let (generated, details) = if last {
            (
                json!(text(0, 5)),
                json!({"finish_reason": "eos_token", "generated_tokens": 5, "seed": null}),
            )
        } else {
            (Value::Null, Value::Null)
        };
        assert_eq!(
            sse_json(&f[i].raw),
            json!({
                "index": i,
                "token": {"id": i, "text": want, "logprob": -0.1, "special": false},
                "generated_text": generated,
                "details": details,
            })
        );
    }
    let f = stream(&c, &m, Api::Tgi, &Api::Tgi.body(Some(1))).await;
    assert_eq!(f.len(), 1);
    let v = sse_json(&f[0].raw);
    assert_eq!(v["generated_text"], " the");
    assert_eq!(v["details"]["finish_reason"], "length");
    assert_eq!(v["details"]["generated_tokens"], 1);
}

#[tokio::test]
async fn every_stream_follows_the_ttft_and_per_token_schedule() {
    const TTFT: u64 = 120;
    const PER_TOKEN: u64 = 15;
    const PER_CHUNK: u64 = 2;
    let m = mock(MockConfig {
        tokens: 7,
        tokens_per_chunk: PER_CHUNK as u32,
        ttft_ms: TTFT as f64,
        per_token_ms: PER_TOKEN as f64,
        ..MockConfig::default()
    })
    .await;
    let c = client();
    for api in ALL {
        let f = stream(&c, &m, api, &api.body(None)).await;
        let kinds: Vec<Kind> = f.iter().map(|f| kind(api, &f.raw)).collect();
        let content: Vec<&Frame> = f
            .iter()
            .zip(&kinds)
            .filter(|(_, k)| matches!(k, Kind::Text { .. }))
            .map(|(f, _)| f)
            .collect();
        assert_eq!(content.len(), 4, "{api:?}: 7 tokens, 2 per chunk");
        for (k, frame) in content.iter().enumerate() {
            let due = Duration::from_millis(TTFT + k as u64 * PER_CHUNK * PER_TOKEN);
            assert!(
                frame.at >= due,
                "{api:?} chunk {k} arrived at {:?}, due {due:?}",
                frame.at
            );
        }
        let last_due = Duration::from_millis(TTFT + 3 * PER_CHUNK * PER_TOKEN);
        let end = f.last().expect("frames").at;
        assert!(end >= last_due, "{api:?} ended at {end:?}");
        // Chunks arrive in order; the role chunk (chat) comes before any token.
        assert!(f.windows(2).all(|w| w[0].at <= w[1].at));
        if api == Api::Chat {
            assert_eq!(kinds[0], Kind::Role);
        }
    }
}

#[tokio::test]
async fn headers_come_at_once_and_a_stream_counts_in_flight_until_the_client_leaves() {
    // The first token is ten minutes away: only the headers (and chat's role chunk, sent
    // right after them) can arrive.
    let m = mock(MockConfig {
        ttft_ms: 600_000.0,
        ..instant()
    })
    .await;
    let c = client();
    let patient = Client::new();
    for api in ALL {
        let resp = tokio::time::timeout(
            Duration::from_secs(30),
            patient
                .post(format!("{}{}", m.url(), api.path()))
                .json(&api.body(None))
                .send(),
        )
        .await
        .expect("headers before the first token")
        .expect("send");
        assert_eq!(resp.status(), StatusCode::OK);
        if api == Api::Chat {
            let mut resp = resp;
            let mut raw = String::new();
            while !raw.ends_with("\n\n") {
                let chunk = tokio::time::timeout(Duration::from_secs(30), resp.chunk())
                    .await
                    .expect("role chunk before the first token")
                    .expect("chunk")
                    .expect("not the end");
                raw.push_str(std::str::from_utf8(&chunk).expect("utf-8"));
            }
            assert_eq!(kind(api, raw.trim_end()), Kind::Role);
            let s = stats(&c, &m).await;
            assert_eq!(s.in_flight, 1);
            drop(resp);
        } else {
            let s = stats(&c, &m).await;
            assert_eq!(s.in_flight, 1, "{api:?}");
            drop(resp);
        }
        let s = stats_until(&c, &m, |s| s.in_flight == 0).await;
        assert_eq!(s.in_flight, 0, "{api:?} counted out after the client left");
    }
    let s = stats(&c, &m).await;
    assert_eq!((s.requests, s.max_in_flight), (5, 1));
}

#[tokio::test]
async fn concurrent_streams_count_in_flight_until_their_body_ends() {
    let m = mock(MockConfig {
        ttft_ms: 500.0,
        tokens: 3,
        ..instant()
    })
    .await;
    let c = client();
    let tasks: Vec<_> = ALL
        .into_iter()
        .map(|api| {
            let (c, url) = (c.clone(), format!("{}{}", m.url(), api.path()));
            tokio::spawn(async move {
                let resp = c
                    .post(url)
                    .json(&api.body(None))
                    .send()
                    .await
                    .expect("send");
                assert_eq!(resp.status(), StatusCode::OK);
                resp.bytes().await.expect("body").len()
            })
        })
        .collect();
    for t in tasks {
        assert!(t.await.expect("task") > 0);
    }
    let s = stats(&c, &m).await;
    assert_eq!((s.requests, s.in_flight, s.max_in_flight), (5, 0, 5));
}

#[tokio::test]
async fn error_rate_fails_streams_with_500_before_streaming() {
    let m = mock(MockConfig {
        error_rate: 1.0,
        ..instant()
    })
    .await;
    let c = client();
    for api in ALL {
        let resp = c
            .post(format!("{}{}", m.url(), api.path()))
            .json(&api.body(None))
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR, "{api:?}");
        assert_eq!(resp.headers()["access-control-allow-origin"], "*");
        let v: Value = resp.json().await.expect("json error");
        let want = match api {
            Api::Chat | Api::Completions => {
                json!({"error": {"message": "injected failure", "type": "server_error"}})
            }
            Api::OllamaGenerate | Api::OllamaChat => json!({"error": "injected failure"}),
            Api::Tgi => json!({"error": "injected failure", "error_type": "generation"}),
        };
        assert_eq!(v, want, "{api:?}");
    }
    let s = stats(&c, &m).await;
    assert_eq!((s.requests, s.errors, s.in_flight), (5, 5, 0));
    assert_eq!((s.stream_errors, s.cuts, s.malformed), (0, 0, 0));
}

/// 6 tokens, one per chunk: faults come after 3 content chunks.
fn faulty(cfg: MockConfig) -> MockConfig {
    MockConfig { tokens: 6, ..cfg }
}

/// The frames before the fault: chat's role chunk, then 3 content chunks.
fn assert_first_half(api: Api, kinds: &[Kind]) -> usize {
    let mut i = 0;
    if api == Api::Chat {
        assert_eq!(kinds[0], Kind::Role);
        i = 1;
    }
    for k in 0..3 {
        assert_eq!(
            kinds[i + k],
            Kind::Text {
                text: text(k, 1),
                last: false
            },
            "{api:?}"
        );
    }
    i + 3
}

#[tokio::test]
async fn stream_error_rate_sends_an_in_band_error_and_ends() {
    let m = mock(faulty(MockConfig {
        stream_error_rate: 1.0,
        ..instant()
    }))
    .await;
    let c = client();
    for api in ALL {
        let mut body = api.body(None);
        if api == Api::Chat {
            body["stream_options"] = json!({"include_usage": true});
        }
        let f = stream(&c, &m, api, &body).await;
        let kinds: Vec<Kind> = f.iter().map(|f| kind(api, &f.raw)).collect();
        let i = assert_first_half(api, &kinds);
        assert_eq!(kinds.len(), i + 1, "{api:?} {kinds:?}");
        assert_eq!(kinds[i], Kind::Error);
        assert_eq!(f[i].raw, api.error_frame(), "{api:?}");
    }
    let s = stats(&c, &m).await;
    assert_eq!(
        (s.stream_errors, s.cuts, s.malformed, s.errors),
        (5, 0, 0, 0)
    );
    assert_eq!(s.in_flight, 0);
}

#[tokio::test]
async fn cut_rate_ends_the_body_without_a_terminal_event() {
    let m = mock(faulty(MockConfig {
        cut_rate: 1.0,
        ..instant()
    }))
    .await;
    let c = client();
    for api in ALL {
        let f = stream(&c, &m, api, &api.body(None)).await;
        let kinds: Vec<Kind> = f.iter().map(|f| kind(api, &f.raw)).collect();
        let i = assert_first_half(api, &kinds);
        assert_eq!(kinds.len(), i, "{api:?} {kinds:?}");
    }
    let s = stats(&c, &m).await;
    assert_eq!(
        (s.stream_errors, s.cuts, s.malformed, s.errors),
        (0, 5, 0, 0)
    );
    assert_eq!(s.in_flight, 0);
}

#[tokio::test]
async fn malformed_rate_sends_one_broken_event_then_the_whole_stream() {
    let m = mock(faulty(MockConfig {
        malformed_rate: 1.0,
        ..instant()
    }))
    .await;
    let c = client();
    for api in ALL {
        let f = stream(&c, &m, api, &api.body(None)).await;
        let kinds: Vec<Kind> = f.iter().map(|f| kind(api, &f.raw)).collect();
        let i = assert_first_half(api, &kinds);
        assert_eq!(kinds[i], Kind::Malformed, "{api:?}");
        assert_eq!(f[i].raw, api.malformed_frame(), "{api:?}");
        assert_eq!(texts(api, &f).concat(), text(0, 6), "{api:?}");
        let rest = &kinds[i + 1..];
        let tail: &[Kind] = match api {
            Api::Chat | Api::Completions | Api::OllamaGenerate | Api::OllamaChat => &[Kind::Done],
            Api::Tgi => &[],
        };
        assert_eq!(rest.len(), 3 + tail.len(), "{api:?} {rest:?}");
        assert_eq!(&rest[3..], tail, "{api:?}");
        assert!(
            matches!(&rest[2], Kind::Text { last, .. } if *last == (api != Api::OllamaGenerate && api != Api::OllamaChat)),
            "{api:?} {rest:?}"
        );
    }
    let s = stats(&c, &m).await;
    assert_eq!(
        (s.stream_errors, s.cuts, s.malformed, s.errors),
        (0, 0, 5, 0)
    );
}

#[tokio::test]
async fn faults_are_drawn_per_request_from_the_seed() {
    // Half the streams fail in band: same seed, same sequence; the counters add up.
    let cfg = faulty(MockConfig {
        stream_error_rate: 0.5,
        seed: 7,
        ..instant()
    });
    let mut runs = Vec::new();
    for _ in 0..2 {
        let m = mock(cfg.clone()).await;
        let c = client();
        let mut outcomes = Vec::new();
        for _ in 0..12 {
            let f = stream(&c, &m, Api::OllamaGenerate, &Api::OllamaGenerate.body(None)).await;
            outcomes.push(kind(Api::OllamaGenerate, &f.last().expect("frame").raw) == Kind::Error);
        }
        let s = stats(&c, &m).await;
        let failed = outcomes.iter().filter(|e| **e).count() as u64;
        assert_eq!(s.stream_errors, failed);
        runs.push(outcomes);
    }
    assert_eq!(runs[0], runs[1]);
    assert!(
        runs[0].contains(&true) && runs[0].contains(&false),
        "{:?}",
        runs[0]
    );
}

#[tokio::test]
async fn zero_tokens_still_end_every_stream_properly() {
    let m = mock(MockConfig {
        tokens: 0,
        ..instant()
    })
    .await;
    let c = client();
    for api in ALL {
        let f = stream(&c, &m, api, &api.body(None)).await;
        let kinds: Vec<Kind> = f.iter().map(|f| kind(api, &f.raw)).collect();
        assert!(texts(api, &f).concat().is_empty(), "{api:?} {kinds:?}");
        let end = kinds.last().expect("a frame");
        match api {
            Api::Tgi => assert!(matches!(end, Kind::Text { last: true, .. })),
            _ => assert_eq!(end, &Kind::Done, "{api:?}"),
        }
    }
}

#[tokio::test]
async fn stats_reset_clears_fault_counters() {
    let m = mock(faulty(MockConfig {
        cut_rate: 1.0,
        ..instant()
    }))
    .await;
    let c = client();
    stream(&c, &m, Api::Tgi, &Api::Tgi.body(None)).await;
    assert_eq!(stats(&c, &m).await.cuts, 1);
    let s: Stats = c
        .post(format!("{}/stats/reset", m.url()))
        .send()
        .await
        .expect("reset")
        .json()
        .await
        .expect("json");
    assert_eq!(s, Stats::default());
}
