"""Section 2.2, async HTTP clients (httpx): the notebook's exercise checks and quiz.

The checks call the learner's coroutines in a fresh event loop of their own (the check runs
in its own thread), with an httpx.AsyncClient pointed at the llmsim this kernel uses, and
read llmsim's journal to see what really went over the wire. Faults are bound to a model name
of this run and requests carry a header of this run, so a shared journal is read, never cleared.
"""

import asyncio
import time
import uuid
from typing import Any

from grader.criterion import check
from grader.exercise import exercise, section_quiz

RUN_HEADER = "x-course-check-run"  # no "key"/"token" in the name: llmsim would redact it
PROBE_KEY = "sk-llmsim-section2-check"
STREAM_DELAY_MS = 20
# Long enough for ~60 token events: about 1.2 s of stream at STREAM_DELAY_MS per token.
STREAM_PROMPT = ("Explain, in plain words, why one shared HTTP client with a connection pool is "
                 "faster than opening a new connection for every request to a model provider, "
                 "and what keep-alive, timeouts and back-off have to do with it.")


def _sim() -> Any:
    from grader.lesson import sim

    return sim()


def _run_id() -> str:
    return uuid.uuid4().hex[:12]


def _client(run: str, timeout: float = 5.0, sent: list | None = None) -> Any:
    """The client handed to the learner's code; ``sent`` collects the requests it carried."""
    import httpx

    async def note(request: Any) -> None:
        if sent is not None:
            sent.append(request)

    return httpx.AsyncClient(base_url=_sim().url, timeout=timeout, event_hooks={"request": [note]},
                             headers={"x-api-key": PROBE_KEY, "anthropic-version": "2023-06-01",
                                      RUN_HEADER: run})


def _entries(run: str, *, settle_s: float = 3.0) -> list[dict]:
    """This run's journal entries, oldest first, once none of them is in flight."""
    deadline = time.monotonic() + settle_s
    while True:
        found = [e for e in _sim().requests(provider="anthropic")
                 if (e.get("headers") or {}).get(RUN_HEADER) == run]
        if all(e.get("ended_at") is not None for e in found) or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


# -- 2.2.client ------------------------------------------------------------------------------

CLIENT_DELAY_S = 1.2  # each answer of the recording server; a blocking client freezes the loop this long
LOOP_GAP_MAX_S = 0.8  # a healthy loop ticks every 0.02 s; 0.4 s of slack for a loaded machine


class _Recorder:
    """An HTTP/1.1 server of the check's own (llmsim keeps no query strings): it records every
    request (method, path, query, headers, body, connection) and when each connection closed.
    ``GET /v1/models`` honours ``limit``; ``POST /v1/messages`` answers like Anthropic."""

    def __init__(self, key: str, run: str):
        import http.server
        import json as _json
        import threading

        self.key, self.run = key, run
        self.models = [f"claude-check-{run}-{i}" for i in range(6)]
        self.requests: list[dict] = []
        self.connections: dict[int, dict] = {}
        self.lock = threading.Lock()
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with recorder.lock:
                    recorder.connections[id(self)] = {"opened": time.monotonic(), "closed": None}

            def finish(self) -> None:
                with recorder.lock:
                    recorder.connections[id(self)]["closed"] = time.monotonic()
                super().finish()

            def log_message(self, *args: Any) -> None:
                pass

            def _record(self) -> dict:
                from urllib.parse import parse_qs, urlsplit

                size = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(size) if size else b""
                url = urlsplit(self.path)
                entry = {"method": self.command, "path": url.path, "query": parse_qs(url.query),
                         "headers": {k.lower(): v for k, v in self.headers.items()}, "body": raw,
                         "connection": id(self)}
                with recorder.lock:
                    recorder.requests.append(entry)
                return entry

            def _answer(self, status: int, payload: dict) -> None:
                time.sleep(CLIENT_DELAY_S)
                data = _json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _authorised(self, entry: dict) -> bool:
                if entry["headers"].get("x-api-key") == recorder.key:
                    return True
                self._answer(401, {"type": "error", "error": {"type": "authentication_error",
                                                              "message": "invalid x-api-key"}})
                return False

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                entry = self._record()
                if not self._authorised(entry):
                    return
                if entry["path"] != "/v1/models":
                    return self._answer(404, {"type": "error", "error": {"type": "not_found_error"}})
                try:
                    limit = int(entry["query"].get("limit", ["20"])[0])
                except ValueError:
                    limit = 20
                self._answer(200, {"data": [{"type": "model", "id": m} for m in recorder.models[:limit]],
                                   "has_more": limit < len(recorder.models)})

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                entry = self._record()
                if not self._authorised(entry):
                    return
                if entry["path"] != "/v1/messages":
                    return self._answer(404, {"type": "error", "error": {"type": "not_found_error"}})
                self._answer(200, {"id": "msg_check", "type": "message", "role": "assistant",
                                   "model": "claude-haiku-4-5", "stop_reason": "end_turn",
                                   "content": [{"type": "text", "text": f"Hello from the check {recorder.run}"}],
                                   "usage": {"input_tokens": 5, "output_tokens": 5}})

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.block_on_close = False
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def open_connections(self, settle_s: float) -> int:
        """How many connections are still open once ``settle_s`` has passed (or none is)."""
        deadline = time.monotonic() + settle_s
        while True:
            with self.lock:
                still = sum(c["closed"] is None for c in self.connections.values())
            if not still or time.monotonic() > deadline:
                return still
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@exercise("2.2.client", "Creating an `AsyncClient`", uses=["ask_provider"],
          also=["Making GET, POST requests", "Passing headers, JSON body, query params",
                "Using `async with` context manager"],
          hint="async with httpx.AsyncClient(base_url=..., headers={x-api-key, anthropic-version}) as client: "
               "await client.get('/v1/models', params={'limit': limit}); await client.post('/v1/messages', "
               "headers={'x-request-source': 'lesson-2.2'}, json=...).")
def client_exercise(ask_provider):
    import json as _json

    check(callable(ask_provider), "ask_provider must be an async function: "
          "async def ask_provider(base_url, api_key, prompt, *, limit)")
    run = _run_id()
    key = f"sk-check-{run}"
    prompt = f"Hello, provider of run {run}"
    limit = 2 + len(run) % 3  # 2, 3 or 4: a limit of this run, not one to copy
    server = _Recorder(key, run)
    try:
        gaps: list[float] = []

        async def main() -> Any:
            stop = asyncio.Event()

            async def heartbeat() -> None:
                last = time.perf_counter()
                while not stop.is_set():
                    await asyncio.sleep(0.02)
                    now = time.perf_counter()
                    gaps.append(now - last)
                    last = now

            beat = asyncio.create_task(heartbeat())
            await asyncio.sleep(0.05)  # the heartbeat is ticking before the learner's code runs
            try:
                coro = ask_provider(server.url, key, prompt, limit=limit)
                check(asyncio.iscoroutine(coro), f"ask_provider(...) returned {type(coro).__name__}, not a "
                      "coroutine: define it with async def")
                result = await coro
            finally:
                stop.set()
                await beat
            # Before the loop closes: a client left open still holds its connection here.
            still_open = await asyncio.to_thread(server.open_connections, 1.0)
            return result, still_open

        result, still_open = asyncio.run(main())
        requests = list(server.requests)
        gets = [r for r in requests if r["method"] == "GET"]
        posts = [r for r in requests if r["method"] == "POST"]
        check(len(gets) == 1 and gets[0]["path"] == "/v1/models",
              f"ask_provider sent {len(gets)} GET request(s) ({', '.join(r['path'] for r in gets) or 'none'}); "
              "send one GET /v1/models")
        check(len(posts) == 1 and posts[0]["path"] == "/v1/messages",
              f"ask_provider sent {len(posts)} POST request(s) ({', '.join(r['path'] for r in posts) or 'none'}); "
              "send one POST /v1/messages")
        get, post = gets[0], posts[0]
        for r in (get, post):
            where = f"{r['method']} {r['path']}"
            check(r["headers"].get("x-api-key") == key,
                  f"{where} carried no x-api-key header with the api_key it was given (set it in the client's headers)")
            check(r["headers"].get("anthropic-version") == "2023-06-01",
                  f"{where} carried anthropic-version {r['headers'].get('anthropic-version')!r}; "
                  "send '2023-06-01' (in the client's headers)")
        check(get["query"] == {"limit": [str(limit)]},
              f"GET /v1/models had the query {get['query']!r}; send only limit={limit} (params={{'limit': limit}})")
        check(post["headers"].get("x-request-source") == "lesson-2.2",
              f"POST /v1/messages had x-request-source {post['headers'].get('x-request-source')!r}; "
              "add headers={'x-request-source': 'lesson-2.2'} to that request")
        check("x-request-source" not in get["headers"],
              "the GET carried x-request-source too; add that header to the POST only (headers= of that call)")
        check(post["headers"].get("content-type", "").startswith("application/json"),
              f"the POST's content-type was {post['headers'].get('content-type')!r}; send the body with json=")
        try:
            body = _json.loads(post["body"])
        except ValueError:
            body = None
        want = {"model": "claude-haiku-4-5", "max_tokens": 100, "messages": [{"role": "user", "content": prompt}]}
        check(body == want, f"the POST's body was {post['body'][:120]!r}; send json={want!r:.60}… with the prompt")
        check(len(server.connections) == 1,
              f"the two requests came over {len(server.connections)} connections; send both through one client "
              "(its pool reuses the connection)")
        check(max(gaps, default=0) < LOOP_GAP_MAX_S,
              f"the event loop was blocked for {max(gaps, default=0):.2f} s while a request waited; use "
              "httpx.AsyncClient and await its calls, not a blocking client")
        check(still_open == 0,
              "the client's connection was still open 1 s after ask_provider returned; open the client with "
              "async with httpx.AsyncClient(...) so it is closed when the block ends")
        check(isinstance(result, tuple) and len(result) == 2,
              f"ask_provider returned {result!r:.80}; return (model_ids, reply_text)")
        ids, text = result
        check(ids == server.models[:limit],
              f"the model ids returned were {ids!r:.100}; return the ids of response.json()['data'], in order")
        check(text == f"Hello from the check {run}",
              f"the reply text returned was {text!r:.80}; return response.json()['content'][0]['text']")
    finally:
        server.stop()


# -- 2.2.timeout -----------------------------------------------------------------------------

@exercise("2.2.timeout", "Setting timeouts", uses=["post_within"],
          hint="return await client.post(url, json=json, timeout=seconds): a per-request timeout; httpx raises "
               "httpx.ReadTimeout (a TimeoutException) when the answer takes longer.")
def timeout_exercise(post_within):
    import httpx

    check(callable(post_within), "post_within must be an async function: "
          "async def post_within(client, url, json, seconds)")
    s = _sim()
    run = _run_id()

    def attempt(name: str, delay: float, seconds: float) -> tuple[Any, BaseException | None, float, list[dict]]:
        model = f"claude-haiku-4-5-{run}-{name}"
        s.add_fault(provider="anthropic", model=model, kind="slow", delay_s=delay, times=1)

        async def go() -> Any:
            async with _client(f"{run}-{name}", timeout=5.0) as client:
                return await post_within(client, "/v1/messages", _body(model), seconds)

        response, error = None, None
        started = time.perf_counter()
        try:
            response = asyncio.run(go())
        except NotImplementedError:
            raise
        except Exception as exc:  # noqa: BLE001 - which exception it was is part of the check
            error = exc
        return response, error, time.perf_counter() - started, _entries(f"{run}-{name}")

    # An answer after 1.5 s with seconds=0.3: give up after about 0.3 s with httpx's timeout.
    response, error, took, found = attempt("late", 1.5, 0.3)
    check(len(found) == 1, f"post_within sent {len(found)} requests; send exactly one")
    check(error is not None or took < 1.2,
          f"with seconds=0.3 and an answer after 1.5 s post_within waited {took:.2f} s and returned "
          f"{response!r}; set the request's timeout to `seconds` (the client's own is 5 s)")
    check(isinstance(error, httpx.TimeoutException),
          f"with seconds=0.3 and an answer after 1.5 s post_within raised {type(error).__name__}; let httpx's "
          "timeout raise httpx.TimeoutException (pass timeout=seconds to the request)")
    check(took < 1.2, f"post_within gave up after {took:.2f} s with seconds=0.3; the timeout must be `seconds`")
    check(found[0].get("outcome") == "cancelled",
          f"llmsim saw the request end as {found[0].get('outcome')!r}; the timed-out request must be abandoned")

    # An answer after 0.5 s with seconds=2: the response, not a timeout.
    response, error, took, found = attempt("on-time", 0.5, 2.0)
    check(error is None and isinstance(response, httpx.Response) and response.status_code == 200,
          f"with seconds=2 and an answer after 0.5 s post_within gave "
          f"{type(error).__name__ if error else repr(response)}; wait up to `seconds`, not less, and return the response")
    check(len(found) == 1, f"post_within sent {len(found)} requests; send exactly one")


# -- 2.2.retry -------------------------------------------------------------------------------

def _body(model: str) -> dict:
    return {"model": model, "max_tokens": 50, "messages": [{"role": "user", "content": "Hi"}]}


def _attempt(post_with_retry: Any, run: str, model: str, *, attempts: int | None = None,
             timeout: float = 5.0) -> tuple[Any, BaseException | None, list[dict]]:
    """Call post_with_retry once; (response, exception it raised, journal entries)."""

    async def go() -> Any:
        async with _client(run, timeout) as client:
            kwargs = {} if attempts is None else {"attempts": attempts}
            return await post_with_retry(client, "/v1/messages", _body(model), **kwargs)

    response, error = None, None
    try:
        response = asyncio.run(go())
    except NotImplementedError:
        raise
    except Exception as exc:  # noqa: BLE001 - which exception it was is part of the check
        error = exc
    return response, error, _entries(run)


def _gaps(entries: list[dict]) -> list[float]:
    return [b["started_at"] - a["ended_at"] for a, b in zip(entries, entries[1:], strict=False)]


@exercise("2.2.retry", "Retry strategies", uses=["post_with_retry"],
          also=["Handling `TimeoutException`", "Handling `HTTPStatusError`"],
          hint="Loop over attempts: retry 429/5xx and httpx.TimeoutException, raise_for_status() for "
               "other errors at once; sleep Retry-After if sent, else 0.1 s doubling; re-raise on the last.")
def retry(post_with_retry):
    import httpx

    check(callable(post_with_retry), "post_with_retry must be an async function: "
          "async def post_with_retry(client, url, json, attempts=3)")
    s = _sim()
    run = _run_id()

    def case(name: str, **fault: Any) -> str:
        """A model name of this case, with its fault bound to it (faults are shared, models are not)."""
        model = f"claude-haiku-4-5-{run}-{name}"
        s.add_fault(provider="anthropic", model=model, **fault)
        return model

    def kind(error: BaseException | None, response: Any) -> str:
        return type(error).__name__ if error else f"a return of {response!r}"

    # Two 503s then a success: three requests, the 200 returned, a back-off between them.
    model = case("503", kind="http", status=503, times=2)
    response, error, found = _attempt(post_with_retry, f"{run}-503", model)
    check(error is None, f"with two 503s then a 200 it raised {type(error).__name__}: {error}; "
          "retry 5xx and return the 200")
    check(len(found) == 3, f"with two 503s then a 200 it sent {len(found)} requests; it must send 3")
    check(isinstance(response, httpx.Response) and response.status_code == 200,
          f"with two 503s then a 200 it returned {response!r}; return the successful httpx.Response")
    check(min(_gaps(found)) >= 0.08,
          f"it retried after {min(_gaps(found)):.3f} s; back off at least 0.1 s (doubling) between attempts")

    # Never retry a client error: one request, HTTPStatusError with that status.
    for status in (400, 401):
        model = case(str(status), kind="http", status=status, times=3)
        response, error, found = _attempt(post_with_retry, f"{run}-{status}", model)
        check(len(found) == 1, f"a {status} was sent {len(found)} times; a 4xx other than 429 must not "
              "be retried (the same request fails the same way)")
        check(isinstance(error, httpx.HTTPStatusError) and error.response.status_code == status,
              f"a {status} gave {kind(error, response)}; raise httpx.HTTPStatusError "
              "(response.raise_for_status())")

    # 429 with Retry-After: 1 -> wait that long, then succeed.
    model = case("429", kind="http", status=429, times=1, retry_after=1)
    response, error, found = _attempt(post_with_retry, f"{run}-429", model)
    check(error is None and len(found) == 2,
          f"a 429 then a 200 gave {len(found)} requests"
          + (f" and raised {type(error).__name__}" if error else "") + "; retry a 429 and return the 200")
    gap = _gaps(found)[0]
    check(gap >= 0.9, f"after a 429 with Retry-After: 1 it waited {gap:.2f} s; wait the seconds Retry-After says")

    # Always 500: exactly `attempts` requests, then the last HTTPStatusError.
    for attempts in (None, 2):
        model = case(f"500-{attempts}", kind="http", status=500, times=5)
        response, error, found = _attempt(post_with_retry, f"{run}-500-{attempts}", model, attempts=attempts)
        n = 3 if attempts is None else attempts
        call = "post_with_retry(...)" if attempts is None else f"post_with_retry(..., attempts={attempts})"
        check(len(found) == n, f"{call} against a server that always answers 500 sent {len(found)} requests; "
              f"it must send exactly {n}")
        check(isinstance(error, httpx.HTTPStatusError) and error.response.status_code == 500,
              f"{call} after the last 500 gave {kind(error, response)}; raise the last httpx.HTTPStatusError")

    # A timeout, then a fast answer: retried.
    model = case("slow", kind="slow", delay_s=1.5, times=1)
    response, error, found = _attempt(post_with_retry, f"{run}-slow", model, timeout=0.4)
    check(error is None and isinstance(response, httpx.Response) and response.status_code == 200,
          f"a timeout then a fast 200 gave {kind(error, response)}; catch httpx.TimeoutException and retry")
    check(len(found) == 2, f"a timeout then a 200 gave {len(found)} requests; it must send 2")

    # Timeouts every time: the last TimeoutException is raised.
    model = case("slow2", kind="slow", delay_s=1.5, times=2)
    response, error, found = _attempt(post_with_retry, f"{run}-slow2", model, attempts=2, timeout=0.3)
    check(len(found) == 2, f"two timeouts with attempts=2 gave {len(found)} requests; it must send 2")
    check(isinstance(error, httpx.TimeoutException),
          f"after the last timeout it gave {kind(error, response)}; re-raise the httpx.TimeoutException")


# -- 2.2.stream ------------------------------------------------------------------------------

def _with_token_delay(func: Any) -> Any:
    """Run func with llmsim pacing tokens (so streaming is observable), then restore the delay."""
    s = _sim()
    before = s.config().get("token_delay_ms", 0)
    s.config(token_delay_ms=STREAM_DELAY_MS)
    try:
        return func()
    finally:
        s.config(token_delay_ms=before)


@exercise("2.2.stream", "Iterating over response chunks", uses=["stream_text"],
          also=["Using `client.stream()` for large responses", "Reusing clients vs creating new ones",
                "Memory-efficient processing"],
          hint="async with client.stream('POST', '/v1/messages', json=...) as r: async for line in "
               "r.aiter_lines(): parse data: lines, yield each text_delta, return at message_stop.")
def stream(stream_text):
    check(callable(stream_text), "stream_text must be an async generator function: "
          "async def stream_text(client, prompt)")

    # Read to the end: every piece, in order, the first one long before the stream ended.
    run = _run_id()
    carried: list = []

    async def read_all() -> list[tuple[float, str]]:
        async with _client(run, sent=carried) as client:
            gen = stream_text(client, STREAM_PROMPT)
            check(hasattr(gen, "__aiter__"), f"stream_text(client, prompt) returned {type(gen).__name__}; "
                  "make it an async generator (async def with yield)")
            return [(time.time(), piece) async for piece in gen]

    pieces = _with_token_delay(lambda: asyncio.run(read_all()))
    found = _entries(run)
    check(found, "stream_text sent no request to llmsim: POST /v1/messages with the client it receives")
    check(len(found) == 1, f"stream_text sent {len(found)} requests; it must send exactly one")
    check(carried, "stream_text sent its request through a client of its own; send it with the client it "
          "receives (one shared client, no new one per call)")
    entry = found[0]
    check(entry.get("path") == "/v1/messages" and entry.get("stream") is True,
          f"stream_text sent {entry.get('path')} with stream={entry.get('stream')!r}; "
          "POST /v1/messages with \"stream\": true")
    check(entry.get("model") == "claude-haiku-4-5",
          f"stream_text asked for model {entry.get('model')!r}; ask for 'claude-haiku-4-5'")
    check(entry.get("max_tokens") == 1024,
          f"stream_text sent max_tokens={entry.get('max_tokens')!r}; send max_tokens 1024")
    sent = entry.get("messages") or []
    check(sent == [{"role": "user", "content": STREAM_PROMPT}],
          "stream_text must send exactly one user message whose content is the prompt")
    check(pieces, "stream_text yielded nothing; yield the text of each content_block_delta event")
    odd = [p for _, p in pieces if not isinstance(p, str)]
    check(not odd, f"stream_text yielded {type(odd[0]).__name__ if odd else ''} values; yield the text pieces (str)")
    text = "".join(p for _, p in pieces)
    check(text == entry.get("reply"), f"the pieces joined give {text[:60]!r}…; they must give the reply, "
          "exactly: the delta.text of each content_block_delta, nothing else")
    check(len(pieces) >= 10, f"stream_text yielded {len(pieces)} pieces for a reply of "
          f"{entry.get('output_tokens')} tokens; yield each delta as it arrives")
    started, ended = entry["started_at"], entry["ended_at"]
    first = pieces[0][0] - started
    check(first < 0.5 * (ended - started),
          f"the first piece arrived {first:.2f} s after the request began, the stream took {ended - started:.2f} s; "
          "yield each piece as its line arrives instead of reading the whole body first")

    # Stop early: the consumer closes the generator after three pieces; the stream is cancelled.
    run = _run_id()

    async def read_three() -> tuple[int, dict | None]:
        async with _client(run) as client:
            gen = stream_text(client, STREAM_PROMPT)
            got = 0
            async for _ in gen:
                got += 1
                if got == 3:
                    break
            await gen.aclose()
            # The client stays open meanwhile: only closing the stream itself may end it.
            entries = await asyncio.to_thread(_entries, run, settle_s=0.6)
            return got, (entries[0] if len(entries) == 1 else None)

    got, entry = _with_token_delay(lambda: asyncio.run(read_three()))
    check(got == 3, f"stream_text yielded {got} pieces before ending; it must yield every piece")
    check(entry is not None, "stream_text must send exactly one request")
    check(entry.get("ended_at") is not None,
          "0.6 s after the consumer stopped at 3 pieces llmsim was still streaming; open the stream with "
          "async with client.stream(...) inside the generator so closing the generator closes the response")
    check(entry.get("outcome") == "cancelled",
          f"after the consumer stopped at 3 pieces llmsim's stream ended as {entry.get('outcome')!r} "
          f"with {entry.get('tokens_streamed')} tokens sent; read it line by line and close it when the "
          "generator is closed (async with client.stream(...))")


# -- quiz ------------------------------------------------------------------------------------

QUIZ = section_quiz(
    "2.2",
    item="After completing, you can answer: How do I make an async API call with a 30-second timeout? "
         "How do I reuse HTTP connections efficiently? How do I handle streaming responses from an API?",
    questions=[
        {
            "id": "timeout-30",
            "question": "Inside an `async def`, how do you call an API so that no step of the request may "
                        "wait longer than 30 seconds?",
            "choices": {
                "a": "`requests.get(url, timeout=30)`: it is the same call, and the timeout protects the loop",
                "b": "`async with httpx.AsyncClient(timeout=30.0) as client: r = await client.get(url)`",
                "c": "Nothing: httpx waits at most 30 seconds by default",
                "d": "`await asyncio.sleep(30)` before the call, so the server has time to answer",
            },
            "answer_hash": "5f2e955ecea07af6d51c9fc67a0b41b5e7f5ca5bef8131737d90e32490c623bb",
            "explanation": "An AsyncClient awaits the network without blocking the event loop, and timeout=30.0 "
                           "bounds connect, read, write and pool waits (httpx's default is 5 s, not 30). "
                           "requests blocks the whole loop while it waits.",
        },
        {
            "id": "reuse-connections",
            "question": "Your service calls the same model provider on every request. How do you reuse HTTP "
                        "connections efficiently?",
            "choices": {
                "a": "`async with httpx.AsyncClient() as client:` inside each endpoint, so every request is clean",
                "b": "Send `Connection: close` so the provider frees the socket at once",
                "c": "Create one AsyncClient when the app starts (with limits and timeouts), share it, and "
                     "close it when the app stops",
                "d": "Create an AsyncClient per call and never close it, so its connections stay open",
            },
            "answer_hash": "adff1677048fc7d7640f87cd4b93ae69f7bf4ad14b9958fc748942e2d2e47e66",
            "explanation": "One long-lived client keeps a pool of open keep-alive connections: later requests "
                           "skip the TCP (and TLS) handshake. A client per request opens a new connection "
                           "every time; one never closed leaks its sockets.",
        },
        {
            "id": "stream-response",
            "question": "An API streams its answer as Server-Sent Events. How do you process it as it arrives?",
            "choices": {
                "a": "`async with client.stream(\"POST\", url, json=body) as r:` then `async for line in "
                     "r.aiter_lines():` and handle each `data:` line",
                "b": "`r = await client.post(url, json=body)` then `for line in r.text.splitlines():`",
                "c": "`r = await client.post(url, json=body)` then `await r.aread()` in a loop",
                "d": "`client.get(url, stream=True)`, as with requests",
            },
            "answer_hash": "c9683d7750bbbe7f1e1d010ca3d48e1dc29b298a4863ba2c6d1303f909593ef3",
            "explanation": "client.stream() returns once the headers arrive and leaves the body unread; "
                           "aiter_lines() gives each line as it comes, and leaving the async with closes the "
                           "response. client.post() reads the whole body before it returns.",
        },
        {
            "id": "what-to-retry",
            "question": "Which failures of a model provider call should a retry loop retry?",
            "choices": {
                "a": "Every failure, including 400 and 401: it costs nothing to try again",
                "b": "Only timeouts; a status code is the provider's final answer",
                "c": "Only 500",
                "d": "429, 5xx and timeouts, waiting Retry-After when the provider sends it (else a growing "
                     "back-off), and giving up after a few attempts",
            },
            "answer_hash": "5bddc3b1be1edb60f8171400156f22de6a57668e45626aa9299f2bf73ac13781",
            "explanation": "Rate limits, server errors and timeouts are often temporary. A 400 or 401 fails the "
                           "same way every time: retrying it only adds load and delay.",
        },
        {
            "id": "pool-benefit",
            "question": "Your service sends 20 requests, one after another, to the same provider over HTTPS. "
                        "What does one shared AsyncClient (with its connection pool) save, compared with a new "
                        "client per request?",
            "choices": {
                "a": "the TCP and TLS handshakes of 19 connections: the pool keeps the first connection open "
                     "after each response (keep-alive) and sends the next request over it",
                "b": "nothing on the network: every request opens its own connection either way, only some "
                     "Python objects are saved",
                "c": "19 of the requests: the pool caches the responses and answers repeats itself",
                "d": "the provider's rate limit: requests over a pooled connection count as one",
            },
            "answer_hash": "154d2f6a9ea7a66dbe3e1c789a4fd94b5a7653797f7714387be24924acacb1ee",
            "explanation": "A connection costs a handshake (several round trips with TLS) before the first "
                           "byte of a request. The pool keeps connections open and hands them to the next "
                           "request, so only the first one pays; every request is still sent and counted.",
            "item": "Connection pooling benefits",
        },
    ],
    hint="Re-read the notebook's parts on timeouts, the client life cycle and client.stream().",
)
