"""Section 5.4, Logging & Observability: the exercises' checks and the quiz.

5.4.tracing gives the learner's configure_logging() a StringIO, calls the learner's app with
an OpenAI client pointed at this kernel's llmsim, and reads three things: the response's
X-Request-ID, the JSON lines written to the stream, and the headers llmsim's journal recorded.
Each run marks its upstream requests with a header of its own, so a shared journal is read,
never cleared. 5.4.metrics calls summarize() on records whose answers are known.
"""

import io
import json
import math
import time
import uuid
from typing import Any

from grader.criterion import check
from grader.exercise import exercise, section_quiz

RUN_HEADER = "x-course-check-run"  # no "key"/"token" in the name: llmsim would redact it
PROBE_KEY = "sk-llmsim-section5-probe"

# -- 5.4.tracing ------------------------------------------------------------------------------


def _llm(run: str) -> Any:
    import openai

    from grader.lesson import sim

    return openai.OpenAI(api_key=PROBE_KEY, base_url=sim().url + "/v1", max_retries=0, timeout=5.0,
                         default_headers={RUN_HEADER: run})


def _upstream(run: str, settle_s: float = 2.0) -> list[dict]:
    """The journal entries this run sent, once none is in flight."""
    from grader.lesson import sim

    deadline = time.monotonic() + settle_s
    while True:
        found = [e for e in sim().requests(provider="openai") if (e.get("headers") or {}).get(RUN_HEADER) == run]
        if found and all(e.get("ended_at") is not None for e in found) or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def _lines(stream: io.StringIO) -> list[dict]:
    lines = [line for line in stream.getvalue().splitlines() if line.strip()]
    parsed = []
    for line in lines:
        try:
            value = json.loads(line)
        except ValueError:
            check(False, f"a log line is not JSON: {line[:80]!r}; end the processors with JSONRenderer()")
        check(isinstance(value, dict), f"a log line is not a JSON object: {line[:80]!r}")
        parsed.append(value)
    return parsed


def _access_line(lines: list[dict], request_id: str, what: str) -> dict:
    mine = [e for e in lines if e.get("request_id") == request_id and "status" in e]
    check(mine, f"{what}: no log line has request_id={request_id!r} and a status; log one access line per "
          "request from the middleware, with the id bound by bind_contextvars and merge_contextvars configured")
    check(len(mine) == 1, f"{what}: {len(mine)} access lines with request_id={request_id!r}; log exactly one per request")
    return mine[0]


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return False
    return True


@exercise("5.4.tracing", "Correlation IDs (request IDs)", uses=["configure_logging", "create_app"],
          also=["JSON logs vs text logs", "What to log (requests, responses, errors, timings)", "Using structlog",
                "Log levels (debug, info, warning, error)",
                "Middleware for automatic ID injection", "Passing IDs to LLM calls", "Finding logs by request ID"],
          hint="reuse a valid X-Request-ID or make str(uuid.uuid4()); bind_contextvars(request_id=...), "
               "set the response header, log one line; send the id with extra_headers on the LLM call")
def tracing(configure_logging, create_app):
    from fastapi.testclient import TestClient

    check(callable(configure_logging) and callable(create_app),
          "configure_logging and create_app must both be functions")
    import structlog

    stream = io.StringIO()
    structlog.reset_defaults()  # what configure_logging sets decides, not what earlier cells configured
    configure_logging(stream)
    run = uuid.uuid4().hex[:12]

    structlog.contextvars.clear_contextvars()
    probe_log = structlog.get_logger()
    for level in ("debug", "info", "warning", "error"):
        getattr(probe_log, level)("check_probe", probe=run)
    probes = [e for e in _lines(stream) if e.get("probe") == run]
    check(probes, "after configure_logging(stream), structlog.get_logger().info(...) wrote nothing to stream: "
          "configure structlog with logger_factory=structlog.PrintLoggerFactory(file=stream)")
    levels = [e.get("level") for e in probes]
    check("debug" not in levels, "after configure_logging(stream), a structlog debug line was written: drop lines "
          "below info with wrapper_class=structlog.make_filtering_bound_logger(logging.INFO)")
    check(levels == ["info", "warning", "error"],
          f"structlog's info, warning and error lines carried the levels {levels}, not ['info', 'warning', 'error']: "
          "add structlog.processors.add_log_level")
    app = create_app(_llm(run))
    check(app is not None, "create_app returned None: return the FastAPI app")
    client = TestClient(app, raise_server_exceptions=False)
    secret_key = f"sk-check-secret-{uuid.uuid4().hex[:8]}"
    secret_text = f"my private note {uuid.uuid4().hex[:8]}"
    auth = {"Authorization": f"Bearer {secret_key}"}

    given = f"check-{run}"
    r = client.post("/chat", json={"message": secret_text}, headers={**auth, "X-Request-ID": given})
    check(r.status_code == 200, f"POST /chat answered {r.status_code}, not 200: {r.text[:120]}")
    body = r.json()
    check(isinstance(body, dict) and isinstance(body.get("reply"), str) and body["reply"],
          f"POST /chat answered {body!r}: answer {{\"reply\": <the completion's text>}}")
    check(r.headers.get("x-request-id") == given,
          f"a client sent X-Request-ID: {given}, the response carried {r.headers.get('x-request-id')!r}: "
          "reuse the client's id when it is valid")
    sent = _upstream(run)
    check(sent, "POST /chat sent no request to the LLM: call llm.chat.completions.create with the client it receives")
    check(len(sent) == 1, f"POST /chat sent {len(sent)} requests to the LLM; send exactly one")
    upstream_id = (sent[0].get("headers") or {}).get("x-request-id")
    check(upstream_id == given, f"the LLM call carried X-Request-ID {upstream_id!r}, not the request's id {given!r}: "
          "pass it with extra_headers={'X-Request-ID': ...}")

    ids = []
    for label, headers in (("no X-Request-ID", {}),
                           ("X-Request-ID with a space", {"X-Request-ID": "not valid"}),
                           ("an empty X-Request-ID", {"X-Request-ID": ""}),
                           ("a 65-character X-Request-ID", {"X-Request-ID": "a" * 65})):
        r2 = client.post("/chat", json={"message": "hi"}, headers=headers)
        got = r2.headers.get("x-request-id")
        check(got is not None, f"a request with {label}: the response has no X-Request-ID header")
        check(got != headers.get("X-Request-ID") and _is_uuid(got),
              f"a request with {label}: the response's X-Request-ID is {got[:70]!r}, not a new str(uuid.uuid4())")
        ids.append(got)
    check(len(set(ids)) == len(ids), "two requests without a usable id got the same X-Request-ID: make a new uuid4 each time")
    edge = "A.b_c-" + "9" * 58  # 64 characters, every allowed kind
    r3 = client.post("/chat", json={"message": "hi"}, headers={"X-Request-ID": edge})
    check(r3.headers.get("x-request-id") == edge,
          "a 64-character X-Request-ID of letters, digits, '.', '_', '-' was replaced: it is valid, reuse it")
    bad = client.post("/chat", json={"wrong": 1}, headers={"X-Request-ID": f"bad-{run}"})
    check(bad.headers.get("x-request-id") == f"bad-{run}",
          f"a request answered {bad.status_code} had no X-Request-ID {f'bad-{run}'!r} in its response: set it whatever the status")

    lines = _lines(stream)
    entry = _access_line(lines, given, "POST /chat")
    for field, want in (("method", "POST"), ("path", "/chat"), ("status", 200), ("level", "info")):
        check(entry.get(field) == want, f"the access line's {field} is {entry.get(field)!r}, not {want!r}")
    check(isinstance(entry.get("duration_ms"), (int, float)) and not isinstance(entry.get("duration_ms"), bool)
          and entry["duration_ms"] >= 0,
          f"the access line's duration_ms is {entry.get('duration_ms')!r}, not a number of milliseconds")
    check(entry.get("timestamp"), "the access line has no timestamp: add TimeStamper(fmt='iso') to the processors")
    for rid in ids:
        _access_line(lines, rid, "a request without a usable id")
    failed = _access_line(lines, f"bad-{run}", "a request with an invalid body")
    check(failed.get("status") == 422, f"the access line of a request answered 422 says status={failed.get('status')!r}")

    text = stream.getvalue()
    check(secret_key not in text, "a log line contains the API key from the Authorization header: never log it")
    check(secret_text not in text, "a log line contains the chat message: log metadata (lengths, tokens), not contents")


# -- 5.4.metrics ------------------------------------------------------------------------------


def _record(latency: float, status: int = 200, tokens: tuple[int, int] = (10, 5), cost: float = 0.001) -> dict:
    return {"latency_ms": latency, "status": status, "input_tokens": tokens[0], "output_tokens": tokens[1],
            "cost_usd": cost}


def _close(a: Any, b: float) -> bool:
    return isinstance(a, (int, float)) and not isinstance(a, bool) and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


@exercise("5.4.metrics", "Request latency", uses=["summarize"],
          also=["Token usage", "Error rates", "Cost tracking"],
          hint="sort the latencies, take position ceil(p/100*n) counting from 1; errors are status >= 400; "
               "empty input: count 0, percentiles None, rates and totals 0")
def metrics(summarize):
    check(callable(summarize), "summarize must be a function")
    empty = summarize([])
    check(isinstance(empty, dict), f"summarize([]) returned {type(empty).__name__}, not a dict")
    want_empty = {"count": 0, "p50_ms": None, "p95_ms": None, "error_rate": 0.0, "total_tokens": 0,
                  "total_cost_usd": 0.0}
    for key, want in want_empty.items():
        check(key in empty, f"summarize([]) has no {key!r}")
        got = empty[key]
        check(got is None if want is None else _close(got, want),
              f"summarize([]) gives {key}={got!r}, not {want!r}")

    one = summarize([_record(123.5, 200, (7, 3), 0.25)])
    for key, want in (("count", 1), ("p50_ms", 123.5), ("p95_ms", 123.5), ("error_rate", 0.0),
                      ("total_tokens", 10), ("total_cost_usd", 0.25)):
        check(_close(one.get(key), want), f"for one record (123.5 ms, status 200, 7+3 tokens, $0.25) {key} is "
              f"{one.get(key)!r}, not {want!r}")

    # 20 latencies 10, 20, ..., 200 in a shuffled order: p50 = 100 (position 10), p95 = 190 (position 19)
    order = [7, 19, 2, 14, 0, 11, 5, 17, 9, 3, 16, 1, 13, 8, 18, 4, 10, 15, 6, 12]
    twenty = summarize([_record(10.0 * (i + 1)) for i in order])
    check(_close(twenty.get("p50_ms"), 100.0), f"for latencies 10, 20, … 200 ms p50_ms is {twenty.get('p50_ms')!r}, "
          "not 100.0 (position ceil(0.5*20) = 10 of the sorted values)")
    check(_close(twenty.get("p95_ms"), 190.0), f"for latencies 10, 20, … 200 ms p95_ms is {twenty.get('p95_ms')!r}, "
          "not 190.0 (position ceil(0.95*20) = 19 of the sorted values)")
    hundred = summarize([_record(float(v)) for v in range(100, 0, -1)])
    check(_close(hundred.get("p95_ms"), 95.0) and _close(hundred.get("p50_ms"), 50.0),
          f"for latencies 1 … 100 ms p50/p95 are {hundred.get('p50_ms')!r}/{hundred.get('p95_ms')!r}, not 50/95")
    three = summarize([_record(3.0), _record(1.0), _record(2.0)])
    check(_close(three.get("p50_ms"), 2.0) and _close(three.get("p95_ms"), 3.0),
          f"for latencies 3, 1, 2 ms p50/p95 are {three.get('p50_ms')!r}/{three.get('p95_ms')!r}, not 2/3")

    mixed = summarize([_record(1, 200), _record(1, 201), _record(1, 399), _record(1, 400), _record(1, 404),
                       _record(1, 429), _record(1, 500), _record(1, 503)])
    check(_close(mixed.get("error_rate"), 5 / 8), f"for statuses 200, 201, 399, 400, 404, 429, 500, 503 error_rate "
          f"is {mixed.get('error_rate')!r}, not 0.625 (every status >= 400 is an error)")
    failing = summarize([_record(5, 500), _record(6, 422)])
    check(_close(failing.get("error_rate"), 1.0), f"when every request failed error_rate is "
          f"{failing.get('error_rate')!r}, not 1.0")
    totals = summarize([_record(1, 200, (100, 20), 0.5), _record(1, 502, (0, 0), 0.0),
                        _record(1, 200, (3, 4), 0.125)])
    check(_close(totals.get("total_tokens"), 127), f"total_tokens is {totals.get('total_tokens')!r}, not 127 "
          "(input + output tokens of every record)")
    check(_close(totals.get("total_cost_usd"), 0.625), f"total_cost_usd is {totals.get('total_cost_usd')!r}, "
          "not 0.625")
    check(_close(totals.get("count"), 3), f"count is {totals.get('count')!r} for 3 records")


QUIZ = section_quiz(
    "5.4",
    item="After completing, you can answer: How do I trace a request through my entire system? "
         "How do I know which requests are slow? How do I track my LLM API costs?",
    hint="Re-read 5.4.2 (request ids) and 5.4.3 (latency percentiles, cost), then answer again.",
    questions=[
        {
            "id": "trace-request",
            "question": "How do you trace one request through your whole system?",
            "choices": {
                "a": "Log the full prompt and reply of every request, then search the logs for the user's words",
                "b": "Give it a request id in a middleware (or reuse a valid X-Request-ID), bind it in a context "
                     "variable so every log line carries it, return it in the response and send it on "
                     "upstream calls; then filter the JSON logs by that id",
                "c": "Add a timestamp to each log line and look at what happened around the time of the complaint",
                "d": "Run the app with one worker so log lines never interleave",
            },
            "answer_hash": "814367f07d8786c203e4c581dc422c72858fd705ab75181880b0c638a2cdab4b",
            "explanation": "One id, carried everywhere: in every log line (contextvars), in the response the user "
                           "can quote, and in the headers of the provider call.",
        },
        {
            "id": "slow-requests",
            "question": "How do you know which requests are slow?",
            "choices": {
                "a": "Watch the average latency: when it rises, requests are slow",
                "b": "Time only the LLM call, since it is always the slow part",
                "c": "Log duration_ms on each request's access line and watch percentiles (p50, p95) per "
                     "endpoint; the slow lines' request ids lead to their whole story",
                "d": "Ask users to report slow responses",
            },
            "answer_hash": "fa343bcd0f861c65736d99e8b739f32d6ab8f2485615882727b3bae22261a8c3",
            "explanation": "An average hides the slowest requests; p95 shows the slowest 1 in 20, and each slow "
                           "access line has the id to find what that request did.",
        },
        {
            "id": "llm-costs",
            "question": "How do you track your LLM API costs?",
            "choices": {
                "a": "Record the tokens each call's usage reports, multiply by the model's per-token prices "
                     "(LiteLLM's cost map or your own table), and add the costs up per request, user or endpoint",
                "b": "Count the requests and multiply by a fixed price per request",
                "c": "Wait for the provider's monthly invoice",
                "d": "Estimate tokens as the prompt's length in characters",
            },
            "answer_hash": "7b00e13783f4116ab3484e3fba0f6376e0f885d03fd5730941665a51938b7202",
            "explanation": "Prices are per token, with input and output priced apart, and the provider reports "
                           "the tokens it counted: cost per call is their product, summed however you need.",
        },
    ],
)
