"""Lean ASGI plumbing: read a request, send JSON or SSE, notice a client going away.

llmsim is a raw ASGI app (no framework routing) so that a request costs little: the
benchmark target is thousands of requests per second on one worker.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

MAX_BODY = 32 * 1024 * 1024  # the Anthropic API's own request limit
JSON_TYPE = (b"content-type", b"application/json")
SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]

_encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str)


def dumps(value: Any) -> bytes:
    return _encoder.encode(value).encode()


class BodyTooLarge(Exception):
    pass


class Request:
    """The parts of an ASGI HTTP scope llmsim uses."""

    __slots__ = ("scope", "receive", "send", "method", "path", "headers", "query")

    def __init__(self, scope, receive, send) -> None:
        self.scope = scope
        self.receive = receive
        self.send = send
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        headers: dict[str, str] = {}
        for raw_name, raw_value in scope["headers"]:
            name = raw_name.decode("latin-1").lower()
            value = raw_value.decode("latin-1")
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        self.headers = headers
        self.query: bytes = scope.get("query_string", b"")

    async def body(self, limit: int = MAX_BODY) -> bytes:
        chunks = []
        size = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge(f"request body is larger than {limit} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    def query_params(self) -> dict[str, str]:
        from urllib.parse import parse_qsl

        return dict(parse_qsl(self.query.decode("latin-1")))


async def send_bytes(
    send,
    status: int,
    body: bytes,
    headers: list[tuple[bytes, bytes]] | None = None,
    content_type: tuple[bytes, bytes] = JSON_TYPE,
) -> None:
    raw = [content_type, (b"content-length", str(len(body)).encode())]
    if headers:
        raw.extend(headers)
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def send_json(send, status: int, value: Any, headers=None) -> None:
    await send_bytes(send, status, dumps(value), headers)


class Abort:
    """Set when the request should stop: its client went away, or the server is closing."""

    __slots__ = ("event", "reason", "_task")

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.reason: str | None = None  # "disconnect" | "closing"
        self._task: asyncio.Task | None = None

    def set(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
            self.event.set()

    def watch(self, receive) -> None:
        """Start noticing the client's disconnect (the body must have been read already)."""

        async def watcher() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    self.set("disconnect")
                    return

        self._task = asyncio.ensure_future(watcher())

    def stop_watching(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def pause(self, seconds: float | None) -> bool:
        """Wait ``seconds`` (None: for ever); True when aborted first."""
        if self.reason is not None:
            return True
        if seconds is not None and seconds <= 0:
            return False
        try:
            async with asyncio.timeout(seconds):
                await self.event.wait()
        except TimeoutError:
            return False
        return True
