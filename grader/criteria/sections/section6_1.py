"""Section 6.1, Docker Fundamentals: the notebook's exercise checks and quiz.

No Docker engine is needed for the default checks: the learner's Dockerfile is read for real
(hadolint, plus a parser and a simulation of what each step puts in the image and which steps
Docker's build cache would rebuild), and the `docker run` line is split as a shell would and
each flag read for its meaning. With `grader check section6.1 --docker` and an engine that
answers, 6.1.image_serves also builds the image, runs it and asks it for /health.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from grader.criterion import check
from grader.exercise import exercise, section_quiz

IMAGE = "hello-fastapi:0.1"
PORT = 8000
DATA_DIR = "/app/data"
KEY = "ANTHROPIC_API_KEY"
_SLIM = re.compile(r"^(?:docker\.io/)?(?:library/)?python:3\.11(?:\.\d+)?-slim(?:-[a-z]+)?(?:@sha256:[0-9a-f]{64})?$")
_SECRET_NAME = re.compile(r"(?:KEY|TOKEN|SECRET|PASSWORD|PASSWD)$", re.I)


# -- reading a Dockerfile -------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str  # FROM, RUN, COPY, ... upper-case
    args: str  # the rest, continuation lines joined
    line: int  # where it starts, 1-based

    @property
    def exec_form(self) -> list[str] | None:
        """The JSON-array form's words, or None for the shell form."""
        text = self.args.strip()
        if not text.startswith("["):
            return None
        try:
            words = json.loads(text)
        except ValueError:
            return None
        return words if isinstance(words, list) and all(isinstance(w, str) for w in words) else None

    def __str__(self) -> str:
        return f"line {self.line} `{self.keyword} {_short(self.args)}`"


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions, comments dropped and `\\` continuation lines joined (heredocs are not read)."""
    out: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue  # also a comment line inside a continued instruction, as Docker does
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].strip())
            continue
        pending.append(stripped)
        joined = " ".join(p for p in pending if p)
        pending = []
        keyword, _, args = joined.partition(" ")
        out.append(Instruction(keyword.upper(), args.strip(), start))
    if pending:
        joined = " ".join(p for p in pending if p)
        keyword, _, args = joined.partition(" ")
        out.append(Instruction(keyword.upper(), args.strip(), start))
    return out


def final_stage(instructions: list[Instruction]) -> list[Instruction]:
    starts = [i for i, ins in enumerate(instructions) if ins.keyword == "FROM"]
    return instructions[starts[-1]:] if starts else []


def context_files(folder: Path) -> list[str]:
    """The build context's files (posix paths relative to it), minus what .dockerignore names."""
    ignore_file = folder / ".dockerignore"
    patterns = []
    if ignore_file.is_file():
        patterns = [p.strip().strip("/") for p in ignore_file.read_text().splitlines()
                    if p.strip() and not p.strip().startswith(("#", "!"))]
    files = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(folder).as_posix()
        parts = rel.split("/")
        prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        if any(fnmatch.fnmatch(pre, pat) for pat in patterns for pre in prefixes):
            continue
        files.append(rel)
    return files


def _copy_words(ins: Instruction) -> tuple[list[str], dict[str, str]]:
    words = ins.exec_form if ins.exec_form is not None else shlex.split(ins.args)
    flags = {}
    while words and words[0].startswith("--"):
        name, _, value = words.pop(0)[2:].partition("=")
        flags[name] = value
    return words, flags


def _lands(src: str, rel: str) -> tuple[str, bool] | None:
    """Where context file ``rel`` lands below a COPY destination if source ``src`` takes it,
    and whether it was named itself (a file or a glob match) rather than found in a folder."""
    source = src.removeprefix("./").rstrip("/") or "."
    if source == ".":
        return rel, False
    if rel == source or fnmatch.fnmatch(rel, source):
        return PurePosixPath(rel).name, True
    if rel.startswith(source + "/"):
        return rel[len(source) + 1:], False
    return None


@dataclass
class Step:
    index: int  # 1-based over the final stage, as `docker build` prints [n/N]
    instruction: Instruction
    sources: list[str] = field(default_factory=list)  # context files a COPY/ADD reads
    files_before: frozenset[str] = frozenset()  # image paths present when the step runs
    workdir: str = "/"


@dataclass
class Image:
    steps: list[Step]
    files: dict[str, str]  # image path -> context file it came from
    workdir: str
    env: dict[str, str]
    user: str | None
    user_line: Instruction | None
    exposed: list[str]
    cmd: Instruction | None
    entrypoint: Instruction | None
    base: str


def simulate(text: str, context: list[str]) -> Image:
    """What the final stage puts in the image, step by step (a simulation: no engine runs)."""
    stage = final_stage(parse_dockerfile(text))
    files: dict[str, str] = {}
    workdir, env, user, user_line = "/", {}, None, None
    exposed: list[str] = []
    cmd = entrypoint = None
    steps: list[Step] = []
    words = [w for w in stage[0].args.split() if not w.startswith("--")] if stage else []
    base = words[0] if words else ""  # FROM [--platform=…] image [AS name]
    for n, ins in enumerate(stage, start=1):
        step = Step(n, ins, files_before=frozenset(files), workdir=workdir)
        if ins.keyword == "WORKDIR":
            target = ins.args.strip().strip('"')
            workdir = str(PurePosixPath(workdir) / target) if not target.startswith("/") else target
        elif ins.keyword == "ENV":
            for word in shlex.split(ins.args):
                name, eq, value = word.partition("=")
                if eq:
                    env[name] = value
            if "=" not in ins.args.split()[0] and len(ins.args.split()) >= 2:  # legacy `ENV NAME value`
                env[ins.args.split()[0]] = ins.args.split(None, 1)[1]
        elif ins.keyword == "USER":
            user, user_line = ins.args.strip(), ins
        elif ins.keyword == "EXPOSE":
            exposed += ins.args.split()
        elif ins.keyword == "CMD":
            cmd = ins
        elif ins.keyword == "ENTRYPOINT":
            entrypoint = ins
        elif ins.keyword in ("COPY", "ADD"):
            try:
                words, flags = _copy_words(ins)
            except ValueError:
                words, flags = [], {}
            if len(words) >= 2 and "from" not in flags:
                *sources, dest = words
                dest_abs = dest if dest.startswith("/") else str(PurePosixPath(workdir) / dest)
                into_dir = dest.endswith("/") or dest in (".", "./") or len(sources) > 1
                for src in sources:
                    for rel in context:
                        landed = _lands(src, rel)
                        if landed is None:
                            continue
                        below, named = landed
                        step.sources.append(rel)
                        glob = any(ch in src for ch in "*?[")
                        where = dest_abs if named and not (into_dir or glob) else str(PurePosixPath(dest_abs) / below)
                        files[where] = rel
        steps.append(step)
    return Image(steps, files, workdir, env, user, user_line, exposed, cmd, entrypoint, base)


def rebuilt_steps(image: Image, changed: str) -> list[Step]:
    """Docker's cache rule, simulated: a COPY/ADD of a changed file misses the cache, and every
    step after a miss is rebuilt too. (RUN steps are matched by their text alone.)"""
    out: list[Step] = []
    for step in image.steps:
        if out or changed in step.sources:
            out.append(step)
    return out


def effective_command(image: Image) -> list[str] | None:
    """What the container runs: ENTRYPOINT's words then CMD's (exec forms), as Docker combines them."""
    ep = image.entrypoint.exec_form if image.entrypoint else []
    cmd = image.cmd.exec_form if image.cmd else []
    if ep is None or cmd is None:
        return None
    return [*ep, *cmd]


# -- 6.1.dockerfile --------------------------------------------------------------------------


def _path(obj: Any, name: str) -> Path:
    check(isinstance(obj, (str, Path)), f"{name} must be the Dockerfile's path (a pathlib.Path), not {type(obj).__name__}")
    path = Path(obj)
    check(path.is_file(), f"{path} does not exist: run the cell that writes the Dockerfile")
    return path


def _option(words: list[str], name: str) -> str | None:
    for i, w in enumerate(words):
        if w == name and i + 1 < len(words):
            return words[i + 1]
        if w.startswith(name + "="):
            return w.split("=", 1)[1]
    return None


def _hadolint(path: Path) -> list[dict]:
    binary = Path(sys.executable).parent / "hadolint"
    check(binary.exists(), f"hadolint is missing at {binary}: reinstall the course requirements")
    out = subprocess.run([str(binary), "--no-color", "--format", "json", str(path)],
                         capture_output=True, text=True, timeout=60)
    try:
        return json.loads(out.stdout or "[]")
    except ValueError:
        check(False, f"hadolint could not read the Dockerfile: {_short(out.stderr or out.stdout, 120)}")
        return []


@exercise("6.1.dockerfile", "WORKDIR, COPY, RUN commands",
          also=["Base image selection (`python:3.11-slim`)", "Installing dependencies", "Layers and caching",
                "Exposing ports"],
          uses=["DOCKERFILE"],
          hint="FROM python:3.11-slim; WORKDIR /app; COPY requirements.txt . and RUN pip install "
               "--no-cache-dir -r requirements.txt before COPY main.py .; a USER that is not root; "
               "EXPOSE 8000; CMD as a JSON array running uvicorn with --host 0.0.0.0.")
def dockerfile(DOCKERFILE):  # noqa: N803 - the learner's name
    path = _path(DOCKERFILE, "DOCKERFILE")
    text = path.read_text(encoding="utf-8", errors="replace")
    context = context_files(path.parent)
    for name in ("main.py", "requirements.txt"):
        check(name in context, f"the build context {path.parent} has no {name}: run the cell that writes the app")
    stage = final_stage(parse_dockerfile(text))
    check(stage, "the Dockerfile has no FROM instruction")
    image = simulate(text, context)

    # the base image
    base = image.base
    check(base, f"{stage[0]} names no base image")
    if ":" not in base.split("/")[-1].split("@")[0]:
        check(False, f"FROM {base} has no tag, so it means {base}:latest, which changes under you: "
                     "use python:3.11-slim")
    check(not base.endswith(":latest"), f"FROM {base}: `latest` moves to new releases; pin python:3.11-slim")
    check(_SLIM.match(base), f"FROM {base}: use python:3.11-slim (a small Debian with Python 3.11)")

    # WORKDIR before the files arrive
    copies = [s for s in image.steps if s.instruction.keyword in ("COPY", "ADD")]
    check(copies, "the Dockerfile copies nothing from the build context: COPY requirements.txt and main.py")
    first_copy = copies[0]
    check(first_copy.workdir != "/",
          f"{first_copy.instruction} runs before any WORKDIR: set WORKDIR /app first, so the app "
          "does not land in the image's root folder")

    # dependencies: requirements.txt in the image, installed by pip, without pip's cache
    pip_steps = [s for s in image.steps if s.instruction.keyword == "RUN" and re.search(r"\bpip3?\b[^&|;]*\binstall\b", s.instruction.args)]
    check(pip_steps, "no RUN installs the requirements: RUN pip install --no-cache-dir -r requirements.txt")
    installs = []
    for s in pip_steps:
        try:
            words = shlex.split(s.instruction.exec_form and " ".join(s.instruction.exec_form) or s.instruction.args)
        except ValueError:
            words = s.instruction.args.split()
        for i, w in enumerate(words):
            if w in ("-r", "--requirement") and i + 1 < len(words) or w.startswith(("--requirement=", "-r")) and len(w) > 2:
                req = words[i + 1] if w in ("-r", "--requirement") else w.split("=", 1)[-1] if "=" in w else w[2:]
                installs.append((s, req))
    check(installs, f"{pip_steps[0].instruction} does not install requirements.txt: use pip install -r requirements.txt")
    step, req = installs[0]
    req_abs = req if req.startswith("/") else str(PurePosixPath(step.workdir) / req)
    check(req_abs in step.files_before,
          f"{step.instruction} reads {req_abs}, which is not in the image yet: COPY requirements.txt . before it")
    no_cache_env = image.env.get("PIP_NO_CACHE_DIR", "").lower() in ("1", "true", "on", "yes", "off", "0", "false")
    for s in pip_steps:
        check("--no-cache-dir" in s.instruction.args or no_cache_env,
              f"{s.instruction} keeps pip's download cache in the layer: add --no-cache-dir")

    # layer caching: a code change must not re-run pip install
    code_rebuilds = rebuilt_steps(image, "main.py")
    check(code_rebuilds, "main.py is never copied into the image: COPY main.py . after installing the requirements")
    check(step not in code_rebuilds,
          f"a change to main.py would re-run {step.instruction} (its cache is invalidated by "
          f"{code_rebuilds[0].instruction}): copy requirements.txt alone and install it before copying the code")
    check(step in rebuilt_steps(image, "requirements.txt"),
          f"a change to requirements.txt would not re-run {step.instruction}: install from the copied requirements.txt")

    # not root
    check(image.user is not None, "the container would run as root: create a user (RUN useradd …) and switch to it with USER")
    user = image.user.split(":")[0]
    check(user not in ("root", "0"), f"{image.user_line} runs the app as root: switch to an unprivileged user")
    if not user.isdigit():
        creates = re.compile(rf"\b(?:useradd|adduser)\b[^&;|]*\b{re.escape(user)}\b")
        created = any(s.instruction.keyword == "RUN" and creates.search(s.instruction.args)
                      and s.instruction.line < image.user_line.line for s in image.steps)
        check(created, f"{image.user_line}: no RUN before it creates the user {user!r} (useradd/adduser), "
                       "so the container would not start")

    # the port
    ports = [p.split("/")[0] for p in image.exposed]
    check(ports, f"the Dockerfile has no EXPOSE: add EXPOSE {PORT}, the port uvicorn listens on")
    check(str(PORT) in ports, f"EXPOSE {' '.join(image.exposed)}: the app listens on {PORT}; EXPOSE {PORT}")

    # the command
    check(image.cmd is not None or image.entrypoint is not None,
          "the Dockerfile has no CMD: the container would not start the app")
    for ins in (image.entrypoint, image.cmd):
        if ins is not None:
            check(ins.exec_form is not None,
                  f"{ins} is the shell form: /bin/sh becomes PID 1 and uvicorn never gets docker stop's "
                  f'SIGTERM; write it as a JSON array, ["uvicorn", "main:app", …]')
    words = effective_command(image) or []
    if len(words) >= 3 and PurePosixPath(words[0]).name.startswith("python") and words[1:3] == ["-m", "uvicorn"]:
        words = words[2:]  # python -m uvicorn … runs the same server
    check(words and PurePosixPath(words[0]).name == "uvicorn",
          f"the container runs {words!r}: start it with uvicorn (CMD [\"uvicorn\", \"main:app\", …])")
    app_ref = next((w for w in words[1:] if ":" in w and not w.startswith("-")), None)
    check(app_ref, f"uvicorn is not told which app to run: add \"main:app\" to {words!r}")
    module = app_ref.split(":")[0]
    module_file = str(PurePosixPath(image.workdir) / (module.replace(".", "/") + ".py"))
    check(module_file in image.files,
          f"uvicorn would import {module!r} from {image.workdir}, but the image has no {module_file}")
    host = _option(words, "--host")
    check(host is not None,
          "uvicorn listens on 127.0.0.1 by default, which inside a container only the container can "
          "reach: add \"--host\", \"0.0.0.0\"")
    check(host in ("0.0.0.0", "::"),
          f"uvicorn --host {host}: inside a container that is unreachable from outside; use 0.0.0.0")
    port = _option(words, "--port") or str(PORT)
    check(port == str(PORT), f"uvicorn listens on port {port} but the Dockerfile EXPOSEs {PORT}: use --port {PORT}")

    # hadolint, last: the rules above say more than its codes
    findings = [f for f in _hadolint(path) if f.get("level") in ("error", "warning")]
    if findings:
        f = findings[0]
        more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
        check(False, f"hadolint: line {f.get('line')} {f.get('code')}: {f.get('message')}{more}")


# -- 6.1.docker_run --------------------------------------------------------------------------

# docker run's options that take a value (enough for the exercise; others are read as switches)
_VALUED = {"-p", "--publish", "-e", "--env", "--env-file", "-v", "--volume", "--name", "--network",
           "--net", "--mount", "-w", "--workdir", "-u", "--user", "--restart", "--entrypoint", "-l",
           "--label", "-h", "--hostname", "--add-host", "--cpus", "-m", "--memory", "--platform",
           "--pull", "--log-driver", "--log-opt", "--health-cmd", "--stop-signal", "--stop-timeout",
           "--cidfile", "--dns", "--expose", "--ulimit", "--tmpfs"}
_ATTACHED = {"-p", "-e", "-v", "-w", "-u", "-l", "-h", "-m"}
_ALIASES = {"--publish": "-p", "--env": "-e", "--volume": "-v"}


@dataclass
class RunLine:
    options: list[tuple[str, str | None]]  # (flag, value)
    image: str | None
    command: list[str]

    def values(self, flag: str) -> list[str]:
        return [v for f, v in self.options if f == flag and v is not None]


def parse_docker_run(line: str) -> RunLine:
    """Split the line as a shell would, then read docker run's options, the image and its command."""
    words = shlex.split(line.replace("\\\n", " "))
    check(len(words) >= 2 and words[0] == "docker" and (words[1] == "run" or words[1:3] == ["container", "run"]),
          f"DOCKER_RUN must start with `docker run`, not {' '.join(words[:2])!r}")
    rest = words[2:] if words[1] == "run" else words[3:]
    options: list[tuple[str, str | None]] = []
    i = 0
    while i < len(rest) and rest[i].startswith("-") and rest[i] != "-":
        word = rest[i]
        if word == "--":
            i += 1
            break
        if word.startswith("--") and "=" in word:
            flag, value = word.split("=", 1)
            options.append((_ALIASES.get(flag, flag), value))
        elif word in _VALUED:
            check(i + 1 < len(rest), f"{word} needs a value")
            options.append((_ALIASES.get(word, word), rest[i + 1]))
            i += 1
        elif word[:2] in _ATTACHED and len(word) > 2 and not word.startswith("--"):
            options.append((word[:2], word[2:].lstrip("=")))
        else:
            options.append((word, None))
        i += 1
    image = rest[i] if i < len(rest) else None
    return RunLine(options, image, rest[i + 1:])


def parse_publish(spec: str) -> tuple[str | None, str | None, str]:
    """``-p`` value -> (host ip, host port or None for a random one, container port)."""
    spec = spec.split("/")[0] if "/" in spec.split(":")[-1] else spec
    container = spec.rsplit(":", 1)[-1]
    head = spec[: -len(container) - 1] if ":" in spec else None
    if head is None:
        return None, None, container
    if head.startswith("["):  # [::1]:8000
        ip, _, port = head[1:].partition("]:")
        return ip, port or None, container
    if ":" in head:
        ip, port = head.rsplit(":", 1)
        return ip, port or None, container
    return None, head or None, container


@exercise("6.1.docker_run", "Port mapping (`-p`)",
          also=["`docker run` command", "Environment variables (`-e`)", "Volume mounts (`-v`)"],
          uses=["DOCKER_RUN", "DOCKERFILE"],
          hint="docker run -d --rm -p 127.0.0.1:8000:8000 -e ANTHROPIC_API_KEY -v chat-data:/app/data "
               "hello-fastapi:0.1 (options first, the image last, nothing after it).")
def docker_run(DOCKER_RUN, DOCKERFILE):  # noqa: N803 - the learner's names
    check(isinstance(DOCKER_RUN, str) and DOCKER_RUN.strip(), "DOCKER_RUN must be the command line, as a string")
    try:
        run = parse_docker_run(DOCKER_RUN)
    except ValueError as exc:
        check(False, f"DOCKER_RUN cannot be split as a shell would ({exc}): check its quotes")
    check(run.image is not None, f"DOCKER_RUN names no image: end it with {IMAGE}")
    check(run.image in (IMAGE, f"docker.io/library/{IMAGE}"),
          f"DOCKER_RUN runs the image {run.image!r}; run the one built above, {IMAGE} (options go before it)")
    check(not run.command,
          f"{' '.join(run.command)!r} after the image would replace the image's CMD: end the line with the image")

    # -p: a fixed host port to the port the Dockerfile EXPOSEs
    exposed = str(PORT)
    if isinstance(DOCKERFILE, (str, Path)) and Path(DOCKERFILE).is_file():
        image = simulate(Path(DOCKERFILE).read_text(errors="replace"), [])
        ports = [p.split("/")[0] for p in image.exposed]
        exposed = ports[0] if len(ports) == 1 else exposed
    publishes = run.values("-p")
    check(publishes, f"DOCKER_RUN publishes no port: add -p {PORT}:{exposed} (EXPOSE alone publishes nothing)")
    parsed = []
    for spec in publishes:
        ip, host, container = parse_publish(spec)
        parsed.append((spec, ip, host, container))
    to_app = [p for p in parsed if p[3] == exposed]
    if not to_app:
        spec, _, _, container = parsed[0]
        check(False, f"-p {spec} forwards to container port {container}, but the app listens on {exposed}: "
                     f"-p {PORT}:{exposed}")
    spec, ip, host, container = to_app[0]
    check(host is not None, f"-p {spec} publishes container port {container} on a random host port: "
                            f"write -p {PORT}:{container} so the app answers at http://localhost:{PORT}")
    check(host == str(PORT), f"-p {spec} publishes on host port {host}; the exercise asks for {PORT} "
                             f"(http://localhost:{PORT})")
    check(ip is None or re.fullmatch(r"[0-9.]+|[0-9a-fA-F:]+", ip) is not None,
          f"-p {spec}: the host part must be an IP address such as 127.0.0.1")

    # -e: the key from the host's environment, never its value
    envs = run.values("-e")
    for value in envs:
        name, eq, given = value.partition("=")
        if eq and _SECRET_NAME.search(name):
            if given.startswith("$"):
                check(False, f"-e {name}={given}: the shell expands it, so the secret is on docker's command "
                             f"line (visible in ps): write -e {name} alone, or use --env-file .env")
            check(False, f"-e {name}=… writes the secret on the command line (shell history, ps): "
                         f"write -e {name} alone, or use --env-file .env")
    check(any(v == KEY for v in envs) or run.values("--env-file"),
          f"DOCKER_RUN does not pass {KEY}: add -e {KEY} (its value comes from your shell) or --env-file .env")

    # -v: a volume at /app/data the app can write
    mounts = run.values("-v")
    check(mounts or run.values("--mount"), f"DOCKER_RUN mounts nothing: add -v chat-data:{DATA_DIR}")
    found = None
    for spec in mounts:
        parts = spec.split(":")
        if len(parts) == 1:
            check(parts[0] != DATA_DIR, f"-v {spec} is an anonymous volume, lost with the container: "
                                        f"name it, -v chat-data:{DATA_DIR}")
            continue
        if parts[1] == DATA_DIR:
            found = spec
            check("ro" not in parts[2:] and "readonly" not in parts[2:],
                  f"-v {spec} is read-only; the app writes to {DATA_DIR}: drop :ro")
            check(parts[0], f"-v {spec} has an empty source: -v chat-data:{DATA_DIR}")
    for spec in run.values("--mount"):
        fields = dict(f.partition("=")[::2] for f in spec.split(","))
        target = fields.get("target") or fields.get("dst") or fields.get("destination")
        if target == DATA_DIR:
            found = spec
            check("readonly" not in fields and fields.get("ro") != "true",
                  f"--mount {spec} is read-only; the app writes to {DATA_DIR}")
    check(found, f"no volume is mounted at {DATA_DIR}: -v chat-data:{DATA_DIR} "
                 f"(got {', '.join(mounts or run.values('--mount'))})")


# -- 6.1.image_serves (only with --docker) ---------------------------------------------------


@exercise("6.1.image_serves", "`docker build` command",
          uses=["DOCKERFILE", "DOCKER_RUN"], needs_docker=True, timeout=600,
          hint="Run the same docker build and docker run yourself and read `docker logs`: the first "
               "error there is the one to fix.")
def image_serves(DOCKERFILE, DOCKER_RUN):  # noqa: N803
    import os
    import secrets
    import time
    import urllib.request

    path = _path(DOCKERFILE, "DOCKERFILE")
    tag = f"grader-6-1-{secrets.token_hex(4)}:check"

    def docker(*args: str, timeout: float = 60, env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, env=env)

    built = docker("build", "-q", "-t", tag, "-f", str(path), str(path.parent), timeout=540)
    check(built.returncode == 0, "docker build failed: " + _short((built.stderr or built.stdout).strip().splitlines()[-1:][0]
                                                                  if (built.stderr or built.stdout).strip() else "no output", 200))
    container = None
    try:
        env = {**os.environ, KEY: "sk-ant-grader-not-a-real-key"}
        started = docker("run", "-d", "--rm", "-p", f"127.0.0.1::{PORT}", "-e", KEY, tag, env=env)
        check(started.returncode == 0, "docker run failed: " + _short(started.stderr.strip(), 200))
        container = started.stdout.strip()
        mapped = docker("port", container, f"{PORT}/tcp").stdout.split()
        check(mapped, f"the container publishes nothing on {PORT}")
        url = f"http://{mapped[0]}/health"
        deadline = time.monotonic() + 30
        status = None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=2) as reply:
                    status = reply.status
                    break
            except OSError:
                time.sleep(0.5)
        tail = docker("logs", "--tail", "3", container)
        logs = (tail.stdout + tail.stderr).strip().replace("\n", " | ")
        check(status == 200, f"GET /health on the running container did not answer 200 within 30 s (logs: {_short(logs, 160)})")
        uid = docker("exec", container, "id", "-u").stdout.strip()
        check(uid not in ("", "0"), "the container's process runs as root (id -u printed 0)")
    finally:
        if container:
            docker("rm", "-f", container)
        docker("rmi", "-f", tag)


# -- the quiz ----------------------------------------------------------------------------------

QUIZ = section_quiz(
    "6.1",
    item="After completing, you can answer: How do I package my FastAPI app into a container? "
         "How do I pass API keys to a container? How do I access my app running in a container?",
    questions=[
        {
            "id": "image-container",
            "item": "Images vs containers",
            "question": "You start two containers, a and b, from the image hello-fastapi:0.1. The app in a writes "
                        "/app/notes.txt. Then you remove a (docker rm) and start a new container c from the same "
                        "image. Where is notes.txt?",
            "choices": {
                "a": "In c and b: a container writes into its image, which every container shares",
                "b": "Nowhere: it was in a's own writable layer, removed with a; the image never changed, so "
                     "b and c start from the same files as a did",
                "c": "In c only: Docker saves a removed container's files into the image",
                "d": "In b only: containers of one image share one writable layer while they run",
            },
            "answer_hash": "6f0514281cd231086f4b1b1679e009b2451bd3bed417d742dc0abae91b1b5d72",
            "explanation": "An image is read-only: every container gets its own thin writable layer on top of "
                           "it, which lives and dies with that container. Data that must outlive a container "
                           "goes into a volume (-v, 6.1.3).",
        },
        {
            "id": "registry",
            "item": "Registries (Docker Hub)",
            "question": "A Dockerfile starts with FROM python:3.11-slim. Which image does docker build pull, "
                        "and does a build next month get the same one?",
            "choices": {
                "a": "docker.io/library/python:3.11-slim, the official python repository on Docker Hub, at "
                     "whatever image the tag 3.11-slim names then: maybe a newer one (a digest, @sha256:…, "
                     "would pin it)",
                "b": "docker.io/library/python:3.11-slim, always the same image: a tag cannot move",
                "c": "docker.io/python:latest, since the reference names no registry",
                "d": "The python package from PyPI, installed into an empty image",
            },
            "answer_hash": "3545f0cdb9e94325af20f33e13a17e70cdac9a656a05a35f0edfe91849c53495",
            "explanation": "A reference without a registry means Docker Hub (docker.io), and a single name means "
                           "its official library/ repository. A tag is a movable label (python:3.11-slim gets "
                           "each new patch release); only a digest names one image's content for good.",
        },
        {
            "id": "package",
            "question": "How do you package a FastAPI app into a container image?",
            "choices": {
                "a": "docker run python:3.11-slim main.py, from the project folder",
                "b": "Write a Dockerfile (FROM python:3.11-slim, install requirements.txt, copy the code, "
                     "CMD running uvicorn), then docker build -t name:tag .",
                "c": "pip freeze > Dockerfile, then docker push",
                "d": "Copy the virtualenv folder into a container with docker cp",
            },
            "answer_hash": "6946aeee17e9635c9c248be543d4fe77179507923991a1462d2c11496a44e9fa",
            "explanation": "An image is built from a Dockerfile: a base image, your dependencies, your code "
                           "and the command to run. docker build turns it into an image you can run anywhere.",
        },
        {
            "id": "api-keys",
            "question": "How should a container get ANTHROPIC_API_KEY?",
            "choices": {
                "a": "ENV ANTHROPIC_API_KEY=sk-ant-… in the Dockerfile",
                "b": "COPY .env . in the Dockerfile, so the app finds it",
                "c": "At docker run time: -e ANTHROPIC_API_KEY (the value comes from your shell) or --env-file .env",
                "d": "docker run -e ANTHROPIC_API_KEY=sk-ant-… is the safe way",
            },
            "answer_hash": "b2e194a98022620c0ed7701b1952b48f283e47f396bc905065872f04113f945b",
            "explanation": "Anything in the Dockerfile (ENV, a copied .env) is baked into the image's layers, "
                           "readable by anyone who pulls it. Passing the key when the container starts keeps "
                           "it out of the image; -e NAME without a value also keeps it out of shell history.",
        },
        {
            "id": "access",
            "question": "uvicorn runs in a container from an image that says EXPOSE 8000. What makes "
                        "http://localhost:8000 on your machine reach it?",
            "choices": {
                "a": "Nothing more: EXPOSE publishes the port",
                "b": "-p 8000:8000 on docker run, and uvicorn listening on 0.0.0.0 inside the container",
                "c": "-p 8000 on docker run, with uvicorn on 127.0.0.1",
                "d": "Calling the container's name, http://hello:8000, from your browser",
            },
            "answer_hash": "9f48d204bf85ce64d05849aa9a96c648fd3e66f168710a1a408fe4320b07a564",
            "explanation": "EXPOSE only documents the port. -p host:container publishes it, and the traffic "
                           "arrives on the container's network interface, which uvicorn only hears on "
                           "0.0.0.0 (127.0.0.1 is the container's own loopback). -p 8000 alone picks a random host port.",
        },
        {
            "id": "cmd-entrypoint",
            "item": "CMD vs ENTRYPOINT",
            "question": 'An image has CMD ["uvicorn", "main:app", "--host", "0.0.0.0"] and no ENTRYPOINT. '
                        "What does docker run IMAGE python -V run?",
            "choices": {
                "a": "python -V: arguments after the image replace CMD",
                "b": "uvicorn main:app --host 0.0.0.0 python -V",
                "c": "uvicorn, then python -V when it exits",
            },
            "answer_hash": "cd9c97af95bb68c079acdb3780c7f095bce850a1e73dfcd8aaddb2d360304cad",
            "explanation": "CMD is the default command, replaced by anything after the image name. An "
                           "ENTRYPOINT stays, and CMD (or those arguments) are appended to it.",
        },
    ],
    hint="Reread 6.1.1 (images, containers, registries), 6.1.2 (Dockerfile, CMD vs ENTRYPOINT) and "
         "6.1.3 (-p, -e): each explanation shows after you answer.",
)
