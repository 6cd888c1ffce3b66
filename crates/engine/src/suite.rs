//! The seed's suites, exactly (DESIGN §4), and custom stages.

use serde::{Deserialize, Serialize};

/// One stage. Closed loop (no `rate`): keep `concurrency` requests in flight until `requests`
/// have been sent. Open loop (`rate`): start `requests` requests on a schedule of `rate` per
/// second, whatever the responses do, with `concurrency` as the cap on requests in flight.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageSpec {
    pub name: String,
    pub concurrency: u32,
    pub requests: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<RateSpec>,
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
    fn suite_ids_round_trip() {
        for s in Suite::ALL {
            assert_eq!(Suite::from_id(s.id()), Some(s));
        }
        assert_eq!(Suite::from_id("nope"), None);
    }
}
