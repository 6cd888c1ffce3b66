//! `?bench=stats`: a benchmark entry in the page's real build, for `cargo xtask bench`
//! (`e2e/bench/browser.mjs` opens it). Not linked from the UI: with that query the page times
//! the statistics over 1,000,000 synthetic samples (the same stage as the native
//! `cargo bench -p stampede-engine`) instead of mounting, and prints the figures as JSON in
//! `<pre id="bench-result">`.

use crate::browser::now_ms;

/// Samples in the benchmark's stage, and how many times the statistics are timed.
const SAMPLES: u32 = 1_000_000;
const ROUNDS: usize = 5;

/// Whether the page was opened as the statistics benchmark.
pub fn requested() -> bool {
    web_sys::window()
        .and_then(|w| w.location().search().ok())
        .is_some_and(|q| {
            q.trim_start_matches('?')
                .split('&')
                .any(|p| p == "bench=stats")
        })
}

/// Time `Aggregator::stats` over the benchmark stage and print the figures.
pub fn run_stats() {
    let t = now_ms();
    let agg = stampede_engine::benchmark_stage(SAMPLES);
    let build_ms = now_ms() - t;
    let mut times = Vec::with_capacity(ROUNDS);
    let mut completed = 0;
    for _ in 0..ROUNDS {
        let t = now_ms();
        let stats = agg.stats();
        times.push(now_ms() - t);
        completed = stats.first().map_or(0, |s| s.completed);
    }
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted.get(ROUNDS / 2).copied().unwrap_or(f64::NAN);
    let text = serde_json::json!({
        "samples": SAMPLES,
        "completed": completed,
        "build_ms": build_ms,
        "times_ms": times,
        "median_ms": median,
    })
    .to_string();
    let Some(doc) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    if let (Ok(pre), Some(body)) = (doc.create_element("pre"), doc.body()) {
        pre.set_id("bench-result");
        pre.set_text_content(Some(&text));
        let _ = body.append_child(&pre);
    }
}
