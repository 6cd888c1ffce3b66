//! Statistics over 1,000,000 samples: the cost of one stage table at the largest allowed stage.
//! Run with `cargo xtask bench` (or `cargo bench -p stampede-engine`); prints figures, asserts
//! nothing about time.

use std::time::Instant;

use stampede_engine::{
    Aggregator, Environment, Report, RunConfig, Sample, StageSpec, Suite, TokenSource,
};

fn main() {
    const N: u64 = 1_000_000;
    let spec = StageSpec {
        duration_s: None,
        ramp_from: None,
        name: "bench".into(),
        concurrency: 100,
        requests: N as u32,
        rate: None,
    };
    let mut agg = Aggregator::new(vec![spec.clone()]);
    // Deterministic pseudo-random latencies (xorshift), so runs compare.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..N {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let latency = 50.0 + (x % 10_000) as f64 / 10.0;
        let start = i as f64 * 0.5;
        agg.push(Sample {
            stage: 0,
            index: i,
            start_ms: start,
            headers_ms: Some(start + latency / 3.0),
            end_ms: start + latency,
            status: Some(200),
            error_class: None,
            error_message: None,
            output_tokens: Some(50),
            token_source: Some(TokenSource::Usage),
            server_tokens_per_s: Some(100.0),
            ..Sample::default()
        });
    }
    let mut times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let stats = agg.stats();
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(stats[0].completed, N);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "stats over {N} samples (latency, ttfb, server tok/s distributions): median {:.1} ms, min {:.1} ms, max {:.1} ms over 5 rounds",
        times[2], times[0], times[4]
    );

    // Memory: the compact store against a plain `Sample` (its size on this 64-bit machine;
    // wasm32 halves the pointer-sized parts).
    println!(
        "figure: bytes per kept non-streamed sample; target: <= 64; measured: {:.1} (a plain Sample is {} bytes here)",
        agg.sample_bytes() as f64 / N as f64,
        std::mem::size_of::<Sample>()
    );

    // Export and re-import of the million-sample run, as the page does it.
    let config = RunConfig {
        suite: Suite::Custom,
        custom_stages: vec![spec],
        ..RunConfig::default()
    };
    let t = Instant::now();
    let head = Report::head(
        "2026-12-02T00:00:00Z".into(),
        &config,
        Environment::default(),
        false,
        &agg,
    );
    let parts = head.export_parts(agg.samples());
    let export_ms = t.elapsed().as_secs_f64() * 1000.0;
    let text = parts.concat();
    let t = Instant::now();
    let report = Report::from_json(&text).expect("the export re-imports");
    let back = report.aggregator();
    let import_ms = t.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(back.len() as u64, N);
    assert_eq!(back.stats()[0].latency_ms, agg.stats()[0].latency_ms);
    println!(
        "figure: 1,000,000-request export; measured: {:.1} MB in {} parts, built in {export_ms:.0} ms; re-import (parse, bounds, aggregate) {import_ms:.0} ms; figures identical",
        text.len() as f64 / 1e6,
        parts.len()
    );
}
