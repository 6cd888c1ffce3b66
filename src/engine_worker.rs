//! The engine in a dedicated Web Worker: runner and fetch transport run here; the page sends
//! commands (`ToEngine`) and gets events in batches (`Batch`). A hidden tab throttles the
//! page's timers, not this worker's, and chart redraws on the page cannot delay request starts.

use std::cell::RefCell;
use std::rc::Rc;

use futures::channel::mpsc;
use gloo_timers::callback::Interval;
use stampede_engine::{Batch, Command, Event, Gauges, ToEngine};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use crate::browser::{now_ms, time_origin, transport::FetchTransport};

/// Batches go out this often (ms): a live view without a message per response. The page
/// publishes about 4 times a second, so a fresher batch would not show, and each message costs
/// both threads CPU.
const FLUSH_MS: u32 = 200;
/// The lag probe's period (ms).
const LAG_MS: u32 = 100;

#[derive(Default)]
struct Worker {
    commands: Option<mpsc::UnboundedSender<Command>>,
    gauges: Rc<Gauges>,
    batch: Batch,
    timers: Vec<Interval>,
}

fn scope() -> DedicatedWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

/// Send what happened since the last batch, and what is in flight now. Sent every
/// [`FLUSH_MS`] while a run lasts even when nothing happened: the page takes a silent worker
/// for a dead one.
fn flush(w: &Rc<RefCell<Worker>>) {
    let mut me = w.borrow_mut();
    let in_flight = me.gauges.in_flight();
    let in_flight_requests = me.gauges.in_flight_requests();
    let batch = std::mem::take(&mut me.batch);
    drop(me);
    let batch = Batch {
        in_flight,
        in_flight_requests,
        ..batch
    };
    let _ = scope().post_message(&batch.to_json().into());
}

fn start_run(w: &Rc<RefCell<Worker>>, plan: stampede_engine::Plan) {
    let (tx, rx) = mpsc::unbounded();
    let gauges = Rc::new(Gauges::default());
    {
        let mut me = w.borrow_mut();
        me.commands = Some(tx);
        me.gauges = gauges.clone();
        let fw = w.clone();
        let lw = w.clone();
        let mut last = now_ms();
        me.timers = vec![
            Interval::new(FLUSH_MS, move || flush(&fw)),
            Interval::new(LAG_MS, move || {
                let now = now_ms();
                lw.borrow_mut()
                    .batch
                    .lag_ms
                    .push((now - last - f64::from(LAG_MS)).max(0.0));
                last = now;
            }),
        ];
    }
    w.borrow_mut().batch.started_epoch_ms = Some(time_origin() + now_ms());
    let w = w.clone();
    wasm_bindgen_futures::spawn_local(async move {
        let transport = FetchTransport::new();
        let ew = w.clone();
        stampede_engine::run(&plan, &transport, rx, &gauges, move |e| {
            let done = matches!(e, Event::RunFinished { .. });
            ew.borrow_mut().batch.events.push(e);
            if done {
                flush(&ew);
            }
        })
        .await;
        let mut me = w.borrow_mut();
        me.timers.clear();
        me.commands = None;
    });
}

/// Entry point of the worker binary.
pub fn start() {
    console_error_panic_hook::set_once();
    let w = Rc::new(RefCell::new(Worker::default()));
    let onmessage = Closure::<dyn Fn(MessageEvent)>::new(move |ev: MessageEvent| {
        let Some(text) = ev.data().as_string() else {
            return;
        };
        match ToEngine::from_json(&text) {
            Ok(ToEngine::Start(plan)) => start_run(&w, *plan),
            Ok(ToEngine::Command(c)) => {
                if let Some(tx) = &w.borrow().commands {
                    let _ = tx.unbounded_send(c);
                }
            }
            Err(e) => web_sys::console::error_1(&e.into()),
        }
    });
    scope().set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
    onmessage.forget();
    let ready = Batch {
        ready: true,
        ..Batch::default()
    };
    let _ = scope().post_message(&ready.to_json().into());
}
