//! Comparing a run with a baseline run (DESIGN §3 "compare"): stages matched by position and
//! load, Δ and Δ% per figure with the direction that is better, and whether the difference in
//! latency is real by a stated test on the two stages' samples.
//!
//! The test is the Mann–Whitney U test (two-sided, normal approximation with tie and continuity
//! corrections): it asks whether one stage's latencies tend to be larger than the other's
//! without assuming a shape, which suits latency distributions (skewed, often bimodal). It is
//! a few lines on sorted ranks, so it is written here; only `erfc` comes from `libm`.

use serde::{Deserialize, Serialize};

use crate::stats::{browser_cap, Aggregator, BrowserCap, Distribution, StageStats};
use crate::suite::StageSpec;

/// Below this p-value a latency difference is called significant.
pub const ALPHA: f64 = 0.05;
/// Successful requests each side needs for the test: below it the normal approximation of U
/// is poor and a median moves with one request.
pub const MIN_TEST_SAMPLES: usize = 10;
/// Runs a scaling chart overlays besides the shown one (the baseline and up to four more).
pub const MAX_OVERLAYS: usize = 5;
/// Points of a CDF line (the chart cannot show more).
pub const MAX_CDF_POINTS: usize = 500;
/// What the report says about the test.
pub const METHOD: &str = "Mann-Whitney U on the two stages' successful latencies (two-sided, \
     normal approximation with tie and continuity corrections); significant when p < 0.05";

/// The run a comparison was made against, as the report records it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BaselineRef {
    /// Where it came from: a history entry's id, or `file:<name>` for an imported file.
    pub id: String,
    pub label: String,
    /// The baseline report's own `created_at`.
    pub created_at: String,
}

/// Which way a figure is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Better {
    Lower,
    Higher,
}

/// What the change means, with the figure's direction applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    Better,
    Worse,
    Same,
}

/// One figure of a matched stage in both runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricDelta {
    /// `latency_p50_ms`, `ttft_p95_ms`, `requests_per_s`, `success_rate`, …
    pub metric: String,
    pub baseline: Option<f64>,
    pub current: Option<f64>,
    /// current − baseline, when both have the figure.
    pub delta: Option<f64>,
    /// Δ ÷ baseline × 100, when both have it and the baseline is not 0.
    pub delta_pct: Option<f64>,
    pub better: Better,
    /// `None` when either side lacks the figure.
    pub change: Option<Change>,
}

/// The significance test's outcome for a stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TestVerdict {
    /// p < [`ALPHA`]: the two stages' latencies differ.
    Significant,
    /// p ≥ [`ALPHA`]: the difference is within what chance gives.
    WithinNoise,
    /// Too few successful requests on a side (fewer than [`MIN_TEST_SAMPLES`], or none).
    NotEnoughData,
    /// The samples the test needs are not all there (past the sample ceiling).
    CannotRun,
    /// The stage is still running: the test runs when it ends.
    Pending,
}

impl TestVerdict {
    pub fn label(self) -> &'static str {
        match self {
            TestVerdict::Significant => "significant",
            TestVerdict::WithinNoise => "within noise",
            TestVerdict::NotEnoughData => "not enough data",
            TestVerdict::CannotRun => "cannot test",
            TestVerdict::Pending => "pending",
        }
    }
}

/// The latency test of a matched stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LatencyTest {
    pub verdict: TestVerdict,
    /// Two-sided p-value, when the test ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p_value: Option<f64>,
    /// U of the baseline's sample, and its z score (continuity-corrected).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub u: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub z: Option<f64>,
    /// Successful latencies each side had.
    pub n_baseline: u64,
    pub n_current: u64,
    /// Why the test did not run, for the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl LatencyTest {
    fn not_run(verdict: TestVerdict, n: (u64, u64), note: String) -> LatencyTest {
        LatencyTest {
            verdict,
            p_value: None,
            u: None,
            z: None,
            n_baseline: n.0,
            n_current: n.1,
            note: Some(note),
        }
    }
}

/// One stage of the shown run against the baseline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageComparison {
    /// The shown run's stage (0-based) and name.
    pub stage: u32,
    pub name: String,
    /// The baseline's matching stage; `None` with `unmatched` saying why.
    pub baseline_stage: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unmatched: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<MetricDelta>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_test: Option<LatencyTest>,
    /// Browser vs native: which of this stage's figures the browser's connection cap shaped
    /// on one side while the other (the command line) had no cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_note: Option<String>,
}

/// The comparison section of a report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub method: String,
    pub alpha: f64,
    /// When one run is the command line's and the other the page's: what that means.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_note: Option<String>,
    pub stages: Vec<StageComparison>,
}

/// The baseline stage matching stage `i` of the shown run (spec `current`): the same position,
/// the same concurrency, and for open-loop stages the same rate. `Err` says why not.
pub fn match_stage(baseline: &[StageSpec], i: usize, current: &StageSpec) -> Result<usize, String> {
    let Some(b) = baseline.get(i) else {
        return Err(format!(
            "no matching stage: the baseline has {} stage(s)",
            baseline.len()
        ));
    };
    if b.concurrency != current.concurrency {
        return Err(format!(
            "no matching stage: the baseline's stage {} ran at concurrency {}, this one at {}",
            i + 1,
            b.concurrency,
            current.concurrency
        ));
    }
    match (&b.rate, &current.rate) {
        (None, None) => Ok(i),
        (Some(br), Some(cr)) if (br.per_s - cr.per_s).abs() <= 1e-9 * br.per_s.abs().max(1.0) => {
            Ok(i)
        }
        (Some(br), Some(cr)) => Err(format!(
            "no matching stage: the baseline's stage {} ran at {}/s, this one at {}/s",
            i + 1,
            br.per_s,
            cr.per_s
        )),
        (Some(_), None) => Err(format!(
            "no matching stage: the baseline's stage {} was open-loop (a rate), this one closed",
            i + 1
        )),
        (None, Some(_)) => Err(format!(
            "no matching stage: the baseline's stage {} was closed-loop, this one has a rate",
            i + 1
        )),
    }
}

fn pick(d: &Option<Distribution>, f: fn(&Distribution) -> f64) -> Option<f64> {
    d.as_ref().map(f)
}

/// The figures compared, in the order shown: name, how to read it, which way is better, and
/// whether it applies only to streamed stages (then it is left out unless a side has it).
type Figure = (&'static str, fn(&StageStats) -> Option<f64>, Better, bool);

const FIGURES: [Figure; 10] = [
    (
        "latency_p50_ms",
        |s| pick(&s.latency_ms, |d| d.p50),
        Better::Lower,
        false,
    ),
    (
        "latency_p95_ms",
        |s| pick(&s.latency_ms, |d| d.p95),
        Better::Lower,
        false,
    ),
    (
        "latency_p99_ms",
        |s| pick(&s.latency_ms, |d| d.p99),
        Better::Lower,
        false,
    ),
    (
        "ttft_p50_ms",
        |s| pick(&s.ttft_ms, |d| d.p50),
        Better::Lower,
        true,
    ),
    (
        "ttft_p95_ms",
        |s| pick(&s.ttft_ms, |d| d.p95),
        Better::Lower,
        true,
    ),
    (
        "tpot_p50_ms",
        |s| pick(&s.tpot_ms, |d| d.p50),
        Better::Lower,
        true,
    ),
    (
        "tpot_p95_ms",
        |s| pick(&s.tpot_ms, |d| d.p95),
        Better::Lower,
        true,
    ),
    // Failures per second are not throughput, as in the table.
    (
        "requests_per_s",
        |s| s.requests_per_s.filter(|_| s.successful > 0),
        Better::Higher,
        false,
    ),
    (
        "output_tokens_per_s",
        |s| s.output_tokens_per_s,
        Better::Higher,
        false,
    ),
    ("success_rate", |s| s.success_rate, Better::Higher, false),
];

/// A figure's label for people.
pub fn metric_label(metric: &str) -> &'static str {
    match metric {
        "latency_p50_ms" => "Latency p50 (ms)",
        "latency_p95_ms" => "Latency p95 (ms)",
        "latency_p99_ms" => "Latency p99 (ms)",
        "ttft_p50_ms" => "TTFT p50 (ms)",
        "ttft_p95_ms" => "TTFT p95 (ms)",
        "tpot_p50_ms" => "TPOT p50 (ms)",
        "tpot_p95_ms" => "TPOT p95 (ms)",
        "requests_per_s" => "Requests/s",
        "output_tokens_per_s" => "Output tokens/s",
        "success_rate" => "Success rate",
        _ => "",
    }
}

/// Δ and Δ% of every figure either stage has (the streamed ones only when a side streamed).
pub fn deltas(baseline: &StageStats, current: &StageStats) -> Vec<MetricDelta> {
    FIGURES
        .iter()
        .filter_map(|&(metric, f, better, streamed)| {
            let (b, c) = (
                f(baseline).filter(|v| v.is_finite()),
                f(current).filter(|v| v.is_finite()),
            );
            if streamed && b.is_none() && c.is_none() {
                return None;
            }
            let delta = b.zip(c).map(|(b, c)| c - b);
            let delta_pct = b
                .zip(delta)
                .filter(|(b, _)| *b != 0.0)
                .map(|(b, d)| d / b * 100.0);
            let change = delta.map(|d| {
                if d == 0.0 {
                    Change::Same
                } else if (d < 0.0) == (better == Better::Lower) {
                    Change::Better
                } else {
                    Change::Worse
                }
            });
            Some(MetricDelta {
                metric: metric.to_string(),
                baseline: b,
                current: c,
                delta,
                delta_pct,
                better,
                change,
            })
        })
        .collect()
}

/// The Mann–Whitney U test of `x` (baseline) against `y` (current): `(U of x, z, p)`, two-sided,
/// normal approximation with the tie correction of the variance and a continuity correction
/// of ½. `None` when a side is empty. All values equal gives z = 0, p = 1.
pub fn mann_whitney(x: &[f64], y: &[f64]) -> Option<(f64, f64, f64)> {
    let (n1, n2) = (x.len(), y.len());
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let mut all: Vec<(f64, bool)> = x
        .iter()
        .map(|&v| (v, true))
        .chain(y.iter().map(|&v| (v, false)))
        .collect();
    all.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let n = all.len();
    // Ranks 1..=n; a run of t equal values shares the mean of its ranks.
    let (mut r1, mut ties, mut i) = (0.0, 0.0, 0);
    while i < n {
        let mut j = i + 1;
        while j < n && all[j].0 == all[i].0 {
            j += 1;
        }
        let t = (j - i) as f64;
        let rank = (i + 1 + j) as f64 / 2.0;
        r1 += rank * all[i..j].iter().filter(|v| v.1).count() as f64;
        ties += t * t * t - t;
        i = j;
    }
    let (n1f, n2f, nf) = (n1 as f64, n2 as f64, n as f64);
    let u1 = r1 - n1f * (n1f + 1.0) / 2.0;
    let mean = n1f * n2f / 2.0;
    let var = n1f * n2f / 12.0 * ((nf + 1.0) - ties / (nf * (nf - 1.0)));
    let off = u1 - mean;
    if var <= 0.0 || off.abs() <= 0.5 {
        return Some((u1, 0.0, 1.0));
    }
    let z = (off - 0.5 * off.signum()) / var.sqrt();
    let p = libm::erfc(z.abs() / std::f64::consts::SQRT_2).clamp(0.0, 1.0);
    Some((u1, z, p))
}

/// The successful, measured latencies of stage `i`.
fn latencies(agg: &Aggregator, i: usize) -> Vec<f64> {
    agg.stage_samples(i)
        .filter(|s| s.ok() && !s.warmup)
        .map(|s| s.latency_ms())
        .collect()
}

/// The latency test of baseline stage `bi` against the shown run's stage `ci`.
pub fn latency_test(
    baseline: &Aggregator,
    bi: usize,
    b: &StageStats,
    current: &Aggregator,
    ci: usize,
    c: &StageStats,
) -> LatencyTest {
    let n = (b.successful, c.successful);
    let past_ceiling = |st: &StageStats, who: &str| {
        (!st.approximate.is_empty()).then(|| {
            format!(
                "{who} stage ran past the sample ceiling, so only its first samples were kept: \
                 the test needs every latency"
            )
        })
    };
    if let Some(note) = past_ceiling(b, "the baseline's").or_else(|| past_ceiling(c, "this run's"))
    {
        return LatencyTest::not_run(TestVerdict::CannotRun, n, note);
    }
    let (x, y) = (latencies(baseline, bi), latencies(current, ci));
    let n = (x.len() as u64, y.len() as u64);
    for (v, who) in [(&x, "the baseline's"), (&y, "this run's")] {
        if v.is_empty() {
            return LatencyTest::not_run(
                TestVerdict::NotEnoughData,
                n,
                format!("{who} stage has no successful requests"),
            );
        }
        if v.len() < MIN_TEST_SAMPLES {
            return LatencyTest::not_run(
                TestVerdict::NotEnoughData,
                n,
                format!(
                    "{who} stage has {} successful requests; the test needs {MIN_TEST_SAMPLES} on each side",
                    v.len()
                ),
            );
        }
    }
    let Some((u, z, p)) = mann_whitney(&x, &y) else {
        return LatencyTest::not_run(TestVerdict::NotEnoughData, n, "no samples".into());
    };
    LatencyTest {
        verdict: if p < ALPHA {
            TestVerdict::Significant
        } else {
            TestVerdict::WithinNoise
        },
        p_value: Some(p),
        u: Some(u),
        z: Some(z),
        n_baseline: n.0,
        n_current: n.1,
        note: None,
    }
}

/// The browser's cap on one run's stages: none for the command line.
fn cap_of(agg: &Aggregator) -> BrowserCap {
    if agg.is_native() {
        BrowserCap::None
    } else {
        browser_cap(agg.targets())
    }
}

/// Browser vs native for a stage: when exactly one run is the command line's and the browser's
/// run asked for more in flight than its connection cap lets through.
fn stage_client_note(
    baseline: &Aggregator,
    current: &Aggregator,
    concurrency: u32,
) -> Option<String> {
    let (browser, native_side) = match (baseline.is_native(), current.is_native()) {
        (true, false) => (current, "the baseline (the stampede command line)"),
        (false, true) => (baseline, "this run (the stampede command line)"),
        _ => return None,
    };
    let which = if std::ptr::eq(browser, current) {
        "this run's"
    } else {
        "the baseline's"
    };
    let figures = "latency, TTFT, requests/s and tokens/s";
    match cap_of(browser) {
        BrowserCap::Known(cap) if concurrency > cap => Some(format!(
            "capped by the browser: {which} browser sent at most {cap} of the {concurrency} in flight \
             (6 connections per origin over HTTP/1.1) and queued the rest, so its {figures} include \
             that queue; {native_side} has no such cap"
        )),
        BrowserCap::Maybe(cap) if concurrency > cap => Some(format!(
            "maybe capped by the browser: {which} protocol is unknown; over HTTP/1.1 the browser \
             sends at most {cap} of the {concurrency} in flight, so its {figures} may include a \
             queue; {native_side} has no such cap"
        )),
        _ => None,
    }
}

/// The run-level note when one run is the command line's and the other the page's.
fn run_client_note(baseline: &Aggregator, current: &Aggregator) -> Option<String> {
    match (baseline.is_native(), current.is_native()) {
        (true, false) => Some(
            "Browser vs native: the baseline ran in the stampede command line (no browser, no \
             connection cap); this run ran in the browser. Below the browser's cap the \
             differences are the browser's own overhead; stages marked \"capped by the browser\" \
             also include its queue."
                .into(),
        ),
        (false, true) => Some(
            "Browser vs native: this run ran in the stampede command line (no browser, no \
             connection cap); the baseline ran in the browser. Stages marked \"capped by the \
             browser\" include the browser's queue on the baseline's side."
                .into(),
        ),
        _ => None,
    }
}

/// Every stage of the shown run (`current`, with its statistics `current_stats`) against the
/// baseline. `test(bi, b, ci, c)` gives a matched stage's latency test, so a caller can cache it
/// or hold it back for a stage still running; [`compare_runs`] runs them all.
pub fn compare(
    baseline: &Aggregator,
    baseline_stats: &[StageStats],
    current: &Aggregator,
    current_stats: &[StageStats],
    test: &mut dyn FnMut(usize, &StageStats, usize, &StageStats) -> LatencyTest,
) -> Comparison {
    let stages = current_stats
        .iter()
        .filter_map(|c| {
            let ci = c.stage as usize;
            let spec = current.stages().get(ci)?;
            let matched = match_stage(baseline.stages(), ci, spec).and_then(|bi| {
                baseline_stats
                    .iter()
                    .find(|b| b.stage as usize == bi)
                    .map(|b| (bi, b))
                    .ok_or_else(|| {
                        format!(
                            "no matching stage: the baseline's stage {} has no results",
                            bi + 1
                        )
                    })
            });
            Some(match matched {
                Ok((bi, b)) => StageComparison {
                    stage: c.stage,
                    name: c.name.clone(),
                    baseline_stage: Some(bi as u32),
                    unmatched: None,
                    metrics: deltas(b, c),
                    latency_test: Some(test(bi, b, ci, c)),
                    client_note: stage_client_note(baseline, current, spec.concurrency),
                },
                Err(why) => StageComparison {
                    stage: c.stage,
                    name: c.name.clone(),
                    baseline_stage: None,
                    unmatched: Some(why),
                    metrics: Vec::new(),
                    latency_test: None,
                    client_note: None,
                },
            })
        })
        .collect();
    Comparison {
        method: METHOD.to_string(),
        alpha: ALPHA,
        client_note: run_client_note(baseline, current),
        stages,
    }
}

/// [`compare`] with every statistic and test computed here.
pub fn compare_runs(baseline: &Aggregator, current: &Aggregator) -> Comparison {
    let (bs, cs) = (baseline.stats(), current.stats());
    compare(baseline, &bs, current, &cs, &mut |bi, b, ci, c| {
        latency_test(baseline, bi, b, current, ci, c)
    })
}

/// The empirical CDF of `values` (sorted here): `(value, share at or below it)`, thinned to at
/// most `max_points` evenly spaced ranks, always keeping the first and last.
pub fn cdf(values: &mut [f64], max_points: usize) -> Vec<(f64, f64)> {
    values.sort_unstable_by(f64::total_cmp);
    let n = values.len();
    if n == 0 || max_points == 0 {
        return Vec::new();
    }
    let point = |i: usize| (values[i], (i + 1) as f64 / n as f64);
    if n <= max_points {
        return (0..n).map(point).collect();
    }
    let step = (n - 1) as f64 / (max_points.max(2) - 1) as f64;
    let mut out: Vec<(f64, f64)> = (0..max_points.max(2))
        .map(|k| point(((k as f64 * step).round() as usize).min(n - 1)))
        .collect();
    out.dedup_by(|a, b| a == b);
    out
}

/// The successful latencies of stage `i` as a CDF, for the compare chart.
pub fn latency_cdf(agg: &Aggregator, i: usize) -> Vec<(f64, f64)> {
    cdf(&mut latencies(agg, i), MAX_CDF_POINTS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ErrorClass, Sample};
    use crate::suite::RateSpec;

    fn spec(concurrency: u32, rate: Option<f64>) -> StageSpec {
        StageSpec {
            name: format!("c{concurrency}"),
            concurrency,
            requests: 100,
            rate: rate.map(|per_s| RateSpec {
                per_s,
                poisson: false,
                seed: 0,
            }),
            duration_s: None,
            ramp_from: None,
        }
    }

    /// An aggregator with one stage per entry of `latencies` (every request at concurrency 2),
    /// requests back to back from t = 0; `failed` extra failed requests per stage.
    fn run(latencies: &[Vec<f64>], failed: usize) -> Aggregator {
        let specs = latencies.iter().map(|_| spec(2, None)).collect();
        let mut agg = Aggregator::new(specs);
        let mut index = 0;
        for (stage, values) in latencies.iter().enumerate() {
            let mut t = 0.0;
            for &v in values {
                agg.push(Sample {
                    stage: stage as u32,
                    index,
                    start_ms: t,
                    headers_ms: Some(t),
                    end_ms: t + v,
                    status: Some(200),
                    output_tokens: Some(10),
                    ..Sample::default()
                });
                index += 1;
                t += v;
            }
            for _ in 0..failed {
                agg.push(Sample {
                    stage: stage as u32,
                    index,
                    start_ms: t,
                    end_ms: t + 1.0,
                    status: Some(500),
                    error_class: Some(ErrorClass::Http),
                    error_message: Some("HTTP 500".into()),
                    ..Sample::default()
                });
                index += 1;
                t += 1.0;
            }
        }
        agg
    }

    #[test]
    fn mann_whitney_by_hand() {
        // x = 1,2,3 below y = 4,5,6: R1 = 6, U1 = 6 − 3·4/2 = 0, mean 4.5,
        // var = 9/12 · 7 = 5.25, z = (0 − 4.5 + 0.5)/√5.25 = −1.7457, p = erfc(1.7457/√2) = 0.0809.
        let (u, z, p) = mann_whitney(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]).unwrap();
        assert_eq!(u, 0.0);
        assert!((z + 1.745_743).abs() < 1e-6, "{z}");
        assert!((p - 0.080_855_6).abs() < 1e-6, "{p}");
        // Symmetric: swapping the sides gives U = 9, z = +1.7457, the same p.
        let (u, z2, p2) = mann_whitney(&[4.0, 5.0, 6.0], &[1.0, 2.0, 3.0]).unwrap();
        assert_eq!((u, z2), (9.0, -z));
        assert!((p2 - p).abs() < 1e-12);
    }

    #[test]
    fn mann_whitney_ties_by_hand() {
        // 1,2,2 vs 2,3,3 sorted: 1 | 2 2 2 | 3 3 → ranks 1 | 3 3 3 | 5.5 5.5.
        // R1 = 1 + 3 + 3 = 7, U1 = 7 − 6 = 1; ties Σ(t³ − t) = 24 + 6 = 30, N = 6:
        // var = 9/12 · (7 − 30/30) = 4.5, z = (1 − 4.5 + 0.5)/√4.5 = −√2, p = erfc(1) = 0.157299.
        let (u, z, p) = mann_whitney(&[1.0, 2.0, 2.0], &[2.0, 3.0, 3.0]).unwrap();
        assert_eq!(u, 1.0);
        assert!((z + std::f64::consts::SQRT_2).abs() < 1e-12, "{z}");
        assert!((p - 0.157_299_2).abs() < 1e-6, "{p}");
        // Every value equal: no variance, no difference.
        assert_eq!(mann_whitney(&[5.0; 4], &[5.0; 3]), Some((6.0, 0.0, 1.0)));
        assert_eq!(mann_whitney(&[], &[1.0]), None);
    }

    #[test]
    fn a_shifted_stage_is_significant_and_the_same_one_within_noise() {
        // 12 latencies 100..111 against 150..161: complete separation, U1 = 0, mean 72,
        // var = 144/12 · 25 = 300, z = (−72 + 0.5)/√300 = −4.12805, p = 3.7e-5.
        let base: Vec<f64> = (100..112).map(f64::from).collect();
        let slow: Vec<f64> = (150..162).map(f64::from).collect();
        let (b, c) = (run(std::slice::from_ref(&base), 0), run(&[slow], 0));
        let cmp = compare_runs(&b, &c);
        let st = &cmp.stages[0];
        let test = st.latency_test.as_ref().unwrap();
        assert_eq!(test.verdict, TestVerdict::Significant);
        assert_eq!(
            (test.u, test.n_baseline, test.n_current),
            (Some(0.0), 12, 12)
        );
        assert!((test.z.unwrap() + 4.128_054).abs() < 1e-5, "{:?}", test.z);
        assert!(test.p_value.unwrap() < 1e-4);
        // p50 by nearest rank: rank 6 → 105 and 155: Δ +50, Δ% = 50/105 = 47.62 %, worse.
        let p50 = &st.metrics[0];
        assert_eq!(p50.metric, "latency_p50_ms");
        assert_eq!(
            (p50.baseline, p50.current, p50.delta),
            (Some(105.0), Some(155.0), Some(50.0))
        );
        assert!((p50.delta_pct.unwrap() - 47.619_05).abs() < 1e-4);
        assert_eq!(p50.change, Some(Change::Worse));
        // Requests back to back: wall = Σ latency. Baseline 12 / 1.266 s = 9.479/s, current
        // 12 / 1.866 s = 6.431/s: lower throughput is worse.
        let rps = st
            .metrics
            .iter()
            .find(|m| m.metric == "requests_per_s")
            .unwrap();
        assert!((rps.baseline.unwrap() - 12.0 / 1.266).abs() < 1e-9);
        assert!((rps.current.unwrap() - 12.0 / 1.866).abs() < 1e-9);
        assert_eq!(
            (rps.better, rps.change),
            (Better::Higher, Some(Change::Worse))
        );
        // No streams: no TTFT or TPOT rows. Ten figures less four streamed ones.
        assert_eq!(st.metrics.len(), 6);
        // The same latencies again: every value tied in pairs, U1 = 72 = the mean, p = 1.
        let same = compare_runs(&b, &run(&[base], 0));
        let test = same.stages[0].latency_test.as_ref().unwrap();
        assert_eq!(
            (test.verdict, test.p_value, test.u),
            (TestVerdict::WithinNoise, Some(1.0), Some(72.0))
        );
        let success = same.stages[0]
            .metrics
            .iter()
            .find(|m| m.metric == "success_rate")
            .unwrap();
        assert_eq!(
            (success.delta, success.change),
            (Some(0.0), Some(Change::Same))
        );
        assert_eq!(success.delta_pct, Some(0.0));
    }

    #[test]
    fn too_few_failed_only_and_past_the_ceiling() {
        let few: Vec<f64> = (0..9).map(|i| 100.0 + f64::from(i)).collect();
        let enough: Vec<f64> = (0..10).map(|i| 100.0 + f64::from(i)).collect();
        let cmp = compare_runs(&run(std::slice::from_ref(&enough), 0), &run(&[few], 0));
        let test = cmp.stages[0].latency_test.as_ref().unwrap();
        assert_eq!(test.verdict, TestVerdict::NotEnoughData);
        assert_eq!(
            test.note.as_deref(),
            Some("this run's stage has 9 successful requests; the test needs 10 on each side")
        );

        // Failed only: no latency figures; the success rate 100 % → 0 % is worse (Δ −1, −100 %).
        let cmp = compare_runs(&run(std::slice::from_ref(&enough), 0), &run(&[vec![]], 5));
        let st = &cmp.stages[0];
        assert_eq!(
            st.latency_test.as_ref().unwrap().note.as_deref(),
            Some("this run's stage has no successful requests")
        );
        let p50 = &st.metrics[0];
        assert_eq!(
            (p50.baseline, p50.current, p50.delta, p50.change),
            (Some(104.0), None, None, None)
        );
        let rate = st
            .metrics
            .iter()
            .find(|m| m.metric == "success_rate")
            .unwrap();
        assert_eq!(
            (rate.delta, rate.delta_pct, rate.change),
            (Some(-1.0), Some(-100.0), Some(Change::Worse))
        );

        // Past the sample ceiling (3 kept): the stage's summary is approximate, no test.
        let mut big = Aggregator::new(vec![spec(2, None)]).with_ceiling(3);
        let small = run(std::slice::from_ref(&enough), 0);
        for s in small.samples() {
            big.push(s);
        }
        let cmp = compare_runs(&small, &big);
        let test = cmp.stages[0].latency_test.as_ref().unwrap();
        assert_eq!(test.verdict, TestVerdict::CannotRun);
        assert!(test
            .note
            .as_ref()
            .unwrap()
            .starts_with("this run's stage ran past the sample ceiling"));
        // The deltas are still there (count, mean, min, max exact; percentiles approximate).
        assert_eq!(cmp.stages[0].metrics.len(), 6);
    }

    #[test]
    fn stages_match_by_position_concurrency_and_rate() {
        let b = [spec(2, None), spec(5, None), spec(5, Some(10.0))];
        assert_eq!(match_stage(&b, 0, &spec(2, None)), Ok(0));
        assert_eq!(
            match_stage(&b, 1, &spec(4, None)),
            Err(
                "no matching stage: the baseline's stage 2 ran at concurrency 5, this one at 4"
                    .into()
            )
        );
        assert_eq!(match_stage(&b, 2, &spec(5, Some(10.0))), Ok(2));
        assert_eq!(
            match_stage(&b, 2, &spec(5, Some(20.0))),
            Err("no matching stage: the baseline's stage 3 ran at 10/s, this one at 20/s".into())
        );
        assert!(match_stage(&b, 1, &spec(5, Some(10.0)))
            .unwrap_err()
            .contains("closed-loop"));
        assert!(match_stage(&b, 2, &spec(5, None))
            .unwrap_err()
            .contains("open-loop"));
        assert_eq!(
            match_stage(&b, 3, &spec(2, None)),
            Err("no matching stage: the baseline has 3 stage(s)".into())
        );
        // In a comparison, an unmatched stage has no figures and says why.
        let base = run(&[vec![100.0; 10]], 0);
        let cur = run(&[vec![100.0; 10], vec![100.0; 10]], 0);
        let cmp = compare_runs(&base, &cur);
        assert_eq!(cmp.stages.len(), 2);
        assert_eq!(cmp.stages[0].baseline_stage, Some(0));
        assert_eq!(cmp.stages[1].baseline_stage, None);
        assert_eq!(
            cmp.stages[1].unmatched.as_deref(),
            Some("no matching stage: the baseline has 1 stage(s)")
        );
        assert!(cmp.stages[1].metrics.is_empty() && cmp.stages[1].latency_test.is_none());
    }

    #[test]
    fn browser_vs_native_names_the_capped_figures() {
        // Concurrency 2 stays under the cap; a stage at 10 over http:// is capped at 6.
        let mk = |native: bool| {
            let mut agg = Aggregator::with_targets(
                vec![spec(2, None), spec(10, None)],
                vec!["http://127.0.0.1:8000/generate".into()],
            );
            if native {
                agg = agg.native_client();
            }
            for stage in 0..2 {
                for i in 0..10u64 {
                    agg.push(Sample {
                        stage,
                        index: u64::from(stage) * 10 + i,
                        start_ms: i as f64,
                        end_ms: i as f64 + 50.0,
                        status: Some(200),
                        ..Sample::default()
                    });
                }
            }
            agg
        };
        let cmp = compare_runs(&mk(true), &mk(false));
        assert!(cmp
            .client_note
            .as_ref()
            .unwrap()
            .starts_with("Browser vs native: the baseline ran in the stampede command line"));
        assert_eq!(cmp.stages[0].client_note, None);
        assert_eq!(
            cmp.stages[1].client_note.as_deref(),
            Some("capped by the browser: this run's browser sent at most 6 of the 10 in flight (6 connections per origin over HTTP/1.1) and queued the rest, so its latency, TTFT, requests/s and tokens/s include that queue; the baseline (the stampede command line) has no such cap")
        );
        let other_way = compare_runs(&mk(false), &mk(true));
        assert!(other_way.stages[1]
            .client_note
            .as_ref()
            .unwrap()
            .contains("the baseline's browser sent at most 6"));
        // Two browser runs: nothing to say.
        let both = compare_runs(&mk(false), &mk(false));
        assert!(both.client_note.is_none() && both.stages[1].client_note.is_none());
    }

    #[test]
    fn cdf_by_hand_and_thinned() {
        // 4 values: each step is a quarter.
        assert_eq!(
            cdf(&mut [30.0, 10.0, 40.0, 20.0], 10),
            vec![(10.0, 0.25), (20.0, 0.5), (30.0, 0.75), (40.0, 1.0)]
        );
        // 1001 values thinned to 5 points: ranks 0, 250, 500, 750, 1000.
        let mut v: Vec<f64> = (0..=1000).map(f64::from).collect();
        let c = cdf(&mut v, 5);
        assert_eq!(
            c.iter().map(|p| p.0).collect::<Vec<_>>(),
            vec![0.0, 250.0, 500.0, 750.0, 1000.0]
        );
        assert_eq!(c.last(), Some(&(1000.0, 1.0)));
        assert!(cdf(&mut [], 5).is_empty());
    }

    #[test]
    fn comparison_round_trips_as_json() {
        let b = run(&[(100..112).map(f64::from).collect()], 1);
        let c = run(&[(103..115).map(f64::from).collect()], 0);
        let cmp = compare_runs(&b, &c);
        let json = serde_json::to_string(&cmp).unwrap();
        assert!(json.contains("\"verdict\":\"within-noise\""), "{json}");
        assert_eq!(serde_json::from_str::<Comparison>(&json).unwrap(), cmp);
    }
}
