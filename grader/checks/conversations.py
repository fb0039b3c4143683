"""A client of the conversations API (Projects 6 and 7): create, send, read, as a given user.

A user is an X-User-ID (Project 6) or ready-made headers such as a bearer token (Project 7).
"""

from __future__ import annotations

import secrets

from grader.checks.http import FRESH, json_or_none, short
from grader.criterion import CheckError, check

CHAT_TIMEOUT_S = 20


def new_user() -> str:
    return "grader-" + secrets.token_hex(6)


def as_user(user: str | dict[str, str]) -> dict[str, str]:
    """The headers of a request by ``user``: an X-User-ID here; Project 7 passes its own
    (a bearer token), so it reuses the helpers below."""
    return dict(user) if isinstance(user, dict) else {"X-User-ID": user, **FRESH}


def create(app, user: str, what: str = "a system prompt", **body) -> dict:
    r = app.post("/v1/conversations", json=body, headers=as_user(user), timeout=CHAT_TIMEOUT_S)
    check(
        r.status_code == 201,
        f"POST /v1/conversations with {what} answered {r.status_code}; expected 201: {short(r.text)}",
    )
    data = json_or_none(r)
    check(
        isinstance(data, dict) and isinstance(data.get("id"), str) and data["id"],
        f"POST /v1/conversations answered {short(r.text)}; expected the conversation, with its \"id\"",
    )
    return data


def send(app, user: str, cid: str, content: str, turn: str = "a message") -> dict:
    r = app.post(
        f"/v1/conversations/{cid}/messages",
        json={"content": content},
        headers=as_user(user),
        timeout=CHAT_TIMEOUT_S,
    )
    check(
        r.status_code == 200,
        f"POST /v1/conversations/{{id}}/messages ({turn}) answered {r.status_code}; expected 200: {short(r.text)}",
    )
    data = json_or_none(r)
    check(
        isinstance(data, dict) and isinstance(data.get("content"), str),
        f"POST /v1/conversations/{{id}}/messages answered {short(r.text)}; expected the reply in \"content\"",
    )
    return data


def read(app, user: str, cid: str, when: str = "") -> dict:
    r = app.get(f"/v1/conversations/{cid}", headers=as_user(user), timeout=CHAT_TIMEOUT_S)
    check(
        r.status_code == 200,
        f"GET /v1/conversations/{{id}}{when} answered {r.status_code}; expected 200: {short(r.text)}",
    )
    data = json_or_none(r)
    check(
        isinstance(data, dict) and isinstance(data.get("messages"), list),
        f"GET /v1/conversations/{{id}} answered {short(r.text)}; expected the conversation with its \"messages\"",
    )
    return data


def stored(data: dict) -> list[tuple[str, str]]:
    return [
        (m.get("role"), m.get("content")) if isinstance(m, dict) else ("?", str(m))
        for m in data.get("messages") or []
    ]


def started(start_app, env: dict, name: str, what: str):
    try:
        return start_app(env=env, name=name)
    except CheckError as exc:
        check(False, f"the app does not start {what}: {short(str(exc).splitlines()[-1], 200)}")


def listed_ids(app, user: str | dict[str, str]) -> list[str]:
    """The ids GET /v1/conversations lists for ``user``."""
    r = app.get("/v1/conversations", headers=as_user(user), timeout=CHAT_TIMEOUT_S)
    check(r.status_code == 200, f"GET /v1/conversations answered {r.status_code}; expected 200: {short(r.text)}")
    data = json_or_none(r)
    items = data.get("data") if isinstance(data, dict) else None
    check(
        isinstance(items, list),
        f'GET /v1/conversations answered {short(r.text)}; expected {{"object": "list", "data": [...]}}',
    )
    return [item.get("id") for item in items if isinstance(item, dict)]
