"""Project 2: Single Provider Chat API.

The app runs as ``uvicorn app.main:app`` with the Anthropic SDK pointed at the run's llmsim
(ANTHROPIC_BASE_URL), ANTHROPIC_TIMEOUT_S=2 and ANTHROPIC_MAX_RETRIES=0. The simulator's
journal shows what the provider received; its faults play the provider's failures.
"""

from __future__ import annotations

import ast
import os
import re
import secrets
import sys
import time
from concurrent.futures import ThreadPoolExecutor, wait

from grader.checks import compose, dockerfile, files, keys
from grader.checks.files import as_check
from grader.checks.http import error_body_problem, json_or_none, short
from grader.checks.openapi import model_schema
from grader.checks.quizzes import check_quiz_file
from grader.criterion import check, criterion
from grader.runner import free_port

CHAT_ENDPOINT = "`/v1/chat` POST endpoint"
CHAT_REQUEST = "ChatRequest model (message, max_tokens, temperature)"
CHAT_RESPONSE = "ChatResponse model (content, usage, model)"
SDK = "Anthropic SDK integration"
KEY_ENV = "Environment variable for API key"
ERRORS = "Error handling for API failures"
DOCKERFILE_ENV = "Dockerfile with env var support"
COMPOSE_ENV = "docker-compose.yml with .env file"
SEND = "Can send a message and get a response"
FORMAT = "Can explain the Anthropic message format"
KEYS = "Understands how API keys are passed to containers"

# The spec (README.md).
PORT = 8000
DEFAULT_MAX_TOKENS = 512
MAX_MESSAGE = 8000
MAX_OUTPUT_TOKENS = 4096
MAX_SYSTEM = 4000
DEFAULT_MODEL = "claude-haiku-4-5"
ENV_VARS = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_MODEL",
    "ANTHROPIC_TIMEOUT_S",
    "ANTHROPIC_MAX_RETRIES",
)
TIMEOUT_S = 2  # what the grader sets ANTHROPIC_TIMEOUT_S to (grader.plugin)
IMAGE_TIMEOUT_S = 1  # what p2.image-runs sets it to, to see that it is read
MESSAGES_PATH = "/v1/messages"

# sha256 of "<question id>:<answer>" (grader.quiz.answer_hash), not the answers.
QUIZ_FORMAT = {
    "format-system": "2501a40c47a0148f84dc05b4a0aa8e7e8fda7950d0b3b00cb032628ef5602a12",
    "format-roles": "2fbe0a0c6ab1cbfb2cb7fca98fcf4d87744636ee86107aa8a55d645a59ac8a0b",
    "format-content": "b2902a66f51c08b6cb2f7a31a6ef71b9bf4851ec1419713f0afac5d657cd74b8",
    "format-max-tokens": "a8327800d9df681c8069cf05f280bf27ca37c85708c42aa7d054e6a25e7fde28",
}
QUIZ_KEYS = {
    "keys-env-file": "0fb43024dadeab598adb43e1fdf8fcea547b5591af4f8fbf4761fe98e1b4e353",
    "keys-no-env-in-dockerfile": "0ada1a04391bda5f4868026de863fa8d49a612af9e57e82b271345a61e247e2a",
    "keys-dockerignore": "d5e186b323a14bbae04962d47c53cdc688f82893b91104712f312cbd1b1a727b",
}


# -- helpers ----------------------------------------------------------------------------------

def _calls(sim) -> list[dict]:
    """The provider requests the app made (Messages API only)."""
    return sim.requests(provider="anthropic", path=MESSAGES_PATH)


def _one_call(sim, what: str) -> dict:
    calls = _calls(sim)
    check(calls, f"{what}: no request reached the provider (POST {MESSAGES_PATH})")
    check(len(calls) == 1, f"{what}: the provider got {len(calls)} requests for one chat message; expected 1")
    return calls[0]


def _text(content: object) -> str | None:
    """A Messages API content value (a string or text blocks) as text."""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(b, dict) and b.get("type") == "text" for b in content):
        return "".join(str(b.get("text", "")) for b in content)
    return None


def _chat(app, payload: dict | None, what: str, **kw):
    r = app.post("/v1/chat", **({"json": payload} if payload is not None else {}), **kw)
    check(r.status_code != 404, f"{what}: POST /v1/chat answered 404; there is no such endpoint yet")
    return r


def _ok(r, what: str) -> dict:
    check(r.status_code == 200, f"{what}: POST /v1/chat answered {r.status_code} {short(r.text)!r}; expected 200")
    body = json_or_none(r)
    check(isinstance(body, dict), f"{what}: POST /v1/chat returned {short(r.text)!r}; expected a JSON object")
    return body


def _error(r, status: int, error_type: str | None, what: str, secrets: list[str]) -> dict:
    """Check one error response: its status, no key in it, the one error body; return error{}."""
    check(
        r.status_code == status,
        f"{what}: the app answered {r.status_code} {short(r.text, 120)!r}; expected {status}",
    )
    # Any part of a key: the whole of it, or a telling piece (its last 12 characters).
    parts = [p for s in secrets for p in (s, s[-12:]) if len(p) >= 8]
    exposed = [p for p in parts if p in r.text or any(p in v for v in r.headers.values())]
    check(not exposed, f"{what}: the response contains (part of) the server's API key")
    problem = error_body_problem(r)
    check(problem is None, f"{what}: {problem}")
    err = r.json()["error"]
    if error_type is not None:
        check(err["type"] == error_type, f"{what}: error.type is {err['type']!r}; expected {error_type!r}")
    raw = _RAW_PROVIDER_ERROR.search(r.text)
    check(
        raw is None,
        f"{what}: the error body passes on the provider's raw error ({raw.group(0) if raw else ''!r} in "
        f"{short(r.text, 120)!r}); say what happened in your own words and log the details",
    )
    header = r.headers.get("x-request-id")
    check(
        header == err["request_id"],
        f"{what}: the X-Request-ID header is {header!r} but error.request_id is {err['request_id']!r}; "
        "send the same id in both",
    )
    return err


# What only the provider's own error says: its request id (req_...), the SDK's "Error code: N - {...}"
# text, the provider's error body, llmsim's fault note.
_RAW_PROVIDER_ERROR = re.compile(
    r"req_[0-9a-f]{12,}|Error code: \d{3}|['\"]type['\"]: ['\"]error['\"]|llmsim fault|"
    r"overloaded_error|rate_limit_error|authentication_error|permission_error|invalid_request_error|not_found_error|api_error"
)


def _dockerfile(project) -> str:
    text = project.read("Dockerfile")
    check(text is not None, "there is no Dockerfile in the project folder")
    check(dockerfile.parse_dockerfile(text), "the Dockerfile has no instructions yet (only comments)")
    return text


# -- the endpoint -----------------------------------------------------------------------------


@criterion(
    "p2.chat-endpoint",
    CHAT_ENDPOINT,
    hint="Declare @app.post(\"/v1/chat\", response_model=ChatResponse) taking a ChatRequest body.",
)
def test_chat_endpoint(app, sim):
    r = app.get("/openapi.json")
    check(r.status_code == 200, f"GET /openapi.json answered {r.status_code}")
    spec = json_or_none(r)
    check(isinstance(spec, dict), "GET /openapi.json did not return a JSON document")
    operation = spec.get("paths", {}).get("/v1/chat", {}).get("post")
    check(operation is not None, "/openapi.json has no POST /v1/chat operation")
    _, request = model_schema(spec, operation.get("requestBody", {}).get("content", {}).get("application/json"))
    check(request is not None, "POST /v1/chat does not take a Pydantic model as its JSON body")
    missing = [f for f in ("message", "max_tokens", "temperature", "system") if f not in request.get("properties", {})]
    check(not missing, f"the request model has no {', '.join(missing)}")
    check(
        request.get("required", []) == ["message"],
        f"the request model requires {request.get('required', [])}; only message is required "
        "(max_tokens defaults to 512, temperature and system to null)",
    )
    ok = operation.get("responses", {}).get("200", {}).get("content", {}).get("application/json")
    _, response = model_schema(spec, ok)
    check(response is not None, "POST /v1/chat declares no response model (response_model=ChatResponse)")
    missing = [f for f in ("content", "usage", "model", "stop_reason") if f not in response.get("properties", {})]
    check(not missing, f"the response model has no {', '.join(missing)}")
    # GET /health answers without calling the provider.
    r = app.get("/health")
    check(
        r.status_code == 200 and json_or_none(r) == {"status": "ok"},
        f"GET /health answered {r.status_code} {short(r.text)!r}; expected 200 {{\"status\": \"ok\"}}",
    )
    calls = _calls(sim)
    check(not calls, f"GET /health sent {len(calls)} request(s) to the provider; it must not call it")


@criterion(
    "p2.chat",
    SEND,
    hint="Send the message as the content of one user message, and answer with the reply's text.",
)
def test_chat(app, sim):
    message = "Bonjour! What is FastAPI? 👋"
    what = "POST /v1/chat with a message"
    body = _ok(_chat(app, {"message": message}, what), what)
    call = _one_call(sim, what)
    messages = call.get("messages") or []
    check(
        len(messages) == 1 and messages[0].get("role") == "user" and _text(messages[0].get("content")) == message,
        f"{what}: the provider received messages={short(messages, 200)}; expected one user message "
        "whose content is exactly the message sent",
    )
    content = body.get("content")
    check(
        isinstance(content, str) and message in content,
        f"{what}: the reply's content {short(content)!r} is not the model's answer to the message",
    )
    # ANTHROPIC_MODEL is not set for the shared app (unless the grader's own environment sets it).
    model = os.environ.get("ANTHROPIC_MODEL") or DEFAULT_MODEL
    check(
        call.get("model") == model,
        f"{what}: the provider was asked for model {call.get('model')!r}; with ANTHROPIC_MODEL unset "
        f"the model is {model!r}",
    )
    extra = call.get("params") or {}
    check(
        not extra and not call.get("tools"),
        f"{what}: the provider request also carried {short(sorted(extra) or ['tools'])}; send only model, "
        "max_tokens, messages, and temperature/system when the client gave them",
    )


@criterion(
    "p2.chat-request",
    CHAT_REQUEST,
    hint="ChatRequest: message (1-8000 chars), max_tokens (1-4096, default 512), temperature "
    "(0.0-1.0, optional), system (optional); pass each on to the provider unchanged.",
)
def test_chat_request(app, sim):
    def sent(payload: dict, what: str) -> dict:
        sim.clear_requests()
        _ok(_chat(app, payload, what), what)
        call = _one_call(sim, what)
        messages = call.get("messages") or []
        check(
            len(messages) == 1
            and messages[0].get("role") == "user"
            and _text(messages[0].get("content")) == payload["message"],
            f"{what}: the provider received messages={short(messages, 160)}; expected one user message "
            "whose content is exactly the message (the system prompt goes in the top-level system)",
        )
        return call

    what = "POST /v1/chat with max_tokens=37, temperature=0.25 and a system prompt"
    call = sent({"message": "Hi", "max_tokens": 37, "temperature": 0.25, "system": "Answer in French."}, what)
    check(call.get("max_tokens") == 37, f"{what}: the provider got max_tokens={call.get('max_tokens')!r}")
    check(call.get("temperature") == 0.25, f"{what}: the provider got temperature={call.get('temperature')!r}")
    check(
        _text(call.get("system")) == "Answer in French.",
        f"{what}: the provider got system={short(call.get('system'))!r}; send it as the top-level "
        "`system` parameter",
    )
    for payload, what in (
        ({"message": "Hi"}, "POST /v1/chat with only a message"),
        ({"message": "Hi", "temperature": None, "system": None}, "POST /v1/chat with temperature and system null"),
    ):
        call = sent(payload, what)
        check(
            call.get("max_tokens") == DEFAULT_MAX_TOKENS,
            f"{what}: the provider got max_tokens={call.get('max_tokens')!r}; the default is {DEFAULT_MAX_TOKENS}",
        )
        check(not call.get("system"), f"{what}: the provider got a system prompt {short(call.get('system'))!r} nobody sent")
        check(
            call.get("temperature") is None,
            f"{what}: the provider got temperature={call.get('temperature')!r}; send temperature only when "
            "the client gave one (absent or null: the model's default)",
        )
    # The limits, at the edge: each value is accepted and reaches the provider exactly.
    edges = [
        ({"message": "?", "max_tokens": 1, "temperature": 0.0, "system": "S"},
         "a 1-character message and system, max_tokens=1, temperature=0.0"),
        ({"message": "m" * MAX_MESSAGE, "max_tokens": MAX_OUTPUT_TOKENS, "temperature": 1.0, "system": "s" * MAX_SYSTEM},
         f"a {MAX_MESSAGE}-character message, a {MAX_SYSTEM}-character system, max_tokens={MAX_OUTPUT_TOKENS}, temperature=1.0"),
    ]
    for payload, name in edges:
        what = f"POST /v1/chat with {name}"
        call = sent(payload, what)
        for field in ("max_tokens", "temperature"):
            got = call.get(field)
            check(
                got == payload[field] and got is not None and not isinstance(got, bool),
                f"{what}: the provider got {field}={got!r}; expected {payload[field]!r}, exactly as given",
            )
        check(
            _text(call.get("system")) == payload["system"],
            f"{what}: the provider got a system prompt of {len(_text(call.get('system')) or '')} characters; "
            f"expected the {len(payload['system'])} sent",
        )
    sim.clear_requests()
    bad = [
        ("no message", {"max_tokens": 10}),
        ("an empty message", {"message": ""}),
        ("message=123", {"message": 123}),
        ("message=null", {"message": None}),
        (f"a message of {MAX_MESSAGE + 1} characters", {"message": "x" * (MAX_MESSAGE + 1)}),
        ("max_tokens=0", {"message": "Hi", "max_tokens": 0}),
        (f"max_tokens={MAX_OUTPUT_TOKENS + 1}", {"message": "Hi", "max_tokens": MAX_OUTPUT_TOKENS + 1}),
        ('max_tokens="lots"', {"message": "Hi", "max_tokens": "lots"}),
        ("max_tokens=10.5", {"message": "Hi", "max_tokens": 10.5}),
        ("max_tokens=null", {"message": "Hi", "max_tokens": None}),
        ("temperature=-0.1", {"message": "Hi", "temperature": -0.1}),
        ("temperature=1.01", {"message": "Hi", "temperature": 1.01}),
        ("temperature=1.5", {"message": "Hi", "temperature": 1.5}),
        ('temperature="warm"', {"message": "Hi", "temperature": "warm"}),
        ('an empty system prompt', {"message": "Hi", "system": ""}),
        (f"a system prompt of {MAX_SYSTEM + 1} characters", {"message": "Hi", "system": "s" * (MAX_SYSTEM + 1)}),
        ('an unknown field "max_token"', {"message": "Hi", "max_token": 10}),
        ('an unknown field "model"', {"message": "Hi", "model": "claude-opus-4-7"}),
    ]
    for name, payload in bad:
        r = _chat(app, payload, f"POST /v1/chat with {name}")
        check(
            r.status_code == 422,
            f"POST /v1/chat with {name} answered {r.status_code} {short(r.text, 100)!r}; expected 422",
        )
    calls = _calls(sim)
    check(not calls, f"invalid requests reached the provider ({len(calls)} calls): validate before calling it")


@criterion(
    "p2.chat-response",
    CHAT_RESPONSE,
    hint="Build ChatResponse from the provider's Message: the text of its text blocks, its model, "
    "its usage.input_tokens/output_tokens and its stop_reason.",
)
def test_chat_response(app, sim):
    for payload, what in (
        ({"message": "Tell me about FastAPI"}, "POST /v1/chat"),
        ({"message": "Tell me a long story about FastAPI", "max_tokens": 5}, "POST /v1/chat with max_tokens=5"),
    ):
        sim.clear_requests()
        body = _ok(_chat(app, payload, what), what)
        call = _one_call(sim, what)
        check(
            body.get("content") == call.get("reply"),
            f"{what}: content is {short(body.get('content'), 100)!r}; the provider's reply text was "
            f"{short(call.get('reply'), 100)!r}",
        )
        check(
            body.get("model") == call.get("answered_model"),
            f"{what}: model is {body.get('model')!r}; the provider's response says "
            f"{call.get('answered_model')!r} (the model that answered, not the one asked for)",
        )
        usage = {"input_tokens": call.get("input_tokens"), "output_tokens": call.get("output_tokens")}
        got = body.get("usage")
        check(
            isinstance(got, dict) and {k: got.get(k) for k in usage} == usage,
            f"{what}: usage is {short(got)!r}; the provider counted {usage}",
        )
        check(
            "stop_reason" in body and body["stop_reason"] == call.get("stop_reason"),
            f"{what}: stop_reason is {body.get('stop_reason', '(missing)')!r}; the provider said "
            f"{call.get('stop_reason')!r}",
        )
        check(
            set(body) == {"content", "model", "usage", "stop_reason"} and set(got) == set(usage),
            f"{what}: the body is {short(r_keys(body), 120)}; ChatResponse has exactly content, model, "
            "usage {input_tokens, output_tokens} and stop_reason",
        )


def r_keys(body: dict) -> str:
    """The keys of a response body (and of its usage), for a message."""
    usage = body.get("usage")
    inner = f" with usage keys {sorted(usage)}" if isinstance(usage, dict) else ""
    return f"keys {sorted(body)}{inner}"


def _name_of(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    return getattr(node, "id", "")


def _app_trees(project) -> list[tuple]:
    trees = []
    for path in sorted((project.root / "app").rglob("*.py")):
        try:
            trees.append((path, ast.parse(path.read_text(encoding="utf-8", errors="replace"))))
        except SyntaxError:
            continue
    return trees


def _is_client_call(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and _name_of(node.func) in ("AsyncAnthropic", "Anthropic")


def _clients_made_at_import(project) -> list[str]:
    """Anthropic clients constructed outside any function: at import, not in the lifespan."""
    out = []
    for path, tree in _app_trees(project):
        in_functions = {
            id(node)
            for func in ast.walk(tree)
            if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            for node in ast.walk(func)
        }
        out += [
            f"{path.relative_to(project.root)} line {node.lineno}"
            for node in ast.walk(tree)
            if _is_client_call(node) and id(node) not in in_functions
        ]
    return out


def _client_closed(project) -> bool:
    """Some function that makes the client also closes it (``close()``/``aclose()``), or opens it
    with ``async with``/``with``; or a shutdown handler closes something."""
    for _, tree in _app_trees(project):
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            nodes = list(ast.walk(func))
            closes = any(
                isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in ("close", "aclose")
                for n in nodes
            )
            with_client = any(
                isinstance(n, ast.With | ast.AsyncWith) and any(_is_client_call(i.context_expr) for i in n.items)
                for n in nodes
            ) or any(  # AsyncExitStack.enter_async_context(AsyncAnthropic(...))
                isinstance(n, ast.Call)
                and _name_of(n.func) in ("enter_async_context", "enter_context", "push_async_callback")
                for n in nodes
            )
            shutdown = any(
                isinstance(d, ast.Call) and d.args and isinstance(d.args[0], ast.Constant) and d.args[0].value == "shutdown"
                for d in func.decorator_list
            )
            makes = any(_is_client_call(n) for n in nodes)
            if with_client or (closes and (makes or shutdown)):
                return True
    return False


def _clients_made_per_request(project) -> list[str]:
    """Places where an Anthropic client is constructed in code that runs on every request:
    a path operation function, or an uncached dependency (a function given to Depends)."""
    trees = _app_trees(project)
    dependencies = {
        _name_of(node.args[0])
        for _, tree in trees
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and _name_of(node.func) == "Depends" and node.args
    }
    out = []
    for path, tree in trees:
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            decorators = [d.func if isinstance(d, ast.Call) else d for d in func.decorator_list]
            routed = any(
                _name_of(d) in ("get", "post", "put", "patch", "delete", "api_route") for d in decorators
            )
            cached = any(_name_of(d) in ("lru_cache", "cache") for d in decorators)
            if not (routed or (func.name in dependencies and not cached)):
                continue
            for node in ast.walk(func):
                if isinstance(node, ast.Call) and _name_of(node.func) in ("AsyncAnthropic", "Anthropic"):
                    out.append(f"{path.relative_to(project.root)} line {node.lineno} ({func.name})")
    return out


@criterion(
    "p2.anthropic-sdk",
    SDK,
    hint="Create one anthropic.AsyncAnthropic client in the lifespan and await "
    "client.messages.create(...) in the endpoint.",
)
def test_anthropic_sdk(app, sim, project):
    what = "POST /v1/chat"
    _ok(_chat(app, {"message": "Which client sent this?"}, what), what)
    headers = {k.lower(): v for k, v in (_one_call(sim, what).get("headers") or {}).items()}
    agent = headers.get("user-agent", "")
    check(
        headers.get("x-stainless-lang") == "python" and "anthropic-version" in headers,
        f"the provider request did not come from the anthropic SDK (user-agent {agent!r})",
    )
    check(
        not agent.startswith("Anthropic/"),
        "the request came from the synchronous anthropic.Anthropic client: inside an async endpoint it "
        "blocks the event loop, so every other request waits; use AsyncAnthropic and await it",
    )
    check(agent.startswith("AsyncAnthropic/"), f"the provider request has user-agent {agent!r}; expected AsyncAnthropic")
    per_request = _clients_made_per_request(project)
    check(
        not per_request,
        f"a new Anthropic client is created on every request ({per_request[0] if per_request else ''}): "
        "create one in the lifespan and reuse its connections",
    )
    at_import = _clients_made_at_import(project)
    check(
        not at_import,
        f"the Anthropic client is created when the module is imported ({at_import[0] if at_import else ''}), "
        "before the settings are read and with no place to close it: create it in the lifespan",
    )
    check(
        _client_closed(project),
        "the lifespan creates the client but never closes it: after the yield, `await client.close()` "
        "so its connections are released on shutdown",
    )


# -- configuration and keys -------------------------------------------------------------------

@criterion(
    "p2.key-from-env",
    KEY_ENV,
    hint="Read the key from the ANTHROPIC_API_KEY environment variable only: no key in any file, "
    "no default value, and never print or log it.",
)
def test_key_from_env(project, app, start_app, run_command, sim):
    hits = keys.find_key_shaped(project.files(), project.root)
    check(
        not hits,
        f"key-shaped string in {hits[0][0] if hits else ''} ({hits[0][1] if hits else ''}): keys belong "
        "in the environment (.env), never in a file that is committed or copied into an image",
    )
    check(
        not any(s in app.logs() for s in app.secrets),
        "the app printed its API key in its output: logs are read by many people; never log the key",
    )
    # Without ANTHROPIC_API_KEY at all, the app refuses to start (the given settings require it).
    # Started alongside the invalid-key app below: both only need their start-up.
    argv = dockerfile.without_env(
        [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "{host}", "--port", "{port}"],
        ["ANTHROPIC_API_KEY"],
    )

    def start_keyless():
        try:
            return run_command(argv, ready_path="/health")
        except AssertionError:
            return None  # it exited during start-up, as it should

    with ThreadPoolExecutor(max_workers=1) as pool:
        keyless_started = pool.submit(start_keyless)
        bad_key = "invalid-grader-" + secrets.token_hex(8)
        other = start_app(env={"ANTHROPIC_API_KEY": bad_key}, name="invalid-key")
        keyless = keyless_started.result()
    sim.clear_requests()
    r = other.post("/v1/chat", json={"message": "Which key do you use?"})
    calls = _calls(sim)
    check(calls, f"started with ANTHROPIC_API_KEY={bad_key[:12]}…, POST /v1/chat sent nothing to the provider (answered {r.status_code})")
    check(
        all(c.get("status") == 401 for c in calls),
        "started with an invalid ANTHROPIC_API_KEY, the app still authenticated with the provider: "
        "it is using a key from somewhere else than the environment",
    )
    check(bad_key not in r.text and bad_key not in other.logs(), "the app echoed its API key in a response or its logs")
    check(
        keyless is None,
        "started without ANTHROPIC_API_KEY in its environment, the app started anyway and answers "
        "requests; it must refuse to start (get_settings() in the lifespan fails without the key)",
    )


def _env_names(text: str) -> set[str]:
    return set(re.findall(r"^\s*#?\s*([A-Z][A-Z0-9_]*)\s*=", text, flags=re.M))


@criterion(
    "p2.env-files",
    KEY_ENV,
    hint="Commit a .env.example with every variable (empty key), and keep .env itself out of git "
    "(.gitignore) and out of the image (.dockerignore).",
)
def test_env_files(project):
    example = project.read(".env.example")
    check(example is not None, "there is no .env.example telling people which variables to set")
    names = _env_names(example)
    missing = [v for v in ENV_VARS if v not in names]
    check(not missing, f".env.example does not mention {', '.join(missing)}")
    key_line = re.search(r"^\s*ANTHROPIC_API_KEY\s*=(.*)$", example, flags=re.M)
    check(key_line, ".env.example has no ANTHROPIC_API_KEY= line to fill in")
    check(
        not keys.key_shaped(key_line.group(1)),
        ".env.example holds a real-looking API key: it is committed; leave the value empty",
    )
    check(keys.ignores_dotenv(project.read(".gitignore")), ".gitignore does not list .env: the key would be committed")
    check(
        keys.ignores_dotenv(project.read(".dockerignore")),
        ".dockerignore does not list .env: the key is sent to the Docker build and can end up in an image",
    )


# -- errors -----------------------------------------------------------------------------------

@criterion(
    "p2.errors-rate-limit",
    ERRORS,
    hint="Handle anthropic.RateLimitError: answer 429 in the error shape, with Retry-After copied "
    "from the provider's retry-after header.",
)
def test_errors_rate_limit(app, sim):
    for seconds in (3, 17):
        sim.clear_faults()
        sim.clear_requests()
        sim.add_fault(provider="anthropic", kind="http", status=429, retry_after=seconds)
        what = f"when the provider answers 429 (retry-after: {seconds})"
        r = _chat(app, {"message": "Hi"}, what)
        _error(r, 429, "rate_limited", what, app.secrets)
        check(
            r.headers.get("retry-after") == str(seconds),
            f"{what}: Retry-After is {r.headers.get('retry-after')!r}; pass on the provider's value, {seconds}",
        )
        calls = len(_calls(sim))
        check(
            calls == 1,
            f"{what}, the app sent {calls} requests although ANTHROPIC_MAX_RETRIES=0: pass it to the "
            "client as max_retries",
        )


@criterion(
    "p2.errors-upstream",
    ERRORS,
    hint="Map the SDK's InternalServerError (5xx, 529) and APIConnectionError to 502 "
    "upstream_unavailable, and other provider errors to 502 upstream_error; honour ANTHROPIC_MAX_RETRIES.",
)
def test_errors_upstream(app, sim, start_app):
    # An app whose provider cannot be reached (nothing listens on this port), started while the
    # shared app is checked.
    pool = ThreadPoolExecutor(max_workers=1)
    down_started = pool.submit(
        start_app, env={"ANTHROPIC_BASE_URL": f"http://127.0.0.1:{free_port()}"}, name="provider-down"
    )
    pool.shutdown(wait=False)
    try:
        _errors_upstream_shared(app, sim)
    finally:
        wait([down_started])  # its start-up ends before this check does, pass or fail
    down = down_started.result()
    what = "when the provider cannot be reached"
    _error(_chat(down, {"message": "Hi"}, what), 502, "upstream_unavailable", what, down.secrets)


def _errors_upstream_shared(app, sim) -> None:
    for status in (529, 500, 503):
        sim.clear_faults()
        sim.clear_requests()
        sim.add_fault(provider="anthropic", kind="http", status=status)
        what = f"when the provider answers {status}"
        mark = len(app.logs())
        _error(_chat(app, {"message": "Hi"}, what), 502, "upstream_unavailable", what, app.secrets)
        calls = len(_calls(sim))
        check(
            calls == 1,
            f"{what}, the app sent {calls} requests although ANTHROPIC_MAX_RETRIES=0: pass it to the "
            "client as max_retries",
        )
        if status == 529:
            # Details belong in the server's logs: the provider's status or error, not only the access line.
            deadline = time.monotonic() + 1.0
            while not re.search(r"529|overload", app.logs()[mark:], flags=re.I) and time.monotonic() < deadline:
                time.sleep(0.05)
            check(
                re.search(r"529|overload", app.logs()[mark:], flags=re.I),
                f"{what}, the app's output says nothing about it (no 529, no 'overloaded'): log the "
                "provider's failure, since the client is told only upstream_unavailable",
            )
    for status in (400, 404, 422):
        sim.clear_faults()
        sim.add_fault(provider="anthropic", kind="http", status=status)
        what = f"when the provider answers {status}"
        _error(_chat(app, {"message": "Hi"}, what), 502, "upstream_error", what, app.secrets)
    sim.clear_faults()


@criterion(
    "p2.errors-auth",
    ERRORS,
    hint="Handle AuthenticationError and PermissionDeniedError: 502 upstream_auth_error saying the "
    "server's provider credentials are misconfigured (the client cannot fix that).",
)
def test_errors_auth(app, sim):
    for status in (401, 403):
        sim.clear_faults()
        sim.add_fault(provider="anthropic", kind="http", status=status)
        what = f"when the provider answers {status}"
        err = _error(_chat(app, {"message": "Hi"}, what), 502, "upstream_auth_error", what, app.secrets)
        check(
            re.search(r"credential|api key|configur", err["message"], flags=re.I),
            f"{what}: error.message {err['message']!r} should say the server's provider credentials "
            "are misconfigured",
        )


@criterion(
    "p2.errors-timeout",
    ERRORS,
    hint="Create the client with timeout=ANTHROPIC_TIMEOUT_S and map anthropic.APITimeoutError "
    "to 504 upstream_timeout.",
)
def test_errors_timeout(app, sim):
    sim.add_fault(provider="anthropic", kind="hang")
    what = f"when the provider never answers (ANTHROPIC_TIMEOUT_S={TIMEOUT_S})"
    started = time.monotonic()
    r = _chat(app, {"message": "Hi"}, what, timeout=TIMEOUT_S + 4)
    elapsed = time.monotonic() - started
    _error(r, 504, "upstream_timeout", what, app.secrets)
    check(elapsed < TIMEOUT_S + 3, f"{what}: the 504 took {elapsed:.1f} s")
    calls = len(_calls(sim))
    check(
        calls == 1,
        f"{what}, the app sent {calls} requests although ANTHROPIC_MAX_RETRIES=0: pass it to the client "
        "as max_retries",
    )


@criterion(
    "p2.errors-shape",
    ERRORS,
    hint="Add exception handlers for RequestValidationError and HTTPException that answer "
    '{"error": {"type", "message", "request_id"}}, with the field errors in error.details.',
)
def test_errors_shape(app, sim, project):
    what = "POST /v1/chat with temperature=3"
    r = _chat(app, {"message": "Hi", "temperature": 3}, what)
    err = _error(r, 422, "validation_error", what, app.secrets)
    details = err.get("details")
    check(
        isinstance(details, list) and details and "temperature" in str(details),
        f"{what}: error.details {short(details)!r} does not say which field is wrong",
    )
    check(
        r.headers.get("x-request-id") == err["request_id"],
        f"{what}: X-Request-ID header {r.headers.get('x-request-id')!r} differs from error.request_id",
    )
    check(
        all(isinstance(d, dict) and isinstance(d.get("loc"), list) and d.get("msg") and d.get("type") for d in details),
        f"{what}: error.details is {short(details, 160)!r}; each problem needs loc (a list), msg and type",
    )
    check(
        any(d.get("loc") == ["body", "temperature"] for d in details),
        f"{what}: no entry of error.details has loc [\"body\", \"temperature\"] ({short(details, 120)!r})",
    )
    what = "POST /v1/chat with max_tokens=0 and temperature=3 (two problems)"
    err = _error(_chat(app, {"message": "Hi", "max_tokens": 0, "temperature": 3}, what), 422, "validation_error", what, app.secrets)
    locs = [d.get("loc") for d in err.get("details") or [] if isinstance(d, dict)]
    check(
        ["body", "max_tokens"] in locs and ["body", "temperature"] in locs,
        f"{what}: error.details names {locs}; list each problem",
    )
    what = "POST /v1/chat with a body that is not JSON"
    r = _chat(app, None, what, content=b'{"message": "Hi",', headers={"content-type": "application/json"})
    _error(r, 422, "validation_error", what, app.secrets)
    what = "GET /no-such-page"
    _error(app.get("/no-such-page"), 404, "not_found", what, app.secrets)
    what = "GET /v1/chat (a wrong method)"
    _error(app.get("/v1/chat"), 405, "method_not_allowed", what, app.secrets)
    check(not _calls(sim), "a request that failed validation reached the provider")
    check(
        _catches_everything(project),
        "no exception handler for Exception: an unexpected error would be answered by Starlette's "
        "plain-text 500, not the error shape; register one that answers 500 internal_error",
    )


def _catches_everything(project) -> bool:
    """A handler for Exception (or for 500), or an HTTP middleware that catches Exception."""
    for _, tree in _app_trees(project):
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and _name_of(node.func) in ("add_exception_handler", "exception_handler")
                and node.args
                and (
                    _name_of(node.args[0]) in ("Exception", "BaseException")
                    or (isinstance(node.args[0], ast.Constant) and node.args[0].value == 500)
                )
            ):
                return True
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                calls_next = any(isinstance(n, ast.Call) and _name_of(n.func) == "call_next" for n in ast.walk(node))
                catches = any(
                    isinstance(n, ast.ExceptHandler)
                    and (n.type is None or _name_of(n.type) in ("Exception", "BaseException"))
                    for n in ast.walk(node)
                )
                if calls_next and catches:
                    return True
    return False


# -- Docker -------------------------------------------------------------------------------------

@criterion(
    "p2.dockerfile-env",
    DOCKERFILE_ENV,
    hint="Build as in Project 1 and bake no secret into the image: no ENV/ARG with a key, no .env "
    "copied; configuration arrives as environment variables when the container starts.",
)
def test_dockerfile_env(project, hadolint):
    text = _dockerfile(project)
    # Secrets first: that is this criterion's point (hadolint would only say DL3064).
    for instr in dockerfile.parse_dockerfile(text):
        if instr.keyword in ("ENV", "ARG"):
            for name, _ in dockerfile.env_pairs(instr):
                check(
                    not dockerfile.SECRET_NAME.search(name),
                    f"line {instr.line}: {instr.keyword} {name}: a key in the Dockerfile is stored in the "
                    "image for anyone who pulls it; pass it at run time (env_file)",
                )
        if instr.keyword in ("COPY", "ADD"):
            sources = dockerfile.copy_sources(instr)
            check(
                not dockerfile.copies_dotenv(instr),
                f"line {instr.line}: {instr.keyword} {instr.args} puts .env (the key) into the image",
            )
            if any(s in (".", "./", "*") for s in sources):
                check(
                    keys.ignores_dotenv(project.read(".dockerignore")),
                    f"line {instr.line}: {instr.keyword} {instr.args} copies .env into the image unless "
                    ".dockerignore lists it",
                )
    findings = hadolint(project.path("Dockerfile"))
    check(
        not findings,
        f"hadolint reports {len(findings)} finding(s): "
        + "; ".join(f"line {f.get('line')} {f.get('code')}: {f.get('message')}" for f in findings[:3]),
    )
    problems = dockerfile.dockerfile_practice_problems(text, PORT)
    check(not problems, "; ".join(problems[:2]))
    user = dockerfile.instructions(text, "USER")[-1]
    check(
        user.args.split(":")[0].strip().isdigit(),
        f"line {user.line}: USER {user.args}: use a numeric user id (e.g. USER 10001), as in Project 1",
    )
    exposed = dockerfile.exposed_ports(text)
    check(PORT in exposed, f"the Dockerfile EXPOSEs {exposed or 'no port'}; the server listens on {PORT}: EXPOSE {PORT}")


@criterion(
    "p2.image-runs",
    DOCKERFILE_ENV,
    hint="CMD [\"uvicorn\", \"app.main:app\", \"--host\", \"0.0.0.0\", \"--port\", \"8000\"]; pin every "
    "imported package in requirements.txt; read every setting from the environment.",
)
def test_image_runs(project, run_command, sim):
    text = _dockerfile(project)
    cmd = as_check(dockerfile.server_command, text)
    check(not cmd.problems, "; ".join(cmd.problems))
    check(cmd.app == "app.main:app", f"CMD serves {cmd.app!r}; the app object is app.main:app")
    check(
        cmd.host in ("0.0.0.0", "::"),
        f"CMD binds uvicorn to {cmd.host or '127.0.0.1 (the default)'}: unreachable from outside the container",
    )
    exposed = dockerfile.exposed_ports(text)
    check(cmd.port == PORT, f"CMD makes uvicorn listen on port {cmd.port}; the service listens on {PORT} (--port {PORT})")
    check(cmd.port in exposed, f"CMD listens on port {cmd.port} but the Dockerfile EXPOSEs {exposed or 'no port'}")
    last_cmd = dockerfile.instructions(text, "CMD")
    check(
        last_cmd and dockerfile.exec_form(last_cmd[-1].args) is not None,
        f"CMD {last_cmd[-1].args if last_cmd else '(none)'} is not in the exec form: write it as a JSON "
        "list, CMD [\"uvicorn\", \"app.main:app\", ...]",
    )
    reqs_text = project.read("requirements.txt")
    check(reqs_text is not None, "there is no requirements.txt for the image to install")
    reqs = files.parse_requirements(reqs_text)
    check(reqs, "requirements.txt lists no packages: the image would have none of them")
    unpinned = [r.text for r in reqs if not r.spec.startswith("==")]
    check(not unpinned, f"requirements.txt: not pinned with ==: {', '.join(unpinned)}")
    listed = {r.name for r in reqs}
    missing = [m for m in as_check(files.third_party_imports, project.root) if not (files.distributions_for(m) & listed)]
    missing += [] if "uvicorn" in listed else ["uvicorn"]
    check(not missing, f"requirements.txt does not list {', '.join(missing)}: the image would fail to start")
    # The image's command, run natively with the environment a container would get: a model and
    # a timeout of its own, and ANTHROPIC_MAX_RETRIES left unset (its default is 1).
    model = "claude-sonnet-4-6"
    running = run_command(
        dockerfile.without_env(dockerfile.native_argv(cmd), ["ANTHROPIC_MAX_RETRIES"]),
        env={"ANTHROPIC_MODEL": model, "ANTHROPIC_TIMEOUT_S": str(IMAGE_TIMEOUT_S)},
    )
    what = f"the Dockerfile's command started with ANTHROPIC_MODEL={model}"
    r = running.post("/v1/chat", json={"message": "Hello from the image"})
    check(r.status_code == 200, f"{what}: POST /v1/chat answered {r.status_code} {short(r.text)!r}")
    asked = [c.get("model") for c in _calls(sim)]
    check(
        asked == [model],
        f"{what}: the provider was asked for {asked}; read the model from the environment",
    )
    # A provider that does not answer the first attempt: it gives up after ANTHROPIC_TIMEOUT_S (1 s
    # here, not the shared app's 2), and the default ANTHROPIC_MAX_RETRIES=1 makes exactly one retry,
    # which is answered.
    sim.clear_requests()
    sim.add_fault(provider="anthropic", kind="hang", times=1)
    what = (
        f"the Dockerfile's command started with ANTHROPIC_TIMEOUT_S={IMAGE_TIMEOUT_S} and ANTHROPIC_MAX_RETRIES "
        "unset (default 1), when the provider does not answer the first attempt"
    )
    r = running.post("/v1/chat", json={"message": "Hello?"}, timeout=8)
    deadline = time.monotonic() + 2
    calls = _calls(sim)
    while any(c.get("ended_at") is None for c in calls) and time.monotonic() < deadline:
        time.sleep(0.05)
        calls = _calls(sim)
    check(
        len(calls) == 2,
        f"{what}: the provider got {len(calls)} request(s) and the app answered {r.status_code}; the "
        "default ANTHROPIC_MAX_RETRIES is 1, so expected 2 (the first, timed out, and one retry)",
    )
    check(
        r.status_code == 200,
        f"{what}: POST /v1/chat answered {r.status_code} {short(r.text)!r}; the retry was answered, so expected 200",
    )
    first = calls[0]
    waited = (first["ended_at"] - first["started_at"]) if first.get("ended_at") else None
    shown = f"{waited:.1f} s" if waited is not None else "without end"
    check(
        waited is not None and waited < IMAGE_TIMEOUT_S + 0.7,
        f"{what}: the app waited {shown} for the first "
        f"attempt; it should give up after ANTHROPIC_TIMEOUT_S={IMAGE_TIMEOUT_S} s (read the timeout from the environment)",
    )


@criterion(
    "p2.compose-env-file",
    COMPOSE_ENV,
    hint="One service with build: ., env_file: .env and ports: [\"8000:8000\"]; no key values in the file.",
)
def test_compose_env_file(project):
    name, data = as_check(compose.load_compose, project.root)
    built = {n: s for n, s in data["services"].items() if isinstance(s, dict) and compose.built_here(s)}
    check(built, f"no service in {name} is built from this folder (build: .)")
    container_ports = dockerfile.exposed_ports(project.read("Dockerfile") or "") or [PORT]
    for service_name, service in built.items():
        env_files = [f.removeprefix("./") for f in compose.env_files(service)]
        check(
            ".env" in env_files,
            f"service {service_name!r} has no env_file: .env, so the container starts without ANTHROPIC_API_KEY",
        )
        for var, value in compose.environment(service).items():
            value = (value or "").strip()
            # `ANTHROPIC_API_KEY: ${ANTHROPIC_API_KEY}` passes the host's variable through: fine.
            written_in = bool(dockerfile.SECRET_NAME.search(var)) and bool(value) and not value.startswith("$")
            check(
                not written_in and not keys.key_shaped(value),
                f"{name}: {var} is given a value in the file; keys come from .env (env_file), never "
                "from a committed file",
            )
        published = [host for host, container in compose.port_mappings(service) if container in container_ports]
        check(
            published and all(published),
            f"service {service_name!r} does not publish container port {container_ports[0]} (ports: [\"{PORT}:{container_ports[0]}\"])",
        )
        mappings = compose.port_mappings(service)
        check(
            (PORT, PORT) in mappings,
            f"service {service_name!r} publishes {', '.join(f'{h}:{c}' for h, c in mappings)}; publish the "
            f"container's port {PORT} on port {PORT} (ports: [\"{PORT}:{PORT}\"]), where the README's /docs URL points",
        )


# -- quiz -------------------------------------------------------------------------------------


@criterion(
    "p2.quiz-anthropic-format",
    FORMAT,
    hint="Answer the format-* questions in quiz.yaml (replace `answer: null` with a letter).",
)
def test_quiz_anthropic_format(project):
    check_quiz_file(project, QUIZ_FORMAT)


@criterion(
    "p2.quiz-api-keys",
    KEYS,
    hint="Answer the keys-* questions in quiz.yaml (replace `answer: null` with a letter).",
)
def test_quiz_api_keys(project):
    check_quiz_file(project, QUIZ_KEYS)
