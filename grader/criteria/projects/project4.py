"""Project 4: Streaming Chat API.

The app runs as ``uvicorn app.main:app`` against the run's llmsim. Streams are read as
they arrive, with a strict SSE parser (``grader.checks.sse``), and timed: llmsim is slowed to one token
every few tens of milliseconds, so a reply sent in one piece is told from a stream by when
its first event arrives. llmsim's journal shows what happened upstream: which provider
streamed, how many tokens, and whether the stream was cancelled when the client left. The
test page is opened in Debian's Chromium, driven by Playwright.
"""

from __future__ import annotations

import ast
import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

from grader.checks import sse
from grader.checks.curl import curl_commands, curl_request
from grader.checks.http import FRESH, error_body_problem, json_or_none, nonce, short
from grader.checks.journal import (
    answered,
    describe,
    generations,
    sent_messages,
    sent_system,
    usage_matches,
)
from grader.checks.models import DEFAULT_MODEL, MODELS, matches_model, name_of_entry
from grader.checks.quizzes import check_quiz_file
from grader.checks.waiting import wait_until
from grader.criterion import CheckError, check, criterion

ENDPOINT = "`/v1/chat/stream` POST endpoint returning SSE"
GENERATOR = "StreamingResponse with async generator"
FORMAT = "Proper SSE format (`data: {json}\\n\\n`)"
COMPLETION = "Stream completion event"
ERRORS = "Error handling within stream"
ALL_PROVIDERS = "Works with all configured providers"
PAGE = "Simple HTML test page to visualize streaming"
ONE_BY_ONE = "Can see tokens appear one by one"
FORMAT_QUIZ = "Understands SSE message format"
CURL = "Can test streaming with curl"
SSE_VS_WS = "Knows difference between SSE and WebSocket"

STREAM = "/v1/chat/stream"
TIMEOUT_S = 20
# Slow enough that a stream is tens of events spread over a couple of seconds.
TOKEN_DELAY_MS = 50
# A message whose reply (llmsim quotes it) is about 40 tokens long.
LONG_MESSAGE = "Please explain, in a few friendly sentences, how server sent events let a web page receive text as it is written"

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",  # the page is on 127.0.0.1: never through a proxy from the environment
]
CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")

# sha256 of "<question id>:<answer>" (grader.quiz.answer_hash), not the answers.
QUIZ_FORMAT = {
    "sse-event-end": "504ecee65ab6818b82f157ec56a5fd023e75dffb2b3fa3165a8d60596c68f3f7",
    "sse-event-field": "5e8ebb935523383e10096b7fcb71a13ded03da6be0b2372f19383f8616a7f65b",
    "sse-multiline-data": "fc7f63730095484d11515b31442f85feab6fa94a06358a89f939740485a7c434",
    "sse-comment": "3c2b872ba1a475d704fe10e0399c4de073b27c6702168dafef6cb1cca84d5a5d",
    "sse-error-midstream": "b78803e86ebb7c1e0d2915fa8b91b4a03130d3dd1b350271bcfc874f06ff0c01",
}
QUIZ_WS = {
    "sse-vs-ws-direction": "41ef90c06a4fb8d0f51df6c783a70747d064e19003e4b3edf2a411d4878bc57f",
    "sse-vs-ws-llm": "8c09f5693d0193f1556c8a4de27d32aea748d2ea6cbc5efcebd9bc3ec511150b",
    "sse-vs-ws-when-ws": "f0b3810ce198ac37fb7408b6a8eb15cc78ce5d228e9cd1e4791e60968f3d1238",
    "sse-vs-ws-reconnect": "9349e6b976e8ce99939eec805ed1eb4ba2763a08c85010f0fbc1883cc4920153",
}


# -- helpers --------------------------------------------------------------------------------------

def stream(app, **body) -> sse.StreamResult:
    return sse.read_stream(app, STREAM, body, timeout=TIMEOUT_S)


def stream_ok(app, what: str, **body) -> sse.StreamResult:
    """A stream that must be a 200 text/event-stream; the parsed result."""
    result = stream(app, **body)
    check(
        result.status == 200,
        f"POST {STREAM} with {what} answered {result.status}: {short(result.body.decode('utf-8', 'replace'))}",
    )
    check(
        result.is_sse,
        f"POST {STREAM} answered Content-Type {result.content_type or '(none)'}; an SSE stream is text/event-stream",
    )
    return result


def well_formed(result: sse.StreamResult, what: str) -> None:
    check(result.transport_error is None, f"{what}: {result.transport_error}")
    check(result.format_error is None, f"{what}: {result.format_error}")


def token_text(result: sse.StreamResult) -> str:
    return result.text


def source_of(sim) -> dict:
    entry = answered(generations(sim))
    check(entry is not None, "no provider request of this stream ended well: " + ", ".join(map(describe, generations(sim))))
    return entry


def _py_sources(project) -> list[tuple[Path, ast.AST]]:
    out = []
    for path in project.files("app/**/*.py"):
        try:
            out.append((path, ast.parse(path.read_text(encoding="utf-8", errors="replace"))))
        except SyntaxError as exc:
            check(False, f"{path.relative_to(project.root)} line {exc.lineno}: syntax error")
    return out


# -- the endpoint ---------------------------------------------------------------------------------

@criterion(
    "p4.stream-endpoint",
    ENDPOINT,
    hint="POST /v1/chat/stream takes Project 3's ChatRequest, opens the Router's stream "
    "(stream=True) and returns a StreamingResponse with media_type text/event-stream; errors "
    "before the stream starts keep their status and JSON error body.",
)
def test_stream_endpoint(app, sim, start_app):
    # A second app, with a 1 s provider timeout, starts while the shared one is checked.
    with ThreadPoolExecutor(max_workers=1) as pool:
        timing_out = pool.submit(start_app, {"LLM_TIMEOUT_S": "1"}, "app-timeout")
        _check_stream_endpoint(app, sim)
        quick = timing_out.result()
    sim.clear_faults()
    # Every provider says nothing until the app gives up on it (1 s each, three models).
    sim.add_fault(provider="*", kind="hang")
    r = post(quick, {"message": f"Nobody answers in time {nonce()}"})
    sim.clear_faults()
    check(
        r.status_code == 504,
        f"with LLM_TIMEOUT_S=1 and every provider silent before the stream starts, POST {STREAM} "
        f"answered {r.status_code}: {short(r.text, 120)}; expected 504, as in Project 3",
    )
    problem = error_body_problem(r)
    check(problem is None, f"with every provider silent before the stream starts: {problem}")


def _check_stream_endpoint(app, sim):
    system = f"You are a terse assistant {nonce()}"
    message = f"Stream me a reply {nonce()}"
    # Boundaries reach the provider as sent: temperature 0.0 (not dropped as falsy), the
    # largest max_tokens, and the system prompt before the user's message.
    body = {"message": message, "temperature": 0.0, "max_tokens": MAX_OUTPUT_TOKENS, "system": system}
    result = stream_ok(app, short(json.dumps(body), 200), **body)
    check(result.events or result.body, f"POST {STREAM} answered 200 with an empty body")
    headers_problem = sse_headers_problem(result.headers)
    check(headers_problem is None, f"POST {STREAM} answered 200 with {headers_problem}")
    entries = generations(sim)
    check(entries, f"POST {STREAM} answered without any request reaching a provider")
    check(
        len(entries) == 1,
        f"one POST {STREAM} made {len(entries)} provider requests ({', '.join(map(describe, entries))}); "
        "open the Router's stream once",
    )
    check(
        entries[0].get("stream") is True,
        f"POST {STREAM} asked the provider for a whole reply (stream false): call router.acompletion(..., stream=True)",
    )
    sent = entries[0]
    check(
        sent.get("temperature") == 0.0 and sent.get("temperature") is not None,
        f"POST {STREAM} with temperature 0.0 reached the provider with temperature {sent.get('temperature')!r}: "
        "pass it on when it is set, even when it is 0.0",
    )
    check(
        sent.get("max_tokens") == MAX_OUTPUT_TOKENS,
        f"POST {STREAM} with max_tokens {MAX_OUTPUT_TOKENS} reached the provider with max_tokens {sent.get('max_tokens')!r}",
    )
    check(
        sent_system(sent) == system,
        f"POST {STREAM} with system {system!r} reached the provider with system prompt {short(sent_system(sent), 80)!r}",
    )
    check(
        sent_messages(sent) == [("user", message)],
        f"POST {STREAM} with message {message!r} sent the provider the messages {short(sent_messages(sent), 120)}",
    )
    source = source_of(sim)
    text = token_text(result) if result.format_error is None else ""
    raw = result.body.decode("utf-8", "replace")
    check(
        text == source.get("reply") or (not text and source.get("reply", "\0") in raw.replace('\\"', '"')),
        f"the streamed text is {short(text or raw, 80)!r}; the provider replied {short(source.get('reply'), 80)!r}",
    )
    # Project 3's validation, at each limit and just past it: never a provider call.
    sim.clear_requests()
    for bad, why in INVALID_BODIES:
        r = post(app, bad)
        check(
            r.status_code == 422,
            f"POST {STREAM} with {why} answered {r.status_code}: {short(r.text, 120)}; expected 422",
        )
        problem = error_body_problem(r)
        check(problem is None, f"POST {STREAM} with {why}: {problem}")
    r = post(app, {"message": "hi", "model": "no-such-model-" + nonce()})
    check(
        r.status_code in (400, 404, 422),
        f"POST {STREAM} with an unknown model answered {r.status_code}; expected 422 listing the models",
    )
    check(not generations(sim), f"POST {STREAM} with an invalid body still called a provider: {', '.join(map(describe, generations(sim)))}")
    sim.config(token_delay_ms=0)
    r = post(app, {"message": "x" * MAX_MESSAGE_CHARS, "max_tokens": 1, "temperature": 1.0})
    check(
        r.status_code == 200,
        f"POST {STREAM} with a message of {MAX_MESSAGE_CHARS} characters (the limit), max_tokens 1 and "
        f"temperature 1.0 answered {r.status_code}: {short(r.text, 120)}; they are all allowed",
    )
    sim.add_fault(provider="*", kind="http", status=500)
    r = post(app, {"message": f"Everyone is down {nonce()}"})
    check(
        r.status_code == 502,
        f"with every provider failing before the stream starts, POST {STREAM} answered {r.status_code}; "
        "open the Router's stream before returning the StreamingResponse, so the error gets its 502",
    )
    problem = error_body_problem(r)
    check(problem is None, f"with every provider failing before the stream starts: {problem}")
    sim.clear_faults()
    sim.add_fault(provider="*", kind="http", status=429, retry_after=7)
    r = post(app, {"message": f"Everyone is rate limited {nonce()}"})
    check(
        r.status_code == 429,
        f"with every provider answering 429 before the stream starts, POST {STREAM} answered {r.status_code}: "
        f"{short(r.text, 120)}; expected 429 with Retry-After, as in Project 3",
    )
    check(
        (r.headers.get("retry-after") or "").strip().isdigit(),
        f"POST {STREAM} answered 429 with Retry-After {r.headers.get('retry-after')!r}; it says how many seconds to wait",
    )
    problem = error_body_problem(r)
    check(problem is None, f"with every provider answering 429 before the stream starts: {problem}")
    sim.clear_faults()


MAX_MESSAGE_CHARS = 8000
MAX_SYSTEM_CHARS = 4000
MAX_OUTPUT_TOKENS = 4096
# Bodies Project 3's ChatRequest rejects (README: "validated the same way"), each just past a limit.
INVALID_BODIES = [
    ({"message": ""}, "an empty message"),
    ({"message": "x" * (MAX_MESSAGE_CHARS + 1)}, f"a message of {MAX_MESSAGE_CHARS + 1} characters"),
    ({"message": "hi", "max_tokens": 0}, "max_tokens 0"),
    ({"message": "hi", "max_tokens": MAX_OUTPUT_TOKENS + 1}, f"max_tokens {MAX_OUTPUT_TOKENS + 1}"),
    ({"message": "hi", "temperature": -0.01}, "temperature -0.01"),
    ({"message": "hi", "temperature": 1.01}, "temperature 1.01"),
    ({"message": "hi", "system": ""}, "an empty system prompt"),
    ({"message": "hi", "system": "s" * (MAX_SYSTEM_CHARS + 1)}, f"a system prompt of {MAX_SYSTEM_CHARS + 1} characters"),
    ({"message": "hi", "modle": "gpt-4o-mini"}, 'an unknown field "modle"'),
    ({"model": "gpt-4o-mini"}, "no message"),
]
# README, "POST /v1/chat/stream": the response headers of a stream.
SSE_RESPONSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


def sse_headers_problem(headers: dict[str, str]) -> str | None:
    ctype = headers.get("content-type", "")
    if ctype.split(";")[0].strip().lower() != "text/event-stream":
        return f"Content-Type {ctype or '(none)'}; an SSE stream is text/event-stream"
    for name, value in SSE_RESPONSE_HEADERS.items():
        got = headers.get(name)
        if got is None or value not in [v.strip().lower() for v in got.split(",")]:
            return f"{name.title()}: {got if got is not None else '(missing)'}; the README asks for {name.title()}: {value}"
    return None


def post(app, body: dict):
    return app.post(STREAM, json=body, timeout=TIMEOUT_S, headers=FRESH)


@criterion(
    "p4.async-generator",
    GENERATOR,
    hint="Return StreamingResponse(an_async_generator(...)) and yield each event as soon as its "
    "chunk arrives from the Router: never collect the tokens first.",
)
def test_async_generator(project, app, sim):
    sources = _py_sources(project)
    generators = [
        node.name
        for _, tree in sources
        for node in ast.walk(tree)
        if isinstance(node, ast.AsyncFunctionDef)
        and any(isinstance(n, ast.Yield | ast.YieldFrom) for n in ast.walk(node))
    ]
    check(generators, "app/ has no async generator (an `async def` that yields): write one that yields the events")
    text = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p, _ in sources)
    check(
        "StreamingResponse" in text or "EventSourceResponse" in text,  # FastAPI's is a StreamingResponse
        "app/ never uses StreamingResponse: return one over your async generator",
    )
    sim.config(token_delay_ms=TOKEN_DELAY_MS)
    result = stream_ok(app, "a long message", message=LONG_MESSAGE)
    tokens = result.tokens
    check(
        len(tokens) >= 10,
        f"the stream held {len(tokens)} token events for a reply of {source_of(sim).get('output_tokens')} tokens: "
        "yield one token event per chunk from the provider",
    )
    first = tokens[0].at - result.started
    total = result.events[-1].at - result.started
    check(
        first < 0.4 * total,
        f"the first token event arrived after {first:.2f} s of a {total:.2f} s stream: the tokens are "
        "held back and sent together; yield each one as soon as it arrives",
    )
    spread = len({round(e.at, 2) for e in tokens})
    check(
        spread >= 5,
        f"the {len(tokens)} token events arrived in {spread} bursts: yield each token as it arrives",
    )


@criterion(
    "p4.sse-format",
    FORMAT,
    hint="Each event is `event: <type>\\n` then `data: <one line of JSON>\\n` then a blank line; "
    "build the data with json.dumps() so newlines in tokens are escaped.",
)
def test_sse_format(app, sim):
    result = stream_ok(app, "a message with a newline", message=f"first line\nsecond line {nonce()}")
    well_formed(result, f"POST {STREAM}")
    check(result.events, f"POST {STREAM} sent no SSE event")
    for event in result.events:
        check(
            isinstance(event.data.get("type"), str),
            f'an event\'s data has no "type": {short(event.raw, 100)}',
        )
        check(
            event.event is not None,
            f"an event has no `event:` line naming its type: {short(event.raw, 100)}; write "
            "`event: <type>` before its data line",
        )
        check(
            event.event == event.data["type"],
            f'an event line says {event.event!r} but its data says type {event.data["type"]!r}: {short(event.raw, 100)}',
        )
        check(
            event.data["type"] in ("token", "done", "error"),
            f'unknown event type {event.data["type"]!r}: the types are token, done and error',
        )
        data_lines = [line for line in event.raw.split("\n") if line.split(":", 1)[0] == "data"]
        check(
            len(data_lines) == 1,
            f"an event has {len(data_lines)} data: lines: {short(event.raw, 100)}; one data: line holds the whole JSON",
        )
        if event.data["type"] == "token":
            check(
                isinstance(event.data.get("content"), str) and event.data["content"] != "",
                f"a token event carries content {event.data.get('content')!r}: {short(event.raw, 100)}; "
                "each carries a piece of text (skip empty pieces)",
            )
    source = source_of(sim)
    check(
        token_text(result) == source.get("reply"),
        f"the token events join to {short(token_text(result), 80)!r}; the provider sent "
        f"{short(source.get('reply'), 80)!r} (a newline in a token must survive the trip)",
    )


@criterion(
    "p4.completion-event",
    COMPLETION,
    hint='End every complete stream with one `done` event: {"type": "done", "model", "provider", '
    '"requested_model", "fallback", "finish_reason", "usage": {"input_tokens", "output_tokens"}}, '
    "with who answered read from the Router's stream, not from the request.",
)
def test_completion_event(app, sim):
    # (providers failing before the stream, extra body fields, the providers asked in order)
    cases = [
        ((), {}, ["anthropic"], "a message"),
        (("anthropic",), {}, ["anthropic", "openai"], "Anthropic down (a fallback answers)"),
        (
            ("openai", "anthropic"),
            {"model": "gpt-4o-mini"},
            ["openai", "anthropic", "openrouter"],
            "gpt-4o-mini with OpenAI and Anthropic down (the second fallback answers)",
        ),
        ((), {"model": "gpt-4o-mini", "max_tokens": 3}, ["openai"], "gpt-4o-mini and max_tokens 3 (the reply is cut)"),
    ]
    for down, extra, order, what in cases:
        sim.clear_faults()
        sim.clear_requests()
        for provider in down:
            sim.add_fault(provider=provider, kind="http", status=529 if provider == "anthropic" else 503)
        message = LONG_MESSAGE if extra.get("max_tokens") else f"Finish properly {nonce()}"
        result = stream_ok(app, what, message=message, **extra)
        well_formed(result, f"POST {STREAM} with {what}")
        done = result.of_type("done")
        check(done, f"the stream with {what} has no done event: send one last event with type done")
        check(len(done) == 1, f"the stream with {what} has {len(done)} done events; send exactly one")
        check(result.events[-1] is done[0], f"the stream with {what} sends events after its done event")
        check(not result.of_type("error"), f"the stream with {what} sent an error event although the reply completed")
        data = done[0].data
        entries = generations(sim)
        source = source_of(sim)
        requested = extra.get("model", DEFAULT_MODEL)
        check(
            [e.get("provider") for e in entries] == order,
            f"with {what}, the providers were asked in this order: {', '.join(map(describe, entries)) or 'none'}; "
            f"expected {', '.join(order)}, each once",
        )
        usage = data.get("usage")
        check(
            usage_matches(usage, source),
            f"the done event's usage is {short(usage)}; the provider counted input_tokens="
            f"{source.get('input_tokens')}, output_tokens={source.get('output_tokens')} (ask for "
            'stream_options={"include_usage": True} and read the last chunk)',
        )
        check(
            data.get("provider") == source.get("provider"),
            f"with {what}, {source.get('provider')} answered but the done event says provider {data.get('provider')!r}",
        )
        check(
            matches_model(data.get("model"), name_of_entry(source)),
            f"with {what}, {source.get('model')!r} answered but the done event says model {data.get('model')!r}",
        )
        check(
            data.get("requested_model") == requested,
            f"with {what}, the request asked for {requested!r} but the done event says requested_model "
            f"{data.get('requested_model')!r}",
        )
        check(
            data.get("fallback") is bool(down),
            f"with {what}, the done event says fallback {data.get('fallback')!r}",
        )
        expected_finish = "length" if extra.get("max_tokens") else "stop"
        check(
            data.get("finish_reason") == expected_finish,
            f"with {what}, the provider stopped with {source.get('stop_reason')!r} but the done event says "
            f"finish_reason {data.get('finish_reason')!r}; expected {expected_finish!r} (from the stream's chunks)",
        )
        if extra.get("max_tokens"):
            check(
                source.get("max_tokens") == extra["max_tokens"] and len(result.tokens) <= extra["max_tokens"],
                f"with {what}, the provider was asked for max_tokens {source.get('max_tokens')!r} and the "
                f"stream sent {len(result.tokens)} token events",
            )


@criterion(
    "p4.stream-errors",
    ERRORS,
    hint="Wrap the loop over the Router's stream in try/except: on an exception, yield one "
    'error event {"type": "error", "error": {"type", "message", "request_id"}} and return, '
    "so the stream ends normally.",
)
def test_stream_errors(app, sim):
    for provider in ("anthropic", "openai", "openrouter"):
        name = next(n for n, (p, _) in MODELS.items() if p == provider)
        sim.clear_faults()
        sim.clear_requests()
        sim.add_fault(provider=provider, kind="midstream", after_tokens=3)
        what = f"{provider} failing after 3 tokens"
        result = stream_ok(app, what, message=f"Break part-way {nonce()}", model=name)
        check(
            result.transport_error is None,
            f"with {what}, the connection was cut without an error event: catch the exception in "
            "the generator, yield an error event, and end the stream",
        )
        check(result.format_error is None, f"with {what}: {result.format_error}")
        errors = result.of_type("error")
        check(errors, f"with {what}, the stream ended without an error event (events: {', '.join(str(e.type) for e in result.events) or 'none'})")
        check(len(errors) == 1 and result.events[-1] is errors[0], f"with {what}, the error event is not the stream's last event")
        check(not result.of_type("done"), f"with {what}, the stream still sent a done event: the reply is not complete")
        check(
            len(result.tokens) == 3,
            f"with {what}, the client got {len(result.tokens)} token events before the error; the "
            "provider sent 3: pass each on as it comes",
        )
        error = errors[0].data.get("error")
        check(
            isinstance(error, dict) and all(isinstance(error.get(k), str) and error.get(k) for k in ("type", "message", "request_id")),
            f'the error event\'s data is {short(errors[0].data)}; expected {{"type": "error", "error": '
            '{"type", "message", "request_id"}}',
        )
        check("Traceback" not in errors[0].raw, "the error event contains a stack trace")
        header_id = result.headers.get("x-request-id")
        check(
            not header_id or error.get("request_id") == header_id,
            f"with {what}, the error event's request_id is {error.get('request_id')!r} but the response's "
            f"X-Request-ID is {header_id!r}: use the request's id",
        )
        check(
            set(errors[0].data) == {"type", "error"},
            f"the error event's data has the fields {sorted(errors[0].data)}; expected exactly type and error",
        )
    sim.clear_faults()
    result = stream_ok(app, "a message after the failures", message=f"Still alive? {nonce()}")
    check(
        result.transport_error is None and result.tokens,
        "after a failed stream, the next stream did not work",
    )


@criterion(
    "p4.disconnect",
    ERRORS,
    hint="Close the Router's stream in a finally: block of the generator (await upstream.aclose()): "
    "when the client disconnects, the generator is cancelled and must stop reading from the provider.",
)
def test_disconnect(app, sim):
    sim.config(token_delay_ms=TOKEN_DELAY_MS)
    for name in MODELS:
        sim.clear_requests()
        result = sse.read_stream(app, STREAM, {"message": LONG_MESSAGE, "model": name}, timeout=TIMEOUT_S, stop_after_tokens=2)
        check(result.status == 200, f"POST {STREAM} with model {name!r} answered {result.status}")
        check(len(result.tokens) >= 2, f"POST {STREAM} with model {name!r} sent {len(result.tokens)} token events before it ended")
        entry = wait_until(
            lambda: next((e for e in generations(sim) if e.get("ended_at")), None),
            timeout=4.0,
        )
        check(entry is not None, f"the provider stream of model {name!r} was still running 4 s after the client hung up")
        check(
            entry.get("outcome") == "cancelled",
            f"the client hung up after 2 tokens, but the {entry.get('provider')} stream went on ({entry.get('outcome')}, "
            f"{entry.get('tokens_streamed')} of {entry.get('output_tokens')} tokens read): close it when "
            "the client goes away",
        )


@criterion(
    "p4.all-providers",
    ALL_PROVIDERS,
    hint="Stream through the Router with the request's model: every model of GET /v1/models "
    "streams from its own provider.",
)
def test_all_providers(app, sim):
    r = app.get("/v1/models")
    check(r.status_code == 200, f"GET /v1/models answered {r.status_code}; Project 3's endpoints must stay")
    data = json_or_none(r)
    items = data.get("data") if isinstance(data, dict) else None
    check(isinstance(items, list) and items, f"GET /v1/models returned {short(r.text)}")
    listed = {i.get("id"): i.get("provider") for i in items if isinstance(i, dict)}
    for name in MODELS:
        check(name in listed, f"GET /v1/models does not list {name!r}")
    for name, provider in listed.items():
        sim.clear_requests()
        result = stream_ok(app, f'"model": "{name}"', message=f"Any provider {nonce()}", model=name)
        well_formed(result, f"the stream of model {name!r}")
        source = source_of(sim)
        entries = generations(sim)
        check(
            len(entries) == 1 and source.get("provider") == provider and source.get("stream") is True,
            f"the stream of model {name!r} came from {', '.join(map(describe, entries))}; expected one "
            f"streamed request to {provider}",
        )
        done = result.of_type("done")
        check(
            len(done) == 1 and done[0].data.get("provider") == provider and done[0].data.get("requested_model") == name,
            f"the stream of model {name!r} ended with {short(done[0].raw if done else 'no done event', 160)}; "
            f"expected one done event with provider {provider!r} and requested_model {name!r}",
        )
        # POST /v1/chat stays as it was in Project 3: the whole reply, from the same provider.
        sim.clear_requests()
        r = app.post("/v1/chat", json={"message": f"Not streamed {nonce()}", "model": name}, timeout=TIMEOUT_S, headers=FRESH)
        body = json_or_none(r)
        whole = answered(generations(sim)) or {}
        check(
            r.status_code == 200 and isinstance(body, dict) and body.get("content") == whole.get("reply")
            and body.get("provider") == provider and whole.get("stream") is False,
            f"POST /v1/chat with model {name!r} answered {r.status_code} {short(r.text, 120)} "
            f"(provider request: {', '.join(map(describe, generations(sim))) or 'none'}); Project 3's endpoint must stay",
        )
        check(
            token_text(result) == source.get("reply"),
            f"the stream of model {name!r} joins to {short(token_text(result), 80)!r}; {provider} sent "
            f"{short(source.get('reply'), 80)!r}",
        )


# -- the page, in a browser -----------------------------------------------------------------------

def _chromium() -> str:
    for path in CHROMIUM_PATHS:
        if Path(path).is_file():
            return path
    found = shutil.which("chromium")
    if found:
        return found
    raise CheckError(
        "Chromium is not installed, so the page cannot be opened: install Debian's chromium "
        "(sudo apt-get install -y chromium) and run the check again"
    )


# Records every change of #output's text, with its time, inside the page.
_RECORDER = """() => {
  const out = document.querySelector('#output');
  window.__grader = {samples: [], start: performance.now()};
  if (!out) return false;
  const record = () => window.__grader.samples.push([performance.now(), out.textContent.length]);
  new MutationObserver(record).observe(out, {childList: true, subtree: true, characterData: true});
  return true;
}"""


def run_page(app, message: str, timeout_s: float = 15.0, more: tuple = ()) -> dict:
    """Open the page in Chromium, send ``message``, wait for the reply; what the page did.

    ``more``: further (prepare, message) pairs sent in the same page afterwards, each after
    calling ``prepare()``; what the page showed for each is in the result's "more".
    """
    executable = _chromium()
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise CheckError("the playwright package is not installed (pip install playwright)") from None
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True, timeout=20000)
            try:
                page = browser.new_page()
                problems: list[str] = []
                page.on("pageerror", lambda exc: problems.append(str(exc).splitlines()[0]))
                response = page.goto(app.url + "/", timeout=10000)
                check(response is not None and response.ok, f"GET / answered {response.status if response else 'nothing'}")
                for selector in ("#message", "#send", "#output"):
                    check(page.query_selector(selector) is not None, f"the page has no {selector} element")
                page.wait_for_load_state("load")
                page.wait_for_timeout(300)  # the model menu loads
                check(page.evaluate(_RECORDER), "the page has no #output element")
                models = page.evaluate(
                    "() => Array.from(document.querySelectorAll('#model option')).map(o => o.value)"
                )
                first = _send(page, message, timeout_s)
                first["errors"] = problems
                first["models"] = models
                first["more"] = []
                for prepare, text in more:
                    if prepare is not None:
                        prepare()
                    seen = _send(page, text, timeout_s)
                    seen["errors"] = problems
                    first["more"].append(seen)
                return first
            finally:
                browser.close()
    except PlaywrightError as exc:
        raise CheckError(f"Chromium could not be driven: {str(exc).splitlines()[0]}") from None


def _send(page, message: str, timeout_s: float) -> dict:
    """Type ``message``, click Send, wait until #output is still and the form usable again."""
    page.evaluate("() => { window.__grader.samples = []; }")
    page.fill("#message", message)
    page.click("#send")
    page.wait_for_timeout(200)
    deadline_ms = timeout_s * 1000
    waited = 0
    last, stable = -1, 0
    while waited < deadline_ms:
        state = page.evaluate(
            "() => [document.querySelector('#output').textContent, "
            "(document.querySelector('#status') || {}).textContent || '', "
            "document.querySelector('#send').disabled]"
        )
        length = len(state[0])
        stable = stable + 1 if length == last else 0
        last = length
        # done: the text stopped changing and the form is usable again
        if stable >= 5 and not state[2]:
            break
        page.wait_for_timeout(100)
        waited += 100
    recorded = page.evaluate("() => window.__grader")
    output = page.evaluate("() => document.querySelector('#output').textContent")
    status = page.evaluate("() => (document.querySelector('#status') || {}).textContent || ''")
    return {"output": output, "status": status, "samples": recorded["samples"]}


@criterion(
    "p4.html-page",
    PAGE,
    hint="GET / serves the page; write streamChat() in app/static/stream.js: fetch() the stream, "
    "read response.body.getReader(), cut the text into events at blank lines, and call the "
    "handlers: onToken, onDone, and onError for an error event or a response that is not OK "
    "(README.md, \"The test page\").",
)
def test_html_page(app, sim):
    r = app.get("/")
    check(r.status_code == 200, f"GET / answered {r.status_code}; it serves the test page")
    check("text/html" in r.headers.get("content-type", ""), f"GET / answered {r.headers.get('content-type')}, not an HTML page")
    message = f"Hello from the browser {nonce()}"
    expected: dict = {}
    broken = f"Break in the browser {nonce()}"

    def all_down() -> None:
        # Every provider fails before the stream starts: a JSON error body, not a stream.
        sim.add_fault(provider="*", kind="http", status=500)
        r = post(app, {"message": f"Everyone is down {nonce()}"})
        body = json_or_none(r) if r.status_code >= 400 else None
        expected["before"] = body.get("error") if isinstance(body, dict) and isinstance(body.get("error"), dict) else {}

    def break_midstream() -> None:
        # The provider fails after 3 tokens: an error event after the tokens.
        sim.clear_faults()
        sim.add_fault(provider="*", kind="midstream", after_tokens=3, times=1)
        result = stream(app, message=broken)
        expected["partial"] = result.text
        errors = result.of_type("error")
        expected["midstream"] = errors[0].data.get("error") if errors and isinstance(errors[0].data.get("error"), dict) else {}
        sim.clear_faults()
        sim.add_fault(provider="*", kind="midstream", after_tokens=3, times=1)

    seen = run_page(app, message, more=((all_down, f"Nobody answers {nonce()}"), (break_midstream, broken)))
    sim.clear_faults()
    entries = [e for e in generations(sim) if message in json.dumps(e.get("messages"))]
    check(
        entries,
        "clicking Send did not make the app call a provider"
        + (f" (the page says: {short(seen['status'], 100)})" if seen["status"] else "")
        + (f" (page error: {short(seen['errors'][0], 100)})" if seen["errors"] else ""),
    )
    check(entries[-1].get("stream") is True, "the page's request did not stream from the provider: post to /v1/chat/stream")
    reply = entries[-1].get("reply") or ""
    check(
        seen["output"].strip() == reply.strip(),
        f"after the stream, #output shows {short(seen['output'], 80)!r}; the reply was {short(reply, 80)!r}"
        + (f" (page error: {short(seen['errors'][0], 100)})" if seen["errors"] else ""),
    )
    missing = [name for name in MODELS if name not in seen["models"]]
    check(not missing, f"the page's #model menu offers {seen['models']}; GET /v1/models lists {list(MODELS)} (missing {missing})")
    down, midway = seen["more"]
    # What the page shows is compared with what the endpoint sent for the same fault (whether
    # the endpoint sends the right thing is the other criteria's business).
    shown = expected.get("before") or {}
    check(
        not shown or any(isinstance(v, str) and v and v in down["status"] for v in (shown.get("message"), shown.get("type"))),
        "with every provider failing before the stream, POST /v1/chat/stream answered the error "
        f"{short(shown, 120)} but #status shows {short(down['status'], 100)!r}: when the response is "
        "not OK, call handlers.onError(body.error)",
    )
    partial = midway["output"]
    check(
        partial.strip() == expected.get("partial", "").strip(),
        f"the stream sent the tokens {expected.get('partial')!r} before its error event; #output shows "
        f"{short(partial, 80)!r}: show the tokens that came before the error event",
    )
    shown = expected.get("midstream") or {}
    check(
        not shown or any(isinstance(v, str) and v and v in midway["status"] for v in (shown.get("message"), shown.get("type"))),
        f"the stream ended with the error event {short(shown, 120)} but #status shows "
        f"{short(midway['status'], 100)!r}: call handlers.onError(data.error) for an error event",
    )


@criterion(
    "p4.tokens-one-by-one",
    ONE_BY_ONE,
    hint="Append each token to #output as its event arrives: read the body with getReader() "
    "(not response.text() or response.json(), which wait for the end).",
)
def test_tokens_one_by_one(app, sim):
    sim.config(token_delay_ms=TOKEN_DELAY_MS)
    seen = run_page(app, LONG_MESSAGE)
    samples = seen["samples"]
    lengths = [n for _, n in samples]
    final = len(seen["output"])
    check(final > 0, "#output stayed empty" + (f" (page error: {short(seen['errors'][0], 100)})" if seen["errors"] else ""))
    growth = [(t, n) for (t, n) in samples if n > 0]
    steps = len(set(lengths) - {0})
    check(
        steps >= 10,
        f"#output changed {steps} time(s) while a reply of about 40 tokens arrived: show each token as it comes",
    )
    first_t = growth[0][0]
    last_t = growth[-1][0]
    check(
        last_t - first_t > 0.5,
        f"all the text appeared within {last_t - first_t:.2f} s although the tokens took about 2 s to come: "
        "the page waits for the whole reply",
    )


# -- curl -----------------------------------------------------------------------------------------


@criterion(
    "p4.curl",
    CURL,
    hint="Show in README.md the exact command: curl -N -X POST http://localhost:8000/v1/chat/stream "
    "-H \"Content-Type: application/json\" -d '{\"message\": \"...\"}' (and make it work).",
)
def test_curl(project, app, sim):
    text = project.read("README.md")
    check(text is not None, "there is no README.md")
    requests = [curl_request(argv) for argv in curl_commands(text)]
    streaming = [r for r in requests if r["url"] and urlsplit(r["url"]).path == STREAM]
    check(streaming, f"README.md has no curl command for {STREAM}")
    buffered = [r for r in streaming if not r["no_buffer"]]
    check(
        not buffered,
        f"README.md's curl command for {STREAM} lacks -N (--no-buffer): curl would show the events "
        "only when its buffer fills",
    )
    req = streaming[0]
    check(req["method"] == "POST", f"README.md's curl command sends {req['method']}; {STREAM} takes a POST")
    check(req["body"], f"README.md's curl command for {STREAM} sends no body")
    path = urlsplit(req["url"]).path
    headers = [("User-Agent", "curl/8.5.0"), ("Accept", "*/*"), *req["headers"]]
    sim.config(token_delay_ms=5)
    result = sse.raw_request("127.0.0.1", int(app.url.rsplit(":", 1)[1]), "POST", path, headers, req["body"].encode())
    check(
        result.status == 200,
        f"README.md's curl command, sent as is, got {result.status}: {short(result.body.decode('utf-8', 'replace'))}",
    )
    check(result.transport_error is None, f"README.md's curl command: {result.transport_error}")
    check(result.format_error is None, f"README.md's curl command got a stream that is not SSE: {result.format_error}")
    check(result.tokens, "README.md's curl command got no token events")
    source = source_of(sim)
    check(
        result.text == source.get("reply"),
        f"README.md's curl command got {short(result.text, 80)!r}; the provider sent {short(source.get('reply'), 80)!r}",
    )


# -- quizzes --------------------------------------------------------------------------------------

@criterion(
    "p4.quiz-sse-format",
    FORMAT_QUIZ,
    hint="Answer the sse-* questions in quiz.yaml: replace `answer: null` with a letter.",
)
def test_quiz_sse_format(project):
    check_quiz_file(project, QUIZ_FORMAT)


@criterion(
    "p4.quiz-sse-vs-websocket",
    SSE_VS_WS,
    hint="Answer the sse-vs-ws-* questions in quiz.yaml: replace `answer: null` with a letter.",
)
def test_quiz_sse_vs_websocket(project):
    check_quiz_file(project, QUIZ_WS)

