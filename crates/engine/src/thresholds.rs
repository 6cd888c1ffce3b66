//! SLO thresholds as the user types them: a plain noun with no judging, so the config (which
//! stores them) sits below the statistics that `slo` judges them against.

use serde::{Deserialize, Serialize};

/// One threshold the SLO form offers: which figure, and which way it must hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SloMetric {
    LatencyP50,
    LatencyP90,
    LatencyP95,
    LatencyP99,
    TtftP50,
    TtftP95,
    TtftP99,
    TpotP50,
    TpotP95,
    TpotP99,
    InterChunkP99,
    ErrorRate,
    MinTokensPerS,
}

impl SloMetric {
    /// In form order.
    pub const ALL: [SloMetric; 13] = [
        SloMetric::LatencyP50,
        SloMetric::LatencyP90,
        SloMetric::LatencyP95,
        SloMetric::LatencyP99,
        SloMetric::TtftP50,
        SloMetric::TtftP95,
        SloMetric::TtftP99,
        SloMetric::TpotP50,
        SloMetric::TpotP95,
        SloMetric::TpotP99,
        SloMetric::InterChunkP99,
        SloMetric::ErrorRate,
        SloMetric::MinTokensPerS,
    ];

    /// The figure's name as a verdict reads it: "TTFT p95 612 ms > 500 ms".
    pub fn name(self) -> &'static str {
        match self {
            SloMetric::LatencyP50 => "latency p50",
            SloMetric::LatencyP90 => "latency p90",
            SloMetric::LatencyP95 => "latency p95",
            SloMetric::LatencyP99 => "latency p99",
            SloMetric::TtftP50 => "TTFT p50",
            SloMetric::TtftP95 => "TTFT p95",
            SloMetric::TtftP99 => "TTFT p99",
            SloMetric::TpotP50 => "TPOT p50",
            SloMetric::TpotP95 => "TPOT p95",
            SloMetric::TpotP99 => "TPOT p99",
            SloMetric::InterChunkP99 => "inter-chunk p99",
            SloMetric::ErrorRate => "error rate",
            SloMetric::MinTokensPerS => "output tokens/s",
        }
    }

    /// The unit after a value: "ms", "%" or "tok/s".
    pub fn unit(self) -> &'static str {
        match self {
            SloMetric::ErrorRate => "%",
            SloMetric::MinTokensPerS => "tok/s",
            _ => "ms",
        }
    }

    /// The input's label: "SLO TTFT p95 (ms)", "SLO error rate (%)".
    pub fn label(self) -> String {
        match self {
            SloMetric::MinTokensPerS => "SLO min output tokens/s".into(),
            m => format!("SLO {} ({})", m.name(), m.unit()),
        }
    }

    /// The percentile a threshold is on (50, 90, 95 or 99); `None` for the stage-wide rates.
    pub fn percentile(self) -> Option<u32> {
        match self {
            SloMetric::LatencyP50 | SloMetric::TtftP50 | SloMetric::TpotP50 => Some(50),
            SloMetric::LatencyP90 => Some(90),
            SloMetric::LatencyP95 | SloMetric::TtftP95 | SloMetric::TpotP95 => Some(95),
            SloMetric::LatencyP99
            | SloMetric::TtftP99
            | SloMetric::TpotP99
            | SloMetric::InterChunkP99 => Some(99),
            SloMetric::ErrorRate | SloMetric::MinTokensPerS => None,
        }
    }

    /// True when the figure must reach the threshold (tokens/s); else it must stay at or
    /// below it.
    pub fn is_minimum(self) -> bool {
        self == SloMetric::MinTokensPerS
    }
}

/// The run's service-level objective: each threshold given, `None` = not part of it. Every
/// field defaults, so configs and reports written before SLOs existed still read.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Slo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_p50_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_p90_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_p95_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_p99_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttft_p50_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttft_p95_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttft_p99_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tpot_p50_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tpot_p95_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tpot_p99_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inter_chunk_p99_ms: Option<f64>,
    /// Failed ÷ completed requests, in percent (0–100).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_rate_pct: Option<f64>,
    /// The stage's output tokens/s must be at least this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_output_tokens_per_s: Option<f64>,
}

impl Slo {
    pub fn get(&self, m: SloMetric) -> Option<f64> {
        *self.slot(m)
    }

    pub fn set(&mut self, m: SloMetric, value: Option<f64>) {
        *self.slot_mut(m) = value;
    }

    /// No threshold given: nothing to judge.
    pub fn is_empty(&self) -> bool {
        SloMetric::ALL.iter().all(|m| self.get(*m).is_none())
    }

    /// The thresholds given, in form order.
    pub fn given(&self) -> impl Iterator<Item = (SloMetric, f64)> + '_ {
        SloMetric::ALL
            .into_iter()
            .filter_map(|m| Some((m, self.get(m)?)))
    }

    fn slot(&self, m: SloMetric) -> &Option<f64> {
        match m {
            SloMetric::LatencyP50 => &self.latency_p50_ms,
            SloMetric::LatencyP90 => &self.latency_p90_ms,
            SloMetric::LatencyP95 => &self.latency_p95_ms,
            SloMetric::LatencyP99 => &self.latency_p99_ms,
            SloMetric::TtftP50 => &self.ttft_p50_ms,
            SloMetric::TtftP95 => &self.ttft_p95_ms,
            SloMetric::TtftP99 => &self.ttft_p99_ms,
            SloMetric::TpotP50 => &self.tpot_p50_ms,
            SloMetric::TpotP95 => &self.tpot_p95_ms,
            SloMetric::TpotP99 => &self.tpot_p99_ms,
            SloMetric::InterChunkP99 => &self.inter_chunk_p99_ms,
            SloMetric::ErrorRate => &self.error_rate_pct,
            SloMetric::MinTokensPerS => &self.min_output_tokens_per_s,
        }
    }

    fn slot_mut(&mut self, m: SloMetric) -> &mut Option<f64> {
        match m {
            SloMetric::LatencyP50 => &mut self.latency_p50_ms,
            SloMetric::LatencyP90 => &mut self.latency_p90_ms,
            SloMetric::LatencyP95 => &mut self.latency_p95_ms,
            SloMetric::LatencyP99 => &mut self.latency_p99_ms,
            SloMetric::TtftP50 => &mut self.ttft_p50_ms,
            SloMetric::TtftP95 => &mut self.ttft_p95_ms,
            SloMetric::TtftP99 => &mut self.ttft_p99_ms,
            SloMetric::TpotP50 => &mut self.tpot_p50_ms,
            SloMetric::TpotP95 => &mut self.tpot_p95_ms,
            SloMetric::TpotP99 => &mut self.tpot_p99_ms,
            SloMetric::InterChunkP99 => &mut self.inter_chunk_p99_ms,
            SloMetric::ErrorRate => &mut self.error_rate_pct,
            SloMetric::MinTokensPerS => &mut self.min_output_tokens_per_s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_has_its_own_slot_and_an_empty_slo_reads_from_old_json() {
        let mut slo = Slo::default();
        assert!(slo.is_empty());
        for (n, m) in SloMetric::ALL.into_iter().enumerate() {
            slo.set(m, Some(n as f64 + 1.0));
        }
        for (n, m) in SloMetric::ALL.into_iter().enumerate() {
            assert_eq!(slo.get(m), Some(n as f64 + 1.0), "{m:?}");
        }
        assert_eq!(serde_json::from_str::<Slo>("{}").ok(), Some(Slo::default()));
        assert_eq!(
            serde_json::to_string(&Slo::default()).ok().as_deref(),
            Some("{}")
        );
        assert_eq!(SloMetric::TtftP95.label(), "SLO TTFT p95 (ms)");
        assert_eq!(SloMetric::ErrorRate.label(), "SLO error rate (%)");
    }
}
