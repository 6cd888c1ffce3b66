//! Where a run's engine lives: a dedicated Web Worker (the default), or this page when the
//! worker cannot start. Either way the page sends commands and receives events.

use std::rc::Rc;

use futures::channel::mpsc;
use stampede_engine::{Batch, Command, Event, Gauges, Plan, ToEngine};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{ErrorEvent, MessageEvent, Worker};

use super::transport::FetchTransport;

/// Trunk's loader for `src/bin/worker.rs`; relative, so the site works under any sub-path.
const WORKER_URL: &str = "./worker_loader.js";

pub enum Engine {
    Worker {
        worker: Worker,
        _on_message: Closure<dyn Fn(MessageEvent)>,
        _on_error: Closure<dyn Fn(ErrorEvent)>,
    },
    InPage {
        commands: mpsc::UnboundedSender<Command>,
        gauges: Rc<Gauges>,
    },
}

impl Engine {
    /// Start `plan` in a new worker. `on_batch` gets what the worker sends; `on_error` a
    /// message if the worker fails (for instance its script cannot load).
    pub fn worker(
        plan: &Plan,
        on_batch: impl Fn(Batch) + 'static,
        on_error: impl Fn(String) + 'static,
    ) -> Result<Engine, String> {
        let worker = Worker::new(WORKER_URL).map_err(|e| format!("{e:?}"))?;
        let start = ToEngine::Start(Box::new(plan.clone())).to_json();
        let me = worker.clone();
        let on_message = Closure::<dyn Fn(MessageEvent)>::new(move |ev: MessageEvent| {
            let Some(text) = ev.data().as_string() else {
                return;
            };
            match Batch::from_json(&text) {
                // It listens now: hand it the plan.
                Ok(batch) if batch.ready => {
                    let _ = me.post_message(&start.clone().into());
                }
                Ok(batch) => on_batch(batch),
                Err(e) => web_sys::console::error_1(&e.into()),
            }
        });
        let on_error = Closure::<dyn Fn(ErrorEvent)>::new(move |ev: ErrorEvent| {
            on_error(format!("the engine's worker failed: {}", ev.message()))
        });
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        Ok(Engine::Worker {
            worker,
            _on_message: on_message,
            _on_error: on_error,
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
