"""Section 4.2, Implementing LLM Token Streaming: the notebook's exercise checks and quiz.

The checks serve the learner's app with real uvicorn (TestClient buffers a stream, so it
cannot show when events arrive), read its SSE stream with httpx and compare arrival times and
outcomes with llmsim's journal. Each run puts a marker of its own in the user message and
finds its requests by it, so a shared journal (the lab's llmsim) is read, never cleared.
"""

import contextlib
import json
import time
import uuid
from typing import Any

from grader.criterion import check
from grader.exercise import exercise, section_quiz

MODEL = "claude-haiku-4-5"
PROBE_KEY = "sk-llmsim-section4-check"
TOKEN_DELAY_MS = 40  # big against scheduler noise on a busy machine, small enough to stay quick


def _sim() -> Any:
    from grader.lesson import sim

    return sim()


def _client() -> Any:
    """An AsyncAnthropic for the learner's app: llmsim, no retries (a fault must reach the app)."""
    import anthropic

    return anthropic.AsyncAnthropic(api_key=PROBE_KEY, base_url=_sim().url, max_retries=0, timeout=10.0)


def _marker() -> str:
    return f"check-{uuid.uuid4().hex[:10]}"


@contextlib.contextmanager
def _token_delay(ms: int):
    s = _sim()
    before = s.config().get("token_delay_ms", 0)
    s.config(token_delay_ms=ms)
    try:
        yield s
    finally:
        s.config(token_delay_ms=before)


@contextlib.contextmanager
def _served(factory: Any, what: str, *args: Any):
    from grader.lesson import serve

    app = factory(_client(), *args)
    check(app is not None, f"{what} returned None; return the FastAPI app")
    server = serve(app, name="check-4.2")
    try:
        yield server
    finally:
        server.stop(timeout=1.0)


def _entries(marker: str) -> list[dict]:
    found = []
    for e in _sim().requests(provider="anthropic"):
        if marker in json.dumps(e.get("messages") or []):
            found.append(e)
    return found


def _wait_entry(marker: str, what: str, timeout: float = 3.0, finished: bool = True) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        found = _entries(marker)
        if found and (not finished or found[-1].get("ended_at") is not None):
            return found[-1]
        if time.monotonic() > deadline:
            check(found, f"{what}: no request reached the provider; call client.messages.stream(...) "
                         f"with the user's message")
            return found[-1]
        time.sleep(0.02)


class Event:
    def __init__(self, name: str, raw: str, at: float):
        self.name, self.raw, self.at = name, raw, at
        try:
            self.data = json.loads(raw)
        except ValueError:
            self.data = None


def _read_events(response: Any, stop_after_tokens: int | None = None) -> tuple[list[Event], str]:
    """The SSE events of ``response`` with their arrival times (epoch s), and how it ended."""
    events: list[Event] = []
    name, data = "message", []
    tokens = 0
    import httpx

    try:
        for line in response.iter_lines():
            if line == "":
                if data:
                    events.append(Event(name, "\n".join(data), time.time()))
                    if name == "token":
                        tokens += 1
                        if stop_after_tokens is not None and tokens >= stop_after_tokens:
                            return events, "stopped"
                name, data = "message", []
                continue
            if line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
    except httpx.HTTPError as exc:
        return events, f"broken ({type(exc).__name__})"
    if data:  # an event without its blank line is never dispatched by a client
        return events, "unterminated"
    return events, "clean"


def _post(client: Any, url: str, message: str) -> Any:
    return client.stream("POST", url + "/chat/stream", json={"message": message})


def _check_headers(response: Any, what: str) -> None:
    check(response.status_code == 200, f"{what} answered {response.status_code}; a started stream answers 200")
    ctype = response.headers.get("content-type", "")
    check(ctype.startswith("text/event-stream"),
          f"{what} sent Content-Type {ctype!r}; use media_type=\"text/event-stream\"")


def _check_token_events(tokens: list[Event], what: str) -> None:
    for ev in tokens:
        check(isinstance(ev.data, dict) and isinstance(ev.data.get("content"), str),
              f"{what}: a token event's data is {ev.raw!r}; send one line of JSON: "
              "{\"type\": \"token\", \"content\": \"...\"}")
        check(ev.data.get("type") == "token",
              f"{what}: a token event's data has type {ev.data.get('type')!r}; it must be \"token\"")


def _check_error_event(events: list[Event], ending: str, what: str, error_type: str | None = None) -> dict:
    check(ending == "clean", f"{what}: the stream was {ending} instead of ending cleanly; catch the error "
                             "inside the generator, yield an error event and return")
    errors = [e for e in events if e.name == "error"]
    check(errors, f"{what}: no `error` event arrived; yield event: error with the reason")
    check(len(errors) == 1, f"{what}: {len(errors)} error events arrived; send exactly one")
    check(events[-1].name == "error", f"{what}: the error event must be the last event; stop after sending it")
    check(not any(e.name == "done" for e in events), f"{what}: a done event was sent after a failure; send "
                                                     "`error` instead of `done`")
    data = errors[0].data
    err = data.get("error") if isinstance(data, dict) else None
    check(isinstance(data, dict) and data.get("type") == "error" and isinstance(err, dict)
          and isinstance(err.get("type"), str) and err.get("type")
          and isinstance(err.get("message"), str) and err.get("message"),
          f"{what}: the error event's data is {errors[0].raw[:120]!r}; send "
          "{\"type\": \"error\", \"error\": {\"type\": \"...\", \"message\": \"...\"}}")
    check("Traceback" not in errors[0].raw, f"{what}: the error event carries a traceback; send a short message")
    if error_type is not None:
        check(err["type"] == error_type, f"{what}: the error's type is {err['type']!r}; it must be {error_type!r}")
    return err


def _check_cancelled(marker: str, what: str, within_s: float = 2.0) -> None:
    deadline = time.monotonic() + within_s
    entry: dict = {}
    while time.monotonic() < deadline:
        entry = _wait_entry(marker, what, finished=False)
        if entry.get("ended_at") is not None:
            break
        time.sleep(0.05)
    check(entry.get("ended_at") is not None,
          f"{what}: the provider's stream was still running {within_s:.0f} s later; close it when the "
          "client goes away (do not keep reading it)")
    check(entry.get("outcome") == "cancelled",
          f"{what}: the provider's stream ended {entry.get('outcome')!r} after {entry.get('tokens_streamed')} "
          "tokens; it must be cancelled (closed early), not read to the end")


# -- 4.2.stream -------------------------------------------------------------------------------

@exercise("4.2.stream", "Endpoint receives request -> calls LLM with stream=True -> yields tokens -> client displays",
          also=["Async generator pattern", "Try/except inside generator", "Sending error events to client"],
          uses=["create_stream_app"], timeout=20.0,
          hint="StreamingResponse(an async generator, media_type=\"text/event-stream\"); yield each token inside "
               "`async for text in stream.text_stream`, then done; wrap it in try/except and yield error.")
def stream_exercise(create_stream_app):
    import httpx

    check(callable(create_stream_app), "create_stream_app must be a function: create_stream_app(client) -> FastAPI app")
    what = "POST /chat/stream"
    with _served(create_stream_app, "create_stream_app(client)") as server, _token_delay(TOKEN_DELAY_MS), \
            httpx.Client(timeout=10.0) as client:
        # A whole reply: token events as they arrive, then one done event with usage.
        marker = _marker()
        message = f"Stream this please ({marker}), one token at a time."
        with _post(client, server.url, message) as response:
            _check_headers(response, what)
            events, ending = _read_events(response)
        entry = _wait_entry(marker, what)
        check(entry.get("stream") is True, f"{what} sent a non-streaming request; use client.messages.stream(...)")
        check(entry.get("model") == MODEL, f"{what} asked for model {entry.get('model')!r}; ask for {MODEL!r}")
        check(ending != "unterminated", f"{what}: the last event has no blank line after it; end every event "
                                        "with \\n\\n")
        check(ending == "clean", f"{what}: the stream was {ending}; it must end cleanly after the done event")
        tokens = [e for e in events if e.name == "token"]
        check(tokens, f"{what} sent no `token` events; yield \"event: token\\ndata: {{...}}\\n\\n\" per token")
        _check_token_events(tokens, what)
        text = "".join(e.data["content"] for e in tokens)
        check(text == entry.get("reply"),
              f"{what}: the token contents join to {text[:60]!r}…; they must join to the reply "
              f"{str(entry.get('reply'))[:60]!r}…")
        check(len(tokens) == entry.get("tokens_streamed"),
              f"{what} sent {len(tokens)} token events for {entry.get('tokens_streamed')} tokens; send one per token")
        done = [e for e in events if e.name == "done"]
        check(done, f"{what}: no `done` event; after the last token yield event: done with the usage")
        check(len(done) == 1 and events[-1].name == "done", f"{what}: send exactly one done event, as the last event")
        usage = done[0].data.get("usage") if isinstance(done[0].data, dict) else None
        want = {"input_tokens": entry.get("input_tokens"), "output_tokens": entry.get("output_tokens")}
        check(isinstance(done[0].data, dict) and done[0].data.get("type") == "done" and usage == want,
              f"{what}: the done event's data is {done[0].raw[:120]!r}; send {{\"type\": \"done\", "
              f"\"usage\": {want}}} (the final message's usage)")
        # Each token leaves when it arrives: the first well before the provider's last.
        gap = tokens[-1].at - tokens[0].at
        expected = (len(tokens) - 1) * TOKEN_DELAY_MS / 1000
        check(gap >= 0.4 * expected and tokens[0].at < entry["ended_at"] - 0.3 * expected,
              f"{what}: the first token arrived {max(0.0, entry['ended_at'] - tokens[0].at):.2f} s before the "
              f"provider finished and {gap:.2f} s before the last token (the provider took {expected:.1f} s); "
              "yield each token as it arrives, do not collect them first")

        # A provider failure mid-stream: the tokens so far, one error event, a clean end.
        marker = _marker()
        _sim().add_fault(provider="anthropic", kind="midstream", after_tokens=3, times=1, model=MODEL)
        try:
            with _post(client, server.url, f"Fail part-way ({marker})") as response:
                _check_headers(response, f"{what} with a provider failing mid-stream")
                events, ending = _read_events(response)
        finally:
            _sim().clear_faults()
        what = f"{what} when the provider fails after 3 tokens"
        tokens = [e for e in events if e.name == "token"]
        check(len(tokens) == 3, f"{what}: {len(tokens)} token events arrived; the 3 tokens sent before the "
                                "failure must reach the client")
        _check_error_event(events, ending, what)


# -- 4.2.partial ------------------------------------------------------------------------------

def _ev(name: str, data: dict) -> tuple[float, str, dict]:
    return (0.0, name, data)


def _tok(text: str) -> tuple[float, str, dict]:
    return _ev("token", {"type": "token", "content": text})


_USAGE = {"input_tokens": 9, "output_tokens": 3}
_FAILED = {"type": "error", "error": {"type": "upstream_error", "message": "The provider failed part-way."}}
_FOLD_CASES = [
    ("a complete reply (tokens 'Hel', 'lo', then done)",
     [_tok("Hel"), _tok("lo"), _ev("done", {"type": "done", "usage": _USAGE})], ("Hello", True, None)),
    ("a reply broken by the provider (tokens 'Par', 'tial', then an error event)",
     [_tok("Par"), _tok("tial"), _ev("error", _FAILED)], ("Partial", False, "The provider failed part-way.")),
    ("a stream cut without done or error (tokens 'Cut', ' off')",
     [_tok("Cut"), _tok(" off")], ("Cut off", False, None)),
    ("an error before any token", [_ev("error", _FAILED)], ("", False, "The provider failed part-way.")),
]


@exercise("4.2.partial", "Partial response recovery",
          uses=["fold"],
          hint="text = the joined token contents (always, also after an error); complete = a done event arrived "
               "and no error did; the error is the first error event's error.message, or None.")
def partial_exercise(fold):
    check(callable(fold), "fold must be a function: fold(events) -> (text, complete, error)")
    for what, events, want in _FOLD_CASES:
        got = fold(list(events))
        check(isinstance(got, tuple | list) and len(got) == 3,
              f"fold(...) for {what} returned {got!r}; return a tuple (text, complete, error)")
        text, complete, error = got
        check(text == want[0], f"fold(...) for {what} gives the text {text!r}; keep every token received: "
                               f"{want[0]!r}")
        check(complete is want[1], f"fold(...) for {what} says complete={complete!r}; it must be {want[1]} "
                                   "(complete only when `done` arrived and no `error`)")
        check(error == want[2], f"fold(...) for {what} gives the error {error!r}; it must be {want[2]!r}")


# -- 4.2.guarded ------------------------------------------------------------------------------

@exercise("4.2.guarded", "Timeout handling",
          uses=["create_guarded_stream_app"], timeout=20.0,
          hint="Read the provider in a task that feeds an asyncio.Queue; await asyncio.wait_for(queue.get(), "
               "idle_timeout_s); in `finally`, cancel that task (it runs also when the client leaves).")
def guarded_exercise(create_guarded_stream_app):
    import httpx

    check(callable(create_guarded_stream_app),
          "create_guarded_stream_app must be a function: create_guarded_stream_app(client, idle_timeout_s) -> app")
    with _served(create_guarded_stream_app, "create_guarded_stream_app(client, 0.5)", 0.5) as server, \
            httpx.Client(timeout=10.0) as client:
        what = "POST /chat/stream"
        # Still a working stream (no token delay: only the events matter here).
        marker = _marker()
        with _post(client, server.url, f"Guarded stream ({marker})") as response:
            _check_headers(response, what)
            events, ending = _read_events(response)
        entry = _wait_entry(marker, what)
        tokens = [e for e in events if e.name == "token"]
        _check_token_events(tokens, what)
        check("".join(e.data["content"] for e in tokens) == entry.get("reply") and ending == "clean"
              and events and events[-1].name == "done",
              f"{what}: with a healthy provider, send every token and then one done event, as in exercise 1")

        # The client leaves after 2 tokens: the provider's stream is closed.
        marker = _marker()
        with _token_delay(TOKEN_DELAY_MS):  # kept until the journal is read: a slow reply to cancel
            with _post(client, server.url, f"I will leave early ({marker}), so stop generating for me") as response:
                _check_headers(response, what)
                _read_events(response, stop_after_tokens=2)
            _check_cancelled(marker, f"{what}, client gone after 2 tokens")

        # A provider that goes silent: an error event of type "timeout" after idle_timeout_s.
        marker = _marker()
        _sim().add_fault(provider="anthropic", kind="hang", delay_s=6, times=1, model=MODEL)
        try:
            t0 = time.monotonic()
            with httpx.Client(timeout=5.0) as quick, _post(quick, server.url, f"Hang ({marker})") as response:
                _check_headers(response, f"{what} with a silent provider")
                events, ending = _read_events(response)
            took = time.monotonic() - t0
        finally:
            _sim().clear_faults()
        what = f"{what} with a provider silent for longer than idle_timeout_s=0.5"
        check(not ending.startswith("broken (ReadTimeout"),
              f"{what}: nothing arrived for 5 s; after idle_timeout_s without a token, send an error event "
              "of type \"timeout\" and end")
        _check_error_event(events, ending, what, error_type="timeout")
        check(took < 2.5, f"{what}: the timeout came after {took:.1f} s; give up after idle_timeout_s")
        _check_cancelled(marker, what)


# -- 4.2.curl ---------------------------------------------------------------------------------

_CURL_GAP = 0.4  # seconds between the check app's events: large against curl's and the machine's noise


def _echo_app() -> Any:
    import asyncio

    from fastapi import FastAPI
    from fastapi.responses import StreamingResponse
    from pydantic import BaseModel

    class Body(BaseModel):
        message: str

    app = FastAPI()

    @app.post("/chat/stream")
    async def chat_stream(body: Body):
        async def events():
            for n in range(3):
                if n:
                    await asyncio.sleep(_CURL_GAP)
                yield f"event: token\ndata: {json.dumps({'n': n, 'echo': body.message})}\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return app


@exercise("4.2.curl", "Using `curl` to test SSE",
          uses=["curl_command"], timeout=20.0,
          hint="[\"curl\", \"-sN\", \"-X\", \"POST\", url + \"/chat/stream\", \"-H\", \"Content-Type: application/json\", "
               "\"-d\", json.dumps({\"message\": message})]: -N prints each chunk at once, -s hides the progress bar.")
def curl_exercise(curl_command):
    import os
    import shutil
    import subprocess

    from grader.lesson import serve

    check(callable(curl_command), "curl_command must be a function: curl_command(url, message) -> list of str")
    check(shutil.which("curl") is not None, "curl is not installed on this machine, so the command cannot be run")
    message = 'Say "hi" & {braces}'
    server = serve(_echo_app(), name="check-4.2-curl")
    try:
        argv = curl_command(server.url, message)
        check(isinstance(argv, list | tuple) and argv and all(isinstance(a, str) for a in argv),
              f"curl_command(...) returned {argv!r}; return the command as a list of strings (no shell)")
        check(os.path.basename(argv[0]) == "curl", f"the command starts with {argv[0]!r}; it must run curl")
        lines: list[tuple[float, str]] = []
        started = time.monotonic()
        proc = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            for line in proc.stdout:
                lines.append((time.monotonic() - started, line.rstrip("\n")))
            proc.wait(timeout=10)
            stderr = proc.stderr.read()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        ended = time.monotonic() - started
        check(proc.returncode == 0, f"curl exited with code {proc.returncode}: {stderr.strip()[:200]}")
        check(not stderr.strip(), f"curl wrote to stderr (a progress bar or an error): {stderr.strip()[:120]!r}; "
                                  "use -s")
        data = [(at, line) for at, line in lines if line.startswith("data:")]
        check(data, f"curl printed no SSE events: {[line for _, line in lines][:3]}; POST the JSON body "
                    "{\"message\": ...} to url + \"/chat/stream\" with Content-Type: application/json")
        try:
            payloads = [json.loads(line.partition(":")[2]) for _, line in data]
        except ValueError:
            payloads = []
        check([p.get("echo") for p in payloads] == [message] * 3,
              f"the endpoint received {[p.get('echo') for p in payloads]}; send the JSON body "
              f"{json.dumps({'message': message})} (json.dumps it, no shell quoting)")
        first = data[0][0]
        check(ended - first >= 1.5 * _CURL_GAP,
              f"curl printed the first event {ended - first:.2f} s before it ended, while the events were "
              f"{_CURL_GAP} s apart: its output was buffered; add -N (--no-buffer)")
    finally:
        server.stop(timeout=1.0)


# -- 4.2.sse_client ---------------------------------------------------------------------------

def _tricky_app() -> Any:
    import asyncio

    from fastapi import FastAPI
    from fastapi.responses import StreamingResponse

    app = FastAPI()

    @app.get("/tricky")
    async def tricky():
        async def events():
            yield "retry: 1000\n\n"                      # no data: not an event
            yield ": a keep-alive comment\n\n"
            yield 'event: token\ndata: {"content": "Hi"}\n\n'
            await asyncio.sleep(0.5)
            yield "data: first line\ndata: second line\n\n"
            yield "data:no space\n\n"
            yield "event: done\ndata:  two spaces\n\n"
            yield "id: 7\ndata: spl"
            await asyncio.sleep(0.05)
            yield "it\r\n\r\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return app


_TRICKY = [("token", '{"content": "Hi"}'), ("message", "first line\nsecond line"), ("message", "no space"),
           ("done", " two spaces"), ("message", "split")]


@exercise("4.2.sse_client", "Python client for SSE",
          uses=["iter_sse"], timeout=20.0,
          hint="Loop over response.iter_lines(); a blank line dispatches (event or \"message\", the data lines joined "
               "with \\n) if there is data; skip `:` lines; drop one space after the colon; reset after each event.")
def sse_client_exercise(iter_sse):
    import httpx

    from grader.lesson import serve

    check(callable(iter_sse), "iter_sse must be a function: iter_sse(response) yields (event, data)")
    server = serve(_tricky_app(), name="check-4.2-client")
    try:
        got: list[tuple[float, Any]] = []
        started = time.monotonic()
        with httpx.Client(timeout=5.0) as http, http.stream("GET", server.url + "/tricky") as response:
            for item in iter_sse(response):
                got.append((time.monotonic() - started, item))
        ended = time.monotonic() - started
        items = [tuple(item) if isinstance(item, list | tuple) else item for _, item in got]
        for i, (want, have) in enumerate(zip(_TRICKY, items, strict=False)):
            check(have == want, f"event {i + 1} of the stream came out as {have!r}; it must be {want!r} "
                                "(the stream: a retry-only block, a comment, then the events listed in order)")
        check(len(items) == len(_TRICKY), f"iter_sse yielded {len(items)} events: {items}; it must yield "
                                          f"{len(_TRICKY)}: {_TRICKY}")
        check(ended - got[0][0] >= 0.3,
              f"the first event was yielded {ended - got[0][0]:.2f} s before the stream ended, while the "
              "server waited 0.5 s after it: yield each event as its lines arrive (iter_lines), do not read "
              "the whole body first")
    finally:
        server.stop(timeout=1.0)


QUIZ = section_quiz(
    "4.2",
    item="After completing, you can answer: How do I handle an error midway through streaming? "
         "How do I test a streaming endpoint? What happens if the client disconnects mid-stream?",
    questions=[
        {
            "id": "midstream-error",
            "question": "Your endpoint has sent 200 OK and 40 token events when the provider fails. What should it do?",
            "choices": {
                "a": "Raise an HTTPException(502) so the client gets an error status",
                "b": "Catch the error inside the generator, yield one `error` event saying why, and end the stream",
                "c": "Let the exception propagate: the client will see the connection drop and retry",
                "d": "Yield a `done` event so the client keeps the partial text",
            },
            "answer_hash": "345e963a07ecb538a6ffd9b81bbd33f0fbf3cb8ec7c9e17494a2935e25ab9713",
            "explanation": "The status line is already sent, so no status code can change; only an in-band "
                           "error event tells the client the text it has is incomplete, and a clean end "
                           "lets it stop waiting.",
        },
        {
            "id": "test-timing",
            "question": "Which test proves that your endpoint streams instead of buffering the reply?",
            "choices": {
                "a": "TestClient: assert the body contains every token",
                "b": "Check that the response has Content-Type text/event-stream",
                "c": "Serve the app for real, read it with httpx `client.stream(...)` and compare arrival "
                     "times: the first event comes long before the last",
                "d": "Count the events in response.text",
            },
            "answer_hash": "010ba1c41c12371d917333d9e99f9aa45181e47d40d101ba899e5b89683d35a0",
            "explanation": "Only arrival times show when tokens leave. A buffered body has the same content, "
                           "headers and event count; TestClient itself collects the whole body.",
        },
        {
            "id": "disconnect",
            "question": "A user closes the tab mid-stream. With a StreamingResponse over an async generator "
                        "that reads the provider inside `async with client.messages.stream(...)`, what happens?",
            "choices": {
                "a": "The generator is cancelled at its current await, the `async with` closes the provider's "
                     "stream, and no more tokens are generated or paid for",
                "b": "Nothing: the generator runs to the end, and the tokens are discarded",
                "c": "The server process crashes with a broken pipe",
            },
            "answer_hash": "e6864805fabdf9b674c2268d9771bd30369699c416f1d906e43c6bfb32617d47",
            "explanation": "Starlette notices the disconnect and cancels the response; cleanup in `finally` / "
                           "`async with` runs and closes the upstream connection (llmsim's journal shows "
                           "`cancelled`). A task reading the provider on its own would keep going.",
        },
        {
            "id": "curl-flag",
            "item": "Using `curl` to test SSE",
            "question": "Why does `curl -N` matter when you test an SSE endpoint by hand?",
            "choices": {
                "a": "It sends the Accept: text/event-stream header",
                "b": "It turns off curl's output buffering, so each event prints when it arrives",
                "c": "It makes curl reconnect when the stream ends",
            },
            "answer_hash": "39d50c69e361a546086e0a4a6eaaf238c0d72640e832887b16059fd2cbbdbcae",
            "explanation": "Without -N (--no-buffer) curl may hold output back, and a streaming endpoint "
                           "looks as if it buffered.",
        },
        {
            "id": "back-pressure",
            "item": "Back-pressure handling",
            "question": "Your endpoint streams a 2,000-token reply through `async for text in stream.text_stream: "
                        "yield sse_event(...)` to a phone on a very slow link. What happens on the server?",
            "choices": {
                "a": "The generator reads the provider at full speed and queues the events in memory until "
                     "the phone catches up",
                "b": "Starlette drops the events the phone cannot take in time",
                "c": "Each `yield` waits until the previous chunk was sent; the generator pauses, stops reading "
                     "the provider, and nothing piles up in the server's memory",
                "d": "The request fails with a timeout as soon as the socket's buffer is full",
            },
            "answer_hash": "95cdae779fe132e92c1675162b6c9ac52078573caa7139aa0b08cfc16c6ffd7e",
            "explanation": "A streaming response pulls: it asks the generator for the next chunk only after "
                           "sending the last one. A slow reader slows the generator down, and with it the "
                           "reading of the provider. Only a producer feeding an unbounded buffer on its own "
                           "would pile data up.",
        },
        {
            "id": "eventsource-close",
            "item": "Browser EventSource testing",
            "question": "Your test page opens `new EventSource(\"chat/events?message=hi\")` and shows the "
                        "tokens, but never calls `source.close()`. What do you see in the server log after the "
                        "`done` event?",
            "choices": {
                "a": "Nothing more: the stream ended, so EventSource is finished",
                "b": "A single browser error, after which the page stops",
                "c": "A POST with the message as JSON body, because EventSource switches methods after a GET",
                "d": "A new GET /chat/events?message=hi every few seconds: EventSource reconnects when a "
                     "stream ends, so the same reply is generated again and again",
            },
            "answer_hash": "98fe6c97274ee3ceefc9b97c88f0c1dc2e4342c481925712ab1d8df509017459",
            "explanation": "EventSource treats the end of a stream as a dropped connection and reconnects after "
                           "the retry delay. A page that tests a finite reply must close the source on `done` "
                           "and on `error`.",
        },
    ],
    hint="Re-read 4.2.2 (errors in a started stream) and 4.2.3 (testing), then the disconnect demo in 4.2.1.",
)
