//! What the run prints: the seed's per-stage summary (plus percentiles), and the same figures
//! as CSV rows. Plain functions of `StageStats`, so tests read them without a run.

use std::fmt::Write;

use stampede_engine::{Distribution, StageStats};

fn ms(v: f64) -> String {
    format!("{v:.2} ms")
}

fn rate(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.2}"))
}

/// One stage as the seed printed it: counts, success rate, avg/median/min/max latency,
/// requests/s, tokens/s and errors, with p90/p95/p99 and (for streams) TTFT added.
pub fn stage_text(st: &StageStats) -> String {
    let mut t = String::new();
    let from = |to: String| match st.ramp_from {
        Some(f) => format!("{f} → {to}"),
        None => to,
    };
    let kind = match st.requested_rate_per_s {
        Some(r) => format!(
            "{} requests/s, at most {} in flight",
            from(r.to_string()),
            st.requested_concurrency
        ),
        None => format!("concurrency {}", from(st.requested_concurrency.to_string())),
    };
    let length = match st.planned_duration_s {
        Some(d) => format!("{d} s"),
        None => format!("{} requests", st.planned_requests),
    };
    let _ = writeln!(t, "=== {} ({kind}, {length}) ===", st.name);
    let mut lines: Vec<(&str, String)> = Vec::new();
    let mut line = |label, value| lines.push((label, value));
    line("Total requests", st.completed.to_string());
    line("Successful", st.successful.to_string());
    line("Failed", st.failed.to_string());
    if st.aborted > 0 {
        line("Aborted (stopped)", st.aborted.to_string());
    }
    line(
        "Success rate",
        st.success_rate
            .map_or_else(|| "-".into(), |r| format!("{:.1}%", r * 100.0)),
    );
    match &st.latency_ms {
        Some(d) => {
            line("Average latency", ms(d.mean));
            line("Median latency", ms(d.p50));
            line("Min latency", ms(d.min));
            line("Max latency", ms(d.max));
            line(
                "p90 / p95 / p99",
                format!("{:.2} / {:.2} / {:.2} ms", d.p90, d.p95, d.p99),
            );
        }
        None => line("Latency", "- (no successful request)".into()),
    }
    if let Some(d) = &st.ttft_ms {
        line(
            "TTFT median / p99",
            format!("{:.2} / {:.2} ms", d.p50, d.p99),
        );
    }
    line("Requests/s", rate(st.requests_per_s));
    line("Tokens/s", rate(st.output_tokens_per_s));
    if let Some(c) = st.achieved_concurrency {
        line("Achieved concurrency", format!("{c:.2}"));
    }
    if let Some(r) = st.achieved_rate_per_s {
        line(
            "Achieved rate",
            format!("{r:.2}/s ({} late, {} dropped)", st.late, st.dropped),
        );
    }
    if st.warmups > 0 {
        line("Warm-up requests", format!("{} (not counted)", st.warmups));
    }
    if st.errors.is_empty() {
        line("Errors", "none".into());
    } else {
        line("Errors", String::new());
    }
    if let Some(s) = &st.shortfall {
        line("Note", s.clone());
    }
    for (label, value) in lines {
        let _ = writeln!(t, "  {:<22}{value}", format!("{label}:"));
        if label == "Errors" {
            for e in &st.errors {
                let _ = writeln!(t, "    {} × {}: {}", e.count, e.class.label(), e.example);
            }
        }
    }
    t
}

/// Column names of [`csv_row`].
pub const CSV_HEADER: [&str; 21] = [
    "stage",
    "name",
    "concurrency",
    "rate_per_s",
    "planned",
    "completed",
    "successful",
    "failed",
    "aborted",
    "success_rate",
    "wall_ms",
    "requests_per_s",
    "output_tokens_per_s",
    "latency_mean_ms",
    "latency_p50_ms",
    "latency_min_ms",
    "latency_max_ms",
    "latency_p90_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "ttft_p50_ms",
];

/// One stage as a CSV row; an unknown figure is an empty cell.
pub fn csv_row(st: &StageStats) -> Vec<String> {
    let opt = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    let lat = |f: fn(&Distribution) -> f64| opt(st.latency_ms.as_ref().map(f));
    vec![
        (st.stage + 1).to_string(),
        st.name.clone(),
        st.requested_concurrency.to_string(),
        opt(st.requested_rate_per_s),
        st.planned_requests.to_string(),
        st.completed.to_string(),
        st.successful.to_string(),
        st.failed.to_string(),
        st.aborted.to_string(),
        opt(st.success_rate),
        st.wall_ms.to_string(),
        opt(st.requests_per_s),
        opt(st.output_tokens_per_s),
        lat(|d| d.mean),
        lat(|d| d.p50),
        lat(|d| d.min),
        lat(|d| d.max),
        lat(|d| d.p90),
        lat(|d| d.p95),
        lat(|d| d.p99),
        opt(st.ttft_ms.as_ref().map(|d| d.p50)),
    ]
}

/// The summary CSV: a header and a row per stage.
pub fn write_csv(path: &std::path::Path, stages: &[StageStats]) -> Result<(), String> {
    let fail = |e: csv::Error| format!("--csv {}: {e}", path.display());
    let mut w = csv::Writer::from_path(path).map_err(fail)?;
    w.write_record(CSV_HEADER).map_err(fail)?;
    for st in stages {
        w.write_record(csv_row(st)).map_err(fail)?;
    }
    w.flush()
        .map_err(|e| format!("--csv {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use stampede_engine::{Aggregator, Sample, StageSpec, TokenSource};

    /// Stage of four requests of 10, 20, 30, 40 ms started together: 12 tokens each.
    fn stage() -> StageStats {
        let spec = StageSpec {
            duration_s: None,
            ramp_from: None,
            name: "Low Concurrency Test".into(),
            concurrency: 4,
            requests: 4,
            rate: None,
        };
        let mut agg = Aggregator::new(vec![spec]);
        for i in 0..4u64 {
            agg.push(Sample {
                index: i,
                end_ms: (i + 1) as f64 * 10.0,
                headers_ms: Some(1.0),
                status: Some(200),
                output_tokens: Some(12),
                token_source: Some(TokenSource::Usage),
                ..Sample::default()
            });
        }
        agg.stats().remove(0)
    }

    #[test]
    fn the_seed_figures_and_percentiles() {
        let text = stage_text(&stage());
        // Mean (10+20+30+40)/4 = 25; nearest-rank median = the 2nd of 4 = 20; wall 40 ms, so
        // 4 / 0.04 s = 100 requests/s and 48 tokens / 0.04 s = 1200 tokens/s.
        for want in [
            "=== Low Concurrency Test (concurrency 4, 4 requests) ===",
            "Total requests:       4",
            "Success rate:         100.0%",
            "Average latency:      25.00 ms",
            "Median latency:       20.00 ms",
            "Min latency:          10.00 ms",
            "Max latency:          40.00 ms",
            "p90 / p95 / p99:      40.00 / 40.00 / 40.00 ms",
            "Requests/s:           100.00",
            "Tokens/s:             1200.00",
            "Errors:               none",
        ] {
            assert!(text.contains(want), "{want}\n{text}");
        }
    }

    #[test]
    fn csv_row_matches_its_header() {
        let row = csv_row(&stage());
        assert_eq!(row.len(), CSV_HEADER.len());
        assert_eq!(row[0], "1");
        assert_eq!(row[14], "20");
        assert_eq!(row[20], "", "no TTFT without a stream");
    }
}
