//! Where a run's engine lives: a dedicated Web Worker (the default), or this page when the
//! worker cannot start. Either way the page sends commands and receives events.

use std::cell::Cell;
use std::rc::Rc;

use futures::channel::mpsc;
use gloo_timers::callback::Interval;
use stampede_engine::{Batch, Command, Event, Gauges, Plan, ToEngine};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{Event as DomEvent, MessageEvent, Worker, WorkerOptions, WorkerType};

use super::now_ms;
use super::transport::FetchTransport;

/// The worker's module script (`src/engine_worker.js`, copied by Trunk); relative, so the site
/// works under any sub-path.
const WORKER_URL: &str = "./engine_worker.js";

/// A running worker that sends no batch for this long is taken for dead (it sends one every
/// 200 ms, even with nothing new).
pub const SILENCE_MS: f64 = 3000.0;
/// The same before it has said it listens: loading its script and wasm may take a while on a
/// slow network.
const LOAD_MS: f64 = 10_000.0;
/// How often silence is checked.
const WATCH_MS: u32 = 250;

/// Why the worker is gone, and whether the run may go on without it.
pub struct WorkerFailure {
    pub message: String,
    /// It failed before it was handed the plan, so it sent no request: running the plan on
    /// the page cannot send any twice.
    pub before_start: bool,
}

/// What the page last heard from the worker.
#[derive(Default)]
struct Liveness {
    last_heard_ms: Cell<f64>,
    start_sent: Cell<bool>,
    /// Silence seen at the previous check too. Death is declared only on two checks in a row,
    /// so a page that was itself blocked (its timer running before the queued batches) does
    /// not mistake its own stall for the worker's.
    silent_before: Cell<bool>,
    failed: Cell<bool>,
}

pub enum Engine {
    Worker {
        worker: Worker,
        _on_message: Closure<dyn Fn(MessageEvent)>,
        _on_error: Closure<dyn Fn(DomEvent)>,
        _watchdog: Interval,
    },
    InPage {
        commands: mpsc::UnboundedSender<Command>,
        gauges: Rc<Gauges>,
    },
}

impl Engine {
    /// Start `plan` in a new worker. `on_batch` gets what the worker sends; `on_failure` is
    /// called once if the worker fails (its script cannot load, it throws, or it goes silent
    /// for [`SILENCE_MS`]); nothing it sends after that is passed on.
    pub fn worker(
        plan: &Plan,
        on_batch: impl Fn(Batch) + 'static,
        on_failure: impl Fn(WorkerFailure) + 'static,
    ) -> Result<Engine, String> {
        let options = WorkerOptions::new();
        options.set_type(WorkerType::Module);
        let worker =
            Worker::new_with_options(WORKER_URL, &options).map_err(|e| format!("{e:?}"))?;
        // The page's own compiled wasm: the worker starts it as the engine.
        worker
            .post_message(&wasm_bindgen::module())
            .map_err(|e| format!("{e:?}"))?;
        let start = ToEngine::Start(Box::new(plan.clone())).to_json();
        let live = Rc::new(Liveness::default());
        live.last_heard_ms.set(now_ms());
        let fail: Rc<dyn Fn(String)> = {
            let live = live.clone();
            Rc::new(move |message| {
                if !live.failed.replace(true) {
                    let before_start = !live.start_sent.get();
                    on_failure(WorkerFailure {
                        message,
                        before_start,
                    });
                }
            })
        };
        let me = worker.clone();
        let heard = live.clone();
        let on_message = Closure::<dyn Fn(MessageEvent)>::new(move |ev: MessageEvent| {
            if heard.failed.get() {
                return;
            }
            heard.last_heard_ms.set(now_ms());
            heard.silent_before.set(false);
            let Some(text) = ev.data().as_string() else {
                return;
            };
            match Batch::from_json(&text) {
                // It listens now: hand it the plan. From here on it may send requests.
                Ok(batch) if batch.ready => {
                    heard.start_sent.set(true);
                    let _ = me.post_message(&start.clone().into());
                }
                Ok(batch) => on_batch(batch),
                Err(e) => web_sys::console::error_1(&e.into()),
            }
        });
        let failed = fail.clone();
        // An uncaught exception arrives as an ErrorEvent; a script that cannot load as a plain
        // Event, with no message (ErrorEvent's getter would throw on it).
        let on_error = Closure::<dyn Fn(DomEvent)>::new(move |ev: DomEvent| {
            let message = js_sys::Reflect::get(&ev, &"message".into())
                .ok()
                .and_then(|m| m.as_string())
                .unwrap_or_else(|| "its script could not load".into());
            failed(format!("the engine's worker failed: {message}"))
        });
        let watchdog = Interval::new(WATCH_MS, move || {
            let limit = if live.start_sent.get() {
                SILENCE_MS
            } else {
                LOAD_MS
            };
            let silent_ms = now_ms() - live.last_heard_ms.get();
            let silent = silent_ms >= limit;
            if silent && live.silent_before.get() {
                fail(format!(
                    "the engine's worker stopped answering (nothing for {:.1} s)",
                    silent_ms / 1000.0
                ));
            }
            live.silent_before.set(silent);
        });
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        Ok(Engine::Worker {
            worker,
            _on_message: on_message,
            _on_error: on_error,
            _watchdog: watchdog,
        })
    }

    /// Run `plan` on this page's own event loop.
    pub fn in_page(plan: Plan, emit: impl FnMut(Event) + 'static) -> Engine {
        let (commands, rx) = mpsc::unbounded();
        let gauges = Rc::new(Gauges::default());
        let g = gauges.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let transport = FetchTransport::new();
            stampede_engine::run(&plan, &transport, rx, &g, emit).await;
        });
        Engine::InPage { commands, gauges }
    }

    pub fn send(&self, cmd: Command) {
        match self {
            Engine::Worker { worker, .. } => {
                let _ = worker.post_message(&ToEngine::Command(cmd).to_json().into());
            }
            Engine::InPage { commands, .. } => {
                let _ = commands.unbounded_send(cmd);
            }
        }
    }

    /// In-flight counts kept on this page (in-page engine only; a worker sends them).
    pub fn local_in_flight(&self) -> Option<Vec<u32>> {
        match self {
            Engine::InPage { gauges, .. } => Some(gauges.in_flight()),
            Engine::Worker { .. } => None,
        }
    }

    pub fn in_worker(&self) -> bool {
        matches!(self, Engine::Worker { .. })
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if let Engine::Worker { worker, .. } = self {
            worker.terminate();
        }
    }
}
