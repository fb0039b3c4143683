"""Section 5.3, Error Handling & Retries: the notebook's exercise checks and quiz.

The checks call the learner's code with Anthropic clients of their own that point at the
llmsim this kernel uses (grader.lesson.sim()), make llmsim fail on purpose for a model name
used by this run only, and read its journal (requests marked with this run's header) to count
attempts and measure the waits between them. The shared journal is read, never cleared.
"""

import logging
import socket
import time
import uuid
from itertools import pairwise
from typing import Any

from grader.criterion import check
from grader.exercise import exercise, section_quiz

MODEL = "claude-haiku-4-5"
RUN_HEADER = "x-course-check-run"  # no "key"/"token" in the name: llmsim would redact it
PROBE_KEY = "sk-llmsim-section5-check"
TIMEOUT_S = 0.2  # the check's client gives up on a hung provider after this


def _sim() -> Any:
    from grader.lesson import sim

    return sim()


def _run_id() -> str:
    return uuid.uuid4().hex[:12]


def _client(run: str, *, closed_port: bool = False) -> Any:
    """An Anthropic client for the check: llmsim (or a closed port), no SDK retries, marked with ``run``."""
    import anthropic

    base_url = _sim().url
    if closed_port:
        with socket.socket() as sock:  # a port nothing listens on
            sock.bind(("127.0.0.1", 0))
            base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    return anthropic.Anthropic(api_key=PROBE_KEY, base_url=base_url, max_retries=0, timeout=TIMEOUT_S,
                               default_headers={RUN_HEADER: run})


def _fault(run: str, **fault: Any) -> str:
    """Fault the requests for this run's own model name; returns that name."""
    model = f"{MODEL}-check-{run}"
    if fault:
        _sim().add_fault(provider="anthropic", model=model, **fault)
    return model


def _entries(run: str, *, settle_s: float = 2.0) -> list[dict]:
    """The journal entries of this run, oldest first, once none of them is in flight."""
    deadline = time.monotonic() + settle_s
    while True:
        found = [e for e in _sim().requests(provider="anthropic")
                 if (e.get("headers") or {}).get(RUN_HEADER) == run]
        if all(e.get("ended_at") is not None for e in found) or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


# -- 5.3.retries ---------------------------------------------------------------------------

class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _logger(run: str) -> tuple[logging.Logger, _Lines]:
    logger = logging.getLogger(f"course.check.retries.{run}")
    lines = _Lines()
    logger.handlers[:] = [lines]
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    return logger, lines


def _attempt(call_with_retries: Any, what: str, fault: dict | None, *, attempts: int = 3, initial: float = 0.01,
             max_wait: float = 1.0, closed_port: bool = False) -> dict:
    """Run the learner's retry loop once; what it returned or raised, its requests and log lines."""
    import tenacity

    run = _run_id()
    model = _fault(run, **fault) if fault else _fault(run)
    client = _client(run, closed_port=closed_port)
    logger, lines = _logger(run)
    raised_by_fn: list[BaseException] = []

    def fn() -> Any:
        try:
            return client.messages.create(model=model, max_tokens=5, messages=[{"role": "user", "content": "hi"}])
        except Exception as exc:
            raised_by_fn.append(exc)
            raise

    result, raised = None, None
    try:
        result = call_with_retries(fn, attempts=attempts, initial=initial, max_wait=max_wait, logger=logger)
    except NotImplementedError:
        raise  # a stub: said as "not done yet"
    except tenacity.RetryError:
        check(False, f"with {what}, call_with_retries() raised tenacity.RetryError when it gave up; "
              "raise the last error itself (reraise=True)")
    except Exception as exc:  # noqa: BLE001 - what it raised is the finding
        raised = exc
    sent = [] if closed_port else _entries(run)
    warnings = [r for r in lines.records if r.levelno == logging.WARNING]
    return {"result": result, "raised": raised, "calls": len(raised_by_fn) + (result is not None),
            "sent": sent, "errors": raised_by_fn, "warnings": warnings, "records": lines.records}


def _check_log(got: dict, what: str, retries: int) -> None:
    warnings, records = got["warnings"], got["records"]
    if retries and not warnings and records:
        check(False, f"with {what} the retries were logged at {records[0].levelname}; log each retry at WARNING")
    check(len(warnings) == retries,
          f"with {what} there were {retries} retries and {len(warnings)} WARNING lines in the logger it received; "
          "log one line per retry (before_sleep=before_sleep_log(logger, logging.WARNING))")
    for record, exc in zip(warnings, got["errors"], strict=False):
        name = type(exc).__name__
        check(name in record.getMessage(),
              f"with {what} a retry's log line ({record.getMessage()[:60]!r}) does not name the error ({name})")


@exercise("5.3.retries", "Configuring retry attempts",
          also=["Exponential backoff", "Which errors to retry", "Logging retries"],
          uses=["call_with_retries"],
          hint="Retrying(stop=stop_after_attempt(attempts), wait=wait_exponential_jitter(multiplier=initial, "
               "max=max_wait, jitter=initial), retry=retry_if_exception(is_retryable), "
               "before_sleep=before_sleep_log(logger, logging.WARNING), reraise=True)(fn)")
def retries_exercise(call_with_retries):
    import anthropic

    check(callable(call_with_retries),
          "call_with_retries must be a function: def call_with_retries(fn, *, attempts=3, initial=0.5, max_wait=8.0, logger=log)")

    # Overloaded twice, then fine: three attempts, two log lines, the reply returned.
    what = "a 529 twice, then a reply (attempts=3)"
    got = _attempt(call_with_retries, what, {"status": 529, "times": 2})
    check(got["raised"] is None, f"with {what}, call_with_retries() raised {type(got['raised']).__name__}; "
          "retry 5xx errors until an attempt succeeds")
    check(len(got["sent"]) == 3, f"with {what}, {len(got['sent'])} requests were sent; 3 were needed")
    reply = got["result"]
    check(isinstance(reply, anthropic.types.Message),
          f"with {what}, call_with_retries() returned {type(reply).__name__}; return what fn() returned")
    _check_log(got, what, 2)

    # Transient every time: exactly `attempts` requests, then the last error itself.
    for status, attempts in ((500, 3), (503, 2)):
        what = f"a {status} every time (attempts={attempts})"
        got = _attempt(call_with_retries, what, {"status": status, "times": 6}, attempts=attempts)
        check(len(got["sent"]) == attempts,
              f"with {what}, {len(got['sent'])} requests were sent; send exactly {attempts} (stop_after_attempt)")
        check(isinstance(got["raised"], anthropic.InternalServerError),
              f"with {what}, call_with_retries() {'raised ' + type(got['raised']).__name__ if got['raised'] else 'returned'}; "
              "raise the last error (anthropic.InternalServerError) when it gives up")
        _check_log(got, what, attempts - 1)

    # A rate limit and a timeout are retried too.
    for what, fault in (("a 429 once (attempts=3)", {"status": 429, "times": 1}),
                        ("a timeout once (attempts=3)", {"kind": "hang", "delay_s": 1, "times": 1})):
        got = _attempt(call_with_retries, what, fault)
        check(got["raised"] is None and len(got["sent"]) == 2,
              f"with {what}, {len(got['sent'])} requests were sent"
              + (f" and it raised {type(got['raised']).__name__}" if got["raised"] else "")
              + "; retry it: 2 requests, then the reply")
    what = "an unreachable provider (attempts=2)"
    got = _attempt(call_with_retries, what, None, attempts=2, closed_port=True)
    check(got["calls"] == 2 and isinstance(got["raised"], anthropic.APIConnectionError),
          f"with {what}, fn was called {got['calls']} time(s); retry connection errors: 2 calls, then raise "
          "APIConnectionError")

    # Never retried: the same request fails the same way.
    for status, name in ((400, "BadRequestError"), (401, "AuthenticationError")):
        what = f"a {status} ({name})"
        got = _attempt(call_with_retries, what, {"status": status, "times": 3})
        check(len(got["sent"]) == 1,
              f"with {what}, {len(got['sent'])} requests were sent; never retry a {status}: raise it after one attempt")
        check(type(got["raised"]).__name__ == name,
              f"with {what}, call_with_retries() {'raised ' + type(got['raised']).__name__ if got['raised'] else 'returned'}; "
              f"raise the {name} at once")
        _check_log(got, what, 0)

    # Exponential back-off: the n-th retry waits at least initial * 2**(n-1).
    initial = 0.04
    what = f"a 500 three times (attempts=4, initial={initial})"
    got = _attempt(call_with_retries, what, {"status": 500, "times": 3}, attempts=4, initial=initial)
    starts = [e["started_at"] for e in got["sent"]]
    check(len(starts) == 4, f"with {what}, {len(starts)} requests were sent; 4 were needed")
    gaps = [b - a for a, b in pairwise(starts)]
    shown = ", ".join(f"{g * 1000:.0f}" for g in gaps)
    for n, gap in enumerate(gaps, start=1):
        least = initial * 2 ** (n - 1)
        check(gap >= least * 0.9,
              f"with {what} the retries came {shown} ms apart; retry n must wait at least initial·2^(n-1) "
              f"({least * 1000:.0f} ms for retry {n}): use wait_exponential_jitter")
        check(gap <= least + initial + 0.25,
              f"with {what} the retries came {shown} ms apart; that is more than initial·2^(n-1) + jitter: "
              "use jitter=initial")
    # The cap: no wait longer than max_wait.
    what = "a 500 twice (initial=0.3, max_wait=0.05)"
    got = _attempt(call_with_retries, what, {"status": 500, "times": 2}, initial=0.3, max_wait=0.05)
    starts = [e["started_at"] for e in got["sent"]]
    gaps = [b - a for a, b in pairwise(starts)]
    check(len(starts) == 3 and max(gaps, default=0) <= 0.05 + 0.15,
          f"with {what} the retries came {', '.join(f'{g * 1000:.0f}' for g in gaps)} ms apart; never wait "
          "longer than max_wait (max=max_wait)")


# -- 5.3.error_body ------------------------------------------------------------------------

_TABLE = [
    # (what, fault or None for an unreachable provider, status, error.type)
    ("a 429 (RateLimitError)", {"status": 429, "retry_after": 7}, 429, "rate_limited"),
    ("a 500", {"status": 500}, 502, "upstream_unavailable"),
    ("a 502", {"status": 502}, 502, "upstream_unavailable"),
    ("a 503", {"status": 503}, 502, "upstream_unavailable"),
    ("a 529 (overloaded)", {"status": 529}, 502, "upstream_unavailable"),
    ("a timeout (APITimeoutError)", {"kind": "hang", "delay_s": 1}, 504, "upstream_timeout"),
    ("an unreachable provider (APIConnectionError)", None, 502, "upstream_unavailable"),
    ("a 400 (BadRequestError)", {"status": 400}, 502, "upstream_error"),
    ("a 401 (AuthenticationError)", {"status": 401}, 502, "upstream_error"),
]


def _post(make_app: Any, client: Any, model: str, what: str) -> Any:
    from fastapi.testclient import TestClient

    try:
        app = make_app(client, model)
    except NotImplementedError:
        raise
    with TestClient(app, raise_server_exceptions=False) as tc:
        return tc.post("/chat", json={"message": "hi"})


@exercise("5.3.error_body", "Consistent error format",
          also=["Rate limits (429)", "Server errors (500, 502, 503)", "Timeouts", "Invalid requests (400)",
                "Appropriate status codes", "Retry-After headers", "Helpful error messages"],
          uses=["make_app"],
          hint="@app.exception_handler(anthropic.APIError): RateLimitError → 429 + Retry-After, InternalServerError "
               "→ 502, APITimeoutError (before APIConnectionError) → 504, connection → 502, anything else → 502.")
def error_body_exercise(make_app):
    check(callable(make_app), "make_app must be a function: def make_app(client, model='claude-haiku-4-5') -> FastAPI")

    run = _run_id()
    model = _fault(run)
    response = _post(make_app, _client(run), model, "a reply")
    sent = _entries(run)
    check(response.status_code == 200, f"POST /chat without a fault answered {response.status_code}; it must answer 200")
    check(len(sent) == 1, f"POST /chat sent {len(sent)} requests to the provider; send exactly one")
    check(response.json() == {"reply": sent[0].get("reply")},
          f"POST /chat answered {response.text[:80]!r}; answer {{\"reply\": <the reply's text>}}")

    ids = set()
    said: dict[str, tuple[str, str]] = {}  # message -> (error.type, what) of the first error that got it
    for what, fault, status, kind in _TABLE:
        run = _run_id()
        model = _fault(run, times=1, **fault) if fault else _fault(run)
        response = _post(make_app, _client(run, closed_port=fault is None), model, what)
        text = response.text
        check(response.status_code == status, f"{what} from the provider became status {response.status_code}; "
              f"it must become {status}")
        try:
            body = response.json()
        except ValueError:
            check(False, f"for {what} the body is not JSON: {text[:60]!r}")
        check(isinstance(body, dict) and set(body) == {"error"} and isinstance(body["error"], dict),
              f"for {what} the body is {text[:80]!r}; it must be exactly {{\"error\": {{\"type\", \"message\", \"request_id\"}}}}")
        error = body["error"]
        check(set(error) == {"type", "message", "request_id"},
              f"for {what} error has the keys {sorted(error)}; it must have exactly type, message and request_id")
        check(error["type"] == kind, f"{what} gave error.type {error['type']!r}; it must be {kind!r}")
        message = error["message"]
        check(isinstance(message, str) and message.strip(), f"for {what} error.message must be a non-empty sentence")
        check(not any(leak in text for leak in ("Traceback", "Error code", "llmsim", PROBE_KEY, "req_")),
              f"for {what} the body repeats the provider's error or a traceback ({message[:60]!r}); "
              "write a sentence of your own")
        first_kind, first_what = said.setdefault(message, (kind, what))
        check(first_kind == kind,
              f"{first_what} and {what} got the same error.message {message[:60]!r}, though their types differ "
              f"({first_kind}, {kind}): a helpful message says what went wrong, so each type needs its own")
        request_id = error["request_id"]
        check(isinstance(request_id, str) and request_id and request_id not in ids,
              f"for {what} request_id is {request_id!r}; make a new id for every response")
        ids.add(request_id)
        check(response.headers.get("x-request-id") == request_id,
              f"for {what} the X-Request-ID header is {response.headers.get('x-request-id')!r}; "
              "send the body's request_id in it")
        if status == 429:
            check(response.headers.get("retry-after") == "7",
                  f"a 429 with retry-after: 7 gave Retry-After {response.headers.get('retry-after')!r}; "
                  "copy the provider's value")
        else:
            check("retry-after" not in response.headers, f"{what} has a Retry-After header; only a 429 gets one")


# -- the quiz ------------------------------------------------------------------------------

QUIZ = section_quiz(
    "5.3",
    item="After completing, you can answer: How do I automatically retry failed LLM calls? "
         "How long should I wait between retries? What errors should I retry vs return immediately?",
    questions=[
        {
            "id": "retry-how",
            "question": "How do you retry a failed LLM call automatically with tenacity?",
            "choices": {
                "a": "Wrap the call in `while True:` and catch every exception",
                "b": "Wrap it in Retrying(...) (or @retry) with a stop (stop_after_attempt), a wait "
                     "(wait_exponential_jitter), a retry condition (retry_if_exception) and reraise=True",
                "c": "Set tenacity.enabled = True before importing the SDK",
                "d": "Catch the exception and call the function once more in the except block",
            },
            "answer_hash": "4c5decea67c970cfe27b2998a62017164d0ff067063624b1c8674b68086f5ba5",
            "explanation": "Tenacity builds the loop from parts: when to stop, how long to wait, which errors "
                           "count, and before_sleep for a log line. An unbounded loop never gives up and "
                           "retries errors that can never succeed.",
        },
        {
            "id": "wait-how-long",
            "question": "How long should a backend wait between retries of an overloaded provider?",
            "choices": {
                "a": "Not at all: retry at once so the user waits less",
                "b": "Always exactly 1 second",
                "c": "Exponentially longer each time (e.g. 0.5 s, 1 s, 2 s) with random jitter, capped, "
                     "and at least what a Retry-After header asks for",
                "d": "60 seconds, so the provider's rate window has surely passed",
            },
            "answer_hash": "7396064104e191ab5018553b77cdb428b872f95f071687c7a1d4b4377053f620",
            "explanation": "Immediate retries pile onto a struggling provider (a retry storm); growing waits give "
                           "it room, jitter spreads clients apart, and a cap keeps the total under your own timeout.",
        },
        {
            "id": "retry-what",
            "question": "Which provider errors should be retried?",
            "choices": {
                "a": "429, 5xx (500, 502, 503, 529), timeouts and connection errors; never 400, 401, 403 or 404",
                "b": "Every error: the provider may change its mind",
                "c": "Only 400s, since the request can be fixed",
                "d": "None: retries belong in the client's browser",
            },
            "answer_hash": "5821178395998a195b70be0e22363fd77128d73444664ead5930c7b8995bde8c",
            "explanation": "Transient failures may succeed next time; a 400 or 401 fails the same way every time, "
                           "so it is returned at once (as a 502 of yours: the request or the key is the server's).",
        },
        {
            "id": "status-for-overload",
            "question": "The provider stays overloaded (529) after your retries. What does your API answer?",
            "choices": {
                "a": "500 with the provider's error text",
                "b": "200 with an empty reply",
                "c": "400, since the request failed",
                "d": "502 with {\"error\": {\"type\": \"upstream_unavailable\", \"message\": ..., \"request_id\": ...}}",
            },
            "answer_hash": "4f23994745bdcedd06ad421256bad7bb8efd2f9cb8c096e1db7f83469afefd00",
            "explanation": "The failure is upstream, not in your code (500) nor in the client's request (400): "
                           "502 says so, and the one error body gives a type to branch on and an id to quote.",
        },
    ],
    hint="Re-read 5.3.2 (tenacity: attempts, back-off, which errors) and 5.3.3 (status codes).",
)
