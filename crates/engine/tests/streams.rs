//! Streamed responses in the exact wire formats of OpenAI, vLLM, Ollama and TGI, split at every
//! byte boundary; and the streaming metrics (TTFT, TPOT, gaps, token source) on known timelines.

use stampede_engine::ErrorClass;
use stampede_engine::{parse, Parsed, TokenSource};
use stampede_engine::{to_sample, Chunk, HttpOutcome};
use stampede_engine::{Preset, RequestShape, RunConfig};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn outcome(chunks: Vec<(f64, Vec<u8>)>) -> HttpOutcome {
    let end = chunks.last().map_or(0.0, |c| c.0);
    HttpOutcome {
        start_ms: 0.0,
        headers_ms: Some(1.0),
        end_ms: end,
        status: Some(200),
        chunks: chunks
            .into_iter()
            .map(|(at_ms, bytes)| Chunk { at_ms, bytes })
            .collect(),
        error: None,
        protocol: None,
        queue_ms: None,
    }
}

/// What must not depend on where chunks were split (times do, by design).
fn summary(p: &Parsed) -> String {
    format!(
        "{:?} {:?} {:?} {:?} {:?} events={}",
        p.error,
        p.output_tokens,
        p.token_source,
        p.prompt_tokens,
        p.server_durations,
        p.content_at.len()
    )
}

/// Parse `bytes` whole, then split in two at every boundary, then byte by byte: all equal.
fn parse_every_split(shape: &RequestShape, bytes: &[u8]) -> Parsed {
    let whole = parse(shape, &outcome(vec![(10.0, bytes.to_vec())]));
    for cut in 0..=bytes.len() {
        let p = parse(
            shape,
            &outcome(vec![
                (5.0, bytes[..cut].to_vec()),
                (10.0, bytes[cut..].to_vec()),
            ]),
        );
        assert_eq!(summary(&p), summary(&whole), "split at byte {cut}");
    }
    let bytewise: Vec<(f64, Vec<u8>)> = bytes.iter().map(|&b| (1.0, vec![b])).collect();
    assert_eq!(
        summary(&parse(shape, &outcome(bytewise))),
        summary(&whole),
        "byte by byte"
    );
    whole
}

fn expect(p: &Parsed, events: usize, tokens: u64, source: TokenSource, prompt: Option<u64>) {
    assert_eq!(p.error, None);
    assert_eq!(p.content_at.len(), events, "content-bearing events");
    assert_eq!(p.output_tokens, Some(tokens));
    assert_eq!(p.token_source, Some(source));
    assert_eq!(p.prompt_tokens, prompt);
}

#[test]
fn openai_chat_stream_skips_the_role_chunk() {
    let p = parse_every_split(
        &Preset::OpenaiChatStream.shape(),
        &fixture("openai_chat_stream.sse"),
    );
    expect(&p, 3, 7, TokenSource::Usage, Some(14));
}

#[test]
fn vllm_reasoning_and_tool_call_deltas_count_as_content() {
    let p = parse_every_split(
        &Preset::OpenaiChatStream.shape(),
        &fixture("vllm_chat_reasoning_tools.sse"),
    );
    expect(&p, 4, 12, TokenSource::Usage, Some(20));
}

#[test]
fn vllm_completions_stream() {
    let p = parse_every_split(
        &Preset::OpenaiCompletionsStream.shape(),
        &fixture("vllm_completions_stream.sse"),
    );
    expect(&p, 2, 2, TokenSource::Usage, Some(9));
}

#[test]
fn ollama_generate_and_chat_with_server_durations() {
    let p = parse_every_split(
        &Preset::OllamaGenerate.shape(),
        &fixture("ollama_generate.ndjson"),
    );
    expect(&p, 3, 3, TokenSource::Usage, Some(31));
    let d = p.server_durations.unwrap();
    assert_eq!(
        (d.total_ms, d.load_ms, d.prompt_eval_ms, d.eval_ms),
        (Some(2059.0), Some(1500.0), Some(95.0), Some(60.0))
    );
    let p = parse_every_split(&Preset::OllamaChat.shape(), &fixture("ollama_chat.ndjson"));
    expect(&p, 2, 2, TokenSource::Usage, Some(26));
}

#[test]
fn tgi_generate_stream() {
    let p = parse_every_split(
        &Preset::TgiGenerateStream.shape(),
        &fixture("tgi_generate_stream.sse"),
    );
    expect(&p, 3, 3, TokenSource::Usage, None);
}

fn without_last(bytes: &[u8], marker: &str) -> Vec<u8> {
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let cut = text.rfind(marker).expect("marker");
    text.as_bytes()[..cut].to_vec()
}

#[test]
fn truncated_streams_are_parse_errors() {
    let cases = [
        (
            Preset::OpenaiChatStream,
            "openai_chat_stream.sse",
            "data: [DONE]",
        ),
        (
            Preset::OllamaGenerate,
            "ollama_generate.ndjson",
            "{\"model\":\"llama3.2\",\"created_at\":\"2024-11-28T10:00:00.160Z\"",
        ),
        (
            Preset::TgiGenerateStream,
            "tgi_generate_stream.sse",
            "data:{\"index\":3",
        ),
    ];
    for (preset, file, marker) in cases {
        let p = parse_every_split(&preset.shape(), &without_last(&fixture(file), marker));
        let (class, msg) = p.error.clone().expect(file);
        assert_eq!(class, ErrorClass::Parse, "{file}");
        assert!(msg.contains("truncated"), "{file}: {msg}");
        assert!(!p.content_at.is_empty(), "the timeline so far is kept");
    }
    // A custom NDJSON framing without a terminator may simply end.
    let mut shape = Preset::OllamaGenerate.shape();
    shape.done_pointer.clear();
    shape.require_terminal = false;
    let bytes = without_last(
        &fixture("ollama_generate.ndjson"),
        "{\"model\":\"llama3.2\",\"created_at\":\"2024-11-28T10:00:00.160Z\"",
    );
    let p = parse_every_split(&shape, &bytes);
    expect(&p, 3, 3, TokenSource::StreamEvents, None);
}

#[test]
fn in_band_errors_and_malformed_events_are_counted_once() {
    let chunk = r#"data: {"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}"#;
    let body = format!(
        "{chunk}\n\ndata: {{\"error\": {{\"message\": \"overloaded\", \"type\": \"server_error\"}}}}\n\n{chunk}\n\ndata: [DONE]\n\n"
    );
    let p = parse_every_split(&Preset::OpenaiChatStream.shape(), body.as_bytes());
    assert_eq!(
        p.error,
        Some((ErrorClass::StreamError, "in-band error: overloaded".into()))
    );
    // Ollama and TGI put a string in `error`; TGI may also name the event `error`.
    let p = parse_every_split(
        &Preset::OllamaChat.shape(),
        b"{\"error\":\"model not found\"}\n",
    );
    assert_eq!(
        p.error,
        Some((
            ErrorClass::StreamError,
            "in-band error: model not found".into()
        ))
    );
    let p = parse_every_split(
        &Preset::TgiGenerateStream.shape(),
        b"event: error\ndata: Input validation error\n\n",
    );
    assert_eq!(
        p.error,
        Some((
            ErrorClass::StreamError,
            "in-band error: Input validation error".into()
        ))
    );

    let body = format!("{chunk}\n\ndata: {{\"choices\": [\n\n{chunk}\n\ndata: [DONE]\n\n");
    let p = parse_every_split(&Preset::OpenaiChatStream.shape(), body.as_bytes());
    let (class, msg) = p.error.unwrap();
    assert_eq!(class, ErrorClass::Parse);
    assert!(msg.starts_with("malformed event #2"), "{msg}");
}

/// An OpenAI chat stream on a known timeline: role chunk at 3 ms, tokens from `ttft` every
/// `gap` ms, `per_chunk` tokens per event, usage + [DONE] with the last one.
fn timeline(ttft: f64, gap: f64, tokens: u64, per_chunk: u64, usage: bool) -> HttpOutcome {
    let delta = |s: &str| {
        format!("data: {{\"choices\":[{{\"index\":0,\"delta\":{s},\"finish_reason\":null}}]}}\n\n")
            .into_bytes()
    };
    let mut chunks = vec![(3.0, delta(r#"{"role":"assistant","content":""}"#))];
    let events = tokens.div_ceil(per_chunk);
    for k in 0..events {
        chunks.push((ttft + k as f64 * gap, delta(r#"{"content":"abcd"}"#)));
    }
    let last = chunks.last().unwrap().0;
    let mut tail = Vec::new();
    if usage {
        tail.extend(format!("data: {{\"choices\":[],\"usage\":{{\"prompt_tokens\":5,\"completion_tokens\":{tokens}}}}}\n\n").into_bytes());
    }
    tail.extend(b"data: [DONE]\n\n");
    chunks.push((last, tail));
    let mut out = outcome(chunks);
    out.end_ms = last + 1.0;
    out
}

fn plan() -> stampede_engine::Plan {
    RunConfig {
        preset: Preset::OpenaiChatStream,
        model: "m".into(),
        ..RunConfig::default()
    }
    .validate()
    .unwrap()
}

#[test]
fn ttft_tpot_and_gaps_on_a_known_timeline() {
    let s = to_sample(&plan(), 0, 0, &timeline(200.0, 20.0, 50, 1, true), 0.0);
    assert_eq!(s.error_class, None);
    assert_eq!(
        s.ttft_ms(),
        Some(200.0),
        "the role-only chunk at 3 ms does not count"
    );
    assert_eq!(
        (s.output_tokens, s.token_source),
        (Some(50), Some(TokenSource::Usage))
    );
    assert_eq!(s.prompt_tokens, Some(5));
    // latency 1181 = 200 + 49 × 20 + 1; tpot = (1181 − 200) / 49.
    assert_eq!(s.latency_ms(), 1181.0);
    assert!((s.tpot_ms().unwrap() - 981.0 / 49.0).abs() < 1e-9);
    assert!(s.gaps_ms().all(|g| g == 20.0));
    assert_eq!(s.gaps_ms().count(), 49);

    // No usage: tokens are the content-bearing events.
    let s = to_sample(&plan(), 0, 0, &timeline(200.0, 20.0, 50, 1, false), 0.0);
    assert_eq!(
        (s.output_tokens, s.token_source),
        (Some(50), Some(TokenSource::StreamEvents))
    );

    // Five tokens per event: 10 events 100 ms apart, usage still says 50.
    let s = to_sample(&plan(), 0, 0, &timeline(200.0, 100.0, 50, 5, true), 0.0);
    assert_eq!(s.content_ms.len(), 10);
    assert!(s.gaps_ms().all(|g| g == 100.0));
    assert!((s.tpot_ms().unwrap() - (1101.0 - 200.0) / 49.0).abs() < 1e-9);

    // A single token has no TPOT; times are relative to the run origin.
    let s = to_sample(&plan(), 0, 0, &timeline(200.0, 20.0, 1, 1, true), -1000.0);
    assert_eq!(s.tpot_ms(), None);
    assert_eq!(s.start_ms, 1000.0);
    assert_eq!(s.ttft_ms(), Some(200.0));
}

#[test]
fn non_streaming_presets_estimate_or_use_usage() {
    let body = br#"{"generated_text":" Artificial intelligence","details":{"finish_reason":"length","generated_tokens":3,"seed":null,"prefill":[],"tokens":[]}}"#;
    let p = parse(
        &Preset::TgiGenerate.shape(),
        &outcome(vec![(9.0, body.to_vec())]),
    );
    expect(&p, 0, 3, TokenSource::Usage, None);
    let body = br#"{"model":"llama3.2","response":"abcdefgh","done":true,"eval_count":9}"#;
    let mut shape = Preset::OllamaGenerate.shape();
    shape.framing = stampede_engine::Framing::Json;
    let p = parse(&shape, &outcome(vec![(9.0, body.to_vec())]));
    expect(&p, 0, 9, TokenSource::Usage, None);
    let body = br#"{"choices":[{"text":"abcdefghi"}]}"#;
    let p = parse(
        &Preset::OpenaiCompletions.shape(),
        &outcome(vec![(9.0, body.to_vec())]),
    );
    expect(&p, 0, 3, TokenSource::Estimate, None);
}
