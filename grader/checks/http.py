"""Talking to the learner's app over HTTP: short messages, JSON bodies, and the one error body.

Every project promises the same error body (each project README shows it):
exactly ``{"error": {"type": ..., "message": ..., "request_id": ...}}``, nothing beside
``error``, and never a stack trace.
"""

from __future__ import annotations

import secrets


def short(text: object, limit: int = 160) -> str:
    """One line of at most ``limit`` characters, for a failure message."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def json_or_none(response) -> object:
    """The response's JSON, or None when its body is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None


def nonce() -> str:
    """A few random characters that make a message unique to one check."""
    return secrets.token_hex(3)


# A fresh connection per request: after a failing request an app may close its end of a
# kept-alive connection, and the next request on it would fail for no fault of its own.
FRESH = {"Connection": "close"}


ERROR_SHAPE = '{"error": {"type": ..., "message": ..., "request_id": ...}}'
ERROR_FIELDS = ("type", "message", "request_id")


def error_body_problem(response) -> str | None:
    """What is wrong with an error response's body against the one error body, or None."""
    text = response.text
    if "Traceback" in text or 'File "' in text:
        return "the error body contains a stack trace"
    data = json_or_none(response)
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict) or set(data) != {"error"}:
        return f"the body {short(text, 120)!r} is not the error shape {ERROR_SHAPE}"
    missing = [k for k in ERROR_FIELDS if not isinstance(error.get(k), str) or not error.get(k)]
    if missing:
        return f"error.{', error.'.join(missing)} missing in {short(text, 120)!r} (the error shape is {ERROR_SHAPE})"
    return None
