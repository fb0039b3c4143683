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
          also=["Returning proper 429 responses", "Setting up SlowAPI with FastAPI",
                "Rate limit formats (`100/hour`, `10/minute`)"],
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
          also=["Free vs premium limits", "Returning proper 429 responses"],
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


@exercise("5.2.shared_limit", "Storage backends (memory, Redis)", uses=["build_shared_chat_app"],
          hint="Limiter(key_func=user_key, storage_uri=storage_uri): with memory:// each app counts alone, with "
               "one redis:// URL every app counts in the same Redis")
def shared_limit(build_shared_chat_app):
    from grader.services import ServiceError, redis_service

    check(callable(build_shared_chat_app),
          "build_shared_chat_app is not a function: def build_shared_chat_app(storage_uri: str) -> FastAPI")
    apps = [_client(lambda: build_shared_chat_app("memory://"), "build_shared_chat_app") for _ in (1, 2)]
    ann = _user("ann")
    codes = [_post(apps[0], ann).status_code for _ in range(4)]
    check(codes == [200, 200, 200, 429],
          f"with storage_uri='memory://' one app answered one user's 4 requests {codes}, not [200, 200, 200, 429]")
    r = _post(apps[1], ann)
    check(r.status_code == 200, f"a second app built with 'memory://' answered {r.status_code} to a user the first "
          "app had limited: memory storage belongs to one Limiter, so give each app its own Limiter")
    try:
        with redis_service() as redis:
            apps = [_client(lambda: build_shared_chat_app(redis.url), "build_shared_chat_app") for _ in (1, 2)]
            bob = _user("bob")
            codes = [_post(apps[n % 2], bob).status_code for n in range(6)]
    except ServiceError as exc:
        check(False, f"the check could not start a Redis for this exercise: {exc}")
    check(codes.count(200) == 3 and codes[3:] == [429, 429, 429],
          f"two apps built with the same Redis URL, one user alternating between them: {codes}, not 3 × 200 then "
          "429s: keep the counters in storage_uri (Limiter(..., storage_uri=storage_uri)) so both apps share them")


QUIZ = section_quiz(
    "5.2",
    item="After completing, you can answer: How do I limit users to 100 requests per hour? "
         "How do I give premium users higher limits? What should I return when a user is rate limited?",
    hint="reread 5.2.2 (limit strings and key functions) and 5.2.3 (tiers and the 429)",
    questions=[
        {
            "id": "why-cost",
            "item": "Cost protection (LLM APIs are expensive)",
            "question": "A chat turn costs your service about $0.0005 in tokens. A customer's script has a bug and "
                        "sends 10 requests per second all night (10 hours), and /chat has no limit. What happens?",
            "choices": {
                "a": "About 360,000 paid completions, roughly $180 billed to you by the provider for one client's bug; "
                     "a limit of 100/hour would have held that client to about $0.50",
                "b": "Nothing costly: the provider bills per user, so the customer pays",
                "c": "The requests are cheap like any other HTTP request; only the CPU time matters",
                "d": "The provider refuses the script's requests because they all come from one IP",
            },
            "answer_hash": "ee49bad7bbe0e80b2dfa41a3a8d6e57a30157fb18394af09b73aa235b17e4485",
            "explanation": "Every request that reaches the LLM is billed to your key in tokens; 10/s for 10 h is "
                           "360,000 requests. A per-user limit caps what one caller can spend.",
        },
        {
            "id": "why-abuse",
            "item": "Abuse prevention",
            "question": "A user's API token leaks on a public forum and a bot starts hammering POST /chat with it. "
                        "With a per-user rate limit in place, what does the bot get?",
            "choices": {
                "a": "Nothing changes: rate limits only help against slow clients",
                "b": "The bot is banned for ever and the user's account is deleted",
                "c": "Unlimited completions, as long as it rotates its IP address",
                "d": "Its first few requests each window, then cheap 429 answers that cost you no tokens, until "
                     "you revoke the token",
            },
            "answer_hash": "ed12b4065b1a909bc970084923f2a545351a60e661b4d6cfb35c1e1f5423594e",
            "explanation": "A limit does not stop abuse, it bounds it: a flood of requests becomes a flood of 429s "
                           "answered before the LLM is called, which buys you time to revoke the key.",
        },
        {
            "id": "why-fair",
            "item": "Fair usage across users",
            "question": "Your provider quota is 600 requests per minute for the whole service. One heavy user sends "
                        "550 per minute; 50 other users send a few each. Without per-user limits, what goes wrong, "
                        "and what fixes it?",
            "choices": {
                "a": "Nothing: the provider shares its quota between your users fairly",
                "b": "The heavy user takes most of the quota and the others start failing; a per-user limit (keyed "
                     "by user, not IP) gives each caller their own share",
                "c": "The heavy user gets slower answers, which is fair; no limit is needed",
                "d": "A single global limit of 600/minute for everybody fixes it",
            },
            "answer_hash": "104dcd6b79118d2ef9749c5e44cae3e0296ea3833addba9b579fc51662a6c681",
            "explanation": "Your capacity is shared; only a budget per caller stops one user from spending everyone "
                           "else's. A global limit still lets that one user take almost all of it.",
        },
        {
            "id": "why-upstream",
            "item": "Upstream provider limits",
            "question": "Your provider key allows 500 requests per minute. Your users together sometimes send 800 per "
                        "minute. Why limit your own callers below the provider's quota?",
            "choices": {
                "a": "Because the provider charges more once you pass 500 per minute",
                "b": "It is not needed: the SDK retries the provider's 429s until they succeed",
                "c": "Past 500 the provider answers 429 to your key, so requests of every user fail deep inside an "
                     "LLM call; limiting at your edge refuses the excess early, per caller, with a clear "
                     "429 and Retry-After",
                "d": "Because the provider blocks your IP address for a day after its first 429",
            },
            "answer_hash": "157b6f1bad5f33edd29b663fd070442719a751de8f0e8aa5092b214d87120ed2",
            "explanation": "The provider's limit applies to your key, i.e. to all your users at once; your own "
                           "limits decide who gets refused, before any token is spent.",
        },
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
