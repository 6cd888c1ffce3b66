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
            if !(1..=MAX_CONCURRENCY).contains(&s.concurrency)
                || !(1..=MAX_REQUESTS).contains(&s.requests)
            {
                return Err(format!("stage '{}' is out of range", s.name));
            }
            if let Some(r) = &s.rate {
                if !(r.per_s.is_finite() && (MIN_RATE..=MAX_RATE).contains(&r.per_s)) {
                    return Err(format!("stage '{}' has a rate out of range", s.name));
                }
            }
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
        let c = self.parts.stages.get(stage).map_or(0, |s| s.concurrency);
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

    /// Requests the stages plan, without warm-ups.
    pub fn total_requests(&self) -> u64 {
        self.parts
            .stages
            .iter()
            .map(|s| u64::from(s.requests))
            .sum()
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
