"""The request path shared by every provider's generation endpoint.

A generation request goes: read body -> journal entry -> key check (401) -> JSON and field
checks (400) -> model check (404) -> fault (if one matches) -> reply -> JSON or stream.
The provider modules only say how their wire format looks (``Provider`` below).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from . import catalog, replies, tokens
from .asgi import SSE_HEADERS, Abort, BodyTooLarge, Request, dumps, send_bytes
from .faults import Fault, retry_after_value
from .state import new_id

# Header names whose values never reach the journal.
_SECRET_HEADER = re.compile(r"auth|key|token|secret|cookie|password|credential", re.I)
_SECRET_FIELD = re.compile(r"^(api[_-]?key|key|token|secret|password|authorization|access[_-]?token)$", re.I)
REDACTED = "[redacted]"
_BATCH = 8  # with no token delay, token events per write


class InvalidRequest(Exception):
    """A request the provider would refuse; becomes the provider's error shape."""

    def __init__(self, message: str, *, status: int = 400, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.param = param
        self.code = code


@dataclass
class Parsed:
    """A generation request, reduced to what llmsim needs."""

    model: str
    messages: list
    system: Any = None
    max_tokens: int | None = None
    temperature: float | None = None
    stream: bool = False
    tools: list[dict] = field(default_factory=list)  # normalised {"name", "schema"}
    raw_tools: list | None = None
    tool_choice: str = "auto"  # "auto" | "none" | "required"
    forced_tool: str | None = None
    json_mode: str | None = None  # None | "object" | "schema"
    json_schema: Any = None
    include_usage: bool = False
    stop: list[str] = field(default_factory=list)


@dataclass
class Answer:
    """A reply cut to max_tokens or a stop sequence, with its token counts."""

    reply: replies.Reply
    pieces: list[str]
    text: str
    input_tokens: int
    output_tokens: int
    finish: str  # "end" | "max_tokens" | "stop_sequence" | "tool"
    stop_sequence: str | None = None
    wire: dict = field(default_factory=dict)  # per-request bytes a provider reuses per token


class Provider:
    """One provider's wire format. Subclasses fill these in."""

    name = ""
    id_header = b"x-request-id"

    def error_body(self, status: int, message: str, request_id: str, *, code=None, param=None) -> dict:
        raise NotImplementedError

    def default_message(self, status: int) -> str:
        return "Error"

    def parse(self, body: dict) -> Parsed:
        raise NotImplementedError

    def answered_model(self, requested: str) -> str:
        """The model id the response reports (see catalog.SNAPSHOTS)."""
        return catalog.snapshot(requested)

    def response(self, parsed: Parsed, answer: Answer, request_id: str) -> dict:
        raise NotImplementedError

    def stream_head(self, parsed: Parsed, answer: Answer, request_id: str) -> bytes:
        raise NotImplementedError

    def stream_token(self, parsed: Parsed, answer: Answer, piece: str) -> bytes:
        raise NotImplementedError

    def stream_tail(self, parsed: Parsed, answer: Answer, finish: str, tokens_sent: int) -> bytes:
        raise NotImplementedError

    def stream_error(self, status: int, message: str, request_id: str) -> bytes:
        raise NotImplementedError

    def stop_reason(self, finish: str) -> str:
        raise NotImplementedError


def api_key(headers: dict[str, str]) -> str | None:
    """The key a client sent: ``x-api-key``, ``api-key`` or ``Authorization: Bearer``."""
    for name in ("x-api-key", "api-key"):
        if headers.get(name):
            return headers[name].strip()
    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    return None


def journal_headers(headers: dict[str, str], secrets: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for name, value in headers.items():
        if _SECRET_HEADER.search(name) or any(s and s in value for s in secrets):
            out[name] = REDACTED
        else:
            out[name] = value
    return out


def scrub(value: Any, secrets: tuple[str, ...], names: bool = True) -> Any:
    """A copy of a JSON value with secret values (and, if ``names``, secret-named fields)
    redacted."""
    if isinstance(value, dict):
        return {
            k: REDACTED if names and isinstance(k, str) and _SECRET_FIELD.match(k) else scrub(v, secrets, names)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [scrub(v, secrets, names) for v in value]
    if isinstance(value, str) and any(s and s in value for s in secrets):
        return REDACTED
    return value


def _holds(value: Any, secrets: tuple[str, ...]) -> bool:
    """Whether any string inside a JSON value contains a secret (a cheap check, no copy)."""
    if isinstance(value, str):
        return any(s in value for s in secrets)
    if isinstance(value, dict):
        return any(_holds(v, secrets) for v in value.values())
    if isinstance(value, list):
        return any(_holds(v, secrets) for v in value)
    return False


def make_answer(parsed: Parsed, reply: replies.Reply, stream: bool = True) -> Answer:
    text = reply.output
    finish = "tool" if reply.is_tool_call else "end"
    stop_sequence = None
    if not reply.is_tool_call and parsed.stop:
        hits = [(text.find(s), s) for s in parsed.stop if s and s in text]
        if hits:
            index, stop_sequence = min(hits)
            text = text[:index]
            finish = "stop_sequence"
    if stream:
        pieces, used, truncated = tokens.pieces(text, parsed.max_tokens)
        if truncated:
            text = "".join(pieces)
    else:  # no pieces needed
        pieces = []
        text, used, truncated = tokens.truncate(text, parsed.max_tokens)
    if truncated:
        finish = "max_tokens"
    input_tokens = tokens.count_input(parsed.messages, parsed.system, parsed.raw_tools)
    return Answer(reply, pieces, text, input_tokens, used, finish, stop_sequence)


_BODY_FIELDS = ("model", "messages", "system", "max_tokens", "temperature", "tools", "stream")


async def handle(app, request: Request, provider: Provider) -> None:
    """Serve one generation request and keep its journal entry up to date."""
    state = app.state
    request_id = new_id("req_")
    entry = {
        "id": request_id,
        "provider": provider.name,
        "method": request.method,
        "path": request.path,
        "model": None,
        "answered_model": None,
        "stream": False,
        "messages": None,
        "system": None,
        "max_tokens": None,
        "temperature": None,
        "tools": None,
        "params": {},
        "headers": {},
        "status": None,
        "started_at": time.time(),
        "ended_at": None,
        "outcome": None,
        "fault": None,
        "input_tokens": None,
        "output_tokens": None,
        "tokens_streamed": 0,
        "stop_reason": None,
        "reply": None,
        "error": None,
    }
    key = api_key(request.headers)
    secrets = (key,) if key and len(key) >= 4 else ()
    entry["headers"] = journal_headers(request.headers, secrets)
    state.record(entry)
    result: dict[str, Any] = {"outcome": "error"}
    id_headers = [(provider.id_header, request_id.encode())]
    abort: Abort | None = None

    async def fail(status: int, message: str, *, code=None, param=None, extra=None, outcome="error"):
        body = provider.error_body(status, message, request_id, code=code, param=param)
        await send_bytes(request.send, status, dumps(body), id_headers + (extra or []))
        result.update(status=status, outcome=outcome, error=message)

    try:
        try:
            raw = await request.body()
        except BodyTooLarge as exc:
            await fail(413, str(exc), code="request_too_large")
            return
        try:
            body = json.loads(raw) if raw else None
            body_error = None if isinstance(body, dict) else "the request body must be a JSON object"
        except ValueError as exc:
            body, body_error = None, f"the request body is not valid JSON: {exc}"
        if isinstance(body, dict):
            _journal_body(entry, body, secrets)
        if key is None or key.lower().startswith("invalid"):
            message = (
                "no API key: send it as x-api-key or Authorization: Bearer"
                if key is None
                else "invalid API key (llmsim refuses keys starting with 'invalid')"
            )
            await fail(401, message, code="invalid_api_key")
            return
        if body_error:
            await fail(400, body_error)
            return
        try:
            parsed = provider.parse(body)
        except InvalidRequest as exc:
            await fail(exc.status, exc.message, code=exc.code, param=exc.param)
            return
        if catalog.model_missing(parsed.model):
            await fail(404, f"model '{parsed.model}' does not exist (llmsim: names starting with "
                            "'unknown' or 'does-not-exist' are missing)", code="model_not_found", param="model")
            return

        fault = state.take_fault(provider.name, parsed.model)
        midstream_after = None
        if fault is not None:
            entry["fault"] = fault.id
            abort = app.new_abort(request.receive)
            if fault.kind == "hang":
                if await abort.pause(fault.delay_s):
                    await _aborted(abort, fail, result)
                    return
                await _fault_error(fault, provider, fail)
                return
            if fault.delay_s and await abort.pause(fault.delay_s):
                await _aborted(abort, fail, result)
                return
            if fault.kind == "http" or (fault.kind == "midstream" and not parsed.stream):
                await _fault_error(fault, provider, fail)
                return
            if fault.kind == "midstream":
                midstream_after = fault.after_tokens

        reply = replies.build(
            model=parsed.model,
            messages=parsed.messages,
            system=parsed.system,
            tools=parsed.tools,
            tool_choice=parsed.tool_choice,
            forced_tool=parsed.forced_tool,
            json_mode=parsed.json_mode,
            json_schema=parsed.json_schema,
            id_prefix="toolu_" if provider.name == "anthropic" else "call_",
        )
        answer = make_answer(parsed, reply, parsed.stream)
        result.update(
            answered_model=provider.answered_model(parsed.model),
            input_tokens=answer.input_tokens,
            output_tokens=answer.output_tokens,
            stop_reason=provider.stop_reason(answer.finish),
            reply=answer.text if not reply.is_tool_call else None,
        )
        if reply.is_tool_call:
            result["tool_call"] = {"name": reply.tool_name, "arguments": answer.text}
        if not parsed.stream:
            await send_bytes(request.send, 200, dumps(provider.response(parsed, answer, request_id)), id_headers)
            result.update(status=200, outcome="ok")
            return
        if abort is None:
            abort = app.new_abort(request.receive)
        await _stream(request, provider, parsed, answer, request_id, id_headers, abort, state,
                      midstream_after, fault, result, entry)
    except asyncio.CancelledError:
        result.setdefault("error", "the server stopped while answering")
        result["outcome"] = "cancelled" if abort is not None and abort.reason == "disconnect" else "error"
        raise
    except Exception as exc:  # a bug in llmsim: answer 500 in the provider's shape if possible
        result.update(outcome="error", error=f"llmsim internal error: {exc!r}")
        if result.get("status") is None:
            with contextlib.suppress(Exception):
                await fail(500, "llmsim internal error")
        raise
    finally:
        if abort is not None:
            app.drop_abort(abort)
        state.finish(entry, ended_at=time.time(), **result)


def _journal_body(entry: dict, body: dict, secrets: tuple[str, ...]) -> None:
    model = body.get("model")
    entry["model"] = model if isinstance(model, str) else None
    entry["stream"] = body.get("stream") is True
    entry["messages"] = body.get("messages")
    system = body.get("system")
    if system is None and isinstance(body.get("messages"), list):
        # OpenAI-style: the system/developer messages' text.
        texts = [
            tokens.content_text(m.get("content"))
            for m in body["messages"]
            if isinstance(m, dict) and m.get("role") in ("system", "developer")
        ]
        system = "\n".join(texts) if texts else None
    entry["system"] = system
    max_tokens = body.get("max_tokens", body.get("max_completion_tokens"))
    entry["max_tokens"] = max_tokens
    entry["temperature"] = body.get("temperature")
    entry["tools"] = body.get("tools")
    params = {k: v for k, v in body.items() if k not in _BODY_FIELDS}
    entry["params"] = scrub(params, secrets) if params else {}
    if secrets and _holds(entry["messages"], secrets):
        # A key pasted into a message is still a key: values only, names are content here.
        entry["messages"] = scrub(entry["messages"], secrets, names=False)


async def _fault_error(fault: Fault, provider: Provider, fail) -> None:
    extra = []
    retry_after = retry_after_value(fault)
    if retry_after is not None:
        extra.append((b"retry-after", retry_after.encode()))
    message = f"{provider.default_message(fault.status)} (llmsim fault {fault.id})"
    await fail(fault.status, message, extra=extra, outcome="fault")


async def _aborted(abort: Abort, fail, result: dict) -> None:
    if abort.reason == "disconnect":
        result.update(outcome="cancelled", error="the client went away before the answer")
    else:
        await fail(503, "llmsim is shutting down", extra=[(b"x-should-retry", b"false")])


async def _stream(request, provider, parsed, answer, request_id, id_headers, abort, state,
                  midstream_after, fault, result, entry) -> None:
    send = request.send
    await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS + id_headers})
    result["status"] = 200
    await send({"type": "http.response.body", "body": provider.stream_head(parsed, answer, request_id),
                "more_body": True})
    delay = state.token_delay_s
    pieces = answer.pieces if midstream_after is None else answer.pieces[:midstream_after]
    sent = 0
    stopped = False
    if delay > 0:
        for piece in pieces:
            if await abort.pause(delay):
                stopped = True
                break
            await send({"type": "http.response.body", "body": provider.stream_token(parsed, answer, piece),
                        "more_body": True})
            sent += 1
            entry["tokens_streamed"] = result["tokens_streamed"] = sent  # live, for in-flight views
    else:
        # No delay: a few token events per write (each still its own SSE event), and a turn of
        # the loop between writes so a disconnect or a shutdown is noticed.
        for start in range(0, len(pieces), _BATCH):
            if start:
                await asyncio.sleep(0)
            if abort.reason is not None:
                stopped = True
                break
            batch = pieces[start:start + _BATCH]
            body = b"".join([provider.stream_token(parsed, answer, piece) for piece in batch])
            await send({"type": "http.response.body", "body": body, "more_body": True})
            sent += len(batch)
            entry["tokens_streamed"] = result["tokens_streamed"] = sent
    if not stopped and abort.reason is not None:
        stopped = True
    if stopped and abort.reason == "disconnect":
        result.update(outcome="cancelled", error="the client went away mid-stream")
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    if stopped or midstream_after is not None:
        if stopped:  # the server is closing
            status, message, outcome = 503, "llmsim is shutting down", "error"
        else:
            status = fault.status
            message = f"{provider.default_message(status)} (llmsim fault {fault.id})"
            outcome = "fault"
        await send({"type": "http.response.body", "body": provider.stream_error(status, message, request_id),
                    "more_body": False})
        result.update(outcome=outcome, error=message, stop_reason=None, reply=None)
        return
    finish = answer.finish
    await send({"type": "http.response.body",
                "body": provider.stream_tail(parsed, answer, finish, sent),
                "more_body": False})
    result["outcome"] = "ok"


async def handle_simple(app, request: Request, provider: Provider, answer, auth: bool = True) -> None:
    """Serve a provider request that is not a generation (model lists, token counts).

    ``answer(body)`` returns the JSON reply or raises ``InvalidRequest``; ``body`` is the
    parsed JSON object for a POST and ``None`` for a GET. Never faulted; journalled like any
    provider request.
    """
    state = app.state
    request_id = new_id("req_")
    key = api_key(request.headers)
    secrets = (key,) if key and len(key) >= 4 else ()
    entry = {
        "id": request_id, "provider": provider.name, "method": request.method, "path": request.path,
        "model": None, "stream": False, "messages": None, "system": None, "max_tokens": None,
        "temperature": None, "tools": None, "params": {},
        "headers": journal_headers(request.headers, secrets),
        "status": None, "started_at": time.time(), "ended_at": None, "outcome": None, "fault": None,
        "input_tokens": None, "output_tokens": None, "tokens_streamed": 0, "stop_reason": None,
        "reply": None, "error": None,
    }
    state.record(entry)
    id_headers = [(provider.id_header, request_id.encode())]
    result: dict[str, Any] = {"outcome": "error"}

    async def fail(status: int, message: str, *, code=None, param=None):
        body = provider.error_body(status, message, request_id, code=code, param=param)
        await send_bytes(request.send, status, dumps(body), id_headers)
        result.update(status=status, error=message)

    try:
        body = None
        if request.method == "POST":
            try:
                raw = await request.body()
                body = json.loads(raw) if raw else None
            except BodyTooLarge as exc:
                await fail(413, str(exc), code="request_too_large")
                return
            except ValueError as exc:
                body = exc
            if isinstance(body, dict):
                _journal_body(entry, body, secrets)
        if auth and (key is None or key.lower().startswith("invalid")):
            await fail(401, "no API key" if key is None else "invalid API key", code="invalid_api_key")
            return
        if request.method == "POST" and not isinstance(body, dict):
            reason = f"not valid JSON: {body}" if isinstance(body, Exception) else "not a JSON object"
            await fail(400, f"the request body is {reason}")
            return
        try:
            value = answer(body)
        except InvalidRequest as exc:
            await fail(exc.status, exc.message, code=exc.code, param=exc.param)
            return
        await send_bytes(request.send, 200, dumps(value), id_headers)
        result.update(status=200, outcome="ok")
        if isinstance(value, dict) and "input_tokens" in value:
            result["input_tokens"] = value["input_tokens"]
    finally:
        state.finish(entry, ended_at=time.time(), **result)
