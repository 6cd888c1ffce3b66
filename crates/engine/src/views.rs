//! What the page shows, computed: chart bins and series, the fidelity ratings and the progress
//! figures. Plain functions on plain data, so every figure is tested natively and the page's
//! components only draw what these return.

use std::borrow::Borrow;

use crate::config::{FieldError, RunConfig};
use crate::model::{ErrorClass, Protocol, Sample, HTTP1_CONNECTIONS};
use crate::plan::Plan;
use crate::report::Environment;
use crate::stats::{
    browser_cap, Aggregator, BrowserCap, StageStats, MAX_KEPT_SAMPLES, MIN_JUDGED_REQUESTS,
    MIN_JUDGED_ROUNDS, SHORTFALL,
};

/// Bars in a histogram.
pub const HISTOGRAM_BINS: usize = 30;
/// The latency scatter draws at most this many points (evenly strided) to stay responsive.
pub const MAX_POINTS: usize = 5000;
/// At most this many buckets on a chart over time: a bar per 3 px or more on a laptop's chart,
/// and an imported report with a bogus end time cannot size the buffer.
pub const MAX_BUCKETS: usize = 120;
/// Bucket widths (s) to choose from: the finest that keeps a run within [`MAX_BUCKETS`], so a
/// one-second Quick run still shows its shape and a day-long one stays cheap to draw.
const BUCKET_STEPS_S: [f64; 15] = [
    0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
];

/// Buckets over `0..span_ms`: (width in s, how many); beyond 120 hours the last one takes the
/// rest.
fn buckets(span_ms: f64) -> (f64, usize) {
    let span_s = span_ms.max(0.0) / 1000.0;
    let widest = BUCKET_STEPS_S[BUCKET_STEPS_S.len() - 1];
    let w = BUCKET_STEPS_S
        .iter()
        .copied()
        .find(|w| span_s / w <= MAX_BUCKETS as f64)
        .unwrap_or(widest);
    (w, ((span_s / w).ceil() as usize).clamp(1, MAX_BUCKETS))
}

/// An axis maximum with a little headroom above the largest value (1 when there is none).
pub fn nice_max(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        1.0
    } else {
        v * 1.1
    }
}

/// Whole-number ticks for a count axis: `max` is an integer with headroom, and asking the
/// chart for at most `labels` ticks makes its steps whole (plotters steps by 1, 2 or 5 × 10ⁿ
/// and takes the finest that fits, so no step can be below 1 when `labels` ≤ `max` + 1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CountAxis {
    pub max: f64,
    pub labels: usize,
}

/// A count axis for values up to `tallest` (at least 0..1).
pub fn count_axis(tallest: f64) -> CountAxis {
    let top = if tallest.is_finite() && tallest > 0.0 {
        // t + t/10 rather than t × 1.1, which makes 100 into 110.00000000000001.
        (tallest + tallest / 10.0).ceil().max(tallest.ceil() + 1.0)
    } else {
        1.0
    };
    CountAxis {
        max: top,
        labels: (top as usize).saturating_add(1).min(10),
    }
}

/// Equal-width bins from `lo` to `hi`, each split by stage so a chart can stack the stages in
/// the colours every other chart uses for them.
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    pub lo: f64,
    pub hi: f64,
    /// `counts[stage][bin]`: [`HISTOGRAM_BINS`] bins per stage.
    pub counts: Vec<Vec<u32>>,
}

impl Histogram {
    pub fn width(&self) -> f64 {
        (self.hi - self.lo) / HISTOGRAM_BINS as f64
    }
    /// Values in `bin`, all stages together.
    pub fn total(&self, bin: usize) -> u32 {
        self.counts
            .iter()
            .map(|c| c.get(bin).copied().unwrap_or(0))
            .fold(0, u32::saturating_add)
    }
    /// The highest stacked bar.
    pub fn tallest(&self) -> u32 {
        (0..HISTOGRAM_BINS)
            .map(|b| self.total(b))
            .max()
            .unwrap_or(0)
    }
    pub fn is_empty(&self) -> bool {
        self.tallest() == 0
    }
}

/// Bin the finite values of `(stage, value)` over their range, by stage (`stages` of them; a
/// stage beyond that is not counted). A single value gets a range of ±1 around it.
pub fn histogram(values: &[(u32, f64)], stages: usize) -> Histogram {
    let finite = || {
        values
            .iter()
            .filter(|(st, v)| v.is_finite() && (*st as usize) < stages)
    };
    let (lo, hi) = finite().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &(_, v)| {
        (a.min(v), b.max(v))
    });
    let (lo, hi) = if lo > hi {
        (0.0, 1.0)
    } else if hi > lo {
        (lo, hi)
    } else {
        (lo - 1.0, hi + 1.0)
    };
    let width = (hi - lo) / HISTOGRAM_BINS as f64;
    let mut counts = vec![vec![0u32; HISTOGRAM_BINS]; stages];
    for &(st, v) in finite() {
        let i = (((v - lo) / width) as usize).min(HISTOGRAM_BINS - 1);
        if let Some(c) = counts.get_mut(st as usize).and_then(|c| c.get_mut(i)) {
            *c = c.saturating_add(1);
        }
    }
    Histogram { lo, hi, counts }
}

/// One stage's points on the latency scatter: (request start in s, latency in ms).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StagePoints {
    pub ok: Vec<(f64, f64)>,
    pub failed: Vec<(f64, f64)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Scatter {
    pub x_max: f64,
    pub y_max: f64,
    /// One entry per stage, in stage order, even for a stage with no points (for the legend).
    pub stages: Vec<StagePoints>,
}

/// Latency against start time, every n-th request so at most [`MAX_POINTS`] are drawn.
pub fn latency_over_time(agg: &Aggregator, stages: usize) -> Scatter {
    let step = agg.len().div_ceil(MAX_POINTS).max(1);
    let mut out = vec![StagePoints::default(); stages];
    let (mut x_max, mut y_max) = (0.0, 0.0);
    // Only the samples drawn are read back from the compact store.
    for s in (0..agg.len()).step_by(step).filter_map(|i| agg.sample(i)) {
        let (x, y) = (s.start_ms / 1000.0, s.latency_ms());
        if !(x.is_finite() && y.is_finite()) {
            continue;
        }
        x_max = f64::max(x_max, x);
        y_max = f64::max(y_max, y);
        if let Some(st) = out.get_mut(s.stage as usize) {
            if s.ok() {
                st.ok.push((x, y));
            } else {
                st.failed.push((x, y));
            }
        }
    }
    Scatter {
        x_max: nice_max(x_max),
        y_max: nice_max(y_max),
        stages: out,
    }
}

/// Output tokens per second over the run.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenRate {
    /// Seconds each bucket spans: the finest of 0.1, 0.2, 0.5, 1, 2, 5 … s that fits the run
    /// in [`MAX_BUCKETS`].
    pub bucket_s: f64,
    /// Tokens per second in each bucket, the first starting at the run's start.
    pub per_s: Vec<f64>,
}

/// Call `f(at_ms, tokens)` for each successful request's output. A streamed request's tokens
/// are spread evenly over its content events; others count at their end.
fn each_output<S: Borrow<Sample>>(
    samples: impl IntoIterator<Item = S>,
    mut f: impl FnMut(f64, f64),
) {
    for s in samples {
        let s = s.borrow();
        if !s.ok() {
            continue;
        }
        let tokens = s.output_tokens.unwrap_or(0) as f64;
        if s.content_ms.is_empty() {
            f(s.end_ms, tokens);
        } else {
            let each = tokens / s.content_ms.len() as f64;
            for &at in &s.content_ms {
                f(at, each);
            }
        }
    }
}

/// Output tokens per second in time buckets, at most [`MAX_BUCKETS`] of them. Times before the
/// run's start count in the first bucket; non-finite times are ignored.
pub fn tokens_over_time<S: Borrow<Sample>, I: IntoIterator<Item = S> + Clone>(
    samples: I,
) -> TokenRate {
    let mut last_ms: Option<f64> = None;
    each_output(samples.clone(), |at_ms, _| {
        if at_ms.is_finite() {
            last_ms = Some(last_ms.map_or(at_ms, |l| l.max(at_ms)));
        }
    });
    let Some(last_ms) = last_ms else {
        return TokenRate {
            bucket_s: 1.0,
            per_s: Vec::new(),
        };
    };
    let (bucket_s, n) = buckets(last_ms);
    let mut per_s = vec![0.0; n];
    each_output(samples, |at_ms, tokens| {
        if at_ms.is_finite() {
            let i = ((at_ms.max(0.0) / 1000.0 / bucket_s) as usize).min(n - 1);
            if let Some(b) = per_s.get_mut(i) {
                *b += tokens / bucket_s;
            }
        }
    });
    TokenRate { bucket_s, per_s }
}

/// Requests over the run, in time buckets: what ended in each, and how many were in flight.
#[derive(Clone, Debug, PartialEq)]
pub struct Activity {
    /// Seconds each bucket spans (as for tokens), the first starting at the run's start.
    pub bucket_s: f64,
    /// Successful requests that ended in each bucket, per second.
    pub ok_per_s: Vec<f64>,
    /// Failed requests (not those aborted by Stop) that ended in each bucket, per second.
    pub failed_per_s: Vec<f64>,
    /// Mean requests in flight over each bucket: the time requests spent in it ÷ its width.
    /// Only finished requests are known, so during a run the last buckets fill in as the
    /// requests still in flight end.
    pub in_flight: Vec<f64>,
}

impl Activity {
    pub fn is_empty(&self) -> bool {
        self.ok_per_s.is_empty()
    }
}

/// How long the time charts span, ms: up to the last end of any sample (non-finite ends
/// ignored) or `now_ms`, whichever is later; `None` before anything happened.
fn run_span_ms<S: Borrow<Sample>>(
    samples: impl IntoIterator<Item = S>,
    now_ms: f64,
) -> Option<f64> {
    let last_end = samples
        .into_iter()
        .map(|s| s.borrow().end_ms)
        .filter(|t| t.is_finite())
        .fold(None, |m: Option<f64>, t| Some(m.map_or(t, |m| m.max(t))));
    let now = if now_ms.is_finite() { now_ms } else { 0.0 };
    last_end.map(|e| e.max(now)).filter(|&e| e > 0.0)
}

/// Requests per bucket from `samples` (warm-ups included: the server saw them), over the run
/// up to `now_ms` or the last end, whichever is later. Times outside the run are clamped to
/// its first or last bucket; non-finite ones are ignored.
pub fn activity_over_time<S: Borrow<Sample>>(
    samples: impl IntoIterator<Item = S> + Clone,
    now_ms: f64,
) -> Activity {
    let Some(span_ms) = run_span_ms(samples.clone(), now_ms) else {
        return Activity {
            bucket_s: BUCKET_STEPS_S[0],
            ok_per_s: Vec::new(),
            failed_per_s: Vec::new(),
            in_flight: Vec::new(),
        };
    };
    let (bucket_s, n) = buckets(span_ms);
    let w = bucket_s * 1000.0;
    let bucket = |t: f64| ((t.max(0.0) / w) as usize).min(n - 1);
    let (mut ok, mut failed, mut in_flight) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    for s in samples {
        let s = s.borrow();
        if !(s.start_ms.is_finite() && s.end_ms.is_finite()) {
            continue;
        }
        let (a, b) = (s.start_ms.max(0.0), s.end_ms.max(0.0));
        for i in bucket(a)..=bucket(b) {
            let lo = i as f64 * w;
            // The last bucket takes whatever lies beyond the run's span.
            let hi = if i + 1 == n { f64::INFINITY } else { lo + w };
            let overlap = b.min(hi) - a.max(lo);
            if let (true, Some(f)) = (overlap > 0.0, in_flight.get_mut(i)) {
                *f += overlap / w;
            }
        }
        let ended = match s.error_class {
            None => ok.get_mut(bucket(b)),
            Some(ErrorClass::Aborted) => None,
            Some(_) => failed.get_mut(bucket(b)),
        };
        if let Some(e) = ended {
            *e += 1.0 / bucket_s;
        }
    }
    Activity {
        bucket_s,
        ok_per_s: ok,
        failed_per_s: failed,
        in_flight,
    }
}

/// Failed requests over the run by error class, for the stacked "Errors over time" chart.
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorsOverTime {
    /// Seconds each bucket spans, on the same axis as [`activity_over_time`].
    pub bucket_s: f64,
    /// Each class that failed at least one kept request, in [`FAILURE_CLASSES`] order (the
    /// order stacked from the bottom), with its failures per second in each bucket.
    pub classes: Vec<(ErrorClass, Vec<f64>)>,
    /// Failures the stage figures count but the kept samples do not hold (past the sample
    /// ceiling): the chart cannot place them in time, so it says how many it leaves out.
    pub not_drawn: u64,
}

impl ErrorsOverTime {
    /// Buckets on the time axis (0 when no request has ended).
    pub fn buckets(&self) -> usize {
        self.classes.first().map_or(0, |(_, v)| v.len())
    }

    /// The tallest stack, in failures per second.
    pub fn tallest(&self) -> f64 {
        (0..self.buckets())
            .map(|i| {
                self.classes
                    .iter()
                    .filter_map(|(_, v)| v.get(i))
                    .sum::<f64>()
            })
            .fold(0.0, f64::max)
    }

    /// Failures drawn of `class` (rate × bucket width, summed over the buckets).
    pub fn count(&self, class: ErrorClass) -> u64 {
        self.classes
            .iter()
            .filter(|(c, _)| *c == class)
            .flat_map(|(_, v)| v)
            .map(|r| (r * self.bucket_s).round() as u64)
            .sum()
    }
}

/// The classes that count as failures (DESIGN §3), in the order the chart stacks them;
/// `aborted` (Stop) is not a failure.
pub const FAILURE_CLASSES: [ErrorClass; 5] = [
    ErrorClass::Http,
    ErrorClass::Timeout,
    ErrorClass::Network,
    ErrorClass::Parse,
    ErrorClass::StreamError,
];

/// Failures per second by class, each counted in the bucket of its end, over the buckets of
/// [`activity_over_time`] (the run up to `now_ms` or its last end), so the two charts share
/// a time axis. Warm-ups are left out, as in the table's error counts; `stats` (the stage
/// figures) give how many failures past the sample ceiling the chart cannot draw. No class
/// failed: no series, however long the run.
pub fn errors_over_time<S: Borrow<Sample>>(
    samples: impl IntoIterator<Item = S> + Clone,
    stats: &[StageStats],
    now_ms: f64,
) -> ErrorsOverTime {
    // The span as `activity_over_time` takes it, so the two charts' buckets line up.
    let (bucket_s, n) = match run_span_ms(samples.clone(), now_ms) {
        Some(span_ms) => buckets(span_ms),
        None => (BUCKET_STEPS_S[0], 0),
    };
    let w = bucket_s * 1000.0;
    let mut per_class: Vec<Vec<f64>> = vec![vec![0.0; n]; FAILURE_CLASSES.len()];
    let mut drawn = 0u64;
    for s in samples {
        let s = s.borrow();
        let Some(class) = s.error_class else { continue };
        let Some(k) = FAILURE_CLASSES.iter().position(|c| *c == class) else {
            continue;
        };
        if s.warmup || !s.end_ms.is_finite() || n == 0 {
            continue;
        }
        let i = ((s.end_ms.max(0.0) / w) as usize).min(n - 1);
        if let Some(b) = per_class.get_mut(k).and_then(|v| v.get_mut(i)) {
            *b += 1.0 / bucket_s;
            drawn += 1;
        }
    }
    let counted: u64 = stats
        .iter()
        .flat_map(|st| &st.errors)
        .filter(|e| e.class != ErrorClass::Aborted)
        .map(|e| e.count)
        .sum();
    ErrorsOverTime {
        bucket_s,
        classes: FAILURE_CLASSES
            .into_iter()
            .zip(per_class)
            .filter(|(_, v)| v.iter().any(|r| *r > 0.0))
            .collect(),
        not_drawn: counted.saturating_sub(drawn),
    }
}

/// A stage figure to plot against requested concurrency, such as latency p50.
pub type StageFigure = fn(&StageStats) -> Option<f64>;

#[derive(Clone, Debug, PartialEq)]
pub struct Scaling {
    pub x_max: f64,
    pub y_max: f64,
    /// Per figure, in the order given: (requested concurrency, value) of each stage that has it.
    pub lines: Vec<Vec<(f64, f64)>>,
}

/// How each figure scales with requested concurrency: one point per stage.
pub fn vs_concurrency(stats: &[StageStats], figures: &[StageFigure]) -> Scaling {
    let lines: Vec<Vec<(f64, f64)>> = figures
        .iter()
        .map(|f| {
            stats
                .iter()
                .filter_map(|s| Some((f64::from(s.requested_concurrency), f(s)?)))
                .filter(|(_, y)| y.is_finite())
                .collect()
        })
        .collect();
    let x_max = stats
        .iter()
        .map(|s| f64::from(s.requested_concurrency))
        .fold(0.0, f64::max);
    let y_max = lines.iter().flatten().map(|p| p.1).fold(0.0, f64::max);
    Scaling {
        x_max: nice_max(x_max),
        y_max: nice_max(y_max),
        lines,
    }
}

/// A traffic-light rating, or `Neutral` for "not judged" (too few requests, nothing succeeded),
/// which must not read as a warning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Green,
    Neutral,
    Amber,
    Red,
}

impl Level {
    pub fn label(self) -> &'static str {
        match self {
            Level::Green => "green",
            Level::Neutral => "neutral",
            Level::Amber => "amber",
            Level::Red => "red",
        }
    }
}

/// One line of the fidelity panel: what the browser did to a part of the measurement.
#[derive(Clone, Debug, PartialEq)]
pub struct FidelityItem {
    pub name: &'static str,
    pub level: Level,
    /// The figure behind the rating and, when it is not green, why it matters.
    pub detail: String,
    /// The thresholds behind the rating, so a reader can check it.
    pub rule: String,
}

fn item(name: &'static str, level: Level, detail: String) -> FidelityItem {
    FidelityItem {
        name,
        level,
        detail,
        rule: String::new(),
    }
}

/// A stage's median browser queue above this share of its median latency shows in the
/// figures (connection set-up, a CORS preflight, or a connection cap). A fixed number of ms
/// would call a 10 ms queue bad beside 1 s of generation.
const QUEUE_SHARE: f64 = 0.10;
/// Timers this fine (cross-origin isolated: 5 µs) leave even sub-ms figures meaningful.
const TIMER_GREEN_MS: f64 = 0.01;
/// Up to this (the default 100 µs) ms figures are fine; coarser makes sub-ms figures noise.
const TIMER_AMBER_MS: f64 = 0.1;
/// The browser reports main-thread tasks longer than this as long tasks.
const LONG_TASK_MS: f64 = 50.0;
/// Long tasks adding up to more than this delayed enough responses to skew a stage.
const LONG_TASKS_RED_MS: f64 = 500.0;
/// Worker event-loop lag p95 at or above this delays request starts by a visible amount. The
/// p95, not the p99: a run samples the lag a few times a second, so over a short run the p99
/// is the single worst sample, and one hiccup is not a busy worker.
const WORKER_LAG_RED_MS: f64 = 20.0;
/// At or above this the lag is noticeable next to ms figures.
const WORKER_LAG_AMBER_MS: f64 = 5.0;

/// The host (and port) of a URL, for short labels.
fn host(url: &str) -> &str {
    url.split('/').nth(2).unwrap_or(url)
}

/// The fidelity ratings for a run's environment and stage figures (DESIGN §6).
pub fn fidelity(env: &Environment, stats: &[StageStats]) -> Vec<FidelityItem> {
    let mut items = Vec::new();
    let targets = env.targets.len().max(1) as u32;
    let cap = HTTP1_CONNECTIONS.saturating_mul(targets);
    let top = stats
        .iter()
        .map(|s| s.requested_concurrency)
        .max()
        .unwrap_or(0);
    let protocols = env
        .targets
        .iter()
        .map(|t| {
            let p = t.protocol.as_ref().map_or("unknown", Protocol::label);
            format!("{} {p}", host(&t.url))
        })
        .collect::<Vec<_>>()
        .join(", ");
    let http1 = env
        .targets
        .iter()
        .any(|t| t.protocol == Some(Protocol::Http1));
    let unknown = env.targets.iter().any(|t| t.protocol.is_none());
    // The command line has none of the browser's limits: say so, and rate only what applies.
    if env.client.as_ref().is_some_and(|c| c.kind == "native") {
        items.push(item("Client", Level::Green, format!(
            "the stampede command line (native): no browser, so no {HTTP1_CONNECTIONS}-connections-per-origin cap, \
             no browser queue and no tab throttling; each stage sent what it asked for")));
        items.push(item("Protocol", Level::Green, protocols));
        items.push(match env.timer_resolution_ms {
            Some(r) => item(
                "Timer resolution",
                Level::Green,
                format!("{:.3} µs", r * 1000.0),
            ),
            None => item("Timer resolution", Level::Amber, "not measured".into()),
        });
        items.extend(stats.iter().map(stage_item));
        for i in &mut items {
            i.rule = rule(i.name);
        }
        return items;
    }
    items.push(if http1 && top > cap {
        item("Protocol", Level::Red, format!(
            "{protocols}: HTTP/1.1 carries at most {cap} in flight over {targets} origin(s), stages ask for up to {top}. \
             {BROWSER_CAPPED}"))
    } else if unknown {
        item("Protocol", Level::Amber, format!(
            "{protocols}: the server sends no Timing-Allow-Origin, so the browser hides protocol and queue time"))
    } else {
        item("Protocol", Level::Green, protocols)
    });

    items.push(browser_queue(env, stats));

    items.push(match env.timer_resolution_ms {
        Some(r) if r <= TIMER_GREEN_MS => item(
            "Timer resolution",
            Level::Green,
            format!("{:.0} µs", r * 1000.0),
        ),
        Some(r) if r <= TIMER_AMBER_MS => item(
            "Timer resolution",
            Level::Amber,
            format!(
                "{:.0} µs: fine for ms figures; cross-origin isolation would give 5 µs",
                r * 1000.0
            ),
        ),
        Some(r) => item(
            "Timer resolution",
            Level::Red,
            format!("{r:.2} ms: sub-ms figures are noise"),
        ),
        None => item("Timer resolution", Level::Amber, "not measured".into()),
    });

    items.push(match env.cross_origin_isolated {
        Some(true) => item(
            "Cross-origin isolation",
            Level::Green,
            "on (COOP/COEP): finest timers".into(),
        ),
        _ => item(
            "Cross-origin isolation",
            Level::Amber,
            "off: the host sends no COOP/COEP headers; timers are coarser".into(),
        ),
    });

    let open_loop = stats.iter().any(|s| s.requested_rate_per_s.is_some());
    items.push(if env.hidden_periods.is_empty() {
        item("Hidden tab", Level::Green, "the tab stayed visible".into())
    } else {
        let total: f64 = env
            .hidden_periods
            .iter()
            .map(|p| p.end_ms - p.start_ms)
            .sum();
        let (level, why) = match env.engine_in_worker {
            Some(true) => (
                Level::Green,
                "the engine's worker is not throttled with the tab",
            ),
            _ if open_loop => (
                Level::Red,
                "the engine ran on the page, whose timers the browser throttles: rate stages slip",
            ),
            _ => (
                Level::Amber,
                "closed-loop stages run on fetch completions, which the browser does not throttle",
            ),
        };
        item(
            "Hidden tab",
            level,
            format!(
                "hidden {} time(s), {:.1} s in all: {why}",
                env.hidden_periods.len(),
                total / 1000.0
            ),
        )
    });

    let long: f64 = env.long_tasks.iter().map(|p| p.end_ms - p.start_ms).sum();
    let in_worker = env.engine_in_worker == Some(true);
    items.push(match env.long_tasks.len() {
        0 => item("Main-thread long tasks", Level::Green, format!("none over {LONG_TASK_MS} ms")),
        n if in_worker => item("Main-thread long tasks", Level::Green, format!(
            "{n} task(s) over {LONG_TASK_MS} ms, {long:.0} ms in all: they delayed the page's drawing, not the worker's timing")),
        n => item("Main-thread long tasks", if long > LONG_TASKS_RED_MS { Level::Red } else { Level::Amber }, format!(
            "{n} task(s) over {LONG_TASK_MS} ms, {long:.0} ms in all: responses that ended then were stamped late")),
    });

    items.push(match (env.engine_in_worker, &env.worker_lag_ms) {
        (Some(true), Some(lag)) if lag.p95 >= WORKER_LAG_RED_MS => item("Engine worker", Level::Red, format!(
            "event-loop lag p95 {:.1} ms, max {:.1} ms: the worker itself was too busy to start requests on time", lag.p95, lag.max)),
        (Some(true), Some(lag)) if lag.p95 >= WORKER_LAG_AMBER_MS => item("Engine worker", Level::Amber, format!(
            "event-loop lag p95 {:.1} ms, max {:.1} ms", lag.p95, lag.max)),
        (Some(true), Some(lag)) => item("Engine worker", Level::Green, format!(
            "in a Web Worker; event-loop lag p95 {:.1} ms, max {:.1} ms", lag.p95, lag.max)),
        (Some(true), None) => item("Engine worker", Level::Green, "in a Web Worker".into()),
        (Some(false), _) => item("Engine worker", Level::Amber,
            "the worker could not start, so the engine ran on the page's main thread: redraws and hidden-tab throttling can delay it".into()),
        (None, _) => item("Engine worker", Level::Amber, "not recorded".into()),
    });

    items.extend(top_rate_item(stats));
    items.extend(stats.iter().map(stage_item));
    for i in &mut items {
        i.rule = rule(i.name);
    }
    items
}

/// Above the browser's cap: what that does to the figures, and that the CLI is not capped.
const BROWSER_CAPPED: &str = "Above the cap the browser queues requests, so those stages' \
     latency, TTFT, requests/s and tokens/s are capped by the browser, not the server; the \
     stampede command line has no such cap (see the README's \"Browser vs native\")";

/// A stage's line in the fidelity panel.
fn stage_item(s: &StageStats) -> FidelityItem {
    let figure = match (s.requested_rate_per_s, s.achieved_rate_per_s) {
        (Some(r), a) => format!(
            "{}: rate {r:.1}/s asked, {} achieved",
            s.name,
            a.map_or("–".into(), |a| format!("{a:.2}/s"))
        ),
        _ => match s.sent_concurrency {
            Some(sent) => format!(
                "{}: {} in flight asked, {sent:.2} sent",
                s.name, s.requested_concurrency
            ),
            None => format!(
                "{}: {} in flight asked, {} (browser queue included)",
                s.name,
                s.requested_concurrency,
                s.busy_concurrency
                    .or(s.achieved_concurrency)
                    .map_or("–".into(), |a| format!("{a:.2}"))
            ),
        },
    };
    match (&s.shortfall, not_judged(s)) {
        (Some(why), _) => item("Stage", Level::Red, format!("{figure}. {why}")),
        (None, Some(why)) => item("Stage", Level::Neutral, format!("{figure}: {why}")),
        (None, None) => item("Stage", Level::Green, figure),
    }
}

/// The thresholds behind each rating, stated so a reader can check it.
fn rule(name: &str) -> String {
    let pct = |share: f64| format!("{:.0} %", share * 100.0);
    match name {
        "Client" => "green when the command line sent the requests: no browser limits apply".into(),
        "Protocol" => format!(
            "red when HTTP/1.1 ({HTTP1_CONNECTIONS} connections per origin) cannot carry a \
             stage's concurrency; amber when the server hides the protocol"
        ),
        "Browser queue" => format!(
            "per stage: amber when the p50 queue is over {} of the p50 latency; red when it is \
             and the stage asks for more than HTTP/1.1's {HTTP1_CONNECTIONS} connections per \
             origin carry",
            pct(QUEUE_SHARE)
        ),
        "Timer resolution" => format!(
            "green at {:.0} µs or finer, amber up to {:.0} µs, red coarser",
            TIMER_GREEN_MS * 1000.0,
            TIMER_AMBER_MS * 1000.0
        ),
        "Cross-origin isolation" => {
            "green when the page is cross-origin isolated (COOP/COEP): the finest timers".into()
        }
        "Hidden tab" => "red when a rate stage ran on the page while the tab was hidden \
                         (throttled timers); amber for closed-loop stages on the page"
            .into(),
        "Main-thread long tasks" => format!(
            "with the engine on the page: amber for any task over {LONG_TASK_MS} ms, red above \
             {LONG_TASKS_RED_MS} ms in all; green when it ran in a worker"
        ),
        "Engine worker" => format!(
            "event-loop lag p95: amber at {WORKER_LAG_AMBER_MS} ms or more, red at \
             {WORKER_LAG_RED_MS} ms or more; amber when the engine ran on the page"
        ),
        "Client rate" => format!(
            "the fastest sending rate of any stage of at least {MIN_JUDGED_REQUESTS} requests \
             (closed loop: requests/s; rate stage: achieved arrival rate); amber when a rate \
             stage asks more than {} above it",
            pct(TOP_RATE_TOLERANCE)
        ),
        "Stage" => format!(
            "red when less than {} of the requested concurrency (or rate) reached the server, \
             judged over at least {MIN_JUDGED_REQUESTS} requests and {MIN_JUDGED_ROUNDS} per \
             concurrent slot, or at any length when the browser's HTTP/1.1 cap holds it back",
            pct(SHORTFALL)
        ),
        _ => String::new(),
    }
}

/// Why a stage's concurrency is not judged, if it is not: nothing succeeded, or too few
/// requests for a verdict (the engine's `too_short_to_judge`).
pub fn not_judged(s: &StageStats) -> Option<String> {
    if s.completed > 0 && s.successful == 0 {
        Some("not judged, no request succeeded".into())
    } else if s.too_short_to_judge {
        Some(format!(
            "too short to judge ({} requests; a verdict needs at least {MIN_JUDGED_REQUESTS}, \
             and {MIN_JUDGED_ROUNDS} per concurrent slot)",
            s.completed
        ))
    } else {
        None
    }
}

/// The browser-queue rating: each stage's median queue against its median latency (see
/// [`QUEUE_SHARE`]), red only where the stage asks for more than a certain HTTP/1.1 cap; the
/// worst stage speaks for the run.
fn browser_queue(env: &Environment, stats: &[StageStats]) -> FidelityItem {
    let cap = match browser_cap(&env.targets) {
        BrowserCap::Known(cap) => Some(cap),
        _ => None,
    };
    let severity = |l: Level| match l {
        Level::Green | Level::Neutral => 0,
        Level::Amber => 1,
        Level::Red => 2,
    };
    let rated = stats.iter().filter_map(|s| {
        let q = s.browser_queue_ms.as_ref()?.p50;
        let l = s.latency_ms.as_ref()?.p50;
        let capped = cap.is_some_and(|c| s.requested_concurrency > c);
        let level = match () {
            _ if q <= QUEUE_SHARE * l => Level::Green,
            _ if capped => Level::Red,
            _ => Level::Amber,
        };
        Some((level, q, l, s.name.as_str()))
    });
    let largest = rated.clone().map(|r| r.1).fold(f64::NEG_INFINITY, f64::max);
    let worst = rated.max_by(|a, b| {
        severity(a.0)
            .cmp(&severity(b.0))
            .then((a.1 / a.2.max(1e-9)).total_cmp(&(b.1 / b.2.max(1e-9))))
    });
    let name = "Browser queue";
    let share = |q: f64, l: f64| 100.0 * q / l.max(1e-9);
    match worst {
        None => item(
            name,
            Level::Amber,
            "not measured (no resource timing for these requests)".into(),
        ),
        Some((Level::Red, q, l, stage)) => item(name, Level::Red, format!(
            "p50 {q:.1} ms in {stage}, {:.0} % of its p50 latency ({l:.1} ms): requests waited for \
             one of the browser's {HTTP1_CONNECTIONS} HTTP/1.1 connections per origin", share(q, l))),
        Some((Level::Amber, q, l, stage)) => item(name, Level::Amber, format!(
            "p50 {q:.1} ms in {stage}, {:.0} % of its p50 latency ({l:.1} ms): requests waited in \
             the browser (connection set-up or a CORS preflight)", share(q, l))),
        Some(_) => item(
            name,
            Level::Green,
            format!(
                "p50 at most {largest:.2} ms, within {:.0} % of every stage's p50 latency",
                QUEUE_SHARE * 100.0
            ),
        ),
    }
}

/// When most of a run failed, what it says first: how many failed and why, by error class
/// ("All 37 requests failed: network — server unreachable or CORS"). `None` while fewer than
/// half of the completed requests failed (aborted ones are not completed).
pub fn headline(stats: &[StageStats]) -> Option<String> {
    let completed: u64 = stats.iter().map(|s| s.completed).sum();
    let failed: u64 = stats.iter().map(|s| s.failed).sum();
    if completed == 0 || failed.saturating_mul(2) < completed {
        return None;
    }
    let mut classes: Vec<(ErrorClass, u64, &str)> = Vec::new();
    for e in stats.iter().flat_map(|s| &s.errors) {
        if e.class == ErrorClass::Aborted {
            continue;
        }
        match classes.iter_mut().find(|c| c.0 == e.class) {
            Some(c) => c.1 += e.count,
            None => classes.push((e.class, e.count, e.example.as_str())),
        }
    }
    classes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let lead = if failed == completed && completed == 1 {
        "The only request failed".to_string()
    } else if failed == completed {
        format!("All {completed} requests failed")
    } else {
        format!(
            "{failed} of {completed} requests failed ({:.0} %)",
            100.0 * failed as f64 / completed as f64
        )
    };
    let single = classes.len() == 1;
    let causes: Vec<String> = classes
        .iter()
        .map(|&(class, count, example)| {
            let why = failure_reason(class, example);
            if single {
                format!("{} — {why}", class.label())
            } else {
                format!("{} × {count} — {why}", class.label())
            }
        })
        .collect();
    Some(format!("{lead}: {}", causes.join("; ")))
}

/// What an error class usually means, in a few words; an HTTP example gives its status.
fn failure_reason(class: ErrorClass, example: &str) -> String {
    match class {
        ErrorClass::Network => "server unreachable or CORS".into(),
        ErrorClass::Timeout => "no complete response within the timeout".into(),
        ErrorClass::Http => match example.split(':').next().map(str::trim) {
            Some(status) if status.starts_with("HTTP ") => {
                format!("the server answered with an error status (e.g. {status})")
            }
            _ => "the server answered with an error status".into(),
        },
        ErrorClass::Parse => {
            "the responses did not match the preset (check the preset and the URL)".into()
        }
        ErrorClass::StreamError => "the server sent an error inside the stream".into(),
        ErrorClass::Aborted => "stopped".into(),
    }
}

/// Why Run is disabled, naming the invalid inputs in form order: "Fix 2 fields: Timeout,
/// Stage 1 requests". Past four names the rest are counted.
pub fn fix_fields(errors: &[FieldError]) -> String {
    let mut fields: Vec<_> = errors.iter().map(|e| e.field).collect();
    fields.sort_by_key(|f| f.position());
    fields.dedup();
    let n = fields.len();
    let mut names: Vec<String> = fields.iter().take(4).map(|f| f.label()).collect();
    if n > 4 {
        names.push(format!("{} more", n - 4));
    }
    let noun = if n == 1 { "field" } else { "fields" };
    format!("Fix {n} {noun}: {}", names.join(", "))
}

/// The stages of `config` that ask for more than HTTP/1.1 carries over its origins (the
/// endpoint and each host alias), as "name (concurrency)": what the page warns about before
/// a run.
pub fn over_http1_cap(config: &RunConfig) -> Vec<String> {
    let origins = 1 + config.alias_list().len() as u32;
    config
        .stages()
        .into_iter()
        .filter(|s| s.concurrency > HTTP1_CONNECTIONS.saturating_mul(origins))
        .map(|s| format!("{} ({})", s.name, s.concurrency))
        .collect()
}

/// Where a run stands, for the progress bars. Warm-up requests count in neither figure.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProgressFigures {
    pub done: u64,
    pub total: u64,
    /// The stage in progress (0-based), and its name and counts.
    pub stage: Option<usize>,
    pub stage_name: String,
    pub stage_done: u64,
    pub stage_total: u64,
    /// A stage by time: (seconds elapsed, its duration in seconds); its progress is by time.
    pub stage_clock: Option<(f64, u32)>,
    /// 0..=1: the stage's requests (or its clock, for a stage by time) done.
    pub stage_fraction: f64,
    /// 0..=1: the run's requests done, or with a stage by time in the plan, finished stages
    /// plus the current stage's fraction, over the stage count.
    pub run_fraction: f64,
    /// Some stage runs by time: the run has no request total.
    pub timed: bool,
    /// Requests in flight per target: (host, count).
    pub in_flight: Vec<(String, u32)>,
}

/// Progress of the run in `agg`, with `in_flight` counts per target as the runner last gave them
/// and `stage_elapsed_ms` since the current stage started (for a stage by time).
pub fn progress(
    agg: &Aggregator,
    current_stage: Option<usize>,
    stage_elapsed_ms: f64,
    in_flight: &[u32],
) -> ProgressFigures {
    let stages = agg.stages();
    // Counted from the compact rows (and past the ceiling, the summaries): 4 times a second.
    let measured = agg.measured_per_stage();
    let spec = current_stage.and_then(|i| stages.get(i));
    let (stage_name, stage_total) = spec
        .map(|st| (st.name.clone(), u64::from(st.requests)))
        .unwrap_or_default();
    let stage_done = current_stage
        .and_then(|i| measured.get(i).copied())
        .unwrap_or(0);
    let stage_clock = spec
        .and_then(|st| st.duration_s)
        .map(|d| ((stage_elapsed_ms / 1000.0).clamp(0.0, f64::from(d)), d));
    let fraction = |done: u64, total: u64| match total {
        0 => 0.0,
        t => (done as f64 / t as f64).min(1.0),
    };
    let stage_fraction = match stage_clock {
        Some((e, d)) => e / f64::from(d),
        None => fraction(stage_done, stage_total),
    };
    let done: u64 = measured.iter().sum();
    let total: u64 = stages.iter().map(|st| u64::from(st.requests)).sum();
    let timed = stages.iter().any(|st| st.duration_s.is_some());
    let run_fraction = match (timed, current_stage) {
        (false, _) => fraction(done, total),
        (true, Some(i)) if !stages.is_empty() => {
            ((i as f64 + stage_fraction) / stages.len() as f64).min(1.0)
        }
        (true, _) => 0.0,
    };
    ProgressFigures {
        done,
        total,
        stage: current_stage,
        stage_name,
        stage_done,
        stage_total,
        stage_clock,
        stage_fraction,
        run_fraction,
        timed,
        in_flight: agg
            .targets()
            .iter()
            .map(|t| host(&t.url).to_string())
            .zip(in_flight.iter().copied())
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ErrorClass, TargetInfo};
    use crate::report::Period;
    use crate::stats::{stage_stats, Distribution};
    use crate::suite::StageSpec;

    fn sample(stage: u32, start_ms: f64, end_ms: f64) -> Sample {
        Sample {
            stage,
            start_ms,
            end_ms,
            ..Sample::default()
        }
    }

    fn failed(mut s: Sample) -> Sample {
        s.error_class = Some(ErrorClass::Http);
        s
    }

    fn spec(name: &str, concurrency: u32, requests: u32) -> StageSpec {
        StageSpec {
            duration_s: None,
            ramp_from: None,
            name: name.into(),
            concurrency,
            requests,
            rate: None,
        }
    }

    /// A stage's figures with nothing measured, to set the fields a test needs.
    fn stats(concurrency: u32) -> StageStats {
        stage_stats(0, &spec("s", concurrency, 10), &[])
    }

    fn dist(values: &[f64]) -> Option<Distribution> {
        Distribution::of(&mut values.to_vec())
    }

    #[test]
    fn nice_max_leaves_headroom_and_never_an_empty_axis() {
        assert_eq!(nice_max(5.0), 5.5);
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(-3.0), 1.0);
        assert_eq!(nice_max(f64::NAN), 1.0);
        assert_eq!(nice_max(f64::INFINITY), 1.0);
    }

    #[test]
    fn histogram_bins_by_hand() {
        // Range 0..30 in 30 bins: width 1. 7.5 → bin 7; the maximum 30 → bin 30, kept in 29.
        // Stage 1's 7.5 stacks on stage 0's; stage 2 is beyond the 2 stages and not counted.
        let h = histogram(
            &[
                (0, 0.0),
                (0, 7.5),
                (1, 7.5),
                (1, 30.0),
                (0, f64::NAN),
                (1, f64::INFINITY),
                (2, 99.0),
            ],
            2,
        );
        assert_eq!((h.lo, h.hi, h.width()), (0.0, 30.0, 1.0));
        assert_eq!(h.counts.len(), 2);
        assert_eq!(h.counts[0].len(), HISTOGRAM_BINS);
        assert_eq!((h.counts[0][0], h.counts[0][7], h.counts[0][29]), (1, 1, 0));
        assert_eq!((h.counts[1][0], h.counts[1][7], h.counts[1][29]), (0, 1, 1));
        assert_eq!(
            (0..HISTOGRAM_BINS).map(|b| h.total(b)).sum::<u32>(),
            4,
            "non-finite values are not binned"
        );
        assert_eq!(h.tallest(), 2, "bin 7 holds one of each stage");
    }

    #[test]
    fn histogram_of_one_value_or_none() {
        // One value 5: range 4..6, width 2/30; (5 − 4) ÷ (2/30) = 15 → the middle bin.
        let h = histogram(&[(0, 5.0)], 1);
        assert_eq!((h.lo, h.hi), (4.0, 6.0));
        assert_eq!(h.counts[0][15], 1);
        let h = histogram(&[], 3);
        assert_eq!((h.lo, h.hi, h.tallest()), (0.0, 1.0, 0));
        assert!(h.is_empty());
    }

    #[test]
    fn count_axes_step_by_whole_numbers() {
        // Tallest 8: 8 × 1.1 = 8.8 → 9, ticks 0..9 (10 labels, step 1). Tallest 1: at least
        // one above it, 2, so the bar does not touch the frame; 3 labels (0, 1, 2).
        assert_eq!(
            count_axis(8.0),
            CountAxis {
                max: 9.0,
                labels: 10
            }
        );
        assert_eq!(
            count_axis(1.0),
            CountAxis {
                max: 2.0,
                labels: 3
            }
        );
        assert_eq!(
            count_axis(0.0),
            CountAxis {
                max: 1.0,
                labels: 2
            }
        );
        assert_eq!(
            count_axis(f64::NAN),
            CountAxis {
                max: 1.0,
                labels: 2
            }
        );
        // 100 → 110, at most 10 labels: plotters picks a step of 20.
        assert_eq!(
            count_axis(100.0),
            CountAxis {
                max: 110.0,
                labels: 10
            }
        );
        // 2.5 (a mean in flight): 2.75 → 3, but at least 3 + 1 = 4.
        assert_eq!(
            count_axis(2.5),
            CountAxis {
                max: 4.0,
                labels: 5
            }
        );
    }

    fn agg_of(samples: &[Sample]) -> Aggregator {
        let mut agg = Aggregator::new(Vec::new());
        for s in samples {
            agg.push(s.clone());
        }
        agg
    }

    #[test]
    fn latency_over_time_by_stage() {
        let samples = [
            sample(0, 0.0, 100.0),
            failed(sample(0, 500.0, 520.0)),
            sample(1, 2000.0, 2300.0),
            // A stage the scatter does not know still widens the axes, as before.
            sample(5, 3000.0, 3050.0),
            sample(1, f64::NAN, 1.0),
        ];
        let sc = latency_over_time(&agg_of(&samples), 2);
        assert_eq!(sc.stages.len(), 2);
        assert_eq!(sc.stages[0].ok, [(0.0, 100.0)]);
        assert_eq!(sc.stages[0].failed, [(0.5, 20.0)]);
        assert_eq!(sc.stages[1].ok, [(2.0, 300.0)]);
        // x: largest start 3 s × 1.1; y: largest latency 300 ms × 1.1.
        assert!((sc.x_max - 3.3).abs() < 1e-12);
        assert!((sc.y_max - 330.0).abs() < 1e-9);
    }

    #[test]
    fn latency_over_time_strides_to_max_points() {
        // 12,000 samples: step ⌈12000 / 5000⌉ = 3, so samples 0, 3, …, 11997: 4,000 points.
        let samples: Vec<Sample> = (0..12_000)
            .map(|i| sample(0, f64::from(i), f64::from(i) + 10.0))
            .collect();
        let sc = latency_over_time(&agg_of(&samples), 1);
        assert_eq!(sc.stages[0].ok.len(), 4000);
        assert_eq!(sc.stages[0].ok[1], (0.003, 10.0));
    }

    #[test]
    fn tokens_over_time_by_hand() {
        let whole = Sample {
            output_tokens: Some(10),
            ..sample(0, 0.0, 1500.0)
        };
        let streamed = Sample {
            output_tokens: Some(6),
            content_ms: vec![200.0, 900.0, 2100.0],
            ..sample(0, 0.0, 2100.0)
        };
        let lost = Sample {
            output_tokens: Some(99),
            ..failed(sample(0, 0.0, 500.0))
        };
        // Last output at 2.1 s: 0.1 s buckets, 21 of them. 10 tokens at 1.5 s → bucket 15,
        // 10 ÷ 0.1 s = 100/s; the stream's 6 tokens, 2 per event: 0.2 s → bucket 2 and 0.9 s
        // → bucket 9 (20/s each), 2.1 s → bucket 21, the end, kept in the last (20); the
        // failure counts nowhere.
        let r = tokens_over_time(&[whole, streamed, lost]);
        assert_eq!((r.bucket_s, r.per_s.len()), (0.1, 21));
        let mut expect = [0.0; 21];
        (expect[2], expect[9], expect[15], expect[20]) = (20.0, 20.0, 100.0, 20.0);
        assert_eq!(r.per_s, expect);
        assert_eq!(tokens_over_time(&[] as &[Sample]).per_s, Vec::<f64>::new());
    }

    #[test]
    fn tokens_over_time_widens_buckets_for_long_runs() {
        let at = |end_ms: f64| Sample {
            output_tokens: Some(60),
            ..sample(0, 0.0, end_ms)
        };
        // Last output at 7199.5 s: 30 s buckets would make 240; 60 s buckets make 120, and
        // 7199.5 ÷ 60 → bucket 119. 60 tokens in a 60 s bucket = 1 token/s.
        let r = tokens_over_time(&[at(1000.0), at(7_199_500.0)]);
        assert_eq!((r.bucket_s, r.per_s.len()), (60.0, MAX_BUCKETS));
        assert_eq!((r.per_s[0], r.per_s[119]), (1.0, 1.0));
    }

    #[test]
    fn tokens_over_time_bounds_its_buffer_on_bogus_times() {
        let at = |end_ms: f64| Sample {
            output_tokens: Some(10),
            ..sample(0, 0.0, end_ms)
        };
        // An imported report claiming an end 10^15 s after the start: the widest buckets (an
        // hour), still at most MAX_BUCKETS of them, the last taking everything beyond.
        let r = tokens_over_time(&[at(500.0), at(1e18), at(f64::NAN), at(f64::INFINITY)]);
        assert_eq!(r.bucket_s, 3600.0);
        assert_eq!(r.per_s.len(), MAX_BUCKETS);
        assert!(r.per_s.iter().all(|v| v.is_finite()));
        // Only non-finite times: nothing to draw.
        assert!(tokens_over_time(&[at(f64::NAN)]).per_s.is_empty());
    }

    #[test]
    fn activity_by_hand() {
        // Run until 300 ms: 0.1 s buckets, 3 of them. In flight (ms in the bucket ÷ 100):
        //   ok 0–250:      100, 100, 50   ok 50–150: 50, 50   failed 100–120: 0, 20
        //   aborted 200–300: 0, 0, 100 (its end, 300, falls in the last bucket)
        //   → 1.5, 1.7, 1.5. Ends: ok in buckets 2 and 1, failed in 1, each 1 ÷ 0.1 s = 10/s.
        let samples = [
            sample(0, 0.0, 250.0),
            sample(0, 50.0, 150.0),
            failed(sample(0, 100.0, 120.0)),
            Sample {
                error_class: Some(ErrorClass::Aborted),
                ..sample(0, 200.0, 300.0)
            },
        ];
        let a = activity_over_time(&samples, 300.0);
        assert_eq!(a.bucket_s, 0.1);
        assert_eq!(a.ok_per_s, vec![0.0, 10.0, 10.0]);
        assert_eq!(a.failed_per_s, vec![0.0, 10.0, 0.0]);
        let expect = [1.5, 1.7, 1.5];
        assert!(
            a.in_flight
                .iter()
                .zip(expect)
                .all(|(a, e)| (a - e).abs() < 1e-9),
            "{:?}",
            a.in_flight
        );
        // Live: the run is at 1 s with nothing more finished, so the chart spans 10 buckets.
        assert_eq!(activity_over_time(&samples, 1000.0).in_flight.len(), 10);
        assert!(activity_over_time(&[] as &[Sample], 500.0).is_empty());
    }

    #[test]
    fn activity_widens_its_buckets_and_clamps_bogus_times() {
        // 1000 s: 0.1…5 s would make more than 120 buckets; 10 s makes 100.
        let a = activity_over_time(&[sample(0, 0.0, 1_000_000.0)], 0.0);
        assert_eq!((a.bucket_s, a.in_flight.len()), (10.0, 100));
        assert!(a.in_flight.iter().all(|&f| (f - 1.0).abs() < 1e-9));
        // An imported end at 1e18 ms: the widest buckets, at most 120 of them, all in range.
        let a = activity_over_time(
            &[sample(0, -5.0, 1e18), sample(0, f64::NAN, 10.0)],
            f64::NAN,
        );
        assert_eq!((a.bucket_s, a.in_flight.len()), (3600.0, MAX_BUCKETS));
        assert_eq!(a.ok_per_s.iter().filter(|&&v| v > 0.0).count(), 1);
    }

    #[test]
    fn vs_concurrency_one_point_per_stage() {
        let mut a = stats(2);
        a.latency_ms = dist(&[10.0, 20.0, 30.0]);
        let mut b = stats(10);
        b.latency_ms = dist(&[50.0]);
        let c = stats(5); // nothing measured: no point, but it still sets the x axis
        let figures: [StageFigure; 2] = [
            |s| s.latency_ms.as_ref().map(|d| d.p50),
            |s| s.requests_per_s,
        ];
        let sc = vs_concurrency(&[a, b, c], &figures);
        // p50 of 10, 20, 30 by nearest rank: rank ⌈1.5⌉ = 2 → 20.
        assert_eq!(sc.lines[0], [(2.0, 20.0), (10.0, 50.0)]);
        assert!(sc.lines[1].is_empty());
        // x: 10 × 1.1; y: 50 × 1.1.
        assert!((sc.x_max - 11.0).abs() < 1e-9 && (sc.y_max - 55.0).abs() < 1e-9);
    }

    fn env(protocols: &[Option<Protocol>]) -> Environment {
        Environment {
            targets: protocols
                .iter()
                .enumerate()
                .map(|(i, p)| TargetInfo {
                    url: format!("http://h{i}:8000/generate"),
                    protocol: p.clone(),
                })
                .collect(),
            timer_resolution_ms: Some(0.005),
            cross_origin_isolated: Some(true),
            engine_in_worker: Some(true),
            ..Environment::default()
        }
    }

    fn rating(items: &[FidelityItem], name: &str) -> (Level, String) {
        let i = items.iter().find(|i| i.name == name).unwrap();
        (i.level, i.detail.clone())
    }

    #[test]
    fn protocol_is_red_only_when_http1_cannot_carry_the_concurrency() {
        let h1 = Some(Protocol::Http1);
        // Two HTTP/1.1 targets carry 2 × 6 = 12 in flight.
        let (level, detail) = rating(
            &fidelity(&env(&[h1.clone(), h1.clone()]), &[stats(13)]),
            "Protocol",
        );
        assert_eq!(level, Level::Red);
        assert_eq!(
            detail,
            format!(
                "h0:8000 http/1.1, h1:8000 http/1.1: HTTP/1.1 carries at most 12 in \
                 flight over 2 origin(s), stages ask for up to 13. {BROWSER_CAPPED}"
            )
        );
        let items = fidelity(&env(&[h1.clone(), h1.clone()]), &[stats(12)]);
        assert_eq!(rating(&items, "Protocol").0, Level::Green);
        let items = fidelity(&env(&[h1, None]), &[stats(2)]);
        assert_eq!(
            rating(&items, "Protocol").0,
            Level::Amber,
            "one target hid its protocol"
        );
    }

    #[test]
    fn a_native_report_is_never_rated_for_the_browser() {
        // The command line at 20 in flight over one HTTP/1.1 origin: in a browser that is red
        // (6 carried); natively there is no cap, and no browser-only item is listed.
        let mut e = env(&[Some(Protocol::Http1)]);
        e.client = Some(crate::report::Client {
            kind: "native".into(),
            version: "0.1.0 (linux x86_64)".into(),
        });
        let items = fidelity(&e, &[stats(20)]);
        let names: Vec<&str> = items.iter().map(|i| i.name).collect();
        assert_eq!(names, ["Client", "Protocol", "Timer resolution", "Stage"]);
        assert_eq!(
            rating(&items, "Protocol"),
            (Level::Green, "h0:8000 http/1.1".into())
        );
        assert!(rating(&items, "Client")
            .1
            .contains("no 6-connections-per-origin cap"));
        // The same figures from the page: red, and the wording names the capped figures.
        let (level, detail) = rating(
            &fidelity(&env(&[Some(Protocol::Http1)]), &[stats(20)]),
            "Protocol",
        );
        assert_eq!(level, Level::Red);
        assert!(detail.contains("latency, TTFT, requests/s and tokens/s are capped by the browser"));
        assert!(detail.contains("the stampede command line has no such cap"));
    }

    #[test]
    fn browser_queue_is_rated_against_latency_and_red_only_when_capped() {
        let h1 = Some(Protocol::Http1);
        let queued = |c: u32, queue: f64, latency: f64| {
            let mut s = stats(c);
            s.browser_queue_ms = dist(&[queue]);
            s.latency_ms = dist(&[latency]);
            rating(
                &fidelity(&env(std::slice::from_ref(&h1)), &[s]),
                "Browser queue",
            )
        };
        // The false alarm: 10 ms of queue at concurrency 5 beside 1 s of latency is 1 %.
        assert_eq!(queued(5, 10.0, 1000.0).0, Level::Green);
        // 10 % of 100 ms is the line: 10 ms is within it, 10.1 ms past it.
        assert_eq!(queued(5, 10.0, 100.0).0, Level::Green);
        let (level, detail) = queued(5, 10.1, 100.0);
        assert_eq!(level, Level::Amber, "not capped: amber, never red");
        assert_eq!(
            detail,
            "p50 10.1 ms in s, 10 % of its p50 latency (100.0 ms): requests waited in the \
             browser (connection set-up or a CORS preflight)"
        );
        // Concurrency 10 over one HTTP/1.1 origin (cap 6) with a real queue: red.
        let (level, detail) = queued(10, 60.0, 160.0);
        assert_eq!(level, Level::Red);
        assert!(detail.contains("38 % of its p50 latency"), "{detail}");
        // Capped but the queue is small beside the latency: nothing to see.
        assert_eq!(queued(10, 5.0, 1000.0).0, Level::Green);
        assert_eq!(
            rating(&fidelity(&env(&[]), &[stats(2)]), "Browser queue").0,
            Level::Amber,
            "not measured"
        );
    }

    #[test]
    fn the_worst_stage_speaks_for_the_browser_queue() {
        let stage = |name: &str, c: u32, queue: f64, latency: f64| {
            let mut s = stats(c);
            s.name = name.into();
            s.browser_queue_ms = dist(&[queue]);
            s.latency_ms = dist(&[latency]);
            s
        };
        let items = fidelity(
            &env(&[Some(Protocol::Http1)]),
            &[
                stage("a", 2, 0.4, 100.0),
                stage("b", 5, 20.0, 100.0),
                stage("c", 5, 30.0, 500.0),
            ],
        );
        // b: 20 % beats c: 6 % (green) and a.
        let (level, detail) = rating(&items, "Browser queue");
        assert_eq!(level, Level::Amber);
        assert!(detail.starts_with("p50 20.0 ms in b"), "{detail}");
        let green = fidelity(
            &env(&[]),
            &[stage("a", 2, 0.4, 100.0), stage("c", 5, 3.0, 500.0)],
        );
        assert_eq!(
            rating(&green, "Browser queue"),
            (
                Level::Green,
                "p50 at most 3.00 ms, within 10 % of every stage's p50 latency".into()
            )
        );
    }

    #[test]
    fn every_rating_states_its_rule() {
        let mut s = stats(2);
        s.browser_queue_ms = dist(&[1.0]);
        s.latency_ms = dist(&[100.0]);
        let items = fidelity(&env(&[Some(Protocol::Http1)]), &[s]);
        assert_eq!(items.len(), 8);
        for i in &items {
            assert!(!i.rule.is_empty(), "{} has no rule", i.name);
        }
        assert!(rating_rule(&items, "Browser queue").contains("over 10 % of the p50 latency"));
        assert!(rating_rule(&items, "Stage").contains("at least 20 requests and 4 per"));
        assert!(rating_rule(&items, "Timer resolution").contains("green at 10 µs or finer"));
    }

    fn rating_rule(items: &[FidelityItem], name: &str) -> String {
        items.iter().find(|i| i.name == name).unwrap().rule.clone()
    }

    #[test]
    fn timer_and_isolation() {
        let timer = |r: Option<f64>| {
            let e = Environment {
                timer_resolution_ms: r,
                ..env(&[])
            };
            rating(&fidelity(&e, &[]), "Timer resolution")
        };
        assert_eq!(timer(Some(0.005)), (Level::Green, "5 µs".into()));
        assert_eq!(timer(Some(0.1)).0, Level::Amber);
        assert_eq!(
            timer(Some(1.0)),
            (Level::Red, "1.00 ms: sub-ms figures are noise".into())
        );
        assert_eq!(timer(None).0, Level::Amber);
        let e = Environment {
            cross_origin_isolated: None,
            ..env(&[])
        };
        assert_eq!(
            rating(&fidelity(&e, &[]), "Cross-origin isolation").0,
            Level::Amber
        );
    }

    #[test]
    fn hidden_tab_matters_only_for_rate_stages_on_the_page() {
        let hidden = |in_worker: Option<bool>, rate: bool| {
            let e = Environment {
                engine_in_worker: in_worker,
                hidden_periods: vec![
                    Period {
                        start_ms: 0.0,
                        end_ms: 1000.0,
                    },
                    Period {
                        start_ms: 2000.0,
                        end_ms: 2500.0,
                    },
                ],
                ..env(&[])
            };
            let mut s = stats(2);
            s.requested_rate_per_s = rate.then_some(5.0);
            rating(&fidelity(&e, &[s]), "Hidden tab")
        };
        // 1000 + 500 ms hidden = 1.5 s.
        let (level, detail) = hidden(Some(true), true);
        assert_eq!(level, Level::Green);
        assert!(
            detail.starts_with("hidden 2 time(s), 1.5 s in all"),
            "{detail}"
        );
        assert_eq!(hidden(Some(false), true).0, Level::Red);
        assert_eq!(hidden(Some(false), false).0, Level::Amber);
        assert_eq!(
            rating(&fidelity(&env(&[]), &[]), "Hidden tab").0,
            Level::Green
        );
    }

    #[test]
    fn long_tasks_on_the_page_turn_red_past_half_a_second() {
        let tasks = |ms: &[f64], in_worker: bool| {
            let e = Environment {
                engine_in_worker: Some(in_worker),
                long_tasks: ms
                    .iter()
                    .map(|&d| Period {
                        start_ms: 0.0,
                        end_ms: d,
                    })
                    .collect(),
                ..env(&[])
            };
            rating(&fidelity(&e, &[]), "Main-thread long tasks")
        };
        // 250 + 250 = 500 ms: not more than 500, amber; 250 + 251 = 501: red.
        assert_eq!(tasks(&[250.0, 250.0], false).0, Level::Amber);
        assert_eq!(tasks(&[250.0, 251.0], false).0, Level::Red);
        assert_eq!(
            tasks(&[250.0, 251.0], true).0,
            Level::Green,
            "the worker kept time"
        );
        assert_eq!(tasks(&[], false), (Level::Green, "none over 50 ms".into()));
    }

    #[test]
    fn worker_lag_thresholds() {
        let lag = |p99: Option<f64>, in_worker: Option<bool>| {
            let e = Environment {
                engine_in_worker: in_worker,
                worker_lag_ms: p99.and_then(|v| dist(&[v])),
                ..env(&[])
            };
            rating(&fidelity(&e, &[]), "Engine worker").0
        };
        assert_eq!(lag(Some(20.0), Some(true)), Level::Red);
        assert_eq!(lag(Some(5.0), Some(true)), Level::Amber);
        assert_eq!(lag(Some(4.9), Some(true)), Level::Green);
        assert_eq!(lag(None, Some(true)), Level::Green);
        assert_eq!(lag(None, Some(false)), Level::Amber);
        assert_eq!(lag(None, None), Level::Amber);
        // One 33 ms hiccup among 35 samples (about 7 s of a run) is its p99 but not its p95
        // (rank ⌈0.95 × 35⌉ = 34, a 1 ms sample): not a busy worker.
        let mut samples = vec![1.0; 34];
        samples.push(33.5);
        let e = Environment {
            worker_lag_ms: dist(&samples),
            ..env(&[])
        };
        let (level, detail) = rating(&fidelity(&e, &[]), "Engine worker");
        assert_eq!(level, Level::Green, "{detail}");
    }

    #[test]
    fn a_stage_that_fell_short_is_red_with_its_reason() {
        let mut s = stats(8);
        s.sent_concurrency = Some(5.5);
        let mut short = s.clone();
        short.shortfall = Some("the browser queued".into());
        let items = fidelity(&env(&[]), &[s, short]);
        let stages: Vec<_> = items.iter().filter(|i| i.name == "Stage").collect();
        assert_eq!(stages[0].level, Level::Green);
        assert_eq!(stages[0].detail, "s: 8 in flight asked, 5.50 sent");
        assert_eq!(stages[1].level, Level::Red);
        assert_eq!(
            stages[1].detail,
            "s: 8 in flight asked, 5.50 sent. the browser queued"
        );
    }

    #[test]
    fn short_or_all_failed_stages_are_not_judged_and_not_red() {
        let mut short = stats(2);
        short.completed = 10;
        short.successful = 10;
        short.too_short_to_judge = true;
        short.sent_concurrency = Some(1.6);
        let mut dead = stats(5);
        dead.completed = 20;
        dead.failed = 20;
        dead.busy_concurrency = Some(4.8);
        let items = fidelity(&env(&[]), &[short.clone(), dead.clone()]);
        let stages: Vec<_> = items.iter().filter(|i| i.name == "Stage").collect();
        assert_eq!(stages[0].level, Level::Neutral);
        assert_eq!(
            stages[0].detail,
            "s: 2 in flight asked, 1.60 sent: too short to judge (10 requests; a verdict needs \
             at least 20, and 4 per concurrent slot)"
        );
        assert_eq!(stages[1].level, Level::Neutral);
        assert_eq!(
            stages[1].detail,
            "s: 5 in flight asked, 4.80 (browser queue included): not judged, no request succeeded"
        );
        // A certain cap is flagged however short the stage: the shortfall wins.
        short.shortfall = Some("capped".into());
        let items = fidelity(&env(&[]), &[short]);
        assert_eq!(items.last().unwrap().level, Level::Red);
        assert_eq!(not_judged(&stats(2)), None, "nothing completed yet");
    }

    fn failing(c: u32, ok: u64, errors: &[(ErrorClass, u64, &str)]) -> StageStats {
        let mut s = stats(c);
        let failed: u64 = errors
            .iter()
            .filter(|e| e.0 != ErrorClass::Aborted)
            .map(|e| e.1)
            .sum();
        let aborted: u64 = errors
            .iter()
            .filter(|e| e.0 == ErrorClass::Aborted)
            .map(|e| e.1)
            .sum();
        s.successful = ok;
        s.failed = failed;
        s.aborted = aborted;
        s.completed = ok + failed;
        s.errors = errors
            .iter()
            .map(|&(class, count, example)| crate::stats::ErrorSummary {
                class,
                count,
                example: example.into(),
            })
            .collect();
        s
    }

    #[test]
    fn headline_when_all_or_most_failed() {
        let refused = "TypeError: Failed to fetch";
        // Quick against a closed port: 10 + 20 network failures; 7 warm-ups are not counted.
        let all = [
            failing(2, 0, &[(ErrorClass::Network, 10, refused)]),
            failing(5, 0, &[(ErrorClass::Network, 20, refused)]),
        ];
        assert_eq!(
            headline(&all).as_deref(),
            Some("All 30 requests failed: network — server unreachable or CORS")
        );
        // 15 of 30 failed: half is enough; classes by count, their totals given.
        let most = [
            failing(2, 10, &[(ErrorClass::Http, 5, "HTTP 503: busy")]),
            failing(
                5,
                5,
                &[
                    (ErrorClass::Timeout, 4, "no complete response within 30 s"),
                    (ErrorClass::Http, 6, "HTTP 500: oops"),
                    (ErrorClass::Aborted, 3, "stopped"),
                ],
            ),
        ];
        assert_eq!(
            headline(&most).as_deref(),
            Some(
                "15 of 30 requests failed (50 %): http × 11 — the server answered with an error \
                 status (e.g. HTTP 503); timeout × 4 — no complete response within the timeout"
            )
        );
        // 14 of 30: below half, no headline; nothing completed (all aborted): none either.
        let fine = [failing(2, 16, &[(ErrorClass::Parse, 14, "bad json")])];
        assert_eq!(headline(&fine), None);
        assert_eq!(
            headline(&[failing(2, 0, &[(ErrorClass::Aborted, 2, "stopped")])]),
            None
        );
        assert_eq!(headline(&[]), None);
        assert_eq!(
            headline(&[failing(1, 0, &[(ErrorClass::StreamError, 1, "x")])]).as_deref(),
            Some("The only request failed: stream-error — the server sent an error inside the stream")
        );
    }

    #[test]
    fn fix_fields_names_the_inputs_in_form_order() {
        use crate::config::Field;
        let e = |field| FieldError {
            field,
            message: "bad".into(),
        };
        assert_eq!(
            fix_fields(&[
                e(Field::StageRequests(0)),
                e(Field::Timeout),
                e(Field::Timeout)
            ]),
            "Fix 2 fields: Timeout, Stage 1 requests"
        );
        assert_eq!(
            fix_fields(&[e(Field::Headers)]),
            "Fix 1 field: Extra headers"
        );
        let many: Vec<_> = (0..3)
            .flat_map(|i| [e(Field::StageConcurrency(i)), e(Field::StageRequests(i))])
            .collect();
        assert_eq!(
            fix_fields(&many),
            "Fix 6 fields: Stage 1 concurrency, Stage 1 requests, Stage 2 concurrency, \
             Stage 2 requests, 2 more"
        );
    }

    #[test]
    fn over_http1_cap_counts_the_aliases() {
        use crate::suite::Suite;
        let mut c = RunConfig::default(); // Standard: 2, 5, 10
        assert_eq!(over_http1_cap(&c), ["High Concurrency Test (10)"]);
        c.aliases = "http://127.0.0.2:8000".into();
        assert!(over_http1_cap(&c).is_empty(), "2 origins carry 12");
        c.suite = Suite::Comprehensive;
        assert_eq!(over_http1_cap(&c), ["Very High Concurrency Test (20)"]);
        c.suite = Suite::Quick;
        c.aliases.clear();
        assert!(over_http1_cap(&c).is_empty());
    }

    #[test]
    fn progress_of_a_stage_by_time_follows_its_clock() {
        let timed = StageSpec {
            duration_s: Some(30),
            requests: 0,
            ..spec("timed", 4, 0)
        };
        let mut agg = Aggregator::with_targets(
            vec![spec("one", 2, 10), timed],
            vec!["http://a:1/generate".into()],
        );
        agg.push(sample(1, 0.0, 1.0));
        // 7.5 s into a 30 s stage: a quarter; the run is 1 stage of 2 done plus that quarter.
        let p = progress(&agg, Some(1), 7500.0, &[4]);
        assert_eq!(p.stage_clock, Some((7.5, 30)));
        assert_eq!(
            (p.stage_fraction, p.run_fraction, p.timed),
            (0.25, 0.625, true)
        );
        assert_eq!(p.stage_done, 1);
        // Past its end (in-flight requests finishing) the clock stays at the duration.
        let late = progress(&agg, Some(1), 31_000.0, &[1]);
        assert_eq!(
            (late.stage_clock, late.stage_fraction),
            (Some((30.0, 30)), 1.0)
        );
    }

    #[test]
    fn progress_by_hand() {
        let mut agg = Aggregator::with_targets(
            vec![spec("one", 2, 10), spec("two", 5, 20)],
            vec!["http://a:1/generate".into(), "http://b:2/generate".into()],
        );
        let warmup = Sample {
            warmup: true,
            ..sample(1, 0.0, 1.0)
        };
        for s in [
            sample(0, 0.0, 1.0),
            sample(0, 1.0, 2.0),
            sample(1, 2.0, 3.0),
            warmup,
        ] {
            agg.push(s);
        }
        let p = progress(&agg, Some(1), 0.0, &[3, 2, 9]);
        // Done: 3 measured of 10 + 20 = 30; stage 2: 1 of 20 (the warm-up does not count).
        assert_eq!((p.done, p.total), (3, 30));
        assert_eq!((p.stage, p.stage_name.as_str()), (Some(1), "two"));
        assert_eq!((p.stage_done, p.stage_total), (1, 20));
        assert_eq!(
            (p.stage_fraction, p.run_fraction, p.timed),
            (0.05, 0.1, false)
        );
        assert_eq!(p.stage_clock, None);
        // One count per target; the extra count has no target.
        assert_eq!(
            p.in_flight,
            [("a:1".to_string(), 3), ("b:2".to_string(), 2)]
        );
        let idle = progress(&agg, None, 0.0, &[]);
        assert_eq!(
            (idle.stage_name.as_str(), idle.stage_done, idle.stage_total),
            ("", 0, 0)
        );
        assert!(idle.in_flight.is_empty());
    }
}

/// A rate stage may ask this much above the client's top rate before it is flagged: the
/// tolerance a constant-rate stage is held to.
const TOP_RATE_TOLERANCE: f64 = 0.02;

/// The most requests per second this browser sent in a run: the fastest stage's sending rate
/// (a closed stage's requests/s, a rate stage's achieved arrival rate), over stages of at least
/// [`MIN_JUDGED_REQUESTS`] requests. A lower bound of what the client can do against this
/// server (a slow server lowers it too), measured where the run ran.
#[derive(Clone, Debug, PartialEq)]
pub struct TopRate {
    pub per_s: f64,
    /// The stage that reached it.
    pub stage: String,
}

/// The run's [`TopRate`]; `None` when no stage is long enough.
pub fn client_top_rate(stats: &[StageStats]) -> Option<TopRate> {
    stats
        .iter()
        .filter(|s| s.completed >= MIN_JUDGED_REQUESTS)
        .filter_map(|s| {
            let rate = match s.requested_rate_per_s {
                Some(_) => s.achieved_rate_per_s,
                None => s.requests_per_s,
            }?;
            (rate.is_finite() && rate > 0.0).then(|| TopRate {
                per_s: rate,
                stage: s.name.clone(),
            })
        })
        .max_by(|a, b| a.per_s.total_cmp(&b.per_s))
}

/// Rate stages (name, requested rate) that ask for more than `top` allows, tolerance included.
pub fn above_top_rate<'a>(
    stages: impl IntoIterator<Item = (&'a str, Option<f64>)>,
    top: &TopRate,
) -> Vec<(&'a str, f64)> {
    stages
        .into_iter()
        .filter_map(|(name, rate)| Some((name, rate?)))
        .filter(|&(_, rate)| rate > top.per_s * (1.0 + TOP_RATE_TOLERANCE))
        .collect()
}

/// What the form says before Run when a rate stage asks for more than this browser sent in the
/// previous run on this page; `None` when none does (or nothing was measured).
pub fn top_rate_note(plan: &Plan, top: Option<&TopRate>) -> Option<String> {
    let top = top?;
    let stages = plan
        .stages()
        .iter()
        .map(|s| (s.name.as_str(), s.rate.as_ref().map(|r| r.per_s)));
    let above = above_top_rate(stages, top);
    (!above.is_empty()).then(|| {
        let list: Vec<String> = above
            .iter()
            .map(|(name, rate)| format!("{name} ({})", per_s(*rate)))
            .collect();
        format!(
            "The last run here sent at most {} ({}): {} asks for more, and this browser may not \
             start requests that fast (the fidelity panel will show what it achieved).",
            per_s(top.per_s),
            top.stage,
            list.join(", ")
        )
    })
}

/// "496 req/s", "12.5 req/s".
fn per_s(rate: f64) -> String {
    if rate >= 100.0 {
        format!("{rate:.0} req/s")
    } else {
        format!("{rate:.1} req/s")
    }
}

/// The fidelity line for the client's top rate (see [`client_top_rate`]).
fn top_rate_item(stats: &[StageStats]) -> Option<FidelityItem> {
    let top = client_top_rate(stats)?;
    let stages = stats
        .iter()
        .map(|s| (s.name.as_str(), s.requested_rate_per_s));
    let above = above_top_rate(stages, &top);
    let figure = format!(
        "this browser sent at most {} here ({})",
        per_s(top.per_s),
        top.stage
    );
    Some(if above.is_empty() {
        item("Client rate", Level::Neutral, figure)
    } else {
        let list: Vec<String> = above
            .iter()
            .map(|(name, rate)| format!("{name} asked {}", per_s(*rate)))
            .collect();
        item(
            "Client rate",
            Level::Amber,
            format!(
                "{figure}; {}: above it, so the client, not the server, may have set the pace",
                list.join(", ")
            ),
        )
    })
}

/// What the form says before Run when a plan sends more requests (warm-ups included) than a
/// run keeps samples for; `None` when every sample is kept.
pub fn ceiling_note(plan: &Plan) -> Option<String> {
    let sent: u64 = (0..plan.stages().len())
        .map(|i| u64::from(plan.warmup_count(i)))
        .sum::<u64>()
        + plan.total_requests();
    (sent > MAX_KEPT_SAMPLES as u64).then(|| {
        format!(
            "This plan sends {} requests; a run keeps {} samples. Past them each stage keeps a \
             summary: percentiles become approximate (HDR histogram, 3 significant digits), \
             sent concurrency is not computed, and the export holds the first {} samples.",
            thousands(sent),
            thousands(MAX_KEPT_SAMPLES as u64),
            thousands(MAX_KEPT_SAMPLES as u64)
        )
    })
}

/// 2000000 → "2,000,000".
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod top_rate_tests {
    use super::*;
    use crate::config::RunConfig;
    use crate::suite::{RateSpec, StageSpec, Suite};

    /// A finished stage: closed (`rate` None, `per_s` its requests/s) or a rate stage (`per_s`
    /// its achieved arrival rate).
    fn stage(name: &str, completed: u64, rate: Option<f64>, per_s: f64) -> StageStats {
        let spec = StageSpec {
            name: name.into(),
            concurrency: 6,
            requests: completed as u32,
            rate: None,
            duration_s: None,
            ramp_from: None,
        };
        StageStats {
            completed,
            requests_per_s: Some(per_s),
            requested_rate_per_s: rate,
            achieved_rate_per_s: rate.map(|_| per_s),
            ..crate::stats::stage_stats(0, &spec, std::iter::empty::<Sample>())
        }
    }

    #[test]
    fn the_top_rate_is_the_fastest_stage_long_enough_to_judge() {
        // The closed loop's 550/s beats the rate stage's 496/s; the 900/s stage has only 19
        // requests (< 20) and does not count.
        let stats = [
            stage("closed", 600, None, 550.0),
            stage("rate", 2000, Some(1000.0), 496.0),
            stage("short", 19, None, 900.0),
        ];
        let top = client_top_rate(&stats).unwrap();
        assert_eq!((top.per_s, top.stage.as_str()), (550.0, "closed"));
        assert_eq!(client_top_rate(&[stage("short", 19, None, 900.0)]), None);
        assert_eq!(client_top_rate(&[]), None);
    }

    #[test]
    fn a_rate_stage_above_the_top_rate_is_flagged_after_the_run() {
        let stats = [
            stage("closed", 600, None, 550.0),
            stage("rate", 2000, Some(1000.0), 496.0),
        ];
        let items = fidelity(&Environment::default(), &stats);
        let it = items.iter().find(|i| i.name == "Client rate").unwrap();
        assert_eq!(it.level, Level::Amber);
        assert_eq!(
            it.detail,
            "this browser sent at most 550 req/s here (closed); rate asked 1000 req/s: above it, \
             so the client, not the server, may have set the pace"
        );
        assert!(it.rule.contains("2 %"), "{}", it.rule);
        // 100/s asked, 99.5/s achieved: within 2 % of its own rate, not flagged.
        let met = [stage("rate", 400, Some(100.0), 99.5)];
        let items = fidelity(&Environment::default(), &met);
        let it = items.iter().find(|i| i.name == "Client rate").unwrap();
        assert_eq!(it.level, Level::Neutral);
        assert_eq!(
            it.detail,
            "this browser sent at most 99.5 req/s here (rate)"
        );
    }

    #[test]
    fn the_form_warns_before_a_stage_asks_above_the_last_runs_top_rate() {
        let rate_stage = |name: &str, per_s: f64| StageSpec {
            name: name.into(),
            concurrency: 6,
            requests: 100,
            rate: Some(RateSpec {
                per_s,
                poisson: false,
                seed: 0,
            }),
            duration_s: None,
            ramp_from: None,
        };
        let plan = RunConfig {
            suite: Suite::Custom,
            custom_stages: vec![rate_stage("slow", 200.0), rate_stage("fast", 800.0)],
            ..RunConfig::default()
        }
        .validate()
        .unwrap();
        let top = TopRate {
            per_s: 550.0,
            stage: "Stage 1".into(),
        };
        assert_eq!(
            top_rate_note(&plan, Some(&top)).unwrap(),
            "The last run here sent at most 550 req/s (Stage 1): fast (800 req/s) asks for more, \
             and this browser may not start requests that fast (the fidelity panel will show \
             what it achieved)."
        );
        assert_eq!(top_rate_note(&plan, None), None);
        // 800 asked against 800 / 1.02 sent: at the tolerance, not above it.
        let top = TopRate {
            per_s: 800.0 / 1.02,
            stage: "Stage 1".into(),
        };
        assert_eq!(top_rate_note(&plan, Some(&top)), None);
    }
}

#[cfg(test)]
mod ceiling_tests {
    use super::*;
    use crate::config::RunConfig;
    use crate::suite::{StageSpec, Suite};

    #[test]
    fn the_form_warns_past_the_sample_ceiling() {
        let stage = |requests| StageSpec {
            duration_s: None,
            ramp_from: None,
            name: "s".into(),
            concurrency: 10,
            requests,
            rate: None,
        };
        let plan = |stages| {
            RunConfig {
                suite: Suite::Custom,
                custom_stages: stages,
                ..RunConfig::default()
            }
            .validate()
            .unwrap()
        };
        // 2 × 1,000,000 + 2 × 10 warm-ups = 2,000,020 > 2,000,000.
        let note = ceiling_note(&plan(vec![stage(1_000_000), stage(1_000_000)])).unwrap();
        assert!(
            note.starts_with("This plan sends 2,000,020 requests; a run keeps 2,000,000"),
            "{note}"
        );
        assert_eq!(ceiling_note(&plan(vec![stage(1_000_000)])), None);
        assert_eq!(thousands(999), "999");
    }
}

#[cfg(test)]
mod errors_tests {
    use super::*;
    use crate::stats::stage_stats;
    use crate::suite::StageSpec;

    fn ended(end_ms: f64, class: Option<ErrorClass>) -> Sample {
        Sample {
            start_ms: 0.0,
            end_ms,
            error_class: class,
            ..Sample::default()
        }
    }

    fn spec() -> StageSpec {
        StageSpec {
            name: "s".into(),
            concurrency: 2,
            requests: 10,
            rate: None,
            duration_s: None,
            ramp_from: None,
        }
    }

    #[test]
    fn errors_by_class_in_hand_worked_bins() {
        let mut warm = ended(50.0, Some(ErrorClass::Http));
        warm.warmup = true;
        let samples = vec![
            ended(300.0, None),
            ended(250.0, Some(ErrorClass::Http)),
            ended(450.0, Some(ErrorClass::Timeout)),
            ended(480.0, Some(ErrorClass::Http)),
            // Stop is not a failure; a warm-up is in no figure.
            ended(490.0, Some(ErrorClass::Aborted)),
            warm,
            ended(1150.0, Some(ErrorClass::StreamError)),
        ];
        let stats = vec![stage_stats(0, &spec(), &samples)];
        let e = errors_over_time(&samples, &stats, 0.0);
        // Last end 1150 ms: 1.15 s ÷ 0.1 s = 11.5 → 12 buckets of 100 ms. One failure in a
        // 0.1 s bucket is 10 failures/s: http ends at 250 (bucket 2) and 480 (4), timeout at
        // 450 (4), stream-error at 1150 (11). Network and parse never failed: no series.
        assert_eq!(e.bucket_s, 0.1);
        assert_eq!(e.buckets(), 12);
        let at = |pairs: &[(usize, f64)]| {
            let mut v = vec![0.0; 12];
            for &(i, r) in pairs {
                v[i] = r;
            }
            v
        };
        assert_eq!(
            e.classes,
            vec![
                (ErrorClass::Http, at(&[(2, 10.0), (4, 10.0)])),
                (ErrorClass::Timeout, at(&[(4, 10.0)])),
                (ErrorClass::StreamError, at(&[(11, 10.0)])),
            ]
        );
        // Bucket 4 stacks http on timeout: 20/s.
        assert_eq!(e.tallest(), 20.0);
        assert_eq!(e.count(ErrorClass::Http), 2);
        assert_eq!(e.count(ErrorClass::Network), 0);
        assert_eq!(e.not_drawn, 0);
        // The same axis as "Requests over time", which counts the same failures (and the
        // warm-up: the server saw it) as failed/s.
        let a = activity_over_time(&samples, 0.0);
        assert_eq!(a.failed_per_s.len(), e.buckets());
        let stacked: Vec<f64> = (0..12)
            .map(|i| e.classes.iter().map(|(_, v)| v[i]).sum())
            .collect();
        let mut failed = a.failed_per_s.clone();
        failed[0] -= 10.0; // the warm-up's 500 at 50 ms
        assert_eq!(stacked, failed);
    }

    #[test]
    fn a_live_run_extends_the_axis_and_no_failure_draws_no_series() {
        let samples = vec![ended(250.0, Some(ErrorClass::Network)), ended(900.0, None)];
        // Still running at 2 s: 20 buckets of 100 ms, the last 10 empty.
        let e = errors_over_time(&samples, &[], 2000.0);
        assert_eq!((e.bucket_s, e.buckets()), (0.1, 20));
        assert_eq!(e.classes[0].1[2], 10.0);
        assert_eq!(e.classes[0].1.iter().sum::<f64>(), 10.0);
        // 200 s: 2 s buckets (200 of 1 s would be over 120); one failure in 2 s is 0.5/s.
        let e = errors_over_time(&samples, &[], 200_000.0);
        assert_eq!((e.bucket_s, e.buckets()), (2.0, 100));
        assert_eq!(e.classes[0].1[0], 0.5);
        let ok = vec![ended(900.0, None)];
        assert!(errors_over_time(&ok, &[], 0.0).classes.is_empty());
        let none = errors_over_time(&[] as &[Sample], &[], 0.0);
        assert_eq!((none.buckets(), none.tallest()), (0, 0.0));
    }

    #[test]
    fn past_the_sample_ceiling_it_says_how_many_failures_it_cannot_draw() {
        // 5 http failures against a ceiling of 3 kept samples: the stage's summary counts all
        // 5, the chart places the 3 kept ones and leaves out 2.
        let mut agg = Aggregator::new(vec![spec()]).with_ceiling(3);
        for i in 0..5 {
            agg.push(ended(100.0 * f64::from(i + 1), Some(ErrorClass::Http)));
        }
        let stats = agg.stats();
        assert_eq!(stats[0].errors[0].count, 5);
        let e = errors_over_time(agg.samples(), &stats, 0.0);
        // Kept ends 100, 200, 300 ms: span 0.3 s, 3 buckets of 100 ms (the first end, 100 ms,
        // is the start of bucket 1).
        assert_eq!(e.buckets(), 3);
        assert_eq!(e.classes[0].1, vec![0.0, 10.0, 20.0]);
        assert_eq!(e.count(ErrorClass::Http), 3);
        assert_eq!(e.not_drawn, 2);
    }
}
