//! Hostile input never panics: a seeded mutation loop over real reports, configs and plans runs
//! each mutant through import, validation and everything the page then computes from it.
//!
//! Share links get the same treatment: characters changed, cut or added, and the test inside
//! mutated and packed again.
//!
//! The default test run does 5,000 mutants (10,000 share links); `cargo xtask fuzz [N]` runs N
//! of each (1,000,000 by default) in release and prints the counts. A panic in wasm ends the page, so any panic here
//! fails with the input that caused it.

use std::panic::{catch_unwind, AssertUnwindSafe};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use stampede_engine::{
    Aggregator, Environment, ErrorClass, Period, Plan, Preset, RateSpec, Report, RunConfig, Sample,
    StageSpec, Suite, TargetInfo, TokenSource,
};

/// A report with every kind of sample the page makes: streamed, failed, warm-up, open-loop.
fn seed_report() -> String {
    let config = RunConfig {
        preset: Preset::OpenaiChatStream,
        model: "m".into(),
        suite: Suite::Custom,
        custom_stages: vec![
            StageSpec {
                duration_s: None,
                ramp_from: None,
                name: "closed".into(),
                concurrency: 2,
                requests: 6,
                rate: None,
            },
            StageSpec {
                duration_s: None,
                ramp_from: None,
                name: "open".into(),
                concurrency: 4,
                requests: 6,
                rate: Some(RateSpec {
                    per_s: 20.0,
                    poisson: true,
                    seed: 1,
                }),
            },
        ],
        aliases: "http://127.0.0.2:8000".into(),
        ..RunConfig::default()
    };
    let mut agg = Aggregator::with_targets(
        config.stages(),
        vec![
            "http://127.0.0.1:8000".into(),
            "http://127.0.0.2:8000".into(),
        ],
    );
    for i in 0..14u64 {
        let start = i as f64 * 20.0;
        let failed = i % 5 == 3;
        agg.push(Sample {
            stage: u32::from(i >= 7),
            index: i,
            start_ms: start,
            headers_ms: Some(start + 2.0),
            end_ms: start + 40.0,
            status: Some(if failed { 500 } else { 200 }),
            error_class: failed.then_some(ErrorClass::Http),
            error_message: failed.then(|| "HTTP 500: boom".into()),
            output_tokens: (!failed).then_some(3),
            token_source: (!failed).then_some(TokenSource::Usage),
            first_token_ms: (!failed).then_some(start + 10.0),
            content_ms: if failed {
                Vec::new()
            } else {
                vec![start + 10.0, start + 20.0, start + 30.0]
            },
            target: (i % 2) as u32,
            warmup: i == 0 || i == 7,
            intended_ms: (i >= 7).then_some(start - 1.0),
            queue_ms: Some(0.5),
            ..Sample::default()
        });
    }
    agg.stage_ended(0, vec![2, 1], 0);
    agg.set_protocol(0, stampede_engine::Protocol::Http1);
    let env = Environment {
        user_agent: "fuzz".into(),
        page_origin: "http://127.0.0.1:8080".into(),
        timer_resolution_ms: Some(0.005),
        hidden_periods: vec![Period {
            start_ms: 5.0,
            end_ms: 9.0,
        }],
        long_tasks: vec![Period {
            start_ms: 1.0,
            end_ms: 60.0,
        }],
        targets: vec![TargetInfo::default()],
        ..Environment::default()
    };
    Report::new("2026-12-02T00:00:00.000Z".into(), &config, env, false, &agg).to_json()
}

fn seed_config() -> String {
    serde_json::to_string(&RunConfig {
        preset: Preset::Custom,
        prompts: "a\nb".into(),
        headers: "X-Team: ml".into(),
        warmup: Some(1),
        ..RunConfig::default()
    })
    .unwrap()
}

fn seed_plan() -> String {
    serde_json::to_string(&RunConfig::default().validate().unwrap()).unwrap()
}

/// Values that break naive code: huge, negative, fractional, wrong types, long strings.
fn odd_value(rng: &mut SmallRng) -> Value {
    match rng.random_range(0..16) {
        0 => json!(1e300),
        1 => json!(-1e300),
        2 => json!(-1),
        3 => json!(u64::MAX),
        4 => json!(i64::MIN),
        5 => json!(0.5),
        6 => json!(0),
        7 => json!(4294967296u64),
        8 => Value::Null,
        9 => json!(""),
        10 => json!("x".repeat(rng.random_range(0..5000))),
        11 => json!([]),
        12 => json!({}),
        13 => json!(true),
        14 => json!([1e308, -1e308, 0]),
        _ => json!(rng.random_range(-1e6..1e9)),
    }
}

/// Every JSON pointer in `v`.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                pointers(
                    x,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                pointers(x, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn mutate(seed: &str, rng: &mut SmallRng) -> String {
    if rng.random_bool(0.2) {
        // Byte-level damage: flips, cuts and insertions anywhere in the text.
        let mut bytes = seed.as_bytes().to_vec();
        for _ in 0..rng.random_range(1..8) {
            if bytes.is_empty() {
                break;
            }
            let i = rng.random_range(0..bytes.len());
            match rng.random_range(0..3) {
                0 => bytes[i] = rng.random(),
                1 => bytes.truncate(i),
                _ => bytes.insert(i, b"{}[]\",:-0e9"[rng.random_range(0..11)]),
            }
        }
        return String::from_utf8_lossy(&bytes).into_owned();
    }
    let Ok(mut doc) = serde_json::from_str::<Value>(seed) else {
        return seed.to_string();
    };
    for _ in 0..rng.random_range(1..6) {
        let mut all = Vec::new();
        pointers(&doc, String::new(), &mut all);
        let at = &all[rng.random_range(0..all.len())];
        let op = rng.random_range(0..4);
        let Some(node) = doc.pointer_mut(at) else {
            continue;
        };
        match (op, &mut *node) {
            (0, Value::Object(m)) if !m.is_empty() => {
                let k = m.keys().nth(rng.random_range(0..m.len())).cloned();
                if let Some(k) = k {
                    m.remove(&k);
                }
            }
            (1, Value::Array(a)) if !a.is_empty() && a.len() < 2000 => {
                let x = a[rng.random_range(0..a.len())].clone();
                for _ in 0..rng.random_range(1..50) {
                    a.push(x.clone());
                }
            }
            _ => *node = odd_value(rng),
        }
    }
    doc.to_string()
}

/// Everything the page does with an input it accepted.
fn exercise(text: &str) {
    if let Ok(report) = Report::from_json(text) {
        let agg = report.aggregator();
        let stats = agg.stats();
        assert!(stats.len() <= report.config.stages().len());
        // What the page draws from an imported report.
        let latencies: Vec<(u32, f64)> = agg.samples().map(|s| (s.stage, s.latency_ms())).collect();
        let _ = stampede_engine::histogram(&latencies, agg.stages().len());
        let activity = stampede_engine::activity_over_time(agg.samples(), 0.0);
        assert!(activity.in_flight.len() <= stampede_engine::MAX_BUCKETS);
        let _ = stampede_engine::latency_over_time(&agg, stats.len());
        let tokens = stampede_engine::tokens_over_time(agg.samples());
        assert!(tokens.per_s.len() <= stampede_engine::MAX_BUCKETS);
        let _ = stampede_engine::vs_concurrency(&stats, &[|s| s.requests_per_s]);
        let _ = stampede_engine::fidelity(&report.environment, &stats);
        let _ = stampede_engine::headline(&stats);
        let _ = stampede_engine::over_http1_cap(&report.config);
        // "Load this test into the form" validates the imported config.
        let _ = report.config.validate();
        let _ = stampede_engine::progress(&agg, Some(0), 1500.0, &[1, 2, 3]);
        let back = Report::from_json(&report.to_json());
        assert!(back.is_ok(), "an accepted report re-imports: {back:?}");
    }
    if let Ok(config) = serde_json::from_str::<RunConfig>(text) {
        let _ = config.redacted();
        let _ = config.suggested_aliases();
        let _ = config.request_url();
        if let Ok(plan) = config.validate() {
            exercise_plan(&plan);
        }
    }
    if let Ok(plan) = serde_json::from_str::<Plan>(text) {
        exercise_plan(&plan);
    }
}

fn exercise_plan(plan: &Plan) {
    for stage in 0..plan.stages().len() + 1 {
        for target in 0..plan.urls().len() + 1 {
            let _ = plan.request_to(stage, u64::MAX - 1, target);
        }
        let _ = plan.warmup_count(stage);
    }
    let _ = plan.total_requests();
}

#[test]
fn mutated_reports_configs_and_plans_never_panic() {
    let n: u64 = std::env::var("STAMPEDE_FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000);
    let seeds = [seed_report(), seed_config(), seed_plan()];
    for s in &seeds {
        exercise(s);
    }
    assert!(
        Report::from_json(&seeds[0]).is_ok(),
        "the seed report imports"
    );
    let mut rng = SmallRng::seed_from_u64(0x5747_4d50);
    let mut panics = Vec::new();
    let mut accepted = 0u64;
    // Quiet the default hook: a panic is collected with its input and reported once.
    std::panic::set_hook(Box::new(|_| {}));
    for i in 0..n {
        let seed = &seeds[(i % 3) as usize];
        let input = mutate(seed, &mut rng);
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            exercise(&input);
            Report::from_json(&input).is_ok()
        }));
        match outcome {
            Ok(true) => accepted += 1,
            Ok(false) => {}
            Err(e) => {
                let why = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                panics.push(format!("#{i}: {why}\n  input: {:.400}", input));
                if panics.len() >= 5 {
                    break;
                }
            }
        }
    }
    let _ = std::panic::take_hook();
    println!(
        "fuzz: {n} mutated inputs (reports, configs, plans), {accepted} reports accepted, {} panics",
        panics.len()
    );
    assert!(panics.is_empty(), "{}", panics.join("\n"));
}

/// Share links as the page makes them, for every preset, with stages, rates and headers.
fn seed_links() -> Vec<String> {
    let custom: RunConfig = serde_json::from_str(&seed_config()).unwrap();
    let report = Report::from_json(&seed_report()).unwrap().config;
    Preset::ALL
        .into_iter()
        .map(|preset| RunConfig {
            preset,
            ..custom.clone()
        })
        .chain([report, RunConfig::default()])
        .map(|c| stampede_engine::encode_link(&c))
        .collect()
}

/// Damage a link as a chat client, a mail program or a hostile sender might: characters
/// changed, cut or added, or the test inside changed and packed again.
fn mutate_link(seed: &str, rng: &mut SmallRng) -> String {
    const CHARS: &[u8] =
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.#=%+/ t2";
    if rng.random_bool(0.3) {
        // The JSON inside, mutated like the config seeds, then packed as the page would.
        let Some(json) = stampede_engine::decode_link(seed)
            .ok()
            .and_then(|c| serde_json::to_string(&c).ok())
        else {
            return seed.to_string();
        };
        let packed = pack_json(&mutate(&json, rng));
        return packed.unwrap_or_else(|| seed.to_string());
    }
    let mut bytes = seed.as_bytes().to_vec();
    for _ in 0..rng.random_range(1..6) {
        if bytes.is_empty() {
            break;
        }
        let i = rng.random_range(0..bytes.len());
        match rng.random_range(0..4) {
            0 => bytes[i] = CHARS[rng.random_range(0..CHARS.len())],
            1 => bytes.truncate(i),
            2 => bytes.insert(i, CHARS[rng.random_range(0..CHARS.len())]),
            _ => bytes[i] = rng.random(),
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A link for arbitrary JSON text, through the public codec: `encode_link` only takes a
/// config, so the text must read as one first (else the mutant is the text itself, which the
/// byte-level path covers anyway).
fn pack_json(json: &str) -> Option<String> {
    let config: RunConfig = serde_json::from_str(json).ok()?;
    Some(stampede_engine::encode_link(&config))
}

#[test]
fn mutated_share_links_never_panic() {
    let n: u64 = std::env::var("STAMPEDE_FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        // 100,000 take about 30 s of CPU in a debug build: too long for every test run.
        .unwrap_or(10_000);
    let seeds = seed_links();
    for s in &seeds {
        assert!(
            stampede_engine::decode_link(s).is_ok(),
            "a seed link reads: {s}"
        );
    }
    let mut rng = SmallRng::seed_from_u64(0x7368_6172);
    let mut panics = Vec::new();
    let mut accepted = 0u64;
    for i in 0..n {
        let input = mutate_link(&seeds[(i as usize) % seeds.len()], &mut rng);
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            match stampede_engine::decode_link(&input) {
                // What the page does with a link it read: fill the form, validate, link again.
                Ok(config) => {
                    let _ = config.validate();
                    let _ = config.suggested_aliases();
                    let again =
                        stampede_engine::decode_link(&stampede_engine::encode_link(&config));
                    assert!(
                        again.is_ok(),
                        "an accepted link's test links again: {again:?}"
                    );
                    let saved = stampede_engine::save_form(&config, true);
                    assert!(stampede_engine::restore_form(&saved).is_ok());
                    true
                }
                Err(message) => {
                    assert!(!message.is_empty());
                    false
                }
            }
        }));
        match outcome {
            Ok(true) => accepted += 1,
            Ok(false) => {}
            Err(e) => {
                let why = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                panics.push(format!("#{i}: {why}\n  input: {input:.400}"));
                if panics.len() >= 5 {
                    break;
                }
            }
        }
    }
    println!(
        "fuzz: {n} mutated share links, {accepted} accepted, {} panics",
        panics.len()
    );
    assert!(panics.is_empty(), "{}", panics.join("\n"));
}
