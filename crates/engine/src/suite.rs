//! The seed's suites, exactly (DESIGN §4), and custom stages.

use serde::{Deserialize, Serialize};

/// One stage. Closed loop (no `rate`): keep `concurrency` requests in flight until `requests`
/// have been sent. Open loop (`rate`): start `requests` requests on a schedule of `rate` per
/// second, whatever the responses do, with `concurrency` as the cap on requests in flight.
///
/// A stage by time has `duration_s` instead of a request count (`requests` is then 0): it
/// starts requests for that long, and those in flight at the end finish and count. With
/// `ramp_from` its concurrency (closed) or rate (open) goes linearly from that value to the
/// stage's over the duration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageSpec {
    pub name: String,
    pub concurrency: u32,
    /// Requests to send; 0 in a stage by time.
    #[serde(default)]
    pub requests: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<RateSpec>,
    /// Run for this many seconds instead of a request count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<u32>,
    /// Start of a linear ramp over the duration: concurrency (a whole number) for a closed
    /// stage, requests/s for an open one; the stage's own value is the end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ramp_from: Option<f64>,
}

impl StageSpec {
    /// The stage's duration in ms, for a stage by time.
    pub fn duration_ms(&self) -> Option<f64> {
        self.duration_s.map(|d| f64::from(d) * 1000.0)
    }

    /// "20 requests" or "30 s".
    pub fn length_label(&self) -> String {
        match self.duration_s {
            Some(d) => format!("{d} s"),
            None => format!("{} requests", self.requests),
        }
    }

    /// How the stage sends: "concurrency 5", "concurrency 2 → 10", "20 requests/s, at most
    /// 50 in flight", "5 → 20 requests/s, at most 50 in flight".
    pub fn shape_label(&self) -> String {
        let from = |to: String| match self.ramp_from {
            Some(f) if self.duration_s.is_some() => format!("{f} → {to}"),
            _ => to,
        };
        match &self.rate {
            Some(r) => format!(
                "{} requests/s, at most {} in flight",
                from(r.per_s.to_string()),
                self.concurrency
            ),
            None => format!("concurrency {}", from(self.concurrency.to_string())),
        }
    }

    /// The concurrency a closed stage starts at: the ramp's start, else its own.
    pub fn start_concurrency(&self) -> u32 {
        match (self.rate.is_none(), self.ramp_from) {
            (true, Some(from)) if from.is_finite() && from >= 0.0 => from.round() as u32,
            _ => self.concurrency,
        }
    }

    /// The concurrency cap of a closed stage `elapsed_ms` into its clock. A ramp from `c0` to
    /// `c1` over `D` holds each of the `n + 1` levels between them (`n = |c1 - c0|`) for an
    /// equal `D / (n + 1)`: level(t) = c0 ± min(n, ⌊(n + 1)·t / D⌋). Its mean is (c0 + c1)/2,
    /// as the linear ramp's, and it reaches `c1` for the last step.
    pub fn concurrency_at(&self, elapsed_ms: f64) -> u32 {
        let (c0, c1) = (self.start_concurrency(), self.concurrency);
        match self.duration_ms() {
            Some(d) if c0 != c1 && d > 0.0 => {
                let n = c0.abs_diff(c1);
                // A hair over, so the step `next_level_change_ms` names is reached at that time
                // whatever the rounding of its product.
                let steps = ((f64::from(n) + 1.0) * elapsed_ms.max(0.0) / d + 1e-9).floor();
                let k = (steps.min(f64::from(n))) as u32;
                if c1 > c0 {
                    c0 + k
                } else {
                    c0 - k
                }
            }
            _ => c1,
        }
    }

    /// The concurrency a closed stage keeps in flight on average: (c0 + c1) / 2 for a ramp.
    pub fn mean_concurrency(&self) -> f64 {
        (f64::from(self.start_concurrency()) + f64::from(self.concurrency)) / 2.0
    }

    /// The arrival rate of an open stage on average, requests/s: (r0 + r1) / 2 for a ramp.
    pub fn mean_rate(&self) -> Option<f64> {
        let r1 = self.rate.as_ref()?.per_s;
        Some(match (self.ramp_from, self.duration_s) {
            (Some(r0), Some(_)) => (r0 + r1) / 2.0,
            _ => r1,
        })
    }

    /// When (ms into the stage's clock) a closed ramp next changes level, if it does.
    pub fn next_level_change_ms(&self, elapsed_ms: f64) -> Option<f64> {
        let (c0, c1) = (self.start_concurrency(), self.concurrency);
        let d = self.duration_ms()?;
        if c0 == c1 || d <= 0.0 {
            return None;
        }
        let n = f64::from(c0.abs_diff(c1));
        let step = d / (n + 1.0);
        let k = (elapsed_ms.max(0.0) / step).floor() + 1.0;
        (k <= n).then_some(k * step)
    }
}

/// Arrivals of an open-loop stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RateSpec {
    pub per_s: f64,
    /// Exponential gaps (Poisson arrivals, seeded) instead of evenly spaced ones.
    pub poisson: bool,
    #[serde(default)]
    pub seed: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Suite {
    Quick,
    #[default]
    Standard,
    Comprehensive,
    Custom,
}

/// Stage names and topics as the seed had them; stages beyond four reuse the last name pattern.
const STAGE_NAMES: [&str; 4] = [
    "Low Concurrency Test",
    "Medium Concurrency Test",
    "High Concurrency Test",
    "Very High Concurrency Test",
];
const TOPICS: [&str; 4] = [
    "machine learning",
    "artificial intelligence",
    "deep learning",
    "neural networks",
];

/// The seed's prompt for a stage: its topic follows the stage's position.
pub fn seed_prompt(stage_index: usize) -> String {
    format!(
        "Explain the concept of {} in detail.",
        TOPICS[stage_index % TOPICS.len()]
    )
}

impl Suite {
    pub const ALL: [Suite; 4] = [
        Suite::Quick,
        Suite::Standard,
        Suite::Comprehensive,
        Suite::Custom,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Suite::Quick => "Quick",
            Suite::Standard => "Standard",
            Suite::Comprehensive => "Comprehensive",
            Suite::Custom => "Custom",
        }
    }

    pub fn id(self) -> &'static str {
        match self {
            Suite::Quick => "quick",
            Suite::Standard => "standard",
            Suite::Comprehensive => "comprehensive",
            Suite::Custom => "custom",
        }
    }

    pub fn from_id(id: &str) -> Option<Suite> {
        Suite::ALL.into_iter().find(|s| s.id() == id)
    }

    /// The fixed stages of a built-in suite; `None` for Custom, whose stages the user edits.
    pub fn stages(self) -> Option<Vec<StageSpec>> {
        let shape: &[(u32, u32)] = match self {
            Suite::Quick => &[(2, 10), (5, 20)],
            Suite::Standard => &[(2, 20), (5, 50), (10, 100)],
            Suite::Comprehensive => &[(2, 50), (5, 100), (10, 200), (20, 100)],
            Suite::Custom => return None,
        };
        Some(
            shape
                .iter()
                .enumerate()
                .map(|(i, &(concurrency, requests))| StageSpec {
                    duration_s: None,
                    ramp_from: None,
                    name: STAGE_NAMES[i].to_string(),
                    concurrency,
                    requests,
                    rate: None,
                })
                .collect(),
        )
    }
}

/// A sensible name for a custom stage added at `index`.
pub fn default_stage_name(index: usize) -> String {
    STAGE_NAMES
        .get(index)
        .map(|s| s.to_string())
        .unwrap_or_else(|| format!("Stage {}", index + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(s: Suite) -> Vec<(u32, u32)> {
        s.stages()
            .unwrap()
            .iter()
            .map(|st| (st.concurrency, st.requests))
            .collect()
    }

    #[test]
    fn seed_suites_exactly() {
        assert_eq!(shape(Suite::Quick), vec![(2, 10), (5, 20)]);
        assert_eq!(shape(Suite::Standard), vec![(2, 20), (5, 50), (10, 100)]);
        assert_eq!(
            shape(Suite::Comprehensive),
            vec![(2, 50), (5, 100), (10, 200), (20, 100)]
        );
        let totals: Vec<u32> = [Suite::Quick, Suite::Standard, Suite::Comprehensive]
            .iter()
            .map(|s| s.stages().unwrap().iter().map(|st| st.requests).sum())
            .collect();
        assert_eq!(totals, vec![30, 170, 450]);
        assert_eq!(Suite::Custom.stages(), None);
        assert_eq!(Suite::default(), Suite::Standard);
    }

    #[test]
    fn seed_names_and_topics() {
        let names: Vec<String> = Suite::Comprehensive
            .stages()
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(
            names,
            [
                "Low Concurrency Test",
                "Medium Concurrency Test",
                "High Concurrency Test",
                "Very High Concurrency Test"
            ]
        );
        assert_eq!(
            seed_prompt(0),
            "Explain the concept of machine learning in detail."
        );
        assert_eq!(
            seed_prompt(3),
            "Explain the concept of neural networks in detail."
        );
        assert_eq!(default_stage_name(5), "Stage 6");
    }

    #[test]
    fn a_ramp_holds_each_level_for_an_equal_share() {
        let ramp = |from: f64, to: u32| StageSpec {
            name: "r".into(),
            concurrency: to,
            requests: 0,
            rate: None,
            duration_s: Some(4),
            ramp_from: Some(from),
        };
        // 1 → 8 over 4 s: 8 levels of 500 ms.
        let up = ramp(1.0, 8);
        let levels: Vec<u32> = (0..9)
            .map(|k| up.concurrency_at(k as f64 * 500.0))
            .collect();
        assert_eq!(levels, [1, 2, 3, 4, 5, 6, 7, 8, 8]);
        assert_eq!(up.concurrency_at(499.9), 1);
        assert_eq!(up.next_level_change_ms(0.0), Some(500.0));
        assert_eq!(
            up.next_level_change_ms(3600.0),
            None,
            "the last level holds to the end"
        );
        assert_eq!(up.mean_concurrency(), 4.5);
        // 5 → 2: 4 levels of 1 s, down.
        let down = ramp(5.0, 2);
        let levels: Vec<u32> = (0..4)
            .map(|k| down.concurrency_at(k as f64 * 1000.0))
            .collect();
        assert_eq!(levels, [5, 4, 3, 2]);
        assert_eq!(down.next_level_change_ms(1500.0), Some(2000.0));
        // No ramp: the stage's own concurrency throughout.
        let flat = StageSpec {
            ramp_from: None,
            ..ramp(0.0, 3)
        };
        assert_eq!(
            (flat.concurrency_at(0.0), flat.next_level_change_ms(0.0)),
            (3, None)
        );
        assert_eq!(flat.length_label(), "4 s");
        assert_eq!(up.shape_label(), "concurrency 1 → 8");
    }

    #[test]
    fn an_old_stage_without_the_new_fields_reads() {
        let s: StageSpec =
            serde_json::from_str(r#"{"name":"a","concurrency":2,"requests":10}"#).unwrap();
        assert_eq!((s.requests, s.duration_s, s.ramp_from), (10, None, None));
        let back = serde_json::to_string(&s).unwrap();
        assert_eq!(back, r#"{"name":"a","concurrency":2,"requests":10}"#);
    }

    #[test]
    fn suite_ids_round_trip() {
        for s in Suite::ALL {
            assert_eq!(Suite::from_id(s.id()), Some(s));
        }
        assert_eq!(Suite::from_id("nope"), None);
    }
}
