//! The fault matrix: which outcome each model request gets, and the bounded per-request log
//! behind `GET /stats/requests`.
//!
//! Each model request draws at most one fault, so the outcomes of N requests add up to N: one
//! uniform `u` in `[0, 1)` from the seeded RNG is compared against the cumulative
//! probabilities of [`Outcome::FAULTS`], in that order, and `u` past their sum means no fault.
//! The partition is the same for every request; a request that lands on a fault that cannot
//! happen to it (a stream fault on a plain request, a malformed JSON body on a stream) is
//! served normally and counted `ok`.

use std::borrow::Cow;
use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::MockConfig;

/// Requests kept by the per-request log; older ones are dropped (and counted as dropped), so
/// a long run cannot grow the server's memory without bound.
pub const REQUEST_LOG_LIMIT: usize = 100_000;

/// Longest `X-Stampede-Request` value kept, in bytes; a longer one is cut (at a character
/// boundary), again to bound memory.
pub const TAG_LIMIT: usize = 256;

/// Sum of probabilities allowed above 1, for decimal inputs like 0.1 + 0.2 + 0.7.
const SUM_SLACK: f64 = 1e-9;

/// What the mock did with one model request. The serialized names are the keys of the
/// `faults` object in `GET /stats` and the `fault` of each `GET /stats/requests` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Outcome {
    /// Served normally.
    #[serde(rename = "ok")]
    Ok,
    /// `--rate-limit-rate`: HTTP 429 with `Retry-After`.
    #[serde(rename = "http_429")]
    Http429,
    /// `--error-rate`: HTTP 500.
    #[serde(rename = "http_500")]
    Http500,
    /// `--bad-gateway-rate`: HTTP 502.
    #[serde(rename = "http_502")]
    Http502,
    /// `--unavailable-rate`: HTTP 503.
    #[serde(rename = "http_503")]
    Http503,
    /// `--gateway-timeout-rate`: HTTP 504.
    #[serde(rename = "http_504")]
    Http504,
    /// `--hang-rate`: never answered.
    #[serde(rename = "hang")]
    Hang,
    /// `--reset-rate`: the connection is aborted mid-body.
    #[serde(rename = "reset")]
    Reset,
    /// `--malformed-body-rate`: 200 with a truncated JSON body (plain requests only).
    #[serde(rename = "malformed_body")]
    MalformedBody,
    /// `--stream-error-rate`: in-band error event (streams only).
    #[serde(rename = "stream_error")]
    StreamError,
    /// `--cut-rate`: the stream ends cleanly without its terminal event (streams only).
    #[serde(rename = "cut")]
    Cut,
    /// `--malformed-rate`: one malformed event, then the rest (streams only).
    #[serde(rename = "malformed_event")]
    MalformedEvent,
    /// Rejected with 400 (unparseable request) before any draw.
    #[serde(rename = "bad_request")]
    BadRequest,
}

impl Outcome {
    /// The drawable faults in the order of the cumulative partition.
    pub const FAULTS: [Outcome; 11] = [
        Outcome::Http429,
        Outcome::Http500,
        Outcome::Http502,
        Outcome::Http503,
        Outcome::Http504,
        Outcome::Hang,
        Outcome::Reset,
        Outcome::MalformedBody,
        Outcome::StreamError,
        Outcome::Cut,
        Outcome::MalformedEvent,
    ];

    /// The CLI flag that sets this fault's probability (`None` for `Ok` and `BadRequest`).
    pub fn flag(self) -> Option<&'static str> {
        Some(match self {
            Outcome::Http429 => "--rate-limit-rate",
            Outcome::Http500 => "--error-rate",
            Outcome::Http502 => "--bad-gateway-rate",
            Outcome::Http503 => "--unavailable-rate",
            Outcome::Http504 => "--gateway-timeout-rate",
            Outcome::Hang => "--hang-rate",
            Outcome::Reset => "--reset-rate",
            Outcome::MalformedBody => "--malformed-body-rate",
            Outcome::StreamError => "--stream-error-rate",
            Outcome::Cut => "--cut-rate",
            Outcome::MalformedEvent => "--malformed-rate",
            Outcome::Ok | Outcome::BadRequest => return None,
        })
    }

    /// This fault's probability in `cfg` (0 for `Ok` and `BadRequest`).
    pub fn probability(self, cfg: &MockConfig) -> f64 {
        match self {
            Outcome::Http429 => cfg.rate_limit_rate,
            Outcome::Http500 => cfg.error_rate,
            Outcome::Http502 => cfg.bad_gateway_rate,
            Outcome::Http503 => cfg.unavailable_rate,
            Outcome::Http504 => cfg.gateway_timeout_rate,
            Outcome::Hang => cfg.hang_rate,
            Outcome::Reset => cfg.reset_rate,
            Outcome::MalformedBody => cfg.malformed_body_rate,
            Outcome::StreamError => cfg.stream_error_rate,
            Outcome::Cut => cfg.cut_rate,
            Outcome::MalformedEvent => cfg.malformed_rate,
            Outcome::Ok | Outcome::BadRequest => 0.0,
        }
    }

    /// Whether this fault can happen to a streamed (or plain) request.
    fn applies(self, streaming: bool) -> bool {
        match self {
            Outcome::MalformedBody => !streaming,
            Outcome::StreamError | Outcome::Cut | Outcome::MalformedEvent => streaming,
            _ => true,
        }
    }
}

/// Sum of every fault probability: the share of requests that draw a fault.
pub(crate) fn total(cfg: &MockConfig) -> f64 {
    Outcome::FAULTS.iter().map(|f| f.probability(cfg)).sum()
}

/// Checks each probability and their sum; the message names the flags.
pub(crate) fn validate(cfg: &MockConfig) -> Result<(), String> {
    for fault in Outcome::FAULTS {
        let p = fault.probability(cfg);
        if !(0.0..=1.0).contains(&p) {
            let flag = fault.flag().unwrap_or_default();
            return Err(format!("{flag} must be between 0 and 1, got {p}"));
        }
    }
    let sum = total(cfg);
    if sum > 1.0 + SUM_SLACK {
        let terms: Vec<String> = Outcome::FAULTS
            .iter()
            .filter(|f| f.probability(cfg) > 0.0)
            .map(|f| format!("{} {}", f.flag().unwrap_or_default(), f.probability(cfg)))
            .collect();
        return Err(format!(
            "fault probabilities must add up to at most 1 (each request draws at most one \
             fault), got {sum}: {}",
            terms.join(" + ")
        ));
    }
    Ok(())
}

/// The outcome for uniform draw `u` in `[0, 1)`.
pub(crate) fn pick(cfg: &MockConfig, u: f64, streaming: bool) -> Outcome {
    let mut upto = 0.0;
    for fault in Outcome::FAULTS {
        let p = fault.probability(cfg);
        upto += p;
        if p > 0.0 && u < upto {
            return if fault.applies(streaming) {
                fault
            } else {
                Outcome::Ok
            };
        }
    }
    Outcome::Ok
}

/// Model requests by outcome, as `GET /stats` reports them under `faults`. Each request is
/// counted once, when its outcome is decided (as it arrives), so the fields add up to the
/// requests received.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    pub ok: u64,
    pub http_429: u64,
    pub http_500: u64,
    pub http_502: u64,
    pub http_503: u64,
    pub http_504: u64,
    pub hang: u64,
    pub reset: u64,
    pub malformed_body: u64,
    pub cut: u64,
    pub stream_error: u64,
    pub malformed_event: u64,
    pub bad_request: u64,
}

impl Faults {
    /// The counter of one outcome.
    pub fn get(&self, outcome: Outcome) -> u64 {
        let mut copy = *self;
        *copy.slot(outcome)
    }

    /// Sum of every counter.
    pub fn total(&self) -> u64 {
        let all = Outcome::FAULTS
            .iter()
            .chain(&[Outcome::Ok, Outcome::BadRequest]);
        all.map(|o| self.get(*o)).sum()
    }

    pub(crate) fn add(&mut self, outcome: Outcome) {
        *self.slot(outcome) += 1;
    }

    fn slot(&mut self, outcome: Outcome) -> &mut u64 {
        match outcome {
            Outcome::Ok => &mut self.ok,
            Outcome::Http429 => &mut self.http_429,
            Outcome::Http500 => &mut self.http_500,
            Outcome::Http502 => &mut self.http_502,
            Outcome::Http503 => &mut self.http_503,
            Outcome::Http504 => &mut self.http_504,
            Outcome::Hang => &mut self.hang,
            Outcome::Reset => &mut self.reset,
            Outcome::MalformedBody => &mut self.malformed_body,
            Outcome::StreamError => &mut self.stream_error,
            Outcome::Cut => &mut self.cut,
            Outcome::MalformedEvent => &mut self.malformed_event,
            Outcome::BadRequest => &mut self.bad_request,
        }
    }
}

/// One model request in `GET /stats/requests`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// 1-based order in which outcomes were decided since start or the last reset; for
    /// requests that drew, also the order of their draws from the seeded RNG.
    pub seq: u64,
    /// The route, e.g. `/v1/chat/completions`.
    pub path: Cow<'static, str>,
    /// Whether the request asked for a stream (false when its body was rejected).
    pub stream: bool,
    pub fault: Outcome,
    /// The request's `X-Stampede-Request` header, if any (cut to [`TAG_LIMIT`] bytes).
    pub tag: Option<String>,
}

/// `GET /stats/requests`: the newest [`REQUEST_LOG_LIMIT`] requests, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestLog {
    /// Requests logged since start or the last reset.
    pub total: u64,
    /// Of those, the oldest ones no longer kept.
    pub dropped: u64,
    pub requests: Vec<RequestRecord>,
}

/// The fault counters and log, kept under the same lock as the RNG, so the log's order is
/// the draws' order.
#[derive(Default)]
pub(crate) struct Ledger {
    pub counts: Faults,
    total: u64,
    log: VecDeque<RequestRecord>,
}

impl Ledger {
    pub(crate) fn record(
        &mut self,
        path: &'static str,
        stream: bool,
        fault: Outcome,
        tag: Option<String>,
    ) {
        self.counts.add(fault);
        self.total += 1;
        if self.log.len() == REQUEST_LOG_LIMIT {
            self.log.pop_front();
        }
        self.log.push_back(RequestRecord {
            seq: self.total,
            path: Cow::Borrowed(path),
            stream,
            fault,
            tag,
        });
    }

    pub(crate) fn reset(&mut self) {
        *self = Ledger::default();
    }

    pub(crate) fn log(&self) -> RequestLog {
        RequestLog {
            total: self.total,
            dropped: self.total - self.log.len() as u64,
            requests: self.log.iter().cloned().collect(),
        }
    }
}

/// `value` cut to at most [`TAG_LIMIT`] bytes at a character boundary.
pub(crate) fn bounded_tag(value: &str) -> String {
    let mut end = value.len().min(TAG_LIMIT);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    value[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> MockConfig {
        MockConfig {
            rate_limit_rate: 0.1,
            error_rate: 0.1,
            hang_rate: 0.2,
            malformed_body_rate: 0.1,
            cut_rate: 0.1,
            ..MockConfig::default()
        }
    }

    #[test]
    fn draws_partition_the_unit_interval_in_flag_order() {
        let c = cfg();
        // [0, .1) 429, [.1, .2) 500, [.2, .4) hang, [.4, .5) malformed body, [.5, .6) cut.
        for (u, plain, stream) in [
            (0.0, Outcome::Http429, Outcome::Http429),
            (0.099, Outcome::Http429, Outcome::Http429),
            (0.15, Outcome::Http500, Outcome::Http500),
            (0.2, Outcome::Hang, Outcome::Hang),
            (0.45, Outcome::MalformedBody, Outcome::Ok),
            (0.55, Outcome::Ok, Outcome::Cut),
            (0.6, Outcome::Ok, Outcome::Ok),
            (0.999, Outcome::Ok, Outcome::Ok),
        ] {
            assert_eq!(pick(&c, u, false), plain, "plain u={u}");
            assert_eq!(pick(&c, u, true), stream, "stream u={u}");
        }
        let all = MockConfig {
            reset_rate: 1.0,
            ..MockConfig::default()
        };
        assert_eq!(pick(&all, 0.999_999, false), Outcome::Reset);
    }

    #[test]
    fn sums_over_one_are_rejected_naming_the_flags() {
        assert!(validate(&cfg()).is_ok());
        // Decimal rounding is no reason to refuse an exact 1.
        let one = MockConfig {
            error_rate: 0.1,
            bad_gateway_rate: 0.2,
            unavailable_rate: 0.7,
            ..MockConfig::default()
        };
        assert!(validate(&one).is_ok());
        let over = MockConfig {
            hang_rate: 0.6,
            reset_rate: 0.5,
            ..MockConfig::default()
        };
        let err = validate(&over).expect_err("sum 1.1");
        assert_eq!(
            err,
            "fault probabilities must add up to at most 1 (each request draws at most one \
             fault), got 1.1: --hang-rate 0.6 + --reset-rate 0.5"
        );
        let bad = MockConfig {
            gateway_timeout_rate: -0.1,
            ..MockConfig::default()
        };
        assert_eq!(
            validate(&bad).expect_err("negative"),
            "--gateway-timeout-rate must be between 0 and 1, got -0.1"
        );
    }

    #[test]
    fn the_log_keeps_the_newest_requests_and_counts_the_rest() {
        let mut l = Ledger::default();
        for i in 0..REQUEST_LOG_LIMIT + 3 {
            let fault = if i % 2 == 0 {
                Outcome::Ok
            } else {
                Outcome::Hang
            };
            l.record("/generate", false, fault, None);
        }
        let log = l.log();
        assert_eq!((log.total, log.dropped), (100_003, 3));
        assert_eq!(log.requests.len(), REQUEST_LOG_LIMIT);
        assert_eq!(log.requests[0].seq, 4);
        assert_eq!(log.requests[REQUEST_LOG_LIMIT - 1].seq, 100_003);
        assert_eq!((l.counts.ok, l.counts.hang), (50_002, 50_001));
        assert_eq!(l.counts.total(), 100_003);
        l.reset();
        assert_eq!(l.log(), RequestLog::default());
        assert_eq!(l.counts, Faults::default());
    }

    #[test]
    fn tags_are_cut_at_a_character_boundary() {
        assert_eq!(bounded_tag("run-1/req-7"), "run-1/req-7");
        let long = "é".repeat(200); // 400 bytes
        let cut = bounded_tag(&long);
        assert_eq!(cut.len(), 256);
        assert!(cut.chars().all(|c| c == 'é'));
    }
}
