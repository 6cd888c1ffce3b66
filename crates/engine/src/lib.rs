//! Stampede's engine: everything about a load test that can be decided without a browser.
//!
//! Pure Rust with no web-sys and no runtime, so it runs natively in tests (and on the command
//! line) and in the page's Web Worker unchanged. The data flow:
//!
//! ```text
//! RunConfig ──validate()──▶ Plan ──run(plan, &dyn Transport, commands, gauges, emit)──▶ Event
//!   Event::Sample(Sample) ──▶ Aggregator::push ──▶ Aggregator::stats() ──▶ Vec<StageStats>
//!   RunConfig + Environment + Aggregator ──▶ Report::new ──▶ to_json / from_json
//!   Aggregator, StageStats, Environment ──▶ views (chart series, fidelity, progress) ──▶ page
//! ```
//!
//! ```
//! use stampede_engine::{Aggregator, RunConfig, Suite};
//! let config = RunConfig { suite: Suite::Quick, ..RunConfig::default() };
//! let plan = config.validate().expect("the default config is valid");
//! assert_eq!(plan.stages().len(), 2);
//! assert_eq!(plan.request_to(0, 0, 0).url, "http://127.0.0.1:8000/generate");
//! let agg = Aggregator::new(plan.stages().to_vec());
//! assert!(agg.stats().is_empty());
//! ```
//!
//! Modules are layered bottom up; none imports one above it (`tests/layers.rs` checks):
//! `model` → `http`, `secrets`, `store`, `suite`, `template`, `stream`, `thresholds` → `preset` →
//! `plan` → `config`, `parse` → `runner`, `stats`, `detect` → `slo` (verdicts, goodput, the
//! knee), `compare` (a run against a baseline) → `report`, `messages`, `table_csv` → `views`
//! (what the page shows, computed),
//! `handoff` (the test as a Locust file or a k6 script), `share` (share links and the saved
//! form), `history` (the runs kept in the browser), `report_link` (hosted reports: `#report=`
//! links and why a fetch failed) → `summary_md` (the run as Markdown to paste).

mod compare;
mod config;
mod detect;
mod handoff;
mod history;
mod http;
mod messages;
mod model;
mod parse;
mod plan;
mod preset;
mod report;
mod report_link;
mod runner;
mod secrets;
mod share;
mod slo;
mod stats;
mod store;
mod stream;
mod suite;
mod summary_md;
mod table_csv;
mod template;
mod thresholds;
mod views;

pub use compare::{
    cdf, compare, compare_runs, deltas, latency_cdf, latency_test, mann_whitney, match_stage,
    metric_label, BaselineRef, Better, Change, Comparison, LatencyTest, MetricDelta,
    StageComparison, TestVerdict, ALPHA, MAX_CDF_POINTS, MAX_OVERLAYS, MIN_TEST_SAMPLES,
};
pub use config::{
    parse_headers, parse_rate, parse_threshold, parse_whole, Field, FieldError, RunConfig,
};
pub use detect::{models_url, parse_models, MAX_MODELS};
pub use handoff::{k6_script, locustfile};
pub use history::{
    dropped_notice, endpoint_host, history_config, history_report, too_many_samples_to_keep,
    validate_label, HeadlineFigures, History, HistoryEntry, MAX_HISTORY_BYTES, MAX_HISTORY_RUNS,
    MAX_LABEL_CHARS, MIN_SAMPLE_JSON_BYTES,
};
pub use http::{Chunk, HttpOutcome, HttpRequest, Transport, TransportError};
pub use messages::{engine_stopped_samples, Batch, ToEngine, ENGINE_STOPPED};
pub use model::{
    ErrorClass, Protocol, Sample, ServerDurations, TargetInfo, TokenSource, HTTP1_CONNECTIONS,
};
pub use parse::{estimate_tokens, parse, Parsed};
pub use plan::{
    Plan, MAX_CONCURRENCY, MAX_RATE, MAX_REQUESTS, MAX_STAGES, MAX_TIMEOUT_S, MAX_TOKENS, MIN_RATE,
};
pub use preset::{Framing, Preset, RequestShape};
pub use report::{
    too_big, Client, Environment, Period, Report, Tool, MAX_IMPORT_SAMPLES, MAX_REPORT_BYTES,
    SCHEMA_VERSION,
};
pub use report_link::{
    fetch_message, open_fetched, read_fragment, report_link, resolve_report, FetchFailure,
    Fragment, ReportSource,
};
pub use runner::{run, to_sample, Command, Event, Gauges, InFlightRequest};
pub use secrets::{is_harmless_header, HARMLESS_HEADERS, REDACTED};
pub use share::{decode_link, encode_link, restore_form, save_form, MAX_LINK_CONFIG_BYTES};
pub use slo::{
    assess, figure, goodput, judge, knee, min_samples, run_verdict, Goodput, Knee, LoadUnit,
    RequestLimits, SloReport, StageJudgement, StageVerdict, Verdict,
};
pub use stats::{
    benchmark_stage, browser_cap, shortfall, shortfall_under, stage_stats, Aggregator, BrowserCap,
    Distribution, ErrorSummary, StageStats, TokenSourceCount, APPROXIMATE, LATE_MS,
    MAX_KEPT_SAMPLES, SHORTFALL,
};
pub use store::{RESPONSES_PER_STAGE, RESPONSE_CHARS};
pub use stream::{NdjsonParser, SseEvent, SseParser};
pub use suite::{default_stage_name, seed_prompt, RateSpec, StageSpec, Suite};
pub use summary_md::{summary_markdown, SummaryInput};
pub use table_csv::{requests_csv, stages_csv, REQUEST_COLUMNS, STAGE_COLUMNS};
pub use thresholds::{Slo, SloMetric};
pub use views::{
    activity_over_time, ceiling_note, client_top_rate, count_axis, fidelity, fix_fields, headline,
    histogram, latency_over_time, nice_max, not_judged, over_http1_cap, progress, tokens_over_time,
    top_rate_note, vs_concurrency, Activity, CountAxis, FidelityItem, Histogram, Level,
    ProgressFigures, Scaling, Scatter, StageFigure, StagePoints, TokenRate, TopRate,
    HISTOGRAM_BINS, MAX_BUCKETS, MAX_POINTS,
};
pub use views::{errors_over_time, ErrorsOverTime, FAILURE_CLASSES};
