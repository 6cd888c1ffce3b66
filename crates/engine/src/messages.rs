//! Messages between the page and the engine's Web Worker (JSON over `postMessage`).
//!
//! The worker runs the runner and the fetch transport; the page only sends these commands and
//! renders what comes back, so chart redraws and hidden-tab timer throttling on the page do not
//! touch request timing.

use serde::{Deserialize, Serialize};

use crate::plan::Plan;
use crate::runner::{Command, Event};

/// Page → worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ToEngine {
    Start(Box<Plan>),
    Command(Command),
}

/// Worker → page: events in batches, a few a second, not a message per response.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    pub events: Vec<Event>,
    /// Requests in flight per target when the batch was sent.
    pub in_flight: Vec<u32>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RunConfig;
    use crate::model::Sample;

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
            lag_ms: vec![0.4],
            started_epoch_ms: Some(1.7e12),
            ready: false,
        };
        assert_eq!(Batch::from_json(&b.to_json()).unwrap(), b);
        assert!(ToEngine::from_json("{").is_err());
    }
}
