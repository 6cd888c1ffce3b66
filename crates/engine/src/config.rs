//! What the user edits ([`RunConfig`]) and its validation into a [`Plan`].
//!
//! Validation returns every problem at once, each tied to the input it belongs to, so the UI can
//! show the message next to that input.

use serde::{Deserialize, Serialize};

use crate::model::HTTP1_CONNECTIONS;
use crate::plan::{
    check_header, check_header_template, check_length, check_ramp, check_url, Plan, PlanParts,
    MAX_CONCURRENCY, MAX_RATE, MAX_STAGES, MAX_TIMEOUT_S, MAX_TOKENS, METHODS, MIN_RATE,
};
use crate::preset::{Preset, RequestShape};
use crate::secrets::{self, REDACTED};
use crate::suite::{RateSpec, StageSpec, Suite};
use crate::template::{self, Vars};
use crate::thresholds::{Slo, SloMetric};

/// Everything the user sets before a run. The API key is never serialized.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    pub preset: Preset,
    /// Base URL for built-in presets, full URL for Custom.
    pub endpoint: String,
    /// Used by Custom only; built-in presets use [`Preset::shape`].
    pub custom: RequestShape,
    pub model: String,
    pub max_tokens: u32,
    /// Custom prompts, one per line, used in turn; empty = the seed's topic prompt per stage.
    #[serde(default)]
    pub prompts: String,
    /// Extra headers, one `Name: value` per line, as typed.
    pub headers: String,
    #[serde(skip)]
    pub api_key: String,
    pub timeout_s: u32,
    pub suite: Suite,
    /// Stages of the Custom suite (built-in suites ignore this).
    pub custom_stages: Vec<StageSpec>,
    /// More base URLs that reach the same server (host aliases), one per line. Requests are
    /// spread so that no origin has more in flight than HTTP/1.1's per-origin cap allows.
    #[serde(default)]
    pub aliases: String,
    /// Warm-up requests before each stage, excluded from its statistics; `None` = one per
    /// concurrent slot.
    #[serde(default)]
    pub warmup: Option<u32>,
    /// The user's opt-in to export every header value as typed ("Include header values in
    /// exports"); off, only harmless headers keep their values.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub include_header_values: bool,
    /// The thresholds each stage is judged against (empty: none); left out of the JSON when
    /// empty, so configs without one read and write as before.
    #[serde(default, skip_serializing_if = "Slo::is_empty")]
    pub slo: Slo,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            preset: Preset::Seed,
            endpoint: "http://127.0.0.1:8000".to_string(),
            custom: Preset::Custom.shape(),
            model: String::new(),
            max_tokens: 50,
            prompts: String::new(),
            headers: String::new(),
            api_key: String::new(),
            timeout_s: 30,
            suite: Suite::Standard,
            custom_stages: Suite::Quick.stages().unwrap_or_default(),
            aliases: String::new(),
            warmup: None,
            include_header_values: false,
            slo: Slo::default(),
        }
    }
}

/// Which input a validation message belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    Endpoint,
    Model,
    MaxTokens,
    Headers,
    Timeout,
    Method,
    BodyTemplate,
    TextPointer,
    TokensPointer,
    ReasoningPointer,
    DonePointer,
    Stages,
    StageName(usize),
    StageConcurrency(usize),
    StageRequests(usize),
    StageRate(usize),
    /// Seconds of a stage by time.
    StageDuration(usize),
    /// The start of a stage's ramp.
    StageRampFrom(usize),
    Aliases,
    Warmup,
    ApiKey,
    /// One threshold of the SLO section.
    Slo(SloMetric),
}

impl Field {
    /// The input's name as its label reads, for "Fix 2 fields: Timeout, Stage 1 requests".
    pub fn label(self) -> String {
        let stage = |i: usize, what: &str| format!("Stage {} {what}", i + 1);
        match self {
            Field::Endpoint => "Endpoint URL".into(),
            Field::Model => "Model".into(),
            Field::ApiKey => "API key".into(),
            Field::MaxTokens => "Max output tokens".into(),
            Field::Timeout => "Timeout".into(),
            Field::Aliases => "Host aliases".into(),
            Field::Warmup => "Warm-up requests".into(),
            Field::Headers => "Extra headers".into(),
            Field::Method => "Method".into(),
            Field::BodyTemplate => "Body template".into(),
            Field::TextPointer => "Generated text pointer".into(),
            Field::TokensPointer => "Token count pointer".into(),
            Field::ReasoningPointer => "Reasoning pointer".into(),
            Field::DonePointer => "Terminal event pointer".into(),
            Field::Stages => "Stages".into(),
            Field::StageName(i) => stage(i, "name"),
            Field::StageConcurrency(i) => stage(i, "concurrency"),
            Field::StageRequests(i) => stage(i, "requests"),
            Field::StageRate(i) => stage(i, "rate"),
            Field::StageDuration(i) => stage(i, "duration"),
            Field::StageRampFrom(i) => stage(i, "ramp from"),
            Field::Slo(m) => m.label(),
        }
    }

    /// This field once stage `removed` is deleted: the same, one row up, or gone with its row.
    /// Keeps what was typed in the rows below attached to them.
    pub fn after_removing_stage(self, removed: usize) -> Option<Field> {
        let shift = |i: usize, f: fn(usize) -> Field| match i.cmp(&removed) {
            std::cmp::Ordering::Less => Some(f(i)),
            std::cmp::Ordering::Equal => None,
            std::cmp::Ordering::Greater => Some(f(i - 1)),
        };
        match self {
            Field::StageName(i) => shift(i, Field::StageName),
            Field::StageConcurrency(i) => shift(i, Field::StageConcurrency),
            Field::StageRequests(i) => shift(i, Field::StageRequests),
            Field::StageRate(i) => shift(i, Field::StageRate),
            Field::StageDuration(i) => shift(i, Field::StageDuration),
            Field::StageRampFrom(i) => shift(i, Field::StageRampFrom),
            other => Some(other),
        }
    }

    /// Where the input sits in the form, top to bottom and row by row, to list fields in the
    /// order a reader meets them.
    pub fn position(self) -> (u8, usize, u8) {
        match self {
            Field::Endpoint => (0, 0, 0),
            Field::Model => (1, 0, 0),
            Field::ApiKey => (2, 0, 0),
            Field::MaxTokens => (3, 0, 0),
            Field::Timeout => (4, 0, 0),
            Field::Aliases => (5, 0, 0),
            Field::Warmup => (6, 0, 0),
            Field::Headers => (7, 0, 0),
            Field::Method => (8, 0, 0),
            Field::BodyTemplate => (9, 0, 0),
            Field::TextPointer => (10, 0, 0),
            Field::TokensPointer => (11, 0, 0),
            Field::ReasoningPointer => (12, 0, 0),
            Field::DonePointer => (13, 0, 0),
            Field::StageName(i) => (14, i, 0),
            Field::StageConcurrency(i) => (14, i, 1),
            Field::StageRequests(i) => (14, i, 2),
            // Duration takes the place of the request count in a stage by time.
            Field::StageDuration(i) => (14, i, 2),
            Field::StageRate(i) => (14, i, 3),
            Field::StageRampFrom(i) => (14, i, 4),
            Field::Stages => (15, 0, 0),
            Field::Slo(m) => (
                16,
                SloMetric::ALL.iter().position(|x| *x == m).unwrap_or(0),
                0,
            ),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct FieldError {
    pub field: Field,
    pub message: String,
}

/// A whole number typed in a form field, or why the text is not one. Nothing is rounded or
/// cut behind the user's back: "0.5", "-1", "1e9" and "" are refused with a reason, never read
/// as 0, 1, 9 or 0. Spaces around the digits are ignored (they cannot be seen).
pub fn parse_whole(text: &str) -> Result<u32, String> {
    let t = text.trim();
    let number = t.parse::<f64>().is_ok_and(f64::is_finite);
    if t.is_empty() {
        Err("enter a whole number".into())
    } else if t.starts_with('-') && number {
        Err(format!(
            "{t} is negative: enter a whole number of 0 or more"
        ))
    } else if t.contains(['e', 'E']) && number {
        Err(format!("write the number out in full: {t} has an exponent"))
    } else if number && !t.chars().all(|c| c.is_ascii_digit() || c == '+') {
        Err(format!("{t} is not a whole number: leave out the decimals"))
    } else if number {
        t.parse::<u32>().map_err(|_| format!("{t} is too large"))
    } else {
        Err(format!("{t} is not a number: use the digits 0–9"))
    }
}

/// A rate in requests/s typed in a stage row: empty is a closed-loop stage (`None`); decimals
/// are fine, a sign or an exponent is refused like [`parse_whole`]'s.
pub fn parse_rate(text: &str) -> Result<Option<f64>, String> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() && t.starts_with('-') => Err(format!(
            "{t} is negative: enter requests per second, or leave it empty"
        )),
        Ok(v) if v.is_finite() && t.contains(['e', 'E']) => {
            Err(format!("write the number out in full: {t} has an exponent"))
        }
        Ok(v) if v.is_finite() => Ok(Some(v)),
        _ => Err(format!(
            "{t} is not a number: use digits and a decimal point"
        )),
    }
}

/// An SLO threshold typed in the form: empty is no threshold (`None`); decimals are fine, a
/// sign or an exponent is refused like [`parse_whole`]'s. The range is checked by `validate`.
pub fn parse_threshold(text: &str) -> Result<Option<f64>, String> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() && t.starts_with('-') => Err(format!(
            "{t} is negative: enter a threshold above 0, or leave it empty"
        )),
        Ok(v) if v.is_finite() && t.contains(['e', 'E']) => {
            Err(format!("write the number out in full: {t} has an exponent"))
        }
        Ok(v) if v.is_finite() => Ok(Some(v)),
        _ => Err(format!(
            "{t} is not a number: use digits and a decimal point"
        )),
    }
}

/// Headers a browser sets itself and refuses from scripts: naming them is a user mistake.
const FORBIDDEN_HEADERS: [&str; 8] = [
    "host",
    "content-length",
    "connection",
    "origin",
    "referer",
    "cookie",
    "keep-alive",
    "transfer-encoding",
];

impl RunConfig {
    /// The stages this config runs.
    pub fn stages(&self) -> Vec<StageSpec> {
        self.suite
            .stages()
            .unwrap_or_else(|| self.custom_stages.clone())
    }

    /// Non-blank lines of the prompt list, trimmed.
    pub fn prompt_list(&self) -> Vec<String> {
        self.prompts
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    }

    pub fn shape(&self) -> RequestShape {
        match self.preset {
            Preset::Custom => self.custom.clone(),
            p => p.shape(),
        }
    }

    /// The URL requests go to: base + preset path, unless the user already typed the path.
    pub fn request_url(&self) -> String {
        self.url_for(&self.endpoint)
    }

    /// Non-blank lines of the alias list, trimmed.
    pub fn alias_list(&self) -> Vec<String> {
        self.aliases
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// For a loopback endpoint whose largest stage needs more than one HTTP/1.1 origin:
    /// 127.0.0.2, 127.0.0.3 … with the same scheme, port and path, as many as that stage needs.
    /// The server must listen on those addresses too.
    pub fn suggested_aliases(&self) -> Option<Vec<String>> {
        let url = url::Url::parse(self.endpoint.trim()).ok()?;
        let loopback = match url.host()? {
            url::Host::Ipv4(ip) => ip.is_loopback(),
            url::Host::Domain(d) => d == "localhost",
            url::Host::Ipv6(_) => false,
        };
        let top = self
            .stages()
            .iter()
            .map(|s| s.concurrency)
            .max()
            .unwrap_or(1);
        let origins = top.div_ceil(HTTP1_CONNECTIONS).min(254);
        if !loopback || origins < 2 {
            return None;
        }
        let list = (2..=origins)
            .filter_map(|n| {
                let mut alias = url.clone();
                alias.set_host(Some(&format!("127.0.0.{n}"))).ok()?;
                Some(alias.as_str().trim_end_matches('/').to_string())
            })
            .collect();
        Some(list)
    }

    /// The preset's path goes before any query (`…/v1?key=k` → `…/v1/chat/completions?key=k`).
    /// Whatever part of the path the base already ends with is not added again: `…/v1` and
    /// `…/v1/chat/completions` both give `…/v1/chat/completions`, never `/v1/v1/…`.
    fn url_for(&self, base: &str) -> String {
        let base = base.trim();
        let (before_query, query) = match base.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (base, None),
        };
        let stem = before_query.trim_end_matches('/');
        let rest = missing_path(url_path(stem), self.preset.path());
        if rest.is_empty() {
            return base.to_string();
        }
        match query {
            Some(q) => format!("{stem}{rest}?{q}"),
            None => format!("{stem}{rest}"),
        }
    }

    /// A copy safe to export or share (DESIGN §8): the API key dropped; header values kept only
    /// for harmless names unless the user opted in; credential-like URL query values replaced;
    /// the Custom request shape kept only when the Custom preset uses it.
    pub fn redacted(&self) -> RunConfig {
        let headers = self
            .headers
            .lines()
            .map(|line| match line.split_once(':') {
                Some((name, _))
                    if !self.include_header_values && !secrets::is_harmless_header(name) =>
                {
                    format!("{}: {REDACTED}", name.trim())
                }
                _ => line.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n");
        let aliases = self
            .aliases
            .lines()
            .map(secrets::redact_url)
            .collect::<Vec<_>>()
            .join("\n");
        RunConfig {
            endpoint: secrets::redact_url(&self.endpoint),
            aliases,
            headers,
            api_key: String::new(),
            custom: if self.preset == Preset::Custom {
                self.custom.clone()
            } else {
                Preset::Custom.shape()
            },
            ..self.clone()
        }
    }

    /// For a base URL that already ends in another API's path (`…/api/chat` with the seed
    /// preset), what to do: the preset's path would go after it.
    fn foreign_path(&self, base: &str) -> Option<String> {
        let own = self.preset.path();
        if own.is_empty() {
            return None;
        }
        let path = url_path(
            base.split_once('?')
                .map_or(base, |(b, _)| b)
                .trim()
                .trim_end_matches('/'),
        );
        // Typed as the full request URL: taken as it stands.
        if missing_path(path, own).is_empty() {
            return None;
        }
        let other = Preset::ALL
            .into_iter()
            .map(Preset::path)
            .filter(|p| !p.is_empty() && *p != own && path.ends_with(p) && !own.ends_with(p))
            .max_by_key(|p| p.len())?;
        Some(format!(
            "this URL already ends in {other}, another API's path: enter the server's base URL \
             (requests go to its {own}), or pick the preset for {other}"
        ))
    }

    /// Make custom stage `i` a stage by time (`by_time`: it keeps or gets a duration, default
    /// 60 s) or by request count (it keeps or gets a count, default 20, and loses its ramp).
    pub fn set_stage_by_time(&mut self, i: usize, by_time: bool) {
        let Some(s) = self.custom_stages.get_mut(i) else {
            return;
        };
        if by_time {
            s.duration_s = s.duration_s.or(Some(60));
            s.requests = 0;
        } else {
            s.duration_s = None;
            s.ramp_from = None;
            if s.requests == 0 {
                s.requests = 20;
            }
        }
    }

    /// Set the number field `field` from the text typed in it, if the text is a valid number;
    /// otherwise leave the config as it was and say why. Stage fields change the Custom suite's
    /// stages (the only editable ones).
    pub fn set_number(&mut self, field: Field, text: &str) -> Result<(), String> {
        fn stage(c: &mut RunConfig, i: usize) -> Result<&mut StageSpec, String> {
            c.custom_stages
                .get_mut(i)
                .ok_or_else(|| format!("there is no stage {}", i + 1))
        }
        match field {
            Field::MaxTokens => self.max_tokens = parse_whole(text)?,
            Field::Timeout => self.timeout_s = parse_whole(text)?,
            Field::Warmup => {
                self.warmup = match text.trim() {
                    "" => None,
                    t => Some(parse_whole(t)?),
                }
            }
            Field::StageConcurrency(i) => {
                let v = parse_whole(text)?;
                stage(self, i)?.concurrency = v;
            }
            Field::StageRequests(i) => {
                let v = parse_whole(text)?;
                stage(self, i)?.requests = v;
            }
            Field::StageRate(i) => {
                let v = parse_rate(text)?;
                let s = stage(self, i)?;
                let (poisson, seed) = s.rate.as_ref().map_or((false, 1), |r| (r.poisson, r.seed));
                s.rate = v.map(|per_s| RateSpec {
                    per_s,
                    poisson,
                    seed,
                });
            }
            Field::StageDuration(i) => {
                let v = parse_whole(text)?;
                let s = stage(self, i)?;
                s.duration_s = Some(v);
                s.requests = 0;
            }
            Field::StageRampFrom(i) => {
                let v = parse_rate(text)
                    .map_err(|m| m.replace("requests per second", "where the ramp starts"))?;
                stage(self, i)?.ramp_from = v;
            }
            Field::Slo(m) => self.slo.set(m, parse_threshold(text)?),
            other => return Err(format!("{} is not a number field", other.label())),
        }
        Ok(())
    }

    /// [`RunConfig::validate`] with the texts typed in the number fields (`typed`, as
    /// [`RunConfig::set_number`] got them): a text that is not a valid number is its field's
    /// error, in place of any the config's last valid value gives, so nothing runs with a
    /// number the user did not type. Stage texts count only while their row is on screen (the
    /// Custom suite, an existing stage).
    pub fn validate_typed(&self, typed: &[(Field, String)]) -> Result<Plan, Vec<FieldError>> {
        let row = |i: usize| {
            (self.suite == Suite::Custom)
                .then(|| self.custom_stages.get(i))
                .flatten()
        };
        let on_screen = |f: Field| match f {
            Field::StageConcurrency(i) | Field::StageRate(i) => row(i).is_some(),
            Field::StageRequests(i) => row(i).is_some_and(|s| s.duration_s.is_none()),
            Field::StageDuration(i) | Field::StageRampFrom(i) => {
                row(i).is_some_and(|s| s.duration_s.is_some())
            }
            _ => true,
        };
        let typing: Vec<FieldError> = typed
            .iter()
            .filter(|(f, _)| on_screen(*f))
            .filter_map(|(f, text)| {
                let message = self.clone().set_number(*f, text).err()?;
                Some(FieldError { field: *f, message })
            })
            .collect();
        match self.validate() {
            Ok(plan) if typing.is_empty() => Ok(plan),
            Ok(_) => Err(typing),
            Err(mut errors) => {
                for t in typing {
                    match errors.iter_mut().find(|e| e.field == t.field) {
                        Some(e) => *e = t,
                        None => errors.push(t),
                    }
                }
                Err(errors)
            }
        }
    }

    /// Check everything; on success the plan can build any request without failing.
    pub fn validate(&self) -> Result<Plan, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut err = |field, message: String| errors.push(FieldError { field, message });

        let url = self.request_url();
        if was_redacted(&self.endpoint) {
            err(
                Field::Endpoint,
                format!(
                    "the report replaced a credential in this URL with {REDACTED}: type it again"
                ),
            );
        } else if let Err(m) = check_url(&self.endpoint) {
            err(Field::Endpoint, m);
        } else if let Some(m) = self.foreign_path(&self.endpoint) {
            err(Field::Endpoint, m);
        }
        let aliases = self.alias_list();
        for (n, a) in aliases.iter().enumerate() {
            let problem = if was_redacted(a) {
                Err(format!(
                    "the report replaced a credential in this URL with {REDACTED}: type it again"
                ))
            } else {
                check_url(a)
            };
            if let Err(m) = problem {
                err(Field::Aliases, format!("line {}: {m}", n + 1));
                break;
            }
        }
        if self.warmup.is_some_and(|w| w > MAX_CONCURRENCY) {
            err(
                Field::Warmup,
                format!(
                    "warm-up must be a whole number from 0 to {MAX_CONCURRENCY} \
                     (empty: one per concurrent slot)"
                ),
            );
        }
        if self.preset.needs_model() && self.model.trim().is_empty() {
            err(
                Field::Model,
                "this preset needs a model name (the server's model id)".into(),
            );
        }
        if !(1..=MAX_TOKENS).contains(&self.max_tokens) {
            err(
                Field::MaxTokens,
                "max output tokens must be between 1 and 1,000,000".into(),
            );
        }
        if !(1..=MAX_TIMEOUT_S).contains(&self.timeout_s) {
            err(
                Field::Timeout,
                format!("timeout must be between 1 and {MAX_TIMEOUT_S} seconds"),
            );
        }
        let mut headers = match parse_headers(&self.headers) {
            Ok(h) => h,
            Err(m) => {
                err(Field::Headers, m);
                Vec::new()
            }
        };
        let model = self.model.trim();
        if let Some(m) = headers
            .iter()
            .find_map(|(n, v)| check_header_template(n, v, model, self.max_tokens).err())
        {
            err(Field::Headers, m);
        }
        let redacted: Vec<&str> = headers
            .iter()
            .filter(|(_, v)| was_redacted(v))
            .map(|(n, _)| n.as_str())
            .collect();
        if !redacted.is_empty() {
            err(
                Field::Headers,
                format!(
                    "the report replaced the value of {} with {REDACTED}: type the value again \
                     (it is not sent as it stands)",
                    redacted.join(", ")
                ),
            );
        }
        let shape = self.shape();
        let method = shape.method.trim().to_ascii_uppercase();
        if !METHODS.contains(&method.as_str()) {
            err(
                Field::Method,
                "method must be POST, PUT, PATCH or GET".into(),
            );
        }
        let sample = Vars {
            prompt: "a \"quoted\" prompt\nwith a newline",
            model: &self.model,
            max_tokens: self.max_tokens,
            i: 0,
        };
        if method != "GET" {
            match template::render(&shape.body_template, &sample) {
                Err(m) => err(Field::BodyTemplate, m),
                Ok(body) => {
                    if let Err(e) = serde_json::from_str::<serde_json::Value>(&body) {
                        err(
                            Field::BodyTemplate,
                            format!("the body is not valid JSON after substitution: {e}"),
                        );
                    }
                }
            }
        }
        if !is_pointer(&shape.text_pointer) || shape.text_pointer.is_empty() {
            err(
                Field::TextPointer,
                "a JSON pointer such as /choices/0/message/content is needed".into(),
            );
        }
        for (field, p) in [
            (Field::ReasoningPointer, &shape.reasoning_pointer),
            (Field::DonePointer, &shape.done_pointer),
        ] {
            if !is_pointer(p) {
                err(
                    field,
                    "a JSON pointer starts with '/' (or leave it empty)".into(),
                );
            }
        }
        if !is_pointer(&shape.tokens_pointer) {
            err(
                Field::TokensPointer,
                "a JSON pointer starts with '/' (or leave it empty to estimate)".into(),
            );
        }

        if let Err(m) = check_header("Authorization", self.api_key.trim()) {
            err(
                Field::ApiKey,
                format!("the API key {}", m.trim_start_matches("the value ")),
            );
        } else if self.api_key.contains("{{") {
            // Header values are templates (`{{i}}`): a key must not read as one.
            err(Field::ApiKey, "the API key cannot contain '{{'".into());
        }
        let stages = self.stages();
        if stages.is_empty() {
            err(Field::Stages, "add at least one stage".into());
        }
        if stages.len() > MAX_STAGES {
            err(Field::Stages, format!("at most {MAX_STAGES} stages"));
        }
        for (i, s) in stages.iter().enumerate() {
            if s.name.trim().is_empty() {
                err(Field::StageName(i), "name the stage".into());
            }
            if !(1..=MAX_CONCURRENCY).contains(&s.concurrency) {
                err(
                    Field::StageConcurrency(i),
                    format!("concurrency must be between 1 and {MAX_CONCURRENCY}"),
                );
            }
            if let Err(m) = check_length(s) {
                let field = match s.duration_s {
                    Some(_) => Field::StageDuration(i),
                    None => Field::StageRequests(i),
                };
                err(field, m);
            }
            if let Err(m) = check_ramp(s) {
                err(Field::StageRampFrom(i), m);
            }
            if let Some(r) = &s.rate {
                if !(r.per_s.is_finite() && (MIN_RATE..=MAX_RATE).contains(&r.per_s)) {
                    err(
                        Field::StageRate(i),
                        format!("the rate must be between {MIN_RATE} and {MAX_RATE} requests/s"),
                    );
                }
            }
        }

        for (m, v) in self.slo.given() {
            let ok = match m {
                SloMetric::ErrorRate => v.is_finite() && (0.0..=100.0).contains(&v),
                _ => v.is_finite() && v > 0.0,
            };
            if !ok {
                let range = match m {
                    SloMetric::ErrorRate => "from 0 to 100",
                    _ => "above 0",
                };
                err(
                    Field::Slo(m),
                    format!("a threshold {range} is needed (or leave it empty)"),
                );
            }
        }

        if !errors.is_empty() {
            return Err(errors);
        }
        if method != "GET"
            && !headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        {
            headers.push(("Content-Type".into(), "application/json".into()));
        }
        let key = self.api_key.trim();
        if !key.is_empty() {
            headers.push(("Authorization".into(), format!("Bearer {key}")));
        }
        let mut urls = vec![url];
        urls.extend(aliases.iter().map(|a| self.url_for(a)));
        Plan::new(PlanParts {
            urls,
            shape: RequestShape { method, ..shape },
            headers,
            model: self.model.trim().to_string(),
            max_tokens: self.max_tokens,
            timeout_ms: f64::from(self.timeout_s) * 1000.0,
            stages,
            prompts: self.prompt_list(),
            warmup: self.warmup,
        })
        // Every invariant `Plan::new` checks was checked above with a field to show it at.
        .map_err(|message| {
            vec![FieldError {
                field: Field::Endpoint,
                message,
            }]
        })
    }
}

/// The path of a URL without its query: what follows the host (`http://h:1/v1` → `/v1`).
fn url_path(url: &str) -> &str {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    after_scheme
        .find('/')
        .and_then(|i| after_scheme.get(i..))
        .unwrap_or("")
}

/// The end of `path` that `url_path` does not already end with, at whole segments: with
/// `/v1/chat/completions`, a path ending in `/v1` needs `/chat/completions`, one ending in
/// `/v1/chat/completions` nothing, and `/api/x` all of it.
fn missing_path<'a>(url_path: &str, path: &'a str) -> &'a str {
    let cuts = path
        .char_indices()
        .filter(|&(i, c)| c == '/' && i > 0)
        .map(|(i, _)| i)
        .chain([path.len()]);
    let done = cuts
        .filter(|&i| path.get(..i).is_some_and(|p| url_path.ends_with(p)))
        .max()
        .unwrap_or(0);
    path.get(done..).unwrap_or("")
}

/// A value the report replaced with [`REDACTED`]: sent as it stands, it would be wrong.
fn was_redacted(text: &str) -> bool {
    text.contains(REDACTED)
}

fn is_pointer(p: &str) -> bool {
    p.is_empty() || p.starts_with('/')
}

/// Parse `Name: value` lines; blank lines are skipped. Errors name the line.
pub fn parse_headers(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let line_no = n + 1;
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!("line {line_no}: expected 'Name: value'"));
        };
        let name = name.trim();
        let value = value.trim();
        check_header(name, value).map_err(|m| format!("line {line_no}: {m}"))?;
        if FORBIDDEN_HEADERS
            .iter()
            .any(|f| f.eq_ignore_ascii_case(name))
        {
            return Err(format!(
                "line {line_no}: the browser sets {name} itself and will not send yours"
            ));
        }
        out.push((name.to_string(), value.to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(cfg: &RunConfig) -> Vec<Field> {
        cfg.validate()
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn a_stage_by_time_is_typed_and_checked_in_its_own_fields() {
        let mut c = RunConfig {
            suite: Suite::Custom,
            ..RunConfig::default()
        };
        c.set_stage_by_time(0, true);
        assert_eq!(
            (c.custom_stages[0].duration_s, c.custom_stages[0].requests),
            (Some(60), 0)
        );
        assert!(c.validate().is_ok());
        c.set_number(Field::StageDuration(0), "0").unwrap();
        assert_eq!(fields(&c), vec![Field::StageDuration(0)]);
        c.set_number(Field::StageDuration(0), "30").unwrap();
        c.set_number(Field::StageRampFrom(0), "1.5").unwrap();
        let e = c.validate().unwrap_err();
        assert_eq!(e[0].field, Field::StageRampFrom(0));
        assert!(
            e[0].message.contains("whole concurrency"),
            "{}",
            e[0].message
        );
        assert!(c
            .set_number(Field::StageRampFrom(0), "-1")
            .unwrap_err()
            .contains("where the ramp starts"));
        c.set_number(Field::StageRampFrom(0), "1").unwrap();
        assert!(c.validate().is_ok());
        // A request count's typed text does not count while the row runs by time, and back.
        let typed = [(Field::StageRequests(0), "abc".to_string())];
        assert!(c.validate_typed(&typed).is_ok());
        c.set_stage_by_time(0, false);
        assert_eq!(
            (
                c.custom_stages[0].duration_s,
                c.custom_stages[0].ramp_from,
                c.custom_stages[0].requests
            ),
            (None, None, 20)
        );
        assert_eq!(
            c.validate_typed(&typed).unwrap_err()[0].field,
            Field::StageRequests(0)
        );
        let typed = [(Field::StageDuration(0), "x".to_string())];
        assert!(c.validate_typed(&typed).is_ok());
        assert_eq!(Field::StageRampFrom(1).label(), "Stage 2 ramp from");
        assert_eq!(
            Field::StageDuration(2).after_removing_stage(1),
            Some(Field::StageDuration(1))
        );
    }

    #[test]
    fn default_config_is_valid_seed_request() {
        let plan = RunConfig::default().validate().unwrap();
        assert_eq!(plan.urls()[0], "http://127.0.0.1:8000/generate");
        assert_eq!(plan.timeout_ms(), 30_000.0);
        assert_eq!(plan.total_requests(), 170);
        let req = plan.request(1, 4);
        assert_eq!(req.method, "POST");
        let body: serde_json::Value = serde_json::from_str(req.body.as_deref().unwrap()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"prompt": "Explain the concept of artificial intelligence in detail.",
                "max_length": 50, "temperature": 0.7, "do_sample": true})
        );
        assert!(req
            .headers
            .contains(&("Content-Type".into(), "application/json".into())));
    }

    #[test]
    fn url_rules() {
        let mut c = RunConfig::default();
        for bad in ["", "127.0.0.1:8000", "ftp://x", "http://", "not a url"] {
            c.endpoint = bad.into();
            assert_eq!(fields(&c), vec![Field::Endpoint], "{bad:?}");
        }
        c.endpoint = "https://api.example.com/v1/".into();
        assert_eq!(c.request_url(), "https://api.example.com/v1/generate");
        c.endpoint = "http://h:1/generate".into();
        assert_eq!(c.request_url(), "http://h:1/generate", "path not doubled");
        c.preset = Preset::Custom;
        c.endpoint = "http://h/any/path".into();
        assert_eq!(c.request_url(), "http://h/any/path");
    }

    #[test]
    fn ranges_are_enforced_per_field() {
        let mut c = RunConfig {
            suite: Suite::Custom,
            custom_stages: vec![
                StageSpec {
                    duration_s: None,
                    ramp_from: None,
                    name: "a".into(),
                    concurrency: 0,
                    requests: 1,
                    rate: None,
                },
                StageSpec {
                    duration_s: None,
                    ramp_from: None,
                    name: "b".into(),
                    concurrency: 1001,
                    requests: 1_000_001,
                    rate: None,
                },
                StageSpec {
                    duration_s: None,
                    ramp_from: None,
                    name: " ".into(),
                    concurrency: 1000,
                    requests: 1_000_000,
                    rate: None,
                },
            ],
            timeout_s: 601,
            ..RunConfig::default()
        };
        assert_eq!(
            fields(&c),
            vec![
                Field::Timeout,
                Field::StageConcurrency(0),
                Field::StageConcurrency(1),
                Field::StageRequests(1),
                Field::StageName(2)
            ]
        );
        c.custom_stages.clear();
        c.timeout_s = 0;
        assert_eq!(fields(&c), vec![Field::Timeout, Field::Stages]);
    }

    #[test]
    fn headers_parse_and_reject() {
        assert_eq!(
            parse_headers("X-A: 1\n\n  X-B :two words ").unwrap(),
            vec![
                ("X-A".into(), "1".into()),
                ("X-B".into(), "two words".into())
            ]
        );
        assert!(parse_headers("no colon").unwrap_err().contains("line 1"));
        assert!(parse_headers("ok: 1\nbad name: 2")
            .unwrap_err()
            .contains("line 2"));
        assert!(parse_headers("Host: x")
            .unwrap_err()
            .contains("browser sets"));
        let c = RunConfig {
            headers: "broken".into(),
            ..RunConfig::default()
        };
        assert_eq!(fields(&c), vec![Field::Headers]);
    }

    #[test]
    fn header_placeholders_are_checked_at_the_headers_field() {
        let mut c = RunConfig {
            headers: "X-Request-Id: run-{{i}}\nX-Model: {{model}}".into(),
            ..RunConfig::default()
        };
        let plan = c.validate().unwrap();
        assert!(plan
            .request(0, 42)
            .headers
            .contains(&("X-Request-Id".into(), "run-42".into())));
        let at_headers = |c: &RunConfig| {
            let e = c.validate().unwrap_err();
            assert_eq!(e.len(), 1, "{e:?}");
            assert_eq!(e[0].field, Field::Headers);
            e[0].message.clone()
        };
        c.headers = "X-Request-Id: run-{{n}}".into();
        let m = at_headers(&c);
        assert!(m.contains("X-Request-Id") && m.contains("{{n}}"), "{m}");
        c.headers = "X-P: {{prompt}}".into();
        assert!(at_headers(&c).contains("{{prompt}}"));
        c.headers = "X-Model: {{model}}".into();
        c.model = "модель".into();
        assert!(at_headers(&c).contains("only Latin-1"));
        c.model = String::new();
        c.api_key = "sk-{{i}}".into();
        assert_eq!(fields(&c), vec![Field::ApiKey]);
    }

    #[test]
    fn body_template_must_be_json_after_substitution() {
        let mut c = RunConfig {
            preset: Preset::Custom,
            ..RunConfig::default()
        };
        c.custom.body_template = r#"{"p": {{prompt}}}"#.into(); // unquoted string placeholder
        assert_eq!(fields(&c), vec![Field::BodyTemplate]);
        c.custom.body_template = r#"{"p": "{{prompt}}", "x": {{nope}}}"#.into();
        let e = c.validate().unwrap_err();
        assert!(e[0].message.contains("{{nope}}"), "{:?}", e);
        c.custom.body_template = r#"{"p": "{{prompt}}", "i": {{i}}}"#.into();
        c.custom.text_pointer = "choices".into();
        c.custom.tokens_pointer = "usage".into();
        assert_eq!(fields(&c), vec![Field::TextPointer, Field::TokensPointer]);
        c.custom.method = "DELETE".into();
        c.custom.text_pointer = "/t".into();
        c.custom.tokens_pointer = "".into();
        assert_eq!(fields(&c), vec![Field::Method]);
    }

    #[test]
    fn openai_needs_model_and_uses_key() {
        let mut c = RunConfig {
            preset: Preset::OpenaiChat,
            ..RunConfig::default()
        };
        assert_eq!(fields(&c), vec![Field::Model]);
        c.model = "llama".into();
        c.api_key = "sk-secret".into();
        let plan = c.validate().unwrap();
        assert_eq!(plan.urls()[0], "http://127.0.0.1:8000/v1/chat/completions");
        assert!(plan
            .headers()
            .contains(&("Authorization".into(), "Bearer sk-secret".into())));
        let body: serde_json::Value =
            serde_json::from_str(plan.request(0, 0).body.as_deref().unwrap()).unwrap();
        assert_eq!(body["model"], "llama");
        assert_eq!(body["max_tokens"], 50);
    }

    #[test]
    fn aliases_are_validated_and_suggested_for_loopback() {
        let mut c = RunConfig {
            suite: Suite::Comprehensive,
            ..RunConfig::default()
        };
        assert_eq!(
            c.suggested_aliases(),
            Some(vec![
                "http://127.0.0.2:8000".to_string(),
                "http://127.0.0.3:8000".to_string(),
                "http://127.0.0.4:8000".to_string()
            ]),
            "20 in flight needs 4 origins"
        );
        c.aliases = c.suggested_aliases().unwrap().join("\n");
        let plan = c.validate().unwrap();
        assert_eq!(plan.urls().len(), 4);
        assert_eq!(plan.urls()[3], "http://127.0.0.4:8000/generate");
        assert_eq!(
            plan.request_to(0, 0, 2).url,
            "http://127.0.0.3:8000/generate"
        );
        c.suite = Suite::Quick;
        assert_eq!(c.suggested_aliases(), None, "5 in flight fits one origin");
        c.suite = Suite::Standard;
        c.endpoint = "https://api.example.com/v1".into();
        assert_eq!(c.suggested_aliases(), None, "not loopback");
        c.aliases = "http://ok:1\nnot a url".into();
        let e = c.validate().unwrap_err();
        assert_eq!(e[0].field, Field::Aliases);
        assert!(e[0].message.starts_with("line 2:"), "{}", e[0].message);
    }

    #[test]
    fn warmup_range() {
        let mut c = RunConfig {
            warmup: Some(0),
            ..RunConfig::default()
        };
        assert!(c.validate().is_ok(), "0 turns warm-ups off");
        c.warmup = Some(1001);
        assert_eq!(fields(&c), vec![Field::Warmup]);
        c.warmup = Some(u32::MAX);
        assert!(c.validate().unwrap_err()[0]
            .message
            .contains("whole number from 0 to 1000"));
    }

    #[test]
    fn prompt_list_is_used_in_turn() {
        let c = RunConfig {
            prompts: "first\n\n  second  \n".into(),
            ..RunConfig::default()
        };
        let plan = c.validate().unwrap();
        let prompt = |i| {
            let b: serde_json::Value =
                serde_json::from_str(plan.request(2, i).body.as_deref().unwrap()).unwrap();
            b["prompt"].as_str().unwrap().to_string()
        };
        assert_eq!(
            (prompt(0), prompt(1), prompt(2)),
            ("first".into(), "second".into(), "first".into())
        );
    }

    #[test]
    fn every_preset_builds_valid_json_and_streams_where_named() {
        for p in Preset::ALL {
            let c = RunConfig {
                preset: p,
                model: "m".into(),
                ..RunConfig::default()
            };
            let plan = c.validate().unwrap_or_else(|e| panic!("{p:?}: {e:?}"));
            let req = plan.request(0, 0);
            let body: serde_json::Value =
                serde_json::from_str(req.body.as_deref().unwrap()).unwrap();
            assert_eq!(
                req.streaming,
                p.label().contains("streaming") || p == Preset::Custom,
                "{p:?}"
            );
            assert!(
                body.to_string().contains("machine learning"),
                "{p:?}: {body}"
            );
            assert_eq!(Preset::from_id(p.id()), Some(p));
        }
    }

    #[test]
    fn redaction_keeps_only_what_is_harmless() {
        let c = RunConfig {
            endpoint: "https://h.test/v1?key=AIza-secret&region=eu".into(),
            aliases: "https://h2.test/v1?token=tok-secret".into(),
            headers: "Authorization: Bearer abc\nX-Goog-Api-Key: g-secret\n\
                      Ocp-Apim-Subscription-Key: o-secret\nContent-Type: application/json"
                .into(),
            api_key: "sk-1".into(),
            preset: Preset::OpenaiChat,
            custom: RequestShape {
                body_template: r#"{"secret": "in-template"}"#.into(),
                ..Preset::Custom.shape()
            },
            ..RunConfig::default()
        };
        let r = c.redacted();
        assert_eq!(
            r.headers,
            "Authorization: [redacted]\nX-Goog-Api-Key: [redacted]\n\
             Ocp-Apim-Subscription-Key: [redacted]\nContent-Type: application/json"
        );
        assert_eq!(r.endpoint, "https://h.test/v1?key=[redacted]&region=eu");
        assert_eq!(r.aliases, "https://h2.test/v1?token=[redacted]");
        let json = serde_json::to_string(&r).unwrap();
        for secret in [
            "sk-1",
            "abc",
            "g-secret",
            "o-secret",
            "AIza",
            "tok-secret",
            "in-template",
        ] {
            assert!(!json.contains(secret), "{secret} leaked: {json}");
        }
        assert!(
            !serde_json::to_string(&c).unwrap().contains("sk-1"),
            "key never serialized"
        );
        // Opted in: header values as typed; the key and URL credentials still go.
        let opted = RunConfig {
            include_header_values: true,
            ..c.clone()
        }
        .redacted();
        assert!(opted.headers.contains("X-Goog-Api-Key: g-secret"));
        assert!(!serde_json::to_string(&opted).unwrap().contains("AIza"));
        // The Custom preset keeps its template: it is needed to re-run the test.
        let custom = RunConfig {
            preset: Preset::Custom,
            ..c
        }
        .redacted();
        assert!(custom.custom.body_template.contains("in-template"));
    }

    #[test]
    fn the_preset_path_goes_before_the_query() {
        let c = RunConfig {
            endpoint: "https://h.test/?key=k".into(),
            ..RunConfig::default()
        };
        assert_eq!(c.request_url(), "https://h.test/generate?key=k");
    }

    #[test]
    fn credentials_in_urls_and_non_latin1_values_are_refused_at_the_input() {
        let c = RunConfig {
            endpoint: "http://user:pw@127.0.0.1:8000".into(),
            headers: "X-Name: ключ".into(),
            api_key: "ключ".into(),
            ..RunConfig::default()
        };
        let errors = c.validate().unwrap_err();
        let at = |f: Field| {
            errors
                .iter()
                .find(|e| e.field == f)
                .map(|e| e.message.clone())
        };
        assert!(at(Field::Endpoint)
            .unwrap()
            .contains("user name and password"));
        assert!(at(Field::Headers).unwrap().contains("only Latin-1"));
        assert!(at(Field::ApiKey).unwrap().contains("only Latin-1"));
    }

    #[test]
    fn whole_numbers_are_read_exactly_or_refused() {
        assert_eq!(parse_whole("30"), Ok(30));
        assert_eq!(parse_whole(" 30 "), Ok(30), "invisible spaces are ignored");
        assert_eq!(parse_whole("+5"), Ok(5));
        assert_eq!(parse_whole("0"), Ok(0), "the range is validate's to judge");
        assert_eq!(parse_whole("4294967295"), Ok(u32::MAX));
        let refused = |t: &str| parse_whole(t).unwrap_err();
        assert_eq!(refused(""), "enter a whole number");
        assert_eq!(refused("  "), "enter a whole number");
        assert!(refused("0.5").contains("leave out the decimals"));
        assert!(refused("1.0").contains("leave out the decimals"));
        assert!(refused("-1").contains("negative"));
        assert!(refused("-0.5").contains("negative"));
        assert!(refused("1e9").contains("exponent"));
        assert!(refused("2E3").contains("exponent"));
        assert!(refused("4294967296").contains("too large"));
        assert!(refused("abc").contains("not a number"));
        assert!(refused("inf").contains("not a number"));
        assert!(refused("1,5").contains("not a number"));
    }

    #[test]
    fn rates_allow_decimals_and_empty() {
        assert_eq!(parse_rate(""), Ok(None), "empty: closed loop");
        assert_eq!(parse_rate("2.5"), Ok(Some(2.5)));
        assert!(parse_rate("-2").unwrap_err().contains("negative"));
        assert!(parse_rate("1e3").unwrap_err().contains("exponent"));
        assert!(parse_rate("NaN").unwrap_err().contains("not a number"));
        assert!(parse_rate("fast").unwrap_err().contains("not a number"));
    }

    #[test]
    fn set_number_changes_only_what_parses() {
        let mut c = RunConfig {
            suite: Suite::Custom,
            ..RunConfig::default()
        };
        assert!(c.set_number(Field::Timeout, "0.5").is_err());
        assert_eq!(c.timeout_s, 30, "not 50, not 0: unchanged");
        c.set_number(Field::Timeout, "45").unwrap();
        assert_eq!(c.timeout_s, 45);
        assert!(c.set_number(Field::MaxTokens, "1.5").is_err());
        assert_eq!(c.max_tokens, 50, "not 51");
        c.set_number(Field::Warmup, "").unwrap();
        assert_eq!(c.warmup, None, "empty: one per slot");
        assert!(c.set_number(Field::Warmup, "-1").is_err());
        c.set_number(Field::Warmup, "3").unwrap();
        assert_eq!(c.warmup, Some(3));
        assert!(c.set_number(Field::StageRequests(0), "1e9").is_err());
        assert_eq!(c.custom_stages[0].requests, 10, "not 9");
        c.set_number(Field::StageConcurrency(1), "7").unwrap();
        assert_eq!(c.custom_stages[1].concurrency, 7);
        c.set_number(Field::StageRate(0), "2.5").unwrap();
        c.custom_stages[0].rate.as_mut().unwrap().poisson = true;
        c.set_number(Field::StageRate(0), "4").unwrap();
        let r = c.custom_stages[0].rate.clone().unwrap();
        assert_eq!(
            (r.per_s, r.poisson),
            (4.0, true),
            "the Poisson choice stays"
        );
        c.set_number(Field::StageRate(0), "").unwrap();
        assert_eq!(c.custom_stages[0].rate, None);
        assert_eq!(
            c.set_number(Field::StageRequests(5), "3").unwrap_err(),
            "there is no stage 6"
        );
        assert!(c.set_number(Field::Endpoint, "3").is_err());
    }

    #[test]
    fn typed_numbers_are_errors_at_their_fields() {
        let c = RunConfig {
            suite: Suite::Custom,
            ..RunConfig::default()
        };
        let typed = |t: &[(Field, &str)]| {
            let t: Vec<(Field, String)> = t.iter().map(|(f, s)| (*f, s.to_string())).collect();
            c.validate_typed(&t)
        };
        assert!(typed(&[(Field::Timeout, "30"), (Field::Warmup, "")]).is_ok());
        let e = typed(&[(Field::Timeout, "0.5"), (Field::StageRequests(0), "")]).unwrap_err();
        assert_eq!(
            e.iter().map(|e| e.field).collect::<Vec<_>>(),
            [Field::Timeout, Field::StageRequests(0)]
        );
        assert!(e[0].message.contains("decimals"), "{}", e[0].message);
        assert_eq!(e[1].message, "enter a whole number");
        // A config error on the same field gives way to the typing error; others stay.
        let bad = RunConfig {
            timeout_s: 0,
            endpoint: "nope".into(),
            ..c.clone()
        };
        let e = bad
            .validate_typed(&[(Field::Timeout, "-1".into())])
            .unwrap_err();
        assert_eq!(
            e.iter().map(|e| e.field).collect::<Vec<_>>(),
            [Field::Endpoint, Field::Timeout]
        );
        assert!(e[1].message.contains("negative"));
        // Stage rows not on screen do not count: another suite, or a removed row.
        let standard = RunConfig {
            suite: Suite::Standard,
            ..c.clone()
        };
        assert!(standard
            .validate_typed(&[(Field::StageRequests(0), "x".into())])
            .is_ok());
        assert!(c
            .validate_typed(&[(Field::StageRequests(2), "x".into())])
            .is_ok());
    }

    #[test]
    fn removing_a_stage_moves_the_rows_below_up() {
        assert_eq!(
            Field::StageRequests(0).after_removing_stage(1),
            Some(Field::StageRequests(0))
        );
        assert_eq!(Field::StageRate(1).after_removing_stage(1), None);
        assert_eq!(
            Field::StageConcurrency(3).after_removing_stage(1),
            Some(Field::StageConcurrency(2))
        );
        assert_eq!(Field::Timeout.after_removing_stage(0), Some(Field::Timeout));
    }

    #[test]
    fn field_labels_and_form_order() {
        assert_eq!(Field::Timeout.label(), "Timeout");
        assert_eq!(Field::StageRequests(0).label(), "Stage 1 requests");
        assert!(Field::Timeout.position() < Field::StageName(0).position());
        assert!(Field::StageRate(0).position() < Field::StageName(1).position());
        assert!(Field::StageRate(3).position() < Field::Stages.position());
    }

    #[test]
    fn slo_thresholds_are_typed_checked_at_their_field_and_left_out_when_empty() {
        let mut c = RunConfig::default();
        let ttft = Field::Slo(SloMetric::TtftP95);
        assert_eq!(c.set_number(ttft, " 500 "), Ok(()));
        assert_eq!(c.slo.ttft_p95_ms, Some(500.0));
        assert!(c.set_number(ttft, "-5").is_err());
        assert!(c.set_number(ttft, "5e2").is_err());
        assert_eq!(
            c.slo.ttft_p95_ms,
            Some(500.0),
            "a refused text leaves the value"
        );
        assert_eq!(c.set_number(ttft, ""), Ok(()));
        assert_eq!(c.slo.ttft_p95_ms, None, "empty = no threshold");
        assert!(!c.to_json_for_test().contains("slo"));

        c.slo.ttft_p95_ms = Some(0.0);
        c.slo.error_rate_pct = Some(100.5);
        assert_eq!(
            fields(&c),
            vec![
                Field::Slo(SloMetric::TtftP95),
                Field::Slo(SloMetric::ErrorRate)
            ]
        );
        c.slo.ttft_p95_ms = Some(500.0);
        c.slo.error_rate_pct = Some(0.0);
        assert!(c.validate().is_ok(), "0 % errors is a threshold");
        assert!(c
            .to_json_for_test()
            .contains(r#""slo":{"ttft_p95_ms":500.0,"error_rate_pct":0.0}"#));
        let typed = [(ttft, "fast".to_string())];
        let errors = c.validate_typed(&typed).err().unwrap_or_default();
        assert_eq!(errors.first().map(|e| e.field), Some(ttft));
        assert_eq!(ttft.label(), "SLO TTFT p95 (ms)");
        assert!(Field::Stages.position() < ttft.position());
    }

    impl RunConfig {
        fn to_json_for_test(&self) -> String {
            serde_json::to_string(self).unwrap_or_default()
        }
    }

    #[test]
    fn a_base_url_ending_in_part_of_the_preset_path_is_not_doubled() {
        let url = |preset: Preset, endpoint: &str| {
            RunConfig {
                preset,
                endpoint: endpoint.into(),
                ..RunConfig::default()
            }
            .request_url()
        };
        let chat = Preset::OpenaiChat;
        assert_eq!(url(chat, "http://h:1"), "http://h:1/v1/chat/completions");
        assert_eq!(url(chat, "http://h:1/v1"), "http://h:1/v1/chat/completions");
        assert_eq!(
            url(chat, "http://h:1/v1/"),
            "http://h:1/v1/chat/completions"
        );
        assert_eq!(
            url(chat, "https://h/openai/v1?key=k"),
            "https://h/openai/v1/chat/completions?key=k"
        );
        assert_eq!(
            url(chat, "http://h:1/v1/chat/completions"),
            "http://h:1/v1/chat/completions"
        );
        // Only the path counts: a host called v1 is not a path.
        assert_eq!(url(chat, "http://v1"), "http://v1/v1/chat/completions");
        // Whole segments only: /xv1 is not /v1.
        assert_eq!(
            url(chat, "http://h/xv1"),
            "http://h/xv1/v1/chat/completions"
        );
        assert_eq!(
            url(Preset::OllamaChat, "http://h:11434/api"),
            "http://h:11434/api/chat"
        );
        assert_eq!(url(Preset::Seed, "http://h/generate"), "http://h/generate");
        assert_eq!(url(Preset::Seed, "http://h/api"), "http://h/api/generate");
        // Aliases get the same rule.
        let c = RunConfig {
            preset: chat,
            model: "m".into(),
            endpoint: "http://a:1/v1".into(),
            aliases: "http://b:1/v1".into(),
            ..RunConfig::default()
        };
        assert_eq!(
            c.validate().unwrap().urls(),
            [
                "http://a:1/v1/chat/completions",
                "http://b:1/v1/chat/completions"
            ]
        );
    }

    #[test]
    fn a_base_url_ending_in_another_apis_path_is_flagged() {
        let check = |preset: Preset, endpoint: &str| {
            RunConfig {
                preset,
                model: "m".into(),
                endpoint: endpoint.into(),
                ..RunConfig::default()
            }
            .validate()
            .err()
            .map(|e| e[0].message.clone())
        };
        let m = check(Preset::Seed, "http://h/v1/chat/completions").unwrap();
        assert!(
            m.contains("already ends in /v1/chat/completions") && m.contains("its /generate"),
            "{m}"
        );
        assert!(check(Preset::OpenaiCompletions, "http://h/v1/chat/completions").is_some());
        assert!(check(Preset::TgiGenerateStream, "http://h/generate").is_some());
        // Typed as the whole request URL, or a base with no API path: fine.
        assert_eq!(check(Preset::Seed, "http://h/api/generate"), None);
        assert_eq!(check(Preset::OpenaiChat, "http://h/v1"), None);
        assert_eq!(check(Preset::Custom, "http://h/api/chat"), None);
    }

    #[test]
    fn redacted_values_from_a_report_must_be_typed_again() {
        let c = RunConfig {
            endpoint: "http://h:1/?api_key=[redacted]".into(),
            aliases: "http://h2:1/\nhttp://h3:1/?token=[redacted]".into(),
            headers: "Accept: application/json\nX-Api-Key: [redacted]\nX-Team: [redacted]".into(),
            ..RunConfig::default()
        };
        let e = c.validate().unwrap_err();
        let at = |f: Field| e.iter().find(|e| e.field == f).unwrap().message.clone();
        assert!(at(Field::Endpoint).contains("type it again"));
        assert!(at(Field::Aliases).starts_with("line 2:"));
        assert_eq!(
            at(Field::Headers),
            "the report replaced the value of X-Api-Key, X-Team with [redacted]: type the \
             value again (it is not sent as it stands)"
        );
        assert_eq!(e.len(), 3);
    }
}
