"""JWT minting and the authenticated client of the course's chat API (Projects 5 and 7).

Tokens are HS256, signed with the JWT_SECRET the grader hands the app, with ``sub``, ``tier``,
``iat`` and ``exp`` claims, as the Project 5 README specifies.
"""

from __future__ import annotations

import base64
import json
import secrets
import time

import jwt

from grader.checks.http import FRESH, error_body_problem, nonce, short
from grader.criterion import check

CHAT = "/v1/chat"
TIMEOUT_S = 20


def secret_of(app) -> str:
    return app.env["JWT_SECRET"]


def user_id() -> str:
    return "grader-" + secrets.token_hex(6)


def mint(app, sub: str | None = None, tier: str = "free", ttl: int = 600, **extra) -> str:
    now = int(time.time())
    claims = {"sub": sub or user_id(), "tier": tier, "iat": now, "exp": now + ttl, **extra}
    return jwt.encode(claims, secret_of(app), algorithm="HS256")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **FRESH}


def chat(app, token: str | None, message: str | None = None, headers: dict | None = None, **body):
    hdrs = {**(bearer(token) if token else FRESH), **(headers or {})}
    return app.post(CHAT, json={"message": message or f"Hello {nonce()}", **body}, headers=hdrs, timeout=TIMEOUT_S)


def budget(app, token: str, what: str, most: int = 60) -> int:
    """How many requests a user gets before a 429 (at most ``most``)."""
    for n in range(most + 1):
        r = chat(app, token)
        if r.status_code == 429:
            return n
        check(r.status_code == 200, f"request {n + 1} of {what} answered {r.status_code}: {short(r.text, 100)}")
    check(False, f"{what} made {most + 1} requests in a row and never got 429")
    return most


class AuthedApp:
    """An app whose streams carry a bearer token (for sse.read_stream)."""

    def __init__(self, app, token: str) -> None:
        self.app, self.token = app, token

    def stream(self, method, path, **kwargs):
        kwargs["headers"] = {**(kwargs.get("headers") or {}), "Authorization": f"Bearer {self.token}"}
        return self.app.stream(method, path, **kwargs)


def b64url(data: dict) -> str:

    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).rstrip(b"=").decode()


def bad_tokens(app) -> list[tuple[str, dict]]:
    """(what, headers) for every way a request can be unauthenticated."""
    now = int(time.time())
    sub = user_id()
    good = mint(app, sub)
    head, payload, sig = good.split(".")
    tampered = ".".join([head, b64url({"sub": "someone-else", "tier": "premium", "exp": now + 600}), sig])
    unsigned = jwt.encode({"sub": sub, "tier": "premium", "exp": now + 600}, None, algorithm="none")
    return [
        ("no Authorization header", dict(FRESH)),
        ("a malformed token (Bearer not-a-jwt)", bearer("not-a-jwt")),
        ("a Basic instead of a Bearer credential", {"Authorization": "Basic dXNlcjpwYXNz", **FRESH}),
        ("a tampered token (payload changed, old signature)", bearer(tampered)),
        ("an expired token", bearer(mint(app, sub, ttl=-120))),
        ('an unsigned token ("alg": "none")', bearer(unsigned)),
        ("a token signed with another secret", bearer(jwt.encode({"sub": sub, "tier": "free", "exp": now + 600}, "x" * 40 + nonce(), algorithm="HS256"))),
        ("a token without exp", bearer(jwt.encode({"sub": sub, "tier": "free"}, secret_of(app), algorithm="HS256"))),
    ]


def check_401(r, what: str) -> None:
    check(r.status_code == 401, f"a request with {what} answered {r.status_code}; expected 401: {short(r.text, 100)}")
    challenge = r.headers.get("www-authenticate", "")
    check(
        challenge.lower().startswith("bearer"),
        f"the 401 for {what} has WWW-Authenticate {challenge or '(none)'!r}; expected 'Bearer'",
    )
    problem = error_body_problem(r)
    check(problem is None, f"the 401 for {what}: {problem}")
