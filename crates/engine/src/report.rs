//! The exported report (DESIGN §5): one versioned JSON document, schema in `schema/`.

use serde::{Deserialize, Serialize};

use crate::compare::{BaselineRef, Comparison};
use crate::config::RunConfig;
use crate::model::{Sample, TargetInfo};
use crate::plan::MAX_STAGES;
use crate::secrets;
use crate::slo::{assess, SloReport};
use crate::stats::{Aggregator, Distribution, StageStats, MAX_KEPT_SAMPLES};

/// Version 2 dropped `environment.http_protocols` (each target carries its protocol).
pub const SCHEMA_VERSION: u32 = 2;
/// Samples per piece of an export (see [`Report::export_parts`]).
pub const SAMPLES_PER_PART: usize = 10_000;
/// Every version `from_json` still reads.
pub const READS_SCHEMA_VERSIONS: [u32; 2] = [1, 2];
/// The largest report file the page reads (the browser holds it as text, then as samples).
pub const MAX_REPORT_BYTES: usize = 400_000_000;
/// Samples an imported report may hold: what a run keeps.
pub const MAX_IMPORT_SAMPLES: usize = MAX_KEPT_SAMPLES;
/// Stream events (content arrival times) over all of an imported report's samples.
pub const MAX_IMPORT_EVENTS: usize = 50_000_000;
/// Targets (the endpoint and its host aliases) a report may name.
pub const MAX_TARGETS: usize = 256;
/// Hidden-tab and long-task periods a report may list.
pub const MAX_PERIODS: usize = 100_000;
/// Times in a report are within ± this many ms of the run's start (30 days).
pub const MAX_TIME_MS: f64 = 30.0 * 24.0 * 3600.0 * 1000.0;
/// Token counts above this are not from a real model response.
pub const MAX_TOKEN_COUNT: u64 = 1_000_000_000_000;

/// A run time: finite and within [`MAX_TIME_MS`] of the start.
fn time(t: f64) -> bool {
    t.is_finite() && t.abs() <= MAX_TIME_MS
}

/// The message for a file over [`MAX_REPORT_BYTES`], in the user's units.
pub fn too_big(bytes: usize) -> String {
    format!(
        "This file is {:.0} MB; Stampede imports reports up to {} MB.",
        bytes as f64 / 1e6,
        MAX_REPORT_BYTES / 1_000_000
    )
}
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
    /// Why the run ended early when its engine failed (the worker threw or went silent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_failure: Option<String>,
    /// What ran the engine: the page or the command line (reports before it have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<Client>,
}

/// The program that sent the requests, so a reader can tell browser figures from native ones.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Client {
    /// `browser` (the page) or `native` (the `stampede` command line).
    pub kind: String,
    /// Its version; the native client adds its OS and architecture.
    pub version: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub tool: Tool,
    pub created_at: String,
    pub percentile_method: String,
    pub config: RunConfig,
    pub environment: Environment,
    /// True when the user stopped the run before every stage finished, or its engine failed
    /// (`environment.engine_failure` says how).
    pub stopped: bool,
    pub stages: Vec<StageStats>,
    /// Each stage judged against `config.slo`, with its goodput and the run's knee; absent
    /// without thresholds. A reader of the file gets the verdicts; the page itself re-judges
    /// from the samples (the thresholds may change after the run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo: Option<SloReport>,
    /// The run this one was compared with, when a baseline was set at export.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineRef>,
    /// Each stage against the baseline: Δ per figure and the latency test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison: Option<Comparison>,
    /// Last: `export_parts` streams the samples in before the closing `]}`.
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
            samples: agg.samples().collect(),
            ..Report::head(created_at, config, environment, stopped, agg)
        }
    }

    /// Everything but the samples, which [`Report::export_parts`] streams from the aggregator
    /// so an export never holds every sample twice.
    pub fn head(
        created_at: String,
        config: &RunConfig,
        environment: Environment,
        stopped: bool,
        agg: &Aggregator,
    ) -> Report {
        let stages = agg.stats();
        let slo = assess(&config.slo, &stages, agg.samples());
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
                // Target URLs are the typed ones plus the preset path: the same redaction.
                targets: agg
                    .targets()
                    .iter()
                    .map(|t| TargetInfo {
                        url: secrets::redact_url(&t.url),
                        ..t.clone()
                    })
                    .collect(),
                ..environment
            },
            stopped,
            stages,
            slo,
            baseline: None,
            comparison: None,
            samples: Vec::new(),
        }
    }

    /// The report as compact JSON in pieces of about `SAMPLES_PER_PART` samples, the head's
    /// samples followed by `more`: a million samples never become one string (a browser builds
    /// the download from the pieces). Joined, the pieces are exactly what `from_json` reads.
    pub fn export_parts(&self, more: impl Iterator<Item = Sample>) -> Vec<String> {
        let whole = self.to_json();
        // `samples` is the last field: split its closing `]}` off and stream more before it.
        let Some(head) = whole.strip_suffix("]}") else {
            return vec![whole];
        };
        let mut first = !self.samples.is_empty();
        let mut parts = vec![head.to_string()];
        let mut part = String::new();
        for (n, s) in more.enumerate() {
            if !first {
                first = true;
            } else {
                part.push(',');
            }
            part.push_str(&serde_json::to_string(&s).unwrap_or_default());
            if (n + 1) % SAMPLES_PER_PART == 0 {
                parts.push(std::mem::take(&mut part));
            }
        }
        part.push_str("]}");
        parts.push(part);
        parts
    }

    /// Compact JSON: a pretty-printed million-sample report would be twice the size.
    pub fn to_json(&self) -> String {
        // Plain data with string keys: serialization cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Accept only what `to_json` writes; every rejection says why, for the user. Every number
    /// the page later computes with is bounded here, so a hostile file cannot make it allocate
    /// or index without limit.
    pub fn from_json(text: &str) -> Result<Report, String> {
        if text.len() > MAX_REPORT_BYTES {
            return Err(too_big(text.len()));
        }
        if !text.trim_start().starts_with('{') {
            return Err(match serde_json::from_str::<serde::de::IgnoredAny>(text) {
                Ok(_) => "This JSON is not a Stampede report (expected an object).".into(),
                Err(e) => format!("This file is not JSON ({e})."),
            });
        }
        // A first pass reads only the header, without building the whole document.
        #[derive(Deserialize)]
        struct Head {
            tool: Option<serde_json::Value>,
            schema_version: Option<serde_json::Value>,
        }
        let head: Head =
            serde_json::from_str(text).map_err(|e| format!("This file is not JSON ({e})."))?;
        let name = head.tool.as_ref().and_then(|t| t.get("name"));
        if name.and_then(|n| n.as_str()) != Some(TOOL_NAME) {
            return Err(
                "This JSON is not a Stampede report (tool.name is not \"stampede\").".into(),
            );
        }
        match head.schema_version.as_ref().and_then(|v| v.as_u64()) {
            Some(v) if READS_SCHEMA_VERSIONS.iter().any(|&r| u64::from(r) == v) => {}
            Some(v) => {
                return Err(format!(
                    "This report has schema version {v}; this Stampede reads versions 1 to \
                     {SCHEMA_VERSION}."
                ))
            }
            None => return Err("This report has no schema_version.".into()),
        }
        let report: Report = serde_json::from_str(text)
            .map_err(|e| format!("This Stampede report is damaged: {e}."))?;
        report
            .check_bounds()
            .map_err(|e| format!("This Stampede report is damaged: {e}."))?;
        Ok(report)
    }

    /// The limits of DESIGN §5 import: what the page can draw and compute without trusting
    /// the file.
    fn check_bounds(&self) -> Result<(), String> {
        let planned = self.config.stages().len();
        if planned == 0 || planned > MAX_STAGES {
            return Err(format!(
                "its config plans {planned} stages (1 to {MAX_STAGES})"
            ));
        }
        let n = self.stages.len();
        if n > planned {
            return Err(format!("{n} stages but its config plans {planned}"));
        }
        if self.samples.len() > MAX_IMPORT_SAMPLES {
            return Err(format!(
                "{} samples; this Stampede imports at most {MAX_IMPORT_SAMPLES}",
                self.samples.len()
            ));
        }
        let targets = self.environment.targets.len().max(1);
        if targets > MAX_TARGETS {
            return Err(format!("{targets} targets (at most {MAX_TARGETS})"));
        }
        let mut events = 0usize;
        for s in &self.samples {
            let what = |m: &str| format!("sample {} {m}", s.index);
            if s.stage as usize >= planned {
                return Err(what(&format!("names stage {} of {planned}", s.stage)));
            }
            if s.target as usize >= targets {
                return Err(what(&format!("names target {} of {targets}", s.target)));
            }
            if !time(s.start_ms) || !time(s.end_ms) {
                return Err(what("has a time out of range"));
            }
            if s.end_ms < s.start_ms {
                return Err(what("ends before it starts"));
            }
            let within = |t: f64| t.is_finite() && t >= s.start_ms && t <= s.end_ms;
            if !s.headers_ms.is_none_or(within)
                || !s.first_token_ms.is_none_or(within)
                || !s.content_ms.iter().all(|&t| within(t))
            {
                return Err(what("has an event outside its start and end"));
            }
            events += s.content_ms.len();
            if events > MAX_IMPORT_EVENTS {
                return Err(format!(
                    "more than {MAX_IMPORT_EVENTS} stream events in all"
                ));
            }
            let duration = |v: Option<f64>| {
                v.is_none_or(|v| v.is_finite() && (0.0..=MAX_TIME_MS).contains(&v))
            };
            if !duration(s.queue_ms)
                || !s.intended_ms.is_none_or(time)
                || !s.server_tokens_per_s.is_none_or(f64::is_finite)
            {
                return Err(what("has a figure out of range"));
            }
            if let Some(d) = &s.server_durations {
                if ![d.total_ms, d.load_ms, d.prompt_eval_ms, d.eval_ms]
                    .into_iter()
                    .all(duration)
                {
                    return Err(what("has a server duration out of range"));
                }
            }
            if s.output_tokens.is_some_and(|t| t > MAX_TOKEN_COUNT)
                || s.prompt_tokens.is_some_and(|t| t > MAX_TOKEN_COUNT)
            {
                return Err(what("has a token count out of range"));
            }
        }
        if self
            .comparison
            .as_ref()
            .is_some_and(|c| c.stages.len() > planned)
        {
            return Err(format!("its comparison covers more than {planned} stages"));
        }
        if self.slo.as_ref().is_some_and(|s| s.stages.len() > planned) {
            return Err(format!("its SLO section judges more than {planned} stages"));
        }
        for st in &self.stages {
            if st.max_in_flight.len() > targets {
                return Err(format!(
                    "stage {} lists more targets than the run had",
                    st.stage
                ));
            }
        }
        let env = &self.environment;
        let periods = env.hidden_periods.iter().chain(&env.long_tasks);
        if env.hidden_periods.len() + env.long_tasks.len() > MAX_PERIODS
            || !periods
                .into_iter()
                .all(|p| time(p.start_ms) && time(p.end_ms))
        {
            return Err("its hidden-tab or long-task periods are out of range".into());
        }
        Ok(())
    }

    /// An aggregator holding the report's samples, for the same table and charts as a live run.
    pub fn aggregator(&self) -> Aggregator {
        let targets = &self.environment.targets;
        let mut agg = Aggregator::with_targets(
            self.config.stages(),
            targets.iter().map(|t| t.url.clone()).collect(),
        );
        if self
            .environment
            .client
            .as_ref()
            .is_some_and(|c| c.kind == "native")
        {
            agg = agg.native_client();
        }
        for (i, t) in targets.iter().enumerate() {
            if let Some(p) = &t.protocol {
                agg.set_protocol(i, p.clone());
            }
        }
        for st in &self.stages {
            agg.stage_ended(st.stage as usize, st.max_in_flight.clone(), st.dropped);
            // A stage that ran past the ceiling kept only its first samples: its own figures
            // cover every request, the samples would not.
            if !st.approximate.is_empty() {
                agg.set_fixed(st.stage as usize, st.clone());
            }
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
    fn the_slo_section_round_trips_and_a_report_without_one_still_reads() {
        let plain = example();
        assert!(plain.slo.is_none() && !plain.to_json().contains("\"slo\""));
        let mut config = plain.config.clone();
        config.slo.latency_p95_ms = Some(1_000_000.0);
        let agg = plain.aggregator();
        let r = Report::new(
            plain.created_at.clone(),
            &config,
            plain.environment.clone(),
            false,
            &agg,
        );
        let back = Report::from_json(&r.to_json());
        assert_eq!(back.as_ref().ok(), Some(&r));
        assert_eq!(r.slo.as_ref().map(|s| s.stages.len()), Some(2));
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

    #[test]
    fn import_bounds_every_number_the_page_uses() {
        type Damage = fn(&mut serde_json::Value);
        let cases: [(&str, Damage, &str); 7] = [
            (
                "huge end",
                |v| v["samples"][0]["end_ms"] = 1e300.into(),
                "out of range",
            ),
            (
                "target",
                |v| v["samples"][0]["origin"] = 9.into(),
                "names target 9",
            ),
            (
                "event outside",
                |v| v["samples"][0]["content_ms"] = serde_json::json!([1e9]),
                "outside its start",
            ),
            (
                "negative queue",
                |v| v["samples"][0]["queue_ms"] = (-5.0).into(),
                "out of range",
            ),
            (
                "tokens",
                |v| v["samples"][0]["output_tokens"] = u64::MAX.into(),
                "token count",
            ),
            (
                "stages",
                |v| v["config"]["custom_stages"] = serde_json::json!([]),
                "plans",
            ),
            (
                "periods",
                |v| {
                    v["environment"]["long_tasks"] =
                        serde_json::json!([{"start_ms": 0, "end_ms": 1e300}])
                },
                "periods",
            ),
        ];
        let good: serde_json::Value = serde_json::from_str(&example().to_json()).unwrap();
        for (what, damage, want) in cases {
            let mut v = good.clone();
            if what == "stages" {
                v["config"]["suite"] = "custom".into();
            }
            damage(&mut v);
            let e = Report::from_json(&v.to_string()).unwrap_err();
            assert!(e.contains(want), "{what}: {e}");
        }
        let big = format!("{{\"pad\": \"{}\"}}", " ".repeat(MAX_REPORT_BYTES));
        assert!(Report::from_json(&big)
            .unwrap_err()
            .contains("imports reports up to 400 MB"));
    }

    #[test]
    fn client_is_optional_and_round_trips() {
        let mut r = example();
        assert!(!r.to_json().contains("\"client\""), "absent when unset");
        r.environment.client = Some(Client {
            kind: "native".into(),
            version: "0.1.0 (linux x86_64)".into(),
        });
        let back = Report::from_json(&r.to_json()).unwrap();
        assert_eq!(back.environment.client, r.environment.client);
    }

    #[test]
    fn target_urls_are_redacted_too() {
        let config = RunConfig {
            endpoint: "http://127.0.0.1:8000/?api_key=q-secret".into(),
            ..RunConfig::default()
        };
        let plan = config.validate().unwrap();
        let agg = Aggregator::with_targets(plan.stages().to_vec(), plan.urls().to_vec());
        let json = Report::new("t".into(), &config, Environment::default(), false, &agg).to_json();
        assert!(!json.contains("q-secret"), "{json}");
        assert!(json.contains("/generate?api_key=[redacted]"));
    }

    #[test]
    fn exported_parts_join_into_the_report() {
        let r = example();
        let agg = r.aggregator();
        let head = Report::head(
            r.created_at.clone(),
            &r.config,
            r.environment.clone(),
            r.stopped,
            &agg,
        );
        let parts = head.export_parts(agg.samples());
        let back = Report::from_json(&parts.concat()).unwrap();
        assert_eq!(back.samples, r.samples);
        assert_eq!(back.stages, r.stages);
        // No samples at all still makes a valid report.
        let empty = Aggregator::new(r.config.stages());
        let head = Report::head("t".into(), &r.config, Environment::default(), false, &empty);
        assert!(Report::from_json(&head.export_parts(std::iter::empty()).concat()).is_ok());
    }
}
