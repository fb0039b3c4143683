"""Project 5: Production-Ready Chat Backend.

The app runs as ``uvicorn app.main:app`` against the run's llmsim and a Redis (the
session's ``REDIS_URL``). Tokens are minted here with the app's own ``JWT_SECRET``, for
random user ids, so runs sharing one Redis never share a budget (the Redis is never
flushed). Rate limits are graded behaviourally (exact budgets per tier, two app processes
on one Redis, a restart) and in Redis itself (the user's key and its TTL). Retries are read
from llmsim's journal (how many attempts, on which provider, each request's start and end
times); the request id from the app's log lines and from the headers llmsim saw.
"""

from __future__ import annotations

import math
import os
import re
import secrets
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import jwt

from grader.checks import compose, sse
from grader.checks.auth import (
    AuthedApp,
    bad_tokens,
    bearer,
    budget,
    chat,
    check_401,
    mint,
    secret_of,
    user_id,
)
from grader.checks.http import FRESH, error_body_problem, json_or_none, nonce, short
from grader.checks.journal import generations
from grader.checks.logs import (
    check_request_id_logs,
    check_request_id_upstream,
    is_access_line,
    json_line,
    request_window,
)
from grader.checks.ops import DEAD_REDIS, check_compose_redis
from grader.checks.ratelimit_store import keys_with_ttl
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
# The README's defaults, which the shared app runs with.
DEFAULT_FREE, DEFAULT_PREMIUM = 5, 20
# Small budgets, so a limit is used up in a handful of requests (for the apps started here),
# written in two of the `limits` notations the README names.
FREE, PREMIUM = 3, 6
LIMITS = {"RATE_LIMIT_FREE": f"{FREE} per 1 minute", "RATE_LIMIT_PREMIUM": f"{PREMIUM}/minute"}
WINDOW_S = 60
# One model per provider (Project 4's catalogue): faults aimed at one provider let requests
# to the three run at once without touching each other.
MODEL_OF = {"anthropic": "claude-haiku-4-5", "openai": "gpt-4o-mini", "openrouter": "llama-3.3-70b"}
# A policy unlike the defaults, for an app started here: attempts, first wait and cap.
# Waits are measured from below (an overloaded machine only lengthens them), so the first wait
# is longer than the default's and the cap is well under the uncapped second wait (1.6 s).
POLICY = {"RETRY_ATTEMPTS": "4", "RETRY_BASE_S": "0.8", "RETRY_MAX_S": "0.8", "LLM_TIMEOUT_S": "0.5"}
DEAD_URL = "http://127.0.0.1:1/api/v1"


# -- helpers --------------------------------------------------------------------------------------


def of_provider(sim, provider: str) -> list[dict]:
    return [e for e in generations(sim) if e.get("provider") == provider]


def gaps_of(entries: list[dict]) -> list[float]:
    return [entries[i + 1]["started_at"] - entries[i]["ended_at"] for i in range(len(entries) - 1)]


def in_parallel(*calls):
    """Run the calls at once (each in a thread); their results in order."""
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(c) for c in calls]
        return [f.result() for f in futures]


def error_type(r) -> str | None:
    data = json_or_none(r)
    error = data.get("error") if isinstance(data, dict) else None
    return error.get("type") if isinstance(error, dict) else None


def check_error(r, what: str, status: int, kind: str | None = None) -> None:
    """``r`` is ``status`` with the one error body, its request id the X-Request-ID header's."""
    check(r.status_code == status, f"{what} answered {r.status_code}; expected {status}: {short(r.text, 100)}")
    problem = error_body_problem(r)
    check(problem is None, f"{what}: {problem}")
    body_id = json_or_none(r)["error"]["request_id"]
    header_id = r.headers.get("x-request-id")
    check(
        body_id == header_id,
        f"{what}: error.request_id is {body_id!r} but the X-Request-ID header is {header_id!r}; they must be the same id",
    )
    if kind is not None:
        check(error_type(r) == kind, f"{what}: error.type is {error_type(r)!r}; expected {kind!r}")


def check_unauthorized(r, what: str) -> None:
    check_401(r, what)
    check(error_type(r) == "unauthorized", f"the 401 for {what} has error.type {error_type(r)!r}; expected 'unauthorized'")


def edge_tokens(app) -> list[tuple[str, dict]]:
    """Tokens wrong only at a boundary: expiry now or just past, no sub, another HMAC algorithm."""
    now = int(time.time())
    sub = user_id()
    secret = secret_of(app)
    return [
        ("a token whose exp is exactly now", bearer(mint(app, sub, ttl=0))),
        ("a token that expired 2 s ago", bearer(mint(app, sub, ttl=-2))),
        ("a token without sub", bearer(jwt.encode({"tier": "free", "exp": now + 600}, secret, algorithm="HS256"))),
        ("a token signed with the right secret but HS512", bearer(jwt.encode({"sub": sub, "exp": now + 600}, secret, algorithm="HS512"))),
    ]


def pyjwt_reason(headers: dict, secret: str) -> str | None:
    """What PyJWT says is wrong with the bearer token in ``headers`` (None: no token, or none wrong)."""
    auth = headers.get("Authorization", "")
    if not auth.startswith("Bearer "):
        return None
    try:
        jwt.decode(auth[7:], secret, algorithms=["HS256"], options={"require": ["exp", "sub"]})
    except jwt.InvalidTokenError as exc:
        return str(exc) or None
    return None


def mint_with_cli(project, secret: str, sub: str, ttl: int = 120):
    """Run the app's token CLI for a premium ``sub``; (the finished process, the JWT_TTL_S it was given)."""
    root = str(project.root)
    env = {
        **os.environ,
        "JWT_SECRET": secret,
        "JWT_TTL_S": str(ttl),
        "PYTHONPATH": root,
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "app.tokens", "--sub", sub, "--tier", "premium"],
        cwd=root, env=env, capture_output=True, text=True, timeout=60,
    )
    return proc, ttl


def retry_after_of(r) -> int | None:
    value = r.headers.get("retry-after", "").strip()
    return int(value) if value.isdigit() else None


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
    sim.clear_requests()
    r = chat(app, token, message=f"Production hello {nonce()}")
    check(r.status_code == 200, f"POST {CHAT} with a valid token answered {r.status_code}: {short(r.text, 100)}")
    body = json_or_none(r)
    source = generations(sim)
    check(source, f"POST {CHAT} answered without a provider being called")
    check(len(source) == 1, f"one POST {CHAT} with the provider well called it {len(source)} times; expected exactly once")
    check(
        isinstance(body, dict) and body.get("content") == source[-1].get("reply"),
        f"POST {CHAT} answered {short(r.text, 100)}; the provider replied {short(source[-1].get('reply'), 80)!r}",
    )
    sim.clear_requests()
    r = chat(app, token, model=MODEL_OF["openrouter"])
    check(r.status_code == 200, f"POST {CHAT} for {MODEL_OF['openrouter']} answered {r.status_code}: {short(r.text, 100)}")
    sent = of_provider(sim, "openrouter")
    seen = {k.lower(): v for k, v in ((sent[-1].get("headers") or {}) if sent else {}).items()}
    check(
        seen.get("http-referer") and seen.get("x-title"),
        "the OpenRouter request carried no HTTP-Referer or X-Title (OPENROUTER_SITE_URL, OPENROUTER_APP_NAME): "
        "keep Project 4's attribution headers",
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
    hint="jwt.decode(token, JWT_SECRET, algorithms=[\"HS256\"], options={\"require\": [\"exp\", \"sub\"]}) "
    "with no leeway; any failure (no header, malformed, tampered, expired even by a second, alg none, "
    "another algorithm, wrong secret, no exp, no sub) raises the error that answers 401 with "
    "WWW-Authenticate: Bearer and the error body of type unauthorized. A token without tier is free.",
)
def test_jwt_auth(app, sim, project):
    with ThreadPoolExecutor(max_workers=1) as pool:
        cli_sub = user_id()
        minted = pool.submit(mint_with_cli, project, secret_of(app), cli_sub)
        for what, headers in bad_tokens(app) + edge_tokens(app):
            r = app.get(MODELS_PATH, headers=headers)
            check_unauthorized(r, what)
            reason = pyjwt_reason(headers, secret_of(app))
            check(
                not reason or reason not in r.text,
                f"the 401 for {what} tells the caller PyJWT's reason ({reason!r}): why exactly it failed goes to the log, not to the caller",
            )
        proc, ttl = minted.result()
    check(proc.returncode == 0, f"python -m app.tokens --sub {cli_sub} --tier premium exited with {proc.returncode}: {short(proc.stderr, 200)}")
    token = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, secret_of(app), algorithms=["HS256"], options={"require": ["exp", "sub"]})
    except jwt.InvalidTokenError as exc:
        check(False, f"python -m app.tokens printed {short(token, 80)!r}, not an HS256 token signed with JWT_SECRET: {exc}")
    check(
        header.get("alg") == "HS256" and claims.get("sub") == cli_sub and claims.get("tier") == "premium",
        f"python -m app.tokens --sub {cli_sub} --tier premium minted the claims {short(claims, 120)}",
    )
    check(
        abs(claims["exp"] - time.time() - ttl) <= 30,
        f"with JWT_TTL_S={ttl} python -m app.tokens minted a token that expires in {claims['exp'] - time.time():.0f} s",
    )
    r = app.get(MODELS_PATH, headers=bearer(token))
    check(r.status_code == 200, f"GET {MODELS_PATH} with a token from python -m app.tokens answered {r.status_code}")
    now = int(time.time())
    secret = secret_of(app)
    for what, token in (
        ("a premium token", mint(app, tier="premium")),
        ("a token that expires in 10 s", mint(app, ttl=10)),
        ("a token without a tier claim (free)", jwt.encode({"sub": user_id(), "exp": now + 600}, secret, algorithm="HS256")),
    ):
        r = app.get(MODELS_PATH, headers=bearer(token))
        check(r.status_code == 200, f"GET {MODELS_PATH} with {what} answered {r.status_code}: {short(r.text, 100)}")


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
    bad = bad_tokens(app)
    edge = edge_tokens(app)
    for what, headers in [bad[0], bad[5], edge[0], edge[2]]:
        for path in (CHAT, STREAM):
            r = app.post(path, json={"message": f"Let me in {nonce()}"}, headers=headers, timeout=TIMEOUT_S)
            check_unauthorized(r, f"{what} on POST {path}")
        check_unauthorized(app.get(MODELS_PATH, headers=headers), f"{what} on GET {MODELS_PATH}")
    check(not generations(sim), "an unauthenticated request still reached the provider")


# -- rate limits ----------------------------------------------------------------------------------

@criterion(
    "p5.rate-limit-tiers",
    TIERS,
    hint="Key the limit by the verified user (the token's sub), and give each tier its limit from "
    "RATE_LIMIT_FREE / RATE_LIMIT_PREMIUM (defaults 5/minute and 20/minute; a token without tier is "
    "free): @limiter.shared_limit(limit_for_key, scope=...), where limit_for_key(key) reads the tier "
    "(SlowAPI passes the key, not the request).",
)
def test_rate_limit_tiers(app):
    sub = user_id()
    untiered = jwt.encode({"sub": user_id(), "exp": int(time.time()) + 600}, secret_of(app), algorithm="HS256")
    free, n, premium = in_parallel(
        lambda: budget(app, mint(app, sub, tier="free"), "a free user"),
        lambda: budget(app, untiered, "a user whose token has no tier"),
        lambda: budget(app, mint(app, tier="premium"), "a premium user"),
    )
    check(
        free == DEFAULT_FREE,
        f"a free user got {free} requests before a 429; expected exactly {DEFAULT_FREE} (RATE_LIMIT_FREE defaults to 5/minute)",
    )
    r = chat(app, mint(app, sub, tier="free"))
    check(
        r.status_code == 429,
        f"a new token for a free user who had used up their budget answered {r.status_code}; expected 429: "
        "the budget belongs to the user (the token's sub), not to the token",
    )
    r = chat(app, mint(app, tier="free"))
    check(
        r.status_code == 200,
        f"another free user's first request answered {r.status_code} after the first user used up their budget: "
        "the limit must be per user (the token's sub), not per IP or global",
    )
    check(
        n == DEFAULT_FREE,
        f"a user whose token has no tier claim got {n} requests before a 429; expected the free tier's {DEFAULT_FREE}",
    )
    check(
        premium == DEFAULT_PREMIUM,
        f"a premium user got {premium} requests before a 429 (a free user {free}); expected exactly "
        f"{DEFAULT_PREMIUM} (RATE_LIMIT_PREMIUM defaults to 20/minute)",
    )


@criterion(
    "p5.rate-limit-redis",
    REDIS,
    hint="Limiter(key_func=..., storage_uri=REDIS_URL): the counters live in Redis under a key with "
    "\"<tier>:<sub>\" in it and an expiry (the window), so two app processes share one budget per "
    "user and a restart forgets nothing (memory:// gives each process its own). Read the limits "
    "from RATE_LIMIT_FREE / RATE_LIMIT_PREMIUM, in the limits notation.",
)
def test_rate_limit_redis(start_app):
    first, second = in_parallel(
        lambda: start_app(env=LIMITS, name="worker1"), lambda: start_app(env=LIMITS, name="worker2")
    )
    sub = user_id()
    token = mint(first, sub)
    for n, app in enumerate([first] * (FREE - 1) + [second], start=1):
        r = chat(app, token)
        check(r.status_code == 200, f"request {n} of a free user (limit {LIMITS['RATE_LIMIT_FREE']}) answered {r.status_code}: {short(r.text, 100)}")
    r = chat(second, token)
    check(
        r.status_code == 429,
        f"after {FREE} requests spread over two app processes on one Redis, the next answered {r.status_code}; "
        f"expected 429 (RATE_LIMIT_FREE={LIMITS['RATE_LIMIT_FREE']}): the processes must share one budget in Redis",
    )
    url = first.env["REDIS_URL"]
    keys = keys_with_ttl(url, f"free:{sub}")
    check(
        keys,
        f"after {FREE} requests by free user {sub}, Redis has no key with 'free:{sub}' in its name: "
        "the limit's key is \"<tier>:<sub>\" and its counters live in Redis (REDIS_URL)",
    )
    endless = [k for k, ttl in keys if not 0 < ttl <= 2 * WINDOW_S + 1]
    check(
        not endless,
        f"the rate limit key {short(endless[0] if endless else '', 120)} has TTL "
        f"{dict(keys).get(endless[0]) if endless else ''}; expected the window's expiry (at most a minute or two), "
        "not a key that never expires",
    )
    premium = budget(first, mint(first, tier="premium"), "a premium user")
    check(
        premium == PREMIUM,
        f"with RATE_LIMIT_PREMIUM={LIMITS['RATE_LIMIT_PREMIUM']} a premium user got {premium} requests before a 429; "
        f"expected exactly {PREMIUM}: read the limit from the environment",
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
    hint="Over the limit: 429, Retry-After (the seconds until the window lets the user in again, at "
    "most the window), the one error body of type rate_limited, and no provider call. POST /v1/chat "
    "and POST /v1/chat/stream share one budget; GET /v1/models, /health and /ready are not limited.",
)
def test_rate_limit_429(app, sim):
    token = mint(app, tier="free")
    first_at = time.time()
    # the free budget (5 by default), spent on both chat endpoints: they share it
    for n in range(1, DEFAULT_FREE + 1):
        if n % 2:
            r = chat(app, token)
            check(r.status_code == 200, f"request {n} of a free user (POST {CHAT}) answered {r.status_code}: {short(r.text, 100)}")
        else:
            result = sse.read_stream(AuthedApp(app, token), STREAM, {"message": f"Count me {nonce()}"}, timeout=TIMEOUT_S)
            check(result.status == 200, f"request {n} of a free user (POST {STREAM}) answered {result.status}")
    sim.clear_requests()
    r = chat(app, token)
    elapsed = time.time() - first_at
    check(
        r.status_code == 429,
        f"after {DEFAULT_FREE} requests by a free user split over POST {CHAT} and POST {STREAM}, the next answered "
        f"{r.status_code}; expected 429: the two endpoints share one budget (RATE_LIMIT_FREE, 5/minute by default)",
    )
    check_error(r, "the 429", 429, "rate_limited")
    wait = retry_after_of(r)
    check(wait is not None, f"the 429 has Retry-After {r.headers.get('retry-after', '(none)')!r}; expected a number of seconds")
    low = max(1, WINDOW_S - math.ceil(elapsed) - 2)
    check(
        low <= wait <= WINDOW_S + 1,
        f"the 429 came {elapsed:.0f} s after the user's first request of a 1-minute window and says Retry-After {wait}; "
        f"expected the seconds until the window lets the user in again ({low} to {WINDOW_S})",
    )
    r = app.post(STREAM, json={"message": "hi"}, headers=bearer(token), timeout=TIMEOUT_S)
    check_error(r, f"POST {STREAM} by a user over the limit", 429, "rate_limited")
    check(retry_after_of(r) is not None, f"the 429 of POST {STREAM} has no Retry-After in seconds")
    check(not generations(sim), "a request answered 429 still called the provider")
    for path, headers in [(MODELS_PATH, bearer(token))] * (DEFAULT_FREE + 1) + [("/health", FRESH), ("/ready", FRESH)]:
        r = app.get(path, headers=headers)
        check(
            r.status_code == 200,
            f"GET {path} by a user over the chat limit answered {r.status_code}; only the chat endpoints are limited",
        )


# -- retries --------------------------------------------------------------------------------------

@criterion(
    "p5.retries",
    RETRIES,
    hint="Wrap the provider call in tenacity: stop_after_attempt(RETRY_ATTEMPTS), "
    "wait_exponential(RETRY_BASE_S ... capped at RETRY_MAX_S) with a little jitter, retry only on "
    "transient errors (429, 5xx, timeouts, connection errors), never on 400/401/403/404/422; turn "
    "LiteLLM's and the SDK's own retries and the Router's fallbacks off; only opening a stream is retried.",
)
def test_retries(app, sim, start_app):
    # a second app with a policy unlike the defaults, started while the shared app is graded
    with ThreadPoolExecutor(max_workers=1) as pool:
        policy_app = pool.submit(
            start_app, env={**POLICY, "OPENROUTER_API_BASE": DEAD_URL}, name="retry-policy"
        )
        check_default_policy(app, sim)
        check_policy_from_env(policy_app.result(), sim)


def check_default_policy(app, sim) -> None:
    # the documented defaults: RETRY_ATTEMPTS=3, RETRY_BASE_S=0.5 (waits of about 0.5 s, then 1 s)
    sim.clear_requests()
    sim.add_fault(provider="anthropic", kind="http", status=529, times=2)
    sim.add_fault(provider="openai", kind="http", status=529)
    sim.add_fault(provider="openrouter", kind="http", status=429)
    recovered, failed, limited = in_parallel(
        lambda: chat(app, mint(app), model=MODEL_OF["anthropic"]),
        lambda: chat(app, mint(app), model=MODEL_OF["openai"]),
        lambda: chat(app, mint(app), model=MODEL_OF["openrouter"]),
    )
    sim.clear_faults()
    entries = of_provider(sim, "anthropic")
    check(
        len(entries) == 3,
        f"with the provider overloaded (529) twice, then well, it was called {len(entries)} time(s); expected 3 "
        "(RETRY_ATTEMPTS defaults to 3)",
    )
    check(recovered.status_code == 200, f"after two 529s and a success, POST {CHAT} answered {recovered.status_code}: {short(recovered.text, 100)}")
    gaps = gaps_of(entries)
    check(gaps[0] >= 0.45, f"the first retry came {gaps[0]:.2f} s after the failure; wait RETRY_BASE_S (0.5 s by default) first")
    check(
        gaps[1] >= 0.95 and gaps[1] >= 1.2 * gaps[0],
        f"the waits before the retries were {gaps[0]:.2f} s then {gaps[1]:.2f} s; exponential back-off doubles them "
        "(0.5 s, then 1 s by default)",
    )
    entries = of_provider(sim, "openai")
    others = [e for e in generations(sim) if e.get("provider") not in MODEL_OF]
    check(
        len(entries) == 3,
        f"with the provider always overloaded the app called it {len(entries)} times; expected exactly "
        "RETRY_ATTEMPTS (3) (are the SDK's or LiteLLM's own retries still on?)",
    )
    models = {e.get("model") for e in entries}
    check(len(models) == 1 and not others, f"the retries of one request went to {sorted(map(str, models))}: retry the same model, with no fallback")
    check_error(failed, f"after every attempt failed with 529, POST {CHAT}", 502)
    entries = of_provider(sim, "openrouter")
    check(
        len(entries) == 3,
        f"with the provider rate limiting us (429) every time, the app called it {len(entries)} times; expected 3: a 429 is retried",
    )
    check_error(limited, f"after every attempt got the provider's 429, POST {CHAT}", 429, "rate_limited")
    check(retry_after_of(limited) is not None, f"the 429 passed on from the provider has Retry-After {limited.headers.get('retry-after')!r}; expected seconds")

    # permanent errors: one attempt each
    for status in (400, 401, 403, 404, 422):
        sim.clear_requests()
        sim.add_fault(provider="*", kind="http", status=status, times=1)
        r = chat(app, mint(app))
        sim.clear_faults()
        entries = generations(sim)
        check(len(entries) == 1, f"a {status} from the provider was tried {len(entries)} times; a {status} must not be retried")
        check_error(r, f"a {status} from the provider", 502)

    # a stream that fails once tokens have gone out is not retried: an error event ends it
    sim.clear_requests()
    sim.add_fault(provider="*", kind="midstream", status=529, after_tokens=2, times=1)
    result = sse.read_stream(AuthedApp(app, mint(app)), STREAM, {"message": f"Break me {nonce()}"}, timeout=TIMEOUT_S)
    sim.clear_faults()
    entries = generations(sim)
    check(
        len(entries) == 1,
        f"a stream that failed after 2 tokens had gone out called the provider {len(entries)} times; expected 1: "
        "only opening a stream is retried",
    )
    check(
        result.status == 200 and result.tokens and result.of_type("error") and not result.of_type("done"),
        f"a stream that failed after 2 tokens answered {result.status} with events "
        f"{[e.type for e in result.events][:8]}; expected the tokens, then an error event (no done)",
    )


def check_policy_from_env(policy_app, sim) -> None:
    # RETRY_ATTEMPTS=4, RETRY_BASE_S=0.8, RETRY_MAX_S=0.8: waits of 0.8, 0.8, 0.8 s (uncapped: 0.8, 1.6, 3.2)
    sim.clear_requests()
    sim.add_fault(provider="anthropic", kind="http", status=529)
    sim.add_fault(provider="openai", kind="hang")
    started = time.monotonic()
    overloaded, timed_out, unreachable = in_parallel(
        lambda: chat(policy_app, mint(policy_app), model=MODEL_OF["anthropic"]),
        lambda: chat(policy_app, mint(policy_app), model=MODEL_OF["openai"]),
        lambda: (chat(policy_app, mint(policy_app), model=MODEL_OF["openrouter"]), time.monotonic() - started),
    )
    sim.clear_faults()
    setting = ", ".join(f"{k}={v}" for k, v in POLICY.items())
    entries = of_provider(sim, "anthropic")
    check(
        len(entries) == 4,
        f"with {setting} and the provider always overloaded, the app called it {len(entries)} times; expected 4: "
        "read RETRY_ATTEMPTS from the environment",
    )
    gaps = gaps_of(entries)
    check(
        gaps[0] >= 0.75,
        f"with RETRY_BASE_S=0.8 the first retry came {gaps[0]:.2f} s after the failure; expected about 0.8 s: "
        "read RETRY_BASE_S from the environment",
    )
    check(
        max(gaps) < 1.5,
        f"with RETRY_MAX_S=0.8 the waits between attempts were {', '.join(f'{g:.2f}' for g in gaps)} s; "
        "no wait may grow past the cap",
    )
    check_error(overloaded, f"with {setting} and every attempt overloaded, POST {CHAT}", 502)
    entries = of_provider(sim, "openai")
    check(
        len(entries) == 4,
        f"with LLM_TIMEOUT_S=0.5 and a provider that never answers, the app called it {len(entries)} times; "
        "expected 4 (RETRY_ATTEMPTS): a timeout is retried",
    )
    check_error(timed_out, f"after every attempt timed out, POST {CHAT}", 504)
    r, elapsed = unreachable
    check_error(r, f"with the provider unreachable (connection refused), POST {CHAT}", 502)
    check(
        elapsed >= 2.0,
        f"with the provider unreachable (connection refused) POST {CHAT} answered after {elapsed:.2f} s; with "
        f"{setting} its retries wait about 2.4 s in all: a connection error is retried",
    )


@criterion(
    "p5.retry-recovers",
    RETRY_WORKS,
    hint="A transient provider failure (429, 500, 503, a 529 overload; on opening a stream too) is "
    "retried by your policy and the client gets the reply: 200, not 502.",
)
def test_retry_recovers(app, sim):
    sim.clear_requests()
    sim.add_fault(provider="anthropic", kind="http", status=529, times=1)
    sim.add_fault(provider="openai", kind="http", status=500, times=1)
    sim.add_fault(provider="openrouter", kind="http", status=503, times=1)
    results = in_parallel(*(lambda p=p: chat(app, mint(app), model=MODEL_OF[p]) for p in MODEL_OF))
    sim.clear_faults()
    for (provider, model), status, r in zip(MODEL_OF.items(), (529, 500, 503), results, strict=True):
        entries = of_provider(sim, provider)
        check(
            r.status_code == 200,
            f"with {model} failing with {status} once, POST {CHAT} answered {r.status_code}; retry it: {short(r.text, 100)}",
        )
        check(len(entries) == 2, f"with {model} failing with {status} once it was called {len(entries)} times; expected 2")
    sim.clear_requests()
    sim.add_fault(provider="*", kind="http", status=429, times=1)
    r = chat(app, mint(app))
    entries = generations(sim)
    check(r.status_code == 200, f"with the provider rate limiting us (429) once, POST {CHAT} answered {r.status_code}; retry it")
    check(len(entries) == 2, f"with the provider rate limiting us (429) once it was called {len(entries)} times; expected 2")
    sim.clear_requests()
    sim.add_fault(provider="*", kind="http", status=529, times=1)
    result = sse.read_stream(AuthedApp(app, mint(app)), STREAM, {"message": f"Open me {nonce()}"}, timeout=TIMEOUT_S)
    sim.clear_faults()
    entries = generations(sim)
    check(
        result.status == 200 and result.tokens and result.of_type("done"),
        f"with the provider overloaded (529) once, POST {STREAM} answered {result.status} with events "
        f"{[e.type for e in result.events][:6]}; retry opening the stream",
    )
    check(len(entries) == 2, f"with the provider overloaded once, opening a stream called it {len(entries)} times; expected 2")


# -- logs and request ids -------------------------------------------------------------------------

def is_retry_line(line: str, data: dict) -> bool:
    """A log line about a retry: the attempt number (1), the error and the wait."""
    attempt = any(v in (1, "1") for k, v in data.items() if "attempt" in k.lower()) or re.search(
        r"attempt\D{0,4}1\b", line, re.I
    )
    error = re.search(r"529|error|overload", line, re.I)
    wait = re.search(r"wait|sleep|delay|backoff|retry_in|retrying in", line, re.I)
    return bool(attempt and error and wait)


# uvicorn's access line: 127.0.0.1:5555 - "POST /v1/chat HTTP/1.1" 200 (its quotes escaped inside JSON)
UVICORN_ACCESS = re.compile(r'(GET|POST) /\S* HTTP/1\.[01]\\?" \d{3}')


@criterion(
    "p5.request-id-logs",
    LOGGING,
    hint="A middleware takes X-Request-ID when it matches [A-Za-z0-9._-]{1,64} (or makes one), binds "
    "it with structlog.contextvars.bind_contextvars(request_id=...) (and user= once the token is "
    "verified), sets it on the response, and logs one JSON line per request with method, path, "
    "status and duration_ms; every line, uvicorn's included, is JSON, and uvicorn's access log is off.",
)
def test_request_id_logs(app, sim):
    check_request_id_logs(app, sim)
    sub = user_id()
    rid = "trace-" + secrets.token_hex(8)
    sim.add_fault(provider="*", kind="http", status=529, times=1)
    r, lines = request_window(app, lambda: chat(app, mint(app, sub), headers={"X-Request-ID": rid}))
    sim.clear_faults()
    check(r.status_code == 200, f"POST {CHAT} with one 529 answered {r.status_code}: {short(r.text, 100)}")
    records = [json_line(line) or {} for line in lines]
    access_lines = [d for d in records if is_access_line(d, "POST", CHAT, 200)]
    check(
        len(access_lines) == 1,
        f"request {rid} wrote {len(access_lines)} access lines (method, path, status and duration); expected exactly one",
    )
    retry_lines = [
        line for line, d in zip(lines, records, strict=True)
        if not is_access_line(d, "POST", CHAT, 200) and is_retry_line(line, d)
    ]
    check(
        retry_lines,
        f"request {rid} was retried once (a 529), but none of its log lines has the attempt number (1), the error and "
        f"the wait: {short(' | '.join(lines), 300)}",
    )
    unbound = [line for line, data in zip(lines, records, strict=True) if data.get("request_id") != rid]
    check(not unbound, f"a log line of request {rid} has no \"request_id\": {rid!r} field: {short(unbound[0] if unbound else '', 160)}")
    access = [d for d in records if d.get("path") == CHAT or CHAT in d.values()]
    check(
        access and any(d.get("user") == sub for d in access),
        f"the access line of a request by user {sub} has no \"user\": {sub!r} field: bind the user once the token is verified",
    )
    for incoming, reused in (("a" * 63 + "Z", True), ("x." * 32 + "y", False), ("bad id!", False), ("abc/def", False)):
        r = app.get("/health", headers={"X-Request-ID": incoming, **FRESH})
        got = r.headers.get("x-request-id", "")
        if reused:
            check(got == incoming, f"X-Request-ID {short(incoming, 40)!r} ({len(incoming)} characters, [A-Za-z0-9._-]) came back as {got!r}; reuse an id that looks like one")
        else:
            check(
                got and got != incoming and re.fullmatch(r"[A-Za-z0-9._-]{1,64}", got),
                f"X-Request-ID {short(incoming, 70)!r} ({len(incoming)} characters) came back as {short(got, 70)!r}; "
                "an id that is not [A-Za-z0-9._-]{1,64} must be replaced by a new one",
            )
    logs = app.logs()
    not_json = [line for line in logs.splitlines() if line.strip() and json_line(line) is None]
    check(not not_json, f"a line of the app's log is not one JSON object (uvicorn's and LiteLLM's lines too): {short(not_json[0] if not_json else '', 160)}")
    uvicorn = [line for line in logs.splitlines() if UVICORN_ACCESS.search(line)]
    check(not uvicorn, f"uvicorn's own access log is still on (it has no request id): {short(uvicorn[0] if uvicorn else '', 160)}")


@criterion(
    "p5.request-id-upstream",
    TRACE,
    hint="Pass the request id to the provider call: router.acompletion(..., extra_headers="
    "{\"x-request-id\": request_id}), so the provider's logs can be joined with yours; every "
    "attempt of a retried call carries it.",
)
def test_request_id_upstream(app, sim):
    check_request_id_upstream(app, sim)
    rid = "retried-" + secrets.token_hex(8)
    sim.clear_requests()
    sim.add_fault(provider="*", kind="http", status=529, times=1)
    r = chat(app, mint(app), headers={"X-Request-ID": rid})
    sim.clear_faults()
    seen = [{k.lower(): v for k, v in (e.get("headers") or {}).items()}.get("x-request-id") for e in generations(sim)]
    check(r.status_code == 200, f"POST {CHAT} with one 529 answered {r.status_code}")
    check(
        len(seen) == 2 and all(s == rid for s in seen),
        f"the attempts of request {rid} (one 529, then a retry) carried x-request-id {seen}; every attempt carries the request's id",
    )


# -- health, errors, compose ----------------------------------------------------------------------

@criterion(
    "p5.health-ready",
    HEALTH,
    hint="/health answers 200 {\"status\": \"ok\"} while the process is up; /ready pings Redis and checks "
    "the configuration (JWT_SECRET) and answers 503 {\"status\": \"unavailable\", \"checks\": {\"redis\": ..., "
    "\"config\": ...}} with the reason when something is not usable; protected endpoints answer 503 "
    "when Redis is down.",
)
def test_health_ready(app, sim, start_app):
    with ThreadPoolExecutor(max_workers=2) as pool:
        # no OpenRouter key either: its models are left out
        dead_f = pool.submit(start_app, env={"REDIS_URL": DEAD_REDIS, "OPENROUTER_API_KEY": ""}, name="dead-redis")
        nosecret_f = pool.submit(start_app, env={"JWT_SECRET": ""}, name="no-secret")
        r = app.get("/health")
        check(r.status_code == 200 and json_or_none(r) == {"status": "ok"}, f"GET /health answered {r.status_code} {short(r.text, 100)}; expected 200 {{\"status\": \"ok\"}}")
        r = app.get("/ready")
        data = json_or_none(r)
        check(
            r.status_code == 200 and isinstance(data, dict) and data.get("status") == "ready",
            f"GET /ready with Redis up and the configuration usable answered {r.status_code} {short(r.text, 100)}; "
            "expected 200 {\"status\": \"ready\", ...}",
        )
        dead, nosecret = dead_f.result(), nosecret_f.result()
    r = dead.get("/health", timeout=5)
    check(
        r.status_code == 200 and json_or_none(r) == {"status": "ok"},
        f"with Redis down GET /health answered {r.status_code} {short(r.text, 80)}; the process is up, so 200 {{\"status\": \"ok\"}}",
    )
    r = dead.get("/ready", timeout=5)
    data = json_or_none(r)
    check(
        r.status_code == 503,
        f"with REDIS_URL pointing at a dead Redis GET /ready answered {r.status_code}; expected 503: ping Redis",
    )
    checks = data.get("checks") if isinstance(data, dict) else None
    check(
        data.get("status") == "unavailable" and isinstance(checks, dict) and checks.get("redis") and checks.get("redis") != "ok",
        f"with Redis down /ready answered {short(r.text, 140)}; expected {{\"status\": \"unavailable\", \"checks\": {{\"redis\": \"<why>\", ...}}}}",
    )
    r = dead.get(MODELS_PATH, headers=bearer(mint(dead)), timeout=5)
    data = json_or_none(r)
    ids = [m.get("id") for m in data.get("data", []) if isinstance(m, dict)] if isinstance(data, dict) else []
    check(
        r.status_code == 200 and MODEL_OF["anthropic"] in ids and MODEL_OF["openrouter"] not in ids,
        f"with Redis down and OPENROUTER_API_KEY unset, GET {MODELS_PATH} answered {r.status_code} {short(r.text, 120)}; "
        f"expected 200 without {MODEL_OF['openrouter']} (it is not rate limited, and a provider without a key is left out)",
    )
    sim.clear_requests()
    r = chat(dead, mint(dead))
    check_error(r, f"with Redis (the rate limit store) down, POST {CHAT} with a valid token", 503)
    check(not generations(sim), f"with Redis down, POST {CHAT} still called the provider")
    r = nosecret.get("/ready", timeout=5)
    data = json_or_none(r)
    checks = data.get("checks") if isinstance(data, dict) else None
    check(
        r.status_code == 503 and isinstance(checks, dict) and checks.get("config") and checks.get("config") != "ok",
        f"with JWT_SECRET unset GET /ready answered {r.status_code} {short(r.text, 140)}; expected 503 with "
        "{\"checks\": {\"config\": \"<why>\", ...}}",
    )
    check_unauthorized(nosecret.get(MODELS_PATH, headers=bearer(mint(app))), "a well-formed token, on an app without JWT_SECRET")


@criterion(
    "p5.errors",
    ERRORS,
    hint="Every failure answers the one error body {\"error\": {type, message, request_id}}, with the "
    "same id as the X-Request-ID header: no stack trace, no secret, and never a token (not in the "
    "body, not in the log).",
)
def test_errors(app, sim):
    token = mint(app, tier="premium")
    stolen = jwt.encode({"sub": user_id(), "tier": "premium", "exp": int(time.time()) + 600}, "y" * 40, algorithm="HS256")
    sim.clear_requests()
    cases = [
        ("an invalid body", lambda: app.post(CHAT, json={"nope": 1}, headers=bearer(token), timeout=TIMEOUT_S), 422),
        ("an unknown model", lambda: chat(app, token, model="no-such-model-" + nonce()), 422),
        ("a wrongly signed token", lambda: app.get(MODELS_PATH, headers=bearer(stolen)), 401),
    ]
    for what, send, status in cases:
        check_error(send(), what, status)
    check(not generations(sim), "a request with an invalid body or an unknown model still called the provider")
    sim.add_fault(provider="*", kind="http", status=400)
    r = chat(app, token)
    sim.clear_faults()
    check_error(r, "a 400 from the provider", 502)
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
    name, _ = compose.load_compose(project.root)
    text = project.read(name) or ""
    check(
        re.search(r"redis-cli[^\n]*ping", text),
        "the redis service's healthcheck does not run `redis-cli ping`: test: [\"CMD\", \"redis-cli\", \"ping\"]",
    )

