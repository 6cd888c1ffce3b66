//! The command line: flags, the `--stages` syntax, and how flags and a `--config` file make
//! one `RunConfig`. Every problem is a [`Usage`] that names the flag to fix (exit code 2).

use std::fmt;
use std::path::PathBuf;

use clap::{CommandFactory, FromArgMatches, Parser};
use stampede_engine::{
    decode_link, default_stage_name, parse_headers, Field, FieldError, Preset, RateSpec, Report,
    RunConfig, SloMetric, StageSpec, Suite, REDACTED,
};

const STAGES_HELP: &str = "\
Stages (--stages), comma-separated, in order:
  CxN              closed loop: keep C requests in flight until N have been sent (2x10)
  CxN@R/s          open loop: start N requests at R per second, evenly spaced, with at most
                   C in flight (an arrival beyond C is dropped and counted) (10x500@50/s)
  CxN@R/s~poisson  the same with Poisson arrivals (exponential gaps, seed 0);
                   ~poisson:SEED picks the seed (10x500@50/s~poisson:7)
Stages by time: a duration (30s, 2m, 1h) in place of N; requests in flight at the end
finish and count:
  CxDs             closed loop for D seconds: keep C in flight (10x30s)
  A..BxDs          closed ramp: from A to B in flight over D seconds, each of the |B-A|+1
                   levels held for an equal share of D (2..10x60s)
  CxDs@R/s         open loop: R per second for D seconds, at most C in flight (50x60s@20/s)
  CxDs@R0..R/s     open ramp: the rate goes linearly from R0 to R per second over D
                   (50x60s@5..50/s, also with ~poisson)
Example: --stages 2x10,5x20,20x1000@100/s~poisson,1..20x2m

Exit codes: 0 the run finished; 1 reserved for SLO failures (SLOs are not in Stampede yet);
2 bad usage or config (the message names the flag); 130 stopped by Ctrl-C (the partial
report is still written).";

/// Load-test a model API from the command line: the same engine, presets, suites, statistics
/// and report as the Stampede page, without the browser's connection limits.
#[derive(Parser, Debug, Default)]
#[command(name = "stampede", version, after_help = STAGES_HELP)]
pub struct Cli {
    /// The server's base URL (the preset's path is appended), or the full URL for --preset
    /// custom [default: http://127.0.0.1:8000]
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// One of the seed's suites [default: standard]
    #[arg(long, value_name = "SUITE", value_parser = ["quick", "standard", "comprehensive"],
          conflicts_with = "stages")]
    pub test_suite: Option<String>,
    /// Custom stages instead of a suite, e.g. 2x10,5x20 or 10x500@50/s (see below)
    #[arg(long, value_name = "LIST")]
    pub stages: Option<String>,
    /// The API kind: seed, openai-chat-stream, openai-chat, openai-completions-stream,
    /// openai-completions, ollama-chat, ollama-generate, tgi-generate-stream, tgi-generate,
    /// custom (its request shape comes from --config) [default: seed]
    #[arg(long, value_name = "ID")]
    pub preset: Option<String>,
    /// The server's model id (needed by the OpenAI and Ollama presets)
    #[arg(long, value_name = "NAME")]
    pub model: Option<String>,
    /// Sent as `Authorization: Bearer KEY`; never printed, never in the report
    #[arg(
        long,
        value_name = "KEY",
        env = "STAMPEDE_API_KEY",
        hide_env_values = true
    )]
    pub api_key: Option<String>,
    /// An extra header `Name: value`; repeatable. Replaces a header of the same name from
    /// --config. Values take {{i}}, {{model}} and {{max_tokens}}
    #[arg(long, value_name = "HEADER")]
    pub header: Vec<String>,
    /// Per-request timeout in whole seconds [default: 30]
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u32>,
    /// Warm-up requests before each stage, not counted [default: one per concurrent slot]
    #[arg(long, value_name = "N")]
    pub warmup: Option<u32>,
    /// Another base URL of the same server; repeatable. Requests are spread over all of them
    #[arg(long, value_name = "URL")]
    pub alias: Vec<String>,
    /// Max output tokens per request [default: 50]
    #[arg(long, value_name = "N")]
    pub max_tokens: Option<u32>,
    /// A prompt; repeatable, used in turn [default: the seed's topic prompt per stage]
    #[arg(long, value_name = "TEXT")]
    pub prompt: Vec<String>,
    /// Start from this file: an exported report (its config) or a RunConfig JSON. Flags
    /// override it
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Keep every header value in the report (off: only harmless headers keep theirs)
    #[arg(long)]
    pub include_header_values: bool,
    /// An SLO threshold, repeatable: latency-p50|p90|p95|p99, ttft-p50|p95|p99,
    /// tpot-p50|p95|p99, inter-chunk-p99 (ms), error-rate (%), min-tokens-per-s; e.g.
    /// `--slo ttft-p95=500`. The verdict is printed and in the report; a failed SLO exits 1
    #[arg(long, value_name = "METRIC=VALUE")]
    pub slo: Vec<String>,
    /// Trust this PEM certificate too (e.g. stampede-mock --tls --cert-out FILE)
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// Write the report here (the page's schema: the page imports it); with `export`, the
    /// Locust file or k6 script
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Write the per-stage summary here as CSV
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Start from the test in this share link (the page's "Copy share link"); flags given
    /// beside it override it. It never carries the API key: give --api-key
    #[arg(long, value_name = "URL", conflicts_with = "config")]
    pub share_link: Option<String>,
    #[command(subcommand)]
    pub action: Option<Action>,
}

/// What to do instead of a run.
#[derive(clap::Subcommand, Debug, Clone, PartialEq)]
pub enum Action {
    /// Write the test for a distributed engine, as the page's "Export Locust file" and "Export
    /// k6 script" do: to --output, else stdout. Takes the same test flags as a run; secrets
    /// become environment variables the file reads, never text in it
    Export {
        /// locust: a locustfile.py with a LoadTestShape; k6: a k6 script (SSE streams need
        /// k6 built with xk6-sse)
        #[arg(value_enum)]
        engine: Handoff,
    },
}

/// The distributed engines a test can be handed to.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq)]
pub enum Handoff {
    Locust,
    K6,
}

impl Cli {
    /// The command line, with every flag also accepted after `export ENGINE` (clap passes the
    /// values back up), so `stampede export locust --url …` reads like a run.
    pub fn command_line() -> clap::Command {
        Cli::command().mut_args(|a| a.global(true))
    }

    /// Parse `args` (the program name first) as [`Cli::command_line`] does.
    pub fn parse_from_args<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let matches = Cli::command_line().try_get_matches_from(args)?;
        Cli::from_arg_matches(&matches)
    }

    /// The config the flags apply to: a --share-link's test, else a --config file's, else the
    /// defaults. Flags override it (see [`Cli::apply`]).
    pub fn base_config(&self) -> Result<RunConfig, Usage> {
        if let Some(link) = &self.share_link {
            // The whole link as copied, or only its `#` part.
            let fragment = link.split_once('#').map_or(link.as_str(), |(_, f)| f);
            return decode_link(fragment).map_err(|m| usage("--share-link", m));
        }
        let Some(path) = &self.config else {
            return Ok(RunConfig::default());
        };
        let fail = |e: String| Usage(format!("--config {}: {e}", path.display()));
        let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
        config_from_json(&text).map_err(fail)
    }
}

/// A problem with the command line or config, naming the flag to fix.
#[derive(Debug, PartialEq)]
pub struct Usage(pub String);

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn usage(flag: &str, message: impl fmt::Display) -> Usage {
    Usage(format!("{flag}: {message}"))
}

/// One stage of `--stages` at position `index`: `CxN` or `CxDURATION` (`10x30s`, `2m`, `1h`),
/// a closed ramp `A..BxDURATION`, each optionally `@R/s` (open loop; `@R0..R/s` ramps the rate)
/// and `~poisson[:SEED]`.
pub fn parse_stage(text: &str, index: usize) -> Result<StageSpec, String> {
    let text = text.trim();
    let bad = |why: &str| format!("stage {} `{text}`: {why}", index + 1);
    let (closed, rate) = match text.split_once('@') {
        Some((c, r)) => (c, Some(r)),
        None => (text, None),
    };
    let (c, n) = closed.split_once(['x', 'X']).ok_or_else(|| {
        bad("expected CONCURRENCYxREQUESTS or CONCURRENCYxSECONDSs, e.g. 5x20 or 5x30s")
    })?;
    let number = |s: &str, what: &str| {
        s.trim()
            .replace('_', "")
            .parse::<u32>()
            .map_err(|_| bad(&format!("{what} must be a whole number")))
    };
    let (ramp_c, c) = match c.split_once("..") {
        Some((from, to)) => (Some(number(from, "the ramp's start concurrency")?), to),
        None => (None, c),
    };
    let concurrency = number(c, "concurrency")?;
    let n = n.trim();
    let (requests, duration_s) = match n.char_indices().last() {
        Some((i, unit @ ('s' | 'm' | 'h'))) => {
            let scale = match unit {
                's' => 1,
                'm' => 60,
                _ => 3600,
            };
            let d = number(&n[..i], "the duration")?;
            (0, Some(d.saturating_mul(scale)))
        }
        _ => (number(n, "the request count")?, None),
    };
    let mut ramp_from = ramp_c.map(f64::from);
    let rate = match rate {
        None => None,
        Some(r) => {
            let (per, arrivals) = match r.split_once('~') {
                Some((p, a)) => (p, Some(a)),
                None => (r, None),
            };
            let per = per
                .trim()
                .strip_suffix("/s")
                .ok_or_else(|| bad("a rate is requests per second, e.g. @50/s"))?;
            let rate_number = |p: &str| {
                p.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|p| p.is_finite())
                    .ok_or_else(|| bad("a rate is requests per second, e.g. @50/s or @5..50/s"))
            };
            let per_s = match per.split_once("..") {
                Some((from, to)) => {
                    if ramp_c.is_some() {
                        return Err(bad("ramp the concurrency or the rate, not both"));
                    }
                    ramp_from = Some(rate_number(from)?);
                    rate_number(to)?
                }
                None => rate_number(per)?,
            };
            let (poisson, seed) = match arrivals.map(str::trim) {
                None => (false, 0),
                Some("poisson") => (true, 0),
                Some(a) => {
                    let seed = a
                        .strip_prefix("poisson:")
                        .and_then(|s| s.trim().parse::<u64>().ok())
                        .ok_or_else(|| bad("after ~ comes poisson or poisson:SEED"))?;
                    (true, seed)
                }
            };
            Some(RateSpec {
                per_s,
                poisson,
                seed,
            })
        }
    };
    Ok(StageSpec {
        name: default_stage_name(index),
        concurrency,
        requests,
        rate,
        duration_s,
        ramp_from,
    })
}

/// The config in `text`: an exported report's (`tool` + `schema_version`) or a bare RunConfig.
pub fn config_from_json(text: &str) -> Result<RunConfig, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not JSON ({e})"))?;
    if value.get("tool").is_some() && value.get("schema_version").is_some() {
        return Report::from_json(text).map(|r| r.config);
    }
    serde_json::from_value(value).map_err(|e| {
        format!("neither a Stampede report nor a run config (a RunConfig field is wrong: {e})")
    })
}

/// The name of a `Name: value` header line, trimmed.
fn header_name(line: &str) -> &str {
    line.split_once(':').map_or(line, |(n, _)| n).trim()
}

impl Cli {
    /// The run config: `base` (the default, or a --config file) with every given flag applied.
    /// Header lines whose value an export redacted are dropped, each with a warning in the
    /// returned list, unless a --header gives the value again.
    pub fn apply(&self, mut config: RunConfig) -> Result<(RunConfig, Vec<String>), Usage> {
        let mut warnings = Vec::new();
        if let Some(url) = &self.url {
            config.endpoint = url.clone();
        }
        if let Some(p) = &self.preset {
            config.preset = Preset::from_id(p.trim()).ok_or_else(|| {
                let ids: Vec<&str> = Preset::ALL.iter().map(|p| p.id()).collect();
                usage(
                    "--preset",
                    format!("`{p}` is not one of {}", ids.join(", ")),
                )
            })?;
        }
        if let Some(s) = &self.test_suite {
            // The value parser allows only the three built-in ids.
            config.suite = Suite::from_id(s).unwrap_or(Suite::Standard);
        }
        if let Some(list) = &self.stages {
            let stages = list
                .split(',')
                .filter(|s| !s.trim().is_empty())
                .enumerate()
                .map(|(i, s)| parse_stage(s, i))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|m| usage("--stages", m))?;
            config.suite = Suite::Custom;
            config.custom_stages = stages;
        }
        if let Some(m) = &self.model {
            config.model = m.clone();
        }
        if let Some(k) = &self.api_key {
            config.api_key = k.clone();
        }
        if let Some(t) = self.timeout {
            config.timeout_s = t;
        }
        if let Some(w) = self.warmup {
            config.warmup = Some(w);
        }
        if !self.alias.is_empty() {
            config.aliases = self.alias.join("\n");
        }
        if let Some(n) = self.max_tokens {
            config.max_tokens = n;
        }
        if !self.prompt.is_empty() {
            config.prompts = self.prompt.join("\n");
        }
        config.include_header_values |= self.include_header_values;
        for s in &self.slo {
            let (name, value) = s
                .split_once('=')
                .ok_or_else(|| usage("--slo", format!("expected METRIC=VALUE, got '{s}'")))?;
            let metric = slo_metric(name.trim()).ok_or_else(|| {
                let known: Vec<String> = SloMetric::ALL.iter().map(|m| slo_flag_name(*m)).collect();
                usage(
                    "--slo",
                    format!("unknown metric '{name}' (known: {})", known.join(", ")),
                )
            })?;
            let v: f64 = value
                .trim()
                .parse()
                .map_err(|_| usage("--slo", format!("'{value}' is not a number")))?;
            config.slo.set(metric, Some(v));
        }
        for h in &self.header {
            if h.contains('\n') {
                return Err(usage("--header", "one header per --header"));
            }
            parse_headers(h).map_err(|m| usage("--header", m.trim_start_matches("line 1: ")))?;
        }
        let given: Vec<&str> = self.header.iter().map(|h| header_name(h)).collect();
        let mut lines = Vec::new();
        for line in config.headers.lines().filter(|l| !l.trim().is_empty()) {
            let name = header_name(line);
            if given.iter().any(|g| g.eq_ignore_ascii_case(name)) {
                continue;
            }
            if line
                .split_once(':')
                .is_some_and(|(_, v)| v.trim() == REDACTED)
            {
                warnings.push(format!(
                    "the config's header {name} was redacted in the export and is not sent; \
                     give it with --header '{name}: …'"
                ));
                continue;
            }
            lines.push(line.to_string());
        }
        lines.extend(self.header.iter().cloned());
        config.headers = lines.join("\n");
        if config.endpoint.contains(REDACTED) {
            warnings.push(format!(
                "the endpoint holds {REDACTED} (an exported secret): give the real one with --url"
            ));
        }
        Ok((config, warnings))
    }
}

/// `--slo`'s name for a metric: "TTFT p95" → `ttft-p95`, "output tokens/s" → `min-tokens-per-s`.
pub fn slo_flag_name(m: SloMetric) -> String {
    if m == SloMetric::MinTokensPerS {
        return "min-tokens-per-s".into();
    }
    m.name().to_ascii_lowercase().replace(' ', "-")
}

fn slo_metric(name: &str) -> Option<SloMetric> {
    SloMetric::ALL
        .into_iter()
        .find(|m| slo_flag_name(*m) == name.to_ascii_lowercase())
}

/// The flag that sets `field`, for validation messages.
pub fn flag_for(field: Field) -> String {
    match field {
        Field::Endpoint => "--url".into(),
        Field::Model => "--model".into(),
        Field::MaxTokens => "--max-tokens".into(),
        Field::Headers => "--header".into(),
        Field::Timeout => "--timeout".into(),
        Field::Aliases => "--alias".into(),
        Field::Warmup => "--warmup".into(),
        Field::ApiKey => "--api-key (or STAMPEDE_API_KEY)".into(),
        Field::Stages => "--stages".into(),
        Field::StageName(i)
        | Field::StageConcurrency(i)
        | Field::StageRequests(i)
        | Field::StageRate(i)
        | Field::StageDuration(i)
        | Field::StageRampFrom(i) => format!("--stages (stage {})", i + 1),
        // Only a --config file sets the Custom preset's request shape.
        Field::Method => "--config (custom.method)".into(),
        Field::BodyTemplate => "--config (custom.body_template)".into(),
        Field::TextPointer => "--config (custom.text_pointer)".into(),
        Field::TokensPointer => "--config (custom.tokens_pointer)".into(),
        Field::ReasoningPointer => "--config (custom.reasoning_pointer)".into(),
        Field::DonePointer => "--config (custom.done_pointer)".into(),
        Field::Slo(m) => format!("--slo {}", slo_flag_name(m)),
    }
}

/// Every validation error on its own line, each led by its flag.
pub fn describe(errors: &[FieldError]) -> Usage {
    let lines: Vec<String> = errors
        .iter()
        .map(|e| format!("{}: {}", flag_for(e.field), e.message))
        .collect();
    Usage(lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(args: &[&str]) -> Cli {
        Cli::parse_from_args(std::iter::once("stampede").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn stage_syntax() {
        let s = parse_stage("5x20", 1).unwrap();
        assert_eq!((s.concurrency, s.requests, s.rate), (5, 20, None));
        assert_eq!(s.name, "Medium Concurrency Test");
        let r = parse_stage(" 10x500@50/s ", 0).unwrap().rate.unwrap();
        assert_eq!((r.per_s, r.poisson, r.seed), (50.0, false, 0));
        let r = parse_stage("10x500@2.5/s~poisson", 0)
            .unwrap()
            .rate
            .unwrap();
        assert_eq!((r.per_s, r.poisson, r.seed), (2.5, true, 0));
        let r = parse_stage("10X1_000@50/s~poisson:7", 0).unwrap();
        assert_eq!((r.requests, r.rate.unwrap().seed), (1000, 7));
        let t = parse_stage("10x30s", 0).unwrap();
        assert_eq!(
            (t.concurrency, t.requests, t.duration_s, t.ramp_from),
            (10, 0, Some(30), None)
        );
        let t = parse_stage("2..10x2m", 0).unwrap();
        assert_eq!(
            (t.concurrency, t.duration_s, t.ramp_from, t.rate),
            (10, Some(120), Some(2.0), None)
        );
        let t = parse_stage("50x1h@5..50/s~poisson:3", 0).unwrap();
        assert_eq!((t.duration_s, t.ramp_from), (Some(3600), Some(5.0)));
        let r = t.rate.unwrap();
        assert_eq!((r.per_s, r.poisson, r.seed), (50.0, true, 3));
        for (bad, why) in [
            ("5", "CONCURRENCYxREQUESTS"),
            ("5xs", "duration"),
            ("1..5x10s@1..2/s", "not both"),
            ("ax5", "concurrency"),
            ("5x-1", "request count"),
            ("5x5@50", "requests per second"),
            ("5x5@50/s~burst", "poisson"),
        ] {
            let e = parse_stage(bad, 2).unwrap_err();
            assert!(e.contains(why) && e.starts_with("stage 3"), "{bad}: {e}");
        }
    }

    #[test]
    fn flags_override_the_config() {
        let (c, warnings) = cli(&[
            "--url",
            "http://h:1",
            "--stages",
            "2x10,5x20@5/s",
            "--header",
            "X-Trace: {{i}}",
            "--timeout",
            "7",
            "--alias",
            "http://a:1",
            "--alias",
            "http://b:1",
        ])
        .apply(RunConfig::default())
        .unwrap();
        assert!(warnings.is_empty());
        assert_eq!(c.endpoint, "http://h:1");
        assert_eq!(c.suite, Suite::Custom);
        assert_eq!(c.stages().len(), 2);
        assert_eq!(c.headers, "X-Trace: {{i}}");
        assert_eq!(
            (c.timeout_s, c.aliases.as_str()),
            (7, "http://a:1\nhttp://b:1")
        );
        assert!(c.validate().is_ok());
    }

    #[test]
    fn redacted_headers_are_dropped_or_replaced() {
        let base = RunConfig {
            headers: "Authorization: [redacted]\nX-Org: [redacted]\nAccept: */*".into(),
            ..RunConfig::default()
        };
        let (c, warnings) = cli(&["--header", "x-org: acme"]).apply(base).unwrap();
        assert_eq!(c.headers, "Accept: */*\nx-org: acme");
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("Authorization"));
    }

    #[test]
    fn messages_name_the_flag() {
        let e = cli(&["--preset", "gpt"])
            .apply(RunConfig::default())
            .unwrap_err();
        assert!(
            e.0.starts_with("--preset: `gpt` is not one of seed,"),
            "{e}"
        );
        let e = cli(&["--header", "no colon"])
            .apply(RunConfig::default())
            .unwrap_err();
        assert_eq!(e.0, "--header: expected 'Name: value'");
        let (c, _) = cli(&[
            "--stages",
            "0x10",
            "--timeout",
            "0",
            "--preset",
            "openai-chat",
        ])
        .apply(RunConfig::default())
        .unwrap();
        let e = describe(&c.validate().unwrap_err()).0;
        assert!(e.contains("--model: "), "{e}");
        assert!(e.contains("--timeout: "), "{e}");
        assert!(e.contains("--stages (stage 1): concurrency"), "{e}");
    }

    #[test]
    fn reads_a_report_or_a_bare_config() {
        let config = RunConfig {
            suite: Suite::Quick,
            ..RunConfig::default()
        };
        let bare = serde_json::to_string(&config).unwrap();
        assert_eq!(config_from_json(&bare).unwrap(), config);
        let agg = stampede_engine::Aggregator::new(config.stages());
        let report = Report::new(
            "2026-01-01T00:00:00.000Z".into(),
            &config,
            Default::default(),
            false,
            &agg,
        );
        assert_eq!(
            config_from_json(&report.to_json()).unwrap().suite,
            Suite::Quick
        );
        assert!(config_from_json("[1]").unwrap_err().contains("neither"));
        assert!(config_from_json("{").unwrap_err().contains("not JSON"));
    }

    #[test]
    fn export_takes_the_run_flags_after_it() {
        let c = cli(&["export", "k6", "--url", "http://h:1", "--stages", "2x10"]);
        assert_eq!(
            c.action,
            Some(Action::Export {
                engine: Handoff::K6
            })
        );
        assert_eq!(c.url.as_deref(), Some("http://h:1"));
        let c = cli(&[
            "--url",
            "http://h:2",
            "export",
            "locust",
            "--output",
            "f.py",
        ]);
        assert_eq!(
            c.action,
            Some(Action::Export {
                engine: Handoff::Locust
            })
        );
        assert_eq!(
            (c.url.as_deref(), c.output),
            (Some("http://h:2"), Some(PathBuf::from("f.py")))
        );
        assert_eq!(cli(&["--url", "http://h:3"]).action, None);
        assert!(Cli::parse_from_args(["stampede", "export", "jmeter"]).is_err());
    }

    #[test]
    fn flags_override_the_share_link() {
        let shared = RunConfig {
            endpoint: "http://shared:8000".into(),
            suite: Suite::Custom,
            custom_stages: vec![
                parse_stage("3x6", 0).unwrap(),
                parse_stage("4x8", 1).unwrap(),
            ],
            timeout_s: 45,
            max_tokens: 64,
            headers: "Accept: application/json\nUser-Agent: shared".into(),
            ..RunConfig::default()
        };
        let link = format!(
            "https://tools.example.com/stampede/#{}",
            stampede_engine::encode_link(&shared)
        );
        // Only the link: its test exactly.
        let base = cli(&["--share-link", &link]).base_config().unwrap();
        assert_eq!(base, shared);
        // Flags given override the link; what they do not name stays as the link has it.
        let c = cli(&[
            "--share-link",
            &link,
            "--timeout",
            "7",
            "--header",
            "user-agent: cli",
            "--api-key",
            "sk-x",
        ]);
        let (config, warnings) = c.apply(c.base_config().unwrap()).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(config.timeout_s, 7);
        assert_eq!(config.api_key, "sk-x");
        assert_eq!(config.headers, "Accept: application/json\nuser-agent: cli");
        assert_eq!(
            (config.endpoint.as_str(), config.max_tokens),
            ("http://shared:8000", 64)
        );
        assert_eq!(config.custom_stages, shared.custom_stages);
        let c = cli(&[
            "--share-link",
            &link,
            "--stages",
            "1x2",
            "--url",
            "http://h:1",
        ]);
        let (config, _) = c.apply(c.base_config().unwrap()).unwrap();
        assert_eq!(config.stages().len(), 1);
        assert_eq!(config.endpoint, "http://h:1");
        // The fragment alone reads too.
        let fragment = link.split_once('#').unwrap().1;
        assert_eq!(
            cli(&["--share-link", fragment]).base_config().unwrap(),
            shared
        );
    }

    #[test]
    fn a_bad_share_link_names_the_flag() {
        for bad in [
            "https://h/stampede/",
            "https://h/#t1.AAAA",
            "#t9.x",
            "#report=r.json",
        ] {
            let e = cli(&["--share-link", bad]).base_config().unwrap_err();
            assert!(e.0.starts_with("--share-link: "), "{bad}: {e}");
        }
        // --config and --share-link both make the base: clap refuses the pair.
        assert!(
            Cli::parse_from_args(["stampede", "--share-link", "#t1.x", "--config", "c.json"])
                .is_err()
        );
    }
}
