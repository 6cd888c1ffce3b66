//! Ground truth: the built `stampede` binary against the real mock over loopback. What the mock
//! counted must be what the CLI planned and reported; its latency must be the server's.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{read_report, serial, stampede, temp_dir, text, Mock};
use stampede_engine::{ErrorClass, Protocol, TokenSource};
use stampede_mock::MockConfig;

fn latency(ms: f64) -> MockConfig {
    MockConfig {
        latency_ms: ms,
        ..MockConfig::default()
    }
}

#[test]
fn quick_suite_as_the_seed_ran_it() {
    let _one = serial();
    let m = Mock::start(latency(50.0));
    let dir = temp_dir("quick");
    let (json, csv) = (dir.join("r.json"), dir.join("r.csv"));
    let out = stampede(&[
        "--test-suite",
        "quick",
        "--url",
        &m.url,
        "--output",
        json.to_str().unwrap(),
        "--csv",
        csv.to_str().unwrap(),
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    for want in [
        "=== Low Concurrency Test (concurrency 2, 10 requests) ===",
        "=== Medium Concurrency Test (concurrency 5, 20 requests) ===",
        "Total requests:       10",
        "Total requests:       20",
        "Success rate:         100.0%",
        "p90 / p95 / p99:",
        "Errors:               none",
    ] {
        assert!(stdout.contains(want), "{want}\n{stdout}");
    }
    let (report, doc) = read_report(&json);
    let counts: Vec<_> = report
        .stages
        .iter()
        .map(|s| {
            (
                s.requested_concurrency,
                s.completed,
                s.successful,
                s.warmups,
            )
        })
        .collect();
    assert_eq!(counts, [(2, 10, 10, 2), (5, 20, 20, 5)]);
    // 30 requests and one warm-up per slot (2 + 5), each seen once by the server.
    let stats = m.stats();
    assert_eq!(stats.requests, 37);
    assert_eq!(stats.max_in_flight, 5);
    assert_eq!(report.samples.len(), 37);
    // The seed API's body: 50 tokens of 4 characters, estimated from the text.
    assert!(report
        .samples
        .iter()
        .all(|s| s.output_tokens == Some(50) && s.token_source == Some(TokenSource::Estimate)));
    assert_eq!(doc["environment"]["client"]["kind"], "native");
    assert_eq!(
        report.environment.targets[0].protocol,
        Some(Protocol::Http1)
    );
    assert!(!report.stopped);
    let csv = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(csv.starts_with("stage,name,concurrency"));
    // The report re-runs as it was (its config), a flag overriding it: 30 more, no warm-ups.
    let again = dir.join("again.json");
    let out = stampede(&[
        "--config",
        json.to_str().unwrap(),
        "--warmup",
        "0",
        "--output",
        again.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let (rerun, _) = read_report(&again);
    assert_eq!(rerun.config.suite, report.config.suite);
    assert_eq!(m.stats().requests, 37 + 30);
}

#[test]
fn comprehensive_reaches_twenty_in_flight_at_the_mock() {
    let _one = serial();
    let m = Mock::start(latency(50.0));
    let dir = temp_dir("comprehensive");
    let json = dir.join("r.json");
    let out = stampede(&[
        "--test-suite",
        "comprehensive",
        "--url",
        &m.url,
        "--output",
        json.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let (report, _) = read_report(&json);
    let counts: Vec<_> = report.stages.iter().map(|s| s.successful).collect();
    assert_eq!(counts, [50, 100, 200, 100]);
    // No browser cap: the last stage's 20 were in flight at the server at once, never more.
    let stats = m.stats();
    assert_eq!(stats.max_in_flight, 20);
    assert_eq!(stats.requests, 450 + 2 + 5 + 10 + 20);
    assert_eq!(report.stages[3].max_in_flight, [20]);
}

#[test]
fn medians_are_the_servers_latency() {
    let _one = serial();
    // The mock's timer fires on whole-ms ticks, so a closed loop's latency depends on where
    // in a tick each request lands, and a client 0.2 ms slower can read 1 ms slower. Up to
    // 1 ms of jitter (one tick) makes the firing time independent of that phase.
    let m = Mock::start(MockConfig {
        jitter_ms: 1.0,
        ..latency(50.0)
    });
    // What a bare client loop sees from this mock, before and after: on a loaded machine the
    // server's 50 ms sleep itself overshoots by a few ms, and both clients see that alike.
    let before = m.bare_median(5, 100);
    let dir = temp_dir("medians");
    let json = dir.join("r.json");
    let out = stampede(&[
        "--stages",
        "5x200",
        "--warmup",
        "5",
        "--url",
        &m.url,
        "--output",
        json.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let after = m.bare_median(5, 100);
    let (report, _) = read_report(&json);
    let p50 = report.stages[0].latency_ms.as_ref().unwrap().p50;
    let (lo, hi) = (before.min(after), before.max(after));
    println!("CLI median {p50:.2} ms; bare reqwest loop {before:.2} ms before, {after:.2} after; server sleeps 50 ms");
    assert!(p50 >= 50.0, "median {p50} below the server's own latency");
    assert!(
        p50 <= hi + 1.0 && p50 >= lo - 1.0,
        "median {p50} not within 1 ms of the bare loop's {lo:.2}–{hi:.2}"
    );
}

#[test]
fn ctrl_c_stops_and_writes_a_partial_report() {
    let _one = serial();
    let m = Mock::start(latency(200.0));
    let dir = temp_dir("ctrl-c");
    let json = dir.join("r.json");
    let child = Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args(["--stages", "4x1000", "--warmup", "0", "--url", &m.url])
        .args(["--output", json.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("stampede runs");
    // Stop mid-run, with requests in flight (4 every 200 ms).
    let deadline = Instant::now() + Duration::from_secs(20);
    while m.stats().requests < 10 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(100));
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    let out = child.wait_with_output().expect("stampede ends");
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("Stopped (Ctrl-C)"));
    let (report, _) = read_report(&json);
    assert!(report.stopped);
    let aborted = report
        .samples
        .iter()
        .filter(|s| s.error_class == Some(ErrorClass::Aborted))
        .count();
    assert!((1..=4).contains(&aborted), "{aborted} aborted");
    let st = &report.stages[0];
    assert_eq!(st.aborted as usize, aborted);
    assert!(st.completed >= 8 && st.completed < 1000, "{}", st.completed);
    // Every request the server saw is in the report (one sent just before Stop may not have
    // reached it, so the report may hold more).
    assert!(m.stats().requests <= report.samples.len() as u64);
}

#[test]
fn streams_are_timed_chunk_by_chunk() {
    let _one = serial();
    let m = Mock::start(MockConfig {
        ttft_ms: 30.0,
        per_token_ms: 20.0,
        tokens: 8,
        ..MockConfig::default()
    });
    let dir = temp_dir("stream");
    let json = dir.join("r.json");
    let out = stampede(&[
        "--preset",
        "openai-chat-stream",
        "--model",
        "stampede-mock",
        "--stages",
        "2x6",
        "--url",
        &m.url,
        "--output",
        json.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("TTFT median / p99:"));
    let (report, _) = read_report(&json);
    for s in report.samples.iter().filter(|s| !s.warmup) {
        // 8 content events, the server sends event k at 30 + 20k ms after the headers (never
        // early): the first at ≥ 30 ms, the last at ≥ 30 + 7 × 20 = 170 ms, each time-stamped
        // as it arrived rather than all at the end. The gaps are wide (20 ms) and the upper
        // bounds loose because a loaded 2-core machine delays and batches reads by tens of ms
        // (5 ms gaps failed there); events stamped at the end would spread over ~0 ms.
        assert_eq!(s.content_ms.len(), 8, "{s:?}");
        assert_eq!(s.output_tokens, Some(8));
        assert_eq!(s.token_source, Some(TokenSource::Usage));
        let ttft = s.first_token_ms.unwrap() - s.start_ms;
        let last = s.content_ms[7] - s.start_ms;
        let spread = s.content_ms[7] - s.content_ms[0];
        assert!((30.0..150.0).contains(&ttft), "ttft {ttft}");
        assert!((170.0..400.0).contains(&last), "last event at {last}");
        assert!(spread > 70.0, "events spread over {spread} ms only");
    }
    let st = &report.stages[0];
    assert!(st.ttft_ms.is_some() && st.tpot_ms.is_some());
}

#[test]
fn https_endpoints_are_reported_as_http2() {
    let _one = serial();
    let m = Mock::start_tls(latency(0.0));
    let dir = temp_dir("h2");
    let (json, cert) = (dir.join("r.json"), dir.join("cert.pem"));
    std::fs::write(&cert, m.cert.as_deref().unwrap()).unwrap();
    let out = stampede(&[
        "--stages",
        "8x40",
        "--url",
        &m.url,
        "--cacert",
        cert.to_str().unwrap(),
        "--output",
        json.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let (report, _) = read_report(&json);
    assert_eq!(report.stages[0].successful, 40);
    assert_eq!(
        report.environment.targets[0].protocol,
        Some(Protocol::Http2)
    );
    // The pool cannot know a connection will be HTTP/2 before ALPN, so the first 8 requests
    // may each open one; none more after that.
    assert!(m.mock.connections() <= 8, "{}", m.mock.connections());
}

#[test]
fn timeouts_and_unreachable_servers_are_classed() {
    let _one = serial();
    let m = Mock::start(MockConfig {
        hang_rate: 1.0,
        ..latency(0.0)
    });
    let dir = temp_dir("failures");
    let json = dir.join("r.json");
    let out = stampede(&[
        "--stages",
        "2x4",
        "--warmup",
        "0",
        "--timeout",
        "1",
        "--url",
        &m.url,
        "--output",
        json.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let (report, _) = read_report(&json);
    for s in &report.samples {
        assert_eq!(s.error_class, Some(ErrorClass::Timeout), "{s:?}");
        assert_eq!(
            s.error_message.as_deref(),
            Some("no complete response within 1 s")
        );
        // Enforced at the set time: the sweep is exact here, not every 50 ms.
        let took = s.end_ms - s.start_ms;
        assert!((1000.0..1100.0).contains(&took), "{took}");
    }
    assert!(text(&out.stdout).contains("4 × timeout"));
    // A closed port: network errors, with the reason.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = stampede(&[
        "--stages",
        "1x2",
        "--warmup",
        "0",
        "--url",
        &format!("http://{port}"),
        "--output",
        json.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let (report, _) = read_report(&json);
    assert!(report.samples.iter().all(|s| {
        s.error_class == Some(ErrorClass::Network)
            && s.error_message
                .as_deref()
                .is_some_and(|m| m.contains("unreachable"))
    }));
}

#[test]
fn an_slo_is_judged_and_a_failed_one_exits_1() {
    let _one = serial();
    let m = Mock::start(latency(50.0));
    let dir = temp_dir("slo");
    let json = dir.join("r.json");
    // The mock sleeps 50 ms: a 10 ms median latency cannot hold, a 10 s one always does.
    let run = |threshold: &str| {
        stampede(&[
            "--stages",
            "2x20",
            "--warmup",
            "0",
            "--url",
            &m.url,
            "--slo",
            threshold,
            "--output",
            json.to_str().unwrap(),
        ])
    };
    let failed = run("latency-p50=10");
    let stdout = text(&failed.stdout);
    assert_eq!(
        failed.status.code(),
        Some(1),
        "{stdout}\n{}",
        text(&failed.stderr)
    );
    assert!(
        stdout.contains("SLO: fail") && stdout.contains("latency p50"),
        "{stdout}"
    );
    let (report, _) = read_report(&json);
    let slo = report.slo.expect("the report carries the SLO section");
    assert_eq!(slo.thresholds.latency_p50_ms, Some(10.0));
    let held = run("latency-p50=10000");
    assert_eq!(held.status.code(), Some(0), "{}", text(&held.stdout));
    assert!(text(&held.stdout).contains("SLO: pass"));
    // An unknown metric is a usage error naming the flag.
    let bad = run("latency-p42=1");
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("--slo"), "{}", text(&bad.stderr));
}
