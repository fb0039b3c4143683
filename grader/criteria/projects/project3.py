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

from grader.checks import compose, files, keys
from grader.checks.files import StaticError
from grader.checks.http import FRESH, error_body_problem, json_or_none, nonce, short
from grader.checks.journal import answered, describe, generations
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


@criterion(
    "p3.chat-endpoint",
    CHAT,
    hint="POST /v1/chat takes a ChatRequest and makes one router.acompletion() call with the "
    "message (and system prompt, max_tokens, temperature when given); invalid bodies get 422.",
)
def test_chat_endpoint(app, sim):
    tag = nonce()
    data = chat_ok(app, '{"message": ...}', message=f"What is FastAPI? {tag}")
    entries = generations(sim)
    check(entries, "POST /v1/chat answered without any request reaching a provider")
    source = answered(entries)
    check(source is not None, "no provider request of this chat ended well: " + ", ".join(map(describe, entries)))
    check(
        data.get("content") == source.get("reply"),
        f"POST /v1/chat returned content {short(data.get('content'), 80)!r}; the provider replied "
        f"{short(source.get('reply'), 80)!r}",
    )
    usage = data.get("usage")
    check(
        isinstance(usage, dict)
        and usage.get("input_tokens") == source.get("input_tokens")
        and usage.get("output_tokens") == source.get("output_tokens"),
        f"usage is {short(usage)}; the provider counted input_tokens={source.get('input_tokens')}, "
        f"output_tokens={source.get('output_tokens')}",
    )
    sim.clear_requests()
    data = chat_ok(
        app,
        '"system" and "max_tokens": 7',
        message=f"Answer briefly {tag}",
        system="You are terse.",
        max_tokens=7,
    )
    entries = generations(sim)
    check(entries, "POST /v1/chat answered without any request reaching a provider")
    first = entries[0]
    check(
        first.get("max_tokens") == 7,
        f"the request had max_tokens 7 but the provider was asked for {first.get('max_tokens')}",
    )
    check(
        first.get("system") or any(m.get("role") == "system" for m in first.get("messages") or []),
        "the request had a system prompt but the provider request carried none",
    )
    for what, body in (
        ("an empty message", {"message": ""}),
        ("no message", {"model": DEFAULT_MODEL}),
        ("max_tokens 0", {"message": "hi", "max_tokens": 0}),
        ("temperature 3", {"message": "hi", "temperature": 3}),
        ("an unknown field", {"message": "hi", "modle": "gpt-4o-mini"}),
    ):
        sim.clear_requests()
        r = post_chat(app, **body)
        check(r.status_code == 422, f"POST /v1/chat with {what} answered {r.status_code}; expected 422")
        problem = error_body_problem(r)
        check(problem is None, f"POST /v1/chat with {what}: {problem}")
        check(not generations(sim), f"POST /v1/chat with {what} still called a provider")


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


@criterion(
    "p3.models-endpoint",
    MODELS_ENDPOINT,
    hint='GET /v1/models answers {"object": "list", "data": [{"id": ..., "provider": ...}, ...]} '
    "with every configured model (README.md).",
)
def test_models_endpoint(app):
    r = app.get("/v1/models")
    check(r.status_code == 200, f"GET /v1/models answered {r.status_code}; expected 200")
    data = json_or_none(r)
    items = data.get("data") if isinstance(data, dict) else None
    check(isinstance(items, list), f'GET /v1/models returned {short(r.text)}; expected {{"object": "list", "data": [...]}}')
    listed = {}
    for item in items:
        check(
            isinstance(item, dict) and isinstance(item.get("id"), str) and isinstance(item.get("provider"), str),
            f"an entry of GET /v1/models is {short(item)}; each needs an id and a provider",
        )
        listed[item["id"]] = item["provider"]
    for name, (provider, _) in MODELS.items():
        check(name in listed, f"GET /v1/models does not list {name!r} (listed: {', '.join(listed) or 'nothing'})")
        check(
            listed[name] == provider,
            f"GET /v1/models says {name!r} is served by {listed[name]!r}; it is served by {provider}",
        )


@criterion(
    "p3.api-keys",
    API_KEYS,
    hint="Read ANTHROPIC_API_KEY, OPENAI_API_KEY and OPENROUTER_API_KEY from the environment "
    "(app/config.py), pass each to its deployment, leave out a provider whose key is empty, list "
    "all three in .env.example, and give compose the .env file with env_file.",
)
def test_api_keys(project, start_app, sim):
    example = project.read(".env.example")
    check(example is not None, "there is no .env.example")
    for var in KEY_VARS:
        check(
            re.search(rf"^\s*#?\s*{var}\s*=", example, flags=re.M),
            f".env.example does not list {var}",
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
        any(".env" in [f.removeprefix("./") for f in compose.env_files(s)] or set(KEY_VARS) <= set(compose.environment(s)) for s in services),
        f"{name} does not give the service the keys: add env_file: .env",
    )
    # The app must take its keys from the environment: a key that is wrong is sent, and a
    # provider without a key is left out.
    bad = "invalid-" + secrets.token_hex(8)
    try:
        app = start_app(env={"ANTHROPIC_API_KEY": bad, "OPENAI_API_KEY": ""}, name="app-keys")
    except CheckError as exc:
        check(
            False,
            "with OPENAI_API_KEY empty (and the other keys set) the app does not start: leave a "
            f"provider without a key out instead ({short(str(exc).splitlines()[-1], 120)})",
        )
    sim.clear_requests()
    r = post_chat(app, message=f"Which key? {nonce()}", model="claude-haiku-4-5")
    entries = [e for e in generations(sim) if e.get("provider") == "anthropic"]
    check(
        entries and entries[0].get("status") == 401,
        "with ANTHROPIC_API_KEY set to an invalid key, the request to Anthropic was not refused "
        f"({', '.join(map(describe, entries)) or 'no request reached Anthropic'}): pass "
        "ANTHROPIC_API_KEY from the environment to the deployment",
    )
    check(bad not in r.text, "the response contains the API key")
    sim.clear_requests()
    r = post_chat(app, message=f"No OpenAI key {nonce()}", model="gpt-4o-mini")
    openai_calls = [e for e in generations(sim) if e.get("provider") == "openai"]
    check(
        not openai_calls,
        "with OPENAI_API_KEY empty, a chat with model 'gpt-4o-mini' still called OpenAI: leave a "
        "provider without a key out of the Router",
    )
    check(
        400 <= r.status_code < 500,
        f"with OPENAI_API_KEY empty, a chat with model 'gpt-4o-mini' answered {r.status_code}; expected "
        "the unknown-model error (the model is not configured)",
    )


# -- learning validation ------------------------------------------------------------------------

@criterion(
    "p3.switch-provider",
    SWITCH,
    hint="Pass the request's model to router.acompletion(model=...) as the model group; check it "
    "against the configured names first and answer 422 listing them when it is unknown.",
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
    r = post_chat(app, message="hi", model=unknown)
    check(
        r.status_code in (400, 404, 422),
        f"a chat with the unknown model {unknown!r} answered {r.status_code}; expected 422 (or 400/404)",
    )
    problem = error_body_problem(r)
    check(problem is None, f"a chat with an unknown model: {problem}")
    missing = [name for name in MODELS if name not in r.text]
    check(
        not missing,
        f"the error for an unknown model does not list the valid names ({', '.join(missing)} missing): "
        f"{short(r.text, 120)}",
    )
    check(not generations(sim), "a chat with an unknown model still called a provider")


def _fail_over(app, sim, down: str) -> tuple[dict, dict]:
    """With provider ``down`` failing every request, chat with its model; (response, source)."""
    name = NAME_OF[down]
    sim.clear_faults()
    sim.clear_requests()
    sim.add_fault(provider=down, kind="http", status=529 if down == "anthropic" else 503)
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
        f"with {down} failing ({failed[0].get('status')}), a chat with model {name!r} answered "
        f"{r.status_code}; configure fallbacks so another provider answers",
    )
    source = answered(entries)
    check(
        source is not None and source.get("provider") != down,
        f"with {down} failing, no other provider was called: " + ", ".join(map(describe, entries)),
    )
    check(
        (failed[0].get("started_at") or 0) <= (source.get("started_at") or 0),
        "the fallback provider was called before the primary failed",
    )
    data = json_or_none(r) or {}
    check(
        data.get("content") == source.get("reply"),
        f"with {down} failing, the response's content is not {source.get('provider')}'s reply",
    )
    return data, source


@criterion(
    "p3.fallback",
    FALLBACK,
    hint="Give the Router fallbacks=[{model: [other models...]}, ...] for every model (README.md, "
    "\"Fallbacks\"), and map LiteLLM's exceptions to the README's error body (502 when all fail).",
)
def test_fallback(app, sim):
    for down in ("anthropic", "openai", "openrouter"):
        _fail_over(app, sim, down)
    sim.clear_faults()
    sim.clear_requests()
    sim.add_fault(provider="*", kind="http", status=500)
    r = post_chat(app, message=f"Everyone is down {nonce()}", model=DEFAULT_MODEL)
    check(
        r.status_code == 502,
        f"with every provider failing (500), POST /v1/chat answered {r.status_code}; expected 502 "
        "(upstream_unavailable) in the error body",
    )
    problem = error_body_problem(r)
    check(problem is None, f"with every provider failing: {problem}")
    tried = {e.get("provider") for e in generations(sim)}
    check(
        tried == {"anthropic", "openai", "openrouter"},
        f"with every provider failing, only {', '.join(sorted(filter(None, tried)))} were tried before "
        "giving up; claude-haiku-4-5 falls back to both other providers",
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
        data.get("provider") == source.get("provider") and data.get("fallback") is True,
        f"{source.get('provider')} answered in place of Anthropic, but the response says provider "
        f"{data.get('provider')!r}, fallback {data.get('fallback')!r}",
    )
    sim.clear_faults()
    sim.clear_requests()
    data = chat_ok(app, "Anthropic back up", message=f"Primary back {nonce()}")
    source = answered(generations(sim))
    check(
        source is not None and source.get("provider") == "anthropic",
        "once Anthropic answers again, the primary model is not used: "
        + (describe(source) if source else "no provider answered"),
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
