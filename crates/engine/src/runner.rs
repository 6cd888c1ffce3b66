//! The closed-loop runner: stages in sequence, exactly `c` requests in flight per stage.
//!
//! Runtime-agnostic (`futures` only, no `Send`), so the same code runs on wasm in a page or a
//! worker and on a virtual clock in tests. Commands come in on a channel and events go out through
//! a callback: the runner never touches the UI.

use std::cell::Cell;

use futures::channel::mpsc::UnboundedReceiver;
use futures::future::LocalBoxFuture;
use futures::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};

use crate::config::Plan;
use crate::protocol::{self, ServerDurations, TokenSource};

/// One request, fully built.
#[derive(Clone, Debug, PartialEq)]
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    pub timeout_ms: f64,
    /// Read the body chunk by chunk, time-stamping each (streamed responses).
    pub streaming: bool,
}

/// Why a request failed (DESIGN §3). Every request ends in success or exactly one class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorClass {
    Http,
    Timeout,
    Network,
    Aborted,
    Parse,
    StreamError,
}

impl ErrorClass {
    pub const ALL: [ErrorClass; 6] = [
        ErrorClass::Http,
        ErrorClass::Timeout,
        ErrorClass::Network,
        ErrorClass::Aborted,
        ErrorClass::Parse,
        ErrorClass::StreamError,
    ];

    pub fn label(self) -> &'static str {
        match self {
            ErrorClass::Http => "http",
            ErrorClass::Timeout => "timeout",
            ErrorClass::Network => "network",
            ErrorClass::Aborted => "aborted",
            ErrorClass::Parse => "parse",
            ErrorClass::StreamError => "stream-error",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct TransportError {
    /// Network, Timeout or Aborted: the transport decides which.
    pub class: ErrorClass,
    pub message: String,
}

/// What a transport saw. Times are from the transport's clock ([`Transport::now_ms`]).
#[derive(Clone, Debug, PartialEq)]
pub struct HttpOutcome {
    /// Just before the request was handed to the network stack.
    pub start_ms: f64,
    /// When the response headers arrived, if they did.
    pub headers_ms: Option<f64>,
    /// When the body was fully read, or the request failed.
    pub end_ms: f64,
    pub status: Option<u16>,
    /// The body as it arrived: one entry per chunk the network delivered.
    pub chunks: Vec<Chunk>,
    pub error: Option<TransportError>,
    /// HTTP protocol the browser reports (`http/1.1`, `h2`, …), when it can tell.
    pub protocol: Option<String>,
}

/// A piece of a response body and when it arrived (transport clock).
#[derive(Clone, Debug, PartialEq)]
pub struct Chunk {
    pub at_ms: f64,
    pub bytes: Vec<u8>,
}

impl HttpOutcome {
    /// The whole body as text (invalid UTF-8 replaced).
    pub fn body_text(&self) -> String {
        let bytes: Vec<u8> = self
            .chunks
            .iter()
            .flat_map(|c| c.bytes.iter().copied())
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// Sends requests. The browser's fetch in the app, a virtual-clock fake in tests.
pub trait Transport {
    fn send(&self, req: HttpRequest) -> LocalBoxFuture<'static, HttpOutcome>;
    /// Abort every request in flight; each then resolves with class `Aborted`.
    fn abort_all(&self);
    /// Milliseconds on a monotonic clock.
    fn now_ms(&self) -> f64;
}

/// One request's record. Times are milliseconds relative to the run's start.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub stage: u32,
    /// Index of the request within the run (the `{{i}}` placeholder).
    pub index: u64,
    pub start_ms: f64,
    pub headers_ms: Option<f64>,
    pub end_ms: f64,
    pub status: Option<u16>,
    pub error_class: Option<ErrorClass>,
    pub error_message: Option<String>,
    pub output_tokens: Option<u64>,
    pub token_source: Option<TokenSource>,
    pub server_tokens_per_s: Option<f64>,
    /// Streams: when the first content-bearing event arrived.
    #[serde(default)]
    pub first_token_ms: Option<f64>,
    /// Streams: arrival of every content-bearing event (the request's chunk timeline).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub content_ms: Vec<f64>,
    #[serde(default)]
    pub prompt_tokens: Option<u64>,
    /// The server's own timings where it reports them (Ollama).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_durations: Option<ServerDurations>,
}

impl Sample {
    /// Time to first token (streams): first content event − start.
    pub fn ttft_ms(&self) -> Option<f64> {
        self.first_token_ms.map(|t| t - self.start_ms)
    }

    /// Time per output token (streams, ≥ 2 tokens): (latency − ttft) / (tokens − 1).
    pub fn tpot_ms(&self) -> Option<f64> {
        let ttft = self.ttft_ms()?;
        let n = self.output_tokens.filter(|&n| n >= 2)?;
        Some((self.latency_ms() - ttft) / (n - 1) as f64)
    }

    /// Gaps between consecutive content-bearing events (inter-chunk latency).
    pub fn gaps_ms(&self) -> impl Iterator<Item = f64> + '_ {
        self.content_ms.windows(2).map(|w| w[1] - w[0])
    }

    pub fn ok(&self) -> bool {
        self.error_class.is_none()
    }
    pub fn latency_ms(&self) -> f64 {
        self.end_ms - self.start_ms
    }
    pub fn ttfb_ms(&self) -> Option<f64> {
        self.headers_ms.map(|h| h - self.start_ms)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// End the run: abort what is in flight, start nothing more, keep finished samples.
    Stop,
    /// End the current stage the same way and go on with the next.
    SkipStage,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    StageStarted {
        stage: u32,
        at_ms: f64,
    },
    Sample(Sample),
    /// The first protocol the browser reported for a stage.
    Protocol {
        stage: u32,
        protocol: String,
    },
    StageFinished {
        stage: u32,
        at_ms: f64,
    },
    RunFinished {
        stopped: bool,
        at_ms: f64,
    },
}

/// Run every stage of `plan` in order. Returns when the run ends or is stopped.
pub async fn run(
    plan: &Plan,
    transport: &dyn Transport,
    mut commands: UnboundedReceiver<Command>,
    mut emit: impl FnMut(Event),
) {
    let origin = transport.now_ms();
    let rel = |t: f64| t - origin;
    let mut stopped = false;
    let mut next_index: u64 = 0;
    for (stage_idx, stage) in plan.stages.iter().enumerate() {
        let stage_no = stage_idx as u32;
        emit(Event::StageStarted {
            stage: stage_no,
            at_ms: rel(transport.now_ms()),
        });
        let halt = Cell::new(false);
        let first_index = next_index;
        next_index += u64::from(stage.requests);
        // Lazily pulled by `buffer_unordered`, so `halt` stops new starts at once.
        let indices = (first_index..next_index).map_while(|i| (!halt.get()).then_some(i));
        let mut in_flight = stream::iter(indices)
            .map(|i| {
                let fut = transport.send(plan.request(stage_idx, i));
                async move { (i, fut.await) }
            })
            .buffer_unordered(stage.concurrency.max(1) as usize);
        let mut protocol_seen = false;
        loop {
            futures::select_biased! {
                cmd = commands.next() => {
                    if let Some(cmd) = cmd {
                        halt.set(true);
                        stopped |= cmd == Command::Stop;
                        transport.abort_all();
                    }
                }
                done = in_flight.next() => {
                    let Some((index, out)) = done else { break };
                    if !protocol_seen {
                        if let Some(p) = out.protocol.clone().filter(|p| !p.is_empty()) {
                            protocol_seen = true;
                            emit(Event::Protocol { stage: stage_no, protocol: p });
                        }
                    }
                    emit(Event::Sample(to_sample(plan, stage_no, index, &out, origin)));
                }
            }
        }
        emit(Event::StageFinished {
            stage: stage_no,
            at_ms: rel(transport.now_ms()),
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

/// The sample for one finished request (`origin` = the run start on the transport clock).
pub fn to_sample(plan: &Plan, stage: u32, index: u64, out: &HttpOutcome, origin: f64) -> Sample {
    let parsed = protocol::parse(&plan.shape, out);
    let (error_class, error_message) = match parsed.error {
        Some((c, m)) => (Some(c), Some(m)),
        None => (None, None),
    };
    Sample {
        stage,
        index,
        start_ms: out.start_ms - origin,
        headers_ms: out.headers_ms.map(|t| t - origin),
        end_ms: out.end_ms - origin,
        status: out.status,
        error_class,
        error_message,
        output_tokens: parsed.output_tokens,
        token_source: parsed.token_source,
        server_tokens_per_s: parsed.server_tokens_per_s,
        first_token_ms: parsed.content_at.first().map(|t| t - origin),
        content_ms: parsed.content_at.iter().map(|t| t - origin).collect(),
        prompt_tokens: parsed.prompt_tokens,
        server_durations: parsed.server_durations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RunConfig;
    use crate::suite::{StageSpec, Suite};
    use futures::channel::{mpsc, oneshot};
    use futures::executor::LocalPool;
    use futures::task::LocalSpawnExt;
    use std::cell::RefCell;
    use std::rc::Rc;

    /// A transport on a virtual clock: each request finishes `delay_ms` after it starts.
    #[derive(Default)]
    struct Fake {
        now: Cell<f64>,
        delay_ms: f64,
        /// (due time, index, completion) of requests in flight.
        pending: RefCell<Vec<(f64, u64, oneshot::Sender<HttpOutcome>)>>,
        max_in_flight: Cell<usize>,
        sent: Cell<usize>,
        /// Requests whose body mentions `i` = fail_every multiple answer HTTP 500.
        fail_every: u64,
    }

    impl Fake {
        fn new(delay_ms: f64) -> Rc<Fake> {
            Rc::new(Fake {
                delay_ms,
                ..Fake::default()
            })
        }
        fn in_flight(&self) -> usize {
            self.pending.borrow().len()
        }
        /// Complete the earliest request, advancing the clock. False when nothing is pending.
        fn complete_next(&self) -> bool {
            let mut p = self.pending.borrow_mut();
            let Some(pos) = (0..p.len()).min_by(|&a, &b| p[a].0.total_cmp(&p[b].0)) else {
                return false;
            };
            let (due, i, tx) = p.remove(pos);
            drop(p);
            self.now.set(due);
            let fail = self.fail_every > 0 && i % self.fail_every == 0;
            let _ = tx.send(HttpOutcome {
                start_ms: due - self.delay_ms,
                headers_ms: Some(due - self.delay_ms / 2.0),
                end_ms: due,
                status: Some(if fail { 500 } else { 200 }),
                chunks: vec![Chunk {
                    at_ms: due,
                    bytes: br#"{"generated_text": "abcdefgh", "tokens_per_second": 10}"#.to_vec(),
                }],
                error: None,
                protocol: Some("http/1.1".into()),
            });
            true
        }
    }

    impl Transport for Rc<Fake> {
        fn send(&self, req: HttpRequest) -> LocalBoxFuture<'static, HttpOutcome> {
            let (tx, rx) = oneshot::channel();
            let body: serde_json::Value =
                serde_json::from_str(req.body.as_deref().unwrap_or("{}")).unwrap();
            let i = body["i"].as_u64().unwrap_or(0);
            self.pending
                .borrow_mut()
                .push((self.now.get() + self.delay_ms, i, tx));
            self.sent.set(self.sent.get() + 1);
            self.max_in_flight
                .set(self.max_in_flight.get().max(self.in_flight()));
            let start = self.now.get();
            Box::pin(async move {
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
                })
            })
        }
        fn abort_all(&self) {
            // Dropping the senders resolves every pending request as aborted.
            self.pending.borrow_mut().clear();
        }
        fn now_ms(&self) -> f64 {
            self.now.get()
        }
    }

    fn plan(stages: &[(u32, u32)]) -> Plan {
        let mut cfg = RunConfig {
            suite: Suite::Custom,
            custom_stages: stages
                .iter()
                .map(|&(c, r)| StageSpec {
                    name: "s".into(),
                    concurrency: c,
                    requests: r,
                })
                .collect(),
            preset: crate::config::Preset::Custom,
            endpoint: "http://127.0.0.1:1/x".into(),
            ..RunConfig::default()
        };
        cfg.custom = crate::config::Preset::Seed.shape();
        cfg.custom.body_template = r#"{"i": {{i}}}"#.into();
        cfg.validate().unwrap()
    }

    struct Harness {
        pool: LocalPool,
        events: Rc<RefCell<Vec<Event>>>,
        commands: mpsc::UnboundedSender<Command>,
        done: Rc<Cell<bool>>,
    }

    fn start(plan: Plan, fake: Rc<Fake>) -> Harness {
        let pool = LocalPool::new();
        let events = Rc::new(RefCell::new(Vec::new()));
        let (tx, rx) = mpsc::unbounded();
        let done = Rc::new(Cell::new(false));
        let (ev, d) = (events.clone(), done.clone());
        pool.spawner()
            .spawn_local(async move {
                run(&plan, &fake, rx, |e| ev.borrow_mut().push(e)).await;
                d.set(true);
            })
            .unwrap();
        Harness {
            pool,
            events,
            commands: tx,
            done,
        }
    }

    fn samples(events: &[Event]) -> Vec<Sample> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Sample(s) => Some(s.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn keeps_exactly_c_in_flight_while_work_remains() {
        let fake = Fake::new(100.0);
        let mut h = start(plan(&[(3, 10), (5, 7)]), fake.clone());
        let mut observed = Vec::new();
        loop {
            h.pool.run_until_stalled();
            if h.done.get() {
                break;
            }
            observed.push((fake.now.get(), fake.in_flight(), fake.sent.get()));
            assert!(
                fake.complete_next(),
                "runner stalled with nothing in flight"
            );
        }
        // Stage 1 (c=3, 10 requests): 3 in flight until fewer than 3 remain unsent.
        for &(_, in_flight, sent) in &observed {
            if sent < 10 {
                assert_eq!(in_flight, 3, "sent {sent}");
            }
        }
        assert_eq!(fake.max_in_flight.get(), 5);
        assert_eq!(fake.sent.get(), 17);
        let s = samples(&h.events.borrow());
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
            fake.complete_next();
        }
        h.pool.run_until_stalled();
        h.commands.unbounded_send(Command::Stop).unwrap();
        h.pool.run_until_stalled();
        assert!(h.done.get());
        assert_eq!(fake.in_flight(), 0);
        let ev = h.events.borrow();
        let s = samples(&ev);
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
            ev.last(),
            Some(Event::RunFinished { stopped: true, .. })
        ));
    }

    #[test]
    fn skip_stage_moves_on() {
        let fake = Fake::new(10.0);
        let mut h = start(plan(&[(2, 50), (2, 4)]), fake.clone());
        h.pool.run_until_stalled();
        fake.complete_next();
        h.pool.run_until_stalled();
        h.commands.unbounded_send(Command::SkipStage).unwrap();
        loop {
            h.pool.run_until_stalled();
            if h.done.get() || !fake.complete_next() {
                break;
            }
        }
        assert!(h.done.get());
        let s = samples(&h.events.borrow());
        assert_eq!(s.iter().filter(|x| x.stage == 1 && x.ok()).count(), 4);
        assert_eq!(s.iter().filter(|x| x.stage == 0).count(), 3);
        assert!(matches!(
            h.events.borrow().last(),
            Some(Event::RunFinished { stopped: false, .. })
        ));
    }

    #[test]
    fn samples_are_relative_to_run_start_and_classified() {
        let fake = Fake::new(20.0);
        fake.now.set(5000.0);
        let fake = Rc::new(Fake {
            fail_every: 3,
            ..Rc::try_unwrap(fake).ok().unwrap()
        });
        let mut h = start(plan(&[(1, 4)]), fake.clone());
        loop {
            h.pool.run_until_stalled();
            if !fake.complete_next() {
                break;
            }
        }
        let ev = h.events.borrow();
        let s = samples(&ev);
        assert_eq!(s[0].start_ms, 0.0);
        assert_eq!(s[0].ttfb_ms(), Some(10.0));
        assert_eq!(s[3].end_ms, 80.0);
        assert_eq!(s[0].error_class, Some(ErrorClass::Http), "i=0 fails");
        assert_eq!(s[3].error_class, Some(ErrorClass::Http), "i=3 fails");
        assert_eq!(s[1].output_tokens, Some(2));
        assert_eq!(s[1].server_tokens_per_s, Some(10.0));
        assert_eq!(
            ev.iter()
                .filter(|e| matches!(e, Event::Protocol { .. }))
                .count(),
            1,
            "protocol reported once per stage"
        );
    }
}
