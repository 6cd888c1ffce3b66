//! What the views read: the form, the run's phase and progress, the published figures, and
//! the run data kept outside the reactive graph ([`Session`]). Components import this module,
//! never `app`; the run lifecycle that changes it lives in `session`.

use gloo_timers::callback::Interval;
use leptos::prelude::*;
use stampede_engine::{
    compare, decode_link, latency_test, read_fragment, restore_form, save_form, Aggregator,
    BaselineRef, Comparison, Distribution, Environment, Field, FieldError, Fragment,
    InFlightRequest, LatencyTest, Plan, ProgressFigures, Report, RunConfig, StageStats,
    TestVerdict, MAX_OVERLAYS,
};

use crate::browser::{engine::Engine, env, location, storage};
use crate::history::HistoryState;

/// Where the form is kept between visits, in `localStorage`.
const SAVED_FORM_KEY: &str = "stampede.form";

#[derive(Clone, Debug, Default, PartialEq)]
pub enum Phase {
    #[default]
    Idle,
    Running,
    Finished {
        stopped: bool,
    },
}

/// The run bar's figures: the engine's counts and the run's clock.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Progress {
    pub figures: ProgressFigures,
    pub elapsed_ms: f64,
}

/// What the results area shows.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Shown {
    #[default]
    Nothing,
    Live,
    Imported(String),
    /// The run shown before the latest one (kept in [`Session::previous`]).
    Previous,
}

/// A run the page can show again: what [`Session`] holds of it, and how it was shown.
pub struct Kept {
    pub agg: Aggregator,
    pub config: RunConfig,
    pub env: Environment,
    pub stopped: bool,
    pub imported: Option<Report>,
    pub shown: Shown,
    pub progress: Progress,
}

/// Run data kept out of the reactive graph.
#[derive(Default)]
pub struct Session {
    pub agg: Aggregator,
    pub config: RunConfig,
    pub env: Environment,
    pub stopped: bool,
    /// The run's start on this page's `performance.now()` clock.
    pub run_start: f64,
    pub hidden_since: Option<f64>,
    /// The running engine (a worker, or this page as a fallback); dropped when the run ends.
    pub engine: Option<Engine>,
    /// The plan in progress, to restart it on the page if the worker cannot start.
    pub plan: Option<Plan>,
    /// In-flight counts the worker last sent.
    pub in_flight: Vec<u32>,
    /// The requests the worker last listed in flight: what a dead worker took with it.
    pub in_flight_requests: Vec<InFlightRequest>,
    /// The worker's event-loop lag samples, ms.
    pub worker_lag: Vec<f64>,
    pub ticker: Option<Interval>,
    pub imported: Option<Report>,
    pub current_stage: Option<usize>,
    /// When (page clock) the current stage started: a stage by time shows its clock.
    pub stage_started_at: f64,
    /// Final statistics of the stages already finished in this run.
    pub finished: Vec<StageStats>,
    /// When the last snapshot was published and what it cost, to throttle huge stages.
    pub last_publish_at: f64,
    pub last_publish_cost_ms: f64,
    /// The run shown before this one, so a new run or an import does not wipe it.
    pub previous: Option<Kept>,
}

/// The run the shown one is compared with, kept out of the reactive graph (a report's samples).
pub struct Baseline {
    pub info: BaselineRef,
    pub agg: Aggregator,
    pub stats: Vec<StageStats>,
    /// Latency tests already run, by the shown run's stage and its latency figures: a finished
    /// stage's test is not rerun on every snapshot.
    tests: Vec<(usize, Option<Distribution>, LatencyTest)>,
}

/// Tests kept in [`Baseline::tests`] before the oldest are dropped.
const KEPT_TESTS: usize = 64;

/// A run the scaling charts overlay on the shown one (dashed, labelled).
#[derive(Clone, Debug, PartialEq)]
pub struct Overlay {
    /// The History entry it came from (the baseline's id, for the baseline).
    pub id: String,
    pub label: String,
    pub stats: Vec<StageStats>,
    /// The baseline's own overlay (cleared with it); others are runs picked in History.
    pub baseline: bool,
}

#[derive(Clone, Copy)]
pub struct AppState {
    pub config: RwSignal<RunConfig>,
    /// The text of each number field the user typed in, exactly as typed: the field shows it,
    /// and validation judges it, so nothing typed is changed behind the user's back.
    pub typed: RwSignal<Vec<(Field, String)>>,
    pub validation: Memo<Result<Plan, Vec<FieldError>>>,
    pub phase: RwSignal<Phase>,
    pub progress: RwSignal<Progress>,
    pub stats: RwSignal<Vec<StageStats>>,
    /// The environment of the shown run (live or imported), for the fidelity panel.
    pub environment: RwSignal<Environment>,
    pub shown: RwSignal<Shown>,
    /// Bumped with every published snapshot; charts redraw on it.
    pub chart_tick: RwSignal<u64>,
    /// Whether [`Session::previous`] holds a run (the session is outside the reactive graph).
    pub has_previous: RwSignal<bool>,
    /// "Remember API key on this device": only then is the key saved with the form.
    pub remember_key: RwSignal<bool>,
    /// What became of the share link the page was opened with: `Ok("Loaded a shared test")`, or
    /// why it could not be read (the form was left as it would have been without it).
    pub share_note: RwSignal<Option<Result<String, String>>>,
    /// Why the form could not be saved in this browser, if it could not.
    pub save_problem: RwSignal<Option<String>>,
    /// The runs kept in this browser (the History panel).
    pub history: HistoryState,
    /// What became of the last report link (`#report=`): `Ok` while it loads and once it is
    /// shown, or why it could not be opened (then nothing else changed).
    pub report_note: RwSignal<Option<Result<String, String>>>,
    /// Why the last file chosen or dropped could not be imported (or exported), if so.
    pub import_note: RwSignal<Option<String>>,
    /// The `#report=` link that opens the shown report, once it has one (after its export, or
    /// when it was opened from a link), with what was shown then: "Copy summary" cites it.
    pub report_link: RwSignal<Option<(Shown, String)>>,
    pub session: StoredValue<Session, LocalStorage>,
    /// The run compared with, if any ([`AppState::set_baseline`]).
    pub baseline: RwSignal<Option<BaselineRef>>,
    pub baseline_run: StoredValue<Option<Baseline>, LocalStorage>,
    /// The shown run against the baseline, recomputed with every published snapshot.
    pub comparison: RwSignal<Option<Comparison>>,
    /// Runs the scaling charts overlay: the baseline first, at most [`MAX_OVERLAYS`].
    pub overlays: RwSignal<Vec<Overlay>>,
}

impl Default for AppState {
    /// Fresh state with the form the page opens with (see [`opening_form`]); validation re-runs
    /// whenever the form changes, and the form is saved in the browser whenever it changes.
    fn default() -> AppState {
        let (opening, remember, note) = opening_form();
        let config = RwSignal::new(opening);
        let remember_key = RwSignal::new(remember);
        let save_problem = RwSignal::new(None);
        let typed = RwSignal::new(Vec::new());
        let validation = Memo::new(move |_| config.with(|c| typed.with(|t| validate(c, t))));
        let state = AppState {
            config,
            typed,
            validation,
            phase: RwSignal::new(Phase::Idle),
            progress: RwSignal::new(Progress::default()),
            stats: RwSignal::new(Vec::new()),
            environment: RwSignal::new(Environment::default()),
            shown: RwSignal::new(Shown::Nothing),
            chart_tick: RwSignal::new(0),
            has_previous: RwSignal::new(false),
            remember_key,
            share_note: RwSignal::new(note),
            save_problem,
            history: HistoryState::load(),
            report_note: RwSignal::new(None),
            import_note: RwSignal::new(None),
            report_link: RwSignal::new(None),
            session: StoredValue::new_local(Session::default()),
            baseline: RwSignal::new(None),
            baseline_run: StoredValue::new_local(None),
            comparison: RwSignal::new(None),
            overlays: RwSignal::new(Vec::new()),
        };
        // Sync with the outside world only: the form goes to storage as it changes.
        Effect::new(move |_| {
            let remember = remember_key.get();
            let problem = config.with(|c| save(c, remember)).err();
            if save_problem.get_untracked() != problem {
                save_problem.set(problem);
            }
        });
        state
    }
}

/// The form the page opens with, whether the API key is remembered, and what became of a share
/// link: the link's test when the URL carries one it can read (a link wins over the saved
/// form; a key remembered on this device stays, since a link never carries one), else the form
/// saved on this device, else the defaults. A link it cannot read changes nothing.
fn opening_form() -> (RunConfig, bool, Option<Result<String, String>>) {
    let (saved, remember) = storage::get(SAVED_FORM_KEY)
        .and_then(|text| restore_form(&text).ok())
        .unwrap_or_else(|| (RunConfig::default(), false));
    // A report link (`#report=`) opens a report once the page is up; the form stays as saved.
    let Fragment::Test(fragment) = read_fragment(&location::fragment()) else {
        return (saved, remember, None);
    };
    match decode_link(&fragment) {
        Ok(shared) => {
            location::clear_fragment();
            let config = RunConfig {
                api_key: saved.api_key,
                ..shared
            };
            (config, remember, Some(Ok("Loaded a shared test".into())))
        }
        Err(message) => (saved, remember, Some(Err(message))),
    }
}

/// Keep `config` in storage (the untouched default form is nothing to keep).
fn save(config: &RunConfig, remember_key: bool) -> Result<(), String> {
    if !remember_key && *config == RunConfig::default() {
        storage::remove(SAVED_FORM_KEY);
        return Ok(());
    }
    storage::set(SAVED_FORM_KEY, &save_form(config, remember_key))
}

impl AppState {
    /// The report link of what is shown now, if it has one.
    pub fn shown_report_link(&self) -> Option<String> {
        let shown = self.shown.get_untracked();
        self.report_link
            .get_untracked()
            .filter(|(s, _)| *s == shown)
            .map(|(_, link)| link)
    }

    /// The message for `field`, if it is invalid.
    pub fn error(&self, field: Field) -> Option<String> {
        self.validation.with(|v| match v {
            Ok(_) => None,
            Err(errors) => errors
                .iter()
                .find(|e| e.field == field)
                .map(|e| e.message.clone()),
        })
    }

    pub fn running(&self) -> bool {
        self.phase.get() == Phase::Running
    }

    /// The user typed `text` in number field `field`: keep it as typed, and change the config
    /// only if it is a valid number (validation reports it otherwise).
    pub fn type_number(&self, field: Field, text: String) {
        self.config.update(|c| {
            let _ = c.set_number(field, &text);
        });
        self.typed
            .update(|t| match t.iter_mut().find(|(f, _)| *f == field) {
                Some(entry) => entry.1 = text,
                None => t.push((field, text)),
            });
    }

    /// What number field `field` shows: the text typed in it, else `value` (the config's).
    pub fn number_text(&self, field: Field, value: impl FnOnce() -> String) -> String {
        self.typed
            .with(|t| t.iter().find(|(f, _)| *f == field).map(|(_, v)| v.clone()))
            .unwrap_or_else(value)
    }

    /// Remove custom stage `index`, keeping what was typed in the rows below with them.
    pub fn remove_stage(&self, index: usize) {
        self.config.update(|c| {
            if index < c.custom_stages.len() {
                c.custom_stages.remove(index);
            }
        });
        self.typed.update(|t| {
            *t = std::mem::take(t)
                .into_iter()
                .filter_map(|(f, v)| Some((f.after_removing_stage(index)?, v)))
                .collect()
        });
    }

    /// Replace the whole form (e.g. with an imported test): its number fields show its values.
    pub fn set_form(&self, config: RunConfig) {
        self.typed.set(Vec::new());
        self.config.set(config);
    }

    /// "Reset form": the defaults, the key forgotten, and nothing left in storage.
    pub fn reset_form(&self) {
        self.set_form(RunConfig::default());
        self.remember_key.set(false);
        self.share_note.set(None);
        storage::remove(SAVED_FORM_KEY);
    }
}

impl AppState {
    /// Compare the shown run (and every later one) with `report`, named by `info`; it replaces
    /// any baseline set before. The History panel calls this too.
    pub fn set_baseline(&self, info: BaselineRef, report: Report) {
        let agg = report.aggregator();
        let stats = agg.stats();
        let overlay = Overlay {
            id: info.id.clone(),
            label: info.label.clone(),
            stats: stats.clone(),
            baseline: true,
        };
        self.overlays.update(|o| {
            o.retain(|x| !x.baseline);
            o.insert(0, overlay);
            o.truncate(MAX_OVERLAYS);
        });
        self.baseline_run.set_value(Some(Baseline {
            info: info.clone(),
            agg,
            stats,
            tests: Vec::new(),
        }));
        self.baseline.set(Some(info));
        self.refresh_comparison();
        self.chart_tick.update(|t| *t += 1);
    }

    /// Draw (or stop drawing) run `id` on the scaling charts beside the baseline: "Overlay" in
    /// History. At most [`MAX_OVERLAYS`] runs in all; a message when that many are drawn.
    pub fn toggle_overlay(
        &self,
        id: &str,
        label: &str,
        report: Option<Report>,
    ) -> Result<(), String> {
        let drawn = self
            .overlays
            .with_untracked(|o| o.iter().any(|x| !x.baseline && x.id == id));
        if drawn {
            self.overlays
                .update(|o| o.retain(|x| x.baseline || x.id != id));
        } else if let Some(report) = report {
            if self.overlays.with_untracked(Vec::len) >= MAX_OVERLAYS {
                return Err(format!(
                    "The charts already draw {MAX_OVERLAYS} runs: remove one from the overlay first."
                ));
            }
            let stats = report.aggregator().stats();
            self.overlays.update(|o| {
                o.push(Overlay {
                    id: id.to_string(),
                    label: label.to_string(),
                    stats,
                    baseline: false,
                })
            });
        }
        self.chart_tick.update(|t| *t += 1);
        Ok(())
    }

    /// Whether run `id` is drawn on the charts as an extra overlay.
    pub fn overlaid(&self, id: &str) -> bool {
        self.overlays
            .with(|o| o.iter().any(|x| !x.baseline && x.id == id))
    }

    /// "Stop comparing": no baseline, no deltas, no baseline overlay.
    pub fn clear_baseline(&self) {
        self.baseline_run.set_value(None);
        self.baseline.set(None);
        self.comparison.set(None);
        self.overlays.update(|o| o.retain(|x| !x.baseline));
        self.chart_tick.update(|t| *t += 1);
    }

    /// Compare the published figures with the baseline. While a run goes on (its engine is
    /// there), the running stage's test waits for its end; finished stages' tests are run once
    /// and kept.
    pub fn refresh_comparison(&self) {
        let stats = self.stats.get_untracked();
        let result = self
            .baseline_run
            .try_update_value(|b| {
                let Baseline {
                    agg: base,
                    stats: base_stats,
                    tests,
                    ..
                } = b.as_mut()?;
                let base = &*base;
                Some(self.session.with_value(|s| {
                    let unfinished = |ci: usize| {
                        s.engine.is_some() && !s.finished.iter().any(|f| f.stage as usize == ci)
                    };
                    let mut test = |bi: usize, bst: &StageStats, ci: usize, cst: &StageStats| {
                        if unfinished(ci) {
                            return LatencyTest {
                                verdict: TestVerdict::Pending,
                                p_value: None,
                                u: None,
                                z: None,
                                n_baseline: bst.successful,
                                n_current: cst.successful,
                                note: Some("the test runs when the stage ends".into()),
                            };
                        }
                        let key = (ci, cst.latency_ms.clone());
                        if let Some((_, _, t)) =
                            tests.iter().find(|(i, d, _)| (*i, d.clone()) == key)
                        {
                            return t.clone();
                        }
                        let t = latency_test(base, bi, bst, &s.agg, ci, cst);
                        if tests.len() >= KEPT_TESTS {
                            tests.remove(0);
                        }
                        tests.push((key.0, key.1, t.clone()));
                        t
                    };
                    compare(base, base_stats.as_slice(), &s.agg, &stats, &mut test)
                }))
            })
            .flatten();
        if self.comparison.get_untracked() != result {
            self.comparison.set(result);
        }
    }

    /// `report` with the baseline and the comparison the page shows, for an export.
    pub fn compared(&self, report: Report) -> Report {
        let baseline = self.baseline.get_untracked();
        Report {
            comparison: baseline
                .as_ref()
                .and_then(|_| self.comparison.get_untracked()),
            baseline,
            ..report
        }
    }
}

/// The engine's validation of the form (with the number fields as typed) plus what only the
/// page knows: an HTTPS page cannot call http://.
fn validate(c: &RunConfig, typed: &[(Field, String)]) -> Result<Plan, Vec<FieldError>> {
    let mut result = c.validate_typed(typed);
    if env::page_is_https() && c.endpoint.trim().starts_with("http://") {
        let e = FieldError {
            field: Field::Endpoint,
            message: "this page is served over HTTPS, so the browser blocks http:// \
                      endpoints (mixed content): use an https:// endpoint or open \
                      Stampede over http://"
                .into(),
        };
        match &mut result {
            Ok(_) => result = Err(vec![e]),
            Err(errors) => errors.push(e),
        }
    }
    result
}
