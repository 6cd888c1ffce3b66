//! A validated run ([`Plan`]): every request of every stage can be built without a check.
//!
//! Only `RunConfig::validate` (in `config`, a layer up) and deserialization make a `Plan`, and both go through
//! [`Plan::new`], which enforces the invariants request building relies on (at least one target,
//! stages and numbers in range, a body template and header values that render). A plan that crosses the worker
//! boundary is therefore checked again on arrival, never trusted.

use serde::{Deserialize, Serialize};

use crate::http::HttpRequest;
use crate::preset::{Framing, RequestShape};
use crate::secrets;
use crate::suite::{seed_prompt, StageSpec};
use crate::template::{self, Vars};

pub const MAX_CONCURRENCY: u32 = 1000;
pub const MAX_REQUESTS: u32 = 1_000_000;
pub const MAX_TIMEOUT_S: u32 = 600;
pub const MAX_STAGES: usize = 100;
pub const MAX_TOKENS: u32 = 1_000_000;
pub const MIN_RATE: f64 = 0.1;
pub const MAX_RATE: f64 = 10_000.0;
pub const MIN_DURATION_S: u32 = 1;
pub const MAX_DURATION_S: u32 = 86_400;
/// Methods a preset or Custom may use.
pub const METHODS: [&str; 4] = ["POST", "PUT", "PATCH", "GET"];

/// The parts of a plan before its invariants are checked (and its serialized form).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanParts {
    /// The endpoint's URL and one per host alias; requests are spread over them.
    pub urls: Vec<String>,
    pub shape: RequestShape,
    pub headers: Vec<(String, String)>,
    pub model: String,
    pub max_tokens: u32,
    pub timeout_ms: f64,
    pub stages: Vec<StageSpec>,
    /// The user's prompts; empty = the seed's topic prompts.
    pub prompts: Vec<String>,
    /// Warm-up requests before each stage (`None` = one per concurrent slot).
    pub warmup: Option<u32>,
}

/// A run that can build any of its requests. Fields are private so no code can break the
/// invariants after [`Plan::new`] checked them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "PlanParts", into = "PlanParts")]
pub struct Plan {
    parts: PlanParts,
    /// Header values and URL credentials this run sends, scrubbed from what servers echo.
    secrets: Vec<String>,
}

impl TryFrom<PlanParts> for Plan {
    type Error = String;
    fn try_from(parts: PlanParts) -> Result<Plan, String> {
        Plan::new(parts)
    }
}

impl From<Plan> for PlanParts {
    fn from(plan: Plan) -> PlanParts {
        plan.parts
    }
}

impl Plan {
    /// Check the invariants request building relies on; the message names the first broken one.
    pub(crate) fn new(p: PlanParts) -> Result<Plan, String> {
        if p.urls.is_empty() {
            return Err("the plan has no target URL".into());
        }
        for u in &p.urls {
            check_url(u)?;
        }
        if p.stages.is_empty() || p.stages.len() > MAX_STAGES {
            return Err(format!("a plan has 1 to {MAX_STAGES} stages"));
        }
        for s in &p.stages {
            if !(1..=MAX_CONCURRENCY).contains(&s.concurrency) {
                return Err(format!("stage '{}' is out of range", s.name));
            }
            check_length(s).map_err(|m| format!("stage '{}': {m}", s.name))?;
            if let Some(r) = &s.rate {
                if !(r.per_s.is_finite() && (MIN_RATE..=MAX_RATE).contains(&r.per_s)) {
                    return Err(format!("stage '{}' has a rate out of range", s.name));
                }
            }
            check_ramp(s).map_err(|m| format!("stage '{}': {m}", s.name))?;
        }
        let max_timeout = f64::from(MAX_TIMEOUT_S) * 1000.0;
        if !(p.timeout_ms.is_finite() && p.timeout_ms > 0.0 && p.timeout_ms <= max_timeout) {
            return Err("the timeout is out of range".into());
        }
        if !(1..=MAX_TOKENS).contains(&p.max_tokens) {
            return Err("max tokens is out of range".into());
        }
        if p.warmup.is_some_and(|w| w > MAX_CONCURRENCY) {
            return Err("the warm-up count is out of range".into());
        }
        if !METHODS.contains(&p.shape.method.as_str()) {
            return Err(format!("method {} is not allowed", p.shape.method));
        }
        let vars = Vars {
            prompt: "",
            model: &p.model,
            max_tokens: p.max_tokens,
            i: 0,
        };
        for (name, value) in &p.headers {
            check_header(name, value)?;
            check_header_template(name, value, &p.model, p.max_tokens)?;
        }
        if p.shape.method != "GET" {
            template::render(&p.shape.body_template, &vars)?;
        }
        // A templated value differs per request: scrub its fixed parts.
        let mut secrets: Vec<String> = p
            .headers
            .iter()
            .filter(|(name, _)| !secrets::is_harmless_header(name))
            .flat_map(|(_, value)| template::literal_parts(value))
            .flat_map(secrets::header_secrets)
            .chain(p.urls.iter().flat_map(|u| secrets::url_secrets(u)))
            .collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Ok(Plan { parts: p, secrets })
    }

    /// What must never appear in an export: scrub server echoes with [`secrets::scrub`].
    pub fn secrets(&self) -> &[String] {
        &self.secrets
    }

    /// The endpoint's URL, then one per host alias. Never empty.
    pub fn urls(&self) -> &[String] {
        &self.parts.urls
    }
    pub fn stages(&self) -> &[StageSpec] {
        &self.parts.stages
    }
    pub fn shape(&self) -> &RequestShape {
        &self.parts.shape
    }
    /// Every header sent, including the `Authorization` built from the API key.
    pub fn headers(&self) -> &[(String, String)] {
        &self.parts.headers
    }
    pub fn timeout_ms(&self) -> f64 {
        self.parts.timeout_ms
    }

    /// Warm-up requests before stage `stage`.
    pub fn warmup_count(&self, stage: usize) -> u32 {
        // A closed ramp warms up at the concurrency it starts at.
        let c = self.parts.stages.get(stage).map_or(0, |s| match s.rate {
            None => s.start_concurrency().max(1),
            Some(_) => s.concurrency,
        });
        self.parts.warmup.unwrap_or(c)
    }

    /// Request `i` of stage `stage`, sent to `urls()[target]` (the first URL if out of range).
    pub fn request_to(&self, stage: usize, i: u64, target: usize) -> HttpRequest {
        let p = &self.parts;
        let prompt = match p.prompts.len() {
            0 => seed_prompt(stage),
            n => p.prompts[(i % n as u64) as usize].clone(),
        };
        let vars = Vars {
            prompt: &prompt,
            model: &p.model,
            max_tokens: p.max_tokens,
            i,
        };
        let body = (p.shape.method != "GET").then(|| {
            // `new` rendered this template with the same placeholders: it cannot fail here.
            template::render(&p.shape.body_template, &vars).unwrap_or_default()
        });
        let headers = p
            .headers
            .iter()
            .map(|(name, value)| {
                // `new` rendered every header value with these placeholders: it cannot fail.
                let value = template::render_header(value, &vars).unwrap_or_default();
                (name.clone(), value)
            })
            .collect();
        let url = p.urls.get(target).or(p.urls.first());
        HttpRequest {
            method: p.shape.method.clone(),
            url: url.cloned().unwrap_or_default(),
            headers,
            body,
            timeout_ms: p.timeout_ms,
            streaming: p.shape.framing != Framing::Json,
        }
    }

    /// Requests the stages plan, without warm-ups (a stage by time plans none).
    pub fn total_requests(&self) -> u64 {
        self.parts
            .stages
            .iter()
            .map(|s| u64::from(s.requests))
            .sum()
    }
}

/// A stage runs for a request count or a duration, exactly one of them, each in range.
pub fn check_length(s: &StageSpec) -> Result<(), String> {
    match s.duration_s {
        None if !(1..=MAX_REQUESTS).contains(&s.requests) => {
            Err("requests must be between 1 and 1,000,000".into())
        }
        Some(d) if !(MIN_DURATION_S..=MAX_DURATION_S).contains(&d) => Err(format!(
            "the duration must be between {MIN_DURATION_S} s and {MAX_DURATION_S} s (24 h)"
        )),
        Some(_) if s.requests != 0 => {
            Err("a stage runs for a request count or a duration, not both".into())
        }
        _ => Ok(()),
    }
}

/// A ramp needs a duration; it starts at a whole concurrency (closed) or a rate (open) in range.
pub fn check_ramp(s: &StageSpec) -> Result<(), String> {
    let Some(from) = s.ramp_from else {
        return Ok(());
    };
    if s.duration_s.is_none() {
        return Err("a ramp needs a duration: ramp over the stage's seconds".into());
    }
    match &s.rate {
        None if !(from.is_finite()
            && from.fract() == 0.0
            && (0.0..=f64::from(MAX_CONCURRENCY)).contains(&from)) =>
        {
            Err(format!(
                "ramp from a whole concurrency between 0 and {MAX_CONCURRENCY}"
            ))
        }
        Some(_) if !(from.is_finite() && (0.0..=MAX_RATE).contains(&from)) => Err(format!(
            "ramp from a rate between 0 and {MAX_RATE} requests/s"
        )),
        _ => Ok(()),
    }
}

/// An absolute http(s) URL with a host and no user name or password (fetch refuses those).
pub fn check_url(url: &str) -> Result<(), String> {
    if url.trim().is_empty() {
        return Err("enter the endpoint URL, e.g. http://127.0.0.1:8000".into());
    }
    let parsed = url::Url::parse(url.trim()).map_err(|e| match e {
        // The build carries no Unicode tables for international domain names (idna_adapter
        // 1.0, to keep the page small): the ASCII form works everywhere.
        url::ParseError::IdnaError => "a host name with non-ASCII letters: type its ASCII \
             (xn--…) form, e.g. xn--bcher-kva.example for bücher.example"
            .to_string(),
        e => format!("not an absolute URL ({e}); e.g. http://127.0.0.1:8000"),
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "the URL must start with http:// or https://, not {}:",
            parsed.scheme()
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".into());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(
            "remove the user name and password from the URL (browsers refuse to send them): \
             put credentials in the API key or a header"
                .into(),
        );
    }
    Ok(())
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// A header fetch will send: a token name, a Latin-1 value without control characters (fetch
/// rejects any other value, which would fail every request as a network error).
pub fn check_header(name: &str, value: &str) -> Result<(), String> {
    if name.is_empty() || !name.chars().all(is_token_char) {
        return Err(format!("'{name}' is not a valid header name"));
    }
    if value.chars().any(|c| c.is_control()) {
        return Err("the value has a control character".into());
    }
    if let Some(c) = value.chars().find(|&c| u32::from(c) > 0xFF) {
        return Err(format!(
            "the value has '{c}', which browsers cannot send in a header (only Latin-1)"
        ));
    }
    Ok(())
}

/// A header value's placeholders are known and what they render to can be sent. Checked with
/// `{{i}}` = 0: every other index renders to digits too, which any header can carry.
pub fn check_header_template(
    name: &str,
    value: &str,
    model: &str,
    max_tokens: u32,
) -> Result<(), String> {
    let vars = Vars {
        prompt: "",
        model,
        max_tokens,
        i: 0,
    };
    let rendered = template::render_header(value, &vars).map_err(|m| format!("{name}: {m}"))?;
    check_header(name, &rendered).map_err(|m| format!("{name}: {m} after substitution"))
}

/// Shorthands only tests use.
#[cfg(test)]
impl Plan {
    /// Request `i` (counted across the whole run) of stage `stage`, to the first URL.
    pub fn request(&self, stage: usize, i: u64) -> HttpRequest {
        self.request_to(stage, i, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preset::Preset;

    fn parts() -> PlanParts {
        PlanParts {
            urls: vec!["http://127.0.0.1:8000/generate".into()],
            shape: Preset::Seed.shape(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            model: String::new(),
            max_tokens: 50,
            timeout_ms: 30_000.0,
            stages: vec![StageSpec {
                duration_s: None,
                ramp_from: None,
                name: "s".into(),
                concurrency: 2,
                requests: 4,
                rate: None,
            }],
            prompts: Vec::new(),
            warmup: None,
        }
    }

    #[test]
    fn a_stage_runs_by_count_or_by_time_and_ramps_only_by_time() {
        let stage = |requests, duration_s, ramp_from, rate: Option<f64>| StageSpec {
            duration_s,
            ramp_from,
            name: "s".into(),
            concurrency: 4,
            requests,
            rate: rate.map(|per_s| crate::suite::RateSpec {
                per_s,
                poisson: false,
                seed: 0,
            }),
        };
        let check = |s: &StageSpec| check_length(s).and(check_ramp(s));
        assert_eq!(check(&stage(10, None, None, None)), Ok(()));
        assert_eq!(check(&stage(0, Some(30), Some(1.0), None)), Ok(()));
        assert_eq!(check(&stage(0, Some(86_400), Some(0.5), Some(5.0))), Ok(()));
        for (s, why) in [
            (stage(0, None, None, None), "requests must be between"),
            (stage(10, Some(30), None, None), "not both"),
            (stage(0, Some(0), None, None), "between 1 s and 86400 s"),
            (
                stage(0, Some(86_401), None, None),
                "between 1 s and 86400 s",
            ),
            (stage(10, None, Some(1.0), None), "a ramp needs a duration"),
            (stage(0, Some(30), Some(1.5), None), "whole concurrency"),
            (stage(0, Some(30), Some(1001.0), None), "whole concurrency"),
            (
                stage(0, Some(30), Some(f64::NAN), Some(5.0)),
                "ramp from a rate",
            ),
            (
                stage(0, Some(30), Some(10_001.0), Some(5.0)),
                "ramp from a rate",
            ),
        ] {
            let e = check(&s).unwrap_err();
            assert!(e.contains(why), "{s:?}: {e}");
        }
        // The plan says the same about a stage from the wire.
        let mut p = parts();
        p.stages[0].duration_s = Some(5);
        assert!(Plan::new(p.clone()).unwrap_err().contains("not both"));
        p.stages[0].requests = 0;
        assert!(Plan::new(p).is_ok());
    }

    #[test]
    fn a_plan_from_the_wire_is_checked_again() {
        let good = Plan::new(parts()).unwrap();
        let json = serde_json::to_string(&good).unwrap();
        assert_eq!(serde_json::from_str::<Plan>(&json).unwrap(), good);

        type Breaks = fn(&mut PlanParts);
        let broken: [(&str, Breaks); 10] = [
            ("no target", |p| p.urls.clear()),
            ("no stage", |p| p.stages.clear()),
            ("zero concurrency", |p| p.stages[0].concurrency = 0),
            ("NaN timeout", |p| p.timeout_ms = f64::NAN),
            ("bad method", |p| p.shape.method = "DELETE".into()),
            ("unknown placeholder", |p| {
                p.shape.body_template = "{{x}}".into()
            }),
            ("non-Latin-1 header", |p| p.headers[0].1 = "ключ".into()),
            ("unknown header placeholder", |p| {
                p.headers[0].1 = "{{x}}".into()
            }),
            ("prompt in a header", |p| {
                p.headers[0].1 = "{{prompt}}".into()
            }),
            ("non-Latin-1 model in a header", |p| {
                p.model = "ключ".into();
                p.headers[0].1 = "{{model}}".into();
            }),
        ];
        for (what, break_it) in broken {
            let mut p = parts();
            break_it(&mut p);
            let json = serde_json::to_string(&p).unwrap();
            assert!(serde_json::from_str::<Plan>(&json).is_err(), "{what}");
            assert!(Plan::new(p).is_err(), "{what}");
        }
    }

    #[test]
    fn header_values_are_rendered_per_request() {
        let mut p = parts();
        p.headers
            .push(("X-Stampede-Request".into(), "{{i}}".into()));
        p.headers
            .push(("Authorization".into(), "Bearer sk-fixed-{{i}}".into()));
        let plan = Plan::new(p).unwrap();
        let header = |i, name: &str| {
            plan.request(0, i)
                .headers
                .into_iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v)
        };
        assert_eq!(header(0, "X-Stampede-Request").as_deref(), Some("0"));
        assert_eq!(header(117, "X-Stampede-Request").as_deref(), Some("117"));
        assert_eq!(
            header(5, "Authorization").as_deref(),
            Some("Bearer sk-fixed-5")
        );
        assert_eq!(
            plan.headers()[2].1,
            "Bearer sk-fixed-{{i}}",
            "the plan keeps the template"
        );
        // The fixed part of a templated secret is still scrubbed from echoes.
        assert!(plan.secrets().contains(&"sk-fixed-".to_string()));
    }

    #[test]
    fn international_host_names_ask_for_their_ascii_form() {
        let e = check_url("http://bücher.example/v1").unwrap_err();
        assert!(e.contains("xn--"), "{e}");
        assert_eq!(check_url("http://xn--bcher-kva.example/v1"), Ok(()));
    }

    #[test]
    fn urls_with_credentials_are_refused() {
        assert!(check_url("http://user:pw@127.0.0.1:8000").is_err());
        assert!(check_url("http://user@127.0.0.1:8000").is_err());
        assert!(check_url("http://127.0.0.1:8000/v1?x=1").is_ok());
    }

    #[test]
    fn header_values_must_be_latin1() {
        assert!(check_header("X-Name", "café").is_ok()); // é is U+00E9, inside Latin-1
        assert!(check_header("X-Name", "€uro").is_err()); // € is U+20AC
        assert!(check_header("Bad Name", "x").is_err());
    }
}
