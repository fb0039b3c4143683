"""Project 3: Multi-Provider Chat with LiteLLM.

The app runs as ``uvicorn app.main:app`` with all three providers pointed at the run's
llmsim. The checks talk to the app over HTTP and read llmsim's journal: which provider got
each request, for which model, with which headers, and how it ended. That tells a real
fallback from a lucky default, and the provider that answered from the one that was asked.
"""

from __future__ import annotations

import ast
import re
import secrets
import time
from concurrent.futures import ThreadPoolExecutor

from grader.checks import compose, dockerfile, files, keys
from grader.checks.files import StaticError
from grader.checks.http import FRESH, error_body_problem, json_or_none, nonce, short
from grader.checks.journal import (
    answered,
    describe,
    generations,
    sent_messages,
    sent_system,
    text_of,
    usage_matches,
)
from grader.checks.models import DEFAULT_MODEL, MODELS, NAME_OF, matches_model, name_of_entry
from grader.checks.quizzes import check_quiz_file
from grader.criterion import CheckError, check, criterion

ROUTER = "LiteLLM Router configuration"
PROVIDERS = "Support for Anthropic, OpenAI, OpenRouter"
FALLBACK = "Automatic fallback on failure"
CHAT = "`/v1/chat` endpoint using router"
PROVIDER_IN_RESPONSE = "Response includes which provider was used"
MODELS_ENDPOINT = "`/v1/models` endpoint listing available models"
API_KEYS = "Environment variables for all API keys"
SWITCH = "Can switch providers by changing model name"
FALLBACK_WORKS = "Fallback works when primary provider fails"
NAMING = "Understands LiteLLM model naming convention"

# What LiteLLM sends to OpenRouter when the app names itself nowhere.
LITELLM_ATTRIBUTION = ("https://litellm.ai", "liteLLM")
KEY_VARS = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "OPENROUTER_API_KEY")
# A generous wait for calls that go through retries and fallbacks.
CHAT_TIMEOUT_S = 20
# The README's defaults for OpenRouter's attribution headers (OPENROUTER_SITE_URL, OPENROUTER_APP_NAME).
DEFAULT_ATTRIBUTION = ("http://localhost:8000", "FastAPI GenAI course: multi-provider chat")
# Every variable of the README's Configuration table: .env.example lists each.
CONFIG_VARS = (
    *KEY_VARS, "ANTHROPIC_BASE_URL", "OPENAI_BASE_URL", "OPENROUTER_API_BASE", "OPENROUTER_SITE_URL",
    "OPENROUTER_APP_NAME", "LLM_TIMEOUT_S", "LLM_NUM_RETRIES", "LITELLM_LOCAL_MODEL_COST_MAP",
)
# The README's fallback table: model -> the models tried after it, in order.
FALLBACK_ORDER = {
    "claude-haiku-4-5": ["gpt-4o-mini", "llama-3.3-70b"],
    "gpt-4o-mini": ["claude-haiku-4-5", "llama-3.3-70b"],
    "llama-3.3-70b": ["gpt-4o-mini", "claude-haiku-4-5"],
}
LITELLM_MODEL = {name: f"{provider}/{model_id}" for name, (provider, model_id) in MODELS.items()}
RESPONSE_FIELDS = ("content", "model", "provider", "requested_model", "fallback", "usage")

# sha256 of "<question id>:<answer>" (grader.quiz.answer_hash), not the answers.
QUIZ = {
    "naming-prefix": "a6f36f36f003226a40b7a10b99299d3a099d308dd950c343e7d09b0d6fbb6952",
    "naming-same-model-two-ways": "96435e3dce3c1e49e8b5680d9b4d325366930148fa36255d80fd4d83e54d5e33",
    "naming-model-group": "f3dc0adde04cf7ab9b594ef92ed7945b560166a6b6c1c4ed365d161fa1741e73",
    "naming-switch-provider": "4a0061a6c4dd8ac2a52bdc9faeeb7a2c441980e29ff60d92f9a367fc8bb9b268",
    "router-fallbacks": "d20cebbe9b77593c3f5a052e74d33b8597b5f97a6aca16408ca4abc435c37920",
}


# -- helpers ------------------------------------------------------------------------------------


def post_chat(app, path: str = "/v1/chat", **body):
    return app.post(path, json=body, timeout=CHAT_TIMEOUT_S, headers=FRESH)


def chat_ok(app, what: str, path: str = "/v1/chat", **body) -> dict:
    """POST a chat request that must succeed; its JSON body."""
    r = post_chat(app, path, **body)
    check(
        r.status_code == 200,
        f"POST {path} with {what} answered {r.status_code}: {short(r.text)}",
    )
    data = json_or_none(r)
    check(isinstance(data, dict), f"POST {path} with {what} did not answer a JSON object: {short(r.text)}")
    return data


def error_check(r, what: str, status: int, kind: str) -> dict:
    """An error response must have ``status``, the one error body with type ``kind``, the
    same request id in X-Request-ID, and nothing of the provider's own error text."""
    check(r.status_code == status, f"{what} answered {r.status_code}; expected {status} ({kind}): {short(r.text, 120)}")
    problem = error_body_problem(r)
    check(problem is None, f"{what}: {problem}")
    error = r.json()["error"]
    check(
        error.get("type") == kind,
        f"{what}: the error type is {error.get('type')!r}; expected {kind!r} ({status})",
    )
    check(
        r.headers.get("x-request-id") == error.get("request_id"),
        f"{what}: the X-Request-ID header is {r.headers.get('x-request-id')!r} but error.request_id is "
        f"{error.get('request_id')!r}; send the same id in both",
    )
    check(
        "llmsim" not in r.text.lower(),
        f"{what}: the error body quotes the provider's own error ({short(r.text, 120)}); answer your own message",
    )
    return error


def providers_of(entries: list[dict]) -> list[str]:
    return [e.get("provider") for e in entries]


def tried(entries: list[dict]) -> str:
    return ", ".join(map(describe, entries)) or "no provider request"


def parallel(*calls):
    """Run independent calls at once; their results in order."""
    with ThreadPoolExecutor(max_workers=min(8, len(calls))) as pool:
        return [f.result() for f in [pool.submit(c) for c in calls]]


def entry_with(entries: list[dict], tag: str) -> dict | None:
    """The provider request whose user message carries ``tag``."""
    for e in entries:
        if any(tag in text for _, text in sent_messages(e)):
            return e
    return None


# -- the Router ---------------------------------------------------------------------------------

def _router_calls(project) -> list[ast.Call]:
    calls = []
    for path in project.files("app/**/*.py"):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
        except SyntaxError as exc:
            check(False, f"{path.relative_to(project.root)} line {exc.lineno}: syntax error")
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
                if name == "Router":
                    calls.append(node)
    return calls


def _lifespan_functions(tree: ast.Module) -> list[ast.AST]:
    """The functions given to FastAPI(lifespan=...) in a module."""
    names = {
        kw.value.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        for kw in node.keywords
        if kw.arg == "lifespan" and isinstance(kw.value, ast.Name)
    }
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in names
    ]


def _check_router_in_lifespan(project) -> None:
    """One Router, built in the lifespan and kept on app.state (README, "Configuration")."""
    lifespans = []
    for path in project.files("app/**/*.py"):
        try:
            lifespans += _lifespan_functions(ast.parse(path.read_text(encoding="utf-8", errors="replace")))
        except SyntaxError:
            continue
    check(lifespans, "FastAPI(...) is created without lifespan=: build the Router once, in the app's lifespan")
    kept = any(
        isinstance(target, ast.Attribute)
        and isinstance(target.value, ast.Attribute)
        and target.value.attr == "state"
        for fn in lifespans
        for node in ast.walk(fn)
        if isinstance(node, ast.Assign | ast.AnnAssign)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
    )
    check(
        kept,
        f"the lifespan ({lifespans[0].name}) stores nothing on app.state: build the Router there and keep "
        "it on app.state (app.state.router = ...)",
    )


@criterion(
    "p3.router-config",
    ROUTER,
    hint="Build one litellm.Router(model_list=[...], fallbacks=[...], num_retries=..., timeout=...) "
    "in the lifespan, from the settings (app/llm.py), and pin litellm in requirements.txt.",
)
def test_router_config(project):
    calls = _router_calls(project)
    check(calls, "no litellm Router(...) is created anywhere in app/: build one in app/llm.py")
    keywords = {kw.arg for call in calls for kw in call.keywords}
    unpacked = None in keywords  # Router(**settings): the names are in a dict
    check(
        "model_list" in keywords or unpacked,
        "Router(...) is created without model_list=: the Router needs one deployment per model",
    )
    source = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in project.files("app/**/*.py"))
    check(
        {"fallbacks", "default_fallbacks"} & keywords or (unpacked and "fallbacks" in source),
        "Router(...) is created without fallbacks=: without them a provider outage is an outage of the API",
    )
    check(
        {"num_retries", "timeout"} <= keywords or unpacked,
        "Router(...) is created without num_retries= and timeout=: pass LLM_NUM_RETRIES and "
        "LLM_TIMEOUT_S from the settings",
    )
    _check_router_in_lifespan(project)
    config = project.read("app/models_config.py")
    check(config is not None, "there is no app/models_config.py: the model names and fallbacks live there")
    try:
        defined = {
            t.id
            for node in ast.parse(config).body
            if isinstance(node, ast.Assign | ast.AnnAssign)
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
            if isinstance(t, ast.Name)
        }
    except SyntaxError as exc:
        check(False, f"app/models_config.py line {exc.lineno}: syntax error")
    missing = [n for n in ("MODELS", "FALLBACKS") if n not in defined]
    check(not missing, f"app/models_config.py does not define {' and '.join(missing)}: model names and fallbacks live in one place")
    text = project.read("requirements.txt")
    check(text is not None, "there is no requirements.txt")
    pins = {r.name: r.spec for r in files.parse_requirements(text)}
    check("litellm" in pins, "requirements.txt does not list litellm")
    check(pins["litellm"].startswith("=="), f"requirements.txt lists litellm{pins['litellm']}: pin it with ==")
    check(pins["litellm"] != "==1.107.0", "litellm 1.107.0 was a compromised release: pin the course's version")


@criterion(
    "p3.providers",
    PROVIDERS,
    hint="One Router deployment per model: anthropic/claude-haiku-4-5, openai/gpt-4o-mini and "
    "openrouter/meta-llama/llama-3.3-70b-instruct, each with its key and base URL from the "
    "environment; OpenRouter's with extra_headers HTTP-Referer and X-Title.",
)
def test_providers(app, sim):
    for name, (provider, model_id) in MODELS.items():
        sim.clear_requests()
        chat_ok(app, f'"model": "{name}"', message=f"Hello from the grader {nonce()}", model=name)
        entries = generations(sim)
        check(entries, f"a chat with model {name!r} answered without any request reaching a provider")
        check(
            len(entries) == 1,
            f"a chat with model {name!r}, no provider failing, made {len(entries)} provider requests "
            f"({tried(entries)}); expected exactly one router.acompletion() call",
        )
        first = entries[0]
        check(
            first.get("provider") == provider,
            f"a chat with model {name!r} went to {describe(first)}; it must go to {provider}",
        )
        check(
            first.get("model") == model_id,
            f"a chat with model {name!r} asked {provider} for model {first.get('model')!r}; expected "
            f"{model_id!r} (LiteLLM model {provider}/{model_id})",
        )
        check(
            first.get("outcome") == "ok",
            f"{provider} refused the request for {name!r} ({first.get('status')}): {short(first.get('error') or '')}",
        )
        if provider == "openrouter":
            headers = {k.lower(): v for k, v in (first.get("headers") or {}).items()}
            missing = [h for h in ("HTTP-Referer", "X-Title") if not (headers.get(h.lower()) or "").strip()]
            check(
                not missing,
                f"requests to OpenRouter lack the attribution header(s) {', '.join(missing)}: send them "
                "with the deployment's extra_headers",
            )
            check(
                (headers.get("http-referer"), headers.get("x-title")) != LITELLM_ATTRIBUTION,
                "requests to OpenRouter carry LiteLLM's default attribution (HTTP-Referer "
                f"{LITELLM_ATTRIBUTION[0]}, X-Title {LITELLM_ATTRIBUTION[1]}): send your app's own, from "
                "OPENROUTER_SITE_URL and OPENROUTER_APP_NAME, with the deployment's extra_headers",
            )
            sent = (headers.get("http-referer"), headers.get("x-title"))
            check(
                sent == DEFAULT_ATTRIBUTION,
                f"with OPENROUTER_SITE_URL and OPENROUTER_APP_NAME unset, requests to OpenRouter carry "
                f"HTTP-Referer {sent[0]!r} and X-Title {sent[1]!r}; the defaults are {DEFAULT_ATTRIBUTION[0]!r} "
                f"and {DEFAULT_ATTRIBUTION[1]!r} (README.md, Configuration)",
            )


@criterion(
    "p3.chat-endpoint",
    CHAT,
    hint="POST /v1/chat takes a ChatRequest (message 1-8000 characters, max_tokens 1-4096 default "
    "512, temperature 0.0-1.0 or null, system 1-4000 characters, no unknown fields) and makes one "
    "router.acompletion() call: the system message first, then the user message, max_tokens, and "
    "temperature whenever it is not None (0.0 too); invalid bodies get 422 validation_error.",
)
def test_chat_endpoint(app, sim):
    tag = nonce()
    message = f"What is FastAPI? {tag}"
    data = chat_ok(app, '{"message": ...}', message=message)
    entries = generations(sim)
    check(entries, "POST /v1/chat answered without any request reaching a provider")
    check(
        len(entries) == 1,
        f"one POST /v1/chat made {len(entries)} provider requests ({tried(entries)}); expected one "
        "router.acompletion() call",
    )
    first = entries[0]
    check(
        first.get("provider") == "anthropic",
        f"a chat without \"model\" went to {describe(first)}; the default model is {DEFAULT_MODEL} (Anthropic)",
    )
    check(
        sent_messages(first) == [("user", message)] and not sent_system(first),
        f"POST /v1/chat with only a message sent the provider {short(first.get('messages'), 120)} (system "
        f"{short(sent_system(first), 40)!r}); expected one user message with the text sent, and no system prompt",
    )
    check(
        first.get("max_tokens") == 512,
        f"a chat without max_tokens asked the provider for max_tokens {first.get('max_tokens')!r}; the default is 512",
    )
    check(
        first.get("temperature") is None,
        f"a chat without temperature asked the provider for temperature {first.get('temperature')!r}; send "
        "temperature only when the request gives it (the model's default otherwise)",
    )
    source = answered(entries)
    check(source is not None, "no provider request of this chat ended well: " + tried(entries))
    missing = [f for f in RESPONSE_FIELDS if f not in data]
    check(not missing, f"the response of POST /v1/chat lacks {', '.join(missing)}: {short(data, 160)}")
    check(
        data.get("content") == source.get("reply"),
        f"POST /v1/chat returned content {short(data.get('content'), 80)!r}; the provider replied "
        f"{short(source.get('reply'), 80)!r}",
    )
    check(
        data.get("requested_model") == DEFAULT_MODEL,
        f"a chat without \"model\" says requested_model {data.get('requested_model')!r}; the request asked "
        f"for the default, {DEFAULT_MODEL!r}",
    )
    usage = data.get("usage")
    check(
        usage_matches(usage, source),
        f"usage is {short(usage)}; the provider counted input_tokens={source.get('input_tokens')}, "
        f"output_tokens={source.get('output_tokens')}",
    )
    # The request's fields reach the provider, at their limits too: temperature 0.0 is a
    # value (not "not given"), null is not sent, the system prompt comes before the message.
    short_system, short_msg = f"You are terse. {tag}", f"Answer briefly {nonce()}"
    long_msg = (f"Long message {nonce()} " + "x" * 8000)[:8000]
    long_system = (f"Long system prompt {tag} " + "y" * 4000)[:4000]
    null_msg = f"Null temperature {nonce()}"
    sim.clear_requests()
    cases = {
        "a": ('"model": "gpt-4o-mini", "system", "max_tokens": 7, "temperature": 0.0',
              {"model": "gpt-4o-mini", "message": short_msg, "system": short_system, "max_tokens": 7, "temperature": 0.0}),
        "b": ('a message of 8000 characters, a system prompt of 4000, "max_tokens": 4096, "temperature": 1.0',
              {"message": long_msg, "system": long_system, "max_tokens": 4096, "temperature": 1.0}),
        "c": ('"model": "llama-3.3-70b", "temperature": null',
              {"model": "llama-3.3-70b", "message": null_msg, "temperature": None}),
        # the lower bounds are values too: one character each, one token
        "d": ('a message and a system prompt of one character, "max_tokens": 1',
              {"message": "?", "system": "!", "max_tokens": 1}),
    }
    responses = dict(zip(cases, parallel(*[lambda b=body: post_chat(app, **b) for _, body in cases.values()]), strict=True))
    for key, (what, _) in cases.items():
        r = responses[key]
        check(r.status_code == 200, f"POST /v1/chat with {what} answered {r.status_code}; expected 200: {short(r.text)}")
    entries = generations(sim)
    a, b, c = entry_with(entries, short_msg), entry_with(entries, long_msg[-40:]), entry_with(entries, null_msg)
    check(a and b and c, "a chat answered 200 without its message reaching a provider: " + tried(entries))
    check(
        a.get("max_tokens") == 7,
        f"the request had max_tokens 7 but the provider was asked for {a.get('max_tokens')}",
    )
    check(
        a.get("temperature") == 0 and a.get("temperature") is not None,
        f"the request had temperature 0.0 but the provider was asked for temperature {a.get('temperature')!r}: "
        "0.0 is a value, send it (test `is not None`, not truthiness)",
    )
    sent = [(m.get("role"), text_of(m.get("content"))) for m in a.get("messages") or [] if isinstance(m, dict)]
    check(
        sent == [("system", short_system), ("user", short_msg)],
        f"a chat with a system prompt sent OpenAI the messages {short(a.get('messages'), 160)}; expected the "
        "system prompt as a system message, then the user's message",
    )
    check(
        b.get("max_tokens") == 4096 and b.get("temperature") == 1.0,
        f"the request had max_tokens 4096 and temperature 1.0 but the provider was asked for max_tokens "
        f"{b.get('max_tokens')!r}, temperature {b.get('temperature')!r}",
    )
    check(
        sent_system(b) == long_system and sent_messages(b) == [("user", long_msg)],
        "a chat with a system prompt of 4000 characters and a message of 8000 did not reach Anthropic as "
        f"that system prompt and one user message (system {short(sent_system(b), 40)!r}, messages "
        f"{short(sent_messages(b), 80)})",
    )
    check(
        c.get("temperature") is None,
        f"the request had temperature null but the provider was asked for temperature {c.get('temperature')!r}; "
        "null or absent means the model's default: send none",
    )
    sim.clear_requests()
    invalid = (
        ("an empty message", {"message": ""}),
        ("a message of 8001 characters", {"message": "x" * 8001}),
        ("no message", {"model": DEFAULT_MODEL}),
        ("a message that is not a string", {"message": ["hi"]}),
        ("max_tokens 0", {"message": "hi", "max_tokens": 0}),
        ("max_tokens 4097", {"message": "hi", "max_tokens": 4097}),
        ("temperature -0.1", {"message": "hi", "temperature": -0.1}),
        ("temperature 1.01", {"message": "hi", "temperature": 1.01}),
        ("an empty system prompt", {"message": "hi", "system": ""}),
        ("a system prompt of 4001 characters", {"message": "hi", "system": "s" * 4001}),
        ("an unknown field", {"message": "hi", "modle": "gpt-4o-mini"}),
        ("a model that is not a string", {"message": "hi", "model": 123}),
    )
    calls = [lambda b=body: post_chat(app, **b) for _, body in invalid]
    calls.append(lambda: app.post("/v1/chat", content=b'{"message": ', headers={"Content-Type": "application/json", **FRESH}))
    calls.append(lambda: app.get("/v1/chat", headers=FRESH))
    calls.append(lambda: app.post(f"/v1/no-such-path-{tag}", json={"message": "hi"}, headers=FRESH))
    results = parallel(*calls)
    for (what, _), r in zip(invalid, results, strict=False):
        error = error_check(r, f"POST /v1/chat with {what}", 422, "validation_error")
        check(
            isinstance(error.get("details"), list) and error["details"],
            f"POST /v1/chat with {what}: the validation error has no error.details list saying what is wrong",
        )
    error_check(results[-3], "POST /v1/chat with a body that is not JSON", 422, "validation_error")
    error_check(results[-2], "GET /v1/chat", 405, "method_not_allowed")
    error_check(results[-1], "POST to an unknown path", 404, "not_found")
    check(not generations(sim), "an invalid request still called a provider: " + tried(generations(sim)))


@criterion(
    "p3.provider-in-response",
    PROVIDER_IN_RESPONSE,
    hint="Read who answered from the Router's response: "
    "response._hidden_params['additional_headers']['x-litellm-model-group'] and "
    "'x-litellm-attempted-fallbacks', and response.model; never from the request.",
)
def test_provider_in_response(app, sim):
    for name in MODELS:
        sim.clear_requests()
        data = chat_ok(app, f'"model": "{name}"', message=f"Who are you? {nonce()}", model=name)
        source = answered(generations(sim))
        check(source is not None, f"a chat with model {name!r} answered without any provider answering it")
        check(
            data.get("provider") == source.get("provider"),
            f"a chat with model {name!r} was answered by {source.get('provider')}, but the response "
            f"says provider {data.get('provider')!r}",
        )
        check(
            matches_model(data.get("model"), name_of_entry(source)),
            f"a chat with model {name!r} was answered by {source.get('model')!r}, but the response "
            f"says model {data.get('model')!r}",
        )
        check(
            data.get("fallback") is False,
            f"a chat with model {name!r} reports fallback {data.get('fallback')!r}, but no provider failed",
        )
        check(
            data.get("requested_model") == name,
            f"a chat with model {name!r} says requested_model {data.get('requested_model')!r}",
        )
    sim.add_fault(provider="anthropic", kind="http", status=529)
    sim.clear_requests()
    r = post_chat(app, message=f"Anthropic is down {nonce()}", model=DEFAULT_MODEL)
    check(
        r.status_code == 200,
        f"with Anthropic overloaded (529), a chat with model {DEFAULT_MODEL!r} answered {r.status_code}; "
        "the fallback should answer it",
    )
    data = json_or_none(r) or {}
    source = answered(generations(sim))
    check(source is not None and source.get("provider") != "anthropic", "no other provider answered when Anthropic was down")
    actual = name_of_entry(source)
    check(
        data.get("provider") == source.get("provider"),
        f"with Anthropic down, {source.get('provider')} answered, but the response says provider "
        f"{data.get('provider')!r}: report the provider that answered, not the one asked",
    )
    check(
        matches_model(data.get("model"), actual),
        f"with Anthropic down, {source.get('model')!r} answered, but the response says model "
        f"{data.get('model')!r}: report the model that answered, not the one asked",
    )
    check(
        data.get("fallback") is True,
        f"with Anthropic down, a fallback answered, but the response says fallback {data.get('fallback')!r}",
    )
    check(
        data.get("requested_model") == DEFAULT_MODEL,
        f"requested_model is {data.get('requested_model')!r}; the request asked for {DEFAULT_MODEL!r}",
    )
    usage = data.get("usage")
    check(
        usage_matches(usage, source),
        f"with Anthropic down, {source.get('provider')} answered with input_tokens={source.get('input_tokens')}, "
        f"output_tokens={source.get('output_tokens')}, but the response says usage {short(usage)}",
    )


def models_problem(r, expected: list[str], fallbacks: dict[str, list[str]]) -> str | None:
    """What is wrong with a GET /v1/models response that must list exactly ``expected``."""
    if r.status_code != 200:
        return f"GET /v1/models answered {r.status_code}; expected 200"
    data = json_or_none(r)
    items = data.get("data") if isinstance(data, dict) else None
    if not isinstance(items, list) or data.get("object") != "list":
        return f'GET /v1/models returned {short(r.text)}; expected {{"object": "list", "data": [...]}}'
    listed = {}
    for item in items:
        if not (isinstance(item, dict) and isinstance(item.get("id"), str) and isinstance(item.get("provider"), str)):
            return f"an entry of GET /v1/models is {short(item)}; each needs an id and a provider"
        if item["id"] in listed:
            return f"GET /v1/models lists {item['id']!r} twice"
        listed[item["id"]] = item
    for name in expected:
        if name not in listed:
            return f"GET /v1/models does not list {name!r} (listed: {', '.join(listed) or 'nothing'})"
    extra = [name for name in listed if name not in expected]
    if extra:
        return f"GET /v1/models lists {', '.join(extra)}, which this app cannot answer with (expected only {', '.join(expected)})"
    for name in expected:
        item, (provider, _) = listed[name], MODELS[name]
        if item["provider"] != provider:
            return f"GET /v1/models says {name!r} is served by {item['provider']!r}; it is served by {provider}"
        if item.get("litellm_model") != LITELLM_MODEL[name]:
            return f"GET /v1/models gives {name!r} litellm_model {item.get('litellm_model')!r}; expected {LITELLM_MODEL[name]!r}"
        if item.get("fallbacks") != fallbacks[name]:
            return (
                f"GET /v1/models gives {name!r} fallbacks {item.get('fallbacks')!r}; expected {fallbacks[name]!r} "
                "(the configured models it falls back to, in order)"
            )
    return None


@criterion(
    "p3.models-endpoint",
    MODELS_ENDPOINT,
    hint='GET /v1/models answers {"object": "list", "data": [{"id", "provider", "litellm_model", '
    '"fallbacks"}, ...]}: every configured model, its fallbacks in order, without calling a provider '
    "(README.md).",
)
def test_models_endpoint(app, sim):
    sim.clear_requests()
    r = app.get("/v1/models")
    problem = models_problem(r, list(MODELS), FALLBACK_ORDER)
    check(problem is None, problem or "")
    health = app.get("/health")
    check(
        health.status_code == 200 and json_or_none(health) == {"status": "ok"},
        f'GET /health answered {health.status_code} {short(health.text, 80)}; expected 200 {{"status": "ok"}}',
    )
    calls = sim.requests()
    check(
        not calls,
        f"GET /v1/models or GET /health called a provider ({calls[0].get('provider') if calls else ''} "
        f"{calls[0].get('path') if calls else ''}): they list what is configured, without calling anyone",
    )


def _check_image(project, hadolint) -> None:
    """The Dockerfile as in Project 2 (README, "Run it with Docker"): no key in the image, the
    course's practices, uvicorn on 0.0.0.0:8000 in exec form, no hadolint findings."""
    text = project.read("Dockerfile")
    check(text is not None and dockerfile.parse_dockerfile(text), "there is no Dockerfile (or it is empty)")
    for instr in dockerfile.parse_dockerfile(text):
        if instr.keyword in ("ENV", "ARG"):
            for var, _ in dockerfile.env_pairs(instr):
                check(
                    not dockerfile.SECRET_NAME.search(var),
                    f"Dockerfile line {instr.line}: {instr.keyword} {var}: a key in the Dockerfile is stored in "
                    "the image; the keys arrive at run time (env_file)",
                )
        if instr.keyword in ("COPY", "ADD"):
            check(
                not dockerfile.copies_dotenv(instr),
                f"Dockerfile line {instr.line}: {instr.keyword} {instr.args} puts .env (the keys) into the image",
            )
    problems = dockerfile.dockerfile_practice_problems(text, 8000)
    check(not problems, "Dockerfile: " + "; ".join(problems[:2]))
    users = dockerfile.instructions(text, "USER")
    check(
        users[-1].args.split(":")[0].strip().isdigit(),
        f"Dockerfile line {users[-1].line}: USER {users[-1].args}: use a numeric user id (USER 10001)",
    )
    try:
        cmd = dockerfile.server_command(text)
    except StaticError as exc:
        check(False, str(exc))
    check(not cmd.problems, "Dockerfile: " + "; ".join(cmd.problems))
    check(
        dockerfile.exec_form(dockerfile.instructions(text, "CMD")[-1].args) is not None,
        'the Dockerfile\'s CMD is in shell form: write it in exec form, CMD ["uvicorn", "app.main:app", ...]',
    )
    check(
        cmd.host == "0.0.0.0" and cmd.port == 8000,
        f"the Dockerfile's CMD starts uvicorn on {cmd.host or '127.0.0.1'}:{cmd.port}; it must listen on 0.0.0.0:8000",
    )
    findings = hadolint(project.path("Dockerfile"))
    check(
        not findings,
        f"hadolint reports {len(findings)} finding(s) in the Dockerfile: "
        + "; ".join(f"line {f.get('line')} {f.get('code')}: {f.get('message')}" for f in findings[:3]),
    )


@criterion(
    "p3.api-keys",
    API_KEYS,
    hint="Read every variable of the README's Configuration table from the environment "
    "(app/config.py): pass each key to its deployment, leave out a provider whose key is empty "
    "(and refuse to start with none), give OpenRouter's headers, LLM_TIMEOUT_S and LLM_NUM_RETRIES "
    "to the Router; list every variable in .env.example and give compose the .env file with env_file.",
)
def test_api_keys(project, start_app, sim, hadolint):
    example = project.read(".env.example")
    check(example is not None, "there is no .env.example")
    missing = [var for var in CONFIG_VARS if not re.search(rf"^\s*#?\s*{var}\s*=", example, flags=re.M)]
    check(not missing, f".env.example does not list {', '.join(missing)} (it lists every variable of the README's Configuration table)")
    for ignore in (".gitignore", ".dockerignore"):
        check(
            keys.ignores_dotenv(project.read(ignore)),
            f"{ignore} does not list .env: the keys in it must stay out of git and the image",
        )
    leaks = keys.find_key_shaped(project.files(), project.root)
    check(not leaks, f"an API key is written in {leaks[0][0] if leaks else ''} ({leaks[0][1] if leaks else ''}): keys belong in .env only")
    try:
        name, data = compose.load_compose(project.root)
    except StaticError as exc:
        check(False, str(exc))
    services = [s for s in data["services"].values() if isinstance(s, dict) and compose.built_here(s)]
    check(services, f"no service in {name} is built from this folder (build: .)")
    check(
        any(".env" in [f.removeprefix("./") for f in compose.env_files(s)] for s in services),
        f"{name} does not give the service the keys: add env_file: .env",
    )
    check(
        any(8000 in [c for h, c in compose.port_mappings(s) if h] for s in services),
        f"{name} does not publish the container's port 8000 (ports: [\"8000:8000\"])",
    )
    _check_image(project, hadolint)
    # The app must take its keys and settings from the environment: a key that is wrong is
    # sent, a provider without a key is left out (of the Router, of GET /v1/models, of the
    # fallbacks), and OpenRouter's headers, the timeout and the retries follow the variables.
    bad = "invalid-" + secrets.token_hex(8)
    site, title = f"https://grader.example/{nonce()}", f"Grader check {nonce()}"
    env = {
        "ANTHROPIC_API_KEY": bad, "OPENAI_API_KEY": "", "LLM_TIMEOUT_S": "1", "LLM_NUM_RETRIES": "1",
        "OPENROUTER_SITE_URL": site, "OPENROUTER_APP_NAME": title,
    }

    def start(env: dict, name: str):
        try:
            return start_app(env=env, name=name)
        except CheckError as exc:
            return exc

    # Both at once: the app with one key empty, and the one with no key at all (which must not start).
    app, keyless = parallel(
        lambda: start(env, "app-keys"),
        lambda: start({var: "" for var in KEY_VARS}, "app-no-keys"),
    )
    check(
        not isinstance(app, CheckError),
        "with OPENAI_API_KEY empty (and the other keys set) the app does not start: leave a "
        f"provider without a key out instead ({short(str(app).splitlines()[-1], 120)})",
    )
    check(
        isinstance(keyless, CheckError),
        "with ANTHROPIC_API_KEY, OPENAI_API_KEY and OPENROUTER_API_KEY all empty the app started; with no "
        "key at all it must refuse to start (raise in the lifespan)",
    )
    sim.clear_requests()
    problem = models_problem(
        app.get("/v1/models"),
        ["claude-haiku-4-5", "llama-3.3-70b"],
        {"claude-haiku-4-5": ["llama-3.3-70b"], "llama-3.3-70b": ["claude-haiku-4-5"]},
    )
    check(problem is None, f"with OPENAI_API_KEY empty, {problem}")
    r = post_chat(app, message=f"No OpenAI key {nonce()}", model="gpt-4o-mini")
    entries = generations(sim)
    check(
        not entries,
        "with OPENAI_API_KEY empty, a chat with model 'gpt-4o-mini' still called a provider "
        f"({tried(entries)}): leave a provider without a key out of the Router",
    )
    error_check(r, "with OPENAI_API_KEY empty, POST /v1/chat with model 'gpt-4o-mini'", 422, "unknown_model")
    r = post_chat(app, message=f"OpenRouter headers {nonce()}", model="llama-3.3-70b")
    entries = generations(sim)
    check(
        r.status_code == 200 and len(entries) == 1 and entries[0].get("provider") == "openrouter",
        f"with OPENAI_API_KEY empty, a chat with model 'llama-3.3-70b' answered {r.status_code} after "
        f"{tried(entries)}; expected one OpenRouter request",
    )
    headers = {k.lower(): v for k, v in (entries[0].get("headers") or {}).items()}
    check(
        (headers.get("http-referer"), headers.get("x-title")) == (site, title),
        f"with OPENROUTER_SITE_URL={site} and OPENROUTER_APP_NAME={title!r}, OpenRouter got HTTP-Referer "
        f"{headers.get('http-referer')!r} and X-Title {headers.get('x-title')!r}: read both from the environment",
    )
    # OpenRouter hangs: with LLM_TIMEOUT_S=1 each attempt is given up after a second, with
    # LLM_NUM_RETRIES=1 the model is tried twice, then its fallback (Anthropic, whose key is bad).
    sim.clear_requests()
    sim.add_fault(provider="openrouter", kind="hang", delay_s=6)
    try:
        r = app.post(
            "/v1/chat", json={"message": f"Which key? {nonce()}", "model": "llama-3.3-70b"}, timeout=15, headers=FRESH
        )
    except AssertionError:
        check(
            False,
            "with LLM_TIMEOUT_S=1 and OpenRouter not answering, POST /v1/chat with model 'llama-3.3-70b' got no "
            "answer within 15 s: pass LLM_TIMEOUT_S to the Router as its timeout",
        )
    sim.clear_faults()
    entries = generations(sim)
    hung = [e for e in entries if e.get("provider") == "openrouter"]
    check(
        len(hung) == 2,
        f"with LLM_NUM_RETRIES=1 and OpenRouter not answering, 'llama-3.3-70b' was tried {len(hung)} time(s) "
        f"({tried(entries)}); expected 2 (one attempt and one retry) before its fallback",
    )
    waited = [round((e.get("ended_at") or time.time()) - (e.get("started_at") or 0), 1) for e in hung]
    check(
        all(w < 3 for w in waited),
        f"with LLM_TIMEOUT_S=1, the app waited {', '.join(f'{w} s' for w in waited)} for OpenRouter before "
        "giving up; pass LLM_TIMEOUT_S to the Router as its timeout",
    )
    check(not any(e.get("provider") == "openai" for e in entries), "with OPENAI_API_KEY empty, the fallback still called OpenAI")
    anthropic = [e for e in entries if e.get("provider") == "anthropic"]
    if anthropic:
        check(
            r.status_code in (502, 504) and error_body_problem(r) is None,
            f"with OpenRouter timing out and Anthropic refusing the key, POST /v1/chat answered {r.status_code} "
            f"{short(r.text, 120)}; expected the error body with 504 (upstream_timeout) or 502 (upstream_auth_error)",
        )
    else:  # no fallback to Anthropic (p3.fallback says why): ask it directly
        sim.clear_requests()
        r = post_chat(app, message=f"Which key? {nonce()}", model="claude-haiku-4-5")
        anthropic = [e for e in generations(sim) if e.get("provider") == "anthropic"]
    check(
        anthropic and anthropic[0].get("status") == 401,
        "with ANTHROPIC_API_KEY set to an invalid key, the request to Anthropic was not refused "
        f"({tried(anthropic) if anthropic else 'no request reached Anthropic'}): pass "
        "ANTHROPIC_API_KEY from the environment to the deployment",
    )
    check(bad not in r.text and bad[8:] not in r.text, "the response contains the API key")


# -- learning validation ------------------------------------------------------------------------

@criterion(
    "p3.switch-provider",
    SWITCH,
    hint="Pass the request's model to router.acompletion(model=...) as the model group; check it "
    "against the configured names first and answer 422 unknown_model listing them when it is unknown.",
)
def test_switch_provider(app, sim):
    message = f"Same question, any provider {nonce()}"
    seen = {}
    for name, (provider, _) in MODELS.items():
        sim.clear_requests()
        data = chat_ok(app, f'"model": "{name}"', message=message, model=name)
        source = answered(generations(sim))
        check(source is not None, f"a chat with model {name!r} answered without any provider answering it")
        check(
            source.get("provider") == provider,
            f"changing model to {name!r} did not change the provider: {describe(source)} answered",
        )
        check(
            data.get("content") == source.get("reply"),
            f"a chat with model {name!r} returned {short(data.get('content'), 80)!r}; {provider} replied "
            f"{short(source.get('reply'), 80)!r}",
        )
        seen[provider] = name
    check(len(seen) == 3, f"only {len(seen)} providers answered three model names")
    sim.clear_requests()
    unknown = "no-such-model-" + nonce()
    r, r2 = parallel(
        lambda: post_chat(app, message="hi", model=unknown),
        lambda: post_chat(app, message="hi", model="openai/gpt-4o-mini"),
    )
    error = error_check(r, f"a chat with the unknown model {unknown!r}", 422, "unknown_model")
    missing = [name for name in MODELS if name not in error.get("message", "")]
    check(
        not missing,
        f"the error for an unknown model does not list the valid names ({', '.join(missing)} missing): "
        f"{short(r.text, 120)}",
    )
    error_check(
        r2,
        "a chat with model 'openai/gpt-4o-mini' (a LiteLLM model, not one of the names)",
        422,
        "unknown_model",
    )
    check(not generations(sim), "a chat with an unknown model still called a provider: " + tried(generations(sim)))


def _fail_over(app, sim, down: str, status: int) -> tuple[dict, dict]:
    """With provider ``down`` failing every request with ``status``, chat with its model: the
    first fallback of the README's table must answer, after exactly one failed request."""
    name = NAME_OF[down]
    expected = MODELS[FALLBACK_ORDER[name][0]][0]
    sim.clear_faults()
    sim.clear_requests()
    sim.add_fault(provider=down, kind="http", status=status)
    r = post_chat(app, message=f"{down} is down {nonce()}", model=name)
    entries = generations(sim)
    failed = [e for e in entries if e.get("provider") == down]
    check(
        failed,
        f"with {down} failing, a chat with model {name!r} never called {down} (POST /v1/chat "
        f"answered {r.status_code})",
    )
    check(
        r.status_code == 200,
        f"with {down} failing ({status}), a chat with model {name!r} answered "
        f"{r.status_code}; configure fallbacks so another provider answers",
    )
    source = answered(entries)
    check(
        source is not None and source.get("provider") != down,
        f"with {down} failing, no other provider was called: " + tried(entries),
    )
    check(
        providers_of(entries) == [down, expected],
        f"with {down} failing ({status}), a chat with model {name!r} made the provider requests {tried(entries)}; "
        f"expected one to {down}, then one to {expected} ({FALLBACK_ORDER[name][0]}, its first fallback)",
    )
    data = json_or_none(r) or {}
    check(
        data.get("content") == source.get("reply"),
        f"with {down} failing, the response's content is not {source.get('provider')}'s reply",
    )
    return data, source


# Every model failing: (model asked for, the status each provider answers, status and error
# type the client gets).
ALL_DOWN = (
    ("claude-haiku-4-5", 500, 502, "upstream_unavailable"),
    ("gpt-4o-mini", 503, 502, "upstream_unavailable"),
    ("llama-3.3-70b", 429, 429, "rate_limited"),
    ("claude-haiku-4-5", 529, 502, "upstream_unavailable"),
    ("claude-haiku-4-5", 403, 502, "upstream_auth_error"),
    ("claude-haiku-4-5", 504, 504, "upstream_timeout"),
    ("claude-haiku-4-5", 400, 502, "upstream_error"),
)


@criterion(
    "p3.fallback",
    FALLBACK,
    hint="Give the Router fallbacks=[{model: [other models...]}, ...] for every model, in the "
    "README's order (\"Fallbacks\"), num_retries=LLM_NUM_RETRIES (default 0), and map LiteLLM's "
    "exceptions to the README's error table (429 with Retry-After, 502, 504).",
)
def test_fallback(app, sim):
    for down, status in (("anthropic", 529), ("openai", 429), ("openrouter", 500)):
        _fail_over(app, sim, down, status)
    # Two providers down: the second fallback answers.
    sim.clear_faults()
    sim.clear_requests()
    sim.add_fault(provider="openrouter", kind="http", status=503)
    sim.add_fault(provider="openai", kind="http", status=529)
    r = post_chat(app, message=f"Two are down {nonce()}", model="llama-3.3-70b")
    entries = generations(sim)
    check(
        r.status_code == 200 and providers_of(entries) == ["openrouter", "openai", "anthropic"],
        f"with OpenRouter and OpenAI failing, a chat with model 'llama-3.3-70b' answered {r.status_code} after "
        f"{tried(entries)}; expected OpenRouter, then OpenAI (gpt-4o-mini), then Anthropic (claude-haiku-4-5) answering",
    )
    for name, status, answer, kind in ALL_DOWN:
        sim.clear_faults()
        sim.clear_requests()
        sim.add_fault(provider="*", kind="http", status=status)
        r = post_chat(app, message=f"Everyone is down {nonce()}", model=name)
        entries = generations(sim)
        order = [MODELS[n][0] for n in [name, *FALLBACK_ORDER[name]]]
        check(
            providers_of(entries) == order,
            f"with every provider failing ({status}), a chat with model {name!r} made the provider requests "
            f"{tried(entries)}; expected exactly one to each, in the order {', '.join(order)} (the model, then "
            "its fallbacks; LLM_NUM_RETRIES is 0)",
        )
        error_check(r, f"with every provider failing ({status}), POST /v1/chat", answer, kind)
        if answer == 429:
            check(
                (r.headers.get("retry-after") or "").strip(),
                "with every provider rate limiting (429), the 429 response has no Retry-After header",
            )


@criterion(
    "p3.fallback-primary",
    FALLBACK_WORKS,
    hint="With the primary model's provider down, the answer comes from a fallback and says so "
    "(provider, fallback: true); once it is back, the primary answers again.",
)
def test_fallback_primary(app, sim):
    sim.add_fault(provider="anthropic", kind="http", status=529)
    r = post_chat(app, message=f"Primary down {nonce()}")
    check(
        r.status_code == 200,
        f"with Anthropic (the primary, {DEFAULT_MODEL}) overloaded, POST /v1/chat answered {r.status_code}",
    )
    data = json_or_none(r) or {}
    entries = generations(sim)
    source = answered(entries)
    check(
        any(e.get("provider") == "anthropic" and e.get("outcome") == "fault" for e in entries)
        and source is not None
        and source.get("provider") != "anthropic",
        "the journal does not show the failed Anthropic request followed by a fallback: "
        + ", ".join(map(describe, entries)),
    )
    check(
        providers_of(entries) == ["anthropic", "openai"],
        f"with Anthropic overloaded, a chat with the default model made the provider requests {tried(entries)}; "
        "expected one to Anthropic, then one to OpenAI (gpt-4o-mini, the first fallback)",
    )
    check(
        data.get("provider") == source.get("provider") and data.get("fallback") is True,
        f"{source.get('provider')} answered in place of Anthropic, but the response says provider "
        f"{data.get('provider')!r}, fallback {data.get('fallback')!r}",
    )
    sim.clear_faults()
    sim.clear_requests()
    data = chat_ok(app, "Anthropic back up", message=f"Primary back {nonce()}")
    entries = generations(sim)
    source = answered(entries)
    check(
        source is not None and source.get("provider") == "anthropic",
        "once Anthropic answers again, the primary model is not used: "
        + (describe(source) if source else "no provider answered"),
    )
    check(
        len(entries) == 1,
        f"once Anthropic answers again, one chat made the provider requests {tried(entries)}; expected one",
    )
    check(
        data.get("provider") == "anthropic" and data.get("fallback") is False,
        f"Anthropic answered, but the response says provider {data.get('provider')!r}, fallback "
        f"{data.get('fallback')!r}",
    )


@criterion(
    "p3.quiz-naming",
    NAMING,
    hint="Answer every question in quiz.yaml: replace `answer: null` with a letter, e.g. `answer: b`.",
)
def test_quiz_naming(project):
    check_quiz_file(project, QUIZ)
