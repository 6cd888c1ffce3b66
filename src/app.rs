//! Top-level layout and the app's state: the form, the run in progress, and what is shown.
//!
//! Samples live outside the reactive graph (in [`Session`]); a timer publishes a snapshot about
//! four times a second and at stage ends, so no signal changes per response.

use gloo_timers::callback::Interval;
use leptos::prelude::*;
use stampede_engine::config::{Field, FieldError};
use stampede_engine::report::{Environment, Period, Report};
use stampede_engine::stats::Distribution;
use stampede_engine::stats::{Aggregator, StageStats};
use stampede_engine::worker::Batch;
use stampede_engine::{Command, Event, Plan, RunConfig};

use crate::browser::{engine::Engine, env, now_ms, time_origin};
use crate::components::request_list::RequestList;
use crate::components::{
    charts::Charts, diagnostics::Diagnostics, endpoint_form::EndpointForm, export_menu::ExportMenu,
    results_table::ResultsTable, run_bar::RunBar, suite_editor::SuiteEditor,
};

/// Snapshot interval for live figures.
const PUBLISH_MS: u32 = 250;

#[derive(Clone, Debug, Default, PartialEq)]
pub enum Phase {
    #[default]
    Idle,
    Running,
    Finished {
        stopped: bool,
    },
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Progress {
    pub done: u64,
    pub total: u64,
    pub stage: Option<usize>,
    pub stage_name: String,
    pub stage_done: u64,
    pub stage_total: u64,
    pub elapsed_ms: f64,
    /// Requests in flight now, per origin (host, count).
    pub in_flight: Vec<(String, u32)>,
}

/// What the results area shows.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Shown {
    #[default]
    Nothing,
    Live,
    Imported(String),
}

/// Run data kept out of the reactive graph.
#[derive(Default)]
pub struct Session {
    pub agg: Aggregator,
    pub config: RunConfig,
    pub env: Environment,
    pub stopped: bool,
    pub run_origin: f64,
    pub hidden_since: Option<f64>,
    /// The running engine (a worker, or this page as a fallback); dropped when the run ends.
    pub engine: Option<Engine>,
    /// The plan in progress, to restart it on the page if the worker cannot start.
    pub plan: Option<Plan>,
    /// In-flight counts the worker last sent.
    pub in_flight: Vec<u32>,
    /// The worker's event-loop lag samples, ms.
    pub worker_lag: Vec<f64>,
    pub ticker: Option<Interval>,
    pub imported: Option<Report>,
    pub current_stage: Option<usize>,
    /// Final statistics of the stages already finished in this run.
    pub finished: Vec<StageStats>,
    /// When the last snapshot was published and what it cost, to throttle huge stages.
    pub last_publish_at: f64,
    pub last_publish_cost_ms: f64,
}

#[derive(Clone, Copy)]
pub struct AppState {
    pub config: RwSignal<RunConfig>,
    pub validation: Memo<Result<Plan, Vec<FieldError>>>,
    pub phase: RwSignal<Phase>,
    pub progress: RwSignal<Progress>,
    pub stats: RwSignal<Vec<StageStats>>,
    /// The environment of the shown run (live or imported), for the fidelity panel.
    pub environment: RwSignal<Environment>,
    pub shown: RwSignal<Shown>,
    /// Bumped with every published snapshot; charts redraw on it.
    pub chart_tick: RwSignal<u64>,
    pub session: StoredValue<Session, LocalStorage>,
}

impl AppState {
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
            let stages = s.agg.stages();
            let done = s.agg.samples().iter().filter(|x| !x.warmup).count() as u64;
            let total = stages.iter().map(|st| u64::from(st.requests)).sum();
            let stage = s.current_stage;
            let (stage_name, stage_total) = stage
                .and_then(|i| stages.get(i))
                .map(|st| (st.name.clone(), u64::from(st.requests)))
                .unwrap_or_default();
            let stage_done = stage
                .map(|i| {
                    s.agg
                        .samples()
                        .iter()
                        .filter(|x| x.stage as usize == i && !x.warmup)
                        .count() as u64
                })
                .unwrap_or(0);
            let in_flight = s
                .agg
                .origins()
                .iter()
                .map(|o| o.url.split('/').nth(2).unwrap_or(&o.url).to_string())
                .zip(
                    s.engine
                        .as_ref()
                        .and_then(Engine::local_in_flight)
                        .unwrap_or_else(|| s.in_flight.clone()),
                )
                .collect();
            let elapsed_ms = if s.run_origin > 0.0 {
                now_ms() - s.run_origin
            } else {
                0.0
            };
            let progress = Progress {
                done,
                total,
                stage,
                stage_name,
                stage_done,
                stage_total,
                elapsed_ms,
                in_flight,
            };
            (stats, progress)
        });
        self.stats.set(stats);
        self.environment
            .set(self.session.with_value(|s| Environment {
                origins: s.agg.origins().to_vec(),
                ..s.env.clone()
            }));
        if self.phase.get_untracked() == Phase::Running {
            self.progress.set(progress);
        }
        self.chart_tick.update(|t| *t += 1);
        let done = now_ms();
        self.session.update_value(|s| {
            s.last_publish_at = done;
            s.last_publish_cost_ms = done - started;
        });
    }

    /// Start a run of the current (valid) config.
    pub fn start(&self) {
        let Ok(plan) = self.validation.get_untracked() else {
            return;
        };
        let config = self.config.get_untracked();
        let state = *self;
        let ticker = Interval::new(PUBLISH_MS, move || state.tick());
        let environment = Environment {
            user_agent: env::user_agent(),
            page_origin: env::page_origin(),
            timer_resolution_ms: env::timer_resolution_ms(),
            cross_origin_isolated: env::cross_origin_isolated(),
            ..Environment::default()
        };
        self.session.set_value(Session {
            agg: Aggregator::with_origins(plan.stages.clone(), plan.urls.clone()),
            plan: Some(plan.clone()),
            config,
            env: environment,
            run_origin: now_ms(),
            hidden_since: env::tab_hidden().then(now_ms),
            ticker: Some(ticker),
            ..Session::default()
        });
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
            s.worker_lag.extend(batch.lag_ms);
            if let Some(epoch) = batch.started_epoch_ms {
                // The worker's run clock, in this page's performance.now() terms.
                s.run_origin = epoch - time_origin();
            }
        });
        for e in batch.events {
            self.on_event(e);
        }
    }

    /// The worker could not start or died: before any result, run on this page instead;
    /// later, end the run and say why.
    fn on_worker_error(&self, message: String) {
        web_sys::console::error_1(&message.clone().into());
        let fresh = self.session.with_value(|s| {
            s.agg.samples().is_empty() && s.engine.as_ref().is_some_and(Engine::in_worker)
        });
        let plan = self.session.with_value(|s| s.plan.clone());
        match plan {
            Some(plan) if fresh && self.running() => {
                let state = *self;
                let engine = Engine::in_page(plan, move |e| state.on_event(e));
                self.session.update_value(|s| s.engine = Some(engine));
            }
            _ if self.running() => self.on_event(Event::RunFinished {
                stopped: true,
                at_ms: 0.0,
            }),
            _ => {}
        }
    }

    fn on_event(&self, event: Event) {
        match event {
            Event::Sample(sample) => self.session.update_value(|s| s.agg.push(*sample)),
            Event::StageStarted { stage, .. } => {
                self.session
                    .update_value(|s| s.current_stage = Some(stage as usize));
                self.publish();
            }
            Event::Protocol {
                protocol, origin, ..
            } => {
                self.session.update_value(|s| {
                    if !s.env.http_protocols.contains(&protocol) {
                        s.env.http_protocols.push(protocol.clone());
                    }
                    s.agg.set_protocol(origin as usize, protocol);
                });
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
                        let (o, now) = (s.run_origin, now_ms());
                        s.env.hidden_periods.push(Period {
                            start_ms: since - o,
                            end_ms: now - o,
                        });
                        s.hidden_since = Some(now);
                    }
                });
                self.publish();
                self.phase.set(Phase::Finished { stopped });
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
                    let o = s.run_origin;
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
            let o = s.run_origin;
            s.env.long_tasks.push(Period {
                start_ms: start - o,
                end_ms: start + duration - o,
            });
        });
    }

    /// The report to export: the imported one as it was, or one built from the last run.
    pub fn report(&self) -> Option<Report> {
        self.session.with_value(|s| {
            if let Some(r) = &s.imported {
                return Some(r.clone());
            }
            // A run has happened once the session has stages (the default session has none).
            (!s.agg.stages().is_empty())
                .then(|| Report::new(env::iso_now(), &s.config, s.env.clone(), s.stopped, &s.agg))
        })
    }

    /// Show an imported report with the same table and charts as a live run.
    pub fn show_imported(&self, name: String, report: Report) {
        let stopped = report.stopped;
        self.session.set_value(Session {
            agg: report.aggregator(),
            config: report.config.clone(),
            env: report.environment.clone(),
            stopped,
            imported: Some(report),
            ..Session::default()
        });
        self.shown.set(Shown::Imported(name));
        self.phase.set(Phase::Finished { stopped });
        self.publish();
    }
}

#[component]
pub fn App() -> impl IntoView {
    let config = RwSignal::new(RunConfig::default());
    let validation = Memo::new(move |_| {
        config.with(|c| {
            let mut result = c.validate();
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
        })
    });
    let state = AppState {
        config,
        validation,
        phase: RwSignal::new(Phase::Idle),
        progress: RwSignal::new(Progress::default()),
        stats: RwSignal::new(Vec::new()),
        environment: RwSignal::new(Environment::default()),
        shown: RwSignal::new(Shown::Nothing),
        chart_tick: RwSignal::new(0),
        session: StoredValue::new_local(Session::default()),
    };
    provide_context(state);
    env::on_visibility_change(move |hidden| state.on_visibility(hidden));
    env::on_long_task(move |start, duration| state.on_long_task(start, duration));

    view! {
        <header class="top">
            <h1>"Stampede"</h1>
            <p class="tagline">"Load testing for model APIs, from your browser."</p>
        </header>
        <main>
            <section class="setup">
                <EndpointForm />
                <SuiteEditor />
            </section>
            <RunBar />
            <Diagnostics />
            <ResultsTable />
            <ExportMenu />
            <Charts />
            <RequestList />
        </main>
    }
}
