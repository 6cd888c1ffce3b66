import json
import math
import os
import random
import re
import sys
import time
import unicodedata
from collections import deque
from itertools import count
from urllib.parse import quote

import gevent
import requests
from gevent.event import AsyncResult
from locust import LoadTestShape, User, constant, events, task
from locust.runners import MasterRunner, WorkerRunner

MISSING = []


def env(name):
    """A secret from the environment; missing ones are reported together before anything runs."""
    value = os.environ.get(name)
    if value is None:
        MISSING.append(name)
        return ""
    return value


# @stampede-test@

# ---------------------------------------------------------------------------------------------
# Everything below is the same for every test Stampede exports.

if MISSING:
    sys.exit("locustfile.py: set " + ", ".join(MISSING) + " (on the master and on every worker)")


def render(template, values):
    """Substitute {{name}} placeholders the way Stampede does; an unknown name is an error."""
    out, rest = [], template
    while "{{" in rest:
        before, after = rest.split("{{", 1)
        if "}}" not in after:
            raise ValueError("a '{{' has no closing '}}'")
        name, rest = after.split("}}", 1)
        name = name.strip()
        if name not in values:
            raise ValueError("unknown placeholder {{" + name + "}} (known: " + ", ".join(values) + ")")
        out += [before, values[name]]
    out.append(rest)
    return "".join(out)


def json_escape(text):
    """The inside of a JSON string: how {{prompt}} and {{model}} go into a body."""
    return json.dumps(text, ensure_ascii=False)[1:-1]


def request_headers(number):
    values = {"model": MODEL, "max_tokens": str(MAX_TOKENS), "i": str(number)}
    headers = {name: render(value, values) for name, value in HEADERS}
    if API_KEY:
        headers["Authorization"] = "Bearer " + API_KEY
    return headers


def request_body(stage, number):
    prompt = PROMPTS[number % len(PROMPTS)] if PROMPTS else stage["prompt"]
    values = {
        "prompt": json_escape(prompt),
        "model": json_escape(MODEL),
        "max_tokens": str(MAX_TOKENS),
        "i": str(number),
    }
    return render(BODY_TEMPLATE, values)


def sendable(text):
    """Text a header can carry: Latin-1, no control characters (else every request fails)."""
    return all(ord(c) <= 255 and unicodedata.category(c) != "Cc" for c in text)


def check_headers():
    values = {"model": MODEL, "max_tokens": str(MAX_TOKENS), "i": "0"}
    for name, value in HEADERS:
        try:
            text = render(value, values)
        except ValueError as e:
            sys.exit(f"locustfile.py: header {name}: {e}")
        if not sendable(text):
            sys.exit(f"locustfile.py: header {name} has a character no header can carry (Latin-1 only)")
    if not sendable(API_KEY):
        sys.exit("locustfile.py: STAMPEDE_API_KEY has a character no header can carry (Latin-1 only)")


check_headers()

# ---------------------------------------------------------------------------------------------
# Reading a response as Stampede does (crates/engine/src/parse.rs, stream.rs).


class StampedeFailure(Exception):
    """A failed request, named by Stampede's error class: http, timeout, network, parse or
    stream-error (Locust shows it as the failure's error)."""

    def __init__(self, error_class, message):
        super().__init__(f"{error_class}: {message}")
        self.error_class = error_class


class RequestTimedOut(Exception):
    pass


def pointer(value, path):
    """A JSON pointer (RFC 6901) as serde_json reads it; None when absent or empty."""
    if not path:
        return None
    for token in path.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(value, dict):
            value = value.get(token)
        elif isinstance(value, list):
            if not re.fullmatch("[0-9]+", token) or (token.startswith("0") and token != "0"):
                return None
            index = int(token)
            value = value[index] if index < len(value) else None
        else:
            return None
    return value


def truthy(value):
    """Present and not null, false, "" or []: a tool-call delta or a terminal marker."""
    if value is None or value is False:
        return False
    if isinstance(value, (str, list)):
        return len(value) > 0
    return True


def in_band_error(value):
    """The message of an in-band {"error": ...} (OpenAI object, Ollama or TGI string)."""
    if not isinstance(value, dict) or value.get("error") is None:
        return None
    error = value["error"]
    if isinstance(error, str):
        return error
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return error["message"]
    return json.dumps(error)


def read_json(content):
    try:
        value = json.loads(content)
    except ValueError:
        return StampedeFailure("parse", "response is not JSON")
    if not isinstance(pointer(value, TEXT_POINTER), str):
        return StampedeFailure("parse", f"no generated text at {TEXT_POINTER}")
    return None


LINE_END = re.compile(rb"\r\n|\r|\n")


class SseParser:
    """Server-sent events (WHATWG framing): data and event fields, comments, any line end."""

    def __init__(self):
        self.buf = b""
        self.data = []
        self.event = ""
        self.started = False

    def push(self, chunk):
        self.buf += chunk
        if not self.started and len(self.buf) >= 3:
            if self.buf.startswith(b"\xef\xbb\xbf"):
                self.buf = self.buf[3:]
            self.started = True
        out, start = [], 0
        for end in LINE_END.finditer(self.buf):
            if end.group() == b"\r" and end.end() == len(self.buf):
                break  # maybe the first half of a CRLF: wait for the next chunk
            self.line(self.buf[start:end.start()], out)
            start = end.end()
        self.buf = self.buf[start:]
        return out

    def finish(self):
        """End of body: nothing more to deliver; True when an event was left without its blank line."""
        out = []
        if self.buf.endswith(b"\r"):
            self.line(self.buf[:-1], out)
            self.buf = b""
        return out, bool(self.buf) or bool(self.data)

    def line(self, raw, out):
        line = raw.decode("utf-8", "replace")
        if not line:
            if self.data:
                data = "\n".join(self.data)
                # An `event: error` is an in-band error, like a JSON {"error": ...}.
                out.append(json.dumps({"error": data}) if self.event == "error" else data)
            self.data, self.event = [], ""
        elif not line.startswith(":"):
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "data":
                self.data.append(value)
            elif field == "event":
                self.event = value


class NdjsonParser:
    """One JSON value per line (Ollama); blank lines are skipped."""

    def __init__(self):
        self.buf = b""

    def push(self, chunk):
        self.buf += chunk
        *lines, self.buf = self.buf.split(b"\n")
        return [t for t in (self.text(line) for line in lines) if t]

    def finish(self):
        last = self.text(self.buf)
        self.buf = b""
        return ([last] if last else []), False

    @staticmethod
    def text(line):
        return line.decode("utf-8", "replace").strip()


class Stream:
    """One streamed response read event by event: the first content event, the terminal one,
    or the error that ends it. Role-only and empty chunks are not content."""

    def __init__(self):
        self.error = None
        self.terminal = False
        self.events = 0
        self.first_content_at = None

    def event(self, data, at):
        if self.error is not None or self.terminal:
            return
        self.events += 1
        if FRAMING == "sse" and data.strip() == "[DONE]":
            self.terminal = True
            return
        try:
            value = json.loads(data)
        except ValueError:
            self.error = StampedeFailure("parse", "malformed event (not JSON)")
            return
        message = in_band_error(value)
        if message is not None:
            self.error = StampedeFailure("stream-error", "in-band error: " + message[:200])
            return
        text = pointer(value, TEXT_POINTER)
        reasoning = pointer(value, REASONING_POINTER)
        content = (
            (isinstance(text, str) and text != "")
            or (isinstance(reasoning, str) and reasoning != "")
            or truthy(pointer(value, TOOL_CALLS_POINTER))
        )
        if content and self.first_content_at is None:
            self.first_content_at = at
        if truthy(pointer(value, DONE_POINTER)):
            self.terminal = True

    def failure(self, incomplete):
        if self.error is not None:
            return self.error
        if not self.terminal and (REQUIRE_TERMINAL or incomplete):
            what = f"an event with {DONE_POINTER} set" if DONE_POINTER else "data: [DONE]"
            return StampedeFailure("parse", f"the stream ended without its terminal event ({what}): truncated")
        return None


def body_chunks(response):
    """The body as it arrives: each HTTP chunk, or whatever one read returns when the body is not chunked."""
    if response.raw.chunked:
        return response.iter_content(chunk_size=None)
    return iter(lambda: response.raw.read1(65536), b"")


# ---------------------------------------------------------------------------------------------
# One request.

# Requests in flight per URL in this process: each goes to the least loaded (lowest index on
# ties), as Stampede spreads requests over host aliases.
IN_FLIGHT = [0] * len(URLS)


def send(environment, session, stage, number):
    """Send request `number` of `stage`, read it all, and report it to Locust (and its TTFT)."""
    target = min(range(len(URLS)), key=lambda t: IN_FLIGHT[t])
    headers = request_headers(number)
    data = None if METHOD == "GET" else request_body(stage, number).encode("utf-8")
    IN_FLIGHT[target] += 1
    response = None
    failure = None
    length = 0
    first_content_at = None
    start = time.perf_counter()
    try:
        with gevent.Timeout(TIMEOUT_S, RequestTimedOut):
            response = session.request(
                METHOD, URLS[target], data=data, headers=headers, stream=True, timeout=TIMEOUT_S
            )
            if not 200 <= response.status_code < 300:
                length = len(response.content)
                failure = StampedeFailure("http", f"HTTP {response.status_code}")
            elif FRAMING == "json":
                content = response.content
                length = len(content)
                failure = read_json(content)
            else:
                parser = SseParser() if FRAMING == "sse" else NdjsonParser()
                stream = Stream()
                for chunk in body_chunks(response):
                    now = time.perf_counter()
                    length += len(chunk)
                    for event in parser.push(chunk):
                        stream.event(event, now)
                rest, incomplete = parser.finish()
                for event in rest:
                    stream.event(event, time.perf_counter())
                failure = stream.failure(incomplete)
                first_content_at = stream.first_content_at
    except (RequestTimedOut, requests.Timeout):
        failure = StampedeFailure("timeout", f"no complete response within {TIMEOUT_S} s")
    except (requests.RequestException, OSError) as e:
        # The exception's text may quote the URL (and its credentials): only its kind is kept.
        if response is None:
            failure = StampedeFailure("network", type(e).__name__)
        else:
            failure = StampedeFailure(
                "network", f"{type(e).__name__} while reading the body (HTTP {response.status_code})"
            )
    finally:
        IN_FLIGHT[target] -= 1
        if response is not None:
            response.close()
    latency_ms = (time.perf_counter() - start) * 1000
    context = {"stage": stage["name"], "request": number}
    environment.events.request.fire(
        request_type=METHOD,
        name=stage["name"],
        response_time=latency_ms,
        response_length=length,
        exception=failure,
        context=context,
    )
    if failure is None and first_content_at is not None:
        environment.events.request.fire(
            request_type="TTFT",
            name=stage["name"],
            response_time=(first_content_at - start) * 1000,
            response_length=0,
            exception=None,
            context=context,
        )


# ---------------------------------------------------------------------------------------------
# The stages: a counter shared through the master hands out one ticket per request.


def level(stage, elapsed):
    """A closed stage's cap on requests in flight `elapsed` s into it, as Stampede's runner has
    it: a ramp from c0 to c1 over D holds each of the n + 1 levels between them (n = |c1 - c0|)
    for D / (n + 1)."""
    c0, c1 = stage["ramp_from"], stage["users"]
    if c0 is None or stage["duration_s"] is None:
        return c1
    c0 = int(c0)
    n = abs(c1 - c0)
    k = min(n, int((n + 1) * max(0.0, elapsed) / stage["duration_s"]))
    return c0 + k if c1 >= c0 else c0 - k


def arrival_offset(stage, u):
    """When (s into a rate stage) its expected arrivals reach u: the inverse of
    r0 t + (r1 - r0) t^2 / 2D for a ramp (Stampede's runner solves the same); None past its end."""
    r1 = stage["rate"]
    r0 = r1 if stage["ramp_from"] is None else stage["ramp_from"]
    d = stage["duration_s"]
    a = (r1 - r0) / (2 * d) if d else 0.0
    disc = r0 * r0 + 4 * a * u
    if u <= 0:
        return 0.0
    if disc < 0 or r0 + math.sqrt(disc) <= 0:
        return None
    t = 2 * u / (r0 + math.sqrt(disc))
    return None if d is not None and t >= d else t


class Budget:
    """The run's counter, kept by the master (or by the only process): which stage runs and its
    tickets, each the number of one request, at most `users` out at once (a closed stage by
    time: its level now). A stage ends when all its requests have ended (by time: its duration
    is over and what was out has ended); the next starts once Locust runs its number of users."""

    def __init__(self):
        self.stage = -1
        self.started = False
        self.started_at = 0.0
        self.handed = 0
        self.ended = 0
        self.out = set()
        self.returned = []
        self.waiting = deque()
        self.reply = None

    def ask(self, node, waiter, done):
        """A user ended ticket `done` (or None) and wants the next one."""
        if done is not None and done[1] in self.out:
            self.out.discard(done[1])
            self.ended += 1
        self.waiting.append((node, waiter))
        self.hand_out()

    def give_back(self, ticket):
        """A ticket reached a user that had stopped: hand it to another."""
        if ticket[1] in self.out:
            self.out.discard(ticket[1])
            self.returned.append(ticket[1])
            self.hand_out()

    def hand_out(self):
        if not self.started:
            return
        stage = STAGES[self.stage]
        elapsed = time.monotonic() - self.started_at
        timed = stage["duration_s"] is not None
        cap = stage["users"] if stage["rate"] else level(stage, elapsed)
        while self.waiting and len(self.out) < cap:
            if self.returned:
                number = self.returned.pop()
            elif (elapsed < stage["duration_s"]) if timed else (self.handed < stage["requests"]):
                number = stage["first_index"] + self.handed
                self.handed += 1
            else:
                return
            self.out.add(number)
            node, waiter = self.waiting.popleft()
            # The stage's clock goes with the ticket, so a worker paces by it whatever its own.
            self.reply(node, waiter, [self.stage, number, elapsed])

    def over(self):
        """The current stage has ended: all its requests (by time: its duration, and what it
        had out) are done."""
        stage = STAGES[self.stage]
        if stage["duration_s"] is None:
            return self.ended == stage["requests"]
        return time.monotonic() - self.started_at >= stage["duration_s"] and not self.out

    def tick(self, user_count):
        """What LoadTestShape.tick returns: (users, spawn rate), or None when the run is over."""
        if self.stage < 0 or (self.started and self.over()):
            if self.stage + 1 == len(STAGES):
                return None
            self.stage += 1
            self.started = False
            self.handed = self.ended = 0
            self.returned = []
        stage = STAGES[self.stage]
        # A ramp runs its largest level's users throughout; the tickets cap what is in flight,
        # so a ramp down lets the excess finish instead of stopping users mid-request.
        users = max(stage["users"], int(stage["ramp_from"] or 0)) if stage["rate"] is None else stage["users"]
        if not self.started and user_count == users:
            self.started = True
            self.started_at = time.monotonic()
        # Each tick (once a second) also raises a closed ramp's cap for waiting users.
        self.hand_out()
        return users, users


class Tickets:
    """This process's side of the counter: a user asks for its next ticket and waits for it."""

    def __init__(self):
        self.waiters = {}
        self.ids = count()
        self.send = None
        self.give_back = None

    def next(self, done):
        waiter = next(self.ids)
        result = AsyncResult()
        self.waiters[waiter] = result
        try:
            self.send(waiter, done)
            return result.get()
        finally:
            self.waiters.pop(waiter, None)

    def deliver(self, waiter, ticket):
        result = self.waiters.pop(waiter, None)
        if result is None:
            self.give_back(ticket)
        else:
            result.set(ticket)


BUDGET = Budget()
TICKETS = Tickets()


@events.init.add_listener
def on_init(environment, **_kwargs):
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        TICKETS.send = lambda waiter, done: runner.send_message("stampede_ask", {"waiter": waiter, "done": done})
        TICKETS.give_back = lambda ticket: runner.send_message("stampede_return", ticket)
        runner.register_message(
            "stampede_ticket", lambda msg, **_kw: TICKETS.deliver(msg.data["waiter"], msg.data["ticket"])
        )
    elif isinstance(runner, MasterRunner):
        BUDGET.reply = lambda node, waiter, ticket: runner.send_message(
            "stampede_ticket", {"waiter": waiter, "ticket": ticket}, client_id=node
        )
        runner.register_message(
            "stampede_ask", lambda msg, **_kw: BUDGET.ask(msg.node_id, msg.data["waiter"], msg.data["done"])
        )
        runner.register_message("stampede_return", lambda msg, **_kw: BUDGET.give_back(msg.data))
    else:
        BUDGET.reply = lambda _node, waiter, ticket: TICKETS.deliver(waiter, ticket)
        TICKETS.send = lambda waiter, done: BUDGET.ask(None, waiter, done)
        TICKETS.give_back = BUDGET.give_back


class StampedeShape(LoadTestShape):
    """Stampede's stages in order. --run-time, when given, bounds the whole run."""

    use_common_options = True

    def tick(self):
        options = self.runner.environment.parsed_options
        limit = getattr(options, "run_time", None) if options else None
        if limit and self.get_run_time() > limit:
            return None
        return BUDGET.tick(self.runner.user_count)


class StampedeUser(User):
    """One user is one of Stampede's concurrent slots: one request in flight at a time."""

    wait_time = constant(0)

    def on_start(self):
        self.session = requests.Session()
        self.done = None
        self.paced_stage = None
        self.next_start = 0.0

    def on_stop(self):
        self.session.close()

    @task
    def next_request(self):
        ticket = TICKETS.next(self.done)
        self.done = None
        stage = STAGES[ticket[0]]
        try:
            if self.pace(ticket[0], stage, ticket[2]):
                send(self.environment, self.session, stage, ticket[1])
        finally:
            self.done = ticket

    def pace(self, stage_no, stage, elapsed):
        """Rate stages: each user starts a request every users/rate seconds (the first after a
        random part of that gap, so users do not start together); a late one is not made up.
        A rate stage by time paces each user through its share of the (ramped) schedule: user
        arrivals at every `users`-th point of it; none past its end (False: nothing to send)."""
        if not stage["rate"]:
            return True
        now = time.monotonic()
        if stage["duration_s"] is not None:
            stage_start = now - elapsed
            if self.paced_stage != stage_no:
                self.paced_stage = stage_no
                self.next_u = random.uniform(0, stage["users"])
            at = arrival_offset(stage, self.next_u)
            if at is None:
                # This user's share of the schedule is over: hold the ticket to the stage's end.
                gevent.sleep(max(0.0, stage_start + stage["duration_s"] - now))
                return False
            self.next_u += stage["users"]
            gevent.sleep(max(0.0, stage_start + at - now))
            return True
        gap = stage["users"] / stage["rate"]
        if self.paced_stage != stage_no:
            self.paced_stage = stage_no
            self.next_start = now + random.uniform(0, gap)
        gevent.sleep(max(0.0, self.next_start - now))
        self.next_start = max(self.next_start, time.monotonic()) + gap
        return True
