//! "Copy summary": the shown run as Markdown to paste into a pull request or a chat. The stage
//! table carries the results table's Summary figures (formatted as the page shows them) and
//! the latency stddev; with an SLO, each stage's verdict and goodput, the run's verdict and
//! the knee; then the facts a reader needs to trust the figures (endpoint host, preset, suite,
//! client, protocol, fidelity warnings) and the report's link when there is one.
//!
//! Only the endpoint's host is written, never its path or query, and no header: the summary
//! is meant to leave the page, so it holds nothing the secrets policy keeps in.

use crate::config::RunConfig;
use crate::model::{ErrorClass, Protocol};
use crate::report::Environment;
use crate::slo::{figure, SloReport};
use crate::stats::{Distribution, StageStats};
use crate::suite::Suite;
use crate::views::{fidelity, Level};

/// What the summary is made of: the shown run and, if it has been published, its link.
pub struct SummaryInput<'a> {
    pub config: &'a RunConfig,
    pub env: &'a Environment,
    pub stats: &'a [StageStats],
    /// The stages judged under the thresholds shown (`None`: no SLO).
    pub slo: Option<&'a SloReport>,
    /// A link to the report, when the page has one.
    pub report_link: Option<&'a str>,
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("–".into(), |v| format!("{v:.digits$}"))
}

fn dist(d: &Option<Distribution>, f: fn(&Distribution) -> f64) -> String {
    opt(d.as_ref().map(f), 1)
}

/// A table cell: a `|` would end it and a line break would end the row.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// `http://host:port/path?query` → `host:port`.
fn host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?', '#']).next().unwrap_or(rest)
}

const HEAD: [&str; 12] = [
    "Stage",
    "Concurrency req. / achieved",
    "Total",
    "Successful",
    "Success rate",
    "p50 (ms)",
    "p95 (ms)",
    "p99 (ms)",
    "Stddev (ms)",
    "Requests/s",
    "Tokens/s",
    "Errors",
];
const SLO_HEAD: [&str; 5] = [
    "Verdict",
    "Failing figures",
    "Good req/s",
    "Goodput share",
    "Good tok/s",
];

/// The figures of one stage, as the results table's Summary columns (and Stddev) show them.
fn stage_cells(s: &StageStats) -> Vec<String> {
    let lat = &s.latency_ms;
    let achieved = opt(s.achieved_concurrency, 2);
    let queue = if s.sent_concurrency_unknown.is_some() {
        " incl. browser queue"
    } else {
        ""
    };
    let errors = s
        .errors
        .iter()
        .filter(|e| e.class != ErrorClass::Aborted)
        .map(|e| format!("{} × {}", e.class.label(), e.count))
        .collect::<Vec<_>>();
    vec![
        s.name.clone(),
        format!("{} / {achieved}{queue}", s.requested_concurrency),
        s.completed.to_string(),
        s.successful.to_string(),
        format!("{}%", opt(s.success_rate.map(|r| r * 100.0), 1)),
        dist(lat, |d| d.p50),
        dist(lat, |d| d.p95),
        dist(lat, |d| d.p99),
        dist(lat, |d| d.stddev),
        // Failures per second are not throughput: a stage where nothing succeeded shows none.
        opt(s.requests_per_s.filter(|_| s.successful > 0), 2),
        opt(s.output_tokens_per_s, 1),
        if errors.is_empty() {
            "none".into()
        } else {
            errors.join(", ")
        },
    ]
}

/// The verdict columns of one stage, as the SLO verdict table shows them.
fn slo_cells(r: &SloReport, stage: u32) -> Vec<String> {
    let Some(j) = r.stages.iter().find(|j| j.stage == stage) else {
        return vec!["–".into(); SLO_HEAD.len()];
    };
    let why = j.verdict.reasons();
    let g = j.goodput.clone().unwrap_or_default();
    vec![
        j.verdict.verdict.label().to_string(),
        why,
        opt(g.good_per_s, 2),
        g.goodput_share
            .map_or("–".into(), |s| format!("{}%", figure(s * 100.0))),
        opt(g.good_tokens_per_s, 1),
    ]
}

fn row(cells: &[String]) -> String {
    let cells: Vec<String> = cells.iter().map(|c| cell(c)).collect();
    format!("| {} |\n", cells.join(" | "))
}

/// The thresholds as the form reads them: "TTFT p95 ≤ 500 ms, error rate ≤ 5%".
fn thresholds(r: &SloReport) -> String {
    r.thresholds
        .given()
        .map(|(m, v)| {
            let op = if m.is_minimum() { "≥" } else { "≤" };
            let gap = if m.unit() == "%" { "" } else { " " };
            format!("{} {op} {}{gap}{}", m.name(), figure(v), m.unit())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The run as Markdown (see the module doc), ending in a newline.
pub fn summary_markdown(input: &SummaryInput) -> String {
    let SummaryInput {
        config,
        env,
        stats,
        slo,
        report_link,
    } = *input;
    let mut out = String::from("### Stampede results\n\n");
    let mut head: Vec<String> = HEAD.iter().map(|h| h.to_string()).collect();
    // Text columns left, figures right, as on the page.
    let mut align: Vec<&str> = vec!["---", "---:", "---:", "---:", "---:"];
    align.extend(["---:"; 6]);
    align.push("---");
    if slo.is_some() {
        head.extend(SLO_HEAD.iter().map(|h| h.to_string()));
        align.extend(["---", "---", "---:", "---:", "---:"]);
    }
    out.push_str(&row(&head));
    out.push_str(&format!("|{}|\n", align.join("|")));
    for s in stats {
        let mut cells = stage_cells(s);
        if let Some(r) = slo {
            cells.extend(slo_cells(r, s.stage));
        }
        out.push_str(&row(&cells));
    }
    if let Some(r) = slo {
        out.push_str(&format!(
            "\n**SLO** {}: run **{}**",
            thresholds(r),
            r.verdict.label()
        ));
        if let Some(k) = &r.knee {
            out.push_str(&format!("; {}", k.label()));
        }
        out.push_str(".\n");
    }

    out.push_str("\n**Environment**\n\n");
    out.push_str(&format!("- Endpoint host: {}\n", host(&config.endpoint)));
    out.push_str(&format!("- Preset: {}\n", config.preset.label()));
    let suite = match config.suite {
        Suite::Custom => format!("Custom ({} stages)", config.custom_stages.len()),
        s => s.label().to_string(),
    };
    out.push_str(&format!("- Suite: {suite}\n"));
    let client = match &env.client {
        Some(c) => format!("{} (Stampede {})", c.kind, c.version),
        None => "browser".into(),
    };
    let agent =
        if env.user_agent.is_empty() || env.client.as_ref().is_some_and(|c| c.kind != "browser") {
            String::new()
        } else {
            format!(", {}", env.user_agent)
        };
    out.push_str(&format!("- Client: {client}{agent}\n"));
    let protocols = env
        .targets
        .iter()
        .map(|t| {
            let p = t.protocol.as_ref().map_or("unknown", Protocol::label);
            format!("{} {p}", host(&t.url))
        })
        .collect::<Vec<_>>();
    if !protocols.is_empty() {
        out.push_str(&format!("- Protocol: {}\n", protocols.join(", ")));
    }
    let warnings: Vec<String> = fidelity(env, stats)
        .into_iter()
        .filter(|i| matches!(i.level, Level::Amber | Level::Red))
        .map(|i| format!("  - {} ({}): {}\n", i.name, i.level.label(), i.detail))
        .collect();
    if !warnings.is_empty() {
        out.push_str("- Fidelity warnings:\n");
        warnings.iter().for_each(|w| out.push_str(w));
    }
    if let Some(link) = report_link {
        out.push_str(&format!("\nReport: {link}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Sample, TargetInfo};
    use crate::preset::Preset;
    use crate::report::Client;
    use crate::slo::assess;
    use crate::stats::stage_stats;
    use crate::suite::StageSpec;
    use crate::thresholds::Slo;

    fn done(stage: u32, start_ms: f64, end_ms: f64, tokens: u64) -> Sample {
        Sample {
            stage,
            start_ms,
            end_ms,
            output_tokens: Some(tokens),
            ..Sample::default()
        }
    }

    fn spec(name: &str, concurrency: u32) -> StageSpec {
        StageSpec {
            name: name.into(),
            concurrency,
            requests: 4,
            rate: None,
            duration_s: None,
            ramp_from: None,
        }
    }

    /// Two stages worked by hand (see the comments in the test).
    fn run() -> (RunConfig, Environment, Vec<Sample>, Vec<StageStats>) {
        let mut failed = done(1, 1000.0, 1100.0, 0);
        failed.error_class = Some(ErrorClass::Http);
        failed.output_tokens = None;
        let samples = vec![
            done(0, 0.0, 100.0, 10),
            done(0, 0.0, 200.0, 10),
            done(0, 100.0, 400.0, 10),
            done(0, 200.0, 600.0, 10),
            done(1, 1000.0, 1500.0, 10),
            done(1, 1000.0, 1700.0, 10),
            failed,
        ];
        let stages = vec![spec("Low | first", 2), spec("High", 4)];
        let stats: Vec<StageStats> = stages
            .iter()
            .enumerate()
            .map(|(i, st)| {
                let mine = samples.iter().filter(|s| s.stage == i as u32);
                stage_stats(i as u32, st, mine)
            })
            .collect();
        let config = RunConfig {
            preset: Preset::OpenaiChatStream,
            endpoint: "http://127.0.0.1:8000/v1?api_key=secret".into(),
            suite: Suite::Custom,
            custom_stages: stages,
            slo: Slo {
                latency_p50_ms: Some(300.0),
                error_rate_pct: Some(10.0),
                ..Slo::default()
            },
            ..RunConfig::default()
        };
        let env = Environment {
            user_agent: "Mozilla/5.0 Chrome/140".into(),
            timer_resolution_ms: Some(0.1),
            cross_origin_isolated: Some(false),
            engine_in_worker: Some(true),
            targets: vec![TargetInfo {
                url: "http://127.0.0.1:8000/v1".into(),
                protocol: Some(Protocol::Http1),
            }],
            client: Some(Client {
                kind: "browser".into(),
                version: "0.1.0".into(),
            }),
            ..Environment::default()
        };
        (config, env, samples, stats)
    }

    #[test]
    fn the_summary_by_hand() {
        let (config, env, samples, stats) = run();
        let judged = assess(&config.slo, &stats, &samples);
        let text = summary_markdown(&SummaryInput {
            config: &config,
            env: &env,
            stats: &stats,
            slo: judged.as_ref(),
            report_link: Some("https://example.org/r/abc"),
        });
        // Stage 1: latencies 100, 200, 300, 400 over a wall time of 0 → 600 ms.
        //   achieved = Σ latency ÷ wall = 1000 ÷ 600 = 1.67; requests/s = 4 ÷ 0.6 = 6.67;
        //   tokens/s = 40 ÷ 0.6 = 66.7; p50 = rank ⌈2⌉ = 200, p95 = p99 = rank 4 = 400;
        //   stddev = √((150² + 50² + 50² + 150²) ÷ 3) = √16,666.7 = 129.1.
        //   SLO latency p50 200 ≤ 300 and error rate 0 ≤ 10: pass. Good (latency ≤ 300): 3,
        //   3 ÷ 0.6 = 5.00/s, 3 ÷ 4 = 75%, 30 tokens ÷ 0.6 = 50.0 tok/s.
        // Stage 2: 500 and 700 ms succeed, a 100 ms http failure; wall 1000 → 1700 = 700 ms.
        //   achieved = 1300 ÷ 700 = 1.86; requests/s = 3 ÷ 0.7 = 4.29; tokens/s = 20 ÷ 0.7 =
        //   28.6; success 2 ÷ 3 = 66.7%; p50 = rank 1 = 500, p95 = p99 = 700;
        //   stddev = √(100² + 100²) = 141.4. Fails: p50 500 > 300, error rate 33.33% > 10%;
        //   no good request. The knee: meets up to 2, fails at 4.
        // The endpoint's path and query (a key!) stay out; only the host is written.
        let expected = "\
### Stampede results

| Stage | Concurrency req. / achieved | Total | Successful | Success rate | p50 (ms) | p95 (ms) | p99 (ms) | Stddev (ms) | Requests/s | Tokens/s | Errors | Verdict | Failing figures | Good req/s | Goodput share | Good tok/s |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|---:|---:|---:|
| Low \\| first | 2 / 1.67 | 4 | 4 | 100.0% | 200.0 | 400.0 | 400.0 | 129.1 | 6.67 | 66.7 | none | pass |  | 5.00 | 75% | 50.0 |
| High | 4 / 1.86 | 3 | 2 | 66.7% | 500.0 | 700.0 | 700.0 | 141.4 | 4.29 | 28.6 | http × 1 | fail | latency p50 500 ms > 300 ms; error rate 33.33% > 10% | 0.00 | 0% | 0.0 |

**SLO** latency p50 ≤ 300 ms, error rate ≤ 10%: run **fail**; meets SLO up to 2 concurrent; fails at 4 concurrent.

**Environment**

- Endpoint host: 127.0.0.1:8000
- Preset: OpenAI chat (streaming)
- Suite: Custom (2 stages)
- Client: browser (Stampede 0.1.0), Mozilla/5.0 Chrome/140
- Protocol: 127.0.0.1:8000 http/1.1
- Fidelity warnings:
  - Browser queue (amber): not measured (no resource timing for these requests)
  - Timer resolution (amber): 100 µs: fine for ms figures; cross-origin isolation would give 5 µs
  - Cross-origin isolation (amber): off: the host sends no COOP/COEP headers; timers are coarser

Report: https://example.org/r/abc
";
        assert_eq!(text, expected, "\n{text}");
    }

    #[test]
    fn without_an_slo_or_a_link_the_summary_has_neither() {
        let (mut config, env, _, stats) = run();
        config.slo = Slo::default();
        config.suite = Suite::Quick;
        let text = summary_markdown(&SummaryInput {
            config: &config,
            env: &env,
            stats: &stats,
            slo: None,
            report_link: None,
        });
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[2], "| Stage | Concurrency req. / achieved | Total | Successful | Success rate | p50 (ms) | p95 (ms) | p99 (ms) | Stddev (ms) | Requests/s | Tokens/s | Errors |");
        assert_eq!(
            lines[3],
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
        );
        assert_eq!(lines[5], "| High | 4 / 1.86 | 3 | 2 | 66.7% | 500.0 | 700.0 | 700.0 | 141.4 | 4.29 | 28.6 | http × 1 |");
        assert!(text.contains("- Suite: Quick\n"));
        assert!(!text.contains("SLO") && !text.contains("Report:"), "{text}");
    }
}
