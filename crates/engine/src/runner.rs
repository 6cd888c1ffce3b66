//! The runner: stages in sequence; closed stages keep exactly `c` requests in flight, open (rate)
//! stages start requests on schedule with `c` as the cap.
//!
//! Runtime-agnostic (`futures` only, no `Send`), so the same code runs on wasm in a page or a
//! worker and on a virtual clock in tests. Commands come in on a channel and events go out through
//! a callback: the runner never touches the UI.

use futures::channel::mpsc::UnboundedReceiver;
use std::cell::RefCell;

use futures::future::FutureExt;
use futures::stream::{FuturesUnordered, StreamExt};
use serde::{Deserialize, Serialize};

use crate::http::{HttpOutcome, Transport};
use crate::model::{Protocol, Sample};
use crate::parse;
use crate::plan::Plan;
use crate::secrets;
use crate::store::RESPONSES_PER_STAGE;
use crate::suite::RateSpec;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// End the run: abort what is in flight, start nothing more, keep finished samples.
    Stop,
    /// End the current stage the same way and go on with the next.
    SkipStage,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Event {
    StageStarted {
        stage: u32,
        at_ms: f64,
    },
    Sample(Box<Sample>),
    /// The first protocol the browser reported for a target.
    Protocol {
        stage: u32,
        target: u32,
        protocol: Protocol,
    },
    /// `max_in_flight`: the most requests in flight at once per target during the stage;
    /// `dropped`: open-loop arrivals not started because the in-flight cap was reached.
    StageFinished {
        stage: u32,
        at_ms: f64,
        max_in_flight: Vec<u32>,
        dropped: u64,
    },
    RunFinished {
        stopped: bool,
        at_ms: f64,
    },
}

/// A request sent and not yet answered, as the host last heard of it: enough to write its
/// sample if the engine dies before it does (times relative to the run's start).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InFlightRequest {
    pub stage: u32,
    pub index: u64,
    pub target: u32,
    pub start_ms: f64,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub warmup: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intended_ms: Option<f64>,
}

/// What is in flight right now; the host reads it on its own timer.
#[derive(Debug, Default)]
pub struct Gauges {
    in_flight: RefCell<Vec<u32>>,
    /// By index; at most a stage's concurrency long.
    requests: RefCell<std::collections::BTreeMap<u64, InFlightRequest>>,
}

impl Gauges {
    /// Requests in flight per target.
    pub fn in_flight(&self) -> Vec<u32> {
        self.in_flight.borrow().clone()
    }

    /// Every request in flight, by index.
    pub fn in_flight_requests(&self) -> Vec<InFlightRequest> {
        self.requests.borrow().values().cloned().collect()
    }
}

/// What the runner knows of a request while it is in flight.
#[derive(Clone, Copy)]
struct Meta {
    index: u64,
    target: usize,
    warmup: bool,
    intended: Option<f64>,
}

/// Per-stage in-flight bookkeeping: spread over targets, track each target's maximum.
struct Slots<'a> {
    gauges: &'a Gauges,
    max: RefCell<Vec<u32>>,
}

impl Slots<'_> {
    /// The target with the fewest requests in flight (lowest index on ties).
    fn take(&self) -> usize {
        let mut now = self.gauges.in_flight.borrow_mut();
        let target = (0..now.len()).min_by_key(|&t| now[t]).unwrap_or(0);
        if let Some(n) = now.get_mut(target) {
            *n += 1;
            let mut max = self.max.borrow_mut();
            if let Some(m) = max.get_mut(target) {
                *m = (*m).max(*n);
            }
        }
        target
    }

    fn give_back(&self, target: usize) {
        if let Some(n) = self.gauges.in_flight.borrow_mut().get_mut(target) {
            *n = n.saturating_sub(1);
        }
    }
}

/// Arrival schedule of an open-loop stage: offsets from the stage start, ms.
struct Arrivals {
    per_ms: f64,
    poisson: Option<rand::rngs::SmallRng>,
    next: f64,
}

impl Arrivals {
    fn new(rate: &RateSpec) -> Arrivals {
        use rand::SeedableRng;
        Arrivals {
            per_ms: rate.per_s / 1000.0,
            poisson: rate
                .poisson
                .then(|| rand::rngs::SmallRng::seed_from_u64(rate.seed)),
            next: 0.0,
        }
    }

    /// The offset of the next arrival; the first is at 0.
    fn advance(&mut self) -> f64 {
        let at = self.next;
        let gap = match &mut self.poisson {
            None => 1.0 / self.per_ms,
            Some(rng) => {
                let u: f64 = rand::Rng::random(rng);
                -(1.0 - u).ln() / self.per_ms
            }
        };
        self.next += gap;
        at
    }
}

/// Run every stage of `plan` in order. Returns when the run ends or is stopped.
pub async fn run(
    plan: &Plan,
    transport: &dyn Transport,
    mut commands: UnboundedReceiver<Command>,
    gauges: &Gauges,
    mut emit: impl FnMut(Event),
) {
    let run_start = transport.now_ms();
    let rel = |t: f64| t - run_start;
    *gauges.in_flight.borrow_mut() = vec![0; plan.urls().len()];
    gauges.requests.borrow_mut().clear();
    let mut stopped = false;
    let mut next_index: u64 = 0;
    let mut protocols: Vec<bool> = vec![false; plan.urls().len()];
    for (stage_idx, stage) in plan.stages().iter().enumerate() {
        let stage_no = stage_idx as u32;
        emit(Event::StageStarted {
            stage: stage_no,
            at_ms: rel(transport.now_ms()),
        });
        let slots = Slots {
            gauges,
            max: RefCell::new(vec![0; plan.urls().len()]),
        };
        let cap = stage.concurrency.max(1) as usize;
        let warmups = u64::from(plan.warmup_count(stage_idx));
        let total = warmups + u64::from(stage.requests);
        let mut arrivals = stage.rate.as_ref().map(Arrivals::new);
        let mut next_arrival = arrivals.as_mut().map(|a| a.advance());
        let mut stage_start: Option<f64> = None;
        let mut sent: u64 = 0;
        let mut dropped: u64 = 0;
        let mut halted = false;
        // Response texts sent with this stage's samples; the store keeps no more, so later
        // ones need not cross the worker boundary.
        let mut texts: u32 = 0;
        let mut in_flight = FuturesUnordered::new();
        let start = |meta: Meta| {
            let fut = transport.send(plan.request_to(stage_idx, meta.index, meta.target));
            let request = InFlightRequest {
                stage: stage_no,
                index: meta.index,
                target: meta.target as u32,
                start_ms: rel(transport.now_ms()),
                warmup: meta.warmup,
                intended_ms: meta.intended.map(rel),
            };
            gauges.requests.borrow_mut().insert(meta.index, request);
            async move { (meta, fut.await) }
        };
        loop {
            let warmup = sent < warmups;
            let more = !halted && sent < total;
            // Open-loop stages wait for their next arrival once their warm-ups have drained.
            let scheduled = arrivals.is_some() && more && !warmup;
            // Warm-ups and closed stages refill to the cap at once; that keeps exactly `c` in flight.
            if more && (warmup || arrivals.is_none()) && in_flight.len() < cap {
                let meta = Meta {
                    index: next_index,
                    target: slots.take(),
                    warmup,
                    intended: None,
                };
                next_index += 1;
                sent += 1;
                in_flight.push(start(meta));
                continue;
            }
            if in_flight.is_empty() && !scheduled {
                break;
            }
            let due = (scheduled && (stage_start.is_some() || in_flight.is_empty())).then(|| {
                let t0 = *stage_start.get_or_insert_with(|| transport.now_ms());
                t0 + next_arrival.unwrap_or(0.0)
            });
            // An arrival already due (it came due while a response was handled) goes out now,
            // not after one more timer.
            let mut fire = due.is_some_and(|at| at <= transport.now_ms());
            if !fire {
                let mut timer = match due {
                    Some(at) => transport.sleep_until(at).fuse(),
                    None => futures::future::pending().boxed_local().fuse(),
                };
                futures::select_biased! {
                    cmd = commands.next() => {
                        if let Some(cmd) = cmd {
                            halted = true;
                            stopped |= cmd == Command::Stop;
                            transport.abort_all();
                        }
                    }
                    done = in_flight.select_next_some() => {
                        let (meta, out) = done;
                        slots.give_back(meta.target);
                        gauges.requests.borrow_mut().remove(&meta.index);
                        if let (Some(seen), Some(p)) = (protocols.get_mut(meta.target), &out.protocol) {
                            if !*seen {
                                *seen = true;
                                emit(Event::Protocol { stage: stage_no, target: meta.target as u32, protocol: p.clone() });
                            }
                        }
                        let mut sample = to_sample(plan, stage_no, meta.index, &out, run_start);
                        sample.target = meta.target as u32;
                        sample.warmup = meta.warmup;
                        sample.intended_ms = meta.intended.map(rel);
                        if sample.response_text.is_some() {
                            if texts < RESPONSES_PER_STAGE {
                                texts += 1;
                            } else {
                                sample.response_text = None;
                            }
                        }
                        emit(Event::Sample(Box::new(sample)));
                    }
                    _ = timer => fire = true,
                }
            }
            if fire {
                // Timers fire late (browsers clamp chained timers to >= 4 ms): release every
                // arrival due by now, each with its own intended time, so the rate holds and
                // the schedule lag stays measured per request.
                let t0 = stage_start.unwrap_or(0.0);
                let now = transport.now_ms();
                let mut intended = due.unwrap_or(0.0);
                loop {
                    if in_flight.len() >= cap {
                        dropped += 1;
                    } else {
                        let meta = Meta {
                            index: next_index,
                            target: slots.take(),
                            warmup: false,
                            intended: Some(intended),
                        };
                        next_index += 1;
                        in_flight.push(start(meta));
                    }
                    sent += 1;
                    next_arrival = arrivals.as_mut().map(|a| a.advance());
                    match next_arrival.map(|offset| t0 + offset) {
                        Some(at) if sent < total && at <= now => intended = at,
                        _ => break,
                    }
                }
            }
        }
        let max_in_flight = slots.max.borrow().clone();
        emit(Event::StageFinished {
            stage: stage_no,
            at_ms: rel(transport.now_ms()),
            max_in_flight,
            dropped,
        });
        if stopped {
            break;
        }
    }
    emit(Event::RunFinished {
        stopped,
        at_ms: rel(transport.now_ms()),
    });
}

/// The sample for one finished request (`run_start` on the transport clock).
pub fn to_sample(plan: &Plan, stage: u32, index: u64, out: &HttpOutcome, run_start: f64) -> Sample {
    let parsed = parse::parse(plan.shape(), out);
    let (error_class, error_message) = match parsed.error {
        // A server may echo the request (a bad key, the URL): never keep what the run sent.
        Some((c, m)) => (Some(c), Some(secrets::scrub(&m, plan.secrets()))),
        None => (None, None),
    };
    Sample {
        stage,
        index,
        start_ms: out.start_ms - run_start,
        headers_ms: out.headers_ms.map(|t| t - run_start),
        end_ms: out.end_ms - run_start,
        status: out.status,
        error_class,
        error_message,
        output_tokens: parsed.output_tokens,
        token_source: parsed.token_source,
        server_tokens_per_s: parsed.server_tokens_per_s,
        first_token_ms: parsed.content_at.first().map(|t| t - run_start),
        content_ms: parsed.content_at.iter().map(|t| t - run_start).collect(),
        prompt_tokens: parsed.prompt_tokens,
        server_durations: parsed.server_durations,
        queue_ms: out.queue_ms,
        // The reply may echo the prompt or headers: scrubbed like an error message.
        response_text: parsed.text.map(|t| secrets::scrub(&t, plan.secrets())),
        ..Sample::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RunConfig;
    use crate::http::{Chunk, HttpRequest, TransportError};
    use crate::model::ErrorClass;
    use crate::preset::Preset;
    use crate::suite::{StageSpec, Suite};
    use futures::channel::{mpsc, oneshot};
    use futures::executor::LocalPool;
    use futures::future::LocalBoxFuture;
    use futures::task::LocalSpawnExt;
    use std::cell::Cell;
    use std::rc::Rc;

    enum Wake {
        /// A request: its URL and `{{i}}`, and the channel that completes it.
        Request(String, u64, oneshot::Sender<HttpOutcome>),
        Timer(oneshot::Sender<()>),
    }

    /// A transport on a virtual clock: each request finishes `delay_ms` after it starts, timers
    /// fire at their time, and nothing happens between events. Like `FetchTransport`, it
    /// registers a request in `send()` itself, before its future is polled, so `abort_all`
    /// reaches a request the runner has sent but not yet awaited.
    #[derive(Default)]
    struct Fake {
        now: Cell<f64>,
        delay_ms: f64,
        pending: RefCell<Vec<(f64, Wake)>>,
        in_flight_by_url: RefCell<std::collections::BTreeMap<String, (u32, u32)>>,
        max_in_flight: Cell<usize>,
        sent: Cell<usize>,
        /// Every `fail_every`-th request (by `{{i}}`) answers HTTP 500.
        fail_every: u64,
        /// Request futures polled at least once.
        polled: Rc<Cell<usize>>,
        /// At each `abort_all`: requests sent whose futures had never been polled.
        unpolled_at_abort: RefCell<Vec<usize>>,
        /// Timers fire this much after their time (a browser clamps chained timers to 4 ms).
        timer_late_ms: f64,
    }

    impl Fake {
        fn new(delay_ms: f64) -> Rc<Fake> {
            Rc::new(Fake {
                delay_ms,
                ..Fake::default()
            })
        }
        fn in_flight(&self) -> usize {
            self.pending
                .borrow()
                .iter()
                .filter(|(_, w)| matches!(w, Wake::Request(..)))
                .count()
        }
        /// Fire the earliest event, advancing the clock. False when nothing is pending.
        fn step(&self) -> bool {
            let mut p = self.pending.borrow_mut();
            let Some(pos) = (0..p.len()).min_by(|&a, &b| p[a].0.total_cmp(&p[b].0)) else {
                return false;
            };
            let (due, wake) = p.remove(pos);
            drop(p);
            self.now.set(due);
            match wake {
                Wake::Timer(tx) => {
                    let _ = tx.send(());
                }
                Wake::Request(url, i, tx) => {
                    if let Some(e) = self.in_flight_by_url.borrow_mut().get_mut(&url) {
                        e.0 -= 1;
                    }
                    let fail = self.fail_every > 0 && i % self.fail_every == 0;
                    let _ = tx.send(HttpOutcome {
                        start_ms: due - self.delay_ms,
                        headers_ms: Some(due - self.delay_ms / 2.0),
                        end_ms: due,
                        status: Some(if fail { 500 } else { 200 }),
                        chunks: vec![Chunk {
                            at_ms: due,
                            bytes: br#"{"generated_text": "abcdefgh", "tokens_per_second": 10}"#
                                .to_vec(),
                        }],
                        error: None,
                        protocol: Some(Protocol::Http1),
                        queue_ms: Some(0.5),
                    });
                }
            }
            true
        }
    }

    impl Transport for Rc<Fake> {
        fn send(&self, req: HttpRequest) -> LocalBoxFuture<'static, HttpOutcome> {
            let (tx, rx) = oneshot::channel();
            let body: serde_json::Value =
                serde_json::from_str(req.body.as_deref().unwrap_or("{}")).unwrap();
            let i = body["i"].as_u64().unwrap_or(0);
            {
                let mut by_url = self.in_flight_by_url.borrow_mut();
                let e = by_url.entry(req.url.clone()).or_default();
                e.0 += 1;
                e.1 = e.1.max(e.0);
            }
            let due = self.now.get() + self.delay_ms;
            self.pending
                .borrow_mut()
                .push((due, Wake::Request(req.url, i, tx)));
            self.sent.set(self.sent.get() + 1);
            self.max_in_flight
                .set(self.max_in_flight.get().max(self.in_flight()));
            let start = self.now.get();
            let polled = self.polled.clone();
            Box::pin(async move {
                polled.set(polled.get() + 1);
                rx.await.unwrap_or(HttpOutcome {
                    start_ms: start,
                    headers_ms: None,
                    end_ms: start,
                    status: None,
                    chunks: Vec::new(),
                    error: Some(TransportError {
                        class: ErrorClass::Aborted,
                        message: "aborted".into(),
                    }),
                    protocol: None,
                    queue_ms: None,
                })
            })
        }
        fn abort_all(&self) {
            self.unpolled_at_abort
                .borrow_mut()
                .push(self.sent.get() - self.polled.get());
            // Dropping the senders resolves every pending request as aborted.
            let mut p = self.pending.borrow_mut();
            p.retain(|(_, w)| matches!(w, Wake::Timer(_)));
            for e in self.in_flight_by_url.borrow_mut().values_mut() {
                e.0 = 0;
            }
        }
        fn sleep_until(&self, at_ms: f64) -> LocalBoxFuture<'static, ()> {
            // A late clock is a browser's: even a timer already due waits its clamp.
            let late = self.timer_late_ms;
            if at_ms <= self.now.get() && late == 0.0 {
                return Box::pin(async {});
            }
            let (tx, rx) = oneshot::channel();
            self.pending
                .borrow_mut()
                .push((at_ms.max(self.now.get()) + late, Wake::Timer(tx)));
            Box::pin(async move {
                let _ = rx.await;
            })
        }
        fn now_ms(&self) -> f64 {
            self.now.get()
        }
    }

    fn config(stages: Vec<StageSpec>) -> RunConfig {
        let mut cfg = RunConfig {
            suite: Suite::Custom,
            custom_stages: stages,
            preset: Preset::Custom,
            endpoint: "http://127.0.0.1:1/x".into(),
            warmup: Some(0),
            ..RunConfig::default()
        };
        cfg.custom = Preset::Seed.shape();
        cfg.custom.body_template = r#"{"i": {{i}}}"#.into();
        cfg
    }

    fn closed(stages: &[(u32, u32)]) -> Vec<StageSpec> {
        stages
            .iter()
            .map(|&(c, r)| StageSpec {
                name: "s".into(),
                concurrency: c,
                requests: r,
                rate: None,
            })
            .collect()
    }

    fn plan(stages: &[(u32, u32)]) -> Plan {
        config(closed(stages)).validate().unwrap()
    }

    struct Harness {
        pool: LocalPool,
        events: Rc<RefCell<Vec<Event>>>,
        commands: mpsc::UnboundedSender<Command>,
        done: Rc<Cell<bool>>,
        gauges: Rc<Gauges>,
    }

    impl Harness {
        /// Run to the end on the virtual clock; `each` sees the fake before every step.
        fn finish(&mut self, fake: &Fake, mut each: impl FnMut(&Fake, &Gauges)) {
            loop {
                self.pool.run_until_stalled();
                if self.done.get() {
                    return;
                }
                each(fake, &self.gauges);
                assert!(fake.step(), "runner stalled with nothing pending");
            }
        }
        fn samples(&self) -> Vec<Sample> {
            self.events
                .borrow()
                .iter()
                .filter_map(|e| match e {
                    Event::Sample(s) => Some((**s).clone()),
                    _ => None,
                })
                .collect()
        }
    }

    fn start(plan: Plan, fake: Rc<Fake>) -> Harness {
        let pool = LocalPool::new();
        let events = Rc::new(RefCell::new(Vec::new()));
        let (tx, rx) = mpsc::unbounded();
        let done = Rc::new(Cell::new(false));
        let gauges = Rc::new(Gauges::default());
        let (ev, d, g) = (events.clone(), done.clone(), gauges.clone());
        pool.spawner()
            .spawn_local(async move {
                run(&plan, &fake, rx, &g, |e| ev.borrow_mut().push(e)).await;
                d.set(true);
            })
            .unwrap();
        Harness {
            pool,
            events,
            commands: tx,
            done,
            gauges,
        }
    }

    #[test]
    fn keeps_exactly_c_in_flight_while_work_remains() {
        let fake = Fake::new(100.0);
        let mut h = start(plan(&[(3, 10), (5, 7)]), fake.clone());
        let mut observed = Vec::new();
        h.finish(&fake, |f, _| observed.push((f.in_flight(), f.sent.get())));
        // Stage 1 (c=3, 10 requests): 3 in flight until fewer than 3 remain unsent.
        for &(in_flight, sent) in &observed {
            if sent < 10 {
                assert_eq!(in_flight, 3, "sent {sent}");
            }
        }
        assert_eq!(fake.max_in_flight.get(), 5);
        assert_eq!(fake.sent.get(), 17);
        let s = h.samples();
        assert_eq!(s.len(), 17);
        assert_eq!(s.iter().filter(|x| x.stage == 0).count(), 10);
        let mut idx: Vec<u64> = s.iter().map(|x| x.index).collect();
        idx.sort();
        assert_eq!(idx, (0..17).collect::<Vec<_>>());
        // Stage 2 starts only after stage 1's last request ended (stages run in sequence).
        let end1 = s
            .iter()
            .filter(|x| x.stage == 0)
            .map(|x| x.end_ms)
            .fold(0.0, f64::max);
        let start2 = s
            .iter()
            .filter(|x| x.stage == 1)
            .map(|x| x.start_ms)
            .fold(f64::MAX, f64::min);
        assert!(start2 >= end1);
        // 10 requests at c=3, 100 ms each: 4 waves.
        assert_eq!(end1, 400.0);
        assert!(
            s.iter().all(|x| x.queue_ms == Some(0.5)),
            "the transport's queue time is kept"
        );
        assert!(matches!(
            h.events.borrow().last(),
            Some(Event::RunFinished { stopped: false, .. })
        ));
    }

    #[test]
    fn stop_aborts_in_flight_and_keeps_finished_samples() {
        let fake = Fake::new(50.0);
        let mut h = start(plan(&[(4, 100), (2, 10)]), fake.clone());
        for _ in 0..6 {
            h.pool.run_until_stalled();
            fake.step();
        }
        h.pool.run_until_stalled();
        h.commands.unbounded_send(Command::Stop).unwrap();
        h.pool.run_until_stalled();
        assert!(h.done.get());
        assert_eq!(fake.in_flight(), 0);
        let s = h.samples();
        assert_eq!(s.iter().filter(|x| x.ok()).count(), 6);
        assert_eq!(
            s.iter()
                .filter(|x| x.error_class == Some(ErrorClass::Aborted))
                .count(),
            4
        );
        assert_eq!(fake.sent.get(), 10, "nothing started after Stop");
        assert!(s.iter().all(|x| x.stage == 0), "later stages never start");
        assert!(matches!(
            h.events.borrow().last(),
            Some(Event::RunFinished { stopped: true, .. })
        ));
        assert_eq!(h.gauges.in_flight(), vec![0]);
    }

    #[test]
    fn stop_before_any_request_was_polled_aborts_each_and_loses_none() {
        let fake = Fake::new(50.0);
        let mut h = start(plan(&[(4, 100)]), fake.clone());
        // Queued before the runner's first step: it sends its first 4 requests, then takes
        // Stop ahead of them (commands come first), so abort_all meets 4 unpolled futures.
        h.commands.unbounded_send(Command::Stop).unwrap();
        h.pool.run_until_stalled();
        assert!(h.done.get(), "nothing left to wait for");
        assert_eq!(*fake.unpolled_at_abort.borrow(), vec![4]);
        assert_eq!(fake.sent.get(), 4);
        assert_eq!(fake.in_flight(), 0, "every request was aborted");
        let s = h.samples();
        let mut idx: Vec<u64> = s.iter().map(|x| x.index).collect();
        idx.sort();
        assert_eq!(idx, vec![0, 1, 2, 3], "one sample per sent request");
        assert!(s
            .iter()
            .all(|x| x.error_class == Some(ErrorClass::Aborted) && x.end_ms == 0.0));
        assert!(h.gauges.in_flight_requests().is_empty());
    }

    #[test]
    fn gauges_list_each_request_in_flight_until_its_sample_is_emitted() {
        let fake = Fake::new(100.0);
        let mut h = start(plan(&[(2, 3)]), fake.clone());
        h.pool.run_until_stalled();
        let listed = |g: &Gauges| {
            g.in_flight_requests()
                .iter()
                .map(|r| (r.index, r.start_ms))
                .collect::<Vec<_>>()
        };
        assert_eq!(listed(&h.gauges), vec![(0, 0.0), (1, 0.0)]);
        fake.step();
        h.pool.run_until_stalled();
        // Request 0 ended at 100 ms and request 2 took its place.
        assert_eq!(listed(&h.gauges), vec![(1, 0.0), (2, 100.0)]);
        assert_eq!(h.samples().len(), 1);
        h.finish(&fake, |_, _| {});
        assert!(h.gauges.in_flight_requests().is_empty());
    }

    #[test]
    fn only_the_first_200_response_texts_of_a_stage_are_sent() {
        let fake = Fake::new(10.0);
        let mut h = start(plan(&[(4, 210), (2, 3)]), fake.clone());
        h.finish(&fake, |_, _| {});
        let s = h.samples();
        let texts = |stage: u32| {
            s.iter()
                .filter(|x| x.stage == stage && x.response_text.as_deref() == Some("abcdefgh"))
                .count()
        };
        assert_eq!((texts(0), texts(1)), (200, 3));
    }

    #[test]
    fn skip_stage_moves_on() {
        let fake = Fake::new(10.0);
        let mut h = start(plan(&[(2, 50), (2, 4)]), fake.clone());
        h.pool.run_until_stalled();
        fake.step();
        h.pool.run_until_stalled();
        h.commands.unbounded_send(Command::SkipStage).unwrap();
        h.finish(&fake, |_, _| {});
        let s = h.samples();
        assert_eq!(s.iter().filter(|x| x.stage == 1 && x.ok()).count(), 4);
        assert_eq!(s.iter().filter(|x| x.stage == 0).count(), 3);
        assert!(matches!(
            h.events.borrow().last(),
            Some(Event::RunFinished { stopped: false, .. })
        ));
    }

    #[test]
    fn samples_are_relative_to_run_start_and_classified() {
        let fake = Rc::new(Fake {
            delay_ms: 20.0,
            fail_every: 3,
            ..Fake::default()
        });
        fake.now.set(5000.0);
        let mut h = start(plan(&[(1, 4)]), fake.clone());
        h.finish(&fake, |_, _| {});
        let s = h.samples();
        assert_eq!(s[0].start_ms, 0.0);
        assert_eq!(s[0].ttfb_ms(), Some(10.0));
        assert_eq!(s[3].end_ms, 80.0);
        assert_eq!(s[0].error_class, Some(ErrorClass::Http), "i=0 fails");
        assert_eq!(s[3].error_class, Some(ErrorClass::Http), "i=3 fails");
        assert_eq!(s[1].output_tokens, Some(2));
        assert_eq!(s[1].server_tokens_per_s, Some(10.0));
        let protocols = h
            .events
            .borrow()
            .iter()
            .filter(|e| matches!(e, Event::Protocol { .. }))
            .count();
        assert_eq!(protocols, 1, "protocol reported once per origin");
    }

    #[test]
    fn host_aliases_share_the_load_evenly() {
        let mut cfg = config(closed(&[(10, 40), (3, 9)]));
        cfg.endpoint = "http://127.0.0.1:9/x".into();
        cfg.aliases = "http://127.0.0.2:9/x\n\n".into();
        let fake = Fake::new(100.0);
        let mut h = start(cfg.validate().unwrap(), fake.clone());
        let mut live_max = vec![0u32, 0];
        h.finish(&fake, |_, g| {
            for (m, n) in live_max.iter_mut().zip(g.in_flight()) {
                *m = (*m).max(n);
            }
        });
        let by_url = fake.in_flight_by_url.borrow();
        assert_eq!(
            by_url.values().map(|e| e.1).collect::<Vec<_>>(),
            vec![5, 5],
            "{by_url:?}"
        );
        assert_eq!(live_max, vec![5, 5], "gauges saw the same");
        let finished: Vec<Vec<u32>> = h
            .events
            .borrow()
            .iter()
            .filter_map(|e| match e {
                Event::StageFinished { max_in_flight, .. } => Some(max_in_flight.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(finished, vec![vec![5, 5], vec![2, 1]]);
        let s = h.samples();
        // Equal latencies: a finished request frees its origin, which takes the next one.
        assert_eq!(
            s.iter().filter(|x| x.stage == 0 && x.target == 1).count(),
            20
        );
        let protocols = h
            .events
            .borrow()
            .iter()
            .filter(|e| matches!(e, Event::Protocol { .. }))
            .count();
        assert_eq!(protocols, 2, "one per origin");
    }

    #[test]
    fn warmups_run_first_at_stage_concurrency_and_are_flagged() {
        let mut cfg = config(closed(&[(3, 6)]));
        cfg.warmup = None; // one per concurrent slot
        let fake = Fake::new(10.0);
        let mut h = start(cfg.validate().unwrap(), fake.clone());
        h.finish(&fake, |_, _| {});
        let s = h.samples();
        assert_eq!(s.len(), 9);
        let warm: Vec<&Sample> = s.iter().filter(|x| x.warmup).collect();
        assert_eq!(warm.len(), 3);
        assert!(warm.iter().all(|w| w.index < 3 && w.start_ms == 0.0));
        assert_eq!(fake.max_in_flight.get(), 3);
    }

    fn rate_stage(per_s: f64, poisson: bool, requests: u32, cap: u32) -> Vec<StageSpec> {
        vec![StageSpec {
            name: "rate".into(),
            concurrency: cap,
            requests,
            rate: Some(RateSpec {
                per_s,
                poisson,
                seed: 7,
            }),
        }]
    }

    #[test]
    fn constant_rate_starts_on_schedule_whatever_the_latency() {
        let fake = Fake::new(250.0);
        let mut h = start(
            config(rate_stage(20.0, false, 40, 100)).validate().unwrap(),
            fake.clone(),
        );
        h.finish(&fake, |_, _| {});
        let s = h.samples();
        assert_eq!(s.len(), 40);
        for x in &s {
            let k = x.index as f64;
            assert_eq!(x.intended_ms, Some(k * 50.0), "every 50 ms");
            assert_eq!(x.start_ms, k * 50.0, "no lag on a virtual clock");
            assert_eq!(x.latency_ms(), 250.0);
        }
        assert_eq!(
            fake.max_in_flight.get(),
            5,
            "250 ms latency / 50 ms spacing"
        );
    }

    #[test]
    fn late_timers_release_every_due_arrival_with_its_own_intended_time() {
        let fake = Rc::new(Fake {
            delay_ms: 5.0,
            timer_late_ms: 4.0,
            ..Fake::default()
        });
        let mut h = start(
            config(rate_stage(1000.0, false, 400, 100))
                .validate()
                .unwrap(),
            fake.clone(),
        );
        h.finish(&fake, |_, _| {});
        let s = h.samples();
        assert_eq!(
            s.len(),
            400,
            "none dropped: 5 ms latency at 1/ms is 5 in flight"
        );
        for x in &s {
            let k = x.index as f64;
            assert_eq!(x.intended_ms, Some(k), "arrival k is due at k ms");
            let lag = x.start_ms - k;
            assert!((0.0..=4.0).contains(&lag), "request {k} lagged {lag} ms");
        }
        // Arrival 0 is due at once and goes out at 0; the timer for arrival 1 fires at 1 + 4 ms
        // and releases 1..=5, the next (due at 6) fires at 10 and releases 6..=10, and so on:
        // by 100 ms, arrivals 0..=100 have started. One request per firing, every 4 ms, would
        // have started 25.
        let by_100 = s.iter().filter(|x| x.start_ms <= 100.0).count();
        assert_eq!(by_100, 101);
    }

    #[test]
    fn poisson_arrivals_are_seeded_and_average_the_rate() {
        let run_once = || {
            let fake = Fake::new(5.0);
            let mut h = start(
                config(rate_stage(100.0, true, 2000, 1000))
                    .validate()
                    .unwrap(),
                fake.clone(),
            );
            h.finish(&fake, |_, _| {});
            h.samples()
                .iter()
                .map(|x| x.intended_ms.unwrap())
                .collect::<Vec<f64>>()
        };
        let a = run_once();
        assert_eq!(a, run_once(), "same seed, same schedule");
        let mut sorted = a.clone();
        sorted.sort_by(f64::total_cmp);
        let mean_gap = sorted[sorted.len() - 1] / (sorted.len() - 1) as f64;
        assert!(
            (mean_gap - 10.0).abs() < 0.6,
            "mean gap {mean_gap} ms for 100/s"
        );
        let gaps: Vec<f64> = sorted.windows(2).map(|w| w[1] - w[0]).collect();
        let cv = (gaps.iter().map(|g| (g - mean_gap).powi(2)).sum::<f64>() / gaps.len() as f64)
            .sqrt()
            / mean_gap;
        assert!(
            (cv - 1.0).abs() < 0.1,
            "exponential gaps have a coefficient of variation of 1, got {cv}"
        );
    }

    #[test]
    fn arrivals_beyond_the_in_flight_cap_are_dropped() {
        let fake = Fake::new(1000.0);
        let mut h = start(
            config(rate_stage(100.0, false, 50, 5)).validate().unwrap(),
            fake.clone(),
        );
        h.finish(&fake, |_, _| {});
        // 50 arrivals 10 ms apart; each takes 1 s, so only the first 5 fit under the cap.
        assert_eq!(h.samples().len(), 5);
        let dropped: Vec<u64> = h
            .events
            .borrow()
            .iter()
            .filter_map(|e| match e {
                Event::StageFinished { dropped, .. } => Some(*dropped),
                _ => None,
            })
            .collect();
        assert_eq!(dropped, vec![45]);
    }

    #[test]
    fn server_echoes_of_what_the_run_sent_are_scrubbed() {
        let plan = RunConfig {
            endpoint: "http://127.0.0.1:8000?api_key=q-secret-77".into(),
            api_key: "sk-echo-1234".into(),
            headers: "X-Goog-Api-Key: goog-5678".into(),
            ..RunConfig::default()
        }
        .validate()
        .unwrap();
        let body = "denied: key sk-echo-1234, goog-5678, url ?api_key=q-secret-77";
        let out = HttpOutcome {
            start_ms: 0.0,
            headers_ms: Some(1.0),
            end_ms: 2.0,
            status: Some(401),
            chunks: vec![Chunk {
                at_ms: 2.0,
                bytes: body.as_bytes().to_vec(),
            }],
            error: None,
            protocol: None,
            queue_ms: None,
        };
        let s = to_sample(&plan, 0, 0, &out, 0.0);
        assert_eq!(
            s.error_message.as_deref(),
            Some("HTTP 401: denied: key [redacted], [redacted], url ?api_key=[redacted]")
        );
    }
}
