//! The engine's `Transport` over a native HTTP client (reqwest on tokio).
//!
//! Like the page's fetch transport, each request is registered in `send()` (so Stop reaches a
//! request whose future was not yet polled), time-stamped at its headers and at every body
//! chunk, ended by its own timeout, and classed `timeout`, `network` or `aborted` by what ended
//! it. Dropping reqwest's future closes its connection, so an aborted request really stops.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures::channel::oneshot;
use futures::future::LocalBoxFuture;
use reqwest::{Method, Version};
use stampede_engine::{
    Chunk, ErrorClass, HttpOutcome, HttpRequest, Protocol, Transport, TransportError,
};

#[derive(Default)]
struct Shared {
    /// Requests sent and not yet ended: the sender that aborts each.
    in_flight: RefCell<HashMap<u64, oneshot::Sender<()>>>,
    next_id: Cell<u64>,
}

/// Cheap to clone: one connection pool, one clock and one in-flight table. `send` spawns each
/// request as a local task, so it must be called inside a tokio `LocalSet`.
#[derive(Clone)]
pub struct NativeTransport {
    client: reqwest::Client,
    origin: Instant,
    shared: Rc<Shared>,
}

impl NativeTransport {
    /// `client` should not set its own timeout: each request's comes from the plan.
    pub fn new(client: reqwest::Client) -> NativeTransport {
        NativeTransport {
            client,
            origin: Instant::now(),
            shared: Rc::default(),
        }
    }

    fn now(&self) -> f64 {
        self.origin.elapsed().as_secs_f64() * 1000.0
    }
}

/// What ended a request before its body was read.
enum Cut {
    Aborted,
    Timeout,
    Network(String),
}

fn protocol(v: Version) -> Protocol {
    match v {
        Version::HTTP_2 => Protocol::Http2,
        Version::HTTP_3 => Protocol::Http3,
        Version::HTTP_11 => Protocol::Http1,
        other => Protocol::Unknown(format!("{other:?}")),
    }
}

/// The error and its causes in one line: reqwest's own message is only "error sending request".
fn error_text(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Send `req` and read its body into `out`, stamping the headers and each chunk on `clock`.
async fn exchange(
    client: &reqwest::Client,
    req: &HttpRequest,
    clock: &dyn Fn() -> f64,
    out: &mut HttpOutcome,
) -> Result<(), String> {
    let method = Method::from_bytes(req.method.as_bytes()).map_err(|e| e.to_string())?;
    let mut builder = client.request(method, &req.url);
    for (name, value) in &req.headers {
        builder = builder.header(name, value);
    }
    if let Some(body) = &req.body {
        builder = builder.body(body.clone());
    }
    let mut resp = builder.send().await.map_err(|e| {
        format!(
            "{} (server unreachable or connection refused)",
            error_text(&e)
        )
    })?;
    out.headers_ms = Some(clock());
    out.status = Some(resp.status().as_u16());
    out.protocol = Some(protocol(resp.version()));
    loop {
        match resp.chunk().await {
            Ok(Some(bytes)) => out.chunks.push(Chunk {
                at_ms: clock(),
                bytes: bytes.to_vec(),
            }),
            Ok(None) => return Ok(()),
            Err(e) => {
                return Err(format!(
                    "{} while reading the body (connection reset or body cut short)",
                    error_text(&e)
                ))
            }
        }
    }
}

impl Transport for NativeTransport {
    fn send(&self, req: HttpRequest) -> LocalBoxFuture<'static, HttpOutcome> {
        let this = self.clone();
        // Registered here, not when the future is first polled: Stop (`abort_all`) must reach
        // a request the runner has sent but not yet awaited, or it would go out after Stop.
        let id = this.shared.next_id.get();
        this.shared.next_id.set(id + 1);
        let (abort_tx, abort_rx) = oneshot::channel();
        this.shared.in_flight.borrow_mut().insert(id, abort_tx);
        let sent_ms = this.now();
        // Its own task, not a future the runner polls: when several responses arrive at once,
        // each is stamped as it is read, not after the engine has handled the ones before it.
        let task = tokio::task::spawn_local(async move {
            let start_ms = this.now();
            let mut out = HttpOutcome {
                start_ms,
                headers_ms: None,
                end_ms: start_ms,
                status: None,
                chunks: Vec::new(),
                error: None,
                protocol: None,
                // No browser holds requests back: what the runner sends goes on the wire (the
                // pool opens a connection per request in flight), so sent concurrency is known.
                queue_ms: Some(0.0),
            };
            // The plan's timeout is at most a day: the conversion cannot overflow.
            let timeout = Duration::from_secs_f64(req.timeout_ms.max(0.0) / 1000.0);
            let clock = || this.now();
            let result = {
                let work = exchange(&this.client, &req, &clock, &mut out);
                tokio::select! {
                    // Abort first: a request stopped before it was polled sends nothing.
                    biased;
                    Ok(()) = abort_rx => Err(Cut::Aborted),
                    _ = tokio::time::sleep(timeout) => Err(Cut::Timeout),
                    r = work => r.map_err(Cut::Network),
                }
            };
            out.end_ms = this.now();
            this.shared.in_flight.borrow_mut().remove(&id);
            let error = match result {
                Ok(()) => None,
                Err(Cut::Aborted) => Some((ErrorClass::Aborted, "stopped by the user".into())),
                Err(Cut::Timeout) => Some((
                    ErrorClass::Timeout,
                    format!("no complete response within {} s", req.timeout_ms / 1000.0),
                )),
                Err(Cut::Network(m)) => Some((ErrorClass::Network, m)),
            };
            out.error = error.map(|(class, message)| TransportError { class, message });
            out
        });
        Box::pin(async move {
            task.await.unwrap_or_else(|e| HttpOutcome {
                start_ms: sent_ms,
                headers_ms: None,
                end_ms: sent_ms,
                status: None,
                chunks: Vec::new(),
                error: Some(TransportError {
                    class: ErrorClass::Network,
                    message: format!("the request's task failed: {e}"),
                }),
                protocol: None,
                queue_ms: None,
            })
        })
    }

    fn abort_all(&self) {
        let all: Vec<_> = self.shared.in_flight.borrow_mut().drain().collect();
        for (_, tx) in all {
            let _ = tx.send(());
        }
    }

    fn sleep_until(&self, at_ms: f64) -> LocalBoxFuture<'static, ()> {
        let at = self.origin + Duration::from_secs_f64(at_ms.max(0.0) / 1000.0);
        Box::pin(tokio::time::sleep_until(at.into()))
    }

    fn now_ms(&self) -> f64 {
        self.now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_protocols_it_negotiates() {
        assert_eq!(protocol(Version::HTTP_11), Protocol::Http1);
        assert_eq!(protocol(Version::HTTP_2), Protocol::Http2);
        assert_eq!(protocol(Version::HTTP_10).label(), "HTTP/1.0");
    }

    #[test]
    fn stop_reaches_a_request_not_yet_polled() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let t = NativeTransport::new(reqwest::Client::new());
        let local = tokio::task::LocalSet::new();
        let entered = local.enter();
        let request = t.send(HttpRequest {
            method: "POST".into(),
            // Nothing listens here; an aborted request must not even try.
            url: "http://127.0.0.1:9/generate".into(),
            headers: Vec::new(),
            body: Some("{}".into()),
            timeout_ms: 5000.0,
            streaming: false,
        });
        t.abort_all();
        drop(entered);
        let out = local.block_on(&rt, request);
        let error = out.error.unwrap();
        assert_eq!(error.class, ErrorClass::Aborted);
        assert_eq!(error.message, "stopped by the user");
        assert_eq!((out.status, out.headers_ms), (None, None));
        assert!(t.shared.in_flight.borrow().is_empty());
    }
}
