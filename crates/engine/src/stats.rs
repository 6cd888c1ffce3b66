//! Per-stage statistics exactly as DESIGN §3 defines them.
//!
//! Percentiles are nearest-rank on the exact sorted samples; stddev is the sample standard
//! deviation (n − 1 in the denominator, 0 for a single value).

use serde::{Deserialize, Serialize};

use std::borrow::Borrow;

use crate::model::{ErrorClass, Protocol, Sample, TargetInfo, TokenSource, HTTP1_CONNECTIONS};
use crate::store::SampleStore;
use crate::suite::StageSpec;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    pub count: u64,
    pub mean: f64,
    pub stddev: f64,
    pub min: f64,
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

/// Nearest rank: the index (0-based, in sorted order) of the smallest value with at least p %
/// of `n` samples at or below it.
fn nearest_rank(n: usize, p: f64) -> usize {
    let rank = ((p / 100.0) * n as f64).ceil() as usize;
    rank.clamp(1, n) - 1
}

impl Distribution {
    /// `None` for no values. Reorders `values` in place: the percentiles are found by selection
    /// (`select_nth_unstable`, linear time) from the median up, each within the part above
    /// the one before, which gives the same nearest-rank values as a full sort in a fraction of
    /// its time (1,000,000 samples: the statistics benchmark).
    pub fn of(values: &mut [f64]) -> Option<Distribution> {
        if values.is_empty() {
            return None;
        }
        let n = values.len();
        let (mut min, mut max, mut sum) = (values[0], values[0], 0.0);
        for &v in values.iter() {
            if v.total_cmp(&min).is_lt() {
                min = v;
            }
            if v.total_cmp(&max).is_gt() {
                max = v;
            }
            sum += v;
        }
        let mean = sum / n as f64;
        let var = if n > 1 {
            values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n as f64 - 1.0)
        } else {
            0.0
        };
        // `values[from..]` holds only values at or above the last one found (its rank is
        // `from - 1`): each selection runs over what lies above the one before, about
        // 1.65 n comparisons for the four instead of 3.8 n from the top down.
        let mut from = 0;
        let mut last = min;
        let mut at = |p: f64| {
            let rank = nearest_rank(n, p);
            if rank >= from {
                let part = &mut values[from..];
                let (_, v, _) = part.select_nth_unstable_by(rank - from, f64::total_cmp);
                last = *v;
                from = rank + 1;
            }
            last
        };
        let p50 = at(50.0);
        let p90 = at(90.0);
        let p95 = at(95.0);
        let p99 = at(99.0);
        Some(Distribution {
            count: n as u64,
            mean,
            stddev: var.sqrt(),
            min,
            p50,
            p90,
            p95,
            p99,
            max,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorSummary {
    pub class: ErrorClass,
    pub count: u64,
    /// One message as an example of this class.
    pub example: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TokenSourceCount {
    pub source: TokenSource,
    pub count: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageStats {
    pub stage: u32,
    pub name: String,
    pub requested_concurrency: u32,
    /// 0 for a stage by time.
    pub planned_requests: u32,
    /// A stage by time: its duration, s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned_duration_s: Option<u32>,
    /// A ramped stage: where its concurrency (closed) or rate (open) started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ramp_from: Option<f64>,
    /// Requests that ended in success or a failure other than `aborted`.
    pub completed: u64,
    pub successful: u64,
    pub failed: u64,
    /// Requests cut short by Stop or Skip; not counted as completed.
    pub aborted: u64,
    /// successful / completed; `None` before anything completed.
    pub success_rate: Option<f64>,
    pub errors: Vec<ErrorSummary>,
    /// First request start → last request end, ms.
    pub wall_ms: f64,
    /// completed / wall time.
    pub requests_per_s: Option<f64>,
    /// successful / wall time.
    pub successful_per_s: Option<f64>,
    /// Σ output tokens of successful requests / wall time.
    pub output_tokens_per_s: Option<f64>,
    pub output_tokens: u64,
    pub token_sources: Vec<TokenSourceCount>,
    /// Σ latency of every request / wall time (Little's law).
    pub achieved_concurrency: Option<f64>,
    /// Σ prompt tokens the server reported for successful requests.
    #[serde(default)]
    pub prompt_tokens: u64,
    /// Distributions over successful requests.
    pub latency_ms: Option<Distribution>,
    pub ttfb_ms: Option<Distribution>,
    /// Streams: first content-bearing event − start.
    #[serde(default)]
    pub ttft_ms: Option<Distribution>,
    /// Streams, ≥ 2 tokens: (latency − ttft) / (output tokens − 1).
    #[serde(default)]
    pub tpot_ms: Option<Distribution>,
    /// Streams: gaps between consecutive content-bearing events, pooled over requests.
    #[serde(default)]
    pub inter_chunk_ms: Option<Distribution>,
    pub server_tokens_per_s: Option<Distribution>,
    /// The server's own total time per request, where it reports one (Ollama).
    #[serde(default)]
    pub server_total_ms: Option<Distribution>,
    /// Warm-up requests run before the stage (not in any figure above).
    #[serde(default)]
    pub warmups: u64,
    /// Time requests waited in the browser before being sent (resource timing; needs the
    /// server's `Timing-Allow-Origin`). Over successful requests.
    #[serde(default)]
    pub browser_queue_ms: Option<Distribution>,
    /// Requests in flight beyond the browser (after their browser queue) while work remained:
    /// Σ over requests of that time within [first start, last start] ÷ that span. What the
    /// server saw, without the ramp-down after the last start. `None` without queue times or
    /// when every request started at once.
    #[serde(default)]
    pub sent_concurrency: Option<f64>,
    /// Why `sent_concurrency` is unknown (no resource timing), so no reader takes the achieved
    /// figure, which includes browser queueing, for what the server saw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_concurrency_unknown: Option<String>,
    /// Requests in flight (browser queue included) between the first and last start ÷ that
    /// span: the steady part of a closed stage, without its drain. Judges a stage when
    /// `sent_concurrency` is unknown, where Σ latency ÷ wall time would count the drain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub busy_concurrency: Option<f64>,
    /// Too few requests (fewer than `MIN_JUDGED_REQUESTS`, or `MIN_JUDGED_ROUNDS` per slot)
    /// to call a measured shortfall; a certain browser cap is still flagged.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub too_short_to_judge: bool,
    /// Past the sample ceiling: which figures are approximate or missing, and why. Empty when
    /// every figure is exact.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approximate: Vec<String>,
    /// The most requests in flight at once per origin (endpoint, then each host alias).
    #[serde(default)]
    pub max_in_flight: Vec<u32>,
    /// Open-loop stages: the requested arrival rate.
    #[serde(default)]
    pub requested_rate_per_s: Option<f64>,
    /// Open-loop stages: (started − 1) / (last start − first start).
    #[serde(default)]
    pub achieved_rate_per_s: Option<f64>,
    /// Open-loop stages: actual start − intended start.
    #[serde(default)]
    pub schedule_lag_ms: Option<Distribution>,
    /// Open-loop stages: end − intended start (corrected for coordinated omission).
    #[serde(default)]
    pub latency_from_intended_ms: Option<Distribution>,
    /// Open-loop stages: requests that started more than `LATE_MS` after their intended start.
    #[serde(default)]
    pub late: u64,
    /// Open-loop stages: arrivals not started because the in-flight cap was reached.
    #[serde(default)]
    pub dropped: u64,
    /// Why the stage did not reach what it asked for, and what to do; `None` when it did.
    #[serde(default)]
    pub shortfall: Option<String>,
}

/// A scheduled request that starts later than this is counted late.
pub const LATE_MS: f64 = 5.0;
/// Below this share of the requested concurrency or rate, a stage is flagged.
pub const SHORTFALL: f64 = 0.9;
/// A measured shortfall is called only over at least this many completed requests…
pub const MIN_JUDGED_REQUESTS: u64 = 20;
/// …and at least this many requests per concurrent slot: a shorter stage is mostly ramp-up.
pub const MIN_JUDGED_ROUNDS: u64 = 4;

/// Statistics of one stage from its samples (all of which must belong to it), in one pass,
/// exact: every value kept and sorted.
pub fn stage_stats<S: Borrow<Sample>>(
    index: u32,
    spec: &StageSpec,
    samples: impl IntoIterator<Item = S>,
) -> StageStats {
    let mut acc = StageAcc::<Exact>::default();
    for s in samples {
        acc.push(s.borrow());
    }
    acc.finish(index, spec)
}

/// How a stage keeps the values of one distribution.
pub(crate) trait Values: Default + Clone + std::fmt::Debug {
    fn push(&mut self, v: f64);
    fn extend(&mut self, vs: impl IntoIterator<Item = f64>) {
        for v in vs {
            self.push(v);
        }
    }
    fn distribution(&mut self) -> Option<Distribution>;
    /// Whether the figures are exact (else some are left out or approximate).
    const EXACT: bool;
}

/// Every value: exact nearest-rank percentiles (DESIGN §3).
#[derive(Clone, Debug, Default)]
pub(crate) struct Exact(Vec<f64>);

impl Values for Exact {
    fn push(&mut self, v: f64) {
        self.0.push(v);
    }
    fn distribution(&mut self) -> Option<Distribution> {
        Distribution::of(&mut self.0)
    }
    const EXACT: bool = true;
}

/// An HDR histogram in µs (3 significant digits: percentiles within 0.1 %), with exact count,
/// mean, stddev, min and max. Bounded memory, whatever the number of values.
#[derive(Clone, Debug)]
pub(crate) struct Approx {
    hist: Option<hdrhistogram::Histogram<u64>>,
    n: u64,
    sum: f64,
    sum_sq: f64,
    min: f64,
    max: f64,
}

impl Default for Approx {
    fn default() -> Approx {
        Approx {
            hist: hdrhistogram::Histogram::new(3).ok(),
            n: 0,
            sum: 0.0,
            sum_sq: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }
}

impl Values for Approx {
    fn push(&mut self, v: f64) {
        if !v.is_finite() {
            return;
        }
        self.n += 1;
        self.sum += v;
        self.sum_sq += v * v;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        if let Some(h) = &mut self.hist {
            // Negative values (clock skew) count as 0 in the percentiles; min keeps the truth.
            let _ = h.record((v.max(0.0) * 1000.0).round() as u64);
        }
    }
    fn distribution(&mut self) -> Option<Distribution> {
        if self.n == 0 {
            return None;
        }
        let n = self.n as f64;
        let mean = self.sum / n;
        let var = if self.n > 1 {
            ((self.sum_sq - n * mean * mean) / (n - 1.0)).max(0.0)
        } else {
            0.0
        };
        let q = |p: f64| {
            self.hist
                .as_ref()
                .map_or(mean, |h| h.value_at_quantile(p) as f64 / 1000.0)
                .clamp(self.min, self.max)
        };
        Some(Distribution {
            count: self.n,
            mean,
            stddev: var.sqrt(),
            min: self.min,
            p50: q(0.50),
            p90: q(0.90),
            p95: q(0.95),
            p99: q(0.99),
            max: self.max,
        })
    }
    const EXACT: bool = false;
}

/// A stage's figures accumulated one sample at a time.
#[derive(Clone, Debug, Default)]
pub(crate) struct StageAcc<V: Values> {
    successful: u64,
    aborted: u64,
    errors: Vec<ErrorSummary>,
    latency: V,
    ttfb: V,
    server_tps: V,
    ttft: V,
    tpot: V,
    gaps: V,
    server_total: V,
    queue: V,
    lag: V,
    from_intended: V,
    /// Exact only: open-loop start times, for the achieved rate.
    starts: Vec<f64>,
    intended_count: u64,
    first_intended_start: f64,
    last_intended_start: f64,
    late: u64,
    warmups: u64,
    measured: u64,
    queue_known: u64,
    prompt_tokens: u64,
    output_tokens: u64,
    sources: Vec<TokenSourceCount>,
    first_start: Option<f64>,
    last_end: f64,
    busy_ms: f64,
    /// Exact only: (start, queue, end) of each measured request, for the in-flight figures.
    spans: Vec<Span>,
}

impl<V: Values> StageAcc<V> {
    pub(crate) fn push(&mut self, s: &Sample) {
        if s.warmup {
            self.warmups += 1;
            return;
        }
        self.measured += 1;
        if V::EXACT {
            self.spans.push(Span {
                start: s.start_ms,
                queue: s.queue_ms,
                end: s.end_ms,
            });
        }
        self.queue_known += u64::from(s.queue_ms.is_some());
        if let Some(intended) = s.intended_ms {
            let l = s.start_ms - intended;
            self.lag.push(l);
            if V::EXACT {
                self.starts.push(s.start_ms);
            }
            if self.intended_count == 0 {
                self.first_intended_start = s.start_ms;
                self.last_intended_start = s.start_ms;
            }
            self.intended_count += 1;
            self.first_intended_start = self.first_intended_start.min(s.start_ms);
            self.last_intended_start = self.last_intended_start.max(s.start_ms);
            if l > LATE_MS {
                self.late += 1;
            }
        }
        self.first_start = Some(self.first_start.map_or(s.start_ms, |f| f.min(s.start_ms)));
        self.last_end = if self.measured == 1 {
            s.end_ms
        } else {
            self.last_end.max(s.end_ms)
        };
        self.busy_ms += s.latency_ms();
        match s.error_class {
            None => {
                self.successful += 1;
                self.latency.push(s.latency_ms());
                self.ttfb.extend(s.ttfb_ms());
                self.server_tps.extend(s.server_tokens_per_s);
                self.ttft.extend(s.ttft_ms());
                self.tpot.extend(s.tpot_ms());
                self.gaps.extend(s.gaps_ms());
                self.server_total
                    .extend(s.server_durations.as_ref().and_then(|d| d.total_ms));
                self.queue.extend(s.queue_ms);
                self.from_intended
                    .extend(s.intended_ms.map(|i| s.end_ms - i));
                self.prompt_tokens += s.prompt_tokens.unwrap_or(0);
                self.output_tokens += s.output_tokens.unwrap_or(0);
                if let Some(src) = s.token_source {
                    match self.sources.iter_mut().find(|c| c.source == src) {
                        Some(c) => c.count += 1,
                        None => self.sources.push(TokenSourceCount {
                            source: src,
                            count: 1,
                        }),
                    }
                }
            }
            Some(class) => {
                if class == ErrorClass::Aborted {
                    self.aborted += 1;
                }
                match self.errors.iter_mut().find(|e| e.class == class) {
                    Some(e) => e.count += 1,
                    None => self.errors.push(ErrorSummary {
                        class,
                        count: 1,
                        example: s.error_message.clone().unwrap_or_default(),
                    }),
                }
            }
        }
    }

    pub(crate) fn finish(mut self, index: u32, spec: &StageSpec) -> StageStats {
        self.errors.sort_by_key(|e| e.class);
        self.sources.sort_by_key(|c| c.source);
        let total = self.measured;
        let completed = total - self.aborted;
        let wall_ms = self.first_start.map_or(0.0, |f| self.last_end - f);
        let per_s = |x: f64| (wall_ms > 0.0).then(|| x / (wall_ms / 1000.0));
        let successful = self.successful;
        let achieved_rate_per_s = if V::EXACT {
            achieved_rate(&mut self.starts)
        } else {
            let span = self.last_intended_start - self.first_intended_start;
            (self.intended_count > 1 && span > 0.0)
                .then(|| (self.intended_count - 1) as f64 / (span / 1000.0))
        };
        // Resource timing misses the odd request; with 90 % covered, the rest count as unqueued.
        let queue_covered = self.queue_known * 10 >= total * 9 && self.queue_known > 0;
        StageStats {
            stage: index,
            name: spec.name.clone(),
            requested_concurrency: spec.concurrency,
            planned_requests: spec.requests,
            planned_duration_s: spec.duration_s,
            ramp_from: spec.ramp_from,
            completed,
            successful,
            failed: completed - successful,
            aborted: self.aborted,
            success_rate: (completed > 0).then(|| successful as f64 / completed as f64),
            errors: std::mem::take(&mut self.errors),
            wall_ms,
            requests_per_s: per_s(completed as f64),
            successful_per_s: per_s(successful as f64),
            output_tokens_per_s: per_s(self.output_tokens as f64),
            output_tokens: self.output_tokens,
            token_sources: std::mem::take(&mut self.sources),
            achieved_concurrency: (wall_ms > 0.0).then(|| self.busy_ms / wall_ms),
            prompt_tokens: self.prompt_tokens,
            latency_ms: self.latency.distribution(),
            ttfb_ms: self.ttfb.distribution(),
            ttft_ms: self.ttft.distribution(),
            tpot_ms: self.tpot.distribution(),
            inter_chunk_ms: self.gaps.distribution(),
            server_tokens_per_s: self.server_tps.distribution(),
            server_total_ms: self.server_total.distribution(),
            warmups: self.warmups,
            browser_queue_ms: self.queue.distribution(),
            sent_concurrency: queue_covered
                .then(|| in_flight_while_busy(&self.spans, true))
                .flatten(),
            max_in_flight: Vec::new(),
            requested_rate_per_s: spec.rate.as_ref().map(|r| r.per_s),
            achieved_rate_per_s,
            schedule_lag_ms: self.lag.distribution(),
            latency_from_intended_ms: self.from_intended.distribution(),
            late: self.late,
            dropped: 0,
            shortfall: None,
            sent_concurrency_unknown: None,
            busy_concurrency: in_flight_while_busy(&self.spans, false),
            too_short_to_judge: false,
            approximate: if V::EXACT {
                Vec::new()
            } else {
                APPROXIMATE.iter().map(|f| f.to_string()).collect()
            },
        }
    }
}

/// What a stage past the sample ceiling reports approximately (HDR histograms), or not at all.
pub const APPROXIMATE: [&str; 3] = [
    "percentiles of every distribution: HDR histogram, 3 significant digits (count, mean, \
     stddev, min and max stay exact)",
    "sent_concurrency and busy_concurrency: not computed (they need every request's times)",
    "samples: only the first ones are kept and exported",
];

/// When a measured request started, waited in the browser and ended.
#[derive(Clone, Copy, Debug)]
struct Span {
    start: f64,
    queue: Option<f64>,
    end: f64,
}

/// Requests in flight between the stage's first and last start ÷ that span: past the browser's
/// queue when `past_queue`, else from the moment fetch was called.
fn in_flight_while_busy(spans: &[Span], past_queue: bool) -> Option<f64> {
    let first = spans.iter().map(|s| s.start).fold(f64::INFINITY, f64::min);
    let last = spans
        .iter()
        .map(|s| s.start)
        .fold(f64::NEG_INFINITY, f64::max);
    let span = last - first;
    if span.is_nan() || span <= 0.0 {
        return None;
    }
    let busy: f64 = spans
        .iter()
        .map(|s| {
            let queued = if past_queue {
                s.queue.unwrap_or(0.0)
            } else {
                0.0
            };
            (s.end.min(last) - (s.start + queued).max(first)).max(0.0)
        })
        .sum();
    Some(busy / span)
}

fn achieved_rate(starts: &mut [f64]) -> Option<f64> {
    starts.sort_unstable_by(f64::total_cmp);
    let span = starts.last()? - starts.first()?;
    (span > 0.0).then(|| (starts.len() - 1) as f64 / (span / 1000.0))
}

/// What the browser lets through at once to a stage's targets, and how sure that is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BrowserCap {
    /// Every target speaks HTTP/1.x: at most this many requests are on the wire.
    Known(u32),
    /// Some https:// target's protocol is hidden (no `Timing-Allow-Origin`): if it is HTTP/1.1,
    /// at most this many; if HTTP/2, no cap.
    Maybe(u32),
    /// A target multiplexes (HTTP/2 or 3): no per-origin connection cap.
    None,
}

/// The browser's cap over `targets`. A browser speaks HTTP/1.1 to every `http://` origin
/// (HTTP/2 needs TLS), so those are capped whatever resource timing says.
pub fn browser_cap(targets: &[TargetInfo]) -> BrowserCap {
    if targets.is_empty() {
        return BrowserCap::Maybe(HTTP1_CONNECTIONS);
    }
    let mut sure = true;
    for t in targets {
        let plain_http = t
            .url
            .trim_start()
            .to_ascii_lowercase()
            .starts_with("http://");
        match &t.protocol {
            Some(p) if p.multiplexed() => return BrowserCap::None,
            Some(_) => {}
            None if plain_http => {}
            None => sure = false,
        }
    }
    let cap = HTTP1_CONNECTIONS.saturating_mul(targets.len() as u32);
    if sure {
        BrowserCap::Known(cap)
    } else {
        BrowserCap::Maybe(cap)
    }
}

/// Too few requests to call a measured shortfall (see [`MIN_JUDGED_REQUESTS`]).
pub fn too_short(st: &StageStats) -> bool {
    st.completed < MIN_JUDGED_REQUESTS
        || st.completed < MIN_JUDGED_ROUNDS * u64::from(st.requested_concurrency.max(1))
}

/// Why `sent_concurrency` is unknown, for the table and the report; `None` when it is known.
pub fn sent_unknown_reason(st: &StageStats) -> Option<String> {
    if st.sent_concurrency.is_some() || st.completed == 0 {
        return None;
    }
    Some(if st.browser_queue_ms.is_none() {
        "unknown: the server does not send Timing-Allow-Origin, so the browser hides how long \
         requests queued; achieved concurrency includes that queueing"
            .into()
    } else {
        "unknown: every request started at once, so there is no span to measure over".into()
    })
}

/// Why a stage fell short, with the remedy; `None` when it reached what it asked for.
pub fn shortfall(st: &StageStats, spec: &StageSpec, targets: &[TargetInfo]) -> Option<String> {
    shortfall_under(st, spec, targets, browser_cap(targets))
}

/// [`shortfall`] under a given cap: [`BrowserCap::None`] for a native client, which has no
/// per-origin connection limit.
pub fn shortfall_under(
    st: &StageStats,
    spec: &StageSpec,
    targets: &[TargetInfo],
    cap: BrowserCap,
) -> Option<String> {
    if let Some(rate) = &spec.rate {
        let achieved = st.achieved_rate_per_s.unwrap_or(0.0);
        let mut why = Vec::new();
        if st.dropped > 0 {
            why.push(format!(
                "{} arrivals were dropped at the cap of {} in flight: raise the cap or lower the rate",
                st.dropped, spec.concurrency
            ));
        }
        // A ramp asks for its mean rate over the stage.
        let asked = spec.mean_rate().unwrap_or(rate.per_s);
        if achieved < SHORTFALL * asked && st.completed > 1 {
            why.push(format!(
                "started {achieved:.1} requests/s of the {asked:.1} asked: the page could not keep \
                 the schedule (busy main thread or throttled timers in a hidden tab)"
            ));
        }
        return (!why.is_empty()).then(|| why.join("; "));
    }
    let c = spec.concurrency;
    let n = targets.len().max(1);
    // Nothing succeeded: the failure is the news, not the concurrency.
    if st.successful == 0 {
        return None;
    }
    let seen = st
        .sent_concurrency
        .or(st.busy_concurrency)
        .or(st.achieved_concurrency)?;
    // A ramp keeps its mean level in flight, (c0 + c1) / 2; the browser cap bites at its peak.
    let measured_short = !too_short(st) && seen < SHORTFALL * spec.mean_concurrency();
    let queue = st
        .browser_queue_ms
        .as_ref()
        .map(|q| format!(" (queue p50 {:.1} ms)", q.p50))
        .unwrap_or_default();
    let remedy = "Remedy: add host aliases (other names or addresses of the same server, e.g. \
                  127.0.0.2…) or put an HTTP/2 proxy (Caddy, nginx) in front of the server";
    let capped = |cap: u32| {
        format!(
            "asked for {c} in flight, but the browser allows {HTTP1_CONNECTIONS} HTTP/1.1 \
             connections per origin: {n} origin(s) carry at most {cap}; the rest waited in the \
             browser{queue}. {remedy}"
        )
    };
    match cap {
        // Certain, with or without resource timing: the browser never sends more.
        BrowserCap::Known(cap) if c > cap => Some(capped(cap)),
        BrowserCap::Maybe(cap) if c > cap && st.sent_concurrency.is_none() => Some(format!(
            "asked for {c} in flight over https:// with the protocol hidden (the server sends no \
             Timing-Allow-Origin): if it speaks HTTP/1.1, the browser allows {HTTP1_CONNECTIONS} \
             connections per origin, so {n} origin(s) carry at most {cap} and the rest wait \
             inside the latency. To tell, open DevTools → Network → Protocol, or let the server \
             send Timing-Allow-Origin. {remedy}"
        )),
        BrowserCap::Maybe(cap) if c > cap && measured_short => Some(capped(cap)),
        _ if measured_short => Some(format!(
            "asked for {c} in flight but about {seen:.1} were: the client spent time between \
             requests (a busy page) or the server was slow to accept connections"
        )),
        _ => None,
    }
}

fn spec_is_closed(spec: &StageSpec) -> bool {
    spec.rate.is_none()
}

/// Samples a run keeps: 56 bytes each in the compact store (about 112 MB). Past it, every stage
/// that goes on keeps an HDR summary instead, and says which figures became approximate.
pub const MAX_KEPT_SAMPLES: usize = 2_000_000;

/// Collects samples outside any reactive graph and computes statistics on demand.
#[derive(Clone, Debug, Default)]
pub struct Aggregator {
    stages: Vec<StageSpec>,
    samples: SampleStore,
    targets: Vec<TargetInfo>,
    /// Per stage, from the runner: most in flight per origin, and dropped arrivals.
    ends: Vec<Option<(Vec<u32>, u64)>>,
    /// Samples kept before stages switch to summaries ([`MAX_KEPT_SAMPLES`]; less in tests).
    ceiling: usize,
    /// Per stage, once it ran past the ceiling: its figures over every sample, approximately.
    summaries: Vec<Option<StageAcc<Approx>>>,
    /// Samples counted in a summary but not kept.
    not_kept: u64,
    /// Per stage, figures an imported report gave for a stage it could not keep every sample
    /// of: the samples alone would understate it.
    fixed: Vec<Option<StageStats>>,
    /// The samples come from a native client (the command line): no browser connection cap.
    native: bool,
}

/// The statistics benchmark's stage: `n` successful non-streamed samples with deterministic
/// pseudo-random latencies (xorshift; 50–1050 ms), so the native run (`cargo bench`) and the
/// page's wasm (`?bench=stats`) time exactly the same work.
pub fn benchmark_stage(n: u32) -> Aggregator {
    let spec = StageSpec {
        name: "bench".into(),
        concurrency: 100,
        requests: n,
        rate: None,
        duration_s: None,
        ramp_from: None,
    };
    let mut agg = Aggregator::new(vec![spec]);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..u64::from(n) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let latency = 50.0 + (x % 10_000) as f64 / 10.0;
        let start = i as f64 * 0.5;
        agg.push(Sample {
            stage: 0,
            index: i,
            start_ms: start,
            headers_ms: Some(start + latency / 3.0),
            end_ms: start + latency,
            status: Some(200),
            output_tokens: Some(50),
            token_source: Some(TokenSource::Usage),
            server_tokens_per_s: Some(100.0),
            ..Sample::default()
        });
    }
    agg
}

impl Aggregator {
    pub fn new(stages: Vec<StageSpec>) -> Aggregator {
        Aggregator::with_targets(stages, Vec::new())
    }

    pub fn with_targets(stages: Vec<StageSpec>, urls: Vec<String>) -> Aggregator {
        let n = stages.len();
        Aggregator {
            stages,
            samples: SampleStore::default(),
            targets: urls
                .into_iter()
                .map(|url| TargetInfo {
                    url,
                    protocol: None,
                })
                .collect(),
            ends: vec![None; n],
            ceiling: MAX_KEPT_SAMPLES,
            summaries: vec![None; n],
            not_kept: 0,
            fixed: vec![None; n],
            native: false,
        }
    }

    /// The same aggregator for a native client's samples: a stage is never flagged for the
    /// browser's 6-connections-per-origin cap, which a native client does not have.
    pub fn native_client(mut self) -> Aggregator {
        self.native = true;
        self
    }

    /// The same aggregator with a lower sample ceiling (tests and benchmarks).
    pub fn with_ceiling(mut self, ceiling: usize) -> Aggregator {
        self.ceiling = ceiling.min(MAX_KEPT_SAMPLES);
        self
    }

    /// Finished requests that are not warm-ups, per stage, kept or summarized (past the
    /// ceiling a stage's summary counts them all).
    pub fn measured_per_stage(&self) -> Vec<u64> {
        let mut out = self.samples.measured_per_stage(self.stages.len());
        for (n, summary) in out.iter_mut().zip(&self.summaries) {
            if let Some(acc) = summary {
                *n = acc.measured;
            }
        }
        out
    }

    /// Samples counted in the figures but not kept (past the ceiling).
    pub fn not_kept(&self) -> u64 {
        self.not_kept
    }

    /// Use `st` for stage `i` as given: an imported stage that ran past the ceiling.
    pub fn set_fixed(&mut self, i: usize, st: StageStats) {
        if let Some(f) = self.fixed.get_mut(i) {
            *f = Some(st);
        }
    }

    pub fn targets(&self) -> &[TargetInfo] {
        &self.targets
    }

    pub fn set_protocol(&mut self, target: usize, protocol: Protocol) {
        if let Some(t) = self.targets.get_mut(target) {
            t.protocol = Some(protocol);
        }
    }

    /// What the runner reported at the end of a stage.
    pub fn stage_ended(&mut self, stage: usize, max_in_flight: Vec<u32>, dropped: u64) {
        if let Some(e) = self.ends.get_mut(stage) {
            *e = Some((max_in_flight, dropped));
        }
    }

    pub fn push(&mut self, s: Sample) {
        let stage = s.stage as usize;
        if let Some(Some(acc)) = self.summaries.get_mut(stage) {
            acc.push(&s);
            self.not_kept += 1;
            return;
        }
        if self.samples.len() < self.ceiling {
            self.samples.push(&s);
            return;
        }
        // The first sample of this stage past the ceiling: its kept samples start the summary.
        let mut acc = StageAcc::<Approx>::default();
        for kept in self.samples.iter_stage(stage) {
            acc.push(&kept);
        }
        acc.push(&s);
        self.not_kept += 1;
        if let Some(slot) = self.summaries.get_mut(stage) {
            *slot = Some(acc);
        }
    }

    /// Whether the samples come from a native client (the command line).
    pub fn is_native(&self) -> bool {
        self.native
    }

    /// The kept samples of stage `i`, in arrival order.
    pub fn stage_samples(&self, i: usize) -> impl Iterator<Item = Sample> + Clone + '_ {
        self.samples.iter_stage(i)
    }

    /// Samples kept, in the order they arrived.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Sample `i` in arrival order.
    pub fn sample(&self, i: usize) -> Option<Sample> {
        self.samples.get(i)
    }

    /// Every sample, in arrival order (each made on the way: they are kept compact).
    pub fn samples(&self) -> impl Iterator<Item = Sample> + Clone + '_ {
        self.samples.iter()
    }

    /// Bytes the kept samples take.
    pub fn sample_bytes(&self) -> usize {
        self.samples.bytes()
    }

    pub fn stages(&self) -> &[StageSpec] {
        &self.stages
    }

    /// Statistics of stage `i`, if it has samples. Live views recompute only the running stage.
    pub fn stage(&self, i: usize) -> Option<StageStats> {
        let spec = self.stages.get(i)?;
        if let Some(Some(st)) = self.fixed.get(i) {
            return Some(st.clone());
        }
        let st = match self.summaries.get(i) {
            Some(Some(acc)) => acc.clone().finish(i as u32, spec),
            _ => stage_stats(i as u32, spec, self.samples.iter_stage(i)),
        };
        (st.completed + st.aborted + st.warmups > 0).then(|| self.finish(i, st))
    }

    /// Add what only the runner knows, then judge the stage.
    fn finish(&self, i: usize, mut st: StageStats) -> StageStats {
        if let Some(Some((max, dropped))) = self.ends.get(i) {
            st.max_in_flight = max.clone();
            st.dropped = *dropped;
        }
        let cap = if self.native {
            BrowserCap::None
        } else {
            browser_cap(&self.targets)
        };
        st.shortfall = shortfall_under(&st, &self.stages[i], &self.targets, cap);
        st.sent_concurrency_unknown = sent_unknown_reason(&st);
        st.too_short_to_judge =
            st.shortfall.is_none() && spec_is_closed(&self.stages[i]) && too_short(&st);
        st
    }

    /// Statistics for every stage that has at least one sample, in stage order.
    pub fn stats(&self) -> Vec<StageStats> {
        (0..self.stages.len())
            .filter_map(|i| self.stage(i))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> StageSpec {
        StageSpec {
            duration_s: None,
            ramp_from: None,
            name: "s".into(),
            concurrency: 2,
            requests: 4,
            rate: None,
        }
    }

    fn sample(start: f64, end: f64, class: Option<ErrorClass>) -> Sample {
        Sample {
            stage: 0,
            index: 0,
            start_ms: start,
            headers_ms: Some(start + 1.0),
            end_ms: end,
            status: Some(if class.is_none() { 200 } else { 500 }),
            error_class: class,
            error_message: class.map(|c| format!("{} failure", c.label())),
            output_tokens: class.is_none().then_some(10),
            token_source: class.is_none().then_some(TokenSource::Usage),
            server_tokens_per_s: None,
            ..Sample::default()
        }
    }

    #[test]
    fn distribution_nearest_rank_by_hand() {
        let mut v: Vec<f64> = (1..=10).rev().map(f64::from).collect();
        let d = Distribution::of(&mut v).unwrap();
        // n = 10: p50 → rank 5, p90 → rank 9, p95 → ceil(9.5) = 10, p99 → 10.
        assert_eq!(
            (d.min, d.p50, d.p90, d.p95, d.p99, d.max),
            (1.0, 5.0, 9.0, 10.0, 10.0, 10.0)
        );
        assert_eq!(d.mean, 5.5);
        // Sample variance of 1..10 = 82.5 / 9.
        assert!((d.stddev - (82.5f64 / 9.0).sqrt()).abs() < 1e-12);
        assert_eq!(d.count, 10);
    }

    #[test]
    fn distribution_edge_cases() {
        assert_eq!(Distribution::of(&mut []), None);
        let d = Distribution::of(&mut [7.0]).unwrap();
        assert_eq!((d.p50, d.p99, d.stddev, d.mean), (7.0, 7.0, 0.0, 7.0));
        // 100 values 1..=100: p99 → rank 99, p50 → rank 50.
        let mut v: Vec<f64> = (1..=100).map(f64::from).collect();
        let d = Distribution::of(&mut v).unwrap();
        assert_eq!((d.p50, d.p90, d.p95, d.p99), (50.0, 90.0, 95.0, 99.0));
        // Two values: p50 → rank 1 (nearest rank never averages).
        let d = Distribution::of(&mut [4.0, 2.0]).unwrap();
        assert_eq!(d.p50, 2.0);
    }

    #[test]
    fn selected_percentiles_equal_the_sorted_nearest_ranks() {
        // Pseudo-random values with repeats, every length 1..=300: selection must give exactly
        // what indexing the fully sorted values at the nearest ranks gives.
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for n in 1..=300usize {
            let mut v: Vec<f64> = (0..n)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x % 97) as f64 / 4.0
                })
                .collect();
            let mut sorted = v.clone();
            sorted.sort_unstable_by(f64::total_cmp);
            let at = |p: f64| sorted[((p / 100.0 * n as f64).ceil() as usize).clamp(1, n) - 1];
            let d = Distribution::of(&mut v).unwrap();
            assert_eq!(
                (d.min, d.p50, d.p90, d.p95, d.p99, d.max),
                (
                    sorted[0],
                    at(50.0),
                    at(90.0),
                    at(95.0),
                    at(99.0),
                    sorted[n - 1]
                ),
                "n = {n}"
            );
        }
    }

    #[test]
    fn stage_figures_by_hand() {
        // Two slots over 0..1000 ms: latencies 400, 600, 500, 500 → busy 2000 ms, wall 1000 ms.
        let s = [
            sample(0.0, 400.0, None),
            sample(0.0, 600.0, None),
            sample(400.0, 900.0, Some(ErrorClass::Http)),
            sample(600.0, 1000.0, None),
        ];
        let refs: Vec<&Sample> = s.iter().collect();
        let st = stage_stats(0, &spec(), refs.iter().copied());
        assert_eq!(st.wall_ms, 1000.0);
        assert_eq!(
            (st.completed, st.successful, st.failed, st.aborted),
            (4, 3, 1, 0)
        );
        assert_eq!(st.success_rate, Some(0.75));
        assert_eq!(st.requests_per_s, Some(4.0));
        assert_eq!(st.successful_per_s, Some(3.0));
        assert_eq!(st.output_tokens_per_s, Some(30.0));
        assert_eq!(st.achieved_concurrency, Some(1.9));
        let lat = st.latency_ms.unwrap();
        assert_eq!(
            (lat.count, lat.min, lat.p50, lat.max),
            (3, 400.0, 400.0, 600.0)
        );
        assert_eq!(st.ttfb_ms.unwrap().p50, 1.0);
        assert_eq!(
            st.errors,
            vec![ErrorSummary {
                class: ErrorClass::Http,
                count: 1,
                example: "http failure".into()
            }]
        );
        assert_eq!(
            st.token_sources,
            vec![TokenSourceCount {
                source: TokenSource::Usage,
                count: 3
            }]
        );
        assert_eq!(st.server_tokens_per_s, None);
    }

    #[test]
    fn streaming_distributions_by_hand() {
        // Two streamed requests: ttft 100 and 200; 3 tokens each; events 50 ms / 100 ms apart.
        let mk = |start: f64, ttft: f64, gap: f64| Sample {
            first_token_ms: Some(start + ttft),
            content_ms: vec![start + ttft, start + ttft + gap, start + ttft + 2.0 * gap],
            end_ms: start + ttft + 2.0 * gap,
            prompt_tokens: Some(4),
            ..sample(start, 0.0, None)
        };
        let (a, b) = (mk(0.0, 100.0, 50.0), mk(10.0, 200.0, 100.0));
        let st = stage_stats(0, &spec(), [&a, &b]);
        let ttft = st.ttft_ms.unwrap();
        assert_eq!((ttft.min, ttft.max, ttft.mean), (100.0, 200.0, 150.0));
        // 10 tokens each (from `sample`): tpot = (latency − ttft) / 9.
        let tpot = st.tpot_ms.unwrap();
        assert_eq!((tpot.min, tpot.max), (100.0 / 9.0, 200.0 / 9.0));
        let gaps = st.inter_chunk_ms.unwrap();
        assert_eq!(
            (gaps.count, gaps.min, gaps.p50, gaps.max),
            (4, 50.0, 50.0, 100.0)
        );
        assert_eq!(st.prompt_tokens, 8);
        assert_eq!(st.server_total_ms, None);
        // Non-streamed samples have none of these.
        let plain = sample(0.0, 10.0, None);
        let st = stage_stats(0, &spec(), [&plain]);
        assert_eq!(
            (st.ttft_ms, st.tpot_ms, st.inter_chunk_ms),
            (None, None, None)
        );
    }

    #[test]
    fn warmups_are_counted_apart_and_queue_time_gives_sent_concurrency() {
        // c=10 over HTTP/1.1 at 100 ms: six go at once, four wait 100 ms in the browser, and
        // two more start at 100 ms when the first six end.
        let mut v: Vec<Sample> = (0..6)
            .map(|_| Sample {
                queue_ms: Some(0.0),
                ..sample(0.0, 100.0, None)
            })
            .collect();
        v.extend((0..4).map(|_| Sample {
            queue_ms: Some(100.0),
            ..sample(0.0, 200.0, None)
        }));
        v.extend((0..2).map(|_| Sample {
            queue_ms: Some(0.0),
            ..sample(100.0, 200.0, None)
        }));
        v.push(Sample {
            warmup: true,
            ..sample(0.0, 5000.0, None)
        });
        let refs: Vec<&Sample> = v.iter().collect();
        let spec = StageSpec {
            duration_s: None,
            ramp_from: None,
            concurrency: 10,
            ..spec()
        };
        let st = stage_stats(0, &spec, refs.iter().copied());
        assert_eq!((st.warmups, st.completed, st.wall_ms), (1, 12, 200.0));
        // Σ latency = 6×100 + 4×200 + 2×100 = 1600 over 200 ms → 8.0 (the queue hides inside).
        assert_eq!(st.achieved_concurrency, Some(8.0));
        // Within [0, 100] (first to last start) only the first six were past the browser.
        assert_eq!(st.sent_concurrency, Some(6.0));
        assert_eq!(st.browser_queue_ms.as_ref().unwrap().max, 100.0);
        let http1 = [TargetInfo {
            url: "u".into(),
            protocol: Some(Protocol::Http1),
        }];
        let why = shortfall(&st, &spec, &http1).unwrap();
        assert!(
            why.contains("6 HTTP/1.1 connections") && why.contains("host aliases"),
            "{why}"
        );
        // Two origins carry 12: not capped, and 12 requests are too few to call a measured
        // shortfall (fewer than 20, and under 4 per slot).
        let two = [http1[0].clone(), http1[0].clone()];
        assert!(too_short(&st));
        assert_eq!(shortfall(&st, &spec, &two), None);
        // HTTP/2, ten in flight until the last start, then the drain: nothing to say.
        let full: Vec<Sample> = (0..20)
            .map(|i| {
                let start = if i < 10 { 0.0 } else { 100.0 };
                Sample {
                    queue_ms: Some(0.0),
                    ..sample(start, start + 100.0, None)
                }
            })
            .collect();
        let refs: Vec<&Sample> = full.iter().collect();
        let st = stage_stats(0, &spec, refs.iter().copied());
        assert_eq!(
            st.sent_concurrency,
            Some(10.0),
            "the ramp-down after the last start does not count"
        );
        let h2 = [TargetInfo {
            url: "u".into(),
            protocol: Some(Protocol::Http2),
        }];
        assert_eq!(shortfall(&st, &spec, &h2), None);
        // HTTP/1.1 without queue times: Σ latency looks full, the cap still flags it.
        let blind: Vec<Sample> = (0..20)
            .map(|i| {
                sample(
                    f64::from(i / 10) * 100.0,
                    f64::from(i / 10) * 100.0 + 100.0,
                    None,
                )
            })
            .collect();
        let refs: Vec<&Sample> = blind.iter().collect();
        let st = stage_stats(0, &spec, refs.iter().copied());
        assert_eq!(st.sent_concurrency, None);
        assert!(shortfall(&st, &spec, &http1).is_some());
    }

    #[test]
    fn a_long_enough_stage_is_judged_on_what_was_in_flight() {
        // c = 4, 40 requests of 100 ms: three slots run back to back (12 each, starts 0…1100),
        // the fourth only at 0, 300, 600, 900. Within [0, 1100]: 3 × 1100 + 4 × 100 = 3700
        // ms in flight ÷ 1100 = 3.36 < 0.9 × 4.
        let mut v: Vec<Sample> = (0..3)
            .flat_map(|_| (0..12).map(|k| f64::from(k) * 100.0))
            .map(|t| Sample {
                queue_ms: Some(0.0),
                ..sample(t, t + 100.0, None)
            })
            .collect();
        v.extend((0..4).map(|k| Sample {
            queue_ms: Some(0.0),
            ..sample(f64::from(k) * 300.0, f64::from(k) * 300.0 + 100.0, None)
        }));
        let refs: Vec<&Sample> = v.iter().collect();
        let spec = StageSpec {
            duration_s: None,
            ramp_from: None,
            concurrency: 4,
            requests: 40,
            ..spec()
        };
        let st = stage_stats(0, &spec, refs.iter().copied());
        assert!(!too_short(&st));
        let sent = st.sent_concurrency.unwrap();
        assert!((sent - 3700.0 / 1100.0).abs() < 1e-9, "{sent}");
        let h2 = [TargetInfo {
            url: "https://h".into(),
            protocol: Some(Protocol::Http2),
        }];
        assert!(shortfall(&st, &spec, &h2).unwrap().contains("about 3.4"));
        // Everything failed: no concurrency flag at all, the failure is the news.
        let failed: Vec<Sample> = v
            .iter()
            .map(|s| Sample {
                error_class: Some(ErrorClass::Network),
                ..s.clone()
            })
            .collect();
        let refs: Vec<&Sample> = failed.iter().collect();
        assert_eq!(
            shortfall(&stage_stats(0, &spec, refs.iter().copied()), &spec, &h2),
            None
        );
    }

    #[test]
    fn http_targets_are_capped_without_resource_timing() {
        // A plain HTTP/1.1 server with no Timing-Allow-Origin, c = 10, 100 ms each: the browser
        // sends 6, queues 4 inside the latency. Starts at 0 (×10) and 100 (×10), ends 100 later:
        // Σ latency 20 × 100 = 2000 over 200 ms → "achieved" 10.0, which hides the queue.
        let blind: Vec<Sample> = (0..20)
            .map(|i| {
                let start = f64::from(i / 10) * 100.0;
                sample(start, start + 100.0, None)
            })
            .collect();
        let refs: Vec<&Sample> = blind.iter().collect();
        let spec = StageSpec {
            duration_s: None,
            ramp_from: None,
            concurrency: 10,
            ..spec()
        };
        let mut st = stage_stats(0, &spec, refs.iter().copied());
        assert_eq!(st.achieved_concurrency, Some(10.0));
        assert_eq!(st.sent_concurrency, None);
        let target = |url: &str| TargetInfo {
            url: url.into(),
            protocol: None,
        };
        let http = [target("http://10.0.0.1:8000/generate")];
        assert_eq!(browser_cap(&http), BrowserCap::Known(6));
        let why = shortfall(&st, &spec, &http).unwrap();
        assert!(
            why.contains("allows 6 HTTP/1.1 connections per origin"),
            "{why}"
        );
        // Two http:// aliases carry 12 ≥ 10: nothing to flag when the measure looks full.
        let two = [http[0].clone(), target("http://10.0.0.2:8000/generate")];
        assert_eq!(shortfall(&st, &spec, &two), None);
        // https:// with the protocol hidden: it may be capped, and the message says how to tell.
        let https = [target("https://example.test/v1/chat/completions")];
        assert_eq!(browser_cap(&https), BrowserCap::Maybe(6));
        let why = shortfall(&st, &spec, &https).unwrap();
        assert!(
            why.contains("if it speaks HTTP/1.1") && why.contains("DevTools"),
            "{why}"
        );
        // At or under the cap nothing is flagged: the c = 5 stage of the same server.
        st.requested_concurrency = 5;
        let five = StageSpec {
            duration_s: None,
            ramp_from: None,
            concurrency: 5,
            ..spec.clone()
        };
        assert_eq!(shortfall(&st, &five, &http), None);
        // The reason for the unknown sent figure names the missing header.
        assert!(sent_unknown_reason(&st)
            .unwrap()
            .contains("does not send Timing-Allow-Origin"));
        // A multiplexed target lifts the cap.
        let h2 = [TargetInfo {
            url: "https://example.test".into(),
            protocol: Some(Protocol::Http2),
        }];
        assert_eq!(browser_cap(&h2), BrowserCap::None);
    }

    #[test]
    fn open_loop_figures_by_hand() {
        // Intended every 100 ms; the third started 20 ms late.
        let v: Vec<Sample> = (0..5)
            .map(|i| {
                let intended = f64::from(i) * 100.0;
                let start = intended + if i == 2 { 20.0 } else { 1.0 };
                Sample {
                    intended_ms: Some(intended),
                    ..sample(start, start + 50.0, None)
                }
            })
            .collect();
        let refs: Vec<&Sample> = v.iter().collect();
        let spec = StageSpec {
            duration_s: None,
            ramp_from: None,
            rate: Some(crate::suite::RateSpec {
                per_s: 10.0,
                poisson: false,
                seed: 0,
            }),
            ..spec()
        };
        let st = stage_stats(0, &spec, refs.iter().copied());
        assert_eq!(st.requested_rate_per_s, Some(10.0));
        // Starts 1, 101, 220, 301, 401: 4 gaps over 400 ms.
        assert_eq!(st.achieved_rate_per_s, Some(10.0));
        assert_eq!(st.late, 1);
        let lag = st.schedule_lag_ms.as_ref().unwrap();
        assert_eq!((lag.p50, lag.max), (1.0, 20.0));
        assert_eq!(st.latency_from_intended_ms.as_ref().unwrap().max, 70.0);
        assert_eq!(shortfall(&st, &spec, &[]), None);
        let mut agg = Aggregator::with_targets(vec![spec.clone()], vec!["u".into()]);
        for x in v {
            agg.push(x);
        }
        agg.stage_ended(0, vec![1], 3);
        let st = &agg.stats()[0];
        assert_eq!((st.dropped, st.max_in_flight.clone()), (3, vec![1]));
        assert!(st
            .shortfall
            .as_deref()
            .unwrap()
            .contains("3 arrivals were dropped"));
    }

    #[test]
    fn all_failed_and_aborted() {
        let s = [
            sample(0.0, 10.0, Some(ErrorClass::Network)),
            sample(0.0, 20.0, Some(ErrorClass::Network)),
            sample(5.0, 30.0, Some(ErrorClass::Aborted)),
        ];
        let refs: Vec<&Sample> = s.iter().collect();
        let st = stage_stats(0, &spec(), refs.iter().copied());
        assert_eq!(
            (st.completed, st.successful, st.failed, st.aborted),
            (2, 0, 2, 1)
        );
        assert_eq!(st.success_rate, Some(0.0));
        assert_eq!(st.latency_ms, None);
        assert_eq!(st.output_tokens_per_s, Some(0.0));
        assert_eq!(st.errors.len(), 2);
        assert_eq!(st.errors[0].class, ErrorClass::Network);
        assert_eq!(st.errors[0].count, 2);
    }

    #[test]
    fn empty_and_single() {
        let st = stage_stats(0, &spec(), [] as [&Sample; 0]);
        assert_eq!(
            (st.completed, st.wall_ms, st.requests_per_s, st.success_rate),
            (0, 0.0, None, None)
        );
        let one = sample(100.0, 350.0, None);
        let st = stage_stats(0, &spec(), [&one]);
        assert_eq!(st.requests_per_s, Some(4.0));
        assert_eq!(st.achieved_concurrency, Some(1.0));
        assert_eq!(st.latency_ms.unwrap().stddev, 0.0);
    }

    #[test]
    fn aggregator_groups_by_stage() {
        let mut a = Aggregator::new(vec![spec(), spec(), spec()]);
        a.push(sample(0.0, 10.0, None));
        let mut s = sample(10.0, 30.0, None);
        s.stage = 2;
        a.push(s);
        let st = a.stats();
        assert_eq!(st.iter().map(|x| x.stage).collect::<Vec<_>>(), vec![0, 2]);
        assert_eq!(a.stage(2).as_ref(), Some(&st[1]));
        assert_eq!(a.stage(1), None);
        assert_eq!(a.stage(9), None);
    }

    #[test]
    fn past_the_ceiling_a_stage_is_summarized_and_says_so() {
        // 1,000 requests of 1…1000 ms against a ceiling of 100 kept samples: counts, mean, min
        // and max stay exact; p50 of 1…1000 by nearest rank is 500, the histogram's within 0.1 %.
        let spec = StageSpec {
            duration_s: None,
            ramp_from: None,
            concurrency: 4,
            requests: 1000,
            ..spec()
        };
        let mut agg = Aggregator::new(vec![spec.clone()]).with_ceiling(100);
        for i in 1..=1000u64 {
            agg.push(Sample {
                index: i,
                ..sample(i as f64, 2.0 * i as f64, None)
            });
        }
        assert_eq!((agg.len(), agg.not_kept()), (100, 900));
        let st = agg.stage(0).unwrap();
        assert_eq!((st.completed, st.successful), (1000, 1000));
        let lat = st.latency_ms.unwrap();
        assert_eq!((lat.count, lat.min, lat.max), (1000, 1.0, 1000.0));
        assert!((lat.mean - 500.5).abs() < 1e-9);
        assert!((lat.p50 - 500.0).abs() <= 0.5, "{}", lat.p50);
        assert!((lat.p99 - 990.0).abs() <= 1.0, "{}", lat.p99);
        assert!(!st.approximate.is_empty());
        assert_eq!(st.sent_concurrency, None);
        // Under the ceiling, the same stage is exact and says nothing.
        let mut exact = Aggregator::new(vec![spec]);
        for i in 1..=1000u64 {
            exact.push(sample(i as f64, 2.0 * i as f64, None));
        }
        let st = exact.stage(0).unwrap();
        assert!(st.approximate.is_empty());
        assert_eq!(st.latency_ms.unwrap().p50, 500.0);
    }

    #[test]
    fn a_native_client_is_never_flagged_for_the_browser_cap() {
        // 20 in flight over http:// with no queue: a browser could not, a native client did.
        let spec = StageSpec {
            duration_s: None,
            ramp_from: None,
            concurrency: 20,
            requests: 100,
            ..spec()
        };
        let urls = vec!["http://127.0.0.1:8000/generate".to_string()];
        let fill = |agg: &mut Aggregator| {
            for i in 0..100u32 {
                let start = f64::from(i / 20) * 100.0;
                agg.push(Sample {
                    queue_ms: Some(0.0),
                    ..sample(start, start + 100.0, None)
                });
            }
        };
        let mut browser = Aggregator::with_targets(vec![spec.clone()], urls.clone());
        fill(&mut browser);
        assert!(browser.stage(0).unwrap().shortfall.is_some());
        let mut native = Aggregator::with_targets(vec![spec], urls).native_client();
        fill(&mut native);
        let st = native.stage(0).unwrap();
        assert_eq!(st.shortfall, None, "{:?}", st.shortfall);
        assert_eq!(st.sent_concurrency, Some(20.0));
    }

    #[test]
    fn progress_counts_include_what_the_ceiling_summarized() {
        let spec = StageSpec {
            duration_s: None,
            ramp_from: None,
            concurrency: 4,
            requests: 1000,
            ..spec()
        };
        let mut agg = Aggregator::new(vec![spec.clone(), spec]).with_ceiling(100);
        agg.push(Sample {
            warmup: true,
            ..sample(0.0, 1.0, None)
        });
        for i in 0..300u32 {
            agg.push(sample(f64::from(i), f64::from(i) + 1.0, None));
        }
        // 1 warm-up + 99 measured kept, then 201 more summarized: 300 measured in stage 0.
        assert_eq!(agg.measured_per_stage(), vec![300, 0]);
    }
}
