"""Project 1: FastAPI Hello World (Dockerized).

The app runs as ``uvicorn app.main:app`` in its own process; the Docker files are read
(and the Dockerfile's CMD is run natively: the grader never pretends to build an image).
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

from grader.checks import compose, dockerfile, files
from grader.checks.curl import curl_commands, curl_request
from grader.checks.files import StaticError, as_check
from grader.checks.http import json_or_none, short
from grader.checks.openapi import model_schema
from grader.checks.quizzes import check_quiz_file
from grader.criterion import check, criterion

HEALTH = 'FastAPI app with `/health` endpoint returning `{"status": "ok"}`'
ECHO = "`/echo` POST endpoint that returns the input message"
MODELS = "Pydantic model for echo request/response"
DOCKERFILE = "Dockerfile"
COMPOSE = "docker-compose.yml"
REQUIREMENTS = "requirements.txt"
README = "README with run instructions"
DOCS = "Can run `docker-compose up` and access `/docs`"
REQUESTS = "Can make requests to both endpoints"
EXPLAIN = "Can explain what each line in Dockerfile does"

# The spec (README.md): message is 1 to 1000 characters; the server listens on 8000.
MAX_MESSAGE = 1000
PORT = 8000

# sha256 of "<question id>:<answer>" (grader.quiz.answer_hash), not the answers.
QUIZ = {
    "dockerfile-layer-order": "ef97d875fd59dd779b624c74905ef6327f4332cea3eaa2a8fc8836443bdfa37d",
    "dockerfile-host": "8b7d131af9bf0a5b89c89b9b3ebb45b3dedb0683c869725bf53ad7c840997c33",
    "dockerfile-expose": "312bcbcfd8fb10a982f38e03fc78055354888df737c7980bda6a88267816516d",
    "dockerfile-user": "ca11ac5748f1f3eb3939413d7a14b456a910441f3e6c10c87c5c55716bb17a1c",
    "dockerfile-cmd-exec-form": "3daad30d03088d8bc6412344c70d1fb468522564683bf615ca6dedb126c45e4b",
}


def _dockerfile(project) -> str:
    text = project.read("Dockerfile")
    check(text is not None, "there is no Dockerfile in the project folder")
    check(
        dockerfile.parse_dockerfile(text),
        "the Dockerfile has no instructions yet (only comments)",
    )
    return text


# -- the app --------------------------------------------------------------------------------

@criterion("p1.health", HEALTH, hint="Add a GET /health path operation that returns {'status': 'ok'}.")
def test_health(app):
    r = app.get("/health")
    check(r.status_code == 200, f"GET /health answered {r.status_code}; expected 200")
    body = json_or_none(r)
    check(body == {"status": "ok"}, f"GET /health returned {short(r.text)!r}; expected {{\"status\": \"ok\"}}")
    kind = r.headers.get("content-type", "")
    check(
        kind.startswith("application/json"),
        f"GET /health answered with content-type {kind or '(none)'!r}; the body is JSON, so it must be "
        "application/json (return the dict and let FastAPI encode it)",
    )


@criterion(
    "p1.echo",
    ECHO,
    hint="POST /echo takes {'message': ...} and answers {'message': <the same text>}, unchanged.",
)
def test_echo(app):
    # Any Unicode text, spaces included, from 1 character (the lower limit) up to MAX_MESSAGE
    # characters (counted as characters, not UTF-8 bytes), comes back unchanged and whole.
    messages = [
        ("a 15-character message", "Hello, FastAPI!"),
        ("a message with surrounding spaces, tabs and Unicode", "  héllo wörld 👋 — 你好\n\ttabs and spaces kept  "),
        ("a 1-character message", "a"),
        ("a message of three spaces", "   "),
        (f"a message of {MAX_MESSAGE} non-ASCII characters", "é" * (MAX_MESSAGE // 2) + "👋" * (MAX_MESSAGE // 2)),
    ]
    for what, message in messages:
        r = app.post("/echo", json={"message": message})
        check(
            r.status_code == 200,
            f"POST /echo with {what} ({{\"message\": {short(repr(message), 60)}}}) answered "
            f"{r.status_code} {short(r.text, 100)!r}; expected 200",
        )
        body = json_or_none(r)
        check(isinstance(body, dict) and "message" in body, f"POST /echo returned {short(r.text)!r}; expected a JSON object with \"message\"")
        check(
            body["message"] == message,
            f"POST /echo with {what} returned message {short(repr(body['message']), 80)} "
            f"({len(body['message']) if isinstance(body['message'], str) else '?'} characters) for "
            f"{short(repr(message), 80)} ({len(message)} characters); it must come back unchanged",
        )
        check(
            body == {"message": message},
            f"POST /echo with {what} returned {short(r.text, 120)!r}; EchoResponse has exactly one "
            "field, message",
        )
        kind = r.headers.get("content-type", "")
        check(kind.startswith("application/json"), f"POST /echo answered with content-type {kind or '(none)'!r}; expected application/json")
    r = app.get("/echo")
    check(r.status_code == 405, f"GET /echo answered {r.status_code}; /echo should accept POST only (expected 405)")


@criterion(
    "p1.echo-validation",
    MODELS,
    hint="Declare EchoRequest with Field(min_length=1, max_length=1000) and take it as the body: "
    "FastAPI then answers 422 for bad bodies by itself.",
)
def test_echo_validation(app):
    bad = [
        ("a body without message", {"json": {}}),
        ("a number as message", {"json": {"message": 123}}),
        ("null as message", {"json": {"message": None}}),
        ("an empty message", {"json": {"message": ""}}),
        (f"a message of {MAX_MESSAGE + 1} characters", {"json": {"message": "x" * (MAX_MESSAGE + 1)}}),
        ("a JSON list", {"json": ["hello"]}),
        ("true as message", {"json": {"message": True}}),
        ("a list as message", {"json": {"message": ["hello"]}}),
        ("an object as message", {"json": {"message": {"text": "hello"}}}),
        (f"a message of {MAX_MESSAGE + 1} non-ASCII characters", {"json": {"message": "é" * (MAX_MESSAGE + 1)}}),
        ("a body without message but with another field", {"json": {"text": "hello"}}),
        ("a body that is not JSON", {"content": b"message=hello", "headers": {"content-type": "application/json"}}),
        ("an empty body", {"content": b"", "headers": {"content-type": "application/json"}}),
        ("a JSON string as the body", {"json": "hello"}),
    ]
    for what, kwargs in bad:
        r = app.post("/echo", **kwargs)
        check(
            r.status_code == 422,
            f"POST /echo with {what} answered {r.status_code} {short(r.text, 100)!r}; expected 422",
        )
        # Pydantic's 422: FastAPI's body, a list of errors each with loc and msg.
        data = json_or_none(r)
        detail = data.get("detail") if isinstance(data, dict) else None
        check(
            isinstance(detail, list)
            and detail
            and all(isinstance(e, dict) and isinstance(e.get("loc"), list) and "msg" in e for e in detail),
            f"POST /echo with {what} answered 422 with {short(r.text, 120)!r}; let Pydantic produce the "
            "422 (FastAPI's {\"detail\": [{\"loc\": [...], \"msg\": ...}]}) by declaring the rules on "
            "EchoRequest rather than checking them yourself",
        )
    for size in (1, MAX_MESSAGE):
        message = "y" * size
        r = app.post("/echo", json={"message": message})
        answer = json_or_none(r)
        check(
            r.status_code == 200 and isinstance(answer, dict) and answer.get("message") == message,
            f"POST /echo with a message of exactly {size} character(s) answered {r.status_code} "
            f"{short(r.text, 80)!r}; the limit is 1 to {MAX_MESSAGE} characters, both included, and "
            "the message comes back whole",
        )


@criterion(
    "p1.openapi-models",
    MODELS,
    hint="Use EchoRequest as the body parameter and response_model=EchoResponse, with the limits "
    "declared on the model, so /openapi.json and /docs describe both.",
)
def test_openapi_models(app):
    r = app.get("/openapi.json")
    check(r.status_code == 200, f"GET /openapi.json answered {r.status_code}; expected 200")
    spec = json_or_none(r)
    check(isinstance(spec, dict), "GET /openapi.json did not return a JSON document")
    operation = spec.get("paths", {}).get("/echo", {}).get("post")
    check(operation is not None, "/openapi.json has no POST /echo operation")
    media = operation.get("requestBody", {}).get("content", {}).get("application/json")
    name, schema = model_schema(spec, media)
    check(
        schema is not None,
        "POST /echo's request body is not a Pydantic model in /openapi.json: take an EchoRequest parameter",
    )
    message = schema.get("properties", {}).get("message", {})
    check(message.get("type") == "string", f"{name}.message is not documented as a string")
    check("message" in schema.get("required", []), f"{name}.message is not required")
    check(
        message.get("minLength") == 1 and message.get("maxLength") == MAX_MESSAGE,
        f"{name}.message documents minLength={message.get('minLength')}, maxLength="
        f"{message.get('maxLength')}; declare min_length=1 and max_length={MAX_MESSAGE} on the "
        "model's field so the rules show in /docs",
    )
    ok = operation.get("responses", {}).get("200", {}).get("content", {}).get("application/json")
    out_name, out_schema = model_schema(spec, ok)
    check(
        out_schema is not None,
        "POST /echo's 200 response has no model in /openapi.json: declare response_model=EchoResponse",
    )
    out_message = out_schema.get("properties", {}).get("message", {})
    check(out_message.get("type") == "string", f"{out_name}.message is not documented as a string")


# -- Docker -----------------------------------------------------------------------------------

@criterion("p1.dockerfile-lint", DOCKERFILE, hint="Run `hadolint Dockerfile` and fix each finding it reports.")
def test_dockerfile_lint(project, hadolint):
    text = _dockerfile(project)
    check(dockerfile.instructions(text, "FROM"), "the Dockerfile has no FROM instruction")
    findings = hadolint(project.path("Dockerfile"))
    check(
        not findings,
        f"hadolint reports {len(findings)} finding(s): "
        + "; ".join(f"line {f.get('line')} {f.get('code')}: {f.get('message')}" for f in findings[:3]),
    )


@criterion(
    "p1.dockerfile-practice",
    DOCKERFILE,
    hint="README.md, \"Docker\", lists the rules: slim base, no pip cache, requirements installed "
    "before the code is copied, a non-root USER, EXPOSE.",
)
def test_dockerfile_practice(project):
    text = _dockerfile(project)
    problems = dockerfile.dockerfile_practice_problems(text, PORT)
    check(not problems, "; ".join(problems[:2]))
    user = dockerfile.instructions(text, "USER")[-1]
    check(
        user.args.split(":")[0].strip().isdigit(),
        f"line {user.line}: USER {user.args}: use a numeric user id (e.g. USER 10001), so Docker and "
        "Kubernetes (runAsNonRoot) can tell the server does not run as root",
    )
    exposed = dockerfile.exposed_ports(text)
    check(PORT in exposed, f"the Dockerfile EXPOSEs {exposed or 'no port'}; the server listens on {PORT}: EXPOSE {PORT}")


@criterion(
    "p1.image-command",
    DOCS,
    hint="End the Dockerfile with CMD [\"uvicorn\", \"app.main:app\", \"--host\", \"0.0.0.0\", "
    "\"--port\", \"8000\"], matching EXPOSE.",
)
def test_image_command(project, run_command):
    text = _dockerfile(project)
    cmd = as_check(dockerfile.server_command, text)
    check(not cmd.problems, "; ".join(cmd.problems))
    last_cmd = dockerfile.instructions(text, "CMD")
    check(
        last_cmd and dockerfile.exec_form(last_cmd[-1].args) is not None,
        f"CMD {last_cmd[-1].args if last_cmd else '(none)'} is not in the exec form: write it as a JSON "
        "list, CMD [\"uvicorn\", \"app.main:app\", ...], so uvicorn is PID 1 and gets docker stop's SIGTERM",
    )
    check(cmd.app == "app.main:app", f"CMD serves {cmd.app!r}; the app object is app.main:app")
    check(
        cmd.host in ("0.0.0.0", "::"),
        f"CMD binds uvicorn to {cmd.host or '127.0.0.1 (the default)'}: inside a container that is "
        "reachable only from the container itself, so the published port would never reach /docs; "
        "use --host 0.0.0.0",
    )
    exposed = dockerfile.exposed_ports(text)
    check(
        cmd.port == PORT,
        f"CMD makes uvicorn listen on port {cmd.port}; the service listens on {PORT} (--port {PORT})",
    )
    check(
        cmd.port in exposed,
        f"CMD listens on port {cmd.port} but the Dockerfile EXPOSEs {exposed or 'no port'}",
    )
    # The image's command, run natively with the port substituted.
    running = run_command(dockerfile.native_argv(cmd))
    r = running.get("/docs")
    check(
        r.status_code == 200 and "swagger-ui" in r.text.lower(),
        f"the Dockerfile's command started, but GET /docs answered {r.status_code} without Swagger UI",
    )


@criterion(
    "p1.compose",
    COMPOSE,
    hint="One service with `build: .` and `ports: [\"8000:8000\"]` (host port : the container port "
    "the Dockerfile EXPOSEs).",
)
def test_compose(project):
    name, data = as_check(compose.load_compose, project.root)
    services = data["services"]
    check(
        len(services) == 1,
        f"{name} defines {len(services)} services ({', '.join(map(str, services))}); Project 1 has one "
        "service, built from this folder",
    )
    built = {n: s for n, s in services.items() if isinstance(s, dict) and compose.built_here(s)}
    check(built, f"no service in {name} is built from this folder (build: .)")
    container_ports = dockerfile.exposed_ports(project.read("Dockerfile") or "") or [PORT]
    for service_name, service in built.items():
        published = [host for host, container in compose.port_mappings(service) if container in container_ports]
        check(
            published and all(published),
            f"service {service_name!r} does not publish container port {container_ports[0]} "
            f"(add ports: [\"{PORT}:{container_ports[0]}\"]), so nothing outside Docker can reach it",
        )
        mappings = compose.port_mappings(service)
        check(
            (PORT, PORT) in mappings,
            f"service {service_name!r} publishes {', '.join(f'{h}:{c}' for h, c in mappings) or 'nothing'}; "
            f"publish the container's port {PORT} on port {PORT} of the machine (ports: [\"{PORT}:{PORT}\"]), "
            f"where the README sends readers (http://localhost:{PORT}/docs)",
        )


@criterion(
    "p1.requirements",
    REQUIREMENTS,
    hint="List every package the app imports, plus the server (uvicorn), each pinned with == "
    "to the version you tested.",
)
def test_requirements(project):
    text = project.read("requirements.txt")
    check(text is not None, "there is no requirements.txt")
    reqs = files.parse_requirements(text)
    check(reqs, "requirements.txt lists no packages yet")
    unpinned = [r.text for r in reqs if not r.spec.startswith("==")]
    check(
        not unpinned,
        f"not pinned with ==: {', '.join(unpinned)}; pin each package to an exact version so every "
        "build installs the same thing",
    )
    listed = {r.name for r in reqs}
    imports = as_check(files.third_party_imports, project.root)
    missing = [
        f"{module} (imported in {where})"
        for module, where in imports.items()
        if not (files.distributions_for(module) & listed)
    ]
    check(not missing, f"requirements.txt does not list: {', '.join(missing)}")
    check("uvicorn" in listed, "requirements.txt does not list uvicorn, the server the image runs")


# -- run instructions -----------------------------------------------------------------------

_URL_PORT = re.compile(r"https?://(?:localhost|127\.0\.0\.1|0\.0\.0\.0):(\d+)")


@criterion(
    "p1.readme",
    README,
    hint="Keep README.md's run instructions true for your files: `docker compose up` must serve "
    "the URLs it names, and the uvicorn command must match the Dockerfile's.",
)
def test_readme(project):
    text = project.read("README.md")
    check(text is not None, "there is no README.md")
    check(
        re.search(r"docker[ -]compose\s+up", text),
        "README.md does not say how to start the service with `docker compose up`",
    )
    check("uvicorn app.main:app" in text, "README.md does not show how to run it without Docker (uvicorn app.main:app ...)")
    check("/docs" in text, "README.md does not point readers to the interactive docs at /docs")
    # Instructions are only instructions if they work with the project's files.
    try:
        name, data = compose.load_compose(project.root)
    except StaticError as exc:
        check(False, f"README.md's `docker compose up` instructions cannot work yet: {exc}")
    published = {
        host
        for service in data["services"].values()
        if isinstance(service, dict)
        for host, _ in compose.port_mappings(service)
        if host
    }
    check(published, f"README.md says `docker compose up` serves the API, but {name} publishes no port")
    ports = {int(p) for p in _URL_PORT.findall(text)}
    stray = sorted(ports - published)
    check(
        not stray,
        f"README.md sends readers to port {', '.join(map(str, stray))} but {name} publishes "
        f"{', '.join(map(str, sorted(published)))}",
    )


def _path(request: dict) -> str:
    return urlsplit(request["url"] or "").path


@criterion(
    "p1.requests",
    REQUESTS,
    hint="Try README.md's curl examples against your running app: both must answer 200 with JSON.",
)
def test_requests(project, app):
    text = project.read("README.md") or ""
    examples = [curl_request(argv) for argv in curl_commands(text)]
    health = [e for e in examples if e["method"] == "GET" and _path(e) == "/health"]
    echo = [(e["method"], _path(e), e["body"]) for e in examples if e["method"] == "POST" and _path(e) == "/echo" and e["body"]]
    check(health and echo, "README.md has no curl example for GET /health and POST /echo")
    r = app.get("/health")
    check(r.status_code == 200 and isinstance(json_or_none(r), dict), f"README.md's `curl .../health` got {r.status_code} {short(r.text)!r}")
    for _, path, body in echo:
        r = app.post(path, content=body.encode(), headers={"content-type": "application/json"})
        try:
            sent = json.loads(body)
        except ValueError:
            continue  # not a JSON example
        if not (isinstance(sent, dict) and sent.get("message")):
            continue  # the example of a rejected body
        answer = json_or_none(r)
        check(
            r.status_code == 200 and isinstance(answer, dict) and answer.get("message") == sent["message"],
            f"README.md's `curl -X POST .../echo -d '{short(body, 60)}'` got {r.status_code} {short(r.text)!r}",
        )


# -- quiz -------------------------------------------------------------------------------------

@criterion(
    "p1.quiz-dockerfile",
    EXPLAIN,
    hint="Answer every question in quiz.yaml: replace `answer: null` with a letter, e.g. `answer: b`.",
)
def test_quiz_dockerfile(project):
    check_quiz_file(project, QUIZ)
