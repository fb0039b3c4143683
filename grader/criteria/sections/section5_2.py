"""Section 5.2, Rate Limiting: the exercises' checks and the quiz.

Each check builds a fresh app with the learner's factory and calls it with fastapi's
TestClient, reading status codes, Retry-After and the error body at the limit's boundaries.
The users' names are new on every run, so a limiter shared between builds cannot make a
re-run fail.
"""

import uuid
from typing import Any

from grader.criterion import check
from grader.exercise import exercise, section_quiz


def _client(build: Any, name: str) -> Any:
    from fastapi.testclient import TestClient

    check(callable(build), f"{name} is {type(build).__name__}, not a function: define it with def and return the app")
    app = build()
    check(app is not None, f"{name}() returned None: return the FastAPI app")
    return TestClient(app, raise_server_exceptions=False)


def _user(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


def _post(client: Any, user: str, tier: str | None = None) -> Any:
    headers = {"X-User": user} | ({"X-Tier": tier} if tier else {})
    return client.post("/chat", headers=headers, json={"message": "hi"})


def _limited_properly(r: Any, who: str) -> None:
    retry = r.headers.get("Retry-After")
    check(retry is not None, f"the 429 {who} got has no Retry-After header: send the seconds until the window resets")
    check(retry.strip().isdigit() and 1 <= int(retry) <= 60,
          f"the 429 {who} got has Retry-After: {retry!r}, not a whole number of seconds from 1 to 60")
    try:
        body = r.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    check(isinstance(error, dict) and error.get("type") == "rate_limited" and isinstance(error.get("message"), str)
          and error["message"],
          f"the 429 {who} got has the body {r.text[:120]!r}, not "
          '{"error": {"type": "rate_limited", "message": "..."}}')


def _allowed(client: Any, user: str, count: int, label: str, tier: str | None = None) -> None:
    for n in range(1, count + 1):
        r = _post(client, user, tier)
        check(r.status_code == 200, f"request {n} of {label} answered {r.status_code}, not 200: "
              f"{label} may send {count} per minute")
    r = _post(client, user, tier)
    check(r.status_code == 429, f"request {count + 1} of {label} answered {r.status_code}, not 429: "
          f"{label} may send only {count} per minute")
    _limited_properly(r, label)


@exercise("5.2.chat_limit", "Key functions (by IP, by user)", uses=["build_chat_app"],
          hint="Limiter(key_func=...) reading the X-User header, @limiter.limit(\"3/minute\") with request: Request, "
               "and a RateLimitExceeded handler that sends Retry-After and the error body")
def chat_limit(build_chat_app):
    client = _client(build_chat_app, "build_chat_app")
    ann, bob = _user("ann"), _user("bob")
    _allowed(client, ann, 3, "one user")
    r = _post(client, bob)
    check(r.status_code == 200, f"a second user's first request answered {r.status_code} after the first user "
          "was limited: key the limit by the X-User header, not by the client's IP")
    r = _post(client, ann)
    check(r.status_code == 429, f"the limited user's next request answered {r.status_code}, not 429")


@exercise("5.2.tiers", "Dynamic limits based on user", uses=["build_tiered_app"],
          hint="put the tier in the key (\"premium:paula\") and pass @limiter.limit a function of the key that "
               "returns \"5/minute\" for premium, \"2/minute\" otherwise")
def tiers(build_tiered_app):
    client = _client(build_tiered_app, "build_tiered_app")
    _allowed(client, _user("fred"), 2, "a free user (no X-Tier)")
    _allowed(client, _user("fran"), 2, "a free user (X-Tier: free)", tier="free")
    _allowed(client, _user("paula"), 5, "a premium user (X-Tier: premium)", tier="premium")
    r = _post(client, _user("pete"), "premium")
    check(r.status_code == 200, f"a second premium user's first request answered {r.status_code}: "
          "each user needs their own budget")


QUIZ = section_quiz(
    "5.2",
    item="After completing, you can answer: How do I limit users to 100 requests per hour? "
         "How do I give premium users higher limits? What should I return when a user is rate limited?",
    hint="reread 5.2.2 (limit strings and key functions) and 5.2.3 (tiers and the 429)",
    questions=[
        {
            "id": "hundred-per-hour",
            "question": "Each signed-in user may call POST /chat 100 times per hour, whatever network they are on. "
                        "What do you write?",
            "choices": {
                "a": "`Limiter(key_func=get_remote_address)` and `@limiter.limit(\"100/hour\")`",
                "b": "A key function returning the user's id, and `@limiter.limit(\"100/hour\")` on an endpoint "
                     "that takes `request: Request`",
                "c": "`@limiter.limit(\"100/minute\")`, since SlowAPI counts per process",
                "d": "A counter in a global dict, reset by a background task every hour",
            },
            "answer_hash": "40b67c80739b04cf3b50f895c33d3a679e8499cf8124d4adcd8b59b44149176d",
            "explanation": "The key function decides whose budget a request spends: keyed by IP, users behind one NAT "
                           "share it and a user can change networks to get a fresh one.",
        },
        {
            "id": "premium-limits",
            "question": "Free users get 10/minute, premium users 100/minute. How do you do it with SlowAPI 0.1.10?",
            "choices": {
                "a": "Two limiters, and the endpoint picks one at random",
                "b": "`@limiter.limit(\"10/minute\")` and `@limiter.limit(\"100/minute\")` on the same endpoint",
                "c": "Put the tier in the key (\"premium:paula\") and pass `@limiter.limit` a function of the key "
                     "that returns the tier's limit",
                "d": "Raise the limit for everybody to 100/minute and trust free users",
            },
            "answer_hash": "74051568d5056611dc3d3d04b182875189e7aa8412a242af3212d36a973a46db",
            "explanation": "A callable limit is evaluated per request; SlowAPI gives it the key, so the key carries the "
                           "tier. Two stacked limits would both apply: everyone would get 10/minute.",
        },
        {
            "id": "rate-limited-response",
            "question": "What should a rate-limited request get back?",
            "choices": {
                "a": "429 Too Many Requests, a Retry-After header with the seconds to wait, and the API's usual "
                     "error body saying it was rate limited",
                "b": "503 Service Unavailable, so the client thinks the server is down",
                "c": "200 with an empty reply, so clients do not break",
                "d": "403 Forbidden, since the user is not allowed to call",
            },
            "answer_hash": "86656fef5749d1be30230cd7d1d447ef214e78e68275344f58969e5eaa5a9283",
            "explanation": "429 says \"you, slow down\"; Retry-After tells a client (and retry libraries) when to "
                           "come back; the error body keeps one shape for every error the API sends.",
        },
    ],
)
