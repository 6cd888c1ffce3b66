//! Hand-off to distributed load generators: a Locust file and a k6 script that reproduce a test
//! (the same requests, bodies and headers, stage by stage) for when one browser, or one machine,
//! is not enough.
//!
//! Each file is a header comment, the test's values, then a fixed runtime (`handoff/locustfile.py`,
//! `handoff/k6.js`) that builds, sends and reads requests as `plan`, `template`, `parse` and
//! `stream` do. Secrets never appear in the text (DESIGN §8): the API key, every header not on
//! the harmless allow-list and credential-like URL query values are read from environment
//! variables that the header comment names.

use crate::config::{parse_headers, FieldError, RunConfig};
use crate::preset::Framing;
use crate::secrets;
use crate::suite::seed_prompt;

const LOCUST_RUNTIME: &str = include_str!("handoff/locustfile.py");
const K6_RUNTIME: &str = include_str!("handoff/k6.js");
/// The lines of the runtimes replaced by the test's values (and k6's optional import).
const PY_TEST_MARK: &str = "# @stampede-test@";
const JS_TEST_MARK: &str = "// @stampede-test@";
const JS_IMPORTS_MARK: &str = "// @stampede-imports@";
const API_KEY_VAR: &str = "STAMPEDE_API_KEY";

/// A `locustfile.py` that runs `config`'s test on Locust, distributed or not; the config is
/// validated first, with the same errors as the page shows.
pub fn locustfile(config: &RunConfig) -> Result<String, Vec<FieldError>> {
    let test = Test::new(config)?;
    let values = python_values(&test);
    let runtime = LOCUST_RUNTIME.replacen(PY_TEST_MARK, values.trim_end(), 1);
    Ok(format!("{}\n{runtime}", python_header(&test)))
}

/// A k6 script (`stampede-k6.js`) for `config`'s test; SSE streams need k6 built with xk6-sse.
pub fn k6_script(config: &RunConfig) -> Result<String, Vec<FieldError>> {
    let test = Test::new(config)?;
    let import = if test.framing == Framing::Sse {
        "import sse from 'k6/x/sse';"
    } else {
        "const sse = null; // no SSE stream in this test: plain k6 runs it"
    };
    let values = js_values(&test);
    let runtime = K6_RUNTIME.replacen(JS_IMPORTS_MARK, import, 1).replacen(
        JS_TEST_MARK,
        values.trim_end(),
        1,
    );
    Ok(format!("{}\n{runtime}", js_header(&test)))
}

/// A piece of a value in the generated file.
#[derive(Debug, PartialEq)]
enum Piece {
    /// Harmless: written as it is.
    Text(String),
    /// A secret: read at run time from this environment variable (URL-encoded in a URL).
    Env(String),
}

/// An environment variable the file reads.
struct EnvVar {
    name: String,
    /// What it stands for (`header x-api-key`), so one header or parameter gets one variable.
    key: String,
    /// What it holds, for the header comment.
    holds: String,
    required: bool,
}

struct Stage {
    /// Numbered, so two stages of the same name stay apart in Locust's and k6's figures.
    name: String,
    users: u32,
    /// 0 in a stage by time.
    requests: u32,
    rate: Option<f64>,
    poisson: bool,
    duration_s: Option<u32>,
    ramp_from: Option<f64>,
    /// `{{i}}` of the stage's first request as the page numbers them: across the run, warm-ups
    /// included (the files send no warm-ups, so their numbers are skipped).
    first_index: u64,
    /// The seed's topic prompt of this stage (used when there is no prompt list).
    prompt: String,
}

/// The test as both files need it, worked out once from a validated config.
struct Test {
    preset: &'static str,
    method: String,
    urls: Vec<Vec<Piece>>,
    /// The first URL with credentials redacted, for the header comment.
    shown_url: String,
    headers: Vec<(String, Piece)>,
    model: String,
    max_tokens: u32,
    body_template: String,
    prompts: Vec<String>,
    timeout_s: u32,
    framing: Framing,
    text_pointer: String,
    reasoning_pointer: String,
    tool_calls_pointer: String,
    done_pointer: String,
    require_terminal: bool,
    stages: Vec<Stage>,
    warmups: u64,
    env: Vec<EnvVar>,
}

impl Test {
    fn new(config: &RunConfig) -> Result<Test, Vec<FieldError>> {
        let plan = config.validate()?;
        let shape = plan.shape();
        let mut env = Vec::new();
        // Validation parsed these headers already; the plan's list also holds the key's value.
        let mut headers: Vec<(String, Piece)> = parse_headers(&config.headers)
            .unwrap_or_default()
            .into_iter()
            .map(|(name, value)| {
                if secrets::is_harmless_header(&name) {
                    return (name, Piece::Text(value));
                }
                let holds = format!(
                    "the {name} header's value ({{{{i}}}}, {{{{model}}}} and {{{{max_tokens}}}} \
                     are filled in)"
                );
                let var = env_var(&mut env, "STAMPEDE_HEADER_", &name, holds);
                (name, Piece::Env(var))
            })
            .collect();
        if shape.method != "GET"
            && !headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        {
            headers.push((
                "Content-Type".into(),
                Piece::Text("application/json".into()),
            ));
        }
        let urls = plan
            .urls()
            .iter()
            .map(|u| url_pieces(u, &mut env))
            .collect();
        env.push(EnvVar {
            name: API_KEY_VAR.into(),
            key: "api key".into(),
            holds: "the API key, sent as Authorization: Bearer …".into(),
            required: !config.api_key.trim().is_empty(),
        });
        let mut next_index = 0;
        let mut warmups = 0;
        let stages = plan
            .stages()
            .iter()
            .enumerate()
            .map(|(n, s)| {
                let warmup = u64::from(plan.warmup_count(n));
                warmups += warmup;
                next_index += warmup;
                let first_index = next_index;
                next_index += u64::from(s.requests);
                Stage {
                    name: format!("{}. {}", n + 1, s.name.trim()),
                    users: s.concurrency,
                    requests: s.requests,
                    rate: s.rate.as_ref().map(|r| r.per_s),
                    poisson: s.rate.as_ref().is_some_and(|r| r.poisson),
                    duration_s: s.duration_s,
                    ramp_from: s.ramp_from.filter(|_| s.duration_s.is_some()),
                    first_index,
                    prompt: seed_prompt(n),
                }
            })
            .collect();
        Ok(Test {
            preset: config.preset.label(),
            method: shape.method.clone(),
            urls,
            shown_url: plan
                .urls()
                .first()
                .map(|u| secrets::redact_url(u))
                .unwrap_or_default(),
            headers,
            model: config.model.trim().to_string(),
            max_tokens: config.max_tokens,
            body_template: shape.body_template.clone(),
            prompts: config.prompt_list(),
            timeout_s: config.timeout_s,
            framing: shape.framing,
            text_pointer: shape.text_pointer.clone(),
            reasoning_pointer: shape.reasoning_pointer.clone(),
            tool_calls_pointer: shape.tool_calls_pointer.clone(),
            done_pointer: shape.done_pointer.clone(),
            require_terminal: shape.require_terminal,
            stages,
            warmups,
            env,
        })
    }

    fn total_requests(&self) -> u64 {
        self.stages.iter().map(|s| u64::from(s.requests)).sum()
    }

    fn summary(&self) -> String {
        let n = self.stages.len();
        format!(
            "{} · {n} stage{} ({}), {} · {} {}",
            self.preset,
            if n == 1 { "" } else { "s" },
            self.stages
                .iter()
                .map(Stage::summary)
                .collect::<Vec<_>>()
                .join(", "),
            self.length(),
            self.method,
            self.shown_url
        )
    }

    /// "60 requests", "90 s", or "60 requests + 90 s".
    fn length(&self) -> String {
        let seconds: u64 = self
            .stages
            .iter()
            .filter_map(|s| s.duration_s)
            .map(u64::from)
            .sum();
        match (self.total_requests(), seconds) {
            (r, 0) => format!("{r} requests"),
            (0, s) => format!("{s} s"),
            (r, s) => format!("{r} requests + {s} s"),
        }
    }

    fn has_timed_stage(&self) -> bool {
        self.stages.iter().any(|s| s.duration_s.is_some())
    }

    fn streams(&self) -> bool {
        self.framing != Framing::Json
    }

    fn has_rate_stage(&self) -> bool {
        self.stages.iter().any(|s| s.rate.is_some())
    }

    fn framing_id(&self) -> &'static str {
        match self.framing {
            Framing::Json => "json",
            Framing::Sse => "sse",
            Framing::Ndjson => "ndjson",
        }
    }

    /// Lines for the header comment naming each variable, required ones first.
    fn env_lines(&self) -> Vec<String> {
        let mut vars: Vec<(String, &str)> = self
            .env
            .iter()
            .map(|v| match v.required {
                true => (v.name.clone(), v.holds.as_str()),
                false => (format!("{} (optional)", v.name), v.holds.as_str()),
            })
            .collect();
        vars.sort_by_key(|(name, _)| name.ends_with("(optional)"));
        let width = vars.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
        vars.iter()
            .map(|(name, holds)| format!("  {name:<width$}  {holds}"))
            .collect()
    }

    /// An example command line prefix setting every required variable.
    fn env_example(&self) -> String {
        self.env
            .iter()
            .filter(|v| v.required)
            .map(|v| format!("{}=… ", v.name))
            .collect()
    }

    /// What differs from a run in the page, in both files.
    fn common_notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if self.warmups > 0 {
            notes.push(
                "Warm-ups are not sent; request numbers ({{i}}) skip theirs, so request n is the \
                 page's request n."
                    .to_string(),
            );
        }
        let poisson: Vec<String> = self
            .stages
            .iter()
            .filter(|s| s.poisson)
            .map(|s| s.name.clone())
            .collect();
        if !poisson.is_empty() {
            notes.push(format!(
                "Poisson arrivals ({}) are spaced evenly here.",
                poisson.join(", ")
            ));
        }
        if self.has_timed_stage() {
            notes.push(
                "A stage by time (duration_s) sends requests until its duration is over; those in \
                 flight then finish. Its count is known only once it ran, so from it on request \
                 numbers ({{i}}) are not the page's."
                    .to_string(),
            );
        }
        notes
    }
}

impl Stage {
    /// "2×20", "20 at 5/s, cap 8", "2→10×60 s", "at 1→20/s for 30 s, cap 50".
    fn summary(&self) -> String {
        let from = |to: String| match self.ramp_from {
            Some(f) => format!("{f}→{to}"),
            None => to,
        };
        match (self.rate, self.duration_s) {
            (Some(r), None) => format!("{} at {r}/s, cap {}", self.requests, self.users),
            (None, None) => format!("{}×{}", self.users, self.requests),
            (Some(r), Some(d)) => {
                format!("at {}/s for {d} s, cap {}", from(r.to_string()), self.users)
            }
            (None, Some(d)) => format!("{}×{d} s", from(self.users.to_string())),
        }
    }

    fn duration_expr(&self, none: &str) -> String {
        self.duration_s.map_or(none.to_string(), |d| d.to_string())
    }

    fn ramp_expr(&self, none: &str) -> String {
        self.ramp_from.map_or(none.to_string(), |r| r.to_string())
    }
}

/// The variable for one header or query parameter: `STAMPEDE_HEADER_X_API_KEY` for `X-Api-Key`.
/// Names that only differ in case are one variable; two that sanitize alike get a suffix.
fn env_var(env: &mut Vec<EnvVar>, prefix: &str, name: &str, holds: String) -> String {
    let key = format!("{prefix}{}", name.to_ascii_lowercase());
    if let Some(v) = env.iter().find(|v| v.key == key) {
        return v.name.clone();
    }
    let base: String = format!("{prefix}{name}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    let mut var = base.clone();
    let mut n = 2;
    while env.iter().any(|v| v.name == var) {
        var = format!("{base}_{n}");
        n += 1;
    }
    env.push(EnvVar {
        name: var.clone(),
        key,
        holds,
        required: true,
    });
    var
}

/// `url` with each credential-like query value (as `secrets` judges them) read from a variable.
fn url_pieces(url: &str, env: &mut Vec<EnvVar>) -> Vec<Piece> {
    let (before_fragment, fragment) = match url.split_once('#') {
        Some((a, f)) => (a, Some(f)),
        None => (url, None),
    };
    let Some((base, query)) = before_fragment.split_once('?') else {
        return vec![Piece::Text(url.to_string())];
    };
    let mut pieces = vec![Piece::Text(format!("{base}?"))];
    for (n, pair) in query.split('&').enumerate() {
        let sep = if n == 0 { "" } else { "&" };
        match pair.split_once('=') {
            Some((name, _)) if secrets::is_secret_query_name(&secrets::decode(name)) => {
                let decoded = secrets::decode(name);
                push_text(&mut pieces, format!("{sep}{name}="));
                let holds =
                    format!("the {decoded} query parameter's value (URL-encoded when sent)");
                pieces.push(Piece::Env(env_var(env, "STAMPEDE_QUERY_", &decoded, holds)));
            }
            _ => push_text(&mut pieces, format!("{sep}{pair}")),
        }
    }
    if let Some(f) = fragment {
        push_text(&mut pieces, format!("#{f}"));
    }
    pieces
}

fn push_text(pieces: &mut Vec<Piece>, text: String) {
    match pieces.last_mut() {
        Some(Piece::Text(last)) => last.push_str(&text),
        _ => pieces.push(Piece::Text(text)),
    }
}

/// A string literal that Python and JavaScript read alike: JSON's escapes are valid in both.
fn quoted(text: &str) -> String {
    serde_json::Value::String(text.to_string()).to_string()
}

fn list(items: &[String], indent: &str) -> String {
    if items.is_empty() {
        return "[]".into();
    }
    let body: String = items
        .iter()
        .map(|i| format!("{indent}    {i},\n"))
        .collect();
    format!("[\n{body}{indent}]")
}

// ---------------------------------------------------------------------------------------------
// Locust

fn python_header(t: &Test) -> String {
    let mut lines = vec![
        format!(
            "locustfile.py, generated by Stampede {} (\"Export Locust file\"). Edit freely.",
            env!("CARGO_PKG_VERSION")
        ),
        String::new(),
        "Reproduces a Stampede test in Locust: the same requests, bodies and headers, stage by"
            .into(),
        "stage, failures named by Stampede's error class.".into(),
        format!("  {}", t.summary()),
        String::new(),
        "Run it on one machine (pip install locust; tested with 2.47.0):".into(),
        format!(
            "  {}locust -f locustfile.py --headless --csv stampede",
            t.env_example()
        ),
        "or distributed, one master and workers anywhere that reach it and the server:".into(),
        "  locust -f locustfile.py --headless --master --expect-workers 2 --csv stampede".into(),
        "  locust -f locustfile.py --worker --master-host MASTER      (once per worker)".into(),
        "The run ends after the last stage; --run-time bounds it.".into(),
        String::new(),
        "Secrets come from the environment, never from this file (set them on the master and on"
            .into(),
        "every worker):".into(),
    ];
    lines.extend(t.env_lines());
    lines.extend([
        String::new(),
        "How it maps to Stampede:".into(),
        "- A stage runs `users` = its concurrency, one request in flight per user. The master"
            .into(),
        "  counts each stage's requests (a ticket per request, at most `users` out at once); a"
            .into(),
        "  stage ends when all its requests have ended, and the next starts once Locust runs its"
            .into(),
        "  users. A ticket costs each request one message to the master before it is sent (not"
            .into(),
        "  timed).".into(),
    ]);
    if t.has_timed_stage() {
        lines.extend([
            "- A stage by time hands out tickets until its duration is over; it ends when those out"
                .into(),
            "  have ended. A closed ramp runs its largest number of users and caps the tickets out"
                .into(),
            "  at the ramp's level (checked at each request end and each tick, once a second), so a"
                .into(),
            "  ramp down lets the excess finish. A rate ramp paces each user through its share of"
                .into(),
            "  the ramped schedule.".into(),
        ]);
    }
    if t.has_rate_stage() {
        lines.extend([
            "- Rate stages: each user starts a request every users/rate seconds, as Locust's".into(),
            "  constant_throughput paces. Unlike Stampede, a slow response delays that user's next"
                .into(),
            "  request instead of an arrival being dropped, and latency is from the actual send only"
                .into(),
            "  (no coordinated-omission correction).".into(),
        ]);
    }
    lines.extend([
        "- Host aliases: each process sends to the URL with the fewest of its requests in flight."
            .into(),
        "- A request's response time is its latency: until the whole body was read.".into(),
    ]);
    if t.streams() {
        lines.extend([
            "- Streams also report a \"TTFT\" row per stage: the time to the first event carrying"
                .into(),
            "  text, reasoning or a tool call (role-only and empty chunks do not count).".into(),
        ]);
    }
    lines.push("- Failures: http (with the status), timeout, network, parse, stream-error.".into());
    lines.extend(t.common_notes().into_iter().map(|n| format!("- {n}")));
    lines
        .iter()
        .map(|l| format!("# {l}").trim_end().to_string() + "\n")
        .collect()
}

/// Each target URL as an expression: literal pieces quoted, secret pieces read from the
/// environment and URL-encoded by `encoded(quoted_var_name)`.
fn url_exprs(t: &Test, encoded: impl Fn(&str) -> String) -> Vec<String> {
    t.urls
        .iter()
        .map(|pieces| {
            pieces
                .iter()
                .map(|p| match p {
                    Piece::Text(s) => quoted(s),
                    Piece::Env(v) => encoded(&quoted(v)),
                })
                .collect::<Vec<_>>()
                .join(" + ")
        })
        .collect()
}

/// Each header as `pair(quoted name, value expression)`; secret values come from `env(…)`.
fn header_exprs(t: &Test, pair: impl Fn(&str, &str) -> String) -> Vec<String> {
    t.headers
        .iter()
        .map(|(name, value)| {
            let value = match value {
                Piece::Text(s) => quoted(s),
                Piece::Env(v) => format!("env({})", quoted(v)),
            };
            pair(&quoted(name), &value)
        })
        .collect()
}

fn python_values(t: &Test) -> String {
    let bool_py = |b: bool| if b { "True" } else { "False" };
    let urls = url_exprs(t, |v| format!("quote(env({v}), safe=\"\")"));
    let headers = header_exprs(t, |name, value| format!("({name}, {value})"));
    let api_key = if t.env.iter().any(|v| v.name == API_KEY_VAR && v.required) {
        format!("env({})", quoted(API_KEY_VAR))
    } else {
        format!("os.environ.get({}, \"\")", quoted(API_KEY_VAR))
    };
    let prompts: Vec<String> = t.prompts.iter().map(|p| quoted(p)).collect();
    let stages: Vec<String> = t
        .stages
        .iter()
        .map(|s| {
            format!(
                "{{\"name\": {}, \"users\": {}, \"requests\": {}, \"rate\": {}, \
                 \"duration_s\": {}, \"ramp_from\": {}, \"first_index\": {}, \"prompt\": {}}}",
                quoted(&s.name),
                s.users,
                s.requests,
                s.rate.map_or("None".to_string(), |r| r.to_string()),
                s.duration_expr("None"),
                s.ramp_expr("None"),
                s.first_index,
                quoted(&s.prompt)
            )
        })
        .collect();
    [
        "# The test, as configured in Stampede's page.".to_string(),
        format!("METHOD = {}", quoted(&t.method)),
        format!("URLS = {}", list(&urls, "")),
        format!("HEADERS = {}", list(&headers, "")),
        format!("API_KEY = {api_key}"),
        format!("MODEL = {}", quoted(&t.model)),
        format!("MAX_TOKENS = {}", t.max_tokens),
        format!("BODY_TEMPLATE = {}", quoted(&t.body_template)),
        "# One per request in turn; none: each stage's own prompt.".into(),
        format!("PROMPTS = {}", list(&prompts, "")),
        format!("TIMEOUT_S = {}", t.timeout_s),
        "# How responses are read: framing (json, sse, ndjson) and JSON pointers.".into(),
        format!("FRAMING = {}", quoted(t.framing_id())),
        format!("TEXT_POINTER = {}", quoted(&t.text_pointer)),
        format!("REASONING_POINTER = {}", quoted(&t.reasoning_pointer)),
        format!("TOOL_CALLS_POINTER = {}", quoted(&t.tool_calls_pointer)),
        format!("DONE_POINTER = {}", quoted(&t.done_pointer)),
        format!("REQUIRE_TERMINAL = {}", bool_py(t.require_terminal)),
        "# Stages in order; rate in requests/s (None: closed loop); duration_s: a stage by time;"
            .into(),
        "# ramp_from: its ramp's start (users or rate). first_index: the {{i}} of the".into(),
        "# stage's first request as the page numbers them.".into(),
        format!("STAGES = {}", list(&stages, "")),
    ]
    .join("\n")
}

// ---------------------------------------------------------------------------------------------
// k6

fn js_header(t: &Test) -> String {
    let mut lines = vec![
        format!(
            "stampede-k6.js, generated by Stampede {} (\"Export k6 script\"). Edit freely.",
            env!("CARGO_PKG_VERSION")
        ),
        String::new(),
        "Reproduces a Stampede test in k6: the same requests, bodies and headers, stage by stage."
            .into(),
        format!("  {}", t.summary()),
        String::new(),
        "NOT RUN by Stampede's own tests: k6 cannot be installed where they run. They check that"
            .into(),
        "this script parses as an ES module and compare it with a snapshot; nothing more.".into(),
        String::new(),
    ];
    if t.framing == Framing::Sse {
        lines.extend([
            "Streams are read with the xk6-sse extension (`k6/x/sse`, as llama.cpp's server".into(),
            "benchmark does), so k6 must be built with it:".into(),
            "  xk6 build --with github.com/phymbert/xk6-sse".into(),
            format!("  {}./k6 run stampede-k6.js", t.env_example()),
            "With the k6-operator, use a runner image built the same way.".into(),
        ]);
    } else {
        lines.push(format!("Run it: {}k6 run stampede-k6.js", t.env_example()));
    }
    lines.extend([
        String::new(),
        "Secrets come from the environment (k6 run -e NAME=value, or the shell's), never from"
            .into(),
        "this file:".into(),
    ]);
    lines.extend(t.env_lines());
    lines.extend([
        String::new(),
        "How it maps to Stampede:".into(),
        "- A closed stage is a shared-iterations scenario: vus = its concurrency, iterations ="
            .into(),
        "  its requests.".into(),
    ]);
    if t.has_timed_stage() {
        lines.extend([
            "- A stage by time is constant-vus (closed), ramping-vus from the ramp's start with"
                .into(),
            "  gracefulRampDown = the timeout (closed ramp), constant-arrival-rate or".into(),
            "  ramping-arrival-rate (rate, ramped) for its duration. k6 ramps linearly where"
                .into(),
            "  Stampede holds each whole concurrency for an equal share of the duration.".into(),
        ]);
    }
    if t.has_rate_stage() {
        lines.extend([
            "- A rate stage is a constant-arrival-rate scenario at its rate with maxVUs = its"
                .into(),
            "  concurrency: arrivals beyond the cap are dropped, as in Stampede (k6 counts them in"
                .into(),
            "  dropped_iterations); latency is from the actual send only.".into(),
        ]);
    }
    lines.extend([
        "- k6 starts scenarios at fixed times, so each closed stage gets a window of".into(),
        "  STAMPEDE_STAGE_SECONDS (default: ceil(requests / concurrency) × timeout, as if every"
            .into(),
        "  request timed out), then the timeout; the next stage starts after both. Set it shorter"
            .into(),
        "  once you know how long a stage takes: a stage out of time leaves requests unsent."
            .into(),
        "- Host aliases: request n goes to URL n mod (number of URLs).".into(),
        "- Metrics: stampede_latency (successful requests, until the whole body was read),".into(),
    ]);
    match t.framing {
        Framing::Sse => lines.extend([
            "  stampede_ttft (the first event carrying text, reasoning or a tool call; role-only"
                .into(),
            "  and empty chunks do not count), stampede_failures tagged with Stampede's error"
                .into(),
            "  class (http with its status, timeout, network, parse, stream-error). A stream's"
                .into(),
            "  timeout is checked as each event arrives: xk6-sse has none of its own.".into(),
        ]),
        Framing::Ndjson => lines.extend([
            "  stampede_failures tagged with Stampede's error class (http with its status,".into(),
            "  timeout, network, parse, stream-error). k6's HTTP client hands over a body only"
                .into(),
            "  when it is complete, so NDJSON streams are read whole and have no TTFT here.".into(),
        ]),
        Framing::Json => lines.extend([
            "  stampede_failures tagged with Stampede's error class (http with its status,".into(),
            "  timeout, network, parse).".into(),
        ]),
    }
    lines.extend(t.common_notes().into_iter().map(|n| format!("- {n}")));
    lines
        .iter()
        .map(|l| format!("// {l}").trim_end().to_string() + "\n")
        .collect()
}

fn js_values(t: &Test) -> String {
    let urls = url_exprs(t, |v| format!("encodeURIComponent(env({v}))"));
    let headers = header_exprs(t, |name, value| format!("[{name}, {value}]"));
    let api_key = if t.env.iter().any(|v| v.name == API_KEY_VAR && v.required) {
        format!("env({})", quoted(API_KEY_VAR))
    } else {
        format!("__ENV.{API_KEY_VAR} || ''")
    };
    let prompts: Vec<String> = t.prompts.iter().map(|p| quoted(p)).collect();
    let stages: Vec<String> = t
        .stages
        .iter()
        .map(|s| {
            format!(
                "{{ name: {}, users: {}, requests: {}, rate: {}, duration_s: {}, ramp_from: {}, \
                 first_index: {}, prompt: {} }}",
                quoted(&s.name),
                s.users,
                s.requests,
                s.rate.map_or("null".to_string(), |r| r.to_string()),
                s.duration_expr("null"),
                s.ramp_expr("null"),
                s.first_index,
                quoted(&s.prompt)
            )
        })
        .collect();
    [
        "// The test, as configured in Stampede's page.".to_string(),
        format!("const METHOD = {};", quoted(&t.method)),
        format!("const URLS = {};", list(&urls, "")),
        format!("const HEADERS = {};", list(&headers, "")),
        format!("const API_KEY = {api_key};"),
        format!("const MODEL = {};", quoted(&t.model)),
        format!("const MAX_TOKENS = {};", t.max_tokens),
        format!("const BODY_TEMPLATE = {};", quoted(&t.body_template)),
        "// One per request in turn; none: each stage's own prompt.".into(),
        format!("const PROMPTS = {};", list(&prompts, "")),
        format!("const TIMEOUT_S = {};", t.timeout_s),
        "// How responses are read: framing (json, sse, ndjson) and JSON pointers.".into(),
        format!("const FRAMING = {};", quoted(t.framing_id())),
        format!("const TEXT_POINTER = {};", quoted(&t.text_pointer)),
        format!(
            "const REASONING_POINTER = {};",
            quoted(&t.reasoning_pointer)
        ),
        format!(
            "const TOOL_CALLS_POINTER = {};",
            quoted(&t.tool_calls_pointer)
        ),
        format!("const DONE_POINTER = {};", quoted(&t.done_pointer)),
        format!("const REQUIRE_TERMINAL = {};", t.require_terminal),
        "// Stages in order; rate in requests/s (null: closed loop); duration_s: a stage by time;"
            .into(),
        "// ramp_from: its ramp's start (VUs or rate). first_index: the {{i}} of the".into(),
        "// stage's first request as the page numbers them.".into(),
        format!("const STAGES = {};", list(&stages, "")),
    ]
    .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Field;
    use crate::preset::Preset;
    use crate::suite::{RateSpec, StageSpec, Suite};

    fn stage(concurrency: u32, requests: u32, rate: Option<f64>) -> StageSpec {
        StageSpec {
            duration_s: None,
            ramp_from: None,
            name: "Stage".into(),
            concurrency,
            requests,
            rate: rate.map(|per_s| RateSpec {
                per_s,
                poisson: false,
                seed: 0,
            }),
        }
    }

    fn secret_config() -> RunConfig {
        RunConfig {
            preset: Preset::OpenaiChatStream,
            model: "m".into(),
            endpoint: "https://h.test?key=AIza-secret&region=eu".into(),
            aliases: "https://h2.test/?access_token=tok-secret".into(),
            headers: "X-Api-Key: xk-secret-456\nAccept: text/event-stream\n\
                      X-Stampede-Request: {{i}}\nx-api-key: xk-other-789"
                .into(),
            api_key: "sk-live-123".into(),
            suite: Suite::Custom,
            custom_stages: vec![stage(2, 20, None), stage(4, 40, None)],
            ..RunConfig::default()
        }
    }

    #[test]
    fn secrets_are_environment_variables_never_text() {
        let c = secret_config();
        for file in [locustfile(&c).unwrap(), k6_script(&c).unwrap()] {
            for secret in [
                "AIza-secret",
                "tok-secret",
                "xk-secret-456",
                "xk-other-789",
                "sk-live-123",
            ] {
                assert!(!file.contains(secret), "{secret} leaked");
            }
            for var in [
                "STAMPEDE_API_KEY",
                "STAMPEDE_HEADER_X_API_KEY",
                "STAMPEDE_HEADER_X_STAMPEDE_REQUEST",
                "STAMPEDE_QUERY_KEY",
                "STAMPEDE_QUERY_ACCESS_TOKEN",
            ] {
                assert!(file.contains(var), "{var} missing");
            }
            // Harmless headers and the rest of the query stay as typed.
            assert!(file.contains("\"text/event-stream\""));
            assert!(file.contains("\"&region=eu\""));
        }
        let py = locustfile(&c).unwrap();
        assert!(py.contains(
            "\"https://h.test/v1/chat/completions?key=\" + quote(env(\"STAMPEDE_QUERY_KEY\"), safe=\"\") + \"&region=eu\""
        ));
        assert!(py.contains("(\"X-Api-Key\", env(\"STAMPEDE_HEADER_X_API_KEY\"))"));
        // The same name in another case is the same header: one variable.
        assert!(py.contains("(\"x-api-key\", env(\"STAMPEDE_HEADER_X_API_KEY\"))"));
        assert!(
            py.contains("API_KEY = env(\"STAMPEDE_API_KEY\")"),
            "the test used a key"
        );
        assert!(
            py.contains("key=[redacted]&region=eu"),
            "the summary line is redacted"
        );
        let js = k6_script(&c).unwrap();
        assert!(js.contains(
            "\"https://h2.test/v1/chat/completions?access_token=\" + encodeURIComponent(env(\"STAMPEDE_QUERY_ACCESS_TOKEN\"))"
        ));
    }

    #[test]
    fn without_a_key_the_key_is_optional() {
        let c = RunConfig {
            api_key: String::new(),
            ..secret_config()
        };
        assert!(locustfile(&c)
            .unwrap()
            .contains("API_KEY = os.environ.get(\"STAMPEDE_API_KEY\", \"\")"));
        assert!(k6_script(&c)
            .unwrap()
            .contains("const API_KEY = __ENV.STAMPEDE_API_KEY || '';"));
    }

    #[test]
    fn stage_numbers_skip_the_warmups_as_the_page_counts_them() {
        let mut c = secret_config();
        // Default warm-ups: one per slot. Stage 1: 0–1 warm-ups, 2–21; stage 2: 22–25, 26–65.
        let t = Test::new(&c).unwrap();
        let firsts: Vec<u64> = t.stages.iter().map(|s| s.first_index).collect();
        assert_eq!(firsts, [2, 26]);
        assert_eq!(t.warmups, 6);
        assert_eq!(t.total_requests(), 60);
        c.warmup = Some(0);
        let t = Test::new(&c).unwrap();
        let firsts: Vec<u64> = t.stages.iter().map(|s| s.first_index).collect();
        assert_eq!(firsts, [0, 20]);
        assert!(!locustfile(&c).unwrap().contains("Warm-ups are not sent"));
        let py = locustfile(&secret_config()).unwrap();
        assert!(py.contains(
            "{\"name\": \"2. Stage\", \"users\": 4, \"requests\": 40, \"rate\": None, \"duration_s\": None, \
             \"ramp_from\": None, \"first_index\": 26, \
             \"prompt\": \"Explain the concept of artificial intelligence in detail.\"}"
        ));
    }

    #[test]
    fn stages_by_time_carry_their_duration_and_ramp_and_say_what_differs() {
        let timed = |concurrency, d, ramp, rate| StageSpec {
            duration_s: Some(d),
            ramp_from: ramp,
            requests: 0,
            ..stage(concurrency, 0, rate)
        };
        let c = RunConfig {
            suite: Suite::Custom,
            custom_stages: vec![timed(3, 10, None, None), timed(8, 20, Some(2.0), Some(5.0))],
            ..RunConfig::default()
        };
        let py = locustfile(&c).unwrap();
        assert!(py
            .contains("\"requests\": 0, \"rate\": None, \"duration_s\": 10, \"ramp_from\": None,"));
        assert!(py.contains("\"rate\": 5, \"duration_s\": 20, \"ramp_from\": 2,"));
        assert!(py.contains("A closed ramp runs its largest number of users"));
        assert!(
            py.contains("(3×10 s, at 2→5/s for 20 s, cap 8), 30 s ·"),
            "{py}"
        );
        assert!(py.contains("request numbers ({{i}}) are not the page's"));
        let js = k6_script(&c).unwrap();
        assert!(js.contains("rate: 5, duration_s: 20, ramp_from: 2,"));
        assert!(js.contains("ramping-vus from the ramp's start"));
    }

    #[test]
    fn rate_stages_keep_their_rate_and_say_what_differs() {
        let c = RunConfig {
            suite: Suite::Custom,
            custom_stages: vec![stage(4, 30, Some(12.5))],
            ..RunConfig::default()
        };
        let py = locustfile(&c).unwrap();
        assert!(py.contains("\"rate\": 12.5"));
        assert!(py.contains("Rate stages: each user starts a request every users/rate seconds"));
        let js = k6_script(&c).unwrap();
        assert!(js.contains("rate: 12.5,"));
        assert!(js.contains("constant-arrival-rate scenario"));
        assert!(
            js.contains("const sse = null;"),
            "the seed preset needs no extension"
        );
    }

    #[test]
    fn an_invalid_config_gives_the_form_errors() {
        let c = RunConfig {
            endpoint: "not a url".into(),
            ..RunConfig::default()
        };
        let e = locustfile(&c).unwrap_err();
        assert_eq!(e[0].field, Field::Endpoint);
        assert_eq!(k6_script(&c).unwrap_err(), e);
    }

    #[test]
    fn literals_escape_what_they_must() {
        let c = RunConfig {
            prompts: "say \"hi\"\\now\nsecond".into(),
            ..RunConfig::default()
        };
        let py = locustfile(&c).unwrap();
        assert!(
            py.contains("    \"say \\\"hi\\\"\\\\now\",\n    \"second\",\n"),
            "{py}"
        );
        // Every generated value replaced its mark, once.
        assert!(!py.contains(PY_TEST_MARK));
        let js = k6_script(&c).unwrap();
        assert!(!js.contains(JS_TEST_MARK) && !js.contains(JS_IMPORTS_MARK));
    }

    #[test]
    fn a_get_request_has_no_body_type() {
        let mut c = RunConfig {
            preset: Preset::Custom,
            endpoint: "http://127.0.0.1:8000/x".into(),
            ..RunConfig::default()
        };
        c.custom.method = "GET".into();
        let t = Test::new(&c).unwrap();
        assert!(t.headers.is_empty());
        assert_eq!(t.method, "GET");
        c.custom.method = "post".into();
        let t = Test::new(&c).unwrap();
        assert_eq!(t.method, "POST", "as the plan sends it");
        assert_eq!(
            t.headers,
            [(
                "Content-Type".to_string(),
                Piece::Text("application/json".into())
            )]
        );
    }

    #[test]
    fn variables_that_sanitize_alike_stay_apart() {
        let mut env = Vec::new();
        let a = env_var(&mut env, "STAMPEDE_HEADER_", "X-A", String::new());
        let b = env_var(&mut env, "STAMPEDE_HEADER_", "X_A", String::new());
        let a2 = env_var(&mut env, "STAMPEDE_HEADER_", "x-a", String::new());
        assert_eq!(
            (a.as_str(), b.as_str(), a2.as_str()),
            (
                "STAMPEDE_HEADER_X_A",
                "STAMPEDE_HEADER_X_A_2",
                "STAMPEDE_HEADER_X_A"
            )
        );
    }
}
