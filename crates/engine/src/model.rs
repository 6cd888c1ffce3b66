//! The nouns every other module shares: one request's record ([`Sample`]) and the small types
//! it is made of. This module imports no other engine module, so anything may import it.

use serde::{Deserialize, Serialize};

/// Chromium and Firefox open at most this many HTTP/1.1 connections per origin.
pub const HTTP1_CONNECTIONS: u32 = 6;

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

/// Where a sample's output token count came from (DESIGN §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TokenSource {
    Usage,
    StreamEvents,
    Estimate,
}

impl TokenSource {
    pub fn label(self) -> &'static str {
        match self {
            TokenSource::Usage => "usage",
            TokenSource::StreamEvents => "stream-events",
            TokenSource::Estimate => "estimate",
        }
    }
}

/// Ollama's own timings (reported in ns), in ms, to show beside the client's.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerDurations {
    pub total_ms: Option<f64>,
    pub load_ms: Option<f64>,
    pub prompt_eval_ms: Option<f64>,
    pub eval_ms: Option<f64>,
}

/// One request's record. Times are milliseconds relative to the run's start. Absent figures
/// are left out of the JSON (not written as null): a million-sample export is a third smaller.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub stage: u32,
    /// Index of the request within the run (the `{{i}}` placeholder).
    pub index: u64,
    pub start_ms: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers_ms: Option<f64>,
    pub end_ms: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_class: Option<ErrorClass>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_source: Option<TokenSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_tokens_per_s: Option<f64>,
    /// Streams: when the first content-bearing event arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_token_ms: Option<f64>,
    /// Streams: arrival of every content-bearing event (the request's chunk timeline).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub content_ms: Vec<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens: Option<u64>,
    /// The server's own timings where it reports them (Ollama).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_durations: Option<ServerDurations>,
    /// Which of the plan's targets (0 = the endpoint, then the host aliases) it went to.
    #[serde(default, rename = "origin")]
    pub target: u32,
    /// A warm-up request: listed, but not in the stage's statistics.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub warmup: bool,
    /// Open-loop stages: when the schedule meant it to start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intended_ms: Option<f64>,
    /// Time queued in the browser before it was sent (resource timing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_ms: Option<f64>,
    /// The start of the model's reply, so a reader can see what a request returned; kept
    /// short and for the first few successful requests of a stage only (see `store`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_text: Option<String>,
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

/// The HTTP version the browser reported for a target (`nextHopProtocol`). Serialized as the
/// browser's own string, so reports read the same as before this type existed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum Protocol {
    Http1,
    Http2,
    Http3,
    /// Anything else the browser names (e.g. `http/1.0`), kept as it was written.
    Unknown(String),
}

impl Protocol {
    /// From `nextHopProtocol` or ALPN; `None` for the empty string a browser gives when it
    /// will not tell (no `Timing-Allow-Origin`, or a cached response).
    pub fn parse(s: &str) -> Option<Protocol> {
        let s = s.trim();
        (!s.is_empty()).then(|| Protocol::from(s.to_string()))
    }

    pub fn label(&self) -> &str {
        match self {
            Protocol::Http1 => "http/1.1",
            Protocol::Http2 => "h2",
            Protocol::Http3 => "h3",
            Protocol::Unknown(s) => s,
        }
    }

    /// HTTP/2 and HTTP/3 multiplex requests on one connection; the browser's 6-connection cap
    /// applies only to HTTP/1.x.
    pub fn multiplexed(&self) -> bool {
        matches!(self, Protocol::Http2 | Protocol::Http3)
    }
}

impl From<String> for Protocol {
    fn from(s: String) -> Protocol {
        match s.to_ascii_lowercase().as_str() {
            "http/1.1" => Protocol::Http1,
            "h2" | "http/2" | "http/2.0" => Protocol::Http2,
            "h3" | "http/3" => Protocol::Http3,
            _ => Protocol::Unknown(s),
        }
    }
}

impl From<Protocol> for String {
    fn from(p: Protocol) -> String {
        p.label().to_string()
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// One URL requests went to (the endpoint or a host alias) and the protocol the browser used.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TargetInfo {
    pub url: String,
    pub protocol: Option<Protocol>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_round_trips_as_the_browsers_string() {
        for (s, p) in [
            ("http/1.1", Protocol::Http1),
            ("h2", Protocol::Http2),
            ("h3", Protocol::Http3),
            ("http/1.0", Protocol::Unknown("http/1.0".into())),
        ] {
            assert_eq!(Protocol::parse(s), Some(p.clone()));
            assert_eq!(serde_json::to_string(&p).unwrap(), format!("\"{s}\""));
            assert_eq!(
                serde_json::from_str::<Protocol>(&format!("\"{s}\"")).unwrap(),
                p
            );
        }
        assert_eq!(Protocol::parse(""), None);
        assert!(Protocol::Http2.multiplexed() && !Protocol::Http1.multiplexed());
    }

    #[test]
    fn derived_figures_follow_design_3() {
        // ttft 40 − 10 = 30; latency 210 − 10 = 200; tpot (200 − 30) / (18 − 1) = 10.
        let s = Sample {
            start_ms: 10.0,
            headers_ms: Some(25.0),
            end_ms: 210.0,
            first_token_ms: Some(40.0),
            content_ms: vec![40.0, 45.0, 60.0],
            output_tokens: Some(18),
            ..Sample::default()
        };
        assert_eq!(s.latency_ms(), 200.0);
        assert_eq!(s.ttfb_ms(), Some(15.0));
        assert_eq!(s.ttft_ms(), Some(30.0));
        assert_eq!(s.tpot_ms(), Some(10.0));
        assert_eq!(s.gaps_ms().collect::<Vec<_>>(), vec![5.0, 15.0]);
    }
}
