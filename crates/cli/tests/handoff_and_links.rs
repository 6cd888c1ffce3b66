//! `stampede export locust|k6` writes exactly what the engine's hand-off writes for the same
//! test (the page's export buttons), secrets as environment variables; `--share-link` runs the
//! page's test against the real mock, flags given beside it win, and a damaged link exits 2.

mod common;

use common::{read_report, serial, stampede, temp_dir, text, Mock};
use stampede_engine::{encode_link, k6_script, locustfile, Preset, RunConfig, Suite};
use stampede_mock::MockConfig;

const KEY: &str = "sk-cli-export-secret";
const TEAM: &str = "team-secret-value";

/// The test the export flags below describe, built as the page's form holds it.
fn streaming_test(url: &str) -> RunConfig {
    RunConfig {
        preset: Preset::from_id("openai-chat-stream").expect("preset"),
        endpoint: url.into(),
        model: "e2e-model".into(),
        suite: Suite::Quick,
        api_key: KEY.into(),
        // --header lines in the order given.
        headers: format!("X-Team: {TEAM}\nAccept: text/event-stream"),
        ..RunConfig::default()
    }
}

fn export_args<'a>(engine: &'a str, url: &'a str, team: &'a str) -> Vec<&'a str> {
    vec![
        "export",
        engine,
        "--url",
        url,
        "--preset",
        "openai-chat-stream",
        "--model",
        "e2e-model",
        "--test-suite",
        "quick",
        "--api-key",
        KEY,
        "--header",
        team,
        "--header",
        "Accept: text/event-stream",
    ]
}

#[test]
fn export_writes_the_engines_handoff_without_secrets() {
    let url = "http://127.0.0.1:8000/v1";
    let team = format!("X-Team: {TEAM}");
    let config = streaming_test(url);

    // Locust to stdout.
    let out = stampede(&export_args("locust", url, &team));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let want = locustfile(&config).expect("the engine writes the test");
    let got = text(&out.stdout);
    assert_eq!(got, want);
    // k6 to a file (--output after the other flags, as for a run).
    let dir = temp_dir("export");
    let path = dir.join("stampede-k6.js");
    let mut args = export_args("k6", url, &team);
    args.extend(["--output", path.to_str().unwrap()]);
    let out = stampede(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    let k6 = std::fs::read_to_string(&path).expect("k6 script written");
    assert_eq!(k6, k6_script(&config).expect("the engine writes the test"));

    for file in [&got, &k6] {
        assert!(!file.contains(KEY), "the API key is in the file");
        assert!(!file.contains(TEAM), "the X-Team value is in the file");
        assert!(file.contains("STAMPEDE_API_KEY"), "no variable for the key");
        assert!(
            file.contains("text/event-stream"),
            "the harmless header is kept"
        );
    }
    // The key was given, so the file says it needs it; without one it does not.
    let keyless = stampede(&["export", "locust", "--url", url, "--test-suite", "quick"]);
    assert_eq!(keyless.status.code(), Some(0), "{}", text(&keyless.stderr));
    let plain = RunConfig {
        endpoint: url.into(),
        suite: Suite::Quick,
        ..RunConfig::default()
    };
    assert_eq!(text(&keyless.stdout), locustfile(&plain).unwrap());
    assert_ne!(text(&keyless.stdout), got);
}

#[test]
fn export_refuses_what_a_run_would() {
    let cases: [(&[&str], &str); 4] = [
        (
            &["export", "locust", "--preset", "openai-chat"],
            "--model: ",
        ),
        (&["export", "k6", "--stages", "0x5"], "--stages (stage 1)"),
        (&["export", "k6", "--csv", "x.csv"], "--csv: only for a run"),
        (
            &["export", "locust", "--share-link", "https://h/#t1.AAAA"],
            "--share-link: ",
        ),
    ];
    for (args, want) in cases {
        let out = stampede(args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(want),
            "{args:?}: want {want:?} in\n{stderr}"
        );
        assert!(out.stdout.is_empty(), "{args:?} wrote a file anyway");
    }
}

/// A custom test with stages no suite has: 3×6 then 4×8, no warm-ups (14 requests in all).
fn shared_test(url: &str) -> RunConfig {
    let mut stages = Suite::Quick.stages().expect("quick has stages");
    (stages[0].concurrency, stages[0].requests) = (3, 6);
    (stages[1].concurrency, stages[1].requests) = (4, 8);
    RunConfig {
        endpoint: url.into(),
        suite: Suite::Custom,
        custom_stages: stages,
        warmup: Some(0),
        ..RunConfig::default()
    }
}

fn link(config: &RunConfig) -> String {
    format!(
        "https://tools.example.com/team/stampede/#{}",
        encode_link(config)
    )
}

fn stage_counts(path: &std::path::Path) -> Vec<(u32, u64)> {
    let (report, _) = read_report(path);
    report
        .stages
        .iter()
        .map(|s| (s.requested_concurrency, s.completed))
        .collect()
}

#[test]
fn a_share_link_runs_its_stages_and_flags_override_it() {
    let _one = serial();
    // 50 ms per request: the 4 slots of the second stage overlap at the server.
    let m = Mock::start(MockConfig::default());
    let dir = temp_dir("share-link");

    // The link alone: its endpoint and its stages.
    let json = dir.join("link.json");
    let out = stampede(&[
        "--share-link",
        &link(&shared_test(&m.url)),
        "--output",
        json.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(stage_counts(&json), [(3, 6), (4, 8)]);
    let stats = m.stats();
    assert_eq!((stats.requests, stats.max_in_flight), (14, 4));

    // A link to a server that is not there, with --url and --stages given beside it: the
    // flags win (the mock is reached, one stage of 2×5), the rest (no warm-ups) stays.
    let json = dir.join("flags.json");
    let out = stampede(&[
        "--share-link",
        &link(&shared_test("http://127.0.0.1:9")),
        "--url",
        &m.url,
        "--stages",
        "2x5",
        "--output",
        json.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(stage_counts(&json), [(2, 5)]);
    assert_eq!(m.stats().requests, 14 + 5);
}

#[test]
fn a_damaged_share_link_exits_2_and_sends_nothing() {
    let _one = serial();
    let m = Mock::start(MockConfig::default());
    let good = link(&shared_test(&m.url));
    let cut = &good[..good.len() - 12];
    let newer = good.replace("#t1.", "#t7.");
    for (bad, want) in [
        (cut, "damaged"),
        (newer.as_str(), "newer Stampede"),
        (
            "https://tools.example.com/team/stampede/",
            "not a Stampede share link",
        ),
    ] {
        let out = stampede(&["--share-link", bad]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad}: {stderr}");
        assert!(
            stderr.contains("--share-link: ") && stderr.contains(want),
            "{bad}: want {want:?} in\n{stderr}"
        );
    }
    // --config and --share-link both set the test: refused, naming both.
    let out = stampede(&["--share-link", &good, "--config", "c.json"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--share-link") && stderr.contains("--config"),
        "{stderr}"
    );
    assert_eq!(m.stats().requests, 0);
}
