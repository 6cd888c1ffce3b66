//! Messages between the page and the engine's Web Worker (JSON over `postMessage`).
//!
//! The worker runs the runner and the fetch transport; the page only sends these commands and
//! renders what comes back, so chart redraws and hidden-tab timer throttling on the page do not
//! touch request timing.

use serde::{Deserialize, Serialize};

use crate::model::{ErrorClass, Sample};
use crate::plan::Plan;
use crate::runner::{Command, Event, InFlightRequest};

/// The message of the samples a page writes for requests its engine never answered.
pub const ENGINE_STOPPED: &str = "engine stopped";

/// Page → worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ToEngine {
    Start(Box<Plan>),
    Command(Command),
}

/// Worker → page, sent on a timer while a run lasts, even with nothing new: a batch is also
/// the worker's heartbeat.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    pub events: Vec<Event>,
    /// Requests in flight per target when the batch was sent.
    pub in_flight: Vec<u32>,
    /// Every request in flight when the batch was sent (after its events): what the page
    /// accounts for if this is the worker's last word.
    #[serde(default)]
    pub in_flight_requests: Vec<InFlightRequest>,
    /// The worker's event-loop lag: how late its 100 ms ticks fired since the last batch, ms.
    pub lag_ms: Vec<f64>,
    /// In the first batch: the run's start as `performance.timeOrigin + now()` (epoch ms), so
    /// the page can put its own observations (hidden tab, long tasks) on the run's clock.
    #[serde(default)]
    pub started_epoch_ms: Option<f64>,
    /// The worker's first message: it listens now. Messages posted to a worker before its wasm
    /// has installed a handler are lost, so the page sends `Start` only after this.
    #[serde(default)]
    pub ready: bool,
}

impl ToEngine {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
    pub fn from_json(s: &str) -> Result<ToEngine, String> {
        serde_json::from_str(s).map_err(|e| format!("bad message to the worker: {e}"))
    }
}

impl Batch {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
    pub fn from_json(s: &str) -> Result<Batch, String> {
        serde_json::from_str(s).map_err(|e| format!("bad message from the worker: {e}"))
    }
}

/// The samples of requests an engine took with it when it died: each request `in_flight`
/// lists (the last batch's) whose sample is not in `arrived`, ended `aborted` at `at_ms`
/// (run clock) with the message [`ENGINE_STOPPED`].
pub fn engine_stopped_samples(
    in_flight: &[InFlightRequest],
    arrived: impl IntoIterator<Item = Sample>,
    at_ms: f64,
) -> Vec<Sample> {
    let seen: std::collections::HashSet<u64> = arrived.into_iter().map(|s| s.index).collect();
    in_flight
        .iter()
        .filter(|r| !seen.contains(&r.index))
        .map(|r| Sample {
            stage: r.stage,
            index: r.index,
            start_ms: r.start_ms,
            end_ms: at_ms.max(r.start_ms),
            error_class: Some(ErrorClass::Aborted),
            error_message: Some(ENGINE_STOPPED.to_string()),
            target: r.target,
            warmup: r.warmup,
            intended_ms: r.intended_ms,
            ..Sample::default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RunConfig;

    #[test]
    fn messages_round_trip() {
        let plan = RunConfig::default().validate().unwrap();
        let m = ToEngine::Start(Box::new(plan));
        assert_eq!(ToEngine::from_json(&m.to_json()).unwrap(), m);
        let c = ToEngine::Command(Command::Stop);
        assert_eq!(ToEngine::from_json(&c.to_json()).unwrap(), c);
        let b = Batch {
            events: vec![
                Event::Sample(Box::new(Sample {
                    content_ms: vec![1.5],
                    warmup: true,
                    ..Sample::default()
                })),
                Event::StageFinished {
                    stage: 0,
                    at_ms: 2.0,
                    max_in_flight: vec![3],
                    dropped: 1,
                },
            ],
            in_flight: vec![2, 0],
            in_flight_requests: vec![
                InFlightRequest {
                    stage: 0,
                    index: 7,
                    target: 1,
                    start_ms: 12.5,
                    warmup: true,
                    intended_ms: None,
                },
                InFlightRequest {
                    stage: 1,
                    index: 9,
                    target: 0,
                    start_ms: 30.0,
                    warmup: false,
                    intended_ms: Some(29.0),
                },
            ],
            lag_ms: vec![0.4],
            started_epoch_ms: Some(1.7e12),
            ready: false,
        };
        assert_eq!(Batch::from_json(&b.to_json()).unwrap(), b);
        assert!(ToEngine::from_json("{").is_err());
        // A batch from a worker of the previous version (no request list) still reads.
        let old = r#"{"events": [], "in_flight": [1], "lag_ms": []}"#;
        assert_eq!(Batch::from_json(old).unwrap().in_flight_requests, vec![]);
    }

    #[test]
    fn requests_a_dead_engine_took_become_aborted_samples() {
        let req = |index, start_ms| InFlightRequest {
            stage: 1,
            index,
            target: 2,
            start_ms,
            warmup: index == 4,
            intended_ms: None,
        };
        let in_flight = [req(4, 100.0), req(5, 150.0), req(6, 180.0)];
        // Request 5's sample arrived after the list was sent (it is not lost).
        let arrived = [Sample {
            index: 5,
            ..Sample::default()
        }];
        let lost = engine_stopped_samples(&in_flight, arrived.clone(), 3400.0);
        assert_eq!(lost.len(), 2);
        assert_eq!(
            lost.iter()
                .map(|s| (s.index, s.stage, s.target, s.start_ms, s.end_ms, s.warmup))
                .collect::<Vec<_>>(),
            vec![
                (4, 1, 2, 100.0, 3400.0, true),
                (6, 1, 2, 180.0, 3400.0, false)
            ]
        );
        assert!(lost
            .iter()
            .all(|s| s.error_class == Some(ErrorClass::Aborted)
                && s.error_message.as_deref() == Some("engine stopped")
                && s.status.is_none()));
        // A clock that noticed "before" the start never makes a negative latency.
        assert_eq!(
            engine_stopped_samples(&in_flight, Vec::new(), 50.0)[0].end_ms,
            100.0
        );
    }
}
