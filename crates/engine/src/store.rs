//! Samples kept compactly: a fixed 56-byte row per request, with the rare or variable parts
//! (error messages, stream event times, server durations, a few response excerpts) in side
//! tables. A plain `Sample` is
//! about 240 bytes on wasm32; a million-request run must fit in a tab.
//!
//! Durations are kept as `f32` offsets from the request's start and read back rounded to the
//! microsecond: `performance.now()` is no finer (5 µs at best), and an `f32` holds a 600 s
//! timeout to 0.06 ms before rounding, to 1 µs below 16 s.

use std::collections::HashMap;

use crate::model::{ErrorClass, Sample, ServerDurations, TokenSource};

/// "None" for the `u32` columns.
const NONE_U32: u32 = u32::MAX;

/// A response's text is kept to its first this many characters…
pub const RESPONSE_CHARS: usize = 300;
/// …for the first this many requests of each stage that have one: enough to see what the
/// model said, and at most 200 × 300 characters a stage however long the run.
pub const RESPONSES_PER_STAGE: u32 = 200;

/// The first [`RESPONSE_CHARS`] characters of `text`, trimmed, with "…" when it was longer.
pub fn clip(text: &str) -> String {
    let t = text.trim();
    match t.char_indices().nth(RESPONSE_CHARS) {
        Some((cut, _)) => format!("{}…", &t[..cut]),
        None => t.to_string(),
    }
}

/// One request. Every field is fixed-size, so the row is 56 bytes on every target.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Row {
    start_ms: f64,
    /// end − start.
    latency: f32,
    /// Offsets from the start; NaN = none.
    ttfb: f32,
    ttft: f32,
    queue: f32,
    /// start − intended start (open loop); NaN = none.
    lag: f32,
    server_tps: f32,
    index: u32,
    output_tokens: u32,
    prompt_tokens: u32,
    /// Index into `extras`, or `NONE_U32`.
    extra: u32,
    status: u16,
    target: u16,
    stage: u8,
    /// 0 = success, else 1 + the class's position in `CLASSES`.
    class: u8,
    /// 0 = none, else 1 + the position in `SOURCES`.
    source: u8,
    warmup: bool,
}

// Checked when the page's wasm32 build compiles too, not only in native tests.
const _: () = assert!(std::mem::size_of::<Row>() == 56);

const CLASSES: [ErrorClass; 6] = [
    ErrorClass::Http,
    ErrorClass::Timeout,
    ErrorClass::Network,
    ErrorClass::Aborted,
    ErrorClass::Parse,
    ErrorClass::StreamError,
];
const SOURCES: [TokenSource; 3] = [
    TokenSource::Usage,
    TokenSource::StreamEvents,
    TokenSource::Estimate,
];

/// What a few requests carry beyond their row.
#[derive(Clone, Debug, Default, PartialEq)]
struct Extra {
    /// Interned: a failing run repeats the same few messages.
    message: Option<u32>,
    /// Stream event times: `events[first..first + count]`, offsets from the start.
    first_event: u32,
    events: u32,
    server_durations: Option<ServerDurations>,
    /// The start of the reply, clipped; only the first [`RESPONSES_PER_STAGE`] of a stage.
    response_text: Option<Box<str>>,
}

/// The samples of a run, compact. Push a [`Sample`], read [`Sample`]s back.
#[derive(Clone, Debug, Default)]
pub struct SampleStore {
    rows: Vec<Row>,
    extras: Vec<Extra>,
    events: Vec<f32>,
    messages: Vec<String>,
    message_ids: HashMap<String, u32>,
    /// Response texts kept so far, per stage.
    texts_per_stage: Vec<u32>,
}

fn opt32(v: Option<f64>) -> f32 {
    v.map_or(f32::NAN, |v| v as f32)
}

fn count32(v: Option<u64>) -> u32 {
    v.map_or(NONE_U32, |v| v.min(u64::from(NONE_U32 - 1)) as u32)
}

/// An `f32` offset back as ms, rounded to the microsecond.
fn ms(v: f32) -> f64 {
    (f64::from(v) * 1000.0).round() / 1000.0
}

fn back(v: f32) -> Option<f64> {
    (!v.is_nan()).then(|| ms(v))
}

fn back_count(v: u32) -> Option<u64> {
    (v != NONE_U32).then_some(u64::from(v))
}

impl SampleStore {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Bytes held, for the memory benchmark and the ceiling.
    pub fn bytes(&self) -> usize {
        self.rows.capacity() * std::mem::size_of::<Row>()
            + self.extras.capacity() * std::mem::size_of::<Extra>()
            + self.events.capacity() * 4
            + self
                .messages
                .iter()
                .map(|m| m.capacity() + 24)
                .sum::<usize>()
                * 2
            + self
                .extras
                .iter()
                .filter_map(|e| e.response_text.as_ref())
                .map(|t| t.len())
                .sum::<usize>()
    }

    /// `text` clipped, if its stage still keeps texts (counting it as kept).
    fn keep_text(&mut self, stage: u8, text: Option<&String>) -> Option<Box<str>> {
        let text = text.filter(|t| !t.trim().is_empty())?;
        let stage = usize::from(stage);
        if self.texts_per_stage.len() <= stage {
            self.texts_per_stage.resize(stage + 1, 0);
        }
        let kept = self.texts_per_stage.get_mut(stage)?;
        if *kept >= RESPONSES_PER_STAGE {
            return None;
        }
        *kept += 1;
        Some(clip(text).into_boxed_str())
    }

    pub fn push(&mut self, s: &Sample) {
        let rel = |t: Option<f64>| opt32(t.map(|t| t - s.start_ms));
        let stage = s.stage.min(u32::from(u8::MAX)) as u8;
        let response_text = self.keep_text(stage, s.response_text.as_ref());
        let needs_extra = s.error_message.is_some()
            || !s.content_ms.is_empty()
            || s.server_durations.is_some()
            || response_text.is_some();
        let extra = if needs_extra {
            let message = s.error_message.as_ref().map(|m| self.intern(m));
            let first_event = self.events.len() as u32;
            self.events
                .extend(s.content_ms.iter().map(|t| (t - s.start_ms) as f32));
            self.extras.push(Extra {
                message,
                first_event,
                events: s.content_ms.len() as u32,
                server_durations: s.server_durations.clone(),
                response_text,
            });
            (self.extras.len() - 1) as u32
        } else {
            NONE_U32
        };
        self.rows.push(Row {
            start_ms: s.start_ms,
            latency: (s.end_ms - s.start_ms) as f32,
            ttfb: rel(s.headers_ms),
            ttft: rel(s.first_token_ms),
            queue: opt32(s.queue_ms),
            lag: opt32(s.intended_ms.map(|i| s.start_ms - i)),
            server_tps: opt32(s.server_tokens_per_s),
            index: s.index.min(u64::from(NONE_U32)) as u32,
            output_tokens: count32(s.output_tokens),
            prompt_tokens: count32(s.prompt_tokens),
            extra,
            status: s.status.unwrap_or(0),
            target: s.target.min(u32::from(u16::MAX)) as u16,
            stage,
            class: s
                .error_class
                .and_then(|c| CLASSES.iter().position(|&k| k == c))
                .map_or(0, |p| p as u8 + 1),
            source: s
                .token_source
                .and_then(|t| SOURCES.iter().position(|&k| k == t))
                .map_or(0, |p| p as u8 + 1),
            warmup: s.warmup,
        });
    }

    fn intern(&mut self, m: &str) -> u32 {
        if let Some(&id) = self.message_ids.get(m) {
            return id;
        }
        let id = self.messages.len() as u32;
        self.messages.push(m.to_string());
        self.message_ids.insert(m.to_string(), id);
        id
    }

    /// Sample `i` as the engine made it (durations to the microsecond).
    pub fn get(&self, i: usize) -> Option<Sample> {
        let r = self.rows.get(i)?;
        let at = |v: f32| back(v).map(|d| r.start_ms + d);
        let extra = self.extras.get(r.extra as usize);
        let content_ms = extra
            .and_then(|e| {
                let from = e.first_event as usize;
                self.events.get(from..from + e.events as usize)
            })
            .map(|ev| ev.iter().map(|&d| r.start_ms + ms(d)).collect())
            .unwrap_or_default();
        Some(Sample {
            stage: u32::from(r.stage),
            index: u64::from(r.index),
            start_ms: r.start_ms,
            headers_ms: at(r.ttfb),
            end_ms: r.start_ms + ms(r.latency),
            status: (r.status != 0).then_some(r.status),
            error_class: CLASSES.get(usize::from(r.class).wrapping_sub(1)).copied(),
            error_message: extra
                .and_then(|e| e.message)
                .and_then(|id| self.messages.get(id as usize).cloned()),
            output_tokens: back_count(r.output_tokens),
            token_source: SOURCES.get(usize::from(r.source).wrapping_sub(1)).copied(),
            server_tokens_per_s: back(r.server_tps),
            first_token_ms: at(r.ttft),
            content_ms,
            prompt_tokens: back_count(r.prompt_tokens),
            server_durations: extra.and_then(|e| e.server_durations.clone()),
            target: u32::from(r.target),
            warmup: r.warmup,
            intended_ms: back(r.lag).map(|l| r.start_ms - l),
            queue_ms: back(r.queue),
            response_text: extra.and_then(|e| e.response_text.as_deref().map(str::to_string)),
        })
    }

    /// Requests that are not warm-ups, per stage (`stages` entries): read from the rows
    /// alone, so a progress bar can count a million samples without rebuilding them.
    pub fn measured_per_stage(&self, stages: usize) -> Vec<u64> {
        let mut out = vec![0u64; stages];
        for r in self.rows.iter().filter(|r| !r.warmup) {
            if let Some(n) = out.get_mut(usize::from(r.stage)) {
                *n += 1;
            }
        }
        out
    }

    /// The samples of stage `stage`, in the order pushed; other rows are skipped unread.
    pub fn iter_stage(&self, stage: usize) -> impl Iterator<Item = Sample> + Clone + '_ {
        (0..self.rows.len())
            .filter(move |&i| {
                self.rows
                    .get(i)
                    .is_some_and(|r| usize::from(r.stage) == stage)
            })
            .filter_map(|i| self.get(i))
    }

    /// Every sample, in the order pushed.
    pub fn iter(&self) -> impl Iterator<Item = Sample> + Clone + '_ {
        (0..self.rows.len()).filter_map(|i| self.get(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_is_56_bytes_on_every_target() {
        // 8 (start) + 6 × 4 (f32 offsets) + 4 × 4 (u32) + 2 × 2 (u16) + 4 × 1 = 56.
        assert_eq!(std::mem::size_of::<Row>(), 56);
    }

    fn streamed() -> Sample {
        Sample {
            stage: 2,
            index: 41,
            start_ms: 1234.567,
            headers_ms: Some(1240.5),
            end_ms: 1534.567,
            status: Some(200),
            output_tokens: Some(3),
            token_source: Some(TokenSource::Usage),
            first_token_ms: Some(1300.25),
            content_ms: vec![1300.25, 1400.5, 1500.125],
            prompt_tokens: Some(12),
            target: 1,
            warmup: true,
            intended_ms: Some(1230.0),
            queue_ms: Some(0.8),
            server_tokens_per_s: Some(99.5),
            response_text: Some("Machine learning is".into()),
            ..Sample::default()
        }
    }

    #[test]
    fn samples_come_back_as_they_went_in() {
        let failed = Sample {
            index: 42,
            start_ms: 10.0,
            end_ms: 12.5,
            error_class: Some(ErrorClass::Network),
            error_message: Some("TypeError: Failed to fetch".into()),
            server_durations: Some(ServerDurations {
                total_ms: Some(5.0),
                ..ServerDurations::default()
            }),
            ..Sample::default()
        };
        let mut store = SampleStore::default();
        for s in [streamed(), failed.clone(), failed.clone()] {
            store.push(&s);
        }
        assert_eq!(store.get(0), Some(streamed()));
        assert_eq!(store.get(1), Some(failed.clone()));
        assert_eq!(store.get(2), Some(failed));
        assert_eq!(store.get(3), None);
        assert_eq!(store.messages.len(), 1, "a repeated message is kept once");
        assert_eq!(store.iter().count(), 3);
    }

    #[test]
    fn response_texts_are_clipped_and_kept_for_the_first_200_of_each_stage() {
        let reply = |stage: u32, text: &str| Sample {
            stage,
            response_text: Some(text.into()),
            ..Sample::default()
        };
        let mut store = SampleStore::default();
        // 350 "é" (2 bytes each): clipped to 300 characters and an ellipsis, 601 bytes.
        store.push(&reply(0, &"é".repeat(350)));
        for _ in 1..205 {
            store.push(&reply(0, "ok"));
        }
        store.push(&reply(1, "  "));
        store.push(&reply(1, "stage two"));
        let first = store.get(0).and_then(|s| s.response_text).unwrap();
        assert_eq!(first.chars().count(), 301);
        assert!(first.ends_with('…'));
        assert_eq!(
            store.get(199).and_then(|s| s.response_text).as_deref(),
            Some("ok")
        );
        assert_eq!(
            store.get(200).and_then(|s| s.response_text),
            None,
            "the 201st of stage 0"
        );
        assert_eq!(
            store.get(205).and_then(|s| s.response_text),
            None,
            "blank text is not kept"
        );
        assert_eq!(
            store.get(206).and_then(|s| s.response_text).as_deref(),
            Some("stage two"),
            "each stage has its own allowance"
        );
        assert_eq!(
            store.extras.len(),
            201,
            "a sample without text or events needs no side-table entry"
        );
    }

    #[test]
    fn durations_round_to_the_microsecond() {
        // 600 s of latency, the longest timeout: f32 keeps it to 1/16 ms, read back as written.
        let mut store = SampleStore::default();
        store.push(&Sample {
            start_ms: 3_600_000.123,
            end_ms: 3_600_000.123 + 599_999.5,
            ..Sample::default()
        });
        let s = store.get(0).unwrap();
        assert!(
            (s.latency_ms() - 599_999.5).abs() < 1e-6,
            "{}",
            s.latency_ms()
        );
    }
}
