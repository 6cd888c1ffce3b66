//! What the views read: the form, the run's phase and progress, the published figures, and
//! the run data kept outside the reactive graph ([`Session`]). Components import this module,
//! never `app`; the run lifecycle that changes it lives in `session`.

use gloo_timers::callback::Interval;
use leptos::prelude::*;
use stampede_engine::{
    Aggregator, Environment, Field, FieldError, InFlightRequest, Plan, ProgressFigures, Report,
    RunConfig, StageStats,
};

use crate::browser::{engine::Engine, env};

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

impl Default for AppState {
    /// Fresh state with the default form; validation re-runs whenever the form changes.
    fn default() -> AppState {
        let config = RwSignal::new(RunConfig::default());
        let validation = Memo::new(move |_| config.with(validate));
        AppState {
            config,
            validation,
            phase: RwSignal::new(Phase::Idle),
            progress: RwSignal::new(Progress::default()),
            stats: RwSignal::new(Vec::new()),
            environment: RwSignal::new(Environment::default()),
            shown: RwSignal::new(Shown::Nothing),
            chart_tick: RwSignal::new(0),
            session: StoredValue::new_local(Session::default()),
        }
    }
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
}

/// The engine's validation plus what only the page knows: an HTTPS page cannot call http://.
fn validate(c: &RunConfig) -> Result<Plan, Vec<FieldError>> {
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
}
