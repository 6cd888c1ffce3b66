//! The engine's `Transport` over the browser's fetch (web-sys directly).
//!
//! Each request gets its own `AbortController`: its timeout aborts it, and Stop aborts all of
//! them (a dropped Rust future would not cancel the fetch). Timing uses `performance.now()`.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use futures::future::LocalBoxFuture;
use gloo_timers::callback::Interval;
use stampede_engine::{
    Chunk, ErrorClass, HttpOutcome, HttpRequest, Protocol, Transport, TransportError,
};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AbortController, AbortSignal, Headers, PerformanceResourceTiming, ReadableStreamDefaultReader,
    ReadableStreamReadResult, RequestInit,
};

use super::now_ms;

/// Clear the browser's resource-timing buffer past this many entries, so lookups stay cheap
/// and the buffer (250 entries by default) never fills.
const TIMING_BUFFER: u32 = 64;

/// How often requests in flight are checked against their deadlines: one shared timer, where
/// a setTimeout (and a wasm closure) per request cost measurable CPU at full load. A timeout
/// therefore fires up to this much late.
const SWEEP_MS: u32 = 50;

/// A request in flight: its controller, its deadline, and what aborted it (Stop or timeout).
struct InFlight {
    controller: AbortController,
    deadline_ms: f64,
    aborted_by: Rc<Cell<Option<ErrorClass>>>,
}

impl InFlight {
    fn abort(&self, class: ErrorClass) {
        self.aborted_by.set(Some(class));
        self.controller.abort();
    }
}

#[derive(Default)]
struct Shared {
    in_flight: RefCell<HashMap<u64, InFlight>>,
    next_id: Cell<u64>,
    /// Started with the first request; it holds only a weak handle, so it ends with the transport.
    sweeper: RefCell<Option<Interval>>,
}

impl Shared {
    fn start_sweeper(self: &Rc<Shared>) {
        if self.sweeper.borrow().is_some() {
            return;
        }
        let weak = Rc::downgrade(self);
        let interval = Interval::new(SWEEP_MS, move || {
            if let Some(shared) = weak.upgrade() {
                shared.abort_expired(now_ms());
            }
        });
        *self.sweeper.borrow_mut() = Some(interval);
    }

    fn abort_expired(&self, now: f64) {
        let expired: Vec<InFlight> = self
            .in_flight
            .borrow_mut()
            .extract_if(|_, f| now >= f.deadline_ms)
            .map(|(_, f)| f)
            .collect();
        for f in expired {
            f.abort(ErrorClass::Timeout);
        }
    }
}

/// Cheap to clone: every request future holds a handle to the shared in-flight table.
#[derive(Clone, Default)]
pub struct FetchTransport(Rc<Shared>);

impl FetchTransport {
    pub fn new() -> FetchTransport {
        FetchTransport::default()
    }
}

#[wasm_bindgen]
extern "C" {
    /// The global `fetch(url, init)`, in a window and in a worker alike: no `Request` object
    /// built per call, which on the hot path of a load test is work the client should not add.
    #[wasm_bindgen(js_name = fetch, catch)]
    fn fetch_with_init(url: &str, init: &RequestInit) -> Result<js_sys::Promise, JsValue>;
}

/// Method, headers, body and abort signal of `req` as fetch options.
fn request_init(req: &HttpRequest, signal: Option<&AbortSignal>) -> Result<RequestInit, String> {
    let init = RequestInit::new();
    init.set_method(&req.method);
    let headers = Headers::new().map_err(|e| js_error_text(&e))?;
    for (name, value) in &req.headers {
        headers
            .append(name, value)
            .map_err(|e| format!("header {name}: {}", js_error_text(&e)))?;
    }
    init.set_headers(&headers);
    if let Some(body) = &req.body {
        init.set_body(&JsValue::from_str(body));
    }
    init.set_signal(signal);
    Ok(init)
}

/// Protocol and browser-queue time of the request to `url` that started at `start` and ended
/// at `end`, from resource timing. Queue = time before the request went out, less DNS and
/// connection setup: waiting for a free connection (and any CORS preflight). Without the
/// server's `Timing-Allow-Origin` the browser hides these and this returns `None`s.
fn resource_timing(url: &str, start: f64, end: f64) -> (Option<Protocol>, Option<f64>) {
    let Some(perf) = super::performance() else {
        return (None, None);
    };
    let entries = perf.get_entries_by_name_with_entry_type(url, "resource");
    let n = entries.length();
    // The list is sorted by start time (Performance Timeline spec), so a binary search finds
    // the few entries that started within 2 ms of `start`: a handful of calls across the wasm
    // boundary per request, not a scan. Concurrent requests to one URL can start in the same
    // millisecond: the end time tells them apart.
    let entry = |i: u32| entries.get(i).unchecked_into::<PerformanceResourceTiming>();
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if entry(mid).start_time() < start - 2.0 {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    let distance = |e: &PerformanceResourceTiming| {
        (e.start_time() - start).abs() + (e.response_end() - end).abs()
    };
    let found = (lo..n)
        .map(entry)
        .take_while(|e| e.start_time() <= start + 2.0)
        .min_by(|a, b| distance(a).total_cmp(&distance(b)));
    if n > TIMING_BUFFER {
        perf.clear_resource_timings();
    }
    let Some(e) = found else {
        return (None, None);
    };
    let protocol = Protocol::parse(&e.next_hop_protocol());
    let queue = (e.request_start() > 0.0).then(|| {
        let setup = (e.connect_end() - e.connect_start())
            + (e.domain_lookup_end() - e.domain_lookup_start());
        (e.request_start() - e.start_time() - setup).max(0.0)
    });
    (protocol, queue)
}

/// The whole body as bytes.
async fn read_bytes(resp: &web_sys::Response) -> Result<Vec<u8>, String> {
    let promise = resp.array_buffer().map_err(|e| js_error_text(&e))?;
    let buffer = JsFuture::from(promise)
        .await
        .map_err(|e| js_error_text(&e))?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}

/// `GET url` with `headers`: the status and the body as text. For small side requests (the
/// model list), not the load itself.
pub async fn get_text(url: &str, headers: &[(String, String)]) -> Result<(u16, String), String> {
    let req = HttpRequest {
        method: "GET".into(),
        url: url.into(),
        headers: headers.to_vec(),
        body: None,
        timeout_ms: 0.0,
        streaming: false,
    };
    let init = request_init(&req, None)?;
    let promise = fetch_with_init(url, &init).map_err(|e| js_error_text(&e))?;
    let resp: web_sys::Response = JsFuture::from(promise)
        .await
        .map_err(|e| js_error_text(&e))?
        .dyn_into()
        .map_err(|_| "fetch resolved to something other than a Response".to_string())?;
    let bytes = read_bytes(&resp).await?;
    Ok((resp.status(), String::from_utf8_lossy(&bytes).into_owned()))
}

/// Read a streamed body chunk by chunk, stamping each with its arrival time.
async fn read_chunks(resp: &web_sys::Response, chunks: &mut Vec<Chunk>) -> Result<(), String> {
    let Some(body) = resp.body() else {
        return Ok(());
    };
    let reader: ReadableStreamDefaultReader = body
        .get_reader()
        .dyn_into()
        .map_err(|_| "the body has no default reader".to_string())?;
    loop {
        let result: ReadableStreamReadResult = JsFuture::from(reader.read())
            .await
            .map_err(|e| js_error_text(&e))?
            .unchecked_into();
        if result.get_done().unwrap_or(true) {
            return Ok(());
        }
        let bytes = js_sys::Uint8Array::new(&result.get_value()).to_vec();
        chunks.push(Chunk {
            at_ms: now_ms(),
            bytes,
        });
    }
}

/// `name: message` of a rejected promise's value (usually a DOMException or TypeError).
fn js_error_text(e: &wasm_bindgen::JsValue) -> String {
    let get = |k: &str| {
        js_sys::Reflect::get(e, &k.into())
            .ok()
            .and_then(|v| v.as_string())
            .unwrap_or_default()
    };
    format!("{}: {}", get("name"), get("message"))
}

impl Transport for FetchTransport {
    fn send(&self, req: HttpRequest) -> LocalBoxFuture<'static, HttpOutcome> {
        let this = self.0.clone();
        // Registered here, not when the future is first polled: Stop (`abort_all`) must reach
        // a request the runner has sent but not yet awaited, or it would go out after Stop.
        let id = this.next_id.get();
        this.next_id.set(id + 1);
        let controller = AbortController::new().ok();
        let aborted_by = Rc::new(Cell::new(None));
        if let Some(c) = &controller {
            let entry = InFlight {
                controller: c.clone(),
                deadline_ms: now_ms() + req.timeout_ms,
                aborted_by: aborted_by.clone(),
            };
            this.in_flight.borrow_mut().insert(id, entry);
            this.start_sweeper();
        }
        Box::pin(async move {
            // Already aborted (Stop came first): fetch rejects at once and sends nothing.
            let signal = controller.as_ref().map(|c| c.signal());
            let init = request_init(&req, signal.as_ref());
            let start_ms = now_ms();
            // From the request's own start, so a timeout never ends it early.
            if let Some(entry) = this.in_flight.borrow_mut().get_mut(&id) {
                entry.deadline_ms = start_ms + req.timeout_ms;
            }
            let mut out = HttpOutcome {
                start_ms,
                headers_ms: None,
                end_ms: start_ms,
                status: None,
                chunks: Vec::new(),
                error: None,
                protocol: None,
                queue_ms: None,
            };
            let sent = match init {
                Err(e) => Err(e),
                Ok(init) => match fetch_with_init(&req.url, &init) {
                    Ok(promise) => JsFuture::from(promise).await,
                    Err(thrown) => Err(thrown),
                }
                .map_err(|e| js_error_text(&e))
                .and_then(|r| {
                    r.dyn_into::<web_sys::Response>()
                        .map_err(|_| "fetch resolved to something other than a Response".into())
                }),
            };
            let result = match sent {
                Err(e) => Err(e),
                Ok(resp) => {
                    out.headers_ms = Some(now_ms());
                    out.status = Some(resp.status());
                    if req.streaming {
                        read_chunks(&resp, &mut out.chunks).await
                    } else {
                        read_bytes(&resp).await.map(|bytes| {
                            out.chunks.push(Chunk {
                                at_ms: now_ms(),
                                bytes,
                            });
                        })
                    }
                }
            };
            out.end_ms = now_ms();
            this.in_flight.borrow_mut().remove(&id);
            match result {
                Ok(()) => {}
                Err(message) => {
                    let (class, message) = match aborted_by.get() {
                        Some(ErrorClass::Timeout) => (
                            ErrorClass::Timeout,
                            format!("no complete response within {} s", req.timeout_ms / 1000.0),
                        ),
                        Some(_) => (ErrorClass::Aborted, "stopped by the user".to_string()),
                        // Headers arrived, so the server was reached and CORS allowed it.
                        None if out.status.is_some() => (
                            ErrorClass::Network,
                            format!("{message} while reading the body (connection reset or body cut short)"),
                        ),
                        None => (
                            ErrorClass::Network,
                            format!(
                                "{message} (server unreachable, connection reset, or blocked by CORS)"
                            ),
                        ),
                    };
                    out.error = Some(TransportError { class, message });
                }
            }
            if out.status.is_some() {
                (out.protocol, out.queue_ms) = resource_timing(&req.url, start_ms, out.end_ms);
            }
            out
        })
    }

    fn abort_all(&self) {
        let all: Vec<InFlight> = self
            .0
            .in_flight
            .borrow_mut()
            .drain()
            .map(|(_, f)| f)
            .collect();
        for f in all {
            f.abort(ErrorClass::Aborted);
        }
    }

    fn sleep_until(&self, at_ms: f64) -> LocalBoxFuture<'static, ()> {
        let wait = (at_ms - now_ms()).max(0.0).ceil();
        // setTimeout rounds to whole ms; the schedule is absolute, so lateness does not add up.
        Box::pin(gloo_timers::future::TimeoutFuture::new(
            wait.min(f64::from(u32::MAX)) as u32,
        ))
    }

    fn now_ms(&self) -> f64 {
        now_ms()
    }
}
