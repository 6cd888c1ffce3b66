//! The streaming machinery shared by every format: an exact schedule of events, the in-band
//! faults, and a body that sends each event at its time.
//!
//! A stream is planned in full when the request arrives (a list of events, each with its
//! offset from the stream's start) and the body sleeps until `start + offset` before each one,
//! so a late wake-up never shifts the events after it. Each event is its own body frame, and
//! the body is pending between events, so hyper flushes every event to the socket when it is
//! produced.

use std::io;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::HeaderValue;
use axum::response::Response;
use futures_util::stream;

use crate::{injected_reset, Draw, Fault, InFlight, MockConfig, Outcome, RESET_PAUSE};

/// One piece of a streamed body.
pub(crate) enum Piece {
    /// Bytes known when the stream is planned.
    Now(Bytes),
    /// Bytes made when the event is sent (timestamps, measured durations).
    Lazy(Box<dyn FnOnce() -> Bytes + Send>),
    /// Ends the body here (a cut stream).
    End,
    /// Aborts the connection here, after [`RESET_PAUSE`] so what came before reaches the
    /// client (a reset stream).
    Reset,
}

impl Piece {
    pub(crate) fn lazy(make: impl FnOnce() -> Bytes + Send + 'static) -> Piece {
        Piece::Lazy(Box::new(make))
    }
}

impl From<String> for Piece {
    fn from(s: String) -> Piece {
        Piece::Now(Bytes::from(s))
    }
}

impl From<&'static str> for Piece {
    fn from(s: &'static str) -> Piece {
        Piece::Now(Bytes::from_static(s.as_bytes()))
    }
}

struct Event {
    /// Offset from the stream's start.
    at: Duration,
    piece: Piece,
    /// Counted in `/stats` when the event is sent.
    fault: Option<Fault>,
}

/// One content-bearing chunk of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Chunk {
    /// 0-based chunk number.
    pub index: usize,
    /// Number of the first token it carries.
    pub first_token: u32,
    /// Tokens it carries (≥ 1; only the last chunk may carry fewer than tokens-per-chunk).
    pub tokens: u32,
    pub last: bool,
}

/// Milliseconds to a `Duration`, rounded up to the nanosecond (an event is never due early)
/// and saturating (at ~584 years) instead of panicking on huge values.
pub(crate) fn millis(ms: f64) -> Duration {
    // `as` saturates, and maps NaN to 0.
    Duration::from_nanos((ms * 1e6).ceil() as u64)
}

/// When each content chunk of one stream is sent.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schedule {
    /// The stream's start: the response (headers) is handed to the server right after.
    pub start: Instant,
    first_ms: f64,
    step_ms: f64,
    tokens: u32,
    per_chunk: u32,
}

impl Schedule {
    /// Starts the clock now. The first content chunk is due at `ttft + jitter`, each next one
    /// `tokens_per_chunk × per_token` later.
    pub(crate) fn new(cfg: &MockConfig, tokens: u32, jitter_ms: f64) -> Schedule {
        Schedule {
            start: Instant::now(),
            first_ms: cfg.ttft_ms + jitter_ms,
            step_ms: f64::from(cfg.tokens_per_chunk) * cfg.per_token_ms,
            tokens,
            per_chunk: cfg.tokens_per_chunk.max(1),
        }
    }

    pub(crate) fn chunks(&self) -> usize {
        self.tokens.div_ceil(self.per_chunk) as usize
    }

    pub(crate) fn chunk(&self, index: usize) -> Chunk {
        let first_token = (index as u32).saturating_mul(self.per_chunk);
        Chunk {
            index,
            first_token,
            tokens: self.per_chunk.min(self.tokens.saturating_sub(first_token)),
            last: index + 1 == self.chunks(),
        }
    }

    /// Offset of content chunk `index` from the start.
    pub(crate) fn at(&self, index: usize) -> Duration {
        millis(self.first_ms + index as f64 * self.step_ms)
    }

    /// Offset of the first content chunk.
    pub(crate) fn first(&self) -> Duration {
        self.at(0)
    }

    /// Offset of the last content chunk (the first one's when there is none).
    pub(crate) fn last(&self) -> Duration {
        self.at(self.chunks().saturating_sub(1))
    }
}

/// The wire format of one streaming API.
pub(crate) trait Format {
    fn content_type(&self) -> &'static str;
    /// Events sent right after the headers, before the first token.
    fn head(&self) -> Vec<Piece> {
        Vec::new()
    }
    fn chunk(&self, chunk: &Chunk) -> Piece;
    /// Events sent right after the last content chunk (at the first chunk's time when there
    /// is none, e.g. `--tokens 0`).
    fn tail(&self, chunks: usize) -> Vec<Piece>;
    /// The in-band error event; the stream ends after it.
    fn error(&self) -> Piece;
    /// One malformed event; the stream goes on normally after it.
    fn malformed(&self) -> Piece;
}

/// Plans the events of one stream. The fault drawn for it happens at the slot of content
/// chunk `chunks / 2` (rounded down), i.e. after half the chunks: the error event (which ends
/// the stream), the cut (which ends it cleanly but silently), the reset (which aborts it), or
/// the malformed event, after which the stream goes on with the remaining chunks and its
/// tail.
fn plan(sched: &Schedule, draw: &Draw, fmt: &impl Format) -> Vec<Event> {
    let n = sched.chunks();
    let mut events: Vec<Event> = fmt
        .head()
        .into_iter()
        .map(|piece| Event {
            at: Duration::ZERO,
            piece,
            fault: None,
        })
        .collect();
    let half = n / 2;
    for k in 0..=n {
        let at = if k < n { sched.at(k) } else { sched.last() };
        if k == half {
            if let Some((piece, fault)) = fault_piece(draw.fault, fmt) {
                events.push(Event { at, piece, fault });
                if draw.fault != Outcome::MalformedEvent {
                    return events;
                }
            }
        }
        if k < n {
            events.push(Event {
                at,
                piece: fmt.chunk(&sched.chunk(k)),
                fault: None,
            });
        } else {
            events.extend(fmt.tail(n).into_iter().map(|piece| Event {
                at,
                piece,
                fault: None,
            }));
        }
    }
    events
}

/// The event of a stream fault, with the legacy `/stats` counter it bumps when sent.
fn fault_piece(fault: Outcome, fmt: &impl Format) -> Option<(Piece, Option<Fault>)> {
    Some(match fault {
        Outcome::MalformedEvent => (fmt.malformed(), Some(Fault::Malformed)),
        Outcome::StreamError => (fmt.error(), Some(Fault::StreamError)),
        Outcome::Cut => (Piece::End, Some(Fault::Cut)),
        Outcome::Reset => (Piece::Reset, None),
        _ => return None,
    })
}

/// The streamed response: status 200 and headers at once, then the planned events. The
/// in-flight guard lives in the body, so the request counts until the body ends or the
/// client goes away (hyper drops the body).
pub(crate) fn respond(
    guard: InFlight,
    sched: &Schedule,
    draw: &Draw,
    fmt: &impl Format,
) -> Response {
    let events = plan(sched, draw, fmt).into_iter();
    let start = tokio::time::Instant::from_std(sched.start);
    let body = stream::unfold((guard, events), move |(guard, mut events)| async move {
        let event = events.next()?;
        // Past ~30 years, wait "forever" instead of overflowing the clock.
        let deadline = start
            .checked_add(event.at)
            .unwrap_or_else(|| start + Duration::from_secs(30 * 365 * 86_400));
        if tokio::time::Instant::now() < deadline {
            tokio::time::sleep_until(deadline).await;
        }
        if let Some(fault) = event.fault {
            guard.shared().count(fault);
        }
        let bytes = match event.piece {
            Piece::Now(bytes) => bytes,
            Piece::Lazy(make) => make(),
            Piece::End => return None,
            Piece::Reset => {
                tokio::time::sleep(RESET_PAUSE).await;
                return Some((Err(injected_reset()), (guard, events)));
            }
        };
        Some((Ok::<_, io::Error>(bytes), (guard, events)))
    });
    let mut resp = Response::new(Body::from_stream(body));
    let headers = resp.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(fmt.content_type()));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

/// RFC 3339 UTC time with nanoseconds, as Ollama's `created_at`.
pub(crate) fn rfc3339(t: std::time::SystemTime) -> String {
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (y, m, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_nanos()
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{SystemTime, UNIX_EPOCH};

    #[test]
    fn rfc3339_formats_utc_dates() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000000000Z");
        // 2000-02-29 12:34:56.5 UTC, a leap day in a century leap year.
        let t = UNIX_EPOCH + Duration::from_millis(951_827_696_500);
        assert_eq!(rfc3339(t), "2000-02-29T12:34:56.500000000Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_735_689_599);
        assert_eq!(rfc3339(t), "2024-12-31T23:59:59.000000000Z");
        assert!(rfc3339(SystemTime::now()).ends_with('Z'));
    }

    #[test]
    fn schedule_packs_tokens_and_spaces_chunks() {
        let cfg = MockConfig {
            ttft_ms: 100.0,
            per_token_ms: 10.0,
            tokens_per_chunk: 3,
            ..MockConfig::default()
        };
        let s = Schedule::new(&cfg, 7, 5.0);
        assert_eq!(s.chunks(), 3);
        let sizes: Vec<u32> = (0..3).map(|k| s.chunk(k).tokens).collect();
        assert_eq!(sizes, [3, 3, 1]);
        assert_eq!(s.chunk(2).first_token, 6);
        assert!(s.chunk(2).last && !s.chunk(1).last);
        assert_eq!(s.first(), Duration::from_millis(105));
        assert_eq!(s.at(1), Duration::from_millis(135));
        assert_eq!(s.last(), Duration::from_millis(165));
        let empty = Schedule::new(&cfg, 0, 0.0);
        assert_eq!(empty.chunks(), 0);
        assert_eq!(empty.last(), Duration::from_millis(100));
    }

    #[test]
    fn huge_delays_saturate() {
        assert_eq!(millis(1e300), Duration::from_nanos(u64::MAX));
        assert_eq!(millis(1.5), Duration::from_micros(1500));
    }
}
