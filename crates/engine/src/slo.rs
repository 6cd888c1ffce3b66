//! Judging a run against its SLO (DESIGN §3): a verdict per stage, goodput, and the knee.
//!
//! **Verdict.** Each threshold given is checked on the stage's own figures (distributions over
//! successful requests; error rate = failed ÷ completed × 100; output tokens/s as the table
//! shows it). A latency-like figure holds when it is ≤ its threshold, output tokens/s when it is
//! ≥ its minimum. A percentile p needs at least ⌈100 ÷ (100 − p)⌉ samples to be judged (p50: 2,
//! p90: 10, p95: 20, p99: 100): below that the nearest-rank value is just the maximum or close
//! to it. The error rate needs one completed request; tokens/s one successful request. The
//! stage is `fail` when any judged figure breaks its threshold, or when requests completed and
//! none succeeded; else `insufficient` when some threshold could not be judged; else `pass`.
//! The run's verdict is the worst stage's (fail > insufficient > pass).
//!
//! **Goodput** (DistServe, as vLLM's `--goodput`): a request is good when it succeeded and
//! meets every per-request threshold given, a percentile's value applied to each request
//! (latency, TTFT, TPOT; with several percentiles of one figure, the tightest): "TTFT p95 ≤ 500"
//! makes a request good only if its own TTFT ≤ 500 ms. A request without the figure (no TTFT:
//! not a stream) is not good, except that a stream with fewer than 2 tokens has TPOT 0, as in
//! vLLM. Good requests/s = good ÷ wall time; goodput share = good ÷ completed; token goodput =
//! Σ output tokens of good requests ÷ wall time.
//!
//! **Knee**: over the stages with a `pass` or `fail` verdict, ordered by load (requested
//! concurrency; requested rate when every stage is open-loop), the highest load up to which
//! every judged stage passed, and the lowest load that failed.

use serde::{Deserialize, Serialize};

use crate::model::Sample;
use crate::stats::{Distribution, StageStats};
use crate::thresholds::{Slo, SloMetric};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Pass,
    Insufficient,
    Fail,
}

impl Verdict {
    /// As the page reads it.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Insufficient => "not enough data",
        }
    }
}

/// One stage judged against the SLO.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageVerdict {
    pub verdict: Verdict,
    /// Each figure that breaks its threshold: "TTFT p95 612 ms > 500 ms".
    #[serde(default)]
    pub failing: Vec<String>,
    /// Each threshold that could not be judged, and why: "TTFT p99: 40 samples, needs 100".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub insufficient: Vec<String>,
}

impl StageVerdict {
    /// Why the stage did not pass, as the page, the Markdown summary and the CLI print it: the
    /// failing figures, then what could not be judged, "; " between them ("" on a pass).
    pub fn reasons(&self) -> String {
        self.failing
            .iter()
            .chain(&self.insufficient)
            .cloned()
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Samples a percentile needs before its nearest-rank value means anything: ⌈100 ÷ (100 − p)⌉.
pub fn min_samples(percentile: u32) -> u64 {
    let tail = u64::from(100u32.saturating_sub(percentile).max(1));
    100u64.div_ceil(tail)
}

/// A figure as the verdict prints it: at most two decimals, trailing zeros dropped, so 612
/// reads "612" and 500.04 is never shown as "500".
pub fn figure(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The distribution a threshold is on.
fn distribution(st: &StageStats, m: SloMetric) -> Option<&Distribution> {
    match m {
        SloMetric::LatencyP50
        | SloMetric::LatencyP90
        | SloMetric::LatencyP95
        | SloMetric::LatencyP99 => st.latency_ms.as_ref(),
        SloMetric::TtftP50 | SloMetric::TtftP95 | SloMetric::TtftP99 => st.ttft_ms.as_ref(),
        SloMetric::TpotP50 | SloMetric::TpotP95 | SloMetric::TpotP99 => st.tpot_ms.as_ref(),
        SloMetric::InterChunkP99 => st.inter_chunk_ms.as_ref(),
        SloMetric::ErrorRate | SloMetric::MinTokensPerS => None,
    }
}

fn at(d: &Distribution, p: u32) -> f64 {
    match p {
        50 => d.p50,
        90 => d.p90,
        95 => d.p95,
        _ => d.p99,
    }
}

/// The stage's value for `m`, or why it cannot be judged.
fn value(st: &StageStats, m: SloMetric) -> Result<f64, String> {
    let name = m.name();
    match (m, m.percentile()) {
        (SloMetric::ErrorRate, _) => match st.completed {
            0 => Err(format!("{name}: no request completed")),
            n => Ok(st.failed as f64 / n as f64 * 100.0),
        },
        (SloMetric::MinTokensPerS, _) => st
            .output_tokens_per_s
            .filter(|_| st.successful > 0)
            .ok_or_else(|| format!("{name}: no request succeeded")),
        (_, Some(p)) => {
            let need = min_samples(p);
            match distribution(st, m) {
                Some(d) if d.count >= need => Ok(at(d, p)),
                Some(d) => Err(format!("{name}: {} samples, needs {need}", d.count)),
                None => Err(format!("{name}: 0 samples, needs {need}")),
            }
        }
        (_, None) => Err(format!("{name}: not a figure of a stage")),
    }
}

/// Judge one stage by the rule in the module doc. An empty SLO passes every stage (callers
/// show no verdict then).
pub fn judge(st: &StageStats, slo: &Slo) -> StageVerdict {
    let mut failing = Vec::new();
    let mut insufficient = Vec::new();
    if !slo.is_empty() && st.completed > 0 && st.successful == 0 {
        failing.push(format!("no request succeeded (of {})", st.completed));
    }
    for (m, limit) in slo.given() {
        match value(st, m) {
            Ok(v) if m.is_minimum() && v < limit => failing.push(format!(
                "{} {} < {} {}",
                m.name(),
                figure(v),
                figure(limit),
                m.unit()
            )),
            Ok(v) if !m.is_minimum() && v > limit => {
                let unit = m.unit();
                let gap = if unit == "%" { "" } else { " " };
                failing.push(format!(
                    "{} {}{gap}{unit} > {}{gap}{unit}",
                    m.name(),
                    figure(v),
                    figure(limit)
                ))
            }
            Ok(_) => {}
            // The figure is missing because nothing succeeded: already failed above.
            Err(_) if st.completed > 0 && st.successful == 0 => {}
            Err(why) => insufficient.push(why),
        }
    }
    let verdict = if !failing.is_empty() {
        Verdict::Fail
    } else if !insufficient.is_empty() {
        Verdict::Insufficient
    } else {
        Verdict::Pass
    };
    StageVerdict {
        verdict,
        failing,
        insufficient,
    }
}

/// The run's verdict: the worst stage's; `None` with no stage.
pub fn run_verdict(verdicts: &[StageVerdict]) -> Option<Verdict> {
    verdicts.iter().map(|v| v.verdict).max()
}

/// Per-request limits of a goodput (the tightest threshold per figure), ms.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RequestLimits {
    pub latency_ms: Option<f64>,
    pub ttft_ms: Option<f64>,
    pub tpot_ms: Option<f64>,
}

impl RequestLimits {
    pub fn of(slo: &Slo) -> RequestLimits {
        let tightest =
            |ms: &[SloMetric]| ms.iter().filter_map(|m| slo.get(*m)).min_by(f64::total_cmp);
        use SloMetric::*;
        RequestLimits {
            latency_ms: tightest(&[LatencyP50, LatencyP90, LatencyP95, LatencyP99]),
            ttft_ms: tightest(&[TtftP50, TtftP95, TtftP99]),
            tpot_ms: tightest(&[TpotP50, TpotP95, TpotP99]),
        }
    }

    /// Whether `s` is a good request (module doc).
    pub fn good(&self, s: &Sample) -> bool {
        let within = |limit: Option<f64>, v: Option<f64>| match limit {
            None => true,
            Some(l) => v.is_some_and(|v| v <= l),
        };
        let ttft = s.ttft_ms();
        let tpot = s.tpot_ms().or_else(|| {
            // A stream with one token has no time between tokens: TPOT 0, as vLLM counts it.
            (ttft.is_some() && s.output_tokens.unwrap_or(0) < 2).then_some(0.0)
        });
        s.ok()
            && !s.warmup
            && within(self.latency_ms, Some(s.latency_ms()))
            && within(self.ttft_ms, ttft)
            && within(self.tpot_ms, tpot)
    }
}

/// A stage's goodput (module doc).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Goodput {
    pub good_requests: u64,
    /// good ÷ wall time.
    pub good_per_s: Option<f64>,
    /// good ÷ completed, 0–1.
    pub goodput_share: Option<f64>,
    /// Σ output tokens of good requests ÷ wall time.
    pub good_tokens_per_s: Option<f64>,
}

/// Goodput of `st` from its samples (others are skipped). `None` for a stage past the sample
/// ceiling: its kept samples are only part of it.
pub fn goodput<S: std::borrow::Borrow<Sample>>(
    st: &StageStats,
    limits: &RequestLimits,
    samples: impl IntoIterator<Item = S>,
) -> Option<Goodput> {
    let (mut good, mut tokens) = (0u64, 0u64);
    for s in samples {
        let s = s.borrow();
        if s.stage == st.stage && limits.good(s) {
            good += 1;
            tokens += s.output_tokens.unwrap_or(0);
        }
    }
    goodput_of(st, good, tokens)
}

/// The figures from `good` requests with `tokens` output tokens in all; `None` past the
/// sample ceiling.
fn goodput_of(st: &StageStats, good: u64, tokens: u64) -> Option<Goodput> {
    if !st.approximate.is_empty() {
        return None;
    }
    let wall_s = st.wall_ms / 1000.0;
    let per_s = |n: u64| (wall_s > 0.0).then(|| n as f64 / wall_s);
    Some(Goodput {
        good_requests: good,
        good_per_s: per_s(good),
        goodput_share: (st.completed > 0).then(|| good as f64 / st.completed as f64),
        good_tokens_per_s: per_s(tokens),
    })
}

/// What the knee's loads count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoadUnit {
    Concurrency,
    RatePerS,
}

/// Where the run stops meeting its SLO (module doc).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Knee {
    pub unit: LoadUnit,
    /// The highest load up to which every judged stage passed; `None` when the lowest failed.
    pub meets_up_to: Option<f64>,
    /// The lowest load whose stage failed; `None` when none did.
    pub first_failing: Option<f64>,
}

impl Knee {
    /// "meets SLO up to 10 concurrent; fails at 20 concurrent".
    pub fn label(&self) -> String {
        let load = |v: f64| match self.unit {
            LoadUnit::Concurrency => format!("{} concurrent", figure(v)),
            LoadUnit::RatePerS => format!("{} requests/s", figure(v)),
        };
        match (self.meets_up_to, self.first_failing) {
            (Some(ok), Some(bad)) => {
                format!("meets SLO up to {}; fails at {}", load(ok), load(bad))
            }
            (Some(ok), None) => format!("meets SLO up to {} (every load run)", load(ok)),
            (None, Some(bad)) => format!("fails the SLO from the lowest load run, {}", load(bad)),
            (None, None) => "no stage judged".into(),
        }
    }
}

/// The knee over `stats` and their `verdicts` (same order); `None` when no stage was judged
/// pass or fail.
pub fn knee(stats: &[StageStats], verdicts: &[StageVerdict]) -> Option<Knee> {
    let open = |st: &StageStats| st.requested_rate_per_s;
    let unit = if !stats.is_empty() && stats.iter().all(|st| open(st).is_some()) {
        LoadUnit::RatePerS
    } else {
        LoadUnit::Concurrency
    };
    let mut judged: Vec<(f64, Verdict)> = stats
        .iter()
        .zip(verdicts)
        .filter(|(_, v)| v.verdict != Verdict::Insufficient)
        .filter_map(|(st, v)| {
            let load = match unit {
                LoadUnit::RatePerS => open(st)?,
                // An open-loop stage's concurrency is a cap, not its load.
                LoadUnit::Concurrency if open(st).is_some() => return None,
                LoadUnit::Concurrency => f64::from(st.requested_concurrency),
            };
            Some((load, v.verdict))
        })
        .collect();
    if judged.is_empty() {
        return None;
    }
    judged.sort_by(|a, b| a.0.total_cmp(&b.0));
    let first_failing = judged
        .iter()
        .find(|(_, v)| *v == Verdict::Fail)
        .map(|(l, _)| *l);
    let meets_up_to = judged
        .iter()
        .take_while(|(l, v)| *v == Verdict::Pass && first_failing.is_none_or(|f| *l < f))
        .map(|(l, _)| *l)
        .last();
    Some(Knee {
        unit,
        meets_up_to,
        first_failing,
    })
}

/// One stage in the report's SLO section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageJudgement {
    pub stage: u32,
    #[serde(flatten)]
    pub verdict: StageVerdict,
    /// `None` past the sample ceiling.
    #[serde(default, flatten, skip_serializing_if = "Option::is_none")]
    pub goodput: Option<Goodput>,
}

/// The report's `slo` section: the thresholds, each stage judged, the run's verdict, the knee.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SloReport {
    pub thresholds: Slo,
    pub verdict: Verdict,
    pub stages: Vec<StageJudgement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub knee: Option<Knee>,
}

/// Judge every stage of a run; `None` when the SLO is empty or no stage has figures. One pass
/// over the samples.
pub fn assess<S: std::borrow::Borrow<Sample>>(
    slo: &Slo,
    stats: &[StageStats],
    samples: impl IntoIterator<Item = S>,
) -> Option<SloReport> {
    if slo.is_empty() || stats.is_empty() {
        return None;
    }
    let limits = RequestLimits::of(slo);
    let verdicts: Vec<StageVerdict> = stats.iter().map(|st| judge(st, slo)).collect();
    let mut goods: Vec<(u64, u64)> = vec![(0, 0); stats.len()];
    for s in samples {
        let s = s.borrow();
        if let Some(i) = stats.iter().position(|st| st.stage == s.stage) {
            if limits.good(s) {
                if let Some(g) = goods.get_mut(i) {
                    g.0 += 1;
                    g.1 += s.output_tokens.unwrap_or(0);
                }
            }
        }
    }
    let stages = stats
        .iter()
        .zip(&verdicts)
        .zip(goods)
        .map(|((st, v), (good, tokens))| StageJudgement {
            stage: st.stage,
            verdict: v.clone(),
            goodput: goodput_of(st, good, tokens),
        })
        .collect();
    Some(SloReport {
        thresholds: slo.clone(),
        verdict: run_verdict(&verdicts).unwrap_or(Verdict::Insufficient),
        stages,
        knee: knee(stats, &verdicts),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ErrorClass;
    use crate::stats::stage_stats;
    use crate::suite::{RateSpec, StageSpec};

    fn spec(concurrency: u32) -> StageSpec {
        StageSpec {
            duration_s: None,
            ramp_from: None,
            name: format!("c{concurrency}"),
            concurrency,
            requests: 100,
            rate: None,
        }
    }

    /// A streamed success: starts at `start`, first token after `ttft`, `tokens` tokens, ends
    /// after `latency`.
    fn ok(stage: u32, start: f64, ttft: f64, latency: f64, tokens: u64) -> Sample {
        Sample {
            stage,
            start_ms: start,
            first_token_ms: Some(start + ttft),
            end_ms: start + latency,
            status: Some(200),
            output_tokens: Some(tokens),
            ..Sample::default()
        }
    }

    fn failed(stage: u32, start: f64) -> Sample {
        Sample {
            stage,
            start_ms: start,
            end_ms: start + 10.0,
            status: Some(500),
            error_class: Some(ErrorClass::Http),
            ..Sample::default()
        }
    }

    fn slo(set: &[(SloMetric, f64)]) -> Slo {
        let mut s = Slo::default();
        for (m, v) in set {
            s.set(*m, Some(*v));
        }
        s
    }

    #[test]
    fn the_sample_rule_is_the_tail_size() {
        // ⌈100 / (100 − p)⌉: 100/50 = 2, 100/10 = 10, 100/5 = 20, 100/1 = 100.
        let got: Vec<u64> = [50, 90, 95, 99].into_iter().map(min_samples).collect();
        assert_eq!(got, [2, 10, 20, 100]);
        assert_eq!(figure(612.0), "612");
        assert_eq!(figure(500.04), "500.04");
        assert_eq!(figure(12.5), "12.5");
    }

    #[test]
    fn a_stage_passes_fails_or_has_too_few_samples() {
        // 20 requests, TTFT 100, 110, …, 290 ms (100 + 10 k). Nearest rank p95 = the
        // ⌈0.95 × 20⌉ = 19th = 100 + 18 × 10 = 280 ms; p50 = the 10th = 190 ms.
        let samples: Vec<Sample> = (0..20)
            .map(|k| ok(0, 0.0, 100.0 + 10.0 * k as f64, 1000.0, 10))
            .collect();
        let st = stage_stats(0, &spec(2), &samples);
        let pass = judge(&st, &slo(&[(SloMetric::TtftP95, 280.0)]));
        assert_eq!(pass.verdict, Verdict::Pass);
        let fail = judge(
            &st,
            &slo(&[(SloMetric::TtftP95, 250.0), (SloMetric::TtftP50, 200.0)]),
        );
        assert_eq!(fail.verdict, Verdict::Fail);
        assert_eq!(fail.failing, ["TTFT p95 280 ms > 250 ms"]);
        // p99 needs 100 samples; 20 is too few. p95 still judged and passing → insufficient.
        let few = judge(
            &st,
            &slo(&[(SloMetric::TtftP95, 300.0), (SloMetric::TtftP99, 300.0)]),
        );
        assert_eq!(few.verdict, Verdict::Insufficient);
        assert_eq!(few.insufficient, ["TTFT p99: 20 samples, needs 100"]);
        // A break found beats a figure not judged.
        let both = judge(
            &st,
            &slo(&[(SloMetric::TtftP95, 200.0), (SloMetric::TtftP99, 300.0)]),
        );
        assert_eq!(both.verdict, Verdict::Fail);
        // Not a stream: no TPOT samples at all.
        let plain: Vec<Sample> = (0..20)
            .map(|k| Sample {
                first_token_ms: None,
                ..ok(0, 0.0, 0.0, 100.0 + k as f64, 10)
            })
            .collect();
        let st = stage_stats(0, &spec(2), &plain);
        let none = judge(&st, &slo(&[(SloMetric::TpotP50, 5.0)]));
        assert_eq!(none.verdict, Verdict::Insufficient);
        assert_eq!(none.insufficient, ["TPOT p50: 0 samples, needs 2"]);
    }

    #[test]
    fn error_rate_tokens_and_an_all_failed_stage() {
        // 8 successes + 2 failures: error rate 2 / 10 × 100 = 20 %.
        let mut samples: Vec<Sample> = (0..8).map(|k| ok(0, k as f64, 50.0, 100.0, 10)).collect();
        samples.extend((0..2).map(|k| failed(0, k as f64)));
        let st = stage_stats(0, &spec(2), &samples);
        let v = judge(&st, &slo(&[(SloMetric::ErrorRate, 10.0)]));
        assert_eq!(v.failing, ["error rate 20% > 10%"]);
        assert_eq!(
            judge(&st, &slo(&[(SloMetric::ErrorRate, 20.0)])).verdict,
            Verdict::Pass
        );
        // Wall time 0 → 107 ms (last success starts at 7, ends at 107); 80 tokens / 0.107 s
        // = 747.66 tok/s.
        let v = judge(&st, &slo(&[(SloMetric::MinTokensPerS, 1000.0)]));
        assert_eq!(v.failing, ["output tokens/s 747.66 < 1000 tok/s"]);

        // Every request failed: a latency threshold has no samples, but the stage fails.
        let all: Vec<Sample> = (0..5).map(|k| failed(0, k as f64)).collect();
        let st = stage_stats(0, &spec(2), &all);
        let v = judge(&st, &slo(&[(SloMetric::LatencyP50, 1000.0)]));
        assert_eq!(v.verdict, Verdict::Fail);
        assert_eq!(v.failing, ["no request succeeded (of 5)"]);
        assert!(v.insufficient.is_empty());
        // Nothing completed (all aborted): nothing to judge.
        let aborted: Vec<Sample> = (0..3)
            .map(|k| Sample {
                error_class: Some(ErrorClass::Aborted),
                ..failed(0, k as f64)
            })
            .collect();
        let st = stage_stats(0, &spec(2), &aborted);
        let v = judge(&st, &slo(&[(SloMetric::ErrorRate, 5.0)]));
        assert_eq!(v.verdict, Verdict::Insufficient);
        assert_eq!(
            run_verdict(&[v.clone(), judge(&st, &Slo::default())]),
            Some(Verdict::Insufficient)
        );
    }

    #[test]
    fn goodput_counts_requests_within_every_per_request_limit() {
        // 4 streamed successes over 0 → 2000 ms, 10 tokens each:
        //   TTFT 100, latency 1000 → TPOT (1000 − 100) / 9 = 100   good
        //   TTFT 600, latency 1000                                   TTFT over 500
        //   TTFT 100, latency 2000 → TPOT 1900 / 9 = 211.1           TPOT over 150
        //   TTFT 200, latency 1100 → TPOT 900 / 9 = 100              good
        // + 1 failure (never good) + 1 warm-up (not counted).
        let samples = vec![
            ok(0, 0.0, 100.0, 1000.0, 10),
            ok(0, 0.0, 600.0, 1000.0, 10),
            ok(0, 0.0, 100.0, 2000.0, 10),
            ok(0, 0.0, 200.0, 1100.0, 10),
            failed(0, 0.0),
            Sample {
                warmup: true,
                ..ok(0, -50.0, 1.0, 2.0, 10)
            },
        ];
        let st = stage_stats(0, &spec(2), &samples);
        assert_eq!(st.wall_ms, 2000.0);
        // TTFT p95 ≤ 500 and the tighter of TPOT p50 ≤ 150 / p99 ≤ 400 apply to each request.
        let s = slo(&[
            (SloMetric::TtftP95, 500.0),
            (SloMetric::TpotP50, 150.0),
            (SloMetric::TpotP99, 400.0),
        ]);
        let limits = RequestLimits::of(&s);
        assert_eq!(limits.tpot_ms, Some(150.0));
        let g = goodput(&st, &limits, &samples);
        // 2 good of 5 completed; 2 / 2 s = 1 /s; 20 tokens / 2 s = 10 tok/s.
        assert_eq!(
            g,
            Some(Goodput {
                good_requests: 2,
                good_per_s: Some(1.0),
                goodput_share: Some(0.4),
                good_tokens_per_s: Some(10.0),
            })
        );
        // The report's section gives the same figures in one pass.
        let r = assess(&s, std::slice::from_ref(&st), &samples);
        assert_eq!(
            r.and_then(|r| r.stages.first().and_then(|j| j.goodput.clone())),
            g
        );
        // Without a TTFT (not streamed) a request cannot be shown to meet a TTFT limit.
        let plain = Sample {
            first_token_ms: None,
            ..ok(0, 0.0, 0.0, 100.0, 10)
        };
        assert!(!limits.good(&plain));
        // A one-token stream has TPOT 0 (vLLM's rule) and meets any TPOT limit.
        assert!(limits.good(&ok(0, 0.0, 100.0, 5000.0, 1)));
        // An empty SLO judges nothing.
        assert_eq!(assess(&Slo::default(), &[st], &samples), None);
    }

    fn verdict(v: Verdict) -> StageVerdict {
        StageVerdict {
            verdict: v,
            failing: Vec::new(),
            insufficient: Vec::new(),
        }
    }

    fn stats_at(concurrency: &[u32]) -> Vec<StageStats> {
        concurrency
            .iter()
            .enumerate()
            .map(|(i, c)| stage_stats(i as u32, &spec(*c), [ok(i as u32, 0.0, 1.0, 2.0, 1)]))
            .collect()
    }

    #[test]
    fn the_knee_is_the_last_pass_before_the_first_fail() {
        use Verdict::*;
        let st = stats_at(&[2, 5, 10, 20]);
        let k = knee(&st, &[Pass, Pass, Pass, Fail].map(verdict));
        assert_eq!(k.as_ref().and_then(|k| k.meets_up_to), Some(10.0));
        assert_eq!(k.as_ref().and_then(|k| k.first_failing), Some(20.0));
        assert_eq!(
            k.map(|k| k.label()).as_deref(),
            Some("meets SLO up to 10 concurrent; fails at 20 concurrent")
        );
        // An insufficient stage is skipped; a pass above a fail does not raise the knee.
        let k = knee(&st, &[Pass, Insufficient, Fail, Pass].map(verdict));
        assert_eq!(
            k.as_ref().map(|k| (k.meets_up_to, k.first_failing)),
            Some((Some(2.0), Some(10.0)))
        );
        // Run out of order: sorted by load. 10 fails, so 5 is the knee, not 20.
        let st = stats_at(&[20, 5, 10]);
        let k = knee(&st, &[Pass, Pass, Fail].map(verdict));
        assert_eq!(
            k.map(|k| (k.meets_up_to, k.first_failing)),
            Some((Some(5.0), Some(10.0)))
        );
        // All failed; all passed; nothing judged.
        let st = stats_at(&[2, 5]);
        assert_eq!(
            knee(&st, &[Fail, Fail].map(verdict)).map(|k| k.meets_up_to),
            Some(None)
        );
        assert_eq!(
            knee(&st, &[Pass, Pass].map(verdict)).map(|k| k.first_failing),
            Some(None)
        );
        assert_eq!(knee(&st, &[Insufficient, Insufficient].map(verdict)), None);
        // Every stage open-loop: the load is the rate.
        let open: Vec<StageStats> = [2.0, 8.0]
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let s = StageSpec {
                    duration_s: None,
                    ramp_from: None,
                    rate: Some(RateSpec {
                        per_s: *r,
                        poisson: false,
                        seed: 1,
                    }),
                    ..spec(50)
                };
                stage_stats(i as u32, &s, [ok(i as u32, 0.0, 1.0, 2.0, 1)])
            })
            .collect();
        let k = knee(&open, &[Pass, Fail].map(verdict));
        assert_eq!(
            k.map(|k| k.label()).as_deref(),
            Some("meets SLO up to 2 requests/s; fails at 8 requests/s")
        );
    }
}
