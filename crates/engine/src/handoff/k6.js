import http from 'k6/http';
import exec from 'k6/execution';
import { Counter, Trend } from 'k6/metrics';
// @stampede-imports@

const MISSING = [];

/** A secret from the environment (`k6 run -e NAME=value`, or the shell's); missing ones are reported together. */
function env(name) {
  const value = __ENV[name];
  if (value === undefined) {
    MISSING.push(name);
    return '';
  }
  return value;
}

// @stampede-test@

// ---------------------------------------------------------------------------------------------
// Everything below is the same for every test Stampede exports.

if (MISSING.length > 0) {
  throw new Error(`stampede-k6.js: set ${MISSING.join(', ')} (k6 run -e NAME=value …)`);
}

const latency = new Trend('stampede_latency', true);
const ttft = new Trend('stampede_ttft', true);
const failures = new Counter('stampede_failures');

/** Stages by scenario name, for `request` to know which one it runs in. */
const BY_SCENARIO = {};

export const options = {
  scenarios: scenarios(),
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)', 'count'],
};

/**
 * One scenario per stage, one after another. k6 starts a scenario at a fixed time, never when
 * another ends, so a closed stage gets a window: STAMPEDE_STAGE_SECONDS, or by default
 * ceil(requests / concurrency) × timeout (as if every request timed out); a stage by time gets
 * its duration; every stage is then given the timeout for its last requests to end before the
 * next one starts.
 */
function scenarios() {
  const closedWindowS = __ENV.STAMPEDE_STAGE_SECONDS ? Number(__ENV.STAMPEDE_STAGE_SECONDS) : null;
  const out = {};
  let startMs = 0;
  STAGES.forEach((stage, n) => {
    const name = `stage_${n + 1}`;
    BY_SCENARIO[name] = stage;
    const common = {
      exec: 'request',
      startTime: `${startMs}ms`,
      gracefulStop: `${TIMEOUT_S}s`,
      tags: { stage: stage.name },
    };
    let ms;
    if (stage.duration_s !== null) {
      // A stage by time: k6's own executors for a duration, with a linear ramp when asked.
      ms = stage.duration_s * 1000;
      const duration = `${ms}ms`;
      if (stage.rate === null && stage.ramp_from === null) {
        out[name] = Object.assign(common, { executor: 'constant-vus', vus: stage.users, duration });
      } else if (stage.rate === null) {
        // gracefulRampDown lets the requests of VUs a ramp down removes finish, as Stampede does.
        out[name] = Object.assign(common, {
          executor: 'ramping-vus',
          startVUs: stage.ramp_from,
          stages: [{ duration, target: stage.users }],
          gracefulRampDown: `${TIMEOUT_S}s`,
        });
      } else {
        // Rates in arrivals per 1000 s: k6 takes whole numbers, and 12.5/s is 12500.
        const per = (r) => Math.round(r * 1000);
        const vus = { preAllocatedVUs: stage.users, maxVUs: stage.users };
        out[name] = Object.assign(common, stage.ramp_from === null
          ? { executor: 'constant-arrival-rate', rate: per(stage.rate), timeUnit: '1000s', duration, ...vus }
          : {
            executor: 'ramping-arrival-rate',
            startRate: per(stage.ramp_from),
            timeUnit: '1000s',
            stages: [{ duration, target: per(stage.rate) }],
            ...vus,
          });
      }
    } else if (stage.rate === null) {
      const windowS = closedWindowS !== null ? closedWindowS : Math.ceil(stage.requests / stage.users) * TIMEOUT_S;
      ms = Math.round(windowS * 1000);
      out[name] = Object.assign(common, {
        executor: 'shared-iterations',
        vus: stage.users,
        iterations: stage.requests,
        maxDuration: `${ms}ms`,
      });
    } else {
      // k6 takes a whole number of arrivals per time unit: 12.5/s is 12500 per 1000 s.
      const whole = Number.isInteger(stage.rate);
      ms = Math.round((stage.requests / stage.rate) * 1000);
      out[name] = Object.assign(common, {
        executor: 'constant-arrival-rate',
        rate: whole ? stage.rate : Math.round(stage.rate * 1000),
        timeUnit: whole ? '1s' : '1000s',
        duration: `${ms}ms`,
        preAllocatedVUs: stage.users,
        maxVUs: stage.users,
      });
    }
    startMs += ms + TIMEOUT_S * 1000;
  });
  return out;
}

/** Substitute {{name}} placeholders the way Stampede does; an unknown name is an error. */
function render(template, values) {
  let out = '';
  let rest = template;
  for (;;) {
    const open = rest.indexOf('{{');
    if (open < 0) return out + rest;
    const close = rest.indexOf('}}', open + 2);
    if (close < 0) throw new Error("a '{{' has no closing '}}'");
    const name = rest.slice(open + 2, close).trim();
    if (!Object.prototype.hasOwnProperty.call(values, name)) {
      throw new Error(`unknown placeholder {{${name}}}`);
    }
    out += rest.slice(0, open) + values[name];
    rest = rest.slice(close + 2);
  }
}

/** The inside of a JSON string: how {{prompt}} and {{model}} go into a body. */
function jsonEscape(text) {
  return JSON.stringify(text).slice(1, -1);
}

function requestHeaders(number) {
  const values = { model: MODEL, max_tokens: String(MAX_TOKENS), i: String(number) };
  const headers = {};
  for (const [name, value] of HEADERS) headers[name] = render(value, values);
  if (API_KEY) headers.Authorization = `Bearer ${API_KEY}`;
  return headers;
}

function requestBody(stage, number) {
  const prompt = PROMPTS.length > 0 ? PROMPTS[number % PROMPTS.length] : stage.prompt;
  return render(BODY_TEMPLATE, {
    prompt: jsonEscape(prompt),
    model: jsonEscape(MODEL),
    max_tokens: String(MAX_TOKENS),
    i: String(number),
  });
}

// Header values from the environment must render, or every request would fail the same way.
try {
  requestHeaders(0);
} catch (e) {
  throw new Error(`stampede-k6.js: a header value: ${e.message}`);
}

// ---------------------------------------------------------------------------------------------
// Reading a response as Stampede does (crates/engine/src/parse.rs).

/** A JSON pointer (RFC 6901) as serde_json reads it; undefined when absent or empty. */
function pointer(value, path) {
  if (!path) return undefined;
  let here = value;
  for (const raw of path.split('/').slice(1)) {
    const token = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(here)) {
      if (!/^(0|[1-9][0-9]*)$/.test(token)) return undefined;
      here = here[Number(token)];
    } else if (here !== null && typeof here === 'object') {
      here = Object.prototype.hasOwnProperty.call(here, token) ? here[token] : undefined;
    } else {
      return undefined;
    }
  }
  return here;
}

/** Present and not null, false, "" or []: a tool-call delta or a terminal marker. */
function truthy(value) {
  if (value === undefined || value === null || value === false) return false;
  if (typeof value === 'string' || Array.isArray(value)) return value.length > 0;
  return true;
}

/** The message of an in-band {"error": …} (OpenAI object, Ollama or TGI string), or null. */
function inBandError(value) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const error = value.error;
  if (error === undefined || error === null) return null;
  if (typeof error === 'string') return error;
  if (typeof error === 'object' && typeof error.message === 'string') return error.message;
  return JSON.stringify(error);
}

function fail(cls, status) {
  return { cls, status: status === undefined ? null : status };
}

function readJson(body) {
  let value;
  try {
    value = JSON.parse(body);
  } catch (_e) {
    return fail('parse');
  }
  return typeof pointer(value, TEXT_POINTER) === 'string' ? null : fail('parse');
}

/** One streamed response, event by event. Role-only and empty chunks are not content. */
class Stream {
  constructor() {
    this.error = null;
    this.terminal = false;
    this.firstContentAt = null;
  }

  event(data, at) {
    if (this.error !== null || this.terminal) return;
    if (FRAMING === 'sse' && data.trim() === '[DONE]') {
      this.terminal = true;
      return;
    }
    let value;
    try {
      value = JSON.parse(data);
    } catch (_e) {
      this.error = fail('parse');
      return;
    }
    if (inBandError(value) !== null) {
      this.error = fail('stream-error');
      return;
    }
    const text = pointer(value, TEXT_POINTER);
    const reasoning = pointer(value, REASONING_POINTER);
    const content = (typeof text === 'string' && text !== '')
      || (typeof reasoning === 'string' && reasoning !== '')
      || truthy(pointer(value, TOOL_CALLS_POINTER));
    if (content && this.firstContentAt === null) this.firstContentAt = at;
    if (truthy(pointer(value, DONE_POINTER))) this.terminal = true;
  }

  failure() {
    if (this.error !== null) return this.error;
    return !this.terminal && REQUIRE_TERMINAL ? fail('parse') : null;
  }
}

function plain(url, body, params) {
  const res = http.request(METHOD, url, body, Object.assign({ timeout: `${TIMEOUT_S}s`, responseType: 'text' }, params));
  const endedAt = Date.now();
  if (res.status === 0) {
    // 1050 is k6's request timeout; any other status-less failure is the network's.
    return { failure: fail(res.error_code === 1050 ? 'timeout' : 'network'), endedAt, firstContentAt: null };
  }
  if (res.status < 200 || res.status >= 300) return { failure: fail('http', res.status), endedAt, firstContentAt: null };
  if (FRAMING === 'json') return { failure: readJson(res.body), endedAt, firstContentAt: null };
  // NDJSON: k6's HTTP client hands over a body only when it is complete, so no TTFT here.
  const stream = new Stream();
  for (const line of res.body.split('\n')) {
    if (line.trim() !== '') stream.event(line.trim(), endedAt);
  }
  return { failure: stream.failure(), endedAt, firstContentAt: null };
}

function streamed(url, body, params, started) {
  const stream = new Stream();
  let broken = false;
  let timedOut = false;
  const res = sse.open(url, { method: METHOD, body: body === null ? '' : body, headers: params.headers, tags: params.tags }, (client) => {
    client.on('event', (event) => {
      const at = Date.now();
      // xk6-sse has no timeout of its own: it is checked as each event arrives.
      if (at - started > TIMEOUT_S * 1000) {
        timedOut = true;
        client.close();
        return;
      }
      // xk6-sse hands over every block that ends in a blank line; one without data is no event.
      if (event.data === '') return;
      stream.event(event.name === 'error' ? JSON.stringify({ error: event.data }) : event.data, at);
    });
    client.on('error', (e) => {
      // A line that is no SSE field (an HTTP error's JSON body, say) is skipped, as browsers do.
      if (!String(e.error()).startsWith('unknown event')) broken = true;
    });
  });
  const endedAt = Date.now();
  let failure = null;
  if (res.error) failure = fail('network');
  else if (res.status < 200 || res.status >= 300) failure = fail('http', res.status);
  else if (timedOut) failure = fail('timeout');
  else if (broken) failure = fail('network', res.status);
  else failure = stream.failure();
  return { failure, endedAt, firstContentAt: stream.firstContentAt };
}

/** One request of the stage this scenario runs: request n is the page's request n. */
export function request() {
  const stage = BY_SCENARIO[exec.scenario.name];
  const number = stage.first_index + exec.scenario.iterationInTest;
  const url = URLS[number % URLS.length];
  const tags = { stage: stage.name };
  const params = { headers: requestHeaders(number), tags };
  const body = METHOD === 'GET' ? null : requestBody(stage, number);
  const started = Date.now();
  const result = FRAMING === 'sse' ? streamed(url, body, params, started) : plain(url, body, params);
  if (result.failure !== null) {
    const failureTags = Object.assign({ class: result.failure.cls }, tags);
    if (result.failure.status !== null) failureTags.status = String(result.failure.status);
    failures.add(1, failureTags);
    return;
  }
  latency.add(result.endedAt - started, tags);
  if (result.firstContentAt !== null) ttft.add(result.firstContentAt - started, tags);
}
