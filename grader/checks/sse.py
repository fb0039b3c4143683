"""A strict Server-Sent Events reader for the streaming criteria (no pytest here).

It reads the stream the way the course specifies it (README of Project 4, and the WHATWG
event-stream format it follows): UTF-8 text; lines ended by LF (CRLF and CR are accepted,
as the format allows); events separated by a blank line; every non-comment line a known
field (``event``, ``data``, ``id``, ``retry``) written ``name: value``; every event carrying
data that is one JSON object. Anything else is a ``SSEFormatError`` whose message names the
offending line, so a learner can see what their stream looked like.

Arrival times are kept per event (the monotonic time at which the chunk that completed it
was read), so a check can tell a stream from a reply sent in one piece.
"""

from __future__ import annotations

import codecs
import json
import socket
import time
from dataclasses import dataclass, field

FIELDS = ("event", "data", "id", "retry")


class SSEFormatError(Exception):
    """The bytes are not a well-formed event stream; the message says where."""


def _show(text: str, limit: int = 80) -> str:
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return repr(text)


@dataclass
class Event:
    event: str | None  # the `event:` field, None when absent
    data: object  # the parsed JSON of the data lines
    raw: str  # the event's lines, as received (line ends normalised)
    at: float  # time.monotonic() when it was complete

    @property
    def type(self) -> str | None:
        """The event's kind: data["type"], else the `event:` field."""
        if isinstance(self.data, dict) and isinstance(self.data.get("type"), str):
            return self.data["type"]
        return self.event


class StrictParser:
    """Feed bytes as they arrive; complete events come out. ``close()`` at the end."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
        self._buffer = ""
        self.events: list[Event] = []
        self.comments = 0

    def feed(self, chunk: bytes, at: float | None = None) -> list[Event]:
        at = time.monotonic() if at is None else at
        try:
            text = self._decoder.decode(chunk)
        except UnicodeDecodeError:
            raise SSEFormatError("the stream is not valid UTF-8") from None
        self._buffer += text
        return self._drain(at, final=False)

    def close(self, at: float | None = None) -> list[Event]:
        """The stream ended: what is left must be nothing (or comments)."""
        at = time.monotonic() if at is None else at
        try:
            self._buffer += self._decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise SSEFormatError("the stream ends in the middle of a UTF-8 character") from None
        events = self._drain(at, final=True)
        rest = self._buffer.replace("\r\n", "\n").replace("\r", "\n")
        if rest.strip("\n"):
            lines = [line for line in rest.split("\n") if line and not line.startswith(":")]
            for line in lines:
                name, colon, _ = line.partition(":")
                if not colon or name not in FIELDS:
                    raise SSEFormatError(
                        f"the stream has a line that is not an SSE field: {_show(line)}; every line is "
                        "`event: <type>`, `data: <json>` (or a `: comment`), and each event ends with a blank line"
                    )
            if lines:
                raise SSEFormatError(
                    f"the stream ended in the middle of an event (no blank line after {_show(rest.strip())}): "
                    "end every event with \\n\\n"
                )
        return events

    def _drain(self, at: float, final: bool) -> list[Event]:
        buf = self._buffer
        # Normalise line ends; keep a trailing CR back (its LF may be in the next chunk).
        hold = ""
        if buf.endswith("\r") and not final:
            buf, hold = buf[:-1], "\r"
        buf = buf.replace("\r\n", "\n").replace("\r", "\n")
        out: list[Event] = []
        while True:
            end = buf.find("\n\n")
            if end == -1:
                break
            block, buf = buf[:end], buf[end + 2 :]
            event = self._event(block, at)
            if event is not None:
                out.append(event)
        # A stream may start with (or contain) extra blank lines between events.
        self._buffer = buf + hold
        self.events.extend(out)
        return out

    def _event(self, block: str, at: float) -> Event | None:
        name: str | None = None
        data: list[str] = []
        for line in block.split("\n"):
            if line == "":
                continue
            if line.startswith(":"):
                self.comments += 1
                continue
            fname, colon, value = line.partition(":")
            if not colon or fname not in FIELDS:
                raise SSEFormatError(
                    f"the stream has a line that is not an SSE field: {_show(line)}; every line is "
                    "`event: <type>`, `data: <json>` (or a `: comment`), and each event ends with a blank line"
                )
            if value.startswith(" "):
                value = value[1:]
            if fname == "event":
                name = value
            elif fname == "data":
                data.append(value)
        if not data:
            if name is not None:
                raise SSEFormatError(f"an event has an event: line but no data: line: {_show(block)}")
            return None  # only comments, or only id/retry
        text = "\n".join(data)
        try:
            payload = json.loads(text)
        except ValueError:
            raise SSEFormatError(f"an event's data is not JSON: {_show(text)}") from None
        if not isinstance(payload, dict):
            raise SSEFormatError(f"an event's data is JSON but not an object: {_show(text)}")
        return Event(event=name, data=payload, raw=block, at=at)


# -- reading a stream from the app ----------------------------------------------------------------

@dataclass
class StreamResult:
    status: int
    headers: dict[str, str]
    started: float  # time.monotonic() just before the request was sent
    events: list[Event] = field(default_factory=list)
    body: bytes = b""  # everything received
    format_error: str | None = None  # the stream is not well-formed SSE
    transport_error: str | None = None  # the connection broke before the stream ended
    chunk_times: list[float] = field(default_factory=list)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    @property
    def is_sse(self) -> bool:
        return self.content_type.split(";")[0].strip().lower() == "text/event-stream"

    def of_type(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.type == kind]

    @property
    def tokens(self) -> list[Event]:
        return self.of_type("token")

    @property
    def text(self) -> str:
        return "".join(str(e.data.get("content", "")) for e in self.tokens if isinstance(e.data, dict))


def read_stream(app, path: str, body: dict, *, timeout: float = 20.0, stop_after_tokens: int | None = None) -> StreamResult:
    """POST ``body`` and read the response as a stream, timing each event.

    With ``stop_after_tokens``, the client hangs up after that many token events (the
    response is closed while the server is still sending).
    """
    import httpx

    started = time.monotonic()
    parser = StrictParser()
    try:
        # A fresh connection per stream (a failed stream may leave a kept-alive one closed).
        with app.stream("POST", path, json=body, timeout=timeout, headers={"Connection": "close"}) as response:
            result = StreamResult(
                status=response.status_code,
                headers={k.lower(): v for k, v in response.headers.items()},
                started=started,
            )
            chunks = []
            try:
                for chunk in response.iter_raw():
                    now = time.monotonic()
                    chunks.append(chunk)
                    result.chunk_times.append(now)
                    if result.format_error is None:
                        try:
                            parser.feed(chunk, now)
                        except SSEFormatError as exc:
                            result.format_error = str(exc)
                    if stop_after_tokens is not None and sum(e.type == "token" for e in parser.events) >= stop_after_tokens:
                        break
                else:
                    if result.format_error is None and result.is_sse:
                        try:
                            parser.close()
                        except SSEFormatError as exc:
                            result.format_error = str(exc)
            except httpx.TimeoutException:
                raise AssertionError(f"POST {path}: the stream did not finish within {timeout:g} s") from None
            except httpx.TransportError as exc:
                result.transport_error = (
                    f"the connection was cut before the stream ended ({exc.__class__.__name__}): "
                    "an exception escaped the generator?"
                )
            result.body = b"".join(chunks)
            result.events = list(parser.events)
            return result
    except httpx.TimeoutException:
        raise AssertionError(f"POST {path}: no response within {timeout:g} s") from None
    except httpx.TransportError as exc:
        raise AssertionError(f"POST {path} failed: {exc.__class__.__name__}") from None


# -- a raw HTTP/1.1 client (what curl does) -------------------------------------------------------

def raw_request(host: str, port: int, method: str, path: str, headers: list[tuple[str, str]], body: bytes | None,
                timeout: float = 20.0) -> StreamResult:
    """Send one HTTP/1.1 request over a plain socket and read the response to the end."""
    started = time.monotonic()
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{k}: {v}" for k, v in headers if k.lower() not in ("host", "content-length", "connection")]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    lines.append("Connection: close")
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")
    deadline = started + timeout
    data = bytearray()
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(request)
        while True:
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                raise AssertionError(f"{method} {path}: the response did not finish within {timeout:g} s") from None
            if not chunk:
                break
            data += chunk
    head, sep, rest = bytes(data).partition(b"\r\n\r\n")
    if not sep:
        raise AssertionError(f"{method} {path}: the server closed the connection without a complete response")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    try:
        status = int(status_line.split()[1])
    except (IndexError, ValueError):
        raise AssertionError(f"{method} {path}: not an HTTP response: {_show(status_line)}") from None
    hdrs: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        hdrs[name.strip().lower()] = value.strip()
    result = StreamResult(status=status, headers=hdrs, started=started)
    payload = rest
    if "chunked" in hdrs.get("transfer-encoding", "").lower():
        payload, complete = _dechunk(rest)
        if not complete:
            result.transport_error = "the chunked body ended without its final empty chunk (the connection was cut)"
    result.body = payload
    parser = StrictParser()
    try:
        parser.feed(payload)
        if result.transport_error is None:
            parser.close()
    except SSEFormatError as exc:
        result.format_error = str(exc)
    result.events = list(parser.events)
    return result


def _dechunk(raw: bytes) -> tuple[bytes, bool]:
    out = bytearray()
    pos = 0
    while True:
        end = raw.find(b"\r\n", pos)
        if end == -1:
            return bytes(out), False
        try:
            size = int(raw[pos:end].split(b";")[0], 16)
        except ValueError:
            return bytes(out), False
        if size == 0:
            return bytes(out), True
        start = end + 2
        if len(raw) < start + size:
            out += raw[start:]
            return bytes(out), False
        out += raw[start : start + size]
        pos = start + size + 2
