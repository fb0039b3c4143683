"""Project 7: Capstone - Complete GenAI Backend.

The app runs as ``uvicorn app.main:app`` against the run's llmsim and Redis, as in Projects
5 and 6. The checks are Project 5's and 6's, now together and through one JWT: tokens are
minted here with the app's ``JWT_SECRET`` for random user ids (the CI Redis is shared and
never flushed), conversations belong to the token's ``sub``, and every model call counts
against one rate limit. Added: fallbacks after retries (read from llmsim's journal),
streamed conversation replies that are stored, per-user usage, the OpenAPI document
(read, then fuzzed with schemathesis), the README's Components section, and secrets
searched for in every log line and response.
"""

from __future__ import annotations

import re
import secrets
import time

import jwt

from grader.checks import sse
from grader.checks.auth import AuthedApp, bad_tokens, bearer, budget, chat, check_401, mint, user_id
from grader.checks.conversations import create, listed_ids, read, send, started, stored
from grader.checks.fuzzing import fuzz_api
from grader.checks.http import error_body_problem, json_or_none, nonce, short
from grader.checks.journal import generations, ok_generations, sent_messages, sent_system
from grader.checks.logs import (
    check_request_id_logs,
    check_request_id_upstream,
    is_access_line,
    json_line,
    request_window,
)
from grader.checks.openapi import (
    bearer_schemes,
    example_of,
    openapi,
    operation,
    schema_has_error_shape,
)
from grader.checks.ops import check_compose_redis, check_health_ready
from grader.checks.quizzes import check_quiz_file
from grader.criterion import check, criterion

PROVIDERS_ITEM = "Multi-provider support with LiteLLM"
SYNC_STREAM = "Both sync and streaming endpoints"
JWT_ITEM = "JWT authentication"
TIERS = "Tiered rate limiting"
CONVERSATIONS = "Conversation management"
RETRY_ITEM = "Retry logic"
LOGGING = "Structured logging"
HEALTH = "Health checks"
OPENAPI = "OpenAPI documentation"
COMPOSE = "docker-compose with all services"
README = "Comprehensive README"
EXPLAIN = "Can explain every component and why it exists"
DEBUG = "Can debug issues using logs"
EXTEND = "Can extend with new features"
READY_FOR_MORE = "Ready to build on this for RAG/agents"

CHAT = "/v1/chat"
STREAM = "/v1/chat/stream"
CONVS = "/v1/conversations"
USAGE = "/v1/usage"
TIMEOUT_S = 20
PRIMARY, FIRST_FALLBACK = "claude-haiku-4-5", "gpt-4o-mini"
PROVIDER_OF = {"claude-haiku-4-5": "anthropic", "gpt-4o-mini": "openai", "llama-3.3-70b": "openrouter"}
ATTEMPTS = 3  # RETRY_ATTEMPTS' documented default
# Small budgets, so a limit is used up in a handful of requests (for the apps started here).
FREE, PREMIUM = 3, 6
LIMITS = {"RATE_LIMIT_FREE": f"{FREE}/minute", "RATE_LIMIT_PREMIUM": f"{PREMIUM}/minute"}
FAST_RETRIES = {"RETRY_BASE_S": "0.05", "RETRY_MAX_S": "0.2"}
# Every route the README's API section specifies.
ROUTES = [
    ("GET", "/health"),
    ("GET", "/ready"),
    ("GET", "/v1/models"),
    ("POST", CHAT),
    ("POST", STREAM),
    ("POST", CONVS),
    ("GET", CONVS),
    ("GET", CONVS + "/{conversation_id}"),
    ("DELETE", CONVS + "/{conversation_id}"),
    ("POST", CONVS + "/{conversation_id}/messages"),
    ("POST", CONVS + "/{conversation_id}/messages/stream"),
    ("GET", USAGE),
]
CALLS_MODEL = {("POST", CHAT), ("POST", STREAM), ("POST", CONVS + "/{conversation_id}/messages"),
               ("POST", CONVS + "/{conversation_id}/messages/stream")}
UNAUTHENTICATED = {("GET", "/health"), ("GET", "/ready")}
# The README's Components section: one ### subsection per component, found by its title.
COMPONENTS = {
    "multi-provider LLMs (LiteLLM)": ("litellm",),
    "sync and streaming endpoints": ("stream",),
    "JWT authentication": ("jwt",),
    "tiered rate limits": ("rate limit",),
    "conversations": ("conversation",),
    "retries (and fallbacks)": ("retr",),
    "structured logging": ("log",),
    "health and readiness": ("health",),
    "OpenAPI documentation": ("openapi",),
    "docker-compose": ("compose",),
    "configuration": ("configuration",),
}
MIN_WORDS = 40

# sha256 of "<question id>:<answer>" (grader.quiz.answer_hash), not the answers.
QUIZ_EXPLAIN = {
    "why-redis-limits": "8dee24df7445a67e558f0a5e94634c18d40cea45856c0138b77e6516db02cf64",
    "why-404-not-403": "abd95f5025886b51934255e1aff9a61c22681988cfaab5b8dfc987746a46a48f",
    "why-retry-then-fallback": "ddef26c6cf84e46ef2d2cda9704688a34c436581057187c1ccbde8001893301f",
    "why-no-retry-400": "ee3401be85538b8cfb99098ff204f5e027122dcca8169d21f8cd406f094e58be",
    "why-ready-vs-health": "9c7803ffabcdfafccc26c7f9871235572d7b07fddbd708747e78b6fe68dd5700",
    "why-stream-opened-first": "2844d5e5da68a0494136dab51c8e27ffdec71a4cce25b2666f0482d1c16b8a6d",
    "why-request-id": "189472ea0eae20c2eb8877aab51be017cd0b68572bf432b4fc5dbbdafb759114",
}
QUIZ_DEBUG = {
    "debug-find-request": "fb6708fb462308a6713d63a15cf1ae4bdf4b0122156ba21fc197314e29d43baa",
    "debug-429-source": "9aec6e9f6012dad14c871485c4a8d2ab1f09dfa1bd3dd529bb1a377c1e315cac",
}
QUIZ_NEXT = {
    "rag-where-retrieval": "04cc54201d5e3ad6537a7ad285a20a709e5dcaa8ab1df2e2a89581b1123e8180",
    "agent-tool-loop": "d3037cc88502df08bd5fa5611117347c83524d3970b017b0956d9861735af55e",
    "rag-token-budget": "5f0dec38665c14d3c8c566c1dee6f4caf2633a868303eb78aa18b01bd8606b0c",
}


# -- helpers ----------------------------------------------------------------------------------------

def user_token(app, tier: str = "premium") -> tuple[str, str]:
    sub = user_id()
    return sub, mint(app, sub, tier=tier)


def stream(app, token: str, path: str, body: dict) -> sse.StreamResult:
    return sse.read_stream(AuthedApp(app, token), path, body, timeout=TIMEOUT_S)


def stream_ok(app, token: str, path: str, body: dict) -> sse.StreamResult:
    result = stream(app, token, path, body)
    check(
        result.status == 200 and result.is_sse,
        f"POST {path} answered {result.status} {result.content_type or ''}: "
        f"{short(result.body.decode('utf-8', 'replace'), 120)}",
    )
    check(result.format_error is None, f"POST {path}: {result.format_error}")
    check(result.tokens, f"POST {path} sent no token events")
    check(result.of_type("done"), f"POST {path} sent no done event after its tokens")
    return result


def components_section(text: str) -> str | None:
    m = re.search(r"^##\s+Components\b.*$", text, re.M | re.I)
    if m is None:
        return None
    rest = text[m.end():]
    end = re.search(r"^##\s", rest, re.M)
    return rest[: end.start()] if end else rest


def subsections(section: str) -> list[tuple[str, str]]:
    parts = re.split(r"^###\s+", section, flags=re.M)[1:]
    return [(p.split("\n", 1)[0].strip(), p.split("\n", 1)[1] if "\n" in p else "") for p in parts]


# -- Components -------------------------------------------------------------------------------------

@criterion(
    "p7.providers",
    PROVIDERS_ITEM,
    hint="One LiteLLM Router with a deployment per model (Anthropic, OpenAI, OpenRouter); when the "
    "requested model still fails after its retries, try the next model of FALLBACKS with the same "
    "retry policy (app/resilience.py: complete_with_fallbacks), and report who answered.",
)
def test_providers(app, sim):
    _, token = user_token(app)
    r = app.get("/v1/models", headers=bearer(token), timeout=TIMEOUT_S)
    check(r.status_code == 200, f"GET /v1/models with a valid token answered {r.status_code}: {short(r.text)}")
    listed = {m.get("id") for m in (json_or_none(r) or {}).get("data") or [] if isinstance(m, dict)}
    missing = [m for m in PROVIDER_OF if m not in listed]
    check(not missing, f"GET /v1/models does not list {', '.join(missing)}: with all three keys set, offer every provider's model")
    for model, provider in PROVIDER_OF.items():
        sim.clear_requests()
        r = chat(app, token, model=model)
        check(r.status_code == 200, f"POST {CHAT} with model {model} answered {r.status_code}: {short(r.text)}")
        entries = ok_generations(sim)
        check(
            entries and entries[-1].get("provider") == provider,
            f"POST {CHAT} with model {model} was answered by {entries[-1].get('provider') if entries else 'no provider'}; "
            f"expected {provider}",
        )
        body = json_or_none(r) or {}
        check(
            body.get("provider") == provider and body.get("fallback") is False,
            f"POST {CHAT} with model {model} answered provider {body.get('provider')!r}, fallback "
            f"{body.get('fallback')!r}; expected {provider!r}, false",
        )
    sim.clear_requests()
    sim.add_fault(provider="anthropic", kind="http", status=529)
    try:
        r = chat(app, token, model=PRIMARY)
    finally:
        sim.clear_faults()
    calls = [e.get("provider") for e in generations(sim)]
    check(
        r.status_code == 200,
        f"with Anthropic overloaded (529) on every call, POST {CHAT} for {PRIMARY} answered {r.status_code}; "
        f"fall back to another provider once the retries are used up: {short(r.text)}",
    )
    expected = ["anthropic"] * ATTEMPTS + ["openai"]
    check(
        calls == expected,
        f"with Anthropic always overloaded, the provider calls were {calls}; expected {expected}: "
        f"{ATTEMPTS} attempts on the requested model (RETRY_ATTEMPTS), then its first fallback ({FIRST_FALLBACK})",
    )
    body = json_or_none(r) or {}
    check(
        body.get("fallback") is True and body.get("provider") == "openai" and body.get("requested_model") == PRIMARY,
        f"a reply from the fallback answered fallback={body.get('fallback')!r}, provider={body.get('provider')!r}, "
        f"requested_model={body.get('requested_model')!r}; expected true, 'openai', {PRIMARY!r}",
    )


@criterion(
    "p7.sync-stream",
    SYNC_STREAM,
    hint="POST /v1/chat answers JSON, POST /v1/chat/stream and POST /v1/conversations/{id}/messages/stream "
    "answer SSE (token events, then done); a streamed conversation reply is stored, with its user "
    "message, once it is whole, and not at all when the stream fails part-way.",
)
def test_sync_stream(app, sim):
    _, token = user_token(app)
    sim.clear_requests()
    r = chat(app, token, message=f"Sync {nonce()}")
    check(r.status_code == 200, f"POST {CHAT} answered {r.status_code}: {short(r.text)}")
    entries = ok_generations(sim)
    check(entries, f"POST {CHAT} answered without a provider being called")
    check((json_or_none(r) or {}).get("content") == entries[-1].get("reply"), f"POST {CHAT} did not answer the provider's reply")
    result = stream_ok(app, token, STREAM, {"message": f"Stream {nonce()}"})
    check(
        result.text == ok_generations(sim)[-1].get("reply"),
        f"the tokens of POST {STREAM} read {short(result.text, 80)!r}, not the provider's reply",
    )
    cid = create(app, bearer(token), "no system prompt")["id"]
    path = f"{CONVS}/{cid}/messages/stream"
    content = f"Stream into the conversation {nonce()}"
    sim.clear_requests()
    result = stream_ok(app, token, path, {"content": content})
    entries = ok_generations(sim)
    check(entries, f"POST {CONVS}/{{id}}/messages/stream answered without a provider being called")
    reply = entries[-1].get("reply")
    check(result.text == reply, f"the tokens of POST {CONVS}/{{id}}/messages/stream are not the provider's reply")
    messages = stored(read(app, bearer(token), cid, " after a streamed reply"))
    check(
        messages == [("user", content), ("assistant", reply)],
        f"after a streamed reply the conversation holds {short(messages, 200)}; expected the user message and the "
        "whole streamed reply: store the pair when the stream is done",
    )
    sim.add_fault(provider="*", kind="midstream", after_tokens=2)
    try:
        cut = stream(app, token, path, {"content": f"Cut short {nonce()}"})
    finally:
        sim.clear_faults()
    check(
        cut.status == 200 and cut.of_type("error") and not cut.of_type("done"),
        f"a provider failing part-way through a streamed conversation reply gave status {cut.status} and events "
        f"{[e.type for e in cut.events][-4:]}; expected an error event (and no done event)",
    )
    after = stored(read(app, bearer(token), cid, " after a reply cut short"))
    check(
        after == messages,
        f"a streamed reply cut short by a provider failure left {len(after) - len(messages)} new message(s) "
        "stored; store a turn only when its reply is whole",
    )


@criterion(
    "p7.jwt",
    JWT_ITEM,
    hint="Every /v1 endpoint takes the `user: CurrentUser` dependency: jwt.decode with "
    "algorithms=[\"HS256\"] and exp, sub required; any bad token answers 401 with "
    "WWW-Authenticate: Bearer and the error body, before anything else runs.",
)
def test_jwt(app, sim):
    _, token = user_token(app)
    cid = create(app, bearer(token), "a valid token")["id"]
    sim.clear_requests()
    tokens = bad_tokens(app)
    for what, headers in tokens:
        check_401(app.get(CONVS, headers=headers, timeout=TIMEOUT_S), f"{what} on GET {CONVS}")
    routes = [
        ("GET", "/v1/models", None),
        ("POST", CHAT, {"message": f"Let me in {nonce()}"}),
        ("POST", STREAM, {"message": f"Let me in {nonce()}"}),
        ("POST", CONVS, {}),
        ("GET", f"{CONVS}/{cid}", None),
        ("POST", f"{CONVS}/{cid}/messages", {"content": "Let me in"}),
        ("POST", f"{CONVS}/{cid}/messages/stream", {"content": "Let me in"}),
        ("DELETE", f"{CONVS}/{cid}", None),
        ("GET", USAGE, None),
    ]
    for what, headers in (tokens[0], tokens[5]):
        for method, path, body in routes:
            r = app.request(method, path, json=body, headers=headers, timeout=TIMEOUT_S)
            check_401(r, f"{what} on {method} {path.replace(cid, '{id}')}")
    check(not generations(sim), "an unauthenticated request reached the provider")
    read(app, bearer(token), cid, " after unauthenticated requests tried to delete it")


@criterion(
    "p7.tiers",
    TIERS,
    hint="One SlowAPI limit, in Redis, keyed by the token's sub with the tier in the key "
    "(@limiter.shared_limit(limit_for_key, scope=\"chat\")) on every endpoint that calls a model: "
    "both chat endpoints and both conversation message endpoints. Over it: 429 with Retry-After.",
)
def test_tiers(start_app, sim):
    first = started(start_app, LIMITS, "worker1", f"with RATE_LIMIT_FREE={FREE}/minute")
    second = started(start_app, LIMITS, "worker2", f"with RATE_LIMIT_FREE={FREE}/minute")
    _, token = user_token(first, "free")
    cid = create(first, bearer(token), "a free user")["id"]
    r = chat(first, token)
    check(r.status_code == 200, f"the first request of a free user answered {r.status_code}: {short(r.text)}")
    stream_ok(second, token, STREAM, {"message": f"Second {nonce()}"})
    send(second, bearer(token), cid, f"Third {nonce()}", "the 3rd model call of a free user")
    sim.clear_requests()
    r = first.post(f"{CONVS}/{cid}/messages/stream", json={"content": "Fourth"}, headers=bearer(token), timeout=TIMEOUT_S)
    check(
        r.status_code == 429,
        f"a free user (RATE_LIMIT_FREE={FREE}/minute) who made {FREE} model calls (POST {CHAT}, {STREAM} and a "
        f"conversation message, over two app processes) got {r.status_code} for a streamed conversation message; "
        "expected 429: one budget per user, in Redis, for every endpoint that calls a model",
    )
    value = r.headers.get("retry-after", "")
    check(value.isdigit() and int(value) > 0, f"the 429 has Retry-After {value or '(none)'!r}; expected a number of seconds")
    problem = error_body_problem(r)
    check(problem is None, f"the 429: {problem}")
    check(not generations(sim), "a request answered 429 still called the provider")
    r = chat(second, token)
    check(r.status_code == 429, f"POST {CHAT} by a free user over the limit answered {r.status_code}; expected 429")
    _, other = user_token(first, "free")
    r = chat(first, other)
    check(r.status_code == 200, f"another free user got {r.status_code}: the limit must be per user (the token's sub)")
    _, premium = user_token(first, "premium")
    got = budget(first, premium, "a premium user", most=PREMIUM + 3)
    check(
        got == PREMIUM,
        f"with RATE_LIMIT_PREMIUM={PREMIUM}/minute a premium user got {got} requests before a 429; expected {PREMIUM}",
    )


@criterion(
    "p7.conversations",
    CONVERSATIONS,
    hint="Conversations belong to the token's sub: create stores it as the owner, the listing shows "
    "only the caller's, and another user's conversation answers 404 to GET, DELETE and messages "
    "(owned_conversation). The whole history goes to the model; Redis keeps it across restarts.",
)
def test_conversations(start_app, app, sim):
    _, a_token = user_token(app)
    _, b_token = user_token(app)
    system = f"You are the capstone's assistant {nonce()}."
    cid = create(app, bearer(a_token), "a system prompt", system=system)["id"]
    first = f"My name is {nonce()}"
    one = send(app, bearer(a_token), cid, first, "turn 1")
    second = f"What is my name? {nonce()}"
    sim.clear_requests()
    two = send(app, bearer(a_token), cid, second, "turn 2")
    entries = ok_generations(sim)
    check(entries, "turn 2 was answered without a provider answering it")
    sent = sent_messages(entries[-1])
    expected = [("user", first), ("assistant", one["content"]), ("user", second)]
    check(sent == expected, f"turn 2's provider request carried {short(sent, 200)}; expected the whole conversation: {short(expected, 200)}")
    check(system in sent_system(entries[-1]), "turn 2's provider request did not carry the conversation's system prompt")
    check(cid in listed_ids(app, bearer(a_token)), f"GET {CONVS} does not list the caller's conversation")
    check(cid not in listed_ids(app, bearer(b_token)), f"GET {CONVS} lists another user's conversation: list only the caller's")
    sim.clear_requests()
    for method, path, body in (
        ("GET", f"{CONVS}/{cid}", None),
        ("POST", f"{CONVS}/{cid}/messages", {"content": f"Mine now {nonce()}"}),
        ("POST", f"{CONVS}/{cid}/messages/stream", {"content": f"Mine now {nonce()}"}),
        ("DELETE", f"{CONVS}/{cid}", None),
    ):
        r = app.request(method, path, json=body, headers=bearer(b_token), timeout=TIMEOUT_S)
        check(
            r.status_code == 404,
            f"{method} {path.replace(cid, '{id}')} by another user answered {r.status_code}; expected 404, as if "
            "it did not exist: a conversation belongs to the token's sub",
        )
    check(not generations(sim), "another user's message to a conversation reached the provider")
    later = started(start_app, {}, "app-restarted", "a second time")
    whole = [*expected, ("assistant", two["content"])]
    messages = stored(read(later, bearer(a_token), cid, " from a restarted app"))
    check(
        messages == whole,
        f"read from a restarted app (same REDIS_URL), the conversation holds {short(messages, 200)}; expected its 4 messages",
    )
    r = later.delete(f"{CONVS}/{cid}", headers=bearer(a_token), timeout=TIMEOUT_S)
    check(r.status_code in (200, 204), f"DELETE {CONVS}/{{id}} by its owner answered {r.status_code}: {short(r.text)}")
    r = app.get(f"{CONVS}/{cid}", headers=bearer(a_token), timeout=TIMEOUT_S)
    check(r.status_code == 404, f"GET {CONVS}/{{id}} after DELETE answered {r.status_code}; expected 404")
    check(cid not in listed_ids(app, bearer(a_token)), f"GET {CONVS} still lists a deleted conversation")


@criterion(
    "p7.retries",
    RETRY_ITEM,
    hint="tenacity around each provider call: stop_after_attempt(RETRY_ATTEMPTS), exponential waits "
    "from RETRY_BASE_S, only on transient errors (429, 5xx, timeouts, connection errors). A 400 is "
    "about the request: neither retried nor sent to a fallback.",
)
def test_retries(app, sim):
    _, token = user_token(app)
    sim.clear_requests()
    sim.add_fault(provider="*", kind="http", status=529, times=2)
    try:
        r = chat(app, token)
    finally:
        sim.clear_faults()
    entries = generations(sim)
    calls = [e.get("provider") for e in entries]
    check(
        calls == ["anthropic"] * 3,
        f"with the provider overloaded (529) twice, then well, the calls went to {calls}; expected anthropic 3 "
        "times: retry the requested model, with back-off, before any fallback",
    )
    check(r.status_code == 200, f"after two 529s and a success, POST {CHAT} answered {r.status_code}: {short(r.text)}")
    gaps = [entries[i + 1]["started_at"] - entries[i]["ended_at"] for i in range(2)]
    check(gaps[0] >= 0.2, f"the first retry came {gaps[0]:.2f} s after the failure; wait RETRY_BASE_S (0.5 s by default) first")
    check(
        gaps[1] >= 1.5 * gaps[0],
        f"the waits before the retries were {gaps[0]:.2f} s then {gaps[1]:.2f} s; exponential back-off doubles them",
    )
    sim.clear_requests()
    sim.add_fault(provider="*", kind="http", status=400, times=1)
    try:
        r = chat(app, token)
    finally:
        sim.clear_faults()
    calls = [e.get("provider") for e in generations(sim)]
    check(
        len(calls) == 1,
        f"a 400 from the provider led to {len(calls)} calls ({calls}); a 400 is about the request itself: "
        "neither retry it nor fall back",
    )
    check(r.status_code == 502, f"a 400 from the provider answered {r.status_code}; expected 502")
    problem = error_body_problem(r)
    check(problem is None, f"a provider's 400: {problem}")


@criterion(
    "p7.logging",
    LOGGING,
    hint="structlog JSON lines; a pure ASGI middleware binds the request id (X-Request-ID, or a new "
    "one) with structlog.contextvars, returns it in X-Request-ID, logs one access line, and the id "
    "goes to the provider as x-request-id, from every endpoint, conversations included.",
)
def test_logging(app, sim):
    check_request_id_logs(app, sim)
    check_request_id_upstream(app, sim)
    _, token = user_token(app)
    cid = create(app, bearer(token), "no system prompt")["id"]
    rid = "trace-" + secrets.token_hex(8)
    sim.clear_requests()
    send(app, {**bearer(token), "X-Request-ID": rid}, cid, f"Trace me {nonce()}")
    entries = generations(sim)
    seen = {k.lower(): v for k, v in ((entries[-1].get("headers") or {}) if entries else {}).items()}
    check(
        seen.get("x-request-id") == rid,
        f"a conversation message sent with X-Request-ID {rid} reached the provider with x-request-id "
        f"{seen.get('x-request-id')!r}; pass the id on from every endpoint",
    )


@criterion(
    "p7.no-secrets",
    LOGGING,
    hint="Never log or return a credential: keys and JWT_SECRET stay SecretStr, no request headers "
    "in the logs (Authorization carries the token), validation errors without the input, and "
    "provider errors summarised (type, status), not dumped.",
)
def test_no_secrets(app, sim):
    _, token = user_token(app)
    stolen = jwt.encode({"sub": user_id(), "tier": "premium", "exp": int(time.time()) + 600}, "z" * 40, algorithm="HS256")
    responses = [chat(app, token)]
    cid = create(app, bearer(token), "no system prompt")["id"]
    responses.append(app.post(f"{CONVS}/{cid}/messages", json={"content": "hi"}, headers=bearer(token), timeout=TIMEOUT_S))
    # the secrets in places an app might echo: a rejected body, a rejected token
    responses.append(
        app.post(CHAT, json={"message": "", "oops": app.secrets[0], "token": token}, headers=bearer(token), timeout=TIMEOUT_S)
    )
    responses.append(app.get(CONVS, headers=bearer(stolen), timeout=TIMEOUT_S))
    # the provider rejecting our key, and failing outright
    for status in (401, 500):
        sim.add_fault(provider="*", kind="http", status=status)
        try:
            responses.append(chat(app, token))
        finally:
            sim.clear_faults()
    codes = [r.status_code for r in responses]
    check(codes[:2] == [200, 200], f"a chat and a conversation message with a valid token answered {codes[:2]}")
    check(codes[2:] == [422, 401, 502, 502], f"a bad body, a forged token, a provider 401 and a provider 500 answered {codes[2:]}; expected [422, 401, 502, 502]")
    for r in responses:
        shown = r.text + " " + " ".join(f"{k}: {v}" for k, v in r.headers.items())
        leaked = [s for s in app.secrets if s in shown]
        check(not leaked, f"a {r.status_code} response contains a secret (an API key or JWT_SECRET)")
        check(token not in shown and stolen not in shown, f"a {r.status_code} response echoes the caller's bearer token")
    logs = app.logs()
    check(not [s for s in app.secrets if s in logs], "a secret (an API key or JWT_SECRET) appears in the app's log")
    for what, value in (("a valid bearer token", token), ("a rejected bearer token", stolen)):
        check(value.split(".")[2] not in logs, f"{what} appears in the app's log: never log credentials (Authorization)")


@criterion(
    "p7.health",
    HEALTH,
    hint="/health answers 200 while the process is up; /ready pings Redis (rate limits and "
    "conversations live there) and checks JWT_SECRET, and answers 503 with the reason otherwise.",
)
def test_health(app, start_app):
    check_health_ready(app, start_app)


@criterion(
    "p7.openapi",
    OPENAPI,
    hint="Give every route a summary and a docstring; declare its error statuses (responses=, with "
    "the ErrorResponse model and an example: app/docs.py) — 401 on every authenticated route, 422 "
    "where there is input, 404 on /{conversation_id}, 429 and 502 where a model is called — and "
    "an example on every request and response body.",
)
def test_openapi(app):
    doc = openapi(app)
    missing = [f"{m} {p}" for m, p in ROUTES if operation(doc, m, p) is None]
    check(not missing, f"the OpenAPI document has no {', '.join(missing)}")
    schemes = bearer_schemes(doc)
    check(schemes, "the OpenAPI document declares no bearer security scheme (HTTPBearer as the auth dependency)")
    problems: list[str] = []
    for method, path in ROUTES:
        op = operation(doc, method, path)
        where = f"{method} {path}"
        if not str(op.get("summary") or "").strip():
            problems.append(f"{where} has no summary")
        if not str(op.get("description") or "").strip():
            problems.append(f"{where} has no description (the endpoint's docstring)")
        responses = op.get("responses") or {}
        need = set()
        if (method, path) not in UNAUTHENTICATED:
            need.add("401")
            security = op.get("security", doc.get("security")) or []
            if not any(set(s) & schemes for s in security if isinstance(s, dict)):
                problems.append(f"{where} does not say it needs the bearer token (security)")
        if op.get("requestBody") or op.get("parameters"):
            need.add("422")
        if "{" in path:
            need.add("404")
        if (method, path) in CALLS_MODEL:
            need |= {"429", "502"}
        for code in sorted(need):
            if code not in responses:
                problems.append(f"{where} does not document its {code} response")
                continue
            media = ((responses[code].get("content") or {}).get("application/json")) or {}
            if not schema_has_error_shape(doc, media.get("schema")):
                problems.append(f"{where}: the documented {code} is not the error body {{\"error\": {{type, message, request_id}}}}")
            elif not example_of(doc, media):
                problems.append(f"{where}: the documented {code} has no example")
        for code, response in responses.items():
            media = (response.get("content") or {}).get("application/json") if isinstance(response, dict) else None
            if str(code).startswith("2") and media is not None and not example_of(doc, media):
                problems.append(f"{where}: the {code} response has no example")
        body = ((op.get("requestBody") or {}).get("content") or {}).get("application/json")
        if body is not None and not example_of(doc, body):
            problems.append(f"{where}: the request body has no example")
        if path.endswith("/stream") and "text/event-stream" not in ((responses.get("200") or {}).get("content") or {}):
            problems.append(f"{where}: the 200 response does not say it is text/event-stream")
    check(
        not problems,
        f"{len(problems)} gap(s) in the OpenAPI document: " + short("; ".join(problems[:3]), 380) + (" …" if len(problems) > 3 else ""),
    )


@criterion(
    "p7.contract",
    OPENAPI,
    hint="schemathesis sends generated requests to every operation of /openapi.json: no answer may "
    "be a 5xx, and each must be a documented status whose body matches the documented schema "
    "(422s and 404s in the error body, not FastAPI's default {\"detail\": ...}).",
)
def test_contract(start_app):
    fuzzed = started(
        start_app,
        {"RATE_LIMIT_FREE": "100000/minute", "RATE_LIMIT_PREMIUM": "100000/minute", **FAST_RETRIES},
        "app-fuzzed",
        "with high rate limits",
    )
    _, token = user_token(fuzzed)
    report = fuzz_api(
        fuzzed.url,
        {"Authorization": f"Bearer {token}"},
        max_examples=FUZZ_EXAMPLES,
        timeout_s=FUZZ_TIMEOUT_S,
        seed=FUZZ_SEED,  # the same requests every run: a learner's result does not depend on luck
    )
    check(report.error is None, f"schemathesis could not test the API: {report.error}")
    check(report.cases > 0, "schemathesis sent no request: does /openapi.json list the operations?")
    more = f" (and {len(report.problems) - 1} more)" if len(report.problems) > 1 else ""
    check(
        not report.problems,
        f"schemathesis found {len(report.problems)} problem(s) in {report.cases} requests{more}: {short(report.problems[0] if report.problems else '', 360)}",
    )


FUZZ_EXAMPLES = 25
FUZZ_TIMEOUT_S = 120
FUZZ_SEED = 20261126


@criterion(
    "p7.compose",
    COMPOSE,
    hint="docker-compose.yml: the API (build: ., env_file: .env, REDIS_URL=redis://redis:6379/0, "
    "depends_on: redis: condition: service_healthy) and a redis service with a healthcheck "
    "(redis-cli ping) and a volume: everything the service needs to run.",
)
def test_compose(project):
    check_compose_redis(project)
    example = project.read(".env.example") or ""
    names = set(re.findall(r"^\s*#?\s*([A-Z][A-Z0-9_]*)=", example, re.M))
    missing = [v for v in ("STORE", "HISTORY_TOKEN_BUDGET") if v not in names]
    check(not missing, f".env.example does not list {', '.join(missing)}")


@criterion(
    "p7.readme",
    README,
    hint="README.md: a `## Components` section with one `###` subsection per component (LiteLLM, "
    "streaming, JWT, rate limits, conversations, retries, logging, health, OpenAPI, compose, "
    "configuration), each saying what it does and **Why:** it exists; every variable of "
    ".env.example and every route (`POST /v1/chat`) described.",
)
def test_readme(project, app):
    text = project.read("README.md")
    check(text, "README.md is missing")
    section = components_section(text)
    check(section is not None, "README.md has no `## Components` section")
    subs = subsections(section)
    missing, thin, no_why = [], [], []
    for name, words in COMPONENTS.items():
        found = [(title, body) for title, body in subs if any(w in title.lower() for w in words)]
        if not found:
            missing.append(name)
            continue
        body = found[0][1]
        if len(re.findall(r"\w+", body)) < MIN_WORDS:
            thin.append(name)
        if not re.search(r"\bwhy\b", body, re.I):
            no_why.append(name)
    check(not missing, f"README.md's Components section has no ### subsection for: {', '.join(missing)}")
    check(not thin, f"README.md's Components subsections are too short (under {MIN_WORDS} words) for: {', '.join(thin)}")
    check(not no_why, f"README.md's Components subsections do not say why the component exists for: {', '.join(no_why)}")
    example = project.read(".env.example") or ""
    names = sorted(set(re.findall(r"^\s*#?\s*([A-Z][A-Z0-9_]*)=", example, re.M)))
    undocumented = [n for n in names if n not in text]
    check(not undocumented, f"README.md does not explain these .env.example variables: {', '.join(undocumented)}")
    doc = openapi(app)
    absent = []
    for path, item in doc["paths"].items():
        for method in item if isinstance(item, dict) else {}:
            if method.upper() not in ("GET", "POST", "PUT", "PATCH", "DELETE"):
                continue
            pattern = re.escape(method.upper()) + r"\s+`?" + re.sub(r"\\\{[^}]*\\\}", r"\\{[^}]*\\}", re.escape(path)) + r"(?![\w/{])"
            if not re.search(pattern, text):
                absent.append(f"{method.upper()} {path}")
    check(not absent, f"README.md does not describe {', '.join(absent)} (write routes as `METHOD /path`)")


# -- Learning Validation ----------------------------------------------------------------------------

@criterion(
    "p7.explain",
    EXPLAIN,
    hint="Answer the `why-…` questions in quiz.yaml (README.md's Components section has the reasons).",
)
def test_explain(project):
    check_quiz_file(project, QUIZ_EXPLAIN)


@criterion(
    "p7.debug-logs",
    DEBUG,
    hint="A failed request must be explainable from its log lines alone: every failed attempt "
    "(tenacity's before_sleep), every fallback and the final error logged with the request id "
    "and the model or provider; then answer the `debug-…` questions in quiz.yaml.",
)
def test_debug_logs(project, app, sim):
    _, token = user_token(app)
    sim.clear_requests()
    sim.add_fault(provider="*", kind="http", status=529)
    try:
        r, lines = request_window(app, lambda: chat(app, token))
    finally:
        sim.clear_faults()
    calls = generations(sim)
    check(r.status_code == 502, f"with every provider overloaded, POST {CHAT} answered {r.status_code}; expected 502")
    body = json_or_none(r)
    rid = (body.get("error") or {}).get("request_id") if isinstance(body, dict) else None
    check(rid and rid == r.headers.get("x-request-id"), "the 502's error.request_id is not its X-Request-ID header")
    mine = [json_line(line) or {} for line in lines if rid in line]
    access = [d for d in mine if is_access_line(d, "POST", CHAT, 502)]
    check(access, f"no log line of request {rid} has its method, path, status (502) and duration")
    others = [d for d in mine if d not in access]
    check(
        len(others) >= len(calls),
        f"the request made {len(calls)} provider calls, all failed, but its log has {len(others)} line(s) besides "
        "the access line: log every failed attempt, every fallback and the final error, with the request id",
    )
    text = " ".join(str(d) for d in others)
    unnamed = [m for m, p in PROVIDER_OF.items() if m not in text and p not in text]
    check(not unnamed, f"the log lines of the failed request never name {', '.join(unnamed)}: say which model or provider failed")
    check_quiz_file(project, QUIZ_DEBUG)


@criterion(
    "p7.extend",
    EXTEND,
    hint="GET /v1/usage (README.md, \"Extending it\"): count each answered model call and its "
    "provider-reported tokens per user, in Redis (HINCRBY), from /v1/chat, /v1/chat/stream and "
    "both conversation message endpoints.",
)
def test_extend(app, sim):
    user, token = user_token(app)
    r = app.get(USAGE, headers=bearer(token), timeout=TIMEOUT_S)
    check(r.status_code == 200, f"GET {USAGE} answered {r.status_code}: {short(r.text)}")
    before = json_or_none(r) or {}
    check(
        before.get("requests") == 0 and before.get("user") == user,
        f"GET {USAGE} for a new user answered {short(r.text)}; expected user {user!r} and 0 requests",
    )
    sim.clear_requests()
    check(chat(app, token).status_code == 200, f"POST {CHAT} failed")
    stream_ok(app, token, STREAM, {"message": f"Count me {nonce()}"})
    cid = create(app, bearer(token), "no system prompt")["id"]
    send(app, bearer(token), cid, f"Count me too {nonce()}")
    stream_ok(app, token, f"{CONVS}/{cid}/messages/stream", {"content": f"And me {nonce()}"})
    entries = ok_generations(sim)
    expected = {
        "input_tokens": sum(e.get("input_tokens") or 0 for e in entries),
        "output_tokens": sum(e.get("output_tokens") or 0 for e in entries),
    }
    r = app.get(USAGE, headers=bearer(token), timeout=TIMEOUT_S)
    data = json_or_none(r) or {}
    check(
        data.get("requests") == len(entries),
        f"after {len(entries)} model calls (sync, stream, conversation, streamed conversation), GET {USAGE} says "
        f"{data.get('requests')!r} requests",
    )
    check(
        data.get("usage") == expected,
        f"GET {USAGE} says {data.get('usage')!r}; the provider counted {expected} over those calls",
    )
    _, other = user_token(app)
    r = app.get(USAGE, headers=bearer(other), timeout=TIMEOUT_S)
    check((json_or_none(r) or {}).get("requests") == 0, f"another user's GET {USAGE} answered {short(r.text)}: usage is per user")


@criterion(
    "p7.next",
    READY_FOR_MORE,
    hint="Answer the `rag-…` and `agent-…` questions in quiz.yaml (README.md, \"Extending it\").",
)
def test_next(project):
    check_quiz_file(project, QUIZ_NEXT)
