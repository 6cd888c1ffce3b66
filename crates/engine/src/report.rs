//! The exported report (DESIGN §5): one versioned JSON document, schema in `schema/`.

use serde::{Deserialize, Serialize};

use crate::config::RunConfig;
use crate::model::{Sample, TargetInfo};
use crate::stats::{Aggregator, Distribution, StageStats};

/// Version 2 dropped `environment.http_protocols` (each target carries its protocol).
pub const SCHEMA_VERSION: u32 = 2;
/// Every version `from_json` still reads.
pub const READS_SCHEMA_VERSIONS: [u32; 2] = [1, 2];
pub const TOOL_NAME: &str = "stampede";
pub const PERCENTILE_METHOD: &str =
    "nearest rank on the exact sorted samples; stddev with n-1; distributions over successful requests";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Period {
    pub start_ms: f64,
    pub end_ms: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    pub user_agent: String,
    pub page_origin: String,
    /// Smallest step of `performance.now()` measured on this page.
    pub timer_resolution_ms: Option<f64>,
    /// Periods the tab was hidden during the run, relative to the run start.
    pub hidden_periods: Vec<Period>,
    /// Each URL requests went to (the endpoint, then host aliases) and its protocol.
    #[serde(default, rename = "origins")]
    pub targets: Vec<TargetInfo>,
    /// Whether the page was cross-origin isolated (finer timers).
    #[serde(default)]
    pub cross_origin_isolated: Option<bool>,
    /// Main-thread tasks over 50 ms during the run (they delay response handling).
    #[serde(default)]
    pub long_tasks: Vec<Period>,
    /// Whether the engine ran in a Web Worker (else on the page's main thread).
    #[serde(default)]
    pub engine_in_worker: Option<bool>,
    /// How late the worker's 100 ms ticks fired: its event-loop lag.
    #[serde(default)]
    pub worker_lag_ms: Option<Distribution>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub tool: Tool,
    pub created_at: String,
    pub percentile_method: String,
    pub config: RunConfig,
    pub environment: Environment,
    /// True when the user stopped the run before every stage finished.
    pub stopped: bool,
    pub stages: Vec<StageStats>,
    pub samples: Vec<Sample>,
}

impl Report {
    /// Build a report; the config is redacted here so no caller can forget.
    pub fn new(
        created_at: String,
        config: &RunConfig,
        environment: Environment,
        stopped: bool,
        agg: &Aggregator,
    ) -> Report {
        Report {
            schema_version: SCHEMA_VERSION,
            tool: Tool {
                name: TOOL_NAME.to_string(),
                version: env!("CARGO_PKG_VERSION").to_string(),
            },
            created_at,
            percentile_method: PERCENTILE_METHOD.to_string(),
            config: config.redacted(),
            environment: Environment {
                targets: agg.targets().to_vec(),
                ..environment
            },
            stopped,
            stages: agg.stats(),
            samples: agg.samples().to_vec(),
        }
    }

    pub fn to_json(&self) -> String {
        // Plain data with string keys: serialization cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Accept only what `to_json` writes; every rejection says why, for the user.
    pub fn from_json(text: &str) -> Result<Report, String> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("This file is not JSON ({e})."))?;
        let obj = value
            .as_object()
            .ok_or("This JSON is not a Stampede report (expected an object).")?;
        if obj
            .get("tool")
            .and_then(|t| t.get("name"))
            .and_then(|n| n.as_str())
            != Some(TOOL_NAME)
        {
            return Err(
                "This JSON is not a Stampede report (tool.name is not \"stampede\").".into(),
            );
        }
        match obj.get("schema_version").and_then(|v| v.as_u64()) {
            Some(v) if READS_SCHEMA_VERSIONS.iter().any(|&r| u64::from(r) == v) => {}
            Some(v) => {
                return Err(format!(
                    "This report has schema version {v}; this Stampede reads versions 1 to \
                     {SCHEMA_VERSION}."
                ))
            }
            None => return Err("This report has no schema_version.".into()),
        }
        let report: Report = serde_json::from_value(value)
            .map_err(|e| format!("This Stampede report is damaged: {e}."))?;
        let n = report.stages.len();
        let planned = report.config.stages().len();
        if n > planned {
            return Err(format!(
                "This Stampede report is damaged: {n} stages but its config plans {planned}."
            ));
        }
        if let Some(s) = report.samples.iter().find(|s| s.stage as usize >= planned) {
            return Err(format!(
                "This Stampede report is damaged: sample {} names stage {} of {planned}.",
                s.index, s.stage
            ));
        }
        if let Some(s) = report.samples.iter().find(|s| s.end_ms < s.start_ms) {
            return Err(format!(
                "This Stampede report is damaged: sample {} ends before it starts.",
                s.index
            ));
        }
        Ok(report)
    }

    /// An aggregator holding the report's samples, for the same table and charts as a live run.
    pub fn aggregator(&self) -> Aggregator {
        let targets = &self.environment.targets;
        let mut agg = Aggregator::with_targets(
            self.config.stages(),
            targets.iter().map(|t| t.url.clone()).collect(),
        );
        for (i, t) in targets.iter().enumerate() {
            if let Some(p) = &t.protocol {
                agg.set_protocol(i, p.clone());
            }
        }
        for st in &self.stages {
            agg.stage_ended(st.stage as usize, st.max_in_flight.clone(), st.dropped);
        }
        for s in &self.samples {
            agg.push(s.clone());
        }
        agg
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ErrorClass, TokenSource};
    use crate::suite::Suite;

    pub(crate) fn example() -> Report {
        let config = RunConfig {
            suite: Suite::Quick,
            headers: "Authorization: Bearer top-secret\nX-Trace: 1".into(),
            api_key: "sk-live".into(),
            ..RunConfig::default()
        };
        let mut agg = Aggregator::new(config.stages());
        for i in 0..4u64 {
            agg.push(Sample {
                stage: (i / 2) as u32,
                index: i,
                start_ms: i as f64 * 10.0,
                headers_ms: Some(i as f64 * 10.0 + 3.0),
                end_ms: i as f64 * 10.0 + 8.0,
                status: Some(if i == 3 { 500 } else { 200 }),
                error_class: (i == 3).then_some(ErrorClass::Http),
                error_message: (i == 3).then(|| "HTTP 500: boom".to_string()),
                output_tokens: (i != 3).then_some(12),
                token_source: (i != 3).then_some(TokenSource::Estimate),
                server_tokens_per_s: (i != 3).then_some(99.5),
                ..Sample::default()
            });
        }
        let env = Environment {
            user_agent: "test".into(),
            page_origin: "http://127.0.0.1:8080".into(),
            timer_resolution_ms: Some(0.1),
            hidden_periods: vec![Period {
                start_ms: 1.0,
                end_ms: 2.0,
            }],
            ..Environment::default()
        };
        Report::new("2026-11-28T12:00:00.000Z".into(), &config, env, false, &agg)
    }

    #[test]
    fn round_trips_and_redacts() {
        let r = example();
        let json = r.to_json();
        assert!(!json.contains("top-secret") && !json.contains("sk-live"));
        assert!(json.contains("Authorization: [redacted]"));
        let back = Report::from_json(&json).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.stages.len(), 2);
        assert_eq!(back.aggregator().stats(), r.stages);
    }

    #[test]
    fn rejects_with_messages() {
        let cases = [
            ("not json", "not JSON"),
            ("[1,2]", "expected an object"),
            (r#"{"tool": {"name": "k6"}}"#, "not a Stampede report"),
            (
                r#"{"tool": {"name": "stampede"}, "schema_version": 9}"#,
                "schema version 9",
            ),
            (r#"{"tool": {"name": "stampede"}}"#, "no schema_version"),
            (
                r#"{"tool": {"name": "stampede"}, "schema_version": 1}"#,
                "damaged",
            ),
        ];
        for (input, want) in cases {
            let e = Report::from_json(input).unwrap_err();
            assert!(e.contains(want), "{input}: {e}");
        }
        let mut r = example();
        r.samples[0].stage = 7;
        assert!(Report::from_json(&r.to_json())
            .unwrap_err()
            .contains("stage 7"));
        let mut r = example();
        r.samples[1].end_ms = -1.0;
        assert!(Report::from_json(&r.to_json())
            .unwrap_err()
            .contains("ends before"));
    }

    #[test]
    fn reads_version_1_reports() {
        // Version 1 differed only by `environment.http_protocols`, the protocols in order seen.
        let r = example();
        let mut v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        v["schema_version"] = 1.into();
        v["environment"]["http_protocols"] = serde_json::json!(["http/1.1"]);
        let back = Report::from_json(&v.to_string()).unwrap();
        assert_eq!(back.samples, r.samples);
        assert_eq!(back.schema_version, 1);
    }
}
