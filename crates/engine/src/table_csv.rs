//! CSV exports for spreadsheets and pull requests: one row per stage (its summary, SLO verdict
//! and goodput) and one row per request. Written through the `csv` crate so quoting matches
//! what spreadsheet and pandas readers expect.

use crate::model::Sample;
use crate::slo::SloReport;
use crate::stats::{Distribution, StageStats};

/// Rows per piece of the requests file: a million requests never become one string.
pub const CSV_ROWS_PER_PART: usize = 10_000;

fn num(v: Option<f64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

fn pick(d: &Option<Distribution>, f: fn(&Distribution) -> f64) -> String {
    num(d.as_ref().map(f))
}

/// Finish a writer into text (flushing to memory cannot fail).
fn text(w: csv::Writer<Vec<u8>>) -> String {
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

pub const STAGE_COLUMNS: [&str; 37] = [
    "stage",
    "name",
    "requested_concurrency",
    "requested_rate_per_s",
    "planned_requests",
    "completed",
    "successful",
    "failed",
    "aborted",
    "wall_ms",
    "requests_per_s",
    "successful_per_s",
    "output_tokens_per_s",
    "achieved_concurrency",
    "latency_mean_ms",
    "latency_stddev_ms",
    "latency_p50_ms",
    "latency_p90_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "ttfb_p50_ms",
    "ttfb_p95_ms",
    "ttft_p50_ms",
    "ttft_p95_ms",
    "ttft_p99_ms",
    "tpot_p50_ms",
    "tpot_p95_ms",
    "tpot_p99_ms",
    "inter_chunk_p99_ms",
    "output_tokens",
    "slo_verdict",
    "slo_failing",
    "good_requests",
    "good_per_s",
    "goodput_share",
    "good_tokens_per_s",
    "slo_insufficient",
];

/// One row per stage, header first; the SLO columns are empty without thresholds.
pub fn stages_csv(stats: &[StageStats], slo: Option<&SloReport>) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(STAGE_COLUMNS);
    for st in stats {
        let judged = slo.and_then(|r| r.stages.iter().find(|j| j.stage == st.stage));
        let good = judged.and_then(|j| j.goodput.clone());
        let row: [String; 37] = [
            st.stage.to_string(),
            st.name.clone(),
            st.requested_concurrency.to_string(),
            num(st.requested_rate_per_s),
            st.planned_requests.to_string(),
            st.completed.to_string(),
            st.successful.to_string(),
            st.failed.to_string(),
            st.aborted.to_string(),
            st.wall_ms.to_string(),
            num(st.requests_per_s),
            num(st.successful_per_s),
            num(st.output_tokens_per_s),
            num(st.achieved_concurrency),
            pick(&st.latency_ms, |d| d.mean),
            pick(&st.latency_ms, |d| d.stddev),
            pick(&st.latency_ms, |d| d.p50),
            pick(&st.latency_ms, |d| d.p90),
            pick(&st.latency_ms, |d| d.p95),
            pick(&st.latency_ms, |d| d.p99),
            pick(&st.ttfb_ms, |d| d.p50),
            pick(&st.ttfb_ms, |d| d.p95),
            pick(&st.ttft_ms, |d| d.p50),
            pick(&st.ttft_ms, |d| d.p95),
            pick(&st.ttft_ms, |d| d.p99),
            pick(&st.tpot_ms, |d| d.p50),
            pick(&st.tpot_ms, |d| d.p95),
            pick(&st.tpot_ms, |d| d.p99),
            pick(&st.inter_chunk_ms, |d| d.p99),
            st.output_tokens.to_string(),
            judged
                .map(|j| j.verdict.verdict.label().to_string())
                .unwrap_or_default(),
            judged
                .map(|j| j.verdict.failing.join("; "))
                .unwrap_or_default(),
            good.as_ref()
                .map(|g| g.good_requests.to_string())
                .unwrap_or_default(),
            num(good.as_ref().and_then(|g| g.good_per_s)),
            num(good.as_ref().and_then(|g| g.goodput_share)),
            num(good.as_ref().and_then(|g| g.good_tokens_per_s)),
            judged
                .map(|j| j.verdict.insufficient.join("; "))
                .unwrap_or_default(),
        ];
        let _ = w.write_record(&row);
    }
    text(w)
}

pub const REQUEST_COLUMNS: [&str; 16] = [
    "stage",
    "index",
    "warmup",
    "start_ms",
    "end_ms",
    "latency_ms",
    "ttfb_ms",
    "ttft_ms",
    "tpot_ms",
    "status",
    "error_class",
    "error_message",
    "output_tokens",
    "token_source",
    "origin",
    "queue_ms",
];

/// One row per request (warm-ups marked), header first, in pieces of [`CSV_ROWS_PER_PART`]
/// rows; joined, the pieces are one CSV file.
pub fn requests_csv(samples: impl Iterator<Item = Sample>) -> Vec<String> {
    let mut parts = Vec::new();
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(REQUEST_COLUMNS);
    for (n, s) in samples.enumerate() {
        let row: [String; 16] = [
            s.stage.to_string(),
            s.index.to_string(),
            s.warmup.to_string(),
            s.start_ms.to_string(),
            s.end_ms.to_string(),
            s.latency_ms().to_string(),
            num(s.ttfb_ms()),
            num(s.ttft_ms()),
            num(s.tpot_ms()),
            s.status.map(|v| v.to_string()).unwrap_or_default(),
            s.error_class
                .map(|c| c.label().to_string())
                .unwrap_or_default(),
            s.error_message.clone().unwrap_or_default(),
            s.output_tokens.map(|v| v.to_string()).unwrap_or_default(),
            s.token_source
                .map(|t| t.label().to_string())
                .unwrap_or_default(),
            s.target.to_string(),
            num(s.queue_ms),
        ];
        let _ = w.write_record(&row);
        if (n + 1) % CSV_ROWS_PER_PART == 0 {
            parts.push(text(std::mem::replace(
                &mut w,
                csv::Writer::from_writer(Vec::new()),
            )));
        }
    }
    parts.push(text(w));
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ErrorClass;
    use crate::slo::assess;
    use crate::stats::stage_stats;
    use crate::suite::StageSpec;
    use crate::thresholds::Slo;

    fn sample(index: u64, latency: f64, class: Option<ErrorClass>) -> Sample {
        Sample {
            index,
            start_ms: 0.0,
            end_ms: latency,
            status: Some(if class.is_some() { 500 } else { 200 }),
            error_class: class,
            error_message: class.map(|_| "boom, \"quoted\"".to_string()),
            output_tokens: class.is_none().then_some(4),
            ..Sample::default()
        }
    }

    #[test]
    fn stage_and_request_rows_read_back_with_their_headers() {
        let samples = vec![
            sample(0, 100.0, None),
            sample(1, 300.0, None),
            sample(2, 50.0, Some(ErrorClass::Http)),
        ];
        let spec = StageSpec {
            duration_s: None,
            ramp_from: None,
            name: "a, b".into(),
            concurrency: 2,
            requests: 3,
            rate: None,
        };
        let st = vec![stage_stats(0, &spec, &samples)];
        let slo = Slo {
            latency_p50_ms: Some(200.0),
            ..Slo::default()
        };
        let judged = assess(&slo, &st, &samples);
        let text = stages_csv(&st, judged.as_ref());
        let mut r = csv::Reader::from_reader(text.as_bytes());
        let header: Vec<String> = r
            .headers()
            .map(|h| h.iter().map(String::from).collect())
            .unwrap_or_default();
        assert_eq!(header, STAGE_COLUMNS);
        let rows: Vec<csv::StringRecord> = r.records().filter_map(Result::ok).collect();
        assert_eq!(rows.len(), 1);
        let col = |name: &str| {
            let i = STAGE_COLUMNS
                .iter()
                .position(|c| *c == name)
                .unwrap_or(usize::MAX);
            rows[0].get(i).unwrap_or("?").to_string()
        };
        assert_eq!(
            col("name"),
            "a, b",
            "a comma in a name is quoted, not a new column"
        );
        // Latencies 100, 300 (successful only): p50 = the 1st = 100 ≤ 200: pass. Goodput:
        // only the 100 ms request is within 200 → 1 good of 3 completed.
        assert_eq!(col("slo_verdict"), "pass");
        assert_eq!(col("good_requests"), "1");
        assert_eq!(col("goodput_share"), (1.0f64 / 3.0).to_string());

        let parts = requests_csv(samples.iter().cloned());
        let joined = parts.concat();
        let mut r = csv::Reader::from_reader(joined.as_bytes());
        let rows: Vec<csv::StringRecord> = r.records().filter_map(Result::ok).collect();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[2].get(11), Some("boom, \"quoted\""));
        assert_eq!(rows[2].get(10), Some("http"));
        assert_eq!(rows[0].get(5), Some("100"));
    }

    #[test]
    fn the_requests_file_comes_in_pieces_with_one_header() {
        let samples = (0..(CSV_ROWS_PER_PART as u64 + 5)).map(|i| sample(i, 1.0, None));
        let parts = requests_csv(samples);
        assert_eq!(parts.len(), 2);
        let joined = parts.concat();
        assert_eq!(joined.matches("stage,index").count(), 1);
        assert_eq!(joined.lines().count(), CSV_ROWS_PER_PART + 5 + 1);
    }
}
