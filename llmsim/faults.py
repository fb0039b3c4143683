"""Faults: configured failures that the next matching provider requests suffer.

A fault is ``{"provider", "kind", "status", "times", "retry_after", "after_tokens",
"delay_s", "model"}``. Faults apply in the order they were added: a generation request
(``POST /v1/messages``, ``/v1/chat/completions``, ``/api/v1/chat/completions``) that passed
the simulator's own checks (key, body, model) takes the first fault whose provider and model
match and which has requests left, and uses up one of its ``times`` (``null`` = every
request, forever). Model lists and ``count_tokens`` are never faulted.

Kinds:

- ``http``: answer ``status`` (default 500) in the provider's error shape, after ``delay_s``
  if given; ``retry_after`` becomes a ``retry-after`` header (a 429 without one gets
  ``retry-after: 1``).
- ``midstream``: a streaming request sends ``after_tokens`` tokens (default 0) and then the
  provider's in-stream error for ``status`` (default 500) and closes; a non-streaming request
  gets the same error as an ``http`` fault would give.
- ``hang``: send nothing; the request stays open until the client gives up, the server
  stops, or ``delay_s`` passes (then it answers ``status``, default 504).
- ``slow``: wait ``delay_s`` (required) before answering normally; for a stream, before the
  first byte.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

PROVIDERS = ("anthropic", "openai", "openrouter")
KINDS = ("http", "midstream", "hang", "slow")
DEFAULT_STATUS = {"http": 500, "midstream": 500, "hang": 504, "slow": None}
FIELDS = ("provider", "kind", "status", "times", "retry_after", "after_tokens", "delay_s", "model")


class FaultError(ValueError):
    """A fault definition that cannot be used; the message says why."""


@dataclass
class Fault:
    id: str
    provider: str
    kind: str
    status: int | None
    times: int | None
    retry_after: float | None
    after_tokens: int
    delay_s: float | None
    model: str | None
    remaining: int | None
    hits: int
    created_at: float

    def matches(self, provider: str, model: str | None) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        if self.provider != "*" and self.provider != provider:
            return False
        return self.model is None or self.model == model

    def to_dict(self) -> dict:
        return asdict(self)


def _number(body: dict, key: str, *, integer: bool, minimum: float) -> float | int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        kind = "an integer" if integer else "a number"
        raise FaultError(f"{key} must be {kind} or null, got {value!r}")
    if integer and not (isinstance(value, int) or float(value).is_integer()):
        raise FaultError(f"{key} must be a whole number, got {value!r}")
    if not math.isfinite(value) or value < minimum:
        raise FaultError(f"{key} must be >= {minimum:g}, got {value!r}")
    return int(value) if integer else float(value)


def parse(body: object, fault_id: str) -> Fault:
    """Validate a fault definition (a JSON object) and return the stored fault."""
    if not isinstance(body, dict):
        raise FaultError("a fault must be a JSON object, e.g. "
                         '{"provider": "anthropic", "kind": "http", "status": 529, "times": 1}')
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise FaultError(f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(FIELDS)}")
    provider = body.get("provider", "*")
    if provider not in PROVIDERS + ("*",):
        raise FaultError(f"provider must be one of {', '.join(PROVIDERS)} or '*', got {provider!r}")
    kind = body.get("kind", "http")
    if kind not in KINDS:
        raise FaultError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    status = _number(body, "status", integer=True, minimum=400)
    if status is not None and not 400 <= status <= 599:
        raise FaultError(f"status must be an HTTP error status (400-599), got {body['status']!r}")
    if status is None:
        status = DEFAULT_STATUS[kind]
    times = _number(body, "times", integer=True, minimum=1)
    retry_after = _number(body, "retry_after", integer=False, minimum=0)
    after_tokens = _number(body, "after_tokens", integer=True, minimum=0)
    delay_s = _number(body, "delay_s", integer=False, minimum=0)
    if kind == "slow" and delay_s is None:
        raise FaultError("kind 'slow' needs delay_s (seconds to wait before answering)")
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise FaultError(f"model must be a string or null, got {model!r}")
    return Fault(
        id=fault_id,
        provider=provider,
        kind=kind,
        status=status,
        times=times,
        retry_after=retry_after,
        after_tokens=after_tokens or 0,
        delay_s=delay_s,
        model=model,
        remaining=times,
        hits=0,
        created_at=time.time(),
    )


def retry_after_value(fault: Fault) -> str | None:
    """The ``retry-after`` header for an error answer, or None."""
    seconds = fault.retry_after
    if seconds is None and fault.status == 429:
        seconds = 1.0
    if seconds is None:
        return None
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"
