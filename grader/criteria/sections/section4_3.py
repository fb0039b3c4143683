"""Section 4.3, WebSocket Basics: the notebook's exercise checks and quiz.

The checks serve the learner's app with real uvicorn and talk to it with real WebSocket
clients (the `websockets` package), several at once. The chat check reads llmsim's journal;
each run puts a marker of its own in the prompt and finds its requests by it, so a shared
journal (the lab's llmsim) is read, never cleared.
"""

import asyncio
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
QUIET_S = 0.3  # how long a client that must receive nothing is watched
SETTLE_S = 0.3  # time the server gets to notice a closed connection


def _sim() -> Any:
    from grader.lesson import sim

    return sim()


def _tag() -> str:
    return uuid.uuid4().hex[:8]


@contextlib.contextmanager
def _served(app: Any, what: str):
    from grader.lesson import serve

    check(app is not None, f"{what} returned None; return the FastAPI app")
    server = serve(app, name="check-4.3")
    try:
        yield server.url.replace("http://", "ws://")
    finally:
        server.stop(timeout=1.0)


async def _open(base: str, path: str, what: str) -> Any:
    import websockets

    try:
        return await websockets.connect(base + path, open_timeout=3, close_timeout=1)
    except Exception as exc:  # refused handshake, wrong path, server error
        check(False, f"connecting to {path} failed ({type(exc).__name__}: {str(exc)[:80]}); {what}")


async def _recv(ws: Any, who: str, timeout: float = 2.0) -> Any:
    import websockets

    try:
        raw = await asyncio.wait_for(ws.recv(), timeout)
    except TimeoutError:
        check(False, f"{who} received nothing within {timeout:.0f} s")
    except websockets.ConnectionClosed as exc:
        check(False, f"{who}'s connection was closed by the server (code {exc.rcvd.code if exc.rcvd else 1006}): "
                     "its handler ended or raised; keep the receive loop running until WebSocketDisconnect, and "
                     "remove closed sockets from the manager")
    try:
        return json.loads(raw)
    except (TypeError, ValueError):
        check(False, f"{who} received {str(raw)[:80]!r}, which is not JSON; use send_json")


async def _silent(clients: dict[str, Any], what: str) -> None:
    """None of ``clients`` receives anything for QUIET_S."""
    async def one(ws: Any) -> Any:
        try:
            return await asyncio.wait_for(ws.recv(), QUIET_S)
        except Exception:  # a timeout (nothing arrived) or a closed connection
            return None
    got = await asyncio.gather(*(one(ws) for ws in clients.values()))
    for name, raw in zip(clients, got, strict=True):
        check(raw is None, f"{what}, but {name} received {str(raw)[:80]} as well; it must receive nothing")


# -- 4.3.rooms --------------------------------------------------------------------------------

async def _rooms(base: str) -> None:
    t = _tag()
    r1, r2 = f"lobby-{t}", f"games-{t}"
    ann, bob, cat = f"ann-{t}", f"bob-{t}", f"cat-{t}"
    what = "connect with /ws/{room}/{user} and call manager.connect"
    a = await _open(base, f"/ws/{r1}/{ann}", what)
    b = await _open(base, f"/ws/{r1}/{bob}", what)
    c = await _open(base, f"/ws/{r2}/{cat}", what)
    try:
        # A room message reaches everyone in the room, the sender included, and no one else.
        await a.send(json.dumps({"text": "hello room"}))
        want = {"type": "message", "room": r1, "from": ann, "text": "hello room"}
        for name, ws in (("the sender", a), ("another user in the room", b)):
            got = await _recv(ws, f"after a room message, {name}")
            check(got == want, f"after a room message, {name} received {got}; it must receive {want}")
        await _silent({"a user in another room": c}, "a room message reached its room")

        # A direct message reaches that user only.
        await c.send(json.dumps({"to": bob, "text": "psst"}))
        want = {"type": "direct", "from": cat, "text": "psst"}
        got = await _recv(b, "the addressee of a direct message")
        check(got == want, f"the addressee of a direct message received {got}; it must receive {want}")
        await _silent({"its sender": c, "another user": a}, "a direct message reached its addressee")

        # A second connection for the same user (a second tab): both receive.
        b2 = await _open(base, f"/ws/{r1}/{bob}", what)
        await a.send(json.dumps({"to": bob, "text": "both tabs?"}))
        want = {"type": "direct", "from": ann, "text": "both tabs?"}
        for name, ws in (("the user's first connection", b), ("the user's second connection", b2)):
            got = await _recv(ws, f"after a direct message to a user connected twice, {name}")
            check(got == want, f"after a direct message to a user connected twice, {name} received {got}; "
                               f"every connection of that user must receive {want}")
        await a.send(json.dumps({"text": "room with two tabs"}))
        for name, ws in (("the sender", a), ("the user's first connection", b), ("the user's second connection", b2)):
            got = await _recv(ws, f"after a room message, {name}")
            check(got.get("text") == "room with two tabs",
                  f"after a room message, {name} received {got}; each connection in the room receives it once")
        await _silent({"the sender": a, "the user's first connection": b, "the user's second connection": b2},
                      "a room message arrived once")

        # One connection leaves: it is forgotten, and everyone else is still served.
        await b2.close()
        await asyncio.sleep(SETTLE_S)
        await a.send(json.dumps({"text": "after a leave"}))
        for name, ws in (("the sender", a), ("the user's remaining connection", b)):
            got = await _recv(ws, f"after a connection in the room closed, {name}")
            check(got.get("text") == "after a leave",
                  f"after a connection in the room closed, {name} received {got}; a room message must still "
                  "reach everyone connected (remove the closed connection on WebSocketDisconnect)")
        await c.send(json.dumps({"to": bob, "text": "still there?"}))
        got = await _recv(b, "after one of a user's two connections closed, the other")
        check(got.get("text") == "still there?",
              f"after one of a user's two connections closed, the other received {got}; it must still "
              "receive direct messages")
        await a.send(json.dumps({"text": "still open?"}))
        got = await _recv(a, "the sender of a second message after a connection closed")
        check(got.get("text") == "still open?", f"the sender's own room message came back as {got}")
    finally:
        for ws in (a, b, c):
            with contextlib.suppress(Exception):
                await ws.close()


@exercise("4.3.rooms", "Broadcasting to multiple clients",
          also=["Tracking active connections", "Per-user connections", "Multi-user chat rooms"],
          uses=["create_room_app"], timeout=20.0,
          hint="Keep two dicts of sets (room -> sockets, user -> sockets); add in connect, discard in disconnect, "
               "and call disconnect in `except WebSocketDisconnect:` around the receive loop.")
def rooms_exercise(create_room_app):
    check(callable(create_room_app), "create_room_app must be a function: create_room_app() -> FastAPI app")
    with _served(create_room_app(), "create_room_app()") as base:
        asyncio.run(_rooms(base))


# -- 4.3.chat ---------------------------------------------------------------------------------

def _client() -> Any:
    import anthropic

    return anthropic.AsyncAnthropic(api_key=PROBE_KEY, base_url=_sim().url, max_retries=0, timeout=10.0)


@contextlib.contextmanager
def _token_delay(ms: int):
    s = _sim()
    before = s.config().get("token_delay_ms", 0)
    s.config(token_delay_ms=ms)
    try:
        yield s
    finally:
        s.config(token_delay_ms=before)


def _entry(marker: str, what: str, *, finished: bool = True, timeout: float = 3.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        found = [e for e in _sim().requests(provider="anthropic") if marker in json.dumps(e.get("messages") or [])]
        if found and (not finished or found[-1].get("ended_at") is not None):
            return found[-1]
        if time.monotonic() > deadline:
            check(found, f"{what}: no request reached the provider; call client.messages.stream(...) with the prompt")
            return found[-1]
        time.sleep(0.02)


async def _reply(ws: Any, what: str) -> list[tuple[float, dict]]:
    """The messages of one reply with their arrival times (epoch s), up to and with `done`."""
    got: list[tuple[float, dict]] = []
    while True:
        msg = await _recv(ws, what, timeout=5.0)
        got.append((time.time(), msg))
        check(isinstance(msg, dict) and msg.get("type") in ("token", "done"),
              f"{what}: received {str(msg)[:80]}; send {{\"type\": \"token\", \"text\": ...}} per token, then "
              "{\"type\": \"done\", \"usage\": ...}")
        if msg["type"] == "done":
            return got


def _check_reply(got: list[tuple[float, dict]], entry: dict, what: str, timed: bool) -> None:
    check(entry.get("stream") is True, f"{what} sent a non-streaming request; use client.messages.stream(...)")
    check(entry.get("model") == MODEL, f"{what} asked for model {entry.get('model')!r}; ask for {MODEL!r}")
    tokens = [(at, m) for at, m in got if m["type"] == "token"]
    check(tokens, f"{what}: no token messages before done; send one per token as it arrives")
    for _, m in tokens:
        check(isinstance(m.get("text"), str), f"{what}: a token message is {m}; its text goes in \"text\"")
    text = "".join(m["text"] for _, m in tokens)
    check(text == entry.get("reply"), f"{what}: the token texts join to {text[:60]!r}…; they must join to the "
                                      f"reply {str(entry.get('reply'))[:60]!r}…")
    check(len(tokens) == entry.get("tokens_streamed"),
          f"{what} sent {len(tokens)} token messages for {entry.get('tokens_streamed')} tokens; send one per token")
    want = {"input_tokens": entry.get("input_tokens"), "output_tokens": entry.get("output_tokens")}
    done = got[-1][1]
    check(done == {"type": "done", "usage": want},
          f"{what}: the last message is {done}; send {{\"type\": \"done\", \"usage\": {want}}}")
    if timed:
        gap = tokens[-1][0] - tokens[0][0]
        expected = (len(tokens) - 1) * TOKEN_DELAY_MS / 1000
        check(gap >= 0.4 * expected and tokens[0][0] < entry["ended_at"] - 0.3 * expected,
              f"{what}: the first token arrived {max(0.0, entry['ended_at'] - tokens[0][0]):.2f} s before the "
              f"provider finished (it took {expected:.1f} s); send each token as it arrives, do not collect them")


async def _chat(base: str) -> None:
    what = "send a JSON message to /ws/chat after accepting the connection"
    ws = await _open(base, "/ws/chat", what)
    try:
        with _token_delay(TOKEN_DELAY_MS):
            marker = f"check-{_tag()}"
            await ws.send(json.dumps({"prompt": f"Stream over a socket ({marker}), please."}))
            got = await _reply(ws, "after {\"prompt\": ...}, the client")
            _check_reply(got, _entry(marker, "/ws/chat"), "/ws/chat", timed=True)
        # The same connection serves the next prompt.
        marker = f"check-{_tag()}"
        await ws.send(json.dumps({"prompt": f"And a second one ({marker})"}))
        got = await _reply(ws, "after a second prompt on the same connection, the client")
        _check_reply(got, _entry(marker, "/ws/chat, second prompt"), "/ws/chat, second prompt on one connection",
                     timed=False)
    finally:
        with contextlib.suppress(Exception):
            await ws.close()

    # A client that leaves mid-reply: the provider's stream is closed, the server goes on.
    with _token_delay(TOKEN_DELAY_MS):
        ws = await _open(base, "/ws/chat", what)
        marker = f"check-{_tag()}"
        await ws.send(json.dumps({"prompt": f"I will leave early ({marker}), so stop generating for me"}))
        for _ in range(2):
            await _recv(ws, "after a prompt, the client")
        await ws.close()
        what = "/ws/chat, client gone after 2 tokens"
        deadline = time.monotonic() + 2.0
        entry = _entry(marker, what, finished=False)
        while entry.get("ended_at") is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            entry = _entry(marker, what, finished=False)
        check(entry.get("ended_at") is not None,
              f"{what}: the provider's stream was still running 2 s later; stop reading it when a send fails")
        check(entry.get("outcome") == "cancelled",
              f"{what}: the provider's stream ended {entry.get('outcome')!r} after {entry.get('tokens_streamed')} "
              "tokens; it must be cancelled (let WebSocketDisconnect leave the `async with`), not read to the end")
    ws = await _open(base, "/ws/chat", "after a client left mid-reply, the endpoint must still accept connections")
    try:
        marker = f"check-{_tag()}"
        await ws.send(json.dumps({"prompt": f"Anyone home ({marker})?"}))
        got = await _reply(ws, "after an earlier client left mid-reply, a new client")
        check(got[-1][1].get("type") == "done", "after a client left mid-reply, a new client got no done message")
    finally:
        with contextlib.suppress(Exception):
            await ws.close()


@exercise("4.3.chat", "NOT needed for simple LLM streaming",
          also=["`@app.websocket()` decorator", "Accepting connections", "Sending and receiving messages",
                "Handling disconnections"],
          uses=["create_chat_app"], timeout=20.0,
          hint="accept(); loop: receive_json(), `async with client.messages.stream(...)`, send_json a token per "
               "text, then done with usage; wrap the loop in try/except WebSocketDisconnect.")
def chat_exercise(create_chat_app):
    check(callable(create_chat_app), "create_chat_app must be a function: create_chat_app(client) -> FastAPI app")
    with _served(create_chat_app(_client()), "create_chat_app(client)") as base:
        asyncio.run(_chat(base))


QUIZ = section_quiz(
    "4.3",
    item="After completing, you can answer: How do I maintain persistent bidirectional communication? "
         "How do I broadcast a message to all connected users? Should I use WebSocket or SSE for my use case?",
    questions=[
        {
            "id": "bidirectional",
            "question": "How does a FastAPI endpoint keep a two-way conversation with one client going?",
            "choices": {
                "a": "A POST endpoint the client calls again for every message, with keep-alive on",
                "b": "An @app.websocket route: await accept(), then loop on receive_json()/send_json() "
                     "until WebSocketDisconnect",
                "c": "A StreamingResponse whose generator also reads the request body",
            },
            "answer_hash": "60cd7e3e43cabbbd7b94ca755d690d6e526578e1e04f69ebb00fe1e983dcfa0b",
            "explanation": "After the handshake one TCP connection carries frames both ways for as long as the "
                           "handler's loop runs; the loop ends when receive raises WebSocketDisconnect.",
        },
        {
            "id": "broadcast",
            "question": "How do you send one message to every user in a chat room?",
            "choices": {
                "a": "Call websocket.send_json once: every client of the route receives it",
                "b": "Store the message in a global; each client's handler polls it",
                "c": "Keep a registry of the room's open sockets (added on connect, removed on disconnect) "
                     "and send_json to each of them",
                "d": "Open a new WebSocket to each user",
            },
            "answer_hash": "1aec87337d13c654e52bdbceced9add9b01ee6c8977f47a77fd8964d702e36d0",
            "explanation": "A WebSocket object is one connection; the server must track which sockets belong to "
                           "the room and remove closed ones, or the next broadcast fails on a dead socket.",
        },
        {
            "id": "ws-or-sse",
            "question": "One user sends a prompt and watches the reply stream in. WebSocket or SSE?",
            "choices": {
                "a": "SSE: the prompt is one POST and the reply flows one way; it stays plain HTTP "
                     "(auth headers, proxies, retries, logs) with the same first-token time",
                "b": "WebSocket: only a socket can stream tokens",
                "c": "WebSocket: SSE adds a round trip per token",
            },
            "answer_hash": "1aae6c3a5cc70b7e6c7b63c0c6e0e56b3b27dd402a9c8be2cd610ab794ebf327",
            "explanation": "Streaming a reply needs server-to-client only. WebSocket pays off when the client "
                           "talks back often on the same connection, or when other users' events must reach it.",
        },
        {
            "id": "typing",
            "item": "Real-time typing indicators",
            "question": "Why are typing indicators a good case for WebSocket?",
            "choices": {
                "a": "They need binary frames",
                "b": "They are many tiny messages in both directions, each needing to arrive at once; over one "
                     "open socket each costs a frame, not a new HTTP request",
                "c": "Browsers forbid sending typing events over HTTP",
            },
            "answer_hash": "deb7e4ff80ac6baeaa844095dcc27e05eaffb2c433a9929df6e3b064f050a9bd",
            "explanation": "The notebook's measurement: a round trip over an open socket costs a fraction of a "
                           "new HTTP request, and the server can push other users' indicators without a poll.",
        },
        {
            "id": "collab-editing",
            "item": "Collaborative editing",
            "question": "Three people edit one document at once; each keystroke must appear on the other two "
                        "screens within a fraction of a second while they keep typing. Which design fits?",
            "choices": {
                "a": "One SSE stream per editor for others' edits is enough; each keystroke can ride on that "
                     "same stream back to the server",
                "b": "Plain HTTP: each browser polls GET /document every 2 seconds and sends its edits by POST",
                "c": "SSE alone, since EventSource reconnects by itself when an editor's network drops",
                "d": "A WebSocket per editor: each keystroke goes up as a small frame, and the server pushes it "
                     "at once to every other editor's open socket",
            },
            "answer_hash": "1206fde3d2ede2d31d15ff56f80f912fd0a79e59369f71205b27aaedc669d827",
            "explanation": "Editing sends many tiny operations in both directions, and one editor's change must "
                           "reach the others the moment it happens. An SSE response cannot carry anything from "
                           "the client, polling is seconds late, and a POST per keystroke pays for a request "
                           "each time; an open socket per editor carries both directions.",
        },
    ],
    hint="Re-read 4.3.1 (the receive loop), 4.3.2 (the connection manager) and the table in 4.3.3.",
)
