//! The run lifecycle: start, worker batches and events, tab visibility, publishing snapshots,
//! the report, and import. Samples accumulate in [`Session`]; a timer publishes a snapshot about
//! four times a second and at stage ends, so no signal changes per response.

use gloo_timers::callback::Interval;
use leptos::prelude::*;
use leptos::task::spawn_local;
use stampede_engine::{
    decode_link, engine_stopped_samples, fetch_message, open_fetched, read_fragment, report_link,
    resolve_report, Aggregator, Batch, Command, Distribution, Environment, Event, Fragment, Period,
    Report, RunConfig, MAX_REPORT_BYTES,
};

use crate::browser::engine::{Engine, WorkerFailure};
use crate::browser::{env, files, location, now_ms, time_origin};
use crate::state::{AppState, Kept, Phase, Progress, Session, Shown};

/// Snapshot interval for live figures.
const PUBLISH_MS: u32 = 250;

impl AppState {
    /// Follow the page's visibility and long tasks while a run is in progress.
    pub fn watch_page(&self) {
        let state = *self;
        env::on_visibility_change(move |hidden| state.on_visibility(hidden));
        env::on_long_task(move |start, duration| state.on_long_task(start, duration));
    }

    /// A timer tick: publish, unless the last snapshot was so costly (a stage with very many
    /// samples) that publishing now would take more than a fifth of the main thread.
    fn tick(&self) {
        let due = self
            .session
            .with_value(|s| now_ms() - s.last_publish_at >= 4.0 * s.last_publish_cost_ms);
        if due {
            self.publish();
        }
    }

    /// Copy the session's figures into the signals the UI reads. While running, only the
    /// current stage is recomputed; finished stages keep their final figures.
    pub fn publish(&self) {
        let started = now_ms();
        let (stats, progress) = self.session.with_value(|s| {
            let stats = if self.phase.get_untracked() == Phase::Running {
                let mut st = s.finished.clone();
                let running = s
                    .current_stage
                    .filter(|&i| !st.iter().any(|f| f.stage as usize == i));
                st.extend(running.and_then(|i| s.agg.stage(i)));
                st
            } else {
                s.agg.stats()
            };
            let in_flight = s
                .engine
                .as_ref()
                .and_then(Engine::local_in_flight)
                .unwrap_or_else(|| s.in_flight.clone());
            let elapsed_ms = if s.run_start > 0.0 {
                now_ms() - s.run_start
            } else {
                0.0
            };
            let progress = Progress {
                figures: stampede_engine::progress(
                    &s.agg,
                    s.current_stage,
                    now_ms() - s.stage_started_at,
                    &in_flight,
                ),
                elapsed_ms,
            };
            (stats, progress)
        });
        self.stats.set(stats);
        self.environment
            .set(self.session.with_value(|s| Environment {
                targets: s.agg.targets().to_vec(),
                ..s.env.clone()
            }));
        if self.phase.get_untracked() == Phase::Running {
            self.progress.set(progress);
        }
        self.refresh_comparison();
        self.chart_tick.update(|t| *t += 1);
        let done = now_ms();
        self.session.update_value(|s| {
            s.last_publish_at = done;
            s.last_publish_cost_ms = done - started;
        });
    }

    /// Start a run of the current (valid) config; the run shown until now stays reachable as
    /// the previous run.
    pub fn start(&self) {
        let Ok(plan) = self.validation.get_untracked() else {
            return;
        };
        let previous = self.keep_latest();
        self.report_link.set(None);
        let config = self.config.get_untracked();
        let state = *self;
        let ticker = Interval::new(PUBLISH_MS, move || state.tick());
        let environment = Environment {
            user_agent: env::user_agent(),
            page_origin: env::page_origin(),
            timer_resolution_ms: env::timer_resolution_ms(),
            cross_origin_isolated: env::cross_origin_isolated(),
            client: Some(stampede_engine::Client {
                kind: "browser".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            }),
            ..Environment::default()
        };
        self.session.set_value(Session {
            agg: Aggregator::with_targets(plan.stages().to_vec(), plan.urls().to_vec()),
            plan: Some(plan.clone()),
            config,
            env: environment,
            run_start: now_ms(),
            hidden_since: env::tab_hidden().then(now_ms),
            ticker: Some(ticker),
            previous,
            ..Session::default()
        });
        self.has_previous
            .set(self.session.with_value(|s| s.previous.is_some()));
        self.shown.set(Shown::Live);
        self.phase.set(Phase::Running);
        self.publish();
        let engine = Engine::worker(
            &plan,
            move |b| state.on_batch(b),
            move |e| state.on_worker_error(e),
        )
        .unwrap_or_else(|_| Engine::in_page(plan, move |e| state.on_event(e)));
        self.session.update_value(|s| s.engine = Some(engine));
    }

    pub fn send(&self, cmd: Command) {
        self.session.with_value(|s| {
            if let Some(engine) = &s.engine {
                engine.send(cmd);
            }
        });
    }

    fn on_batch(&self, batch: Batch) {
        self.session.update_value(|s| {
            s.in_flight = batch.in_flight;
            s.in_flight_requests = batch.in_flight_requests;
            s.worker_lag.extend(batch.lag_ms);
            if let Some(epoch) = batch.started_epoch_ms {
                // The worker's run clock, in this page's performance.now() terms.
                s.run_start = epoch - time_origin();
            }
        });
        for e in batch.events {
            self.on_event(e);
        }
    }

    /// The worker failed or went silent. Before it was handed the plan it sent nothing, so
    /// the run starts on this page instead; after that it may have, and a second run would
    /// send those requests again: the run ends, and each request the worker last listed in
    /// flight becomes an `aborted` sample ("engine stopped"), ended now.
    fn on_worker_error(&self, failure: WorkerFailure) {
        web_sys::console::error_1(&failure.message.clone().into());
        if !self.running() {
            return;
        }
        let plan = self.session.with_value(|s| s.plan.clone());
        if let (true, Some(plan)) = (failure.before_start, plan) {
            let state = *self;
            let engine = Engine::in_page(plan, move |e| state.on_event(e));
            let dead = self.session.try_update_value(|s| s.engine.replace(engine));
            // We may be inside the dead worker's own handler: free it after it returns.
            wasm_bindgen_futures::spawn_local(async move { drop(dead) });
            return;
        }
        let at_ms = self.session.with_value(|s| now_ms() - s.run_start);
        self.session.update_value(|s| {
            let lost = engine_stopped_samples(&s.in_flight_requests, s.agg.samples(), at_ms);
            for sample in lost {
                s.agg.push(sample);
            }
            s.in_flight_requests.clear();
            s.in_flight.iter_mut().for_each(|n| *n = 0);
            s.env.engine_failure = Some(failure.message);
        });
        self.on_event(Event::RunFinished {
            stopped: true,
            at_ms,
        });
    }

    fn on_event(&self, event: Event) {
        match event {
            Event::Sample(sample) => self.session.update_value(|s| s.agg.push(*sample)),
            Event::StageStarted { stage, .. } => {
                self.session.update_value(|s| {
                    s.current_stage = Some(stage as usize);
                    s.stage_started_at = now_ms();
                });
                self.publish();
            }
            Event::Protocol {
                protocol, target, ..
            } => {
                self.session
                    .update_value(|s| s.agg.set_protocol(target as usize, protocol));
            }
            Event::StageFinished {
                stage,
                max_in_flight,
                dropped,
                ..
            } => {
                self.session.update_value(|s| {
                    s.agg.stage_ended(stage as usize, max_in_flight, dropped);
                    if let Some(st) = s.agg.stage(stage as usize) {
                        s.finished.push(st);
                    }
                });
                self.publish();
            }
            Event::RunFinished { stopped, .. } => {
                self.session.update_value(|s| {
                    s.stopped = stopped;
                    s.ticker = None;
                    s.env.engine_in_worker = s.engine.as_ref().map(Engine::in_worker);
                    s.env.worker_lag_ms = Distribution::of(&mut s.worker_lag.clone());
                    // This may run inside the worker's own message handler: end the worker
                    // (and free that handler) only after it returns.
                    let engine = s.engine.take();
                    wasm_bindgen_futures::spawn_local(async move { drop(engine) });
                    if let Some(since) = s.hidden_since.take() {
                        let (o, now) = (s.run_start, now_ms());
                        s.env.hidden_periods.push(Period {
                            start_ms: since - o,
                            end_ms: now - o,
                        });
                    }
                });
                self.publish();
                self.phase.set(Phase::Finished { stopped });
                self.keep_run_in_history();
            }
        }
    }

    /// Note hidden-tab periods of a run in progress (they throttle timers, DESIGN §6).
    fn on_visibility(&self, hidden: bool) {
        if self.phase.get_untracked() != Phase::Running {
            return;
        }
        self.session.update_value(|s| {
            let t = now_ms();
            match (hidden, s.hidden_since) {
                (true, None) => s.hidden_since = Some(t),
                (false, Some(since)) => {
                    let o = s.run_start;
                    s.env.hidden_periods.push(Period {
                        start_ms: since - o,
                        end_ms: t - o,
                    });
                    s.hidden_since = None;
                }
                _ => {}
            }
        });
    }

    /// Note a main-thread long task of a run in progress: it delays response handling.
    fn on_long_task(&self, start: f64, duration: f64) {
        if self.phase.get_untracked() != Phase::Running {
            return;
        }
        self.session.update_value(|s| {
            let o = s.run_start;
            s.env.long_tasks.push(Period {
                start_ms: start - o,
                end_ms: start + duration - o,
            });
        });
    }

    /// The report to export, as its creation time and compact JSON in pieces: the imported
    /// one as it was, or the last run's, its samples streamed from the compact store.
    pub fn export(&self) -> Option<(String, Vec<String>)> {
        self.session.with_value(|s| {
            if let Some(r) = &s.imported {
                return Some((r.created_at.clone(), r.export_parts(std::iter::empty())));
            }
            // A run has happened once the session has stages (the default session has none).
            (!s.agg.stages().is_empty()).then(|| {
                // The SLO as the form has it now: thresholds may be changed after the run, and
                // the export should carry the verdicts the page shows.
                let slo = self.config.with_untracked(|c| c.slo.clone());
                let config = RunConfig {
                    slo,
                    ..s.config.clone()
                };
                let head = Report::head(env::iso_now(), &config, s.env.clone(), s.stopped, &s.agg);
                let head = self.compared(head);
                (head.created_at.clone(), head.export_parts(s.agg.samples()))
            })
        })
    }

    /// Show an imported report with the same table and charts as a live run; the run shown
    /// until now stays reachable as the previous run.
    pub fn show_imported(&self, name: String, report: Report) {
        let stopped = report.stopped;
        let previous = self.keep_latest();
        self.session.set_value(Session {
            agg: report.aggregator(),
            config: report.config.clone(),
            env: report.environment.clone(),
            stopped,
            imported: Some(report),
            previous,
            ..Session::default()
        });
        self.has_previous
            .set(self.session.with_value(|s| s.previous.is_some()));
        self.progress.set(Progress::default());
        self.shown.set(Shown::Imported(name));
        self.phase.set(Phase::Finished { stopped });
        self.publish();
    }

    /// A chosen or dropped file read as `(name, text)`: show it as a report, or say why not
    /// where imports are reported (nothing else changes).
    pub fn import_file(&self, read: Result<(String, String), String>) {
        if self.running() {
            self.import_note.set(Some(
                "Nothing was imported: a run is in progress. Stop it or let it end first.".into(),
            ));
            return;
        }
        let opened = read.and_then(|(name, text)| {
            Report::from_json(&text)
                .map(|r| (name.clone(), r))
                .map_err(|e| format!("{name}: {e}"))
        });
        match opened {
            Ok((name, report)) => {
                self.import_note.set(None);
                self.show_imported(name, report);
            }
            Err(e) => self
                .import_note
                .set(Some(format!("Nothing was imported. {e}"))),
        }
    }

    /// Open what the page's fragment asks for, now and whenever it changes: a report link's
    /// report (`#report=`); on a change, a share link's test too (at load the opening form has
    /// already read it).
    pub fn follow_fragment(&self) {
        let state = *self;
        state.open_fragment(false);
        // Lives as long as the page: the handle is never removed.
        let _ = window_event_listener(leptos::ev::hashchange, move |_| state.open_fragment(true));
    }

    fn open_fragment(&self, changed: bool) {
        match read_fragment(&location::fragment()) {
            Fragment::Empty => {}
            Fragment::Report(link) => self.open_report_link(&link),
            Fragment::BadReport(message) => self.report_note.set(Some(Err(message))),
            Fragment::Test(fragment) if changed => self.open_share_link(&fragment),
            Fragment::Test(_) => {}
        }
    }

    /// A share link pasted into the address bar of the open page: its test in the form (the
    /// key typed here stays, a link never carries one), or why not, changing nothing.
    fn open_share_link(&self, fragment: &str) {
        if self.running() {
            return;
        }
        match decode_link(fragment) {
            Ok(shared) => {
                location::clear_fragment();
                let api_key = self.config.with_untracked(|c| c.api_key.clone());
                self.set_form(RunConfig { api_key, ..shared });
                self.share_note.set(Some(Ok("Loaded a shared test".into())));
            }
            Err(message) => self.share_note.set(Some(Err(message))),
        }
    }

    /// Fetch the report a `#report=` link names (relative to the page, or absolute with CORS)
    /// and show it as an import does; on any failure only [`AppState::report_note`] changes.
    fn open_report_link(&self, link: &str) {
        let note = self.report_note;
        let source = match resolve_report(&location::page_url(), link) {
            Ok(s) => s,
            Err(message) => return note.set(Some(Err(message))),
        };
        if self.running() {
            return note.set(Some(Err(format!(
                "A run is in progress: open the report link ({}) again once it has ended. \
                 Nothing was opened.",
                source.url
            ))));
        }
        note.set(Some(Ok(format!("Opening the report at {}…", source.url))));
        let state = *self;
        let cited = report_link(&location::page_url(), link);
        spawn_local(async move {
            let opened = match files::fetch_text(&source.url, MAX_REPORT_BYTES).await {
                Ok(text) => open_fetched(&source, &text),
                Err(failure) => Err(fetch_message(&source, &failure)),
            };
            match opened {
                // A run started while the report loaded: it keeps the results area.
                Ok(_) if state.running() => note.set(Some(Err(format!(
                    "A run started while the report at {} loaded: open the link again once \
                     it has ended. Nothing was opened.",
                    source.url
                )))),
                Ok(report) => {
                    note.set(Some(Ok(format!(
                        "Opened the report {} from {}.",
                        source.name, source.url
                    ))));
                    state.show_imported(source.name, report);
                    state
                        .report_link
                        .set(Some((state.shown.get_untracked(), cited)));
                }
                Err(message) => note.set(Some(Err(message))),
            }
        });
    }

    /// The latest run shown (live or imported), taken out of the session to keep as the
    /// previous run; `None` when nothing was shown. Viewing the previous run, the latest is
    /// the one kept.
    fn keep_latest(&self) -> Option<Kept> {
        if self.shown.get_untracked() == Shown::Previous {
            self.swap_previous();
        }
        let shown = self.shown.get_untracked();
        if shown == Shown::Nothing {
            return None;
        }
        let progress = self.progress.get_untracked();
        let mut kept = None;
        self.session.update_value(|s| {
            kept = Some(Kept {
                agg: std::mem::take(&mut s.agg),
                config: std::mem::take(&mut s.config),
                env: std::mem::take(&mut s.env),
                stopped: s.stopped,
                imported: s.imported.take(),
                shown,
                progress,
            });
        });
        kept
    }

    /// Show the previous run in place of the latest, or the latest again: the two trade places
    /// in the session, so either is one click away.
    pub fn swap_previous(&self) {
        if self.running() {
            return;
        }
        let shown = self.shown.get_untracked();
        let progress = self.progress.get_untracked();
        let mut back = None;
        self.session.update_value(|s| {
            let Some(prev) = s.previous.take() else {
                return;
            };
            back = Some((prev.shown, prev.progress, prev.stopped));
            s.previous = Some(Kept {
                agg: std::mem::replace(&mut s.agg, prev.agg),
                config: std::mem::replace(&mut s.config, prev.config),
                env: std::mem::replace(&mut s.env, prev.env),
                stopped: std::mem::replace(&mut s.stopped, prev.stopped),
                imported: std::mem::replace(&mut s.imported, prev.imported),
                shown: shown.clone(),
                progress,
            });
        });
        let Some((prev_shown, prev_progress, stopped)) = back else {
            return;
        };
        // Back from the previous run, the latest shows as it did; otherwise it is "previous".
        self.shown.set(if shown == Shown::Previous {
            prev_shown
        } else {
            Shown::Previous
        });
        self.progress.set(prev_progress);
        self.phase.set(Phase::Finished { stopped });
        self.publish();
    }

    /// Put the shown run's test into the form, to look at or run again. The API key is never
    /// in a report, so it stays empty; values the report redacted are flagged by validation.
    pub fn load_shown_test(&self) {
        let config = self.session.with_value(|s| s.config.clone());
        self.set_form(RunConfig {
            api_key: String::new(),
            ..config
        });
    }
}
