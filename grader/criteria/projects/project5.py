"""Project 5: Production-Ready Chat Backend.

The app runs as ``uvicorn app.main:app`` against the run's llmsim and a Redis (the
session's ``REDIS_URL``). Tokens are minted here with the app's own ``JWT_SECRET``, for
random user ids, so runs sharing one Redis never share a budget (the Redis is never
flushed). Rate limits are graded behaviourally: small limits through the environment,
two app processes on one Redis, and a restart. Retries are read from llmsim's journal
(each request's start and end times); the request id from the app's log lines and from the
headers llmsim saw.
"""

from __future__ import annotations

import time

import jwt

from grader.checks import sse
from grader.checks.auth import AuthedApp, bad_tokens, bearer, budget, chat, check_401, mint, user_id
from grader.checks.http import error_body_problem, json_or_none, nonce, short
from grader.checks.journal import generations
from grader.checks.logs import check_request_id_logs, check_request_id_upstream
from grader.checks.ops import check_compose_redis, check_health_ready
from grader.criterion import check, criterion

ENDPOINTS = "All endpoints from previous projects"
JWT_AUTH = "JWT authentication"
TIERS = "Rate limiting (different tiers)"
RETRIES = "Retry logic with exponential backoff"
LOGGING = "Structured logging with request IDs"
HEALTH = "`/health` and `/ready` endpoints"
ERRORS = "Proper error responses"
REDIS = "Redis for rate limit storage"
COMPOSE = "docker-compose with Redis service"
REJECT = "Protected endpoints reject unauthenticated requests"
LIMITS_WORK = "Rate limits work correctly"
RETRY_WORKS = "Failed requests retry automatically"
TRACE = "Can trace a request through logs"

CHAT = "/v1/chat"
STREAM = "/v1/chat/stream"
MODELS_PATH = "/v1/models"
TIMEOUT_S = 20
# Small budgets, so a limit is used up in a handful of requests (for the apps started here).
FREE, PREMIUM = 3, 6
LIMITS = {"RATE_LIMIT_FREE": f"{FREE}/minute", "RATE_LIMIT_PREMIUM": f"{PREMIUM}/minute"}


# -- helpers --------------------------------------------------------------------------------------


# -- endpoints and auth ---------------------------------------------------------------------------

@criterion(
    "p5.endpoints",
    ENDPOINTS,
    hint="Keep Project 4's POST /v1/chat, POST /v1/chat/stream and GET /v1/models, now with a "
    "`user: CurrentUser` dependency: a request with a valid bearer token must work as before.",
)
def test_endpoints(app, sim):
    token = mint(app)
    r = app.get(MODELS_PATH, headers=bearer(token))
    check(r.status_code == 200, f"GET {MODELS_PATH} with a valid token answered {r.status_code}: {short(r.text, 100)}")
    data = json_or_none(r)
    check(
        isinstance(data, dict) and isinstance(data.get("data"), list) and data["data"],
        f"GET {MODELS_PATH} did not list the models: {short(r.text, 100)}",
    )
    r = chat(app, token, message=f"Production hello {nonce()}")
    check(r.status_code == 200, f"POST {CHAT} with a valid token answered {r.status_code}: {short(r.text, 100)}")
    body = json_or_none(r)
    source = [e for e in generations(sim) if e.get("outcome") == "ok"]
    check(source, f"POST {CHAT} answered without a provider being called")
    check(
        isinstance(body, dict) and body.get("content") == source[-1].get("reply"),
        f"POST {CHAT} answered {short(r.text, 100)}; the provider replied {short(source[-1].get('reply'), 80)!r}",
    )
    result = sse.read_stream(AuthedApp(app, token), STREAM, {"message": f"Stream me {nonce()}"}, timeout=TIMEOUT_S)
    check(
        result.status == 200 and result.is_sse,
        f"POST {STREAM} with a valid token answered {result.status} {result.content_type or ''}: "
        f"{short(result.body.decode('utf-8', 'replace'), 100)}",
    )
    check(result.format_error is None, f"POST {STREAM}: {result.format_error}")
    check(result.tokens and result.of_type("done"), f"POST {STREAM} sent no token events or no done event")


@criterion(
    "p5.jwt-auth",
    JWT_AUTH,
    hint="jwt.decode(token, JWT_SECRET, algorithms=[\"HS256\"], options={\"require\": [\"exp\", \"sub\"]}); "
    "any failure (no header, malformed, tampered, expired, alg none, wrong secret, no exp) raises "
    "the error that answers 401 with WWW-Authenticate: Bearer and the error body.",
)
def test_jwt_auth(app, sim):
    for what, headers in bad_tokens(app):
        check_401(app.get(MODELS_PATH, headers=headers), what)
    r = app.get(MODELS_PATH, headers=bearer(mint(app, tier="premium")))
    check(r.status_code == 200, f"GET {MODELS_PATH} with a valid token answered {r.status_code}: {short(r.text, 100)}")


@criterion(
    "p5.reject-unauthenticated",
    REJECT,
    hint="Every /v1 endpoint takes the auth dependency (`user: CurrentUser`): without a valid "
    "bearer token it answers 401 before anything else runs, and no provider is called.",
)
def test_reject_unauthenticated(app, sim):
    r = chat(app, mint(app))
    check(
        r.status_code == 200,
        f"POST {CHAT} with a valid token answered {r.status_code}: a protected endpoint must still let its users in: "
        f"{short(r.text, 100)}",
    )
    sim.clear_requests()
    for what, headers in bad_tokens(app)[:1] + bad_tokens(app)[5:6]:
        for path in (CHAT, STREAM):
            r = app.post(path, json={"message": f"Let me in {nonce()}"}, headers=headers, timeout=TIMEOUT_S)
            check_401(r, f"{what} on POST {path}")
        check_401(app.get(MODELS_PATH, headers=headers), f"{what} on GET {MODELS_PATH}")
    check(not generations(sim), "an unauthenticated request still reached the provider")


# -- rate limits ----------------------------------------------------------------------------------

@criterion(
    "p5.rate-limit-tiers",
    TIERS,
    hint="Key the limit by the verified user (the token's sub), and give each tier its limit from "
    "RATE_LIMIT_FREE / RATE_LIMIT_PREMIUM: @limiter.shared_limit(limit_for_key, scope=...), where "
    "limit_for_key(key) reads the tier (SlowAPI passes the key, not the request).",
)
def test_rate_limit_tiers(app):
    # The app's own limits (RATE_LIMIT_FREE=5/minute, RATE_LIMIT_PREMIUM=20/minute by default):
    # counted here, not assumed, so only "premium gets more than free" is required.
    free = budget(app, mint(app, tier="free"), "a free user")
    r = chat(app, mint(app, tier="free"))
    check(
        r.status_code == 200,
        f"another free user's first request answered {r.status_code} after the first user used up their budget: "
        "the limit must be per user (the token's sub), not per IP or global",
    )
    premium = budget(app, mint(app, tier="premium"), "a premium user")
    check(
        premium > free,
        f"a premium user got {premium} requests, a free user {free}: the premium tier must get its higher limit "
        "(RATE_LIMIT_PREMIUM)",
    )


@criterion(
    "p5.rate-limit-redis",
    REDIS,
    hint="Limiter(key_func=..., storage_uri=REDIS_URL): the counters live in Redis, so two app "
    "processes share one budget per user and a restart forgets nothing (memory:// gives each "
    "process its own).",
)
def test_rate_limit_redis(start_app):
    first = start_app(env=LIMITS, name="worker1")
    second = start_app(env=LIMITS, name="worker2")
    sub = user_id()
    token = mint(first, sub)
    for n, app in enumerate([first] * (FREE - 1) + [second], start=1):
        r = chat(app, token)
        check(r.status_code == 200, f"request {n} of a free user (limit {FREE}/minute) answered {r.status_code}: {short(r.text, 100)}")
    r = chat(second, token)
    check(
        r.status_code == 429,
        f"after {FREE} requests spread over two app processes on one Redis, the next answered {r.status_code}; "
        "expected 429: the processes must share one budget in Redis",
    )
    first.stop()
    second.stop()
    third = start_app(env=LIMITS, name="restarted")
    r = chat(third, token)
    check(
        r.status_code == 429,
        f"after a restart, a user who had used up their budget got {r.status_code}; expected 429: the count must survive a restart",
    )


@criterion(
    "p5.rate-limit-429",
    LIMITS_WORK,
    hint="Over the limit: 429, a Retry-After header (seconds), the one error body, and no provider "
    "call (the limit is checked before the endpoint runs).",
)
def test_rate_limit_429(app, sim):
    token = mint(app, tier="free")
    n = 0
    while n < 40:
        n += 1
        sim.clear_requests()
        r = chat(app, token)
        if r.status_code != 200:
            break
    check(r.status_code == 429, f"40 requests in a row by one free user never got 429 (the last answered {r.status_code})")
    check(n > 1, "the very first request of a new user answered 429")
    check(not generations(sim), "the request answered 429 still called the provider")
    value = r.headers.get("retry-after", "")
    check(value.isdigit() and int(value) > 0, f"the 429 has Retry-After {value or '(none)'!r}; expected a number of seconds")
    problem = error_body_problem(r)
    check(problem is None, f"the 429: {problem}")
    r = app.post(STREAM, json={"message": "hi"}, headers=bearer(token), timeout=TIMEOUT_S)
    check(r.status_code == 429, f"POST {STREAM} by a user over the limit answered {r.status_code}; expected 429")


# -- retries --------------------------------------------------------------------------------------

@criterion(
    "p5.retries",
    RETRIES,
    hint="Wrap the provider call in tenacity: stop_after_attempt(RETRY_ATTEMPTS), "
    "wait_exponential(RETRY_BASE_S ...), retry only on transient errors (429, 5xx, timeouts, "
    "connection errors), never on 400/401; turn LiteLLM's and the SDK's own retries off.",
)
def test_retries(app, sim):
    # the documented defaults: RETRY_ATTEMPTS=3, RETRY_BASE_S=0.5 (waits of about 0.5 s, then 1 s)
    token = mint(app)
    sim.clear_requests()
    sim.add_fault(provider="*", kind="http", status=529, times=2)
    r = chat(app, token)
    entries = generations(sim)
    check(
        len(entries) == 3,
        f"with the provider overloaded (529) twice, then well, it was called {len(entries)} time(s); expected 3 "
        "(RETRY_ATTEMPTS defaults to 3)",
    )
    check(r.status_code == 200, f"after two 529s and a success, POST {CHAT} answered {r.status_code}: {short(r.text, 100)}")
    gaps = [entries[i + 1]["started_at"] - entries[i]["ended_at"] for i in range(2)]
    check(gaps[0] >= 0.2, f"the first retry came {gaps[0]:.2f} s after the failure; wait RETRY_BASE_S (0.5 s by default) first")
    check(
        gaps[1] >= 1.5 * gaps[0],
        f"the waits before the retries were {gaps[0]:.2f} s then {gaps[1]:.2f} s; exponential back-off doubles them",
    )
    sim.clear_requests()
    sim.clear_faults()
    sim.add_fault(provider="*", kind="http", status=529)
    r = chat(app, token)
    sim.clear_faults()
    entries = generations(sim)
    check(
        len(entries) == 3,
        f"with the provider always overloaded the app called it {len(entries)} times; expected exactly "
        "RETRY_ATTEMPTS (3) (are the SDK's or LiteLLM's own retries still on?)",
    )
    check(r.status_code == 502, f"after every attempt failed with 529, POST {CHAT} answered {r.status_code}; expected 502")
    sim.clear_requests()
    sim.add_fault(provider="*", kind="http", status=400, times=1)
    r = chat(app, token)
    entries = generations(sim)
    check(len(entries) == 1, f"a 400 from the provider was tried {len(entries)} times; a 400 must not be retried")
    check(r.status_code >= 400, f"a 400 from the provider answered {r.status_code}")


@criterion(
    "p5.retry-recovers",
    RETRY_WORKS,
    hint="A transient provider failure (a 529 overload) is retried by your policy and the client "
    "gets the reply: 200, not 502.",
)
def test_retry_recovers(app, sim):
    token = mint(app)
    sim.clear_requests()
    sim.add_fault(provider="*", kind="http", status=529, times=1)
    r = chat(app, token)
    sim.clear_faults()
    entries = generations(sim)
    check(
        r.status_code == 200,
        f"with the provider overloaded (529) once, POST {CHAT} answered {r.status_code}; retry it: {short(r.text, 100)}",
    )
    check(len(entries) == 2, f"with the provider overloaded once it was called {len(entries)} times; expected 2")


# -- logs and request ids -------------------------------------------------------------------------

@criterion(
    "p5.request-id-logs",
    LOGGING,
    hint="A middleware takes X-Request-ID (or makes one), binds it with "
    "structlog.contextvars.bind_contextvars(request_id=...), sets it on the response, and logs "
    "one JSON line per request with method, path, status and duration_ms.",
)
def test_request_id_logs(app, sim):
    check_request_id_logs(app, sim)


@criterion(
    "p5.request-id-upstream",
    TRACE,
    hint="Pass the request id to the provider call: router.acompletion(..., extra_headers="
    "{\"x-request-id\": request_id}), so the provider's logs can be joined with yours.",
)
def test_request_id_upstream(app, sim):
    check_request_id_upstream(app, sim)


# -- health, errors, compose ----------------------------------------------------------------------

@criterion(
    "p5.health-ready",
    HEALTH,
    hint="/health answers 200 while the process is up; /ready pings Redis (and checks the "
    "configuration) and answers 503 with the reason when something is not usable.",
)
def test_health_ready(app, start_app):
    check_health_ready(app, start_app)


@criterion(
    "p5.errors",
    ERRORS,
    hint="Every failure answers the one error body {\"error\": {type, message, request_id}}: "
    "no stack trace, no secret, and never a token (not in the body, not in the log).",
)
def test_errors(app, sim):
    token = mint(app)
    stolen = jwt.encode({"sub": user_id(), "tier": "premium", "exp": int(time.time()) + 600}, "y" * 40, algorithm="HS256")
    cases = [
        ("an invalid body", lambda: app.post(CHAT, json={"nope": 1}, headers=bearer(token), timeout=TIMEOUT_S), 422),
        ("a wrongly signed token", lambda: app.get(MODELS_PATH, headers=bearer(stolen)), 401),
    ]
    for what, send, status in cases:
        r = send()
        check(r.status_code == status, f"{what} answered {r.status_code}; expected {status}")
        problem = error_body_problem(r)
        check(problem is None, f"{what}: {problem}")
    sim.add_fault(provider="*", kind="http", status=400)
    r = chat(app, token)
    sim.clear_faults()
    check(r.status_code == 502, f"a 400 from the provider answered {r.status_code}; expected 502")
    problem = error_body_problem(r)
    check(problem is None, f"a provider failure: {problem}")
    logs = app.logs()
    body_leaks = [s for s in app.secrets if s in r.text]
    check(not body_leaks, "an error body contains a secret")
    for what, value in (("a valid token", token), ("a rejected token", stolen)):
        check(value not in logs and value.split(".")[2] not in logs, f"{what} appears in the app's log: never log credentials")
    check(not [s for s in app.secrets if s in logs], "a secret (an API key or JWT_SECRET) appears in the app's log")


@criterion(
    "p5.compose-redis",
    COMPOSE,
    hint="docker-compose.yml: a redis service with a healthcheck (redis-cli ping); the app with "
    "env_file: .env, REDIS_URL=redis://redis:6379/0 and depends_on: redis: condition: "
    "service_healthy. List every variable in .env.example.",
)
def test_compose_redis(project):
    check_compose_redis(project)
