//! Statistics over 1,000,000 samples: the cost of one stage table at the largest allowed stage.
//! Run with `cargo xtask bench` (or `cargo bench -p stampede-engine`); prints figures, asserts
//! nothing about time.

use std::time::Instant;

use stampede_engine::{Aggregator, Sample, StageSpec, TokenSource};

fn main() {
    const N: u64 = 1_000_000;
    let mut agg = Aggregator::new(vec![StageSpec {
        name: "bench".into(),
        concurrency: 100,
        requests: N as u32,
        rate: None,
    }]);
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
}
