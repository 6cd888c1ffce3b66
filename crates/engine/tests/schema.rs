//! Exported reports validate against the committed JSON Schema, and damaged ones do not.

use serde_json::Value;
use stampede_engine::Aggregator;
use stampede_engine::Suite;
use stampede_engine::{Environment, Report};
use stampede_engine::{ErrorClass, RunConfig, Sample};
use stampede_engine::{ServerDurations, Slo, TokenSource};

fn schema() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../schema/report.schema.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("schema file")).expect("schema JSON")
}

fn report() -> Report {
    let config = RunConfig {
        suite: Suite::Quick,
        headers: "Authorization: Bearer secret".into(),
        api_key: "sk-1".into(),
        slo: Slo {
            ttft_p95_ms: Some(1.0),
            latency_p50_ms: Some(4.5),
            error_rate_pct: Some(10.0),
            ..Slo::default()
        },
        ..RunConfig::default()
    };
    let mut agg = Aggregator::new(config.stages());
    let classes = [
        None,
        Some(ErrorClass::Network),
        Some(ErrorClass::Aborted),
        None,
    ];
    for (i, class) in classes.into_iter().enumerate() {
        agg.push(Sample {
            stage: (i % 2) as u32,
            index: i as u64,
            start_ms: i as f64,
            headers_ms: class.is_none().then_some(i as f64 + 1.0),
            end_ms: i as f64 + 5.0,
            status: class.is_none().then_some(200),
            error_class: class,
            error_message: class.map(|c| c.label().to_string()),
            output_tokens: class.is_none().then_some(3),
            token_source: class.is_none().then_some(TokenSource::Estimate),
            server_tokens_per_s: None,
            // The first request is streamed: timeline, prompt tokens and server durations.
            first_token_ms: (i == 0).then_some(0.5),
            content_ms: if i == 0 {
                vec![0.5, 1.5, 2.5]
            } else {
                Vec::new()
            },
            prompt_tokens: (i == 0).then_some(9),
            response_text: (i == 0).then(|| "Machine learning is".into()),
            server_durations: (i == 0).then(|| ServerDurations {
                total_ms: Some(4.0),
                ..ServerDurations::default()
            }),
            ..Sample::default()
        });
    }
    Report::new(
        "2026-11-28T10:00:00.000Z".into(),
        &config,
        Environment {
            engine_failure: Some("the engine's worker stopped answering".into()),
            ..Environment::default()
        },
        true,
        &agg,
    )
}

#[test]
fn exported_report_matches_schema() {
    let validator = jsonschema::validator_for(&schema()).expect("valid schema");
    let doc: Value = serde_json::from_str(&report().to_json()).unwrap();
    let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(doc["samples"][0]["response_text"], "Machine learning is");
    assert!(
        doc["samples"][1].get("response_text").is_none(),
        "absent when there is none"
    );
    // Stage 0: one success and one aborted request: 1 latency sample, p50 needs 2.
    // Stage 1: one network failure and one success: error rate 1 / 2 = 50 % > 10 %.
    assert_eq!(doc["slo"]["verdict"], "fail");
    assert_eq!(doc["slo"]["thresholds"]["ttft_p95_ms"], 1.0);
    assert_eq!(doc["slo"]["stages"][0]["verdict"], "insufficient");
    assert_eq!(
        doc["slo"]["stages"][1]["failing"][0],
        "error rate 50% > 10%"
    );
    // Latency 5 ms > 4.5 and no TTFT (not streamed): no good request.
    assert_eq!(doc["slo"]["stages"][1]["good_requests"], 0);
    assert!(
        doc["stages"][0]["ttft_ms"].is_object(),
        "the streamed sample made a TTFT figure"
    );
    // A rate stage, aliases and a warm-up sample validate too.
    let mut d = doc.clone();
    d["config"]["custom_stages"][0]["rate"] =
        serde_json::json!({"per_s": 50.0, "poisson": true, "seed": 3});
    d["config"]["aliases"] = "http://127.0.0.2:8000".into();
    d["samples"][0]["warmup"] = true.into();
    d["samples"][0]["intended_ms"] = 0.0.into();
    assert!(
        validator.is_valid(&d),
        "{:?}",
        validator
            .iter_errors(&d)
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
    );
    // Every preset's config validates too.
    for preset in stampede_engine::Preset::ALL {
        let mut d = doc.clone();
        d["config"]["preset"] = serde_json::to_value(preset).unwrap();
        assert!(validator.is_valid(&d), "{preset:?}");
    }
}

#[test]
fn schema_rejects_damaged_reports() {
    let validator = jsonschema::validator_for(&schema()).expect("valid schema");
    let good: Value = serde_json::from_str(&report().to_json()).unwrap();
    let mut bad = good.clone();
    bad["samples"][0]["error_class"] = "exploded".into();
    assert!(!validator.is_valid(&bad));
    let mut bad = good.clone();
    bad["schema_version"] = 3.into();
    assert!(!validator.is_valid(&bad));
    let mut bad = good.clone();
    bad["samples"][0]["content_ms"] = serde_json::json!(["soon"]);
    assert!(!validator.is_valid(&bad));
    let mut bad = good.clone();
    bad["samples"][0]["response_text"] = 42.into();
    assert!(!validator.is_valid(&bad));
    let mut bad = good.clone();
    bad["slo"]["stages"][0]["verdict"] = "maybe".into();
    assert!(!validator.is_valid(&bad));
    let mut bad = good;
    bad["config"]["api_key"] = "leaked".into();
    assert!(
        !validator.is_valid(&bad),
        "an api_key in config must not validate"
    );
}

#[test]
fn a_compared_report_matches_schema() {
    let validator = jsonschema::validator_for(&schema()).expect("valid schema");
    let mut r = report();
    // The same run as its own baseline: every stage matches; too few samples for a test.
    let agg = r.aggregator();
    r.baseline = Some(stampede_engine::BaselineRef {
        id: "file:last-night.json".into(),
        label: "last night".into(),
        created_at: "2026-11-27T22:00:00.000Z".into(),
    });
    r.comparison = Some(stampede_engine::compare_runs(&agg, &agg));
    let doc: Value = serde_json::from_str(&r.to_json()).unwrap();
    let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(doc["baseline"]["label"], "last night");
    assert_eq!(
        doc["comparison"]["stages"][0]["latency_test"]["verdict"],
        "not-enough-data"
    );
    assert_eq!(
        doc["comparison"]["stages"][0]["metrics"][0]["change"],
        "same"
    );
    let back = Report::from_json(&r.to_json()).unwrap();
    assert_eq!(back.comparison, r.comparison);
    let mut bad = doc.clone();
    bad["comparison"]["stages"][0]["latency_test"]["verdict"] = "probably".into();
    assert!(!validator.is_valid(&bad));
    let mut bad = doc;
    bad["baseline"] = serde_json::json!({"id": "x"});
    assert!(!validator.is_valid(&bad));
}
