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
import threading
import time

import jwt

from grader.checks import sse
from grader.checks.auth import AuthedApp, bad_tokens, bearer, budget, chat, check_401, mint, user_id
from grader.checks.commands import free_port, outcome, run_module, spawn
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
from grader.checks.ops import DEAD_REDIS, check_compose_redis
from grader.checks.quizzes import check_quiz_file
from grader.checks.redis_state import connect, expect_type, keys_matching
from grader.checks.waiting import wait_until
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
# The README's fallback chains ("Retries, then fallbacks"), in order.
CHAINS = {
    "claude-haiku-4-5": ["gpt-4o-mini", "llama-3.3-70b"],
    "gpt-4o-mini": ["claude-haiku-4-5", "llama-3.3-70b"],
    "llama-3.3-70b": ["gpt-4o-mini", "claude-haiku-4-5"],
}
PREFIX = "chat:"  # REDIS_KEY_PREFIX's default
BUDGET = 470  # HISTORY_TOKEN_BUDGET for a conversation of ~115-token messages: 2 turns and a message fit, 3 do not
REPLY_MAX_TOKENS = 512  # its documented default
SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
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


def error_type(r) -> object:
    body = json_or_none(r)
    return (body.get("error") or {}).get("type") if isinstance(body, dict) and isinstance(body.get("error"), dict) else None


def check_error(r, status: int, kinds: str | tuple[str, ...], what: str) -> None:
    """``r`` is the README's error answer: this status, one of these error types, the one body,
    and its request id also in X-Request-ID."""
    kinds = (kinds,) if isinstance(kinds, str) else kinds
    check(r.status_code == status, f"{what} answered {r.status_code}; expected {status}: {short(r.text, 120)}")
    problem = error_body_problem(r)
    check(problem is None, f"the {status} for {what}: {problem}")
    got = error_type(r)
    check(got in kinds, f"the {status} for {what} has error.type {got!r}; expected {' or '.join(map(repr, kinds))}")
    rid = ((json_or_none(r) or {}).get("error") or {}).get("request_id")
    check(
        rid == r.headers.get("x-request-id"),
        f"the {status} for {what} has error.request_id {rid!r} but X-Request-ID {r.headers.get('x-request-id')!r}; they must be the same id",
    )


def check_sse_headers(result: sse.StreamResult, path: str) -> None:
    for name, value in SSE_HEADERS.items():
        got = result.headers.get(name, "")
        check(
            value in got.lower(),
            f"POST {path} answered {name.title()}: {got or '(none)'!r}; a stream must send {name.title()}: {value}",
        )


def check_done_last(result: sse.StreamResult, path: str, conversation: bool = False) -> dict:
    kinds = [e.type for e in result.events]
    check(
        kinds.count("done") == 1 and kinds[-1] == "done" and set(kinds[:-1]) == {"token"},
        f"POST {path} sent the events {short(kinds, 200)}; expected token events, then exactly one done event, last",
    )
    done = result.of_type("done")[0].data
    fields = ["model", "provider", "requested_model", "fallback", "finish_reason", "usage"]
    if conversation:
        fields += ["conversation_id", "conversation_usage", "context_messages", "dropped_messages"]
    missing = [f for f in fields if done.get(f) is None]
    check(not missing, f"the done event of POST {path} has no {', '.join(missing)}: {short(done, 200)}")
    return done


def journal_usage(entry: dict) -> dict:
    return {"input_tokens": entry.get("input_tokens"), "output_tokens": entry.get("output_tokens")}


def calls_of(sim) -> list[str]:
    return [e.get("provider") for e in generations(sim)]


def with_faults(sim, faults: list[dict], send):
    """Send one request with llmsim's faults in place (cleared after, whatever happens)."""
    sim.clear_requests()
    for fault in faults:
        sim.add_fault(**fault)
    try:
        return send()
    finally:
        sim.clear_faults()


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
    for item in (json_or_none(r) or {}).get("data") or []:
        model = item.get("id") if isinstance(item, dict) else None
        if model not in PROVIDER_OF:
            continue
        check(
            item.get("provider") == PROVIDER_OF[model] and str(item.get("litellm_model") or "").startswith(PROVIDER_OF[model] + "/")
            and item.get("fallbacks") == CHAINS[model],
            f"GET /v1/models lists {model} with provider {item.get('provider')!r}, litellm_model {item.get('litellm_model')!r}, "
            f"fallbacks {item.get('fallbacks')!r}; expected {PROVIDER_OF[model]!r}, '{PROVIDER_OF[model]}/…', {CHAINS[model]}",
        )
    sim.clear_requests()
    r = chat(app, token)
    calls = [(e.get("provider"), e.get("model")) for e in generations(sim)]
    check(
        r.status_code == 200 and calls == [("anthropic", PRIMARY)],
        f"POST {CHAT} without a model answered {r.status_code} after the provider calls {calls}; expected one call to "
        f"anthropic for {PRIMARY} (the default model)",
    )
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
        check(
            len(generations(sim)) == 1,
            f"POST {CHAT} with model {model} made {len(generations(sim))} provider calls ({calls_of(sim)}); expected exactly one",
        )
        answered = entries[-1]
        check(
            body.get("model") == answered.get("answered_model") and body.get("requested_model") == model,
            f"POST {CHAT} with model {model} answered model {body.get('model')!r}, requested_model "
            f"{body.get('requested_model')!r}; expected the provider's name for the model that answered "
            f"({answered.get('answered_model')!r}) and {model!r}",
        )
        check(
            body.get("usage") == journal_usage(answered),
            f"POST {CHAT} with model {model} answered usage {body.get('usage')!r}; the provider counted {journal_usage(answered)}",
        )
        if provider == "openrouter":
            seen = {k.lower(): v for k, v in (answered.get("headers") or {}).items()}
            want = {"http-referer": "http://localhost:8000", "x-title": "FastAPI GenAI course: multi-provider chat"}
            got = {k: seen.get(k) for k in want}
            check(
                got == want,
                f"the OpenRouter request carried the attribution headers {got}; expected {want} "
                "(OPENROUTER_SITE_URL and OPENROUTER_APP_NAME's defaults)",
            )
    # a key refused (401) falls back at once: the chains of the other two models, in order
    for model, refused in (("gpt-4o-mini", ["openai"]), ("llama-3.3-70b", ["openrouter", "openai"])):
        r = with_faults(sim, [{"provider": p, "kind": "http", "status": 401} for p in refused], lambda m=model: chat(app, token, model=m))
        calls = calls_of(sim)
        expected = [*refused, "anthropic"]
        check(
            calls == expected,
            f"POST {CHAT} for {model} with {' and '.join(refused)} refusing our key (401) made the provider calls {calls}; "
            f"expected {expected}: a 401 is not retried, and the chain of {model} is {CHAINS[model]}",
        )
        body = json_or_none(r) or {}
        check(
            r.status_code == 200 and body.get("fallback") is True and body.get("provider") == "anthropic"
            and body.get("requested_model") == model,
            f"POST {CHAT} for {model} answered by its fallback gave {r.status_code} {short(r.text, 160)}; expected 200 with "
            f"fallback true, provider 'anthropic', requested_model {model!r}",
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
    sim.clear_requests()
    result = stream_ok(app, token, STREAM, {"message": f"Stream {nonce()}"})
    entries = generations(sim)
    check(
        len(entries) == 1 and entries[0].get("stream") is True,
        f"POST {STREAM} made {len(entries)} provider call(s) (stream flags {[e.get('stream') for e in entries]}); "
        "expected one streamed call",
    )
    check(
        result.text == entries[-1].get("reply"),
        f"the tokens of POST {STREAM} read {short(result.text, 80)!r}, not the provider's reply",
    )
    check_sse_headers(result, STREAM)
    done = check_done_last(result, STREAM)
    check(
        done.get("provider") == "anthropic" and done.get("requested_model") == PRIMARY and done.get("fallback") is False
        and done.get("usage") == journal_usage(entries[-1]),
        f"the done event of POST {STREAM} said {short(done, 220)}; expected provider 'anthropic', requested_model "
        f"{PRIMARY!r}, fallback false and the provider's usage {journal_usage(entries[-1])}",
    )
    # a failure to open the stream still gets a real status and the JSON error body
    opened = with_faults(
        sim, [{"provider": "*", "kind": "http", "status": 400, "times": 1}],
        lambda: app.post(STREAM, json={"message": f"Refused {nonce()}"}, headers=bearer(token), timeout=TIMEOUT_S),
    )
    check(
        not opened.headers.get("content-type", "").startswith("text/event-stream"),
        f"the provider refusing to open the stream (400) was answered {opened.status_code} as text/event-stream; open the "
        "provider's stream before the response starts, so the failure gets a real status and the JSON error body",
    )
    check_error(opened, 502, "upstream_error", f"POST {STREAM} whose provider answered 400 before any token")
    cid = create(app, bearer(token), "no system prompt")["id"]
    path = f"{CONVS}/{cid}/messages/stream"
    content = f"Stream into the conversation {nonce()}"
    sim.clear_requests()
    result = stream_ok(app, token, path, {"content": content})
    entries = ok_generations(sim)
    check(entries, f"POST {CONVS}/{{id}}/messages/stream answered without a provider being called")
    reply = entries[-1].get("reply")
    check(result.text == reply, f"the tokens of POST {CONVS}/{{id}}/messages/stream are not the provider's reply")
    check_sse_headers(result, f"{CONVS}/{{id}}/messages/stream")
    done = check_done_last(result, f"{CONVS}/{{id}}/messages/stream", conversation=True)
    want = {"conversation_id": cid, "usage": journal_usage(entries[-1]), "conversation_usage": journal_usage(entries[-1]),
            "context_messages": 1, "dropped_messages": 0}
    got = {k: done.get(k) for k in want}
    check(
        got == want,
        f"the done event of the first streamed message of a conversation said {short(got, 220)}; expected {short(want, 220)}",
    )
    messages = stored(read(app, bearer(token), cid, " after a streamed reply"))
    check(
        messages == [("user", content), ("assistant", reply)],
        f"after a streamed reply the conversation holds {short(messages, 200)}; expected the user message and the "
        "whole streamed reply: store the pair when the stream is done",
    )
    sim.clear_requests()
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
    check(
        cut.events[-1].type == "error" and len(cut.of_type("error")) == 1,
        f"after a failure part-way, the events ended {[e.type for e in cut.events][-4:]}; the error event comes once, last",
    )
    error = cut.events[-1].data.get("error") if isinstance(cut.events[-1].data, dict) else None
    check(
        isinstance(error, dict) and all(isinstance(error.get(k), str) and error.get(k) for k in ("type", "message", "request_id"))
        and error.get("request_id") == cut.headers.get("x-request-id"),
        f"the error event was {short(cut.events[-1].data, 200)}; expected {{\"type\": \"error\", \"error\": {{type, message, "
        f"request_id}}}} with this request's id ({cut.headers.get('x-request-id')!r})",
    )
    calls = calls_of(sim)
    check(
        len(calls) == 1,
        f"a stream that failed after its first tokens led to {len(calls)} provider calls ({calls}); once tokens are out, "
        "neither retry nor fall back (the client would get the reply twice)",
    )
    after = stored(read(app, bearer(token), cid, " after a reply cut short"))
    check(
        after == messages,
        f"a streamed reply cut short by a provider failure left {len(after) - len(messages)} new message(s) "
        "stored; store a turn only when its reply is whole",
    )


@criterion(
    "p7.request-bodies",
    SYNC_STREAM,
    hint="The bodies of the README's API section, bounds included: message and content 1 to 8000 characters, "
    "system 1 to 4000, max_tokens 1 to 4096 (default 512; conversation replies REPLY_MAX_TOKENS), temperature 0 to 1 "
    "(0.0 is a value: send it), an unknown field or model is a 422; what was asked reaches the provider unchanged.",
)
def test_request_bodies(app, sim):
    _, token = user_token(app)
    invalid = [
        ("an empty message", {"message": ""}),
        ("a message of 8001 characters", {"message": "m" * 8001}),
        ("no message", {"model": PRIMARY}),
        ("an empty system prompt", {"message": "Hi", "system": ""}),
        ("a system prompt of 4001 characters", {"message": "Hi", "system": "s" * 4001}),
        ("max_tokens 0", {"message": "Hi", "max_tokens": 0}),
        ("max_tokens 4097", {"message": "Hi", "max_tokens": 4097}),
        ("temperature -0.1", {"message": "Hi", "temperature": -0.1}),
        ("temperature 1.01", {"message": "Hi", "temperature": 1.01}),
        ('an unknown field ("modle")', {"message": "Hi", "modle": "gpt-4o-mini"}),
    ]
    sim.clear_requests()
    for what, body in invalid:
        for path in (CHAT, STREAM):
            r = app.post(path, json=body, headers=bearer(token), timeout=TIMEOUT_S)
            check_error(r, 422, "validation_error", f"POST {path} with {what}")
            details = ((json_or_none(r) or {}).get("error") or {}).get("details")
            check(isinstance(details, list) and details, f"the 422 for POST {path} with {what} has no error.details")
    r = chat(app, token, model="no-such-model")
    check_error(r, 422, "unknown_model", f'POST {CHAT} with "model": "no-such-model"')
    check(not generations(sim), "a request with an invalid body or an unknown model reached the provider")
    system = f"You answer in one line {nonce()}."
    cases = [
        ("a message of one character", {"message": "?"}, {"max_tokens": 512}),
        ("a message of 8000 characters", {"message": "m" * 7990 + nonce() + "abcd"}, {"max_tokens": 512}),
        ("a system prompt of one character", {"message": f"Hi {nonce()}", "system": "!"}, {}),
        ("a system prompt of 4000 characters", {"message": f"Hi {nonce()}", "system": system + "s" * (4000 - len(system))}, {}),
        ("max_tokens 1", {"message": f"Hi {nonce()}", "max_tokens": 1}, {"max_tokens": 1}),
        ("max_tokens 4096", {"message": f"Hi {nonce()}", "max_tokens": 4096}, {"max_tokens": 4096}),
        ("temperature 0.0", {"message": f"Hi {nonce()}", "temperature": 0.0}, {"temperature": 0.0}),
        ("temperature 1", {"message": f"Hi {nonce()}", "temperature": 1}, {"temperature": 1}),
    ]
    for what, body, upstream in cases:
        sim.clear_requests()
        r = app.post(CHAT, json=body, headers=bearer(token), timeout=TIMEOUT_S)
        check(r.status_code == 200, f"POST {CHAT} with {what} answered {r.status_code}; expected 200: {short(r.text, 120)}")
        entries = generations(sim)
        check(len(entries) == 1, f"POST {CHAT} with {what} made {len(entries)} provider calls; expected one")
        sent = entries[0]
        for name, value in upstream.items():
            got = sent.get(name)
            check(
                got is not None and got == value,
                f"POST {CHAT} with {what} reached the provider with {name} {got!r}; expected {value!r}",
            )
        if "system" in body:
            check(
                sent_system(sent) == body["system"] and sent_messages(sent) == [("user", body["message"])],
                f"POST {CHAT} with {what} reached the provider with system {short(sent_system(sent), 60)!r} and messages "
                f"{short(sent_messages(sent), 120)}; expected the system prompt as the system prompt, then the one user message",
            )
        else:
            check(
                not sent_system(sent) and sent_messages(sent) == [("user", body["message"])],
                f"POST {CHAT} with {what} reached the provider as {short(sent_messages(sent), 120)} (system "
                f"{short(sent_system(sent), 60)!r}); expected the one user message and no system prompt",
            )
    # conversations: their bodies, and REPLY_MAX_TOKENS on every reply
    for what, body in (
        ("a system prompt of 4001 characters", {"system": "s" * 4001}),
        ("an empty system prompt", {"system": ""}),
        ('an unknown field ("modle")', {"modle": "gpt-4o-mini"}),
    ):
        r = app.post(CONVS, json=body, headers=bearer(token), timeout=TIMEOUT_S)
        check_error(r, 422, "validation_error", f"POST {CONVS} with {what}")
    r = app.post(CONVS, json={"model": "no-such-model"}, headers=bearer(token), timeout=TIMEOUT_S)
    check_error(r, 422, "unknown_model", f'POST {CONVS} with "model": "no-such-model"')
    cid = create(app, bearer(token), "a system prompt of 4000 characters", system="s" * 4000)["id"]
    sim.clear_requests()
    for what, body in (
        ("an empty content", {"content": ""}),
        ("a content of 8001 characters", {"content": "c" * 8001}),
        ('an unknown field ("contents")', {"content": "Hi", "contents": "Hi"}),
    ):
        for path in (f"{CONVS}/{cid}/messages", f"{CONVS}/{cid}/messages/stream"):
            r = app.post(path, json=body, headers=bearer(token), timeout=TIMEOUT_S)
            check_error(r, 422, "validation_error", f"POST {path.replace(cid, '{id}')} with {what}")
    check(not generations(sim), "a conversation message with an invalid body reached the provider")
    content = "c" * 7990 + nonce() + "abcd"
    send(app, bearer(token), cid, content, "a content of 8000 characters")
    entries = generations(sim)
    check(
        len(entries) == 1 and entries[0].get("max_tokens") == REPLY_MAX_TOKENS,
        f"a conversation message reached the provider with max_tokens {[e.get('max_tokens') for e in entries]}; "
        f"expected REPLY_MAX_TOKENS ({REPLY_MAX_TOKENS}) on the one call",
    )


@criterion(
    "p7.jwt",
    JWT_ITEM,
    hint="Every /v1 endpoint takes the `user: CurrentUser` dependency: jwt.decode with "
    "algorithms=[\"HS256\"] and exp, sub required; any bad token answers 401 with "
    "WWW-Authenticate: Bearer and the error body, before anything else runs.",
)
def test_jwt(app, sim, project):
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
    now = int(time.time())
    no_sub = jwt.encode({"tier": "premium", "exp": now + 600}, app.env["JWT_SECRET"], algorithm="HS256")
    check_401(app.get(CONVS, headers=bearer(no_sub), timeout=TIMEOUT_S), f"a token without sub on GET {CONVS}")
    messages = {}
    for what, headers in tokens:
        if what in ("an expired token", "a tampered token (payload changed, old signature)", "a token signed with another secret"):
            r = app.get(USAGE, headers=headers, timeout=TIMEOUT_S)
            messages[what] = str(((json_or_none(r) or {}).get("error") or {}).get("message") or "")
    check(
        "expired" in messages["an expired token"].lower(),
        f"the 401 for an expired token says {messages['an expired token']!r}; tell the caller it has expired",
    )
    told = [w for w, m in messages.items() if w != "an expired token" and "expired" in m.lower()]
    check(not told, f"the 401 for {', '.join(told)} says the token has expired; it is invalid, not expired")
    logs = [json_line(line) or {} for line in app.logs().splitlines()]
    rejected = [d for d in logs if d.get("event") == "token rejected"]
    check(
        any(d.get("reason") == "InvalidSignatureError" for d in rejected),
        'a token signed with another secret left no log line {"event": "token rejected", "reason": '
        f'"InvalidSignatureError"}} (found {len(rejected)} "token rejected" line(s)): log the exact reason',
    )
    code, out, err = run_module(
        project.root, "app.tokens", ["--sub", "cli-user", "--tier", "premium"], {"JWT_SECRET": app.env["JWT_SECRET"], "JWT_TTL_S": "120"}
    )
    try:
        claims = jwt.decode(out.strip(), app.env["JWT_SECRET"], algorithms=["HS256"])
    except jwt.InvalidTokenError as exc:
        claims = {"error": type(exc).__name__}
    check(
        code == 0 and claims.get("sub") == "cli-user" and claims.get("tier") == "premium"
        and 115 <= (claims.get("exp") or 0) - time.time() <= 125,
        f"`python -m app.tokens --sub cli-user --tier premium` with JWT_TTL_S=120 exited {code} and printed a token with "
        f"claims {short(claims, 160)} ({short(err, 120)}); expected an HS256 token with that sub and tier, expiring in 120 s",
    )
    sub = user_id()
    untiered = jwt.encode({"sub": sub, "exp": now + 600}, app.env["JWT_SECRET"], algorithm="HS256")
    for tier, value in (("free", untiered), ("premium", mint(app, sub, tier="premium"))):
        r = app.get(USAGE, headers=bearer(value), timeout=TIMEOUT_S)
        body = json_or_none(r) or {}
        check(
            r.status_code == 200 and body.get("user") == sub and body.get("tier") == tier,
            f"GET {USAGE} with a token {'without a tier claim' if value is untiered else 'of tier premium'} answered "
            f"{r.status_code} {short(r.text, 120)}; expected user {sub!r}, tier {tier!r} (free is the default)",
        )


@criterion(
    "p7.tiers",
    TIERS,
    hint="One SlowAPI limit, in Redis, keyed by the token's sub with the tier in the key "
    "(@limiter.shared_limit(limit_for_key, scope=\"chat\")) on every endpoint that calls a model: "
    "both chat endpoints and both conversation message endpoints. Over it: 429 with Retry-After.",
)
def test_tiers(start_app, sim, redis_url):
    first = started(start_app, LIMITS, "worker1", f"with RATE_LIMIT_FREE={FREE}/minute")
    second = started(start_app, LIMITS, "worker2", f"with RATE_LIMIT_FREE={FREE}/minute")
    sub, token = user_token(first, "free")
    cid = create(first, bearer(token), "a free user")["id"]
    # what costs nothing: no token, an invalid body
    for _ in range(FREE):
        r = first.post(CHAT, json={"message": f"No token {nonce()}"}, headers={"Connection": "close"}, timeout=TIMEOUT_S)
        check(r.status_code == 401, f"POST {CHAT} without a token answered {r.status_code}; expected 401")
        r = first.post(CHAT, json={"message": ""}, headers=bearer(token), timeout=TIMEOUT_S)
        check(r.status_code == 422, f"POST {CHAT} with an empty message answered {r.status_code}; expected 422")
    r = chat(first, token)
    check(
        r.status_code == 200,
        f"the first model call of a free user, after {FREE} requests without a token and {FREE} with an invalid body, "
        f"answered {r.status_code}: a 401 or a 422 costs nothing: {short(r.text)}",
    )
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
    check(
        value.isdigit() and 0 < int(value) <= 60,
        f"the 429 has Retry-After {value or '(none)'!r}; expected the seconds until the minute's window lets one more in (1 to 60)",
    )
    check_error(r, 429, "rate_limited", f"a streamed conversation message over RATE_LIMIT_FREE={FREE}/minute")
    message = ((json_or_none(r) or {}).get("error") or {}).get("message") or ""
    check(
        f"{FREE} per 1 minute" in message,
        f"the 429 says {message!r}; expected the limit that was hit (\"Rate limit exceeded ({FREE} per 1 minute). Retry after … seconds.\")",
    )
    check(not generations(sim), "a request answered 429 still called the provider")
    r = chat(second, token)
    check(r.status_code == 429, f"POST {CHAT} by a free user over the limit answered {r.status_code}; expected 429")
    said = [json_line(line) or {} for line in (first.logs() + second.logs()).splitlines()]
    limiter_line = f"ratelimit {FREE} per 1 minute (free:{sub}) exceeded at endpoint:"
    check(
        any(str(d.get("event", "")).startswith(limiter_line) for d in said),
        f"no JSON log line of the apps says {limiter_line!r} …: SlowAPI logs the key (\"<tier>:<sub>\") and the limit it "
        "enforced; let its lines through the JSON logging",
    )
    check(
        any(str(d.get("event", "")).startswith(f"rate limit exceeded: {FREE} per 1 minute") and d.get("logger") == "app.errors"
            for d in said),
        f'no log line {{"event": "rate limit exceeded: {FREE} per 1 minute", "logger": "app.errors"}}: log the 429 it became',
    )
    client = connect(redis_url)
    found = keys_matching(client, f"LIMITS:LIMITER/chat-api/free:{sub}/chat/*")
    check(
        found,
        f"Redis has no key LIMITS:LIMITER/chat-api/free:{sub}/chat/… for the free user {sub}: the limiter's counters "
        f"belong in REDIS_URL, key_prefix \"chat-api\", keyed \"<tier>:<sub>\", scope \"chat\" "
        f"(found {short(keys_matching(client, f'*{sub}*', 5), 160)})",
    )
    for path, what in ((CONVS, "GET"), (USAGE, "GET"), ("/v1/models", "GET")):
        r = first.get(path, headers=bearer(token), timeout=TIMEOUT_S)
        check(r.status_code == 200, f"{what} {path} by a free user over the model-call limit answered {r.status_code}; only the four model routes are limited")
    r = first.post(CONVS, json={}, headers=bearer(token), timeout=TIMEOUT_S)
    check(r.status_code == 201, f"POST {CONVS} by a free user over the model-call limit answered {r.status_code}; it is not rate limited")
    _, other = user_token(first, "free")
    r = chat(first, other)
    check(r.status_code == 200, f"another free user got {r.status_code}: the limit must be per user (the token's sub)")
    _, premium = user_token(first, "premium")
    r = chat(first, premium, model="no-such-model")
    check(r.status_code == 422, f"POST {CHAT} with an unknown model answered {r.status_code}; expected 422")
    got = budget(first, premium, "a premium user", most=PREMIUM + 3)
    check(
        got == PREMIUM - 1,
        f"with RATE_LIMIT_PREMIUM={PREMIUM}/minute a premium user whose first request named an unknown model (422) then "
        f"got {got} requests before a 429; expected {PREMIUM - 1}: a request with a valid token and body is counted, "
        "even when it then fails",
    )


@criterion(
    "p7.conversations",
    CONVERSATIONS,
    hint="Conversations belong to the token's sub: create stores it as the owner, the listing shows "
    "only the caller's, and another user's conversation answers 404 to GET, DELETE and messages "
    "(owned_conversation). The whole history goes to the model; Redis keeps it across restarts.",
)
def test_conversations(start_app, app, sim, redis_url):
    a_sub, a_token = user_token(app)
    _, b_token = user_token(app)
    client = connect(redis_url)
    system = f"You are the capstone's assistant {nonce()}."
    made = create(app, bearer(a_token), "a system prompt", system=system)
    cid = made["id"]
    want = {"owner": a_sub, "system": system, "model": PRIMARY, "messages": []}
    check(
        {k: made.get(k) for k in want} == want and isinstance(made.get("created_at"), int | float)
        and made.get("usage") == {"input_tokens": 0, "output_tokens": 0} and "context_tokens" in made,
        f"POST {CONVS} answered {short(made, 220)}; expected owner {a_sub!r} (the token's sub), the system prompt, model "
        f"{PRIMARY!r}, created_at, no messages, zero usage and context_tokens",
    )
    key = f"{PREFIX}conversation:{cid}"
    expect_type(client, key, "hash", "the conversation")
    held = client.hgetall(key)
    check(
        held.get("owner") == a_sub and held.get("id") == cid and held.get("model") == PRIMARY,
        f"Redis hash {key} holds {short(held, 200)}; expected id {cid!r}, owner {a_sub!r}, model {PRIMARY!r}",
    )
    index = f"{PREFIX}user:{a_sub}:conversations"
    expect_type(client, index, "zset", "the user's conversation ids")
    check(client.zscore(index, cid) is not None, f"Redis sorted set {index} does not hold the new conversation {cid}")
    first = f"My name is {nonce()}"
    sim.clear_requests()
    one = send(app, bearer(a_token), cid, first, "turn 1")
    one_usage = journal_usage(ok_generations(sim)[-1]) if ok_generations(sim) else None
    second = f"What is my name? {nonce()}"
    sim.clear_requests()
    two = send(app, bearer(a_token), cid, second, "turn 2")
    entries = ok_generations(sim)
    check(entries, "turn 2 was answered without a provider answering it")
    sent = sent_messages(entries[-1])
    expected = [("user", first), ("assistant", one["content"]), ("user", second)]
    check(sent == expected, f"turn 2's provider request carried {short(sent, 200)}; expected the whole conversation: {short(expected, 200)}")
    check(system in sent_system(entries[-1]), "turn 2's provider request did not carry the conversation's system prompt")
    two_usage = journal_usage(entries[-1])
    totals = {k: one_usage[k] + two_usage[k] for k in two_usage} if one_usage else None
    got = {k: two.get(k) for k in ("conversation_id", "usage", "conversation_usage", "context_messages", "dropped_messages", "provider", "fallback")}
    want = {"conversation_id": cid, "usage": two_usage, "conversation_usage": totals, "context_messages": 3,
            "dropped_messages": 0, "provider": "anthropic", "fallback": False}
    check(
        got == want,
        f"turn 2 of a conversation answered {short(got, 240)}; expected {short(want, 240)} (usage: this call's, "
        "conversation_usage: the totals, context_messages: messages sent without the system prompt)",
    )
    check(two.get("model") == entries[-1].get("answered_model"), f"turn 2 answered model {two.get('model')!r}; expected the provider's name {entries[-1].get('answered_model')!r}")
    check(cid in listed_ids(app, bearer(a_token)), f"GET {CONVS} does not list the caller's conversation")
    check(cid not in listed_ids(app, bearer(b_token)), f"GET {CONVS} lists another user's conversation: list only the caller's")
    held = client.lrange(f"{PREFIX}conversation:{cid}:messages", 0, -1)
    check(
        client.type(f"{PREFIX}conversation:{cid}:messages") == "list" and len(held) == 4,
        f"Redis list {PREFIX}conversation:{cid}:messages holds {len(held)} entries after two turns; expected 4 (one JSON message each)",
    )
    view = read(app, bearer(a_token), cid)
    assistants = [m for m in view.get("messages") or [] if isinstance(m, dict) and m.get("role") == "assistant"]
    check(
        [m.get("usage") for m in assistants] == [one_usage, two_usage] and [m.get("context_messages") for m in assistants] == [1, 3]
        and view.get("usage") == totals and isinstance(view.get("context_tokens"), int),
        f"GET {CONVS}/{{id}} after two turns shows assistant usage {[m.get('usage') for m in assistants]}, context_messages "
        f"{[m.get('context_messages') for m in assistants]}, usage {view.get('usage')!r}; expected {[one_usage, two_usage]}, "
        f"[1, 3], {totals} and context_tokens",
    )
    newer = create(app, bearer(a_token), "no system prompt")["id"]
    r = app.get(CONVS, headers=bearer(a_token), timeout=TIMEOUT_S)
    items = [i for i in (json_or_none(r) or {}).get("data") or [] if isinstance(i, dict)]
    check(
        [i.get("id") for i in items][:2] == [newer, cid] and (json_or_none(r) or {}).get("object") == "list",
        f"GET {CONVS} listed {[i.get('id') for i in items]} (object {(json_or_none(r) or {}).get('object')!r}); expected "
        f"the newer conversation first, then the older, in {{\"object\": \"list\", \"data\": [...]}}",
    )
    item = items[1] if len(items) > 1 else {}
    check(
        item.get("message_count") == 4 and item.get("usage") == totals and item.get("model") == PRIMARY
        and item.get("system") == system and "created_at" in item,
        f"GET {CONVS} shows the conversation as {short(item, 200)}; expected message_count 4, usage {totals}, its system, "
        "model and created_at",
    )
    sim.clear_requests()
    missing_id = secrets.token_hex(16)
    for method, path, body in (
        ("GET", f"{CONVS}/{{}}", None),
        ("POST", f"{CONVS}/{{}}/messages", {"content": f"Mine now {nonce()}"}),
        ("POST", f"{CONVS}/{{}}/messages/stream", {"content": f"Mine now {nonce()}"}),
        ("DELETE", f"{CONVS}/{{}}", None),
    ):
        r = app.request(method, path.format(cid), json=body, headers=bearer(b_token), timeout=TIMEOUT_S)
        check(
            r.status_code == 404,
            f"{method} {path.format('{id}')} by another user answered {r.status_code}; expected 404, as if "
            "it did not exist: a conversation belongs to the token's sub",
        )
        check_error(r, 404, "not_found", f"{method} {path.format('{id}')} by another user")
        never = app.request(method, path.format(missing_id), json=body, headers=bearer(b_token), timeout=TIMEOUT_S)
        check_error(never, 404, "not_found", f"{method} {path.format('{id}')} for an id that never existed")
        mine = str(((json_or_none(r) or {}).get("error") or {}).get("message")).replace(cid, "<id>")
        theirs = str(((json_or_none(never) or {}).get("error") or {}).get("message")).replace(missing_id, "<id>")
        check(
            mine == theirs,
            f"{method} {path.format('{id}')}: another user's conversation answers {mine!r}, an id that never existed "
            f"{theirs!r}; the two answers must be the same, so ids cannot be probed",
        )
    check(not generations(sim), "another user's message to a conversation reached the provider")
    # a failure on our side (here: a stored message that is not JSON) is a 500 internal_error, in the error body
    client.rpush(f"{PREFIX}conversation:{newer}:messages", "{not json")
    r = app.get(f"{CONVS}/{newer}", headers=bearer(a_token), timeout=TIMEOUT_S)
    check_error(r, 500, "internal_error", f"GET {CONVS}/{{id}} of a conversation whose stored messages are corrupt (a bug on our side)")
    later = started(start_app, {}, "app-restarted", "a second time")
    whole = [*expected, ("assistant", two["content"])]
    messages = stored(read(later, bearer(a_token), cid, " from a restarted app"))
    check(
        messages == whole,
        f"read from a restarted app (same REDIS_URL), the conversation holds {short(messages, 200)}; expected its 4 messages",
    )
    r = later.delete(f"{CONVS}/{cid}", headers=bearer(a_token), timeout=TIMEOUT_S)
    check(
        r.status_code == 204 and not r.content,
        f"DELETE {CONVS}/{{id}} by its owner answered {r.status_code} {short(r.text, 80)!r}; expected 204 and no body",
    )
    r = app.get(f"{CONVS}/{cid}", headers=bearer(a_token), timeout=TIMEOUT_S)
    check(r.status_code == 404, f"GET {CONVS}/{{id}} after DELETE answered {r.status_code}; expected 404")
    check(cid not in listed_ids(app, bearer(a_token)), f"GET {CONVS} still lists a deleted conversation")
    left = [k for k in (key, f"{PREFIX}conversation:{cid}:messages") if client.exists(k)]
    check(not left, f"after DELETE, Redis still holds {', '.join(left)}: delete the conversation and its messages")
    check(client.zscore(index, cid) is None, f"after DELETE, Redis sorted set {index} still holds {cid}")


@criterion(
    "p7.conversation-turns",
    CONVERSATIONS,
    hint="build_context(): the system prompt, the latest whole turns that fit in HISTORY_TOKEN_BUDGET (oldest left "
    "out first, still stored), the new message; one message at a time per conversation: the lock (SET NX with an "
    "expiry, chat:conversation:{id}:lock) held from reading the history until the pair is stored, until a stream "
    "ends, and 409 conversation_busy (Retry-After: 1) after CONVERSATION_LOCK_WAIT_S.",
)
def test_conversation_turns(start_app, sim, redis_url):
    later = started(
        start_app, {"HISTORY_TOKEN_BUDGET": str(BUDGET), "CONVERSATION_LOCK_WAIT_S": "0.5"}, "app-budget",
        f"with HISTORY_TOKEN_BUDGET={BUDGET} and CONVERSATION_LOCK_WAIT_S=0.5",
    )
    _, a_token = user_token(later)
    client = connect(redis_url)
    # HISTORY_TOKEN_BUDGET: the latest whole turns that fit, the oldest left out first (and kept in the store)
    budgeted = create(later, bearer(a_token), "no system prompt")["id"]
    turns, replies = [f"Turn {i} {nonce()}: " + "the " * 100 for i in (1, 2, 3)], []
    for i, content in enumerate(turns):
        sim.clear_requests()
        reply = send(later, bearer(a_token), budgeted, content, f"turn {i + 1} with HISTORY_TOKEN_BUDGET={BUDGET}")
        replies.append(reply)
        entries = generations(sim)
        sent = sent_messages(entries[-1]) if entries else []
        history = [m for j in range(i) for m in (("user", turns[j]), ("assistant", replies[j]["content"]))]
        keep = history if i < 2 else history[2:]
        check(
            sent == [*keep, ("user", content)] and reply.get("dropped_messages") == len(history) - len(keep)
            and reply.get("context_messages") == len(keep) + 1,
            f"with HISTORY_TOKEN_BUDGET={BUDGET}, turn {i + 1} (each turn about 240 tokens) sent {len(sent)} messages and "
            f"answered dropped_messages {reply.get('dropped_messages')!r}, context_messages {reply.get('context_messages')!r}; "
            f"expected {len(keep) + 1} messages (the latest whole turns that fit, then the new message), "
            f"{len(history) - len(keep)} dropped",
        )
    kept = stored(read(later, bearer(a_token), budgeted, " after turns left out for the budget"))
    check(len(kept) == 6, f"after 3 turns, {len(kept)} messages are stored; expected 6: turns left out of the context stay stored")
    # one message at a time: a second message while the first is answered waits CONVERSATION_LOCK_WAIT_S, then 409
    busy = create(later, bearer(a_token), "no system prompt")["id"]
    sim.clear_requests()
    sim.add_fault(provider="*", kind="slow", delay_s=2.5, times=1)
    slow: dict = {}
    worker = threading.Thread(
        target=lambda: slow.update(r=later.post(f"{CONVS}/{busy}/messages", json={"content": f"Slow {nonce()}"},
                                                headers=bearer(a_token), timeout=TIMEOUT_S)),
        daemon=True,
    )
    try:
        worker.start()
        check(wait_until(lambda: generations(sim), timeout=5.0), "a conversation message never reached the provider")
        lock = f"{PREFIX}conversation:{busy}:lock"
        held, ttl = client.type(lock), client.pttl(lock)
        r = later.post(f"{CONVS}/{busy}/messages", json={"content": f"Meanwhile {nonce()}"}, headers=bearer(a_token), timeout=TIMEOUT_S)
    finally:
        worker.join(TIMEOUT_S)
        sim.clear_faults()
    check(held == "string", f"while a message was answered Redis had no string key {lock} (the conversation's lock, SET NX with an expiry)")
    check(ttl > 0, f"the lock {lock} has no expiry (PTTL {ttl}): a crashed process would lock the conversation for good")
    check_error(r, 409, "conversation_busy", "a second message while the first was still answered (CONVERSATION_LOCK_WAIT_S=0.5)")
    check(r.headers.get("retry-after") == "1", f"the 409 has Retry-After {r.headers.get('retry-after')!r}; expected '1'")
    first_status = slow.get("r").status_code if slow.get("r") is not None else None
    check(first_status == 200, f"the first message, answered slowly, got {first_status}; expected 200")
    check(len(generations(sim)) == 1, f"the message answered 409 still called the provider ({len(generations(sim))} calls)")
    check(
        wait_until(lambda: not client.exists(lock), timeout=2.0),
        f"the lock {lock} is still in Redis 2 s after the message was answered: release it",
    )
    # a streamed reply holds the lock until the stream ends
    sim.clear_requests()
    sim.config(token_delay_ms=50)
    streamed: dict = {}
    worker = threading.Thread(
        target=lambda: streamed.update(r=stream(later, a_token, f"{CONVS}/{busy}/messages/stream", {"content": f"Stream {nonce()}"})),
        daemon=True,
    )
    try:
        worker.start()
        wait_until(lambda: any((e.get("tokens_streamed") or 0) >= 1 for e in generations(sim)), timeout=5.0)
        during = client.exists(lock)
        worker.join(TIMEOUT_S)
    finally:
        sim.config(token_delay_ms=0)
    done = streamed.get("r")
    check(done is not None and done.of_type("done"), f"a streamed conversation message did not end with a done event ({short(getattr(done, 'status', None))})")
    check(during, f"while a streamed reply was still being sent, Redis had no lock {lock}: hold it until the stream ends")
    check(
        wait_until(lambda: not client.exists(lock), timeout=2.0),
        f"the lock {lock} is still in Redis 2 s after the streamed reply ended: release it however the stream ends",
    )


@criterion(
    "p7.retries",
    RETRY_ITEM,
    hint="tenacity around each provider call: stop_after_attempt(RETRY_ATTEMPTS), exponential waits "
    "from RETRY_BASE_S, only on transient errors (429, 5xx, timeouts, connection errors). A 400 is "
    "about the request: neither retried nor sent to a fallback.",
)
def test_retries(app, sim, start_app, project, redis_url):
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
    check_error(r, 502, "upstream_error", "a request the provider answered 400 (the request is wrong)")
    for status in (404, 422):
        r = with_faults(sim, [{"provider": "*", "kind": "http", "status": status, "times": 1}], lambda: chat(app, token))
        calls = calls_of(sim)
        check(
            len(calls) == 1,
            f"a {status} from the provider led to {len(calls)} calls ({calls}); like a 400 it says the request is wrong: "
            "neither retry nor fall back",
        )
        check_error(r, 502, "upstream_error", f"a request the provider answered {status}")
    # our key refused: no retry, the next model at once; the last model's refusal is a 502 upstream_auth_error
    for status in (401, 403):
        r = with_faults(sim, [{"provider": "*", "kind": "http", "status": status}], lambda: chat(app, token))
        calls = calls_of(sim)
        check(
            calls == ["anthropic", "openai", "openrouter"],
            f"with every provider answering {status} the calls were {calls}; expected one per model of the chain "
            "(anthropic, openai, openrouter): a refused key is not retried, but another provider's may work",
        )
        check_error(r, 502, "upstream_auth_error", f"a request every provider refused with {status}")
    for status in (500, 503):
        r = with_faults(sim, [{"provider": "*", "kind": "http", "status": status, "times": 1}], lambda: chat(app, token))
        calls = calls_of(sim)
        check(
            calls == ["anthropic", "anthropic"] and r.status_code == 200,
            f"a {status} then a success led to the calls {calls} and a {r.status_code}; expected anthropic twice (a {status} "
            "is retried on the same model) and 200",
        )
    # the provider rate limits us: retried, falls back; from the last model, 429 with its Retry-After
    r = with_faults(
        sim,
        [{"provider": "anthropic", "kind": "http", "status": 401}, {"provider": "openai", "kind": "http", "status": 401},
         {"provider": "openrouter", "kind": "http", "status": 429, "retry_after": 7}],
        lambda: chat(app, token),
    )
    calls = calls_of(sim)
    check(
        calls == ["anthropic", "openai"] + ["openrouter"] * ATTEMPTS,
        f"with anthropic and openai refusing our key and openrouter rate limiting (429) the calls were {calls}; expected "
        f"anthropic, openai, then openrouter {ATTEMPTS} times: a provider's 429 is retried",
    )
    check_error(r, 429, "rate_limited", "a request whose last model was rate limited (429) on every attempt")
    check(
        r.headers.get("retry-after") == "7",
        f"the provider rate limited us with Retry-After: 7; our 429 said Retry-After: {r.headers.get('retry-after')!r}; pass the provider's on",
    )
    # timeouts, refused connections, RETRY_ATTEMPTS, a provider without a key: an app with LLM_TIMEOUT_S=1,
    # RETRY_ATTEMPTS=2, Anthropic unreachable and no OpenRouter key
    # started now, judged at the end: the app must refuse to start with no key, or with RETRY_ATTEMPTS=0
    keyless = {**app.env, "ANTHROPIC_API_KEY": "", "OPENAI_API_KEY": "", "OPENROUTER_API_KEY": ""}
    no_keys = spawn(project.root, ["-m", "uvicorn", "app.main:app", "--port", str(free_port())], keyless)
    bad_config = spawn(project.root, ["-c", "import app.main"], {**app.env, "RETRY_ATTEMPTS": "0"})
    faulty = started(
        start_app,
        {"LLM_TIMEOUT_S": "1", "RETRY_ATTEMPTS": "2", "ANTHROPIC_BASE_URL": "http://127.0.0.1:1", "OPENROUTER_API_KEY": "",
         "STORE": "memory", **FAST_RETRIES},
        "app-faults",
        "with LLM_TIMEOUT_S=1, RETRY_ATTEMPTS=2, Anthropic unreachable, OPENROUTER_API_KEY empty and STORE=memory",
    )
    sub, token = user_token(faulty)
    r = chat(faulty, token, model=FIRST_FALLBACK)
    check(r.status_code == 200, f"POST {CHAT} for {FIRST_FALLBACK} on an app with STORE=memory answered {r.status_code}: {short(r.text, 120)}")
    counted = (json_or_none(faulty.get(USAGE, headers=bearer(token), timeout=TIMEOUT_S)) or {}).get("requests")
    in_redis = connect(redis_url).exists(f"{PREFIX}usage:{sub}")
    check(
        counted == 1 and not in_redis,
        f"with STORE=memory, after one answered call GET {USAGE} says {counted!r} requests and Redis "
        f"{'holds' if in_redis else 'does not hold'} {PREFIX}usage:{sub}; expected 1, counted in the process's memory (not in Redis)",
    )
    r = faulty.get("/v1/models", headers=bearer(token), timeout=TIMEOUT_S)
    offered = {m.get("id"): m.get("fallbacks") for m in (json_or_none(r) or {}).get("data") or [] if isinstance(m, dict)}
    want = {PRIMARY: [FIRST_FALLBACK], FIRST_FALLBACK: [PRIMARY]}
    check(
        offered == want,
        f"with OPENROUTER_API_KEY empty, GET /v1/models offered {offered}; expected {want}: a provider without a key is "
        "left out, not offered and not a fallback",
    )
    r = chat(faulty, token, model="llama-3.3-70b")
    check_error(r, 422, "unknown_model", "POST /v1/chat for llama-3.3-70b with OPENROUTER_API_KEY empty")
    r = with_faults(sim, [{"provider": "openai", "kind": "http", "status": 529}], lambda: chat(faulty, token, model=FIRST_FALLBACK))
    calls = calls_of(sim)
    check(
        calls == ["openai", "openai"],
        f"with RETRY_ATTEMPTS=2, openai overloaded, Anthropic unreachable and OpenRouter keyless, a request for "
        f"{FIRST_FALLBACK} made the calls {calls}; expected openai twice (RETRY_ATTEMPTS attempts, the first included), "
        "then the fallback to Anthropic (unreachable), and never OpenRouter",
    )
    check_error(r, 502, "upstream_unavailable", "a request whose last model could not be reached (connection refused)")
    r = with_faults(sim, [{"provider": "openai", "kind": "hang"}], lambda: chat(faulty, token, model=PRIMARY))
    calls = calls_of(sim)
    check(
        calls == ["openai", "openai"],
        f"requesting {PRIMARY} with Anthropic unreachable and openai never answering, the calls were {calls}; expected "
        "openai twice: a timeout (LLM_TIMEOUT_S) is retried",
    )
    check_error(r, 504, "upstream_timeout", "a request whose last model timed out (LLM_TIMEOUT_S=1) on every attempt")
    code, out = outcome(no_keys, timeout=40)
    check(
        code not in (None, 0),
        f"the app with no provider key at all {'kept running' if code is None else 'exited 0'}; it must refuse to start "
        "(at least one key)",
    )
    code, out = outcome(bad_config, timeout=40)
    check(code not in (None, 0), "importing the app with RETRY_ATTEMPTS=0 went fine; a value out of range (1 to 10) must stop it at start-up")
    check("retry_attempts" in out.lower(), f"the app refused RETRY_ATTEMPTS=0 without naming it: {short(out.strip().splitlines()[-1] if out.strip() else '', 160)}")


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
    sub, token = user_token(app)
    edge = "a.B-9_" + "x" * 58
    for sent, kept in ((edge, True), (edge + "y", False), ("has space", False), ("semi;colon", False), ("", False)):
        r = app.get(USAGE, headers={**bearer(token), "X-Request-ID": sent}, timeout=TIMEOUT_S)
        got = r.headers.get("x-request-id") or ""
        check(
            (got == sent) if kept else (got and got != sent and re.fullmatch(r"[A-Za-z0-9._-]{1,64}", got)),
            f"a request sent with X-Request-ID {sent!r} ({len(sent)} characters) came back with {got!r}; expected "
            + ("the same id: [A-Za-z0-9._-]{1,64} is usable" if kept else "a new id: only [A-Za-z0-9._-]{1,64} is reused"),
        )
    r, lines = request_window(app, lambda: app.get(f"{CONVS}/{secrets.token_hex(16)}", headers=bearer(token), timeout=TIMEOUT_S))
    rid = r.headers.get("x-request-id", "")
    check_error(r, 404, "not_found", f"GET {CONVS}/{{id}} for an unknown id")
    details = ((json_or_none(r) or {}).get("error") or {}).get("details")
    check(details is None, f"the 404 has error.details {short(details, 80)}: details are for validation errors only")
    mine = [json_line(line) or {} for line in lines if rid in line]
    access = [d for d in mine if d.get("event") == "request" and d.get("status") == 404]
    check(
        access and access[-1].get("logger") == "app.access" and access[-1].get("path", "").startswith(CONVS)
        and access[-1].get("method") == "GET" and isinstance(access[-1].get("duration_ms"), int | float),
        f"the access line of a 404 was {short(access[-1] if access else None, 200)}; expected event \"request\", logger "
        "\"app.access\", method, path, status and duration_ms",
    )
    check(
        access[-1].get("user") == sub,
        f"the access line of an authenticated request has user {access[-1].get('user')!r}; expected the token's sub {sub!r} "
        "(bind it once the token is verified)",
    )
    check(
        all(all(k in d for k in ("event", "level", "logger", "timestamp")) for d in mine),
        f"a log line lacks event, level, logger or timestamp: {short(next((d for d in mine if not all(k in d for k in ('event', 'level', 'logger', 'timestamp'))), ''), 200)}",
    )
    odd = [line for line in app.logs().splitlines() if line.strip() and json_line(line) is None]
    check(not odd, f"{len(odd)} line(s) of the app's output are not JSON objects, e.g. {short(odd[0] if odd else '', 160)}: every line, "
          "uvicorn's and LiteLLM's included, goes through the JSON renderer")
    check(
        not [line for line in app.logs().splitlines() if '"uvicorn.access"' in line],
        "uvicorn's own access log is on (its lines have no request id): turn it off, our access line replaces it",
    )
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
def test_health(app, start_app, sim):
    sim.clear_requests()
    r = app.get("/health", timeout=TIMEOUT_S)
    check(r.status_code == 200 and json_or_none(r) == {"status": "ok"}, f"GET /health answered {r.status_code} {short(r.text, 100)}; expected 200 {{\"status\": \"ok\"}}")
    r = app.get("/ready", timeout=TIMEOUT_S)
    want = {"status": "ready", "checks": {"redis": "ok", "config": "ok"}}
    check(r.status_code == 200 and json_or_none(r) == want, f"GET /ready with Redis up answered {r.status_code} {short(r.text, 120)}; expected 200 {want}")
    check(not generations(sim), "GET /health or /ready called a provider: a probe must not cost money")
    dead = started(start_app, {"REDIS_URL": DEAD_REDIS, "LOG_LEVEL": "warning"}, "dead-redis",
                   "with REDIS_URL pointing at a dead Redis (and LOG_LEVEL=warning)")
    r = dead.get("/health", timeout=TIMEOUT_S)
    check(r.status_code == 200, f"with Redis down GET /health answered {r.status_code}; the process is up, so 200")
    r = dead.get("/ready", timeout=TIMEOUT_S)
    body = json_or_none(r) or {}
    checks = body.get("checks") if isinstance(body.get("checks"), dict) else {}
    check(
        r.status_code == 503,
        f"with REDIS_URL pointing at a dead Redis GET /ready answered {r.status_code}; expected 503: ping Redis",
    )
    check(
        body.get("status") == "unavailable" and checks.get("redis") not in (None, "ok") and checks.get("config") in (None, "ok"),
        f"with Redis down GET /ready answered {short(r.text, 160)}; expected {{\"status\": \"unavailable\", \"checks\": "
        "{\"redis\": <why>}} naming Redis (and only what is wrong)",
    )
    _, token = user_token(dead)
    r = dead.get(CONVS, headers=bearer(token), timeout=TIMEOUT_S)
    check_error(r, 503, "store_unavailable", f"GET {CONVS} with Redis down")
    check(r.headers.get("retry-after") == "5", f"the 503 for Redis down has Retry-After {r.headers.get('retry-after')!r}; expected '5'")
    lines = [json_line(line) or {} for line in dead.logs().splitlines()]
    check(
        any(d.get("event") == "not ready" and d.get("redis") for d in lines),
        'with Redis down, /ready\'s 503 left no log line {"event": "not ready", "redis": <why>}',
    )
    check(
        any(str(d.get("event", "")).startswith("redis unavailable") for d in lines),
        'with Redis down, the 503 of GET /v1/conversations left no log line "redis unavailable: <error>"',
    )
    chatty = [d for d in lines if str(d.get("level", "")).lower() in ("info", "debug") and str(d.get("logger", "")).startswith("app")]
    check(
        not chatty,
        f"with LOG_LEVEL=warning the app still logged {len(chatty)} info/debug line(s), e.g. {short(chatty[0] if chatty else '', 160)}",
    )
    keyless = started(start_app, {"JWT_SECRET": ""}, "no-jwt-secret", "with JWT_SECRET empty")
    r = keyless.get("/ready", timeout=TIMEOUT_S)
    body = json_or_none(r) or {}
    checks = body.get("checks") if isinstance(body.get("checks"), dict) else {}
    check(
        r.status_code == 503 and body.get("status") == "unavailable" and checks.get("config") not in (None, "ok")
        and checks.get("redis") in (None, "ok"),
        f"with JWT_SECRET unset GET /ready answered {r.status_code} {short(r.text, 160)}; expected 503 "
        "{\"status\": \"unavailable\", \"checks\": {\"config\": <why>}}: no token can be verified",
    )
    check_401(keyless.get(USAGE, headers=bearer(mint(app, user_id())), timeout=TIMEOUT_S), "any token, JWT_SECRET being unset,")


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
            need |= {"401", "500", "503"}
            security = op.get("security", doc.get("security")) or []
            if not any(set(s) & schemes for s in security if isinstance(s, dict)):
                problems.append(f"{where} does not say it needs the bearer token (security)")
        if op.get("requestBody") or op.get("parameters"):
            need.add("422")
        if "{" in path:
            need.add("404")
        if (method, path) in CALLS_MODEL:
            need |= {"429", "502", "504"}
        if "/messages" in path:
            need.add("409")
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
    order = [e.get("provider") for e in calls]
    expected = ["anthropic"] * ATTEMPTS + ["openai"] * ATTEMPTS + ["openrouter"] * ATTEMPTS
    check(
        order == expected,
        f"with every provider overloaded (529), POST {CHAT} for {PRIMARY} made the calls {order}; expected {expected}: "
        f"{ATTEMPTS} attempts on each model of its chain, in order",
    )
    check_error(r, 502, "upstream_unavailable", f"POST {CHAT} with every provider overloaded (529)")
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
    check(
        all(all(k in d for k in ("event", "level", "logger", "timestamp")) for d in mine),
        f"a log line of request {rid} lacks event, level, logger or timestamp: "
        f"{short(next((d for d in mine if not all(k in d for k in ('event', 'level', 'logger', 'timestamp'))), ''), 200)}",
    )
    check(
        mine and mine[-1] in access and access[0].get("event") == "request" and access[0].get("logger") == "app.access"
        and all(k in access[0] for k in ("method", "path", "status", "duration_ms")),
        f"the access line of request {rid} is {short(access[0] if access else None, 200)}, "
        f"{'last' if mine and mine[-1] in access else 'not last'}; expected the last line, event \"request\", logger "
        "\"app.access\", with method, path, status and duration_ms",
    )
    retries = [d for d in mine if d.get("event") == "provider call failed, retrying"]
    check(
        len(retries) == (ATTEMPTS - 1) * 3 and all(all(k in d for k in ("attempt", "error", "status", "wait_s")) for d in retries)
        and [d.get("attempt") for d in retries] == list(range(1, ATTEMPTS)) * 3,
        f"request {rid} (9 failed attempts, 3 per model) logged {len(retries)} \"provider call failed, retrying\" line(s) "
        f"with attempts {[d.get('attempt') for d in retries]}; expected {(ATTEMPTS - 1) * 3} (one per wait: attempts "
        f"{list(range(1, ATTEMPTS))} of each model), each with attempt, error, status and wait_s",
    )
    waits = [d.get("wait_s") for d in retries]
    check(
        all(isinstance(w, int | float) for w in waits)
        and all(waits[i + 1] > waits[i] for i in range(0, len(waits) - 1, ATTEMPTS - 1)),
        f"the retry lines of request {rid} say wait_s {waits}; expected the wait to grow within each model (base, 2×base, …)",
    )
    final = [d for d in mine if d.get("logger") == "app.errors" and str(d.get("event", "")).startswith("provider call failed:")]
    check(
        final and "openrouter" in str(final[-1].get("event")),
        f"request {rid} logged no \"provider call failed: <error> (provider openrouter, …)\" line from app.errors (found "
        f"{short([d.get('event') for d in final], 160)}): log the error that reached the client, from the last model",
    )
    ids = {({k.lower(): v for k, v in (e.get("headers") or {}).items()}).get("x-request-id") for e in calls}
    check(ids == {rid}, f"the {len(calls)} provider calls of request {rid} carried x-request-id {sorted(map(str, ids))}; expected {rid} on every attempt")
    falls = [(d.get("model"), d.get("fallback")) for d in mine if d.get("event") == "model failed after retries, falling back"]
    check(
        falls == [(PRIMARY, FIRST_FALLBACK), (FIRST_FALLBACK, "llama-3.3-70b")],
        f"request {rid} logged the fallbacks {falls} (\"model failed after retries, falling back\", model → fallback); "
        f"expected {[(PRIMARY, FIRST_FALLBACK), (FIRST_FALLBACK, 'llama-3.3-70b')]}",
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
def test_extend(app, sim, redis_url):
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
    check(data.get("user") == user and data.get("tier") == "premium", f"GET {USAGE} answered {short(r.text)}; expected user {user!r}, tier 'premium'")
    key = f"{PREFIX}usage:{user}"
    client = connect(redis_url)
    expect_type(client, key, "hash", "the user's usage")
    held = client.hgetall(key)
    want = {"requests": str(len(entries)), "input_tokens": str(expected["input_tokens"]), "output_tokens": str(expected["output_tokens"])}
    check(
        {k: held.get(k) for k in want} == want,
        f"Redis hash {key} holds {short(held, 200)}; expected {want}: the counts live in Redis (every process adds to one number)",
    )
    # failed calls and replies cut short are not counted
    r = with_faults(sim, [{"provider": "*", "kind": "http", "status": 400, "times": 1}], lambda: chat(app, token))
    check(r.status_code == 502, f"POST {CHAT} whose provider answered 400 gave {r.status_code}; expected 502")
    cut = with_faults(
        sim, [{"provider": "*", "kind": "midstream", "after_tokens": 2}],
        lambda: stream(app, token, STREAM, {"message": f"Cut me {nonce()}"}),
    )
    check(cut.status == 200 and cut.of_type("error"), f"a stream failing part-way answered {cut.status} with events {[e.type for e in cut.events][-3:]}")
    r = app.get(USAGE, headers=bearer(token), timeout=TIMEOUT_S)
    after = json_or_none(r) or {}
    check(
        after.get("requests") == len(entries) and after.get("usage") == expected,
        f"after a failed call and a stream cut short, GET {USAGE} says {after.get('requests')!r} requests and "
        f"{after.get('usage')!r}; expected it unchanged ({len(entries)}, {expected}): count only calls answered whole",
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
