"""Section 4.1, Server-Sent Events (SSE) Fundamentals: the notebook's exercise checks and quiz.

format_sse is checked by exact text at each stated boundary and by reading its frames back
with a parser that follows the event-stream rules (any data, not only JSON, so the course's
strict JSON reader in grader.criteria._sse does not fit here). The events app is served for
real (TestClient buffers a stream, so it cannot show when each event arrived).
"""

from __future__ import annotations

import json
import re
import time

from grader.criterion import check
from grader.exercise import exercise, section_quiz

# -- a reader that follows the event-stream rules --------------------------------------------

_LINE_END = re.compile(r"\r\n|\r|\n")


class SpecReader:
    """Feed text as it arrives; each complete event is a dict (event, data, id, retry, at)."""

    def __init__(self) -> None:
        self.buffer = ""
        self.events: list[dict] = []
        self._fields: dict = {"data": []}

    def feed(self, text: str, at: float = 0.0) -> None:
        self.buffer += text
        while True:
            match = _LINE_END.search(self.buffer)
            # a lone CR at the end may be the first half of CRLF: wait for the next chunk
            if not match or (match.group() == "\r" and match.end() == len(self.buffer)):
                return
            line, self.buffer = self.buffer[: match.start()], self.buffer[match.end():]
            self._line(line, at)

    def _line(self, line: str, at: float) -> None:
        if line == "":  # the blank line ends an event
            if self._fields["data"]:
                self.events.append({"event": self._fields.get("event"), "data": "\n".join(self._fields["data"]),
                                    "id": self._fields.get("id"), "retry": self._fields.get("retry"), "at": at})
            self._fields = {"data": []}
            return
        if line.startswith(":"):
            return  # a comment
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            self._fields["data"].append(value)
        elif name in ("event", "id", "retry"):
            self._fields[name] = value


def read_events(text: str) -> list[dict]:
    reader = SpecReader()
    reader.feed(text)
    return reader.events


# -- 4.1.format_sse ---------------------------------------------------------------------------

_EXACT = [
    ((("hello",), {}), "data: hello\n\n", "format_sse('hello')"),
    ((("a\nb",), {}), "data: a\ndata: b\n\n", "format_sse('a\\nb') (one data: line per line)"),
    ((("a\r\nb",), {}), "data: a\ndata: b\n\n", "format_sse('a\\r\\nb') (\\r\\n is one line end)"),
    ((("a\rb",), {}), "data: a\ndata: b\n\n", "format_sse('a\\rb') (a lone \\r ends a line too)"),
    ((("",), {}), "data:\n\n", "format_sse('') (empty data: `data:` with no trailing space)"),
    ((("a\n",), {}), "data: a\ndata:\n\n", "format_sse('a\\n') (the empty last line is kept)"),
    ((("x",), {"event": "token"}), "event: token\ndata: x\n\n", "format_sse('x', event='token')"),
    ((("x",), {"id": 7}), "id: 7\ndata: x\n\n", "format_sse('x', id=7)"),
    ((("x",), {"retry": 3000}), "retry: 3000\ndata: x\n\n", "format_sse('x', retry=3000)"),
    ((("x",), {"event": "token", "id": "a1", "retry": 500}), "event: token\nid: a1\nretry: 500\ndata: x\n\n",
     "format_sse('x', event='token', id='a1', retry=500) (order: event, id, retry, data)"),
]

_ROUND_TRIP = ["plain", "two\nlines", "  leading spaces kept", "data: inside", "ünïcødé ✓", "\n\nthree empty\n",
               ":not a comment", "tab\there"]


@exercise("4.1.format_sse", "Message format: `data: {json}\\n\\n`",
          also=["Event types with `event:` field"],
          uses=["format_sse"],
          hint="Split str data on \\r\\n, \\r and \\n (re.split), write one `data: line` per line (`data:` when "
               "the line is empty), JSON-encode non-str data, put event/id/retry first and end with \\n\\n.")
def format_sse_check(format_sse):
    for (args, kwargs), want, what in _EXACT:
        got = format_sse(*args, **kwargs)
        check(isinstance(got, str), f"{what} returned {type(got).__name__}; return a str")
        check(got.endswith("\n\n"), f"{what} returned {got!r}: an event must end with a blank line (\\n\\n)")
        check(got == want, f"{what} returned {got!r}; it must return {want!r}")
    for text in _ROUND_TRIP:
        frame = format_sse(text)
        events = read_events(frame)
        check(len(events) == 1, f"format_sse({text!r}) gives {len(events)} events to an SSE reader, not 1: {frame!r}")
        check(events[0]["data"] == text, f"format_sse({text!r}) is read back as {events[0]['data']!r}: {frame!r}")
        for line in frame.split("\n"):
            check(not line.endswith(" "), f"format_sse({text!r}) has a line with a trailing space: {line!r}")
    for value in ({"type": "token", "content": "Hi"}, {"text": "line 1\nline 2"}, [1, 2, 3]):
        frame = format_sse(value)
        events = read_events(frame)
        check(len(events) == 1, f"format_sse({value!r}) gives {len(events)} events, not 1: {frame!r}")
        try:
            back = json.loads(events[0]["data"])
        except ValueError:
            check(False, f"format_sse({value!r}) sends data that is not JSON: {events[0]['data']!r}")
        check(back == value, f"format_sse({value!r}) is read back as {back!r}; JSON-encode non-str data")
    together = format_sse("one", id=1) + format_sse("two", id=2)
    ids = [e["id"] for e in read_events(together)]
    check(ids == ["1", "2"], f"two frames written one after the other are read as ids {ids}, not ['1', '2']")


# -- 4.1.guard_tokens ---------------------------------------------------------------------------

async def _pieces(pieces: list[str], error: Exception | None = None, gap: float = 0.0):
    """A token source like a provider's stream: the pieces, then (maybe) a failure."""
    import asyncio

    for piece in pieces:
        if gap:
            await asyncio.sleep(gap)
        yield piece
    if error is not None:
        raise error


def _guarded_run(guard_tokens, source, what: str) -> list[tuple[float, str]]:
    """Iterate guard_tokens(source) to its end: (arrival time, chunk) per chunk; an escaping error fails."""
    import asyncio

    gen = guard_tokens(source)
    check(hasattr(gen, "__aiter__"), f"guard_tokens(...) returned {type(gen).__name__}; write it as an async "
                                     "generator (`async def` with `yield`)")

    async def collect():
        out = []
        async for chunk in gen:
            out.append((time.monotonic(), chunk))
        return out

    try:
        got = asyncio.run(collect())
    except NotImplementedError:
        raise
    except Exception as exc:  # noqa: BLE001 - the very thing the exercise must prevent
        check(False, f"{what}: {type(exc).__name__}: {exc} escaped the generator; catch it inside and yield an "
                     "`error` event instead (after the first byte, an escaping error cuts the connection)")
    for _, chunk in got:
        check(isinstance(chunk, str), f"{what}: the generator yielded {type(chunk).__name__}; yield SSE text")
    return got


def _guarded_events(got: list[tuple[float, str]], what: str) -> list[dict]:
    events = read_events("".join(chunk for _, chunk in got))
    for e in events:
        try:
            e["json"] = json.loads(e["data"])
        except ValueError:
            check(False, f"{what}: an event's data is not JSON: {e['data']!r}")
    return events


def _tokens_of(events: list[dict], want: list[str], what: str) -> None:
    tokens = [e for e in events if e["event"] == "token"]
    got = [e["json"].get("content") if isinstance(e["json"], dict) else None for e in tokens]
    check(got == want, f"{what}: the token events carry {got}; they must carry {want}, one "
                       "`event: token` with data {\"content\": piece} per piece")


@exercise("4.1.guard_tokens", "Error handling in streams",
          uses=["guard_tokens"],
          hint="try: async for piece in tokens: yield frame({\"content\": piece}, event=\"token\") "
               "except Exception as exc: yield frame({\"type\": \"provider_error\", \"message\": str(exc)}, "
               "event=\"error\").")
def guard_tokens_check(guard_tokens):
    check(callable(guard_tokens), "guard_tokens must be an async generator function: guard_tokens(tokens)")

    what = "guard_tokens over a source that yields 'Hel', 'lo', then raises RuntimeError('provider went away')"
    events = _guarded_events(_guarded_run(guard_tokens, _pieces(["Hel", "lo"], RuntimeError("provider went away")),
                                          what), what)
    _tokens_of(events, ["Hel", "lo"], what)
    errors = [e for e in events if e["event"] == "error"]
    check(len(errors) == 1, f"{what}: {len(errors)} `error` events came; send exactly one")
    check(events[-1]["event"] == "error", f"{what}: the error event must come last (after the tokens sent so far)")
    want = {"type": "provider_error", "message": "provider went away"}
    check(errors[0]["json"] == want, f"{what}: the error event's data is {errors[0]['data']!r}; it must be "
                                     f"{json.dumps(want)}")

    what = "guard_tokens over a source that raises ValueError('no credit') before any piece"
    events = _guarded_events(_guarded_run(guard_tokens, _pieces([], ValueError("no credit")), what), what)
    check([e["event"] for e in events] == ["error"], f"{what}: the events are {[e['event'] for e in events]}; "
                                                     "it must be one error event")
    check(events[0]["json"].get("message") == "no credit",
          f"{what}: the error event's data is {events[0]['data']!r}; its message must be str(exc)")

    what = "guard_tokens over a healthy source 'a', 'b', 'c' (0.15 s apart)"
    got = _guarded_run(guard_tokens, _pieces(["a", "b", "c"], gap=0.15), what)
    events = _guarded_events(got, what)
    _tokens_of(events, ["a", "b", "c"], what)
    check(all(e["event"] == "token" for e in events), f"{what}: with no failure, send only token events, not "
                                                      f"{[e['event'] for e in events]}")
    check(got[-1][0] - got[0][0] >= 0.2, f"{what}: the events came {got[-1][0] - got[0][0]:.2f} s apart; yield "
                                         "each piece as it arrives, do not collect them first")


# -- 4.1.events_endpoint ----------------------------------------------------------------------

_DELAY = 0.25  # per event: large against scheduler noise on a busy machine


def _stream(url: str, headers: dict | None = None, timeout: float = 8.0) -> tuple[object, SpecReader, float, float]:
    """GET url; (response, reader with arrival times, started, ended)."""
    import httpx

    reader = SpecReader()
    started = time.monotonic()
    with httpx.Client(timeout=timeout) as client, client.stream("GET", url, headers=headers or {}) as response:
        for chunk in response.iter_text():
            reader.feed(chunk, time.monotonic())
        ended = time.monotonic()
    return response, reader, started, ended


def _ids(reader: SpecReader) -> list:
    return [e["id"] for e in reader.events]


def _check_numbered(reader: SpecReader, expected: list[int], what: str) -> None:
    want = [str(i) for i in expected]
    got = _ids(reader)
    check(reader.events, f"{what}: no complete event arrived (each event ends with a blank line: \\n\\n)")
    check(got == want, f"{what}: the events' ids are {got}; they must be {want}")
    for e in reader.events:
        check(e["event"] == "tick", f"{what}: event {e['id']} has event type {e['event']!r}; it must be 'tick'")
        try:
            data = json.loads(e["data"])
        except ValueError:
            check(False, f"{what}: event {e['id']}'s data is not JSON: {e['data']!r}")
        check(data == {"n": int(e["id"])}, f"{what}: event {e['id']}'s data is {e['data']!r}; it must be "
              f'{{"n": {e["id"]}}}')


@exercise("4.1.events_endpoint", "Setting correct headers",
          also=["`text/event-stream` content type", "Using `StreamingResponse` class",
                "Async generators for streaming", "Keeping connections alive"],
          uses=["events_app"], timeout=20,
          hint="StreamingResponse(gen(), media_type=\"text/event-stream\", headers=...) with an async generator "
               "that awaits asyncio.sleep(delay) then yields each event; start after the Last-Event-ID header.")
def events_endpoint(events_app):
    from fastapi import FastAPI

    from grader.lesson import serve

    check(isinstance(events_app, FastAPI), "events_app must be a FastAPI app")
    server = serve(events_app, name="check-4.1-events")
    try:
        base = server.url + "/events"
        response, reader, started, ended = _stream(f"{base}?count=3&delay={_DELAY}")
        check(response.status_code != 500, "GET /events answered 500: your endpoint raised an exception (see the log)")
        check(response.status_code == 200, f"GET /events answered {response.status_code}; it must answer 200")
        ctype = response.headers.get("content-type", "")
        check(ctype.split(";")[0].strip() == "text/event-stream",
              f"GET /events has Content-Type {ctype!r}; it must be text/event-stream")
        for name, want in (("cache-control", "no-cache"), ("x-accel-buffering", "no"), ("connection", "keep-alive")):
            got = response.headers.get(name)
            check(got is not None and want in got.lower(),
                  f"GET /events has {name}: {got!r}; it must be {want!r} (so no proxy buffers the stream)")
        _check_numbered(reader, [1, 2, 3], "GET /events?count=3")
        first, last = reader.events[0]["at"] - started, reader.events[-1]["at"] - started
        check(last >= 2 * _DELAY, f"the 3 events took {last:.2f} s; wait `delay` seconds before each event")
        check(first < 0.7 * last,
              f"the first event arrived after {first:.2f} s, the last after {last:.2f} s: send each event as it "
              "is produced (yield it), not all of them at the end")

        for last_id, want in (("2", [3, 4, 5]), ("0", [1, 2, 3, 4, 5]), ("4", [5])):
            _, reader, _, _ = _stream(f"{base}?count=5&delay=0", headers={"Last-Event-ID": last_id})
            _check_numbered(reader, want, f"GET /events?count=5 with Last-Event-ID: {last_id}")
        _, reader, _, _ = _stream(f"{base}?count=5&delay=0", headers={"Last-Event-ID": "5"})
        check(not reader.events, f"with Last-Event-ID: 5 of 5, nothing is left to send, but ids {_ids(reader)} came")
    finally:
        server.stop(timeout=1.0)


# -- quiz -------------------------------------------------------------------------------------

QUIZ = section_quiz(
    "4.1",
    item="After completing, you can answer: Why do ChatGPT and Claude use SSE instead of WebSockets? What's the "
         "exact format of an SSE message? How do I send incremental updates to the client?",
    questions=[
        {"id": "why-sse",
         "question": "Why do chat products like ChatGPT and Claude stream replies with SSE rather than WebSockets?",
         "choices": {"a": "SSE is faster: it sends binary frames, WebSockets only text",
                     "b": "The reply flows one way, in answer to one request: SSE is a plain HTTP response, so "
                          "auth, proxies, load balancers and retries work as for any request",
                     "c": "WebSockets cannot carry JSON",
                     "d": "Browsers cannot open WebSockets to a different host"},
         "answer_hash": "50e4c86e5b0ab910ec0e1136b6071d5b530370cfbaf9ad85a880594f0428e85e",
         "explanation": "The user's message goes up as one POST; only the answer streams, server to client. "
                        "A streamed HTTP response needs no second protocol, no sticky connection state, and "
                        "passes through ordinary HTTP infrastructure."},
        {"id": "exact-format",
         "question": "Which bytes are one complete SSE event carrying the JSON {\"t\": \"Hi\"}?",
         "choices": {"a": "data: {\"t\": \"Hi\"}\\n",
                     "b": "{\"t\": \"Hi\"}\\n\\n",
                     "c": "data: {\"t\": \"Hi\"}\\n\\n",
                     "d": "event: {\"t\": \"Hi\"}\\r\\n"},
         "answer_hash": "63f3357b1af15895374abd7b7b3bd4050a5ef8f10ea51f2577b00a2953d1b79b",
         "explanation": "Each line is `field: value`; the payload goes in `data:`; a blank line (the second "
                        "\\n) ends the event. Without it the client keeps waiting for the rest of the event."},
        {"id": "incremental",
         "question": "How does a FastAPI endpoint send incremental updates to the client?",
         "choices": {"a": "Return StreamingResponse(gen(), media_type=\"text/event-stream\") where the async "
                          "generator yields one formatted event as soon as each piece is ready",
                     "b": "Collect the pieces in a list and return them as JSON when the last one is ready",
                     "c": "Return several responses from the same endpoint, one per update",
                     "d": "Set Transfer-Encoding: chunked on a normal JSON response"},
         "answer_hash": "50cd4f1340924ff3060489df1e0802d4b7ad955f943a292cc451e56ee8130cea",
         "explanation": "StreamingResponse sends each yielded chunk as it comes; the client reads the events "
                        "while the generator is still producing the next ones."},
        {"id": "one-way", "item": "One-way (server->client) vs bidirectional",
         "question": "An LLM reply is streaming to the browser over SSE when the user presses \"Stop\". How "
                     "does the browser tell the server?",
         "choices": {"a": "It writes a `data: stop` line into the open SSE response",
                     "b": "It sends an `event: stop` event through its EventSource",
                     "c": "It cannot send on the SSE response, which flows server to client only: it closes "
                          "the stream (the server sees the disconnect) or makes a separate request, such as "
                          "POST /stop",
                     "d": "It sends a `: stop` comment, which the server reads as a control message"},
         "answer_hash": "956b0dbe69aaf75fe83994b8a89c8a56e5afd23f6479f2ed9887d42a369f005d",
         "explanation": "An SSE stream is the body of one HTTP response: only the server writes to it. "
                        "Anything the client has to say needs another request (or a WebSocket, where both "
                        "sides write on one connection)."},
        {"id": "when-sse", "item": "When to use SSE (LLM streaming, notifications)",
         "question": "Which of these features is the natural fit for SSE rather than a WebSocket?",
         "choices": {"a": "A multiplayer game that sends each player's moves 30 times a second",
                     "b": "A voice assistant that uploads microphone audio while it answers",
                     "c": "A shared whiteboard where everyone draws at the same time",
                     "d": "A progress feed for a long export job: only the server has news, the page listens"},
         "answer_hash": "0adb743ff63f85aadb4a7ed13e3c61b734f9fec2eefe3573f86ccf7f589829d5",
         "explanation": "Progress, notifications and a streamed LLM answer flow one way, server to client, "
                        "after one request: SSE does that as plain HTTP. The other three need the client to "
                        "send continually while it receives."},
        {"id": "when-websocket", "item": "When to use WebSocket (chat, real-time collaboration)",
         "question": "A team chat room shows every message and \"ann is typing…\" to everyone in the room the "
                     "moment it happens. Why does this one justify a WebSocket?",
         "choices": {"a": "Every client sends and receives at any moment, and one client's action must be "
                          "pushed to the others at once: one open socket carries both directions",
                     "b": "SSE cannot carry JSON payloads",
                     "c": "SSE allows only one connected client per endpoint",
                     "d": "A WebSocket's messages are cached by CDNs, so the room loads faster"},
         "answer_hash": "cd618d5d108ffa1cee1eb259feb4ec33b1f54fa4d67d22dd84cc40664e6ca269",
         "explanation": "SSE carries any text (JSON included) to any number of clients, but only from the "
                        "server. A room where everyone talks while listening, with many small messages, is "
                        "the two-way case a WebSocket is for."},
        {"id": "sse-advantages", "item": "SSE advantages: simpler, HTTP-based, auto-reconnect",
         "question": "A page reads /events with the browser's EventSource; the Wi-Fi drops just after the "
                     "event with `id: 41`. The page has no reconnection code. What happens when the network "
                     "comes back?",
         "choices": {"a": "Nothing: the page must notice the drop and open a new EventSource itself",
                     "b": "EventSource reconnects by itself after the `retry:` delay and sends the header "
                          "Last-Event-ID: 41, so the server can resume after event 41",
                     "c": "EventSource reconnects, but the server must start again from event 1: SSE events "
                          "have no ids",
                     "d": "The browser upgrades the broken stream to a WebSocket"},
         "answer_hash": "efee55a43b87410ec16ba9a115aebe53373d3202297ba844c1eee8e4621f8db9",
         "explanation": "Reconnection is built into EventSource: it waits the last `retry:` value, then asks "
                        "again with the last `id:` it saw in Last-Event-ID. A WebSocket client must write "
                        "all of that by hand."},
    ],
    hint="Re-read the SSE vs WebSocket table, the raw bytes of an event, and the StreamingResponse part.",
)
