"""Section 6.2, Docker Compose for Multi-Service Apps: the notebook's exercise checks and quiz.

No Docker engine is needed: the learner's compose file is read for real, validated against the
Compose Specification's JSON schema, then its references are checked the way `docker compose`
would resolve them (service names, health checks, ports, volumes, env files). The commands
exercise is parsed with shlex, as a shell would split it.
"""

from __future__ import annotations

import functools
import json
import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from grader.criterion import check
from grader.exercise import exercise, section_quiz

_SCHEMA = Path(__file__).resolve().parents[2] / "data" / "compose_spec" / "compose-spec.json"


def schema_path() -> Path:
    if _SCHEMA.is_file():
        return _SCHEMA
    raise FileNotFoundError("the Compose Specification schema is missing from the grader (reinstall the course)")


@functools.cache
def _validator():
    import jsonschema

    schema = json.loads(schema_path().read_text())
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def spec_errors(doc: Any) -> list[str]:
    """Where ``doc`` breaks the Compose Specification, one line each (empty when it matches)."""
    found = sorted(_validator().iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))

    def echo(e) -> bool:
        # A failing subschema leaves its keys "unevaluated" too: an echo of the error below it.
        below = [o for o in found if len(o.absolute_path) > len(e.absolute_path)
                 and list(o.absolute_path)[: len(e.absolute_path)] == list(e.absolute_path)]
        return e.validator == "unevaluatedProperties" and bool(below)

    return [f"{'/'.join(map(str, e.absolute_path)) or '(top level)'}: {e.message}" for e in found if not echo(e)]


# -- reading a compose file the way compose does ---------------------------------------------

_SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|(^|_)KEY$|API_KEY", re.IGNORECASE)
_INTERPOLATED = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*(:?[-?][^}]*)?\}$|^\$[A-Za-z_][A-Za-z0-9_]*$")


def environment(service: dict) -> dict[str, str | None]:
    """`environment:` as a dict, from either its mapping or its list form."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        out: dict[str, str | None] = {}
        for item in env:
            key, sep, value = str(item).partition("=")
            out[key] = value if sep else None
        return out
    return {k: (None if v is None else str(v)) for k, v in env.items()}


def env_files(service: dict) -> list[tuple[str, bool]]:
    """`env_file:` as (path, required) pairs, from its string, list or long form."""
    value = service.get("env_file")
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, dict):
            out.append((str(item.get("path", "")), bool(item.get("required", True))))
        else:
            out.append((str(item), True))
    return out


def read_env_file(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        out[key.strip().removeprefix("export ").strip()] = value.strip().strip("'\"")
    return out


def command_args(service: dict) -> list[str]:
    cmd = service.get("command")
    if cmd is None:
        return []
    return shlex.split(cmd) if isinstance(cmd, str) else [str(c) for c in cmd]


def uvicorn_port(args: list[str]) -> int:
    """The port uvicorn listens on: --port N (or --port=N), else its default 8000."""
    for i, arg in enumerate(args):
        if arg == "--port" and i + 1 < len(args):
            return int(args[i + 1])
        if arg.startswith("--port="):
            return int(arg.split("=", 1)[1])
    return 8000


def uvicorn_host(args: list[str]) -> str:
    for i, arg in enumerate(args):
        if arg == "--host" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--host="):
            return arg.split("=", 1)[1]
    return "127.0.0.1"


def container_ports(service: dict) -> list[int]:
    """The container side of each `ports:` entry (short "H:C", "IP:H:C", or long syntax)."""
    out = []
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            target = entry.get("target")
        else:
            target = str(entry).split("/")[0].rsplit(":", 1)[-1]
        try:
            out.append(int(str(target).split("-")[0]))
        except ValueError:
            continue
    return out


def volume_mounts(service: dict) -> list[tuple[str, str, str]]:
    """(type, source, target) of each `volumes:` entry: type is "bind", "volume" or "anonymous"."""
    out = []
    for entry in service.get("volumes") or []:
        if isinstance(entry, dict):
            kind, source, target = entry.get("type", "volume"), str(entry.get("source", "")), str(entry.get("target", ""))
            if kind == "volume" and not source:
                kind = "anonymous"
        else:
            parts = str(entry).split(":")
            if len(parts) == 1:
                kind, source, target = "anonymous", "", parts[0]
            else:
                source, target = parts[0], parts[1]
                kind = "bind" if source.startswith((".", "/", "~")) else "volume"
        out.append((kind, source, target))
    return out


def healthcheck_test(service: dict) -> list[str] | None:
    """The health check's test as words, or None when the service has none (or disables it)."""
    hc = service.get("healthcheck")
    if not isinstance(hc, dict) or hc.get("disable"):
        return None
    test = hc.get("test")
    if test is None:
        return None
    words = shlex.split(test) if isinstance(test, str) else [str(t) for t in test]
    if not words or words[0] == "NONE":
        return None
    return words


def _image_is(service: dict, name: str) -> bool:
    image = str(service.get("image") or "")
    last = image.rsplit("/", 1)[-1]
    return last == name or last.startswith(name + ":") or last.startswith(name + "@")


# -- 6.2.compose_file ---------------------------------------------------------------------------


def _load(path: Any) -> tuple[Path, dict]:
    import yaml

    check(isinstance(path, (str, Path)), "COMPOSE_FILE must be the Path of your compose.yaml")
    path = Path(path)
    check(path.is_file(), f"{path} does not exist: run the cell that writes it first")
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        check(False, f"{path.name} is not valid YAML{where}: {getattr(exc, 'problem', exc)}")
    check(isinstance(doc, dict) and doc, f"{path.name} is empty: write the services into it")
    return path, doc


def _find(services: dict, what: str, match) -> str:
    names = [n for n, s in services.items() if isinstance(s, dict) and match(s)]
    check(len(names) == 1, f"need exactly one {what} service, found {len(names)}" + (f" ({', '.join(names)})" if names else ""))
    return names[0]


def _url_check(env: dict, var: str, service: str, port: int, app: str) -> None:
    value = env.get(var)
    check(value, f"{app} has no {var}: set it in its environment (or its env file)")
    parts = urlsplit(value)
    host = parts.hostname or ""
    check(host not in ("localhost", "127.0.0.1", "0.0.0.0", "::1"),
          f"{var} points at {host}: inside a container that is the container itself; use the service name {service!r}")
    check(host == service, f"{var} points at host {host!r}; use the service name {service!r}")
    try:
        given = parts.port
    except ValueError:
        given = None
    check(given in (None, port), f"{var} uses port {given}; the {service} container listens on {port} "
                                  f"(the container's port, not a host mapping)")


@exercise("6.2.compose_file", "Services definition",
          also=["Port mappings", "Environment variables", "Depends_on for ordering", "Volume mounts for hot reload",
                "Redis for caching", "PostgreSQL for data"],
          uses=["COMPOSE_FILE"],
          hint="depends_on needs the long form with condition: service_healthy, each waited-for service a "
               "healthcheck; URLs use service names; named volume for /var/lib/postgresql/data; bind mount + --reload.")
def compose_file(COMPOSE_FILE):  # noqa: N803 - the learner's name
    path, doc = _load(COMPOSE_FILE)
    folder = path.parent
    errors = spec_errors(doc)
    check(not errors, f"{path.name} does not match the Compose Specification: {errors[0] if errors else ''}"
                      + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""))
    services = doc.get("services") or {}
    check(services, f"{path.name} has no services")

    app = _find(services, "app (a command running uvicorn)", lambda s: "uvicorn" in command_args(s)[:3])
    redis = _find(services, "Redis (image redis:…)", lambda s: _image_is(s, "redis"))
    db = _find(services, "PostgreSQL (image postgres:…)", lambda s: _image_is(s, "postgres"))
    svc = services[app]
    args = command_args(svc)

    # every depends_on target exists, and has a health check when it is waited for as healthy
    for name, service in services.items():
        deps = service.get("depends_on") or {}
        for dep in (deps if isinstance(deps, list) else deps.keys()):
            check(dep in services, f"{name} depends on {dep!r}, which is no service in {path.name}")
            cond = deps.get(dep, {}).get("condition") if isinstance(deps, dict) else None
            if cond == "service_healthy":
                check(healthcheck_test(services[dep]) is not None,
                      f"{name} waits for {dep} to be healthy, but {dep} has no healthcheck: it would never start")
    deps = svc.get("depends_on") or {}
    for dep in (redis, db):
        check(dep in deps, f"{app} must list {dep} under depends_on")
        check(isinstance(deps, dict) and (deps[dep] or {}).get("condition") == "service_healthy",
              f"{app} starts as soon as {dep} is created, not when it is ready: "
              f"use depends_on: {{{dep}: {{condition: service_healthy}}}}")

    # health checks that ask the server itself
    words = healthcheck_test(services[redis]) or []
    check(words, f"{redis} has no healthcheck: use test: [\"CMD\", \"redis-cli\", \"ping\"]")
    check(any("redis-cli" in w for w in words) and any("ping" in w for w in words),
          f"{redis}'s healthcheck must run redis-cli ping, not {' '.join(words)!r}")
    words = healthcheck_test(services[db]) or []
    check(words, f"{db} has no healthcheck: use test: [\"CMD-SHELL\", \"pg_isready -U … -d …\"]")
    check(any("pg_isready" in w for w in words), f"{db}'s healthcheck must run pg_isready, not {' '.join(words)!r}")

    # uvicorn reachable through the port mapping
    check(uvicorn_host(args) == "0.0.0.0",
          f"uvicorn listens on {uvicorn_host(args)} inside the container, unreachable from outside: add --host 0.0.0.0")
    port = uvicorn_port(args)
    published = container_ports(svc)
    check(published, f"{app} publishes no ports: add ports: [\"8000:{port}\"]")
    check(port in published, f"{app} maps container port(s) {published}, but uvicorn listens on {port}")

    # env files: exist, or are optional and documented by an .example file
    files = env_files(svc)
    check(files, f"{app} loads no env_file: put its settings and secrets in .env and load it with env_file")
    for name, service in services.items():
        for rel, required in env_files(service):
            if (folder / rel).is_file():
                continue
            example = folder / (rel + ".example")
            check(not required and example.is_file(),
                  f"{name}'s env_file {rel} does not exist next to {path.name}: create it, or mark it "
                  f"required: false and document it in {rel}.example")

    def loaded(service: dict) -> dict[str, str]:
        values: dict[str, str] = {}
        for rel, _ in env_files(service):
            for candidate in (folder / rel, folder / (rel + ".example")):
                if candidate.is_file():
                    values.update(read_env_file(candidate))
                    break
        return values

    # no secret written into the compose file
    for name, service in services.items():
        for key, value in environment(service).items():
            if value is None or _INTERPOLATED.match(value.strip()):
                continue
            check(not _SECRET_NAME.search(key),
                  f"{name} has the secret {key} written in environment:; move it to the env file (or use ${{{key}}})")
            pw = urlsplit(value).password if "://" in value else None
            check(not pw or pw.startswith("$"),
                  f"{name}'s {key} has a password written into it; take it from the env file, e.g. ${{POSTGRES_PASSWORD}}")
    db_env = {**loaded(services[db]), **{k: v for k, v in environment(services[db]).items() if v is not None}}
    check("POSTGRES_PASSWORD" in db_env,
          f"{db} gets no POSTGRES_PASSWORD (the image refuses to start without one): load it from the env file")

    # the app reaches the others by service name
    app_env = {**loaded(svc), **{k: v for k, v in environment(svc).items() if v is not None}}
    _url_check(app_env, "REDIS_URL", redis, 6379, app)
    _url_check(app_env, "DATABASE_URL", db, 5432, app)

    # Postgres data in a named volume, declared at the top level
    mounts = volume_mounts(services[db])
    data = [m for m in mounts if m[2].rstrip("/") == "/var/lib/postgresql/data"]
    check(data, f"{db} keeps its data inside the container (lost with the container): "
                f"mount a named volume at /var/lib/postgresql/data")
    kind, source, _ = data[0]
    check(kind == "volume", f"{db}'s data is a {kind} mount; use a named volume (e.g. pgdata:/var/lib/postgresql/data)")
    check(source in (doc.get("volumes") or {}),
          f"the volume {source!r} is not declared: add it under the top-level volumes: key")

    # hot reload: the code bind-mounted at /app, and uvicorn watching it
    binds = [m for m in volume_mounts(svc) if m[0] == "bind"]
    check(binds, f"{app} has no bind mount: mount the code folder (.) at /app so edits reach the container")
    code = [m for m in binds if m[2].rstrip("/") == "/app"]
    check(code, f"{app}'s bind mounts go to {[m[2] for m in binds]}; mount the code at /app, the image's WORKDIR")
    source = (folder / code[0][1]).resolve()
    check(source.is_dir() and (source / "main.py").is_file(),
          f"the bind mount's source {code[0][1]} is not the folder holding main.py")
    check("--reload" in args, f"{app}'s code is mounted but uvicorn does not restart on edits: add --reload to its command")


# -- 6.2.stack_runs (only with --docker) -----------------------------------------------------------


def _last_line(proc) -> str:
    lines = (proc.stderr or proc.stdout or "").strip().splitlines()
    text = lines[-1] if lines else "no output"
    return text if len(text) <= 200 else text[:199] + "…"


@exercise("6.2.stack_runs", "FastAPI application",
          uses=["COMPOSE_FILE"], needs_docker=True, timeout=600,
          hint="Run `docker compose up -d --build --wait` in compose_app/ yourself; `docker compose ps` "
               "and `docker compose logs` show which service is not healthy and why.")
def stack_runs(COMPOSE_FILE):  # noqa: N803 - the learner's name
    import secrets
    import subprocess
    import time
    import urllib.request

    path, doc = _load(COMPOSE_FILE)
    services = doc.get("services") or {}
    app = _find(services, "app (a command running uvicorn)", lambda s: "uvicorn" in command_args(s)[:3])
    redis = _find(services, "Redis (image redis:…)", lambda s: _image_is(s, "redis"))
    db = _find(services, "PostgreSQL (image postgres:…)", lambda s: _image_is(s, "postgres"))
    port = uvicorn_port(command_args(services[app]))
    project = f"grader62-{secrets.token_hex(4)}"
    base = ["docker", "compose", "-p", project, "-f", str(path.resolve())]

    def compose(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([*base, *args], capture_output=True, text=True, timeout=timeout, cwd=path.parent)

    try:
        up = compose("up", "-d", "--build", "--wait", timeout=480)
        check(up.returncode == 0, f"docker compose up -d --build --wait failed: {_last_line(up)}")
        mapped = compose("port", app, str(port)).stdout.split()
        check(mapped, f"{app} publishes nothing for container port {port}")
        host_port = mapped[0].rsplit(":", 1)[-1]
        body, deadline = None, time.monotonic() + 30
        while body is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{host_port}/health", timeout=2) as reply:
                    body = json.loads(reply.read())
            except (OSError, ValueError):
                time.sleep(0.5)
        check(body is not None, f"GET /health on port {host_port} did not answer within 30 s after the stack was healthy")
        check(body.get("redis") == redis and body.get("database") == db,
              f"inside the container the app sees redis={body.get('redis')!r}, database={body.get('database')!r}; "
              f"expected the service names {redis!r} and {db!r}")
        ping = compose("exec", "-T", redis, "redis-cli", "ping")
        check("PONG" in ping.stdout, f"redis-cli ping in {redis} did not answer PONG: {_last_line(ping)}")
    finally:
        compose("down", "-v", "--rmi", "local", timeout=180)


# -- 6.2.compose_commands ------------------------------------------------------------------------

TASKS = ("start", "logs_all", "logs_app", "rebuild", "stop_keep_data", "stop_delete_data")
# Per subcommand: option -> number of values it takes (short and long spellings of a flag).
_OPTIONS = {
    "up": {"-d": 0, "--detach": 0, "--build": 0, "--wait": 0, "--no-build": 0, "--force-recreate": 0,
           "--remove-orphans": 0},
    "logs": {"-f": 0, "--follow": 0, "-t": 0, "--timestamps": 0, "--tail": 1, "-n": 1, "--no-color": 0,
             "--since": 1},
    "down": {"-v": 0, "--volumes": 0, "--remove-orphans": 0, "--rmi": 1, "-t": 1, "--timeout": 1},
    "build": {"--no-cache": 0, "--pull": 0},
}
_ALIASES = {"--detach": "-d", "--follow": "-f", "--volumes": "-v", "-n": "--tail", "--timestamps": "-t"}


def parse_compose(command: Any, task: str) -> tuple[str, set[str], list[str]]:
    """(subcommand, flags, services) of one `docker compose …` command line."""
    check(isinstance(command, str) and command.strip(), f"{task}: give the command as a string, e.g. \"docker compose …\"")
    try:
        words = shlex.split(command)
    except ValueError as exc:
        check(False, f"{task}: {command!r} cannot be split like a shell would ({exc})")
    if words[:1] == ["docker-compose"]:
        check(False, f"{task}: use `docker compose` (Compose v2, a docker plugin), not the retired docker-compose")
    check(words[:2] == ["docker", "compose"], f"{task}: {command!r} must start with `docker compose`")
    rest = words[2:]
    check(rest, f"{task}: {command!r} has no subcommand")
    sub, rest = rest[0], rest[1:]
    check(sub in _OPTIONS, f"{task}: `docker compose {sub}` is not what this task needs")
    flags: set[str] = set()
    services: list[str] = []
    i = 0
    while i < len(rest):
        word = rest[i]
        if word.startswith("-"):
            name = word.split("=", 1)[0]
            if not name.startswith("--") and len(name) > 2 and all(f"-{c}" in _OPTIONS[sub] for c in name[1:]):
                flags.update(_ALIASES.get(f"-{c}", f"-{c}") for c in name[1:])  # -df
                i += 1
                continue
            check(name in _OPTIONS[sub], f"{task}: `docker compose {sub}` has no option {name} (or it is not needed here)")
            flags.add(_ALIASES.get(name, name))
            i += 1 + (_OPTIONS[sub][name] if "=" not in word else 0)
            continue
        services.append(word)
        i += 1
    return sub, flags, services


@exercise("6.2.compose_commands", "Stopping and cleaning up",
          also=["Watching logs", "Rebuilding images"],
          uses=["COMPOSE_COMMANDS"],
          hint="up -d starts in the background; logs -f follows (name a service for one); up -d --build "
               "rebuilds; down keeps named volumes, down -v deletes them.")
def compose_commands(COMPOSE_COMMANDS):  # noqa: N803 - the learner's name
    cmds = COMPOSE_COMMANDS
    check(isinstance(cmds, dict), "COMPOSE_COMMANDS must be a dict: task name -> command string")
    missing = [t for t in TASKS if t not in cmds]
    check(not missing, f"COMPOSE_COMMANDS lacks {', '.join(missing)}")

    sub, flags, services = parse_compose(cmds["start"], "start")
    check(sub == "up", f"start: use `docker compose up`, not `{sub}`")
    check("-d" in flags, "start: without -d, up stays attached to your terminal; add -d to run in the background")
    check(not services, f"start: naming {services} starts only those (and what they depend on); start everything")

    sub, flags, services = parse_compose(cmds["logs_all"], "logs_all")
    check(sub == "logs", f"logs_all: use `docker compose logs`, not `{sub}`")
    check("-f" in flags, "logs_all: without -f the logs are printed once; add -f to keep following them")
    check(not services, f"logs_all: naming {services} shows only those; leave the service out for all")

    sub, flags, services = parse_compose(cmds["logs_app"], "logs_app")
    check(sub == "logs", f"logs_app: use `docker compose logs`, not `{sub}`")
    check("-f" in flags, "logs_app: without -f the logs are printed once; add -f to keep following them")
    check(services == ["app"], f"logs_app: name the one service to follow, app (got {services or 'all of them'})")

    sub, flags, services = parse_compose(cmds["rebuild"], "rebuild")
    check(sub == "up", f"rebuild: `docker compose {sub}` alone does not restart the app; use up with --build")
    check("--build" in flags, "rebuild: plain up reuses the old image, built before requirements.txt changed; add --build")
    check("-d" in flags, "rebuild: add -d so the rebuilt stack runs in the background")

    sub, flags, _ = parse_compose(cmds["stop_keep_data"], "stop_keep_data")
    check(sub == "down", f"stop_keep_data: use `docker compose down`, not `{sub}`")
    check("-v" not in flags, "stop_keep_data: -v deletes the named volumes, and the database with them; drop it")

    sub, flags, _ = parse_compose(cmds["stop_delete_data"], "stop_delete_data")
    check(sub == "down", f"stop_delete_data: use `docker compose down`, not `{sub}`")
    check("-v" in flags, "stop_delete_data: plain down keeps named volumes (the database survives); add -v")


# -- quiz -------------------------------------------------------------------------------------------

QUIZ = section_quiz(
    "6.2",
    item="After completing, you can answer: How do I run my app with Redis using one command? "
         "How do I enable hot reload in Docker? How do I view logs from all services?",
    questions=[
        {
            "id": "one-command",
            "question": "Your FastAPI app needs Redis. What lets you start both with one command?",
            "choices": {
                "a": "`docker run my-app && docker run redis`: the two containers find each other by name",
                "b": "Both as services in compose.yaml, then `docker compose up -d`",
                "c": "`docker build .` with `redis` added to requirements.txt",
                "d": "`uvicorn main:app --redis`",
            },
            "answer_hash": "7695a722bbb79cd1d967d00ec90eeb2ea477c786b049295319e8beff2b26526f",
            "explanation": "Compose creates a network where each service is reachable by its name, and starts "
                           "the services in depends_on order; two bare docker run containers share no "
                           "such network, and a pip package is a client, not a server.",
        },
        {
            "id": "hot-reload",
            "question": "What makes edits to main.py on your machine restart the app inside its container?",
            "choices": {
                "a": "`docker compose up --build` after every edit",
                "b": "uvicorn's `--reload` alone: it sees the files on your machine",
                "c": "A bind mount of the code folder at the container's working directory, and `--reload` in the command",
                "d": "A named volume for the code",
            },
            "answer_hash": "334f900e0541f0862c838b25ef8dfc1ef1c7687f93bbaa16e1c070db974d0ca9",
            "explanation": "The bind mount makes the container see your files as you save them; --reload "
                           "makes uvicorn restart when they change. Either alone does nothing; rebuilding "
                           "works but takes a build per edit.",
        },
        {
            "id": "logs-all",
            "question": "How do you watch the logs of every service of the stack as they are written?",
            "choices": {
                "a": "`docker compose logs -f`",
                "b": "`docker compose logs app redis db` once a minute",
                "c": "`docker logs -f`",
                "d": "`docker compose up` prints them; there is no other way",
            },
            "answer_hash": "22dafe055f91a9fa47fcfd92afe2a9ba1040e0ab63292620ee1d083d98dd7929",
            "explanation": "compose logs without a service name interleaves all services, each line "
                           "prefixed by the container's name; -f keeps following. docker logs takes "
                           "exactly one container.",
        },
        {
            "id": "down-volumes",
            "question": "You want to stop the stack for the night and keep the database. Which command?",
            "choices": {
                "a": "`docker compose down -v`",
                "b": "`docker compose down`",
                "c": "`docker compose rm -fv`",
            },
            "answer_hash": "ecc192c9765e692d6850907d7398b8e565fa9560b5ae2a819558a8383f222bef",
            "explanation": "down removes containers and the network but keeps named volumes, so pgdata "
                           "and its tables are there at the next up; -v deletes the named volumes too.",
        },
    ],
    hint="Re-read the parts on depends_on, hot reload, logs and down; each answer is a single command or setting.",
)
