//! One HTTP exchange as the engine sees it, and the [`Transport`] seam that performs it: the
//! browser's fetch in the page, a virtual-clock fake in tests, a native client on the command line.

use futures::future::LocalBoxFuture;

use crate::model::{ErrorClass, Protocol};

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
    /// HTTP protocol the browser reports, when it can tell.
    pub protocol: Option<Protocol>,
    /// Time the browser held the request before sending it (connection queue, preflight),
    /// from resource timing, when the server allows it (`Timing-Allow-Origin`).
    pub queue_ms: Option<f64>,
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
    /// Resolve at `at_ms` on this transport's clock (at once if that has passed).
    fn sleep_until(&self, at_ms: f64) -> LocalBoxFuture<'static, ()>;
    /// Milliseconds on a monotonic clock.
    fn now_ms(&self) -> f64;
}
