//! Stages by time, for real: the built `stampede` against the mock on loopback. A closed stage
//! keeps its concurrency for its duration and then starts nothing more; a ramp reaches its
//! target level. The mock's own counts are the ground truth.

mod common;

use common::{read_report, serial, stampede, temp_dir, text, Mock};
use stampede_mock::MockConfig;

/// The sample's start is stamped by the transport as it sends, just after the runner checked
/// its clock: this much later at most on a loaded machine (a fraction of one 50 ms response).
const STAMP_SLACK_MS: f64 = 25.0;

fn mock() -> Mock {
    Mock::start(MockConfig {
        latency_ms: 50.0,
        ..MockConfig::default()
    })
}

fn run(m: &Mock, name: &str, stages: &str) -> stampede_engine::Report {
    let dir = temp_dir(name);
    let json = dir.join("r.json");
    let out = stampede(&[
        "--stages",
        stages,
        "--warmup",
        "0",
        "--url",
        &m.url,
        "--output",
        json.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    read_report(&json).0
}

#[test]
fn a_closed_stage_by_time_keeps_its_concurrency_for_its_duration() {
    let _one = serial();
    let m = mock();
    let report = run(&m, "by-time", "10x3s");
    let st = &report.stages[0];
    assert_eq!((st.planned_duration_s, st.planned_requests), (Some(3), 0));
    // Exactly 10 in flight at the server, never more; every request it saw is in the report,
    // and all of them completed (those in flight at the end finished and count).
    let stats = m.stats();
    assert_eq!(stats.max_in_flight, 10);
    assert_eq!(stats.requests, report.samples.len() as u64);
    assert_eq!(st.completed, stats.requests);
    assert_eq!(st.max_in_flight, [10]);
    // The stage started requests for 3 s and no longer; something was in flight at 3 s, so
    // its wall time (first start → last end) is at least the duration.
    let first = report
        .samples
        .iter()
        .map(|s| s.start_ms)
        .fold(f64::MAX, f64::min);
    let last = report
        .samples
        .iter()
        .map(|s| s.start_ms)
        .fold(0.0, f64::max);
    assert!(st.wall_ms >= 3000.0, "wall {} ms", st.wall_ms);
    assert!(
        last - first < 3000.0 + STAMP_SLACK_MS,
        "a request started {} ms in",
        last - first
    );
    println!(
        "10x3s: {} requests, wall {:.0} ms, last start {:.0} ms in",
        st.completed,
        st.wall_ms,
        last - first
    );
}

#[test]
fn a_closed_ramp_climbs_to_its_target() {
    let _one = serial();
    let m = mock();
    let report = run(&m, "ramp", "1..8x4s");
    let st = &report.stages[0];
    assert_eq!((st.planned_duration_s, st.ramp_from), (Some(4), Some(1.0)));
    // Levels 1, 2, … 8, each for 4 s / 8 = 500 ms: the last one reaches 8 at the server.
    let stats = m.stats();
    assert_eq!(stats.max_in_flight, 8);
    assert_eq!(st.max_in_flight, [8]);
    assert_eq!(stats.requests, report.samples.len() as u64);
    // At level 1 (the first 500 ms) one request at a time: those that started in the first
    // 400 ms never overlap.
    let mut early: Vec<(f64, f64)> = report
        .samples
        .iter()
        .map(|s| (s.start_ms, s.end_ms))
        .collect();
    early.sort_by(|a, b| a.0.total_cmp(&b.0));
    let t0 = early[0].0;
    early.retain(|s| s.0 < t0 + 400.0);
    assert!(early.len() >= 2, "{early:?}");
    for w in early.windows(2) {
        assert!(w[1].0 >= w[0].1, "overlap at level 1: {w:?}");
    }
}
