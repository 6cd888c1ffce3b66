//! Statistics over 1,000,000 samples: the cost of one stage table at the largest allowed stage.
//! Run with `cargo xtask bench` (or `cargo bench -p stampede-engine`); prints figures, asserts
//! nothing about time.

use std::time::Instant;

use stampede_engine::{benchmark_stage, Environment, Report, RunConfig, Sample, StageSpec, Suite};

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
    let agg = benchmark_stage(N as u32);
    let mut times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let stats = agg.stats();
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(stats[0].completed, N);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "figure: statistics over 1,000,000 samples, native; target: (info: the target is for wasm); measured: {:.1} ms (median of 5; {:.1}–{:.1})",
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
