//! The run history the page keeps in the browser (DESIGN §8): what each kept report is listed
//! as, which entries go to stay within the limits, and the label rules. The page stores each
//! report's JSON beside its [`HistoryEntry`] in IndexedDB (`src/browser/history_db.rs`);
//! nothing here touches a browser.

use serde::{Deserialize, Serialize};

use crate::config::RunConfig;
use crate::model::Sample;
use crate::report::Report;
use crate::stats::{Distribution, StageStats};

/// Runs the history keeps. A list longer than this is more than anyone scrolls to compare;
/// each row also costs a little on every page load (the entries are all read at start).
pub const MAX_HISTORY_RUNS: usize = 50;
/// Bytes of report JSON the history keeps in all. Browsers grant a site far more, but a
/// Standard run's report is about 100 KB and a long one tens of MB: 50 MB keeps dozens of
/// ordinary runs without a single huge one crowding the device's storage.
pub const MAX_HISTORY_BYTES: usize = 50_000_000;
/// Longest label, in characters: it is a name in a table row, not a note.
pub const MAX_LABEL_CHARS: usize = 80;
/// No sample is written in fewer bytes of JSON (`Sample::default()` takes more; a test checks):
/// a run with more samples than [`MAX_HISTORY_BYTES`] / this cannot fit, and is not serialized
/// only to find that out.
pub const MIN_SAMPLE_JSON_BYTES: usize = 50;
/// The entry format this page writes; an entry of another version is skipped when read.
const ENTRY_VERSION: u32 = 1;

/// The figures a history row shows, taken from the report when it was kept.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HeadlineFigures {
    /// Completed requests over every stage (aborted ones are not completed).
    pub requests: u64,
    /// Σ successful / Σ completed over every stage.
    pub success_rate: Option<f64>,
    /// Median (nearest rank) latency of every successful request of the run, ms.
    pub median_latency_ms: Option<f64>,
    /// The best stage's requests/s: what the server sustained at the most productive load.
    pub peak_requests_per_s: Option<f64>,
}

impl HeadlineFigures {
    /// The figures of a run with these stages and samples (warm-ups excluded, as in the
    /// stages' own figures).
    pub fn of(stages: &[StageStats], samples: impl Iterator<Item = Sample>) -> HeadlineFigures {
        let requests: u64 = stages.iter().map(|s| s.completed).sum();
        let successful: u64 = stages.iter().map(|s| s.successful).sum();
        let mut latencies: Vec<f64> = samples
            .filter(|s| s.ok() && !s.warmup)
            .map(|s| s.latency_ms())
            .collect();
        HeadlineFigures {
            requests,
            success_rate: (requests > 0).then(|| successful as f64 / requests as f64),
            median_latency_ms: Distribution::of(&mut latencies).map(|d| d.p50),
            peak_requests_per_s: stages
                .iter()
                .filter_map(|s| s.requests_per_s)
                .filter(|r| r.is_finite())
                .reduce(f64::max),
        }
    }
}

/// One kept report as the History panel lists it. The report itself is stored beside it under
/// the same `id`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub v: u32,
    /// The key of this entry and of its report.
    pub id: String,
    /// Order kept in: higher is newer. The list shows newest first and drops the lowest.
    pub seq: u64,
    /// The report's `created_at` (when the run ended, or when an import was exported).
    pub created_at: String,
    pub label: String,
    /// The endpoint's host (and port), from the redacted config.
    pub host: String,
    pub preset: String,
    pub suite: String,
    /// The run was stopped before it finished.
    pub stopped: bool,
    /// Kept from an imported file rather than run on this page.
    pub imported: bool,
    pub figures: HeadlineFigures,
    /// Size of the stored report JSON (what the byte limit counts).
    pub bytes: u64,
}

impl HistoryEntry {
    pub fn to_json(&self) -> String {
        // Plain data with string keys: serialization cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// An entry as [`HistoryEntry::to_json`] wrote it; `None` for anything else (another
    /// version, a damaged record): the page lists what it can read.
    pub fn from_json(text: &str) -> Option<HistoryEntry> {
        serde_json::from_str::<HistoryEntry>(text)
            .ok()
            .filter(|e| e.v == ENTRY_VERSION)
    }

    /// The date shown for the entry: `created_at` as "YYYY-MM-DD HH:MM:SS UTC", or as it is
    /// when it is not the ISO form the page writes.
    pub fn date(&self) -> String {
        let t = self.created_at.as_str();
        match (t.get(..10), t.get(11..19)) {
            (Some(day), Some(time)) if t.get(10..11) == Some("T") => {
                format!("{day} {time} UTC")
            }
            _ => t.to_string(),
        }
    }

    /// What a history entry stands for when it is compared with: its label and time.
    pub fn describe(&self) -> String {
        format!("“{}” ({})", self.label, self.date())
    }
}

/// The config as history keeps it: the export policy with the user's opt-in to export header
/// values ignored, so history never holds a value outside the allow-list (DESIGN §8).
pub fn history_config(config: &RunConfig) -> RunConfig {
    RunConfig {
        include_header_values: false,
        ..config.clone()
    }
    .redacted()
}

/// `report` as history stores it: its config under [`history_config`].
pub fn history_report(report: &Report) -> Report {
    Report {
        config: history_config(&report.config),
        ..report.clone()
    }
}

/// A label as the user typed it, trimmed, or why it cannot be one.
pub fn validate_label(text: &str) -> Result<String, String> {
    let label = text.trim();
    if label.is_empty() {
        return Err("a label cannot be empty".into());
    }
    if label.chars().any(char::is_control) {
        return Err("a label is one line of text".into());
    }
    let n = label.chars().count();
    if n > MAX_LABEL_CHARS {
        return Err(format!(
            "a label has at most {MAX_LABEL_CHARS} characters ({n} typed)"
        ));
    }
    Ok(label.to_string())
}

/// `text` cut to a valid label (control characters as spaces, at most [`MAX_LABEL_CHARS`]);
/// "Untitled run" when nothing is left.
fn fit_label(text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let cut: String = clean.trim().chars().take(MAX_LABEL_CHARS).collect();
    let cut = cut.trim();
    if cut.is_empty() {
        "Untitled run".into()
    } else {
        cut.to_string()
    }
}

/// The host (and port) of `url`: what follows the scheme up to the path, query or fragment.
pub fn endpoint_host(url: &str) -> String {
    let rest = url.trim().split_once("://").map_or(url.trim(), |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    // Userinfo is refused at the input; never show it should an imported file carry one.
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    host.to_string()
}

/// The runs kept, newest first, with what to drop when another is kept.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    /// Newest first (highest `seq` first).
    entries: Vec<HistoryEntry>,
}

impl History {
    /// The history from its stored entry records (any order); records it cannot read are
    /// skipped and counted, so the page can say so.
    pub fn from_records(records: impl IntoIterator<Item = String>) -> (History, usize) {
        let mut unreadable = 0;
        let mut entries = Vec::new();
        for text in records {
            match HistoryEntry::from_json(&text) {
                Some(e) => entries.push(e),
                None => unreadable += 1,
            }
        }
        let mut history = History { entries };
        history.sort();
        (history, unreadable)
    }

    fn sort(&mut self) {
        self.entries
            .sort_by(|a, b| b.seq.cmp(&a.seq).then_with(|| b.id.cmp(&a.id)));
    }

    /// Newest first.
    pub fn entries(&self) -> &[HistoryEntry] {
        &self.entries
    }

    pub fn get(&self, id: &str) -> Option<&HistoryEntry> {
        self.entries.iter().find(|e| e.id == id)
    }

    pub fn total_bytes(&self) -> u64 {
        self.entries.iter().map(|e| e.bytes).sum()
    }

    /// The entry for `report` with its `figures` (see [`HeadlineFigures::of`]), kept after
    /// every entry so far, with an id no entry has. `label`, cut to fit, names it.
    pub fn new_entry(
        &self,
        report: &Report,
        figures: HeadlineFigures,
        label: &str,
        imported: bool,
        bytes: usize,
    ) -> HistoryEntry {
        let base = format!("run-{}", report.created_at);
        let id = std::iter::once(base.clone())
            .chain((2..).map(|n| format!("{base}-{n}")))
            .find(|id| self.get(id).is_none())
            .unwrap_or(base);
        HistoryEntry {
            v: ENTRY_VERSION,
            id,
            seq: self
                .entries
                .iter()
                .map(|e| e.seq)
                .max()
                .map_or(1, |s| s + 1),
            created_at: report.created_at.clone(),
            label: fit_label(label),
            host: endpoint_host(&report.config.endpoint),
            preset: report.config.preset.label().to_string(),
            suite: report.config.suite.label().to_string(),
            stopped: report.stopped,
            imported,
            figures,
            bytes: bytes as u64,
        }
    }

    /// The entries to drop, oldest first, so that one more report of `bytes` fits within
    /// [`MAX_HISTORY_RUNS`] and [`MAX_HISTORY_BYTES`]; a message when it could never fit.
    pub fn room_for(&self, bytes: usize) -> Result<Vec<HistoryEntry>, String> {
        if bytes > MAX_HISTORY_BYTES {
            return Err(too_big_to_keep(&format!("{:.1} MB", bytes as f64 / 1e6)));
        }
        let mut count = self.entries.len();
        let mut total = self.total_bytes();
        let mut dropped = Vec::new();
        for oldest in self.entries.iter().rev() {
            if count < MAX_HISTORY_RUNS && total + bytes as u64 <= MAX_HISTORY_BYTES as u64 {
                break;
            }
            count -= 1;
            total -= oldest.bytes;
            dropped.push(oldest.clone());
        }
        Ok(dropped)
    }

    /// Add `entry` (made by [`History::new_entry`]) and remove `dropped` (from
    /// [`History::room_for`]), once the browser has stored the change.
    pub fn keep(&mut self, entry: HistoryEntry, dropped: &[HistoryEntry]) {
        self.entries
            .retain(|e| e.id != entry.id && !dropped.iter().any(|d| d.id == e.id));
        self.entries.push(entry);
        self.sort();
    }

    pub fn remove(&mut self, id: &str) {
        self.entries.retain(|e| e.id != id);
    }

    /// Entry `id` under the label `text` (validated), to store; nothing changes here until
    /// [`History::replace`] is given it.
    pub fn renamed(&self, id: &str, text: &str) -> Result<HistoryEntry, String> {
        let label = validate_label(text)?;
        let entry = self.get(id).ok_or("this run is no longer in the history")?;
        Ok(HistoryEntry {
            label,
            ..entry.clone()
        })
    }

    /// Put `entry` in place of the entry with its id (after it was stored).
    pub fn replace(&mut self, entry: HistoryEntry) {
        if let Some(e) = self.entries.iter_mut().find(|e| e.id == entry.id) {
            *e = entry;
        }
    }
}

fn too_big_to_keep(size: &str) -> String {
    format!(
        "This report is {size}; history keeps reports up to {} MB in all, so it was not kept. \
         Export it to keep it.",
        MAX_HISTORY_BYTES / 1_000_000
    )
}

/// The message when a run of `samples` samples cannot fit in the history whatever its JSON,
/// so the page need not write that JSON to learn it.
pub fn too_many_samples_to_keep(samples: usize) -> Option<String> {
    (samples.saturating_mul(MIN_SAMPLE_JSON_BYTES) > MAX_HISTORY_BYTES).then(|| {
        too_big_to_keep(&format!(
            "over {} MB ({samples} requests)",
            MAX_HISTORY_BYTES / 1_000_000
        ))
    })
}

/// The notice for entries dropped to make room, naming each; `None` when none was.
pub fn dropped_notice(dropped: &[HistoryEntry]) -> Option<String> {
    if dropped.is_empty() {
        return None;
    }
    let names = dropped
        .iter()
        .map(HistoryEntry::describe)
        .collect::<Vec<_>>()
        .join(", ");
    Some(format!(
        "History keeps at most {MAX_HISTORY_RUNS} runs and {} MB: dropped the oldest, {names}.",
        MAX_HISTORY_BYTES / 1_000_000
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ErrorClass;
    use crate::preset::Preset;
    use crate::stats::Aggregator;
    use crate::suite::Suite;

    fn sample(stage: u32, index: u64, start: f64, end: f64, ok: bool) -> Sample {
        Sample {
            stage,
            index,
            start_ms: start,
            end_ms: end,
            status: Some(if ok { 200 } else { 500 }),
            error_class: (!ok).then_some(ErrorClass::Http),
            ..Sample::default()
        }
    }

    /// A Quick run: stage 0 latencies 10, 30, 20 (one failure), stage 1 latencies 50, 40.
    fn report() -> (Report, Vec<Sample>) {
        let config = RunConfig {
            suite: Suite::Quick,
            endpoint: "http://127.0.0.1:8123/".into(),
            ..RunConfig::default()
        };
        let plan = config.validate().unwrap();
        let samples = vec![
            sample(0, 0, 0.0, 10.0, true),
            sample(0, 1, 0.0, 30.0, true),
            sample(0, 2, 10.0, 30.0, true),
            sample(0, 3, 30.0, 35.0, false),
            sample(1, 4, 40.0, 90.0, true),
            sample(1, 5, 40.0, 80.0, true),
            Sample {
                warmup: true,
                ..sample(1, 6, 35.0, 36.0, true)
            },
        ];
        let mut agg = Aggregator::new(plan.stages().to_vec());
        for s in &samples {
            agg.push(s.clone());
        }
        let r = Report::new(
            "2026-12-02T16:13:53.123Z".into(),
            &config,
            Default::default(),
            false,
            &agg,
        );
        (r, samples)
    }

    fn entry(history: &History, bytes: usize) -> HistoryEntry {
        let (r, s) = report();
        let figures = HeadlineFigures::of(&r.stages, s.into_iter());
        history.new_entry(&r, figures, "a run", false, bytes)
    }

    #[test]
    fn figures_are_taken_from_the_stages_and_the_successful_samples() {
        let (r, s) = report();
        let f = HeadlineFigures::of(&r.stages, s.into_iter());
        // Completed 4 + 2 (the warm-up is not a request of the stage), 5 successful.
        assert_eq!(f.requests, 6);
        assert_eq!(f.success_rate, Some(5.0 / 6.0));
        // Successful latencies 10, 30, 20, 50, 40 sorted 10 20 30 40 50: nearest rank 3 = 30.
        assert_eq!(f.median_latency_ms, Some(30.0));
        // Stage 0: 4 completed over 35 ms = 114.3/s; stage 1: 2 over 50 ms = 40/s.
        let peak = f.peak_requests_per_s.unwrap();
        assert!((peak - 4.0 / 0.035).abs() < 1e-9, "{peak}");
        let none = HeadlineFigures::of(&[], std::iter::empty());
        assert_eq!(none, HeadlineFigures::default());
    }

    #[test]
    fn an_entry_names_the_run_and_round_trips() {
        let h = History::default();
        let e = entry(&h, 1234);
        assert_eq!(e.id, "run-2026-12-02T16:13:53.123Z");
        assert_eq!(e.seq, 1);
        assert_eq!(e.host, "127.0.0.1:8123");
        assert_eq!(e.preset, Preset::Seed.label());
        assert_eq!(e.suite, "Quick");
        assert_eq!(e.bytes, 1234);
        assert_eq!(e.date(), "2026-12-02 16:13:53 UTC");
        assert_eq!(HistoryEntry::from_json(&e.to_json()), Some(e.clone()));
        let other = HistoryEntry { v: 2, ..e.clone() }.to_json();
        assert_eq!(HistoryEntry::from_json(&other), None);
        assert_eq!(HistoryEntry::from_json("{\"v\":1}"), None);
        assert_eq!(HistoryEntry::from_json("not json"), None);
    }

    #[test]
    fn the_same_report_kept_twice_gets_a_new_id_and_comes_first() {
        let mut h = History::default();
        let a = entry(&h, 10);
        h.keep(a.clone(), &[]);
        let b = entry(&h, 10);
        assert_eq!(b.id, "run-2026-12-02T16:13:53.123Z-2");
        assert_eq!(b.seq, 2);
        h.keep(b.clone(), &[]);
        let c = entry(&h, 10);
        assert_eq!(c.id, "run-2026-12-02T16:13:53.123Z-3");
        h.keep(c.clone(), &[]);
        let ids: Vec<_> = h.entries().iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, [&c.id, &b.id, &a.id]);
    }

    #[test]
    fn records_are_read_newest_first_and_unreadable_ones_are_counted() {
        let mut h = History::default();
        let mut records = Vec::new();
        for _ in 0..3 {
            let e = entry(&h, 10);
            records.push(e.to_json());
            h.keep(e, &[]);
        }
        records.reverse();
        records.swap(0, 2);
        records.push("{damaged".into());
        let (read, unreadable) = History::from_records(records);
        assert_eq!(unreadable, 1);
        assert_eq!(read, h);
        let seqs: Vec<_> = read.entries().iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [3, 2, 1]);
    }

    #[test]
    fn the_count_limit_drops_the_oldest() {
        let mut h = History::default();
        for _ in 0..MAX_HISTORY_RUNS {
            let e = entry(&h, 1000);
            assert_eq!(h.room_for(1000), Ok(vec![]));
            h.keep(e, &[]);
        }
        let oldest = h.entries().last().cloned().unwrap();
        assert_eq!(oldest.seq, 1);
        let dropped = h.room_for(1000).unwrap();
        assert_eq!(dropped, vec![oldest.clone()]);
        let e = entry(&h, 1000);
        h.keep(e.clone(), &dropped);
        assert_eq!(h.entries().len(), MAX_HISTORY_RUNS);
        assert_eq!(h.entries()[0], e);
        assert!(h.get(&oldest.id).is_none());
        let notice = dropped_notice(&dropped).unwrap();
        assert_eq!(
            notice,
            "History keeps at most 50 runs and 50 MB: dropped the oldest, “a run” \
             (2026-12-02 16:13:53 UTC)."
        );
        assert_eq!(dropped_notice(&[]), None);
    }

    #[test]
    fn the_size_limit_drops_as_many_of_the_oldest_as_it_takes() {
        let mut h = History::default();
        // 20 + 15 + 10 MB kept, oldest first.
        for mb in [20, 15, 10] {
            let e = entry(&h, mb * 1_000_000);
            h.keep(e, &[]);
        }
        assert_eq!(h.total_bytes(), 45_000_000);
        // 5 MB more fits exactly (50 MB is allowed).
        assert_eq!(h.room_for(5_000_000), Ok(vec![]));
        // 6 MB more: dropping the 20 MB one leaves 25 + 6.
        let d = h.room_for(6_000_000).unwrap();
        assert_eq!(d.iter().map(|e| e.seq).collect::<Vec<_>>(), [1]);
        // 40 MB more: 20 and 15 go, 10 + 40 = 50 stays.
        let d = h.room_for(40_000_000).unwrap();
        assert_eq!(d.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2]);
        // 50 MB: everything goes; over 50 MB: never fits, nothing is dropped.
        assert_eq!(h.room_for(MAX_HISTORY_BYTES).unwrap().len(), 3);
        let e = h.room_for(MAX_HISTORY_BYTES + 1).unwrap_err();
        assert!(e.contains("50.0 MB") && e.contains("not kept"), "{e}");
        assert_eq!(h.entries().len(), 3);
    }

    #[test]
    fn a_run_with_more_samples_than_can_fit_is_known_before_it_is_written() {
        let least = serde_json::to_string(&Sample::default()).unwrap().len();
        assert!(least >= MIN_SAMPLE_JSON_BYTES, "{least}");
        // 50 MB / 50 bytes = 1,000,000 samples may fit; one more cannot.
        assert_eq!(too_many_samples_to_keep(1_000_000), None);
        let m = too_many_samples_to_keep(1_000_001).unwrap();
        assert!(
            m.contains("over 50 MB (1000001 requests)") && m.contains("not kept"),
            "{m}"
        );
    }

    #[test]
    fn labels_are_one_trimmed_line_of_at_most_80_characters() {
        assert_eq!(validate_label("  nightly  "), Ok("nightly".into()));
        assert!(validate_label("   ").unwrap_err().contains("empty"));
        assert!(validate_label("a\nb").unwrap_err().contains("one line"));
        let long = "é".repeat(MAX_LABEL_CHARS);
        assert_eq!(validate_label(&long), Ok(long.clone()));
        let e = validate_label(&format!("{long}x")).unwrap_err();
        assert!(e.contains("81 typed"), "{e}");
        assert_eq!(
            fit_label(&format!("a\tb{}", "x".repeat(100)))
                .chars()
                .count(),
            80
        );
        assert_eq!(fit_label(" \n "), "Untitled run");
    }

    #[test]
    fn renaming_validates_and_keeps_the_rest() {
        let mut h = History::default();
        let e = entry(&h, 10);
        h.keep(e.clone(), &[]);
        assert!(h.renamed(&e.id, "").is_err());
        assert!(h.renamed("nope", "x").is_err());
        let r = h.renamed(&e.id, " staging, build 42 ").unwrap();
        assert_eq!(
            h.entries()[0].label,
            "a run",
            "nothing changes before replace"
        );
        h.replace(r.clone());
        assert_eq!(h.entries()[0].label, "staging, build 42");
        assert_eq!(
            HistoryEntry {
                label: "a run".into(),
                ..r
            },
            e
        );
        h.remove(&e.id);
        assert!(h.entries().is_empty());
    }

    #[test]
    fn hosts_come_from_the_endpoint() {
        assert_eq!(endpoint_host("http://127.0.0.1:8000"), "127.0.0.1:8000");
        assert_eq!(
            endpoint_host("https://api.example.com/v1?x=1"),
            "api.example.com"
        );
        assert_eq!(endpoint_host("https://u:p@h.example/v1"), "h.example");
        assert_eq!(endpoint_host("h:1/x#y"), "h:1");
        assert_eq!(endpoint_host(""), "");
    }

    #[test]
    fn history_never_holds_the_key_or_a_disallowed_header_value() {
        let config = RunConfig {
            api_key: "sk-secret".into(),
            headers: "Accept: text/plain\nX-Team: team-secret".into(),
            endpoint: "http://h:1/?api_key=q-secret".into(),
            // The user's opt-in to export header values does not reach history.
            include_header_values: true,
            ..RunConfig::default()
        };
        let kept = history_config(&config);
        let text = serde_json::to_string(&kept).unwrap();
        for secret in ["sk-secret", "team-secret", "q-secret"] {
            assert!(!text.contains(secret), "{text}");
        }
        assert!(text.contains("Accept: text/plain") && text.contains("X-Team: [redacted]"));
        let (r, _) = report();
        let r = Report { config, ..r };
        let text = history_report(&r).to_json();
        for secret in ["sk-secret", "team-secret", "q-secret"] {
            assert!(!text.contains(secret), "{text}");
        }
    }
}
