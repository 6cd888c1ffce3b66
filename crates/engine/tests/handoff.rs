//! The hand-off files of one fixed test, compared with committed snapshots in
//! `tests/fixtures/handoff/`. The k6 script cannot be run here (k6 is not installable), so its
//! snapshot is what a reviewer reads; `e2e/tests/locust.test.mjs` runs the Locust file for real
//! and parses the k6 script as an ES module. After an intended change rewrite the snapshots with
//! `STAMPEDE_UPDATE_SNAPSHOTS=1 cargo test -p stampede-engine --test handoff` and read the diff.

use std::path::Path;

use stampede_engine::{k6_script, locustfile, Preset, RateSpec, RunConfig, StageSpec, Suite};

/// Streaming chat against the mock: two closed stages, a rate stage, a closed ramp by time, two host aliases, a
/// templated tag header, a secret header and an API key (neither may appear in the files).
fn config() -> RunConfig {
    let stage = |name: &str, concurrency, requests, rate: Option<f64>| StageSpec {
        duration_s: None,
        ramp_from: None,
        name: name.into(),
        concurrency,
        requests,
        rate: rate.map(|per_s| RateSpec {
            per_s,
            poisson: true,
            seed: 7,
        }),
    };
    RunConfig {
        preset: Preset::OpenaiChatStream,
        endpoint: "http://127.0.0.1:8000".into(),
        aliases: "http://127.0.0.2:8000\nhttp://127.0.0.3:8000".into(),
        model: "stampede-mock".into(),
        max_tokens: 16,
        prompts: "Say \"hello\" in one word.\nCount to three.".into(),
        headers:
            "X-Stampede-Request: {{i}}\nX-Team-Token: team-secret-42\nAccept: text/event-stream"
                .into(),
        api_key: "sk-fixture-secret".into(),
        timeout_s: 20,
        suite: Suite::Custom,
        custom_stages: vec![
            stage("Warm", 2, 20, None),
            stage("Busy", 4, 40, None),
            stage("Paced", 4, 30, Some(12.5)),
            StageSpec {
                duration_s: Some(30),
                ramp_from: Some(2.0),
                requests: 0,
                ..stage("Ramp", 8, 0, None)
            },
        ],
        ..RunConfig::default()
    }
}

fn check(name: &str, text: &str) {
    for secret in ["team-secret-42", "sk-fixture-secret"] {
        assert!(!text.contains(secret), "{name}: {secret} leaked");
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/handoff")
        .join(name);
    if std::env::var_os("STAMPEDE_UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, text).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (write it with STAMPEDE_UPDATE_SNAPSHOTS=1)",
            path.display()
        )
    });
    if want != text {
        let line = want
            .lines()
            .zip(text.lines())
            .position(|(a, b)| a != b)
            .map_or(want.lines().count().min(text.lines().count()), |n| n);
        panic!(
            "{name} differs from its snapshot at line {}:\n  snapshot: {:?}\n  now:      {:?}\n\
             (if the change is intended: STAMPEDE_UPDATE_SNAPSHOTS=1 cargo test -p stampede-engine --test handoff)",
            line + 1,
            want.lines().nth(line),
            text.lines().nth(line)
        );
    }
}

#[test]
fn the_locust_file_matches_its_snapshot() {
    check("locustfile.py", &locustfile(&config()).unwrap());
}

#[test]
fn the_k6_script_matches_its_snapshot() {
    check("stampede-k6.js", &k6_script(&config()).unwrap());
}
