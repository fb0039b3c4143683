"""Watching for the run's secrets in everything the app sends back and everything it logs.

The grader gives the app random provider keys and a JWT secret each run. ``LeakWatch`` sees
every response the grader receives from the app (an httpx response hook tees the body as it is
read, streamed or not) and, when the app is closed, its whole log. It looks for each secret as
is, as hex, as base64 / urlsafe base64 at any alignment, with JSON escapes (``\\u0073k-…``),
and spread over several JSON string values (a key streamed a few characters per SSE event).
A finding names the secret, the encoding and where (request or log line), never the value.
"""

from __future__ import annotations

import base64
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import httpx

# The decoded passes (JSON escapes, JSON string values) look at this much of a body or log line.
DECODED_WINDOW = 4_000_000
MAX_REPORTED = 5
LOG_BLOCK = 1 << 20


@dataclass(frozen=True)
class Finding:
    secret: str  # the environment variable's name, never its value
    encoding: str  # "as is", "hex", "base64", ...
    where: str  # "the body of its answer to GET /debug (200)", "line 12 of the app's log"
    criterion: str | None  # the criterion that was running, if any

    def describe(self) -> str:
        how = "" if self.encoding == "as is" else f" ({self.encoding})"
        during = f", while checking {self.criterion}" if self.criterion else ""
        return f"{self.secret}{how} in {self.where}{during}"


def variants(value: str) -> list[tuple[str, bytes]]:
    """(encoding, bytes to look for) of one secret."""
    raw = value.encode()
    out = [("as is", raw), ("hex", raw.hex().encode()), ("hex", raw.hex().upper().encode())]
    for skip in range(3):  # base64 of a longer text: the secret may start at any offset mod 3
        part = raw[skip:]
        whole = base64.b64encode(part)[: len(part) // 3 * 4]  # the groups made of secret bytes only
        out += [("base64", whole), ("urlsafe base64", whole.translate(bytes.maketrans(b"+/", b"-_")))]
    seen: set[bytes] = set()
    return [(enc, n) for enc, n in out if len(n) >= 16 and not (n in seen or seen.add(n))]


_ESCAPE = re.compile(rb"\\u([0-9a-fA-F]{4})|\\([\"\\/bfnrt])")
_SIMPLE = {b"b": b"\b", b"f": b"\f", b"n": b"\n", b"r": b"\r", b"t": b"\t"}
_JSON_STRING = re.compile(rb'"([^"\\]*(?:\\.[^"\\]*)*)"(\s*:)?', re.S)  # unrolled: fast on long strings


def _unescape(data: bytes) -> bytes:
    def one(m: re.Match) -> bytes:
        if m.group(1):
            code = int(m.group(1), 16)
            return chr(code).encode("utf-8", "surrogatepass")
        return _SIMPLE.get(m.group(2), m.group(2))

    for _ in range(3):  # a JSON string inside a JSON string is escaped twice
        done = _ESCAPE.sub(one, data)
        if done == data:
            break
        data = done
    return data


def _string_values(data: bytes) -> bytes:
    """The JSON string values in ``data`` (not the keys), decoded and joined: a secret sent a few
    characters per event or field shows up whole here."""
    joined = b"".join(m.group(1) for m in _JSON_STRING.finditer(data) if not m.group(2))
    return _unescape(joined) if b"\\" in joined else joined  # each value's escapes are whole


class LeakWatch:
    """One per grading run; ``RunningApp`` feeds it responses (``response``) and, on close, its
    log (``log``). ``on_finding`` is called with each new Finding."""

    def __init__(self, secrets: dict[str, str]) -> None:
        self.needles: dict[bytes, tuple[str, str]] = {}
        for name, value in secrets.items():
            if value:
                for encoding, needle in variants(value):
                    self.needles.setdefault(needle, (name, encoding))
        self._ordered = sorted(self.needles, key=len, reverse=True)  # `in` is far faster than a regex
        self._overlap = max((len(n) for n in self.needles), default=0)
        self.findings: list[Finding] = []
        self.current: str | None = None  # the criterion running now (set by the plugin)
        self.on_finding: Callable[[Finding], None] | None = None
        self._logs_read: set[str] = set()

    # -- matching -----------------------------------------------------------------------------
    def _plain(self, data: bytes) -> tuple[str, str] | None:
        for needle in self._ordered:
            if needle in data:
                return self.needles[needle]
        return None

    def match(self, data: bytes, decoded: bool = True, split: bool = True) -> tuple[str, str] | None:
        """(secret name, encoding) of the first secret in ``data``, or None. ``decoded``: also
        under JSON escapes; ``split``: also spread over JSON string values (bodies, not log blocks)."""
        hit = self._plain(data)
        if hit or not decoded or not self._ordered:
            return hit
        window = data[:DECODED_WINDOW]
        passes = []
        if b"\\u" in window:  # the keys are ASCII letters, digits and '-': only \uXXXX can hide them
            passes.append(("JSON-escaped", _unescape))
        if split and window.count(b'"') >= 4:
            passes.append(("split over JSON strings", _string_values))
        for label, decode in passes:
            hit = self._plain(decode(window))
            if hit:
                name, encoding = hit
                return name, label if encoding == "as is" else f"{encoding}, {label}"
        return None

    def _found(self, name: str, encoding: str, where: str) -> None:
        finding = Finding(name, encoding, where, self.current)
        self.findings.append(finding)
        if self.on_finding is not None:
            self.on_finding(finding)

    def redact(self, text: str) -> str:
        """``text`` with every secret (as is, hex, base64) replaced by its name."""
        for needle, (name, _) in self.needles.items():
            text = text.replace(needle.decode("ascii", "replace"), f"[{name}]")
        return text

    # -- the sources ----------------------------------------------------------------------------
    def response(self, response: httpx.Response) -> None:
        """An httpx response hook: headers now, the body as the caller reads it."""
        where = f"its answer to {response.request.method} {response.request.url.path} ({response.status_code})"
        headers = b"\n".join(k + b": " + v for k, v in response.headers.raw)
        hit = self.match(headers)
        if hit:
            self._found(*hit, "a header of " + where)
        response.stream = _Tee(response.stream, self, "the body of " + where,
                               response.headers.get("content-encoding", ""))

    def log(self, path: str, name: str = "app") -> None:
        """Every line of an app's log file (once per file): read in blocks, looked at line by
        line only where a block holds something."""
        if path in self._logs_read or not self._ordered:
            return
        self._logs_read.add(path)
        number, carry = 1, b""
        try:
            with open(path, "rb") as f:
                while True:
                    chunk = f.read(LOG_BLOCK)
                    data = carry + chunk
                    cut = data.rfind(b"\n") + 1 if chunk else len(data)
                    if cut == 0:  # one line longer than a block: look at it in pieces
                        cut = len(data) - self._overlap * 6 if len(data) > LOG_BLOCK else 0
                    block, carry = data[:cut], data[cut:]
                    if block and self.match(block, split=False):
                        for offset, line in enumerate(block.split(b"\n")):
                            hit = self.match(line, split=False)
                            if hit:
                                self._found(*hit, f"line {number + offset} of the {name} log")
                    number += block.count(b"\n")
                    if not chunk:
                        return
        except OSError:
            return


class _Tee(httpx.SyncByteStream):
    """The response body, passed through unchanged, looked at on the way."""

    def __init__(self, inner, watch: LeakWatch, where: str, content_encoding: str) -> None:
        self.inner, self.watch, self.where = inner, watch, where
        enc = content_encoding.strip().lower()
        self.decoder = zlib.decompressobj(16 + zlib.MAX_WBITS) if enc == "gzip" else \
            zlib.decompressobj() if enc == "deflate" else None
        self.tail = b""
        self.head = bytearray()  # the start of the body, for the decoded passes at the end
        self.done = False

    def __iter__(self):
        for chunk in self.inner:
            self._look(chunk)
            yield chunk
        self._finish()

    def _look(self, chunk: bytes) -> None:
        if self.done:
            return
        if self.decoder is not None:
            try:
                chunk = self.decoder.decompress(chunk, DECODED_WINDOW)
            except zlib.error:
                self.decoder = None  # not what it said: look at the bytes as they are
        data = self.tail + chunk
        hit = self.watch._plain(data)
        if hit:
            self.done = True
            self.watch._found(*hit, self.where)
            return
        self.tail = data[-self.watch._overlap:] if self.watch._overlap else b""
        if len(self.head) < DECODED_WINDOW:
            self.head += chunk[: DECODED_WINDOW - len(self.head)]

    def _finish(self) -> None:
        if not self.done:
            self.done = True
            hit = self.watch.match(bytes(self.head))
            if hit:
                self.watch._found(*hit, self.where)

    def close(self) -> None:
        self._finish()  # a stream the caller left early: what it read
        self.inner.close()


def summary(findings: list[Finding]) -> str:
    """One message for the report: where the secrets appeared (never their values), the first
    place of each kind (secret, encoding, response or log) and how many places in all."""
    firsts: dict[tuple, Finding] = {}
    for f in findings:
        firsts.setdefault((f.secret, f.encoding, " log" in f.where), f)
    shown = "; ".join(f.describe() for f in list(firsts.values())[:MAX_REPORTED])
    more = f" ({len(findings)} places in all)" if len(findings) > 1 else ""
    return f"the app showed a secret the grader gave it: {shown}{more}"
