"""A project's Dockerfile, read without Docker: instructions, good-practice problems,
exposed ports and the server command it would run."""

from __future__ import annotations

import json
import re
import shlex
import sys
from dataclasses import dataclass, field

from grader.checks.files import StaticError


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper-case: FROM, RUN, COPY, ...
    args: str  # the rest of the instruction, continuation lines joined
    line: int  # 1-based line where it starts


_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*$")


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions of a Dockerfile: comments dropped, continuation lines joined.

    Handles the ``escape`` parser directive and comment lines inside a continued
    instruction (Docker ignores those too). Heredocs are not interpreted: their lines are
    kept as part of the instruction that opened them, which is all the checks need.
    """
    lines = text.splitlines()
    escape = "\\"
    # Parser directives are only recognised before the first comment, blank line or instruction.
    for raw in lines:
        match = _DIRECTIVE.match(raw.strip())
        if not match:
            break
        if match.group(1).lower() == "escape" and match.group(2) in ("\\", "`"):
            escape = match.group(2)
    out: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(lines, start=1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if not pending:
            start = number
        if stripped.endswith(escape):
            pending.append(stripped[: -len(escape)])
            continue
        pending.append(stripped)
        out.append(_instruction(" ".join(p for p in pending if p), start))
        pending = []
    if pending:
        out.append(_instruction(" ".join(p for p in pending if p), start))
    return out


def _instruction(text: str, line: int) -> Instruction:
    keyword, _, args = text.partition(" ")
    return Instruction(keyword.upper(), args.strip(), line)


def instructions(text: str, keyword: str) -> list[Instruction]:
    return [i for i in parse_dockerfile(text) if i.keyword == keyword]


def exec_form(args: str) -> list[str] | None:
    """The JSON-array (exec) form of CMD/ENTRYPOINT/RUN, or None for the shell form."""
    if not args.lstrip().startswith("["):
        return None
    try:
        value = json.loads(args)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def command_argv(args: str) -> list[str]:
    """argv of a CMD, from either form (the shell form split as /bin/sh would, roughly)."""
    argv = exec_form(args)
    if argv is not None:
        return argv
    try:
        return shlex.split(args)
    except ValueError as exc:
        raise StaticError(f"cannot read the command {args!r}: {exc}") from None


def _flags_and_operands(args: str) -> tuple[dict[str, str], list[str]]:
    """COPY/ADD arguments: ``--flag=value`` options, then sources and destination."""
    argv = exec_form(args)
    if argv is None:
        try:
            argv = shlex.split(args)
        except ValueError:
            argv = args.split()
    flags: dict[str, str] = {}
    operands: list[str] = []
    for token in argv:
        if token.startswith("--") and not operands:
            name, _, value = token[2:].partition("=")
            flags[name] = value
        else:
            operands.append(token)
    return flags, operands


def copy_sources(instr: Instruction) -> list[str]:
    """What a COPY/ADD takes from the build context (empty when it copies from a stage)."""
    flags, operands = _flags_and_operands(instr.args)
    if "from" in flags or len(operands) < 2:
        return []
    return operands[:-1]


# ENV/ARG names that say they hold a secret: their values are stored in the image's layers.
SECRET_NAME = re.compile(r"API_?KEY|SECRET|TOKEN|PASSW|CREDENTIAL", re.I)


def copies_dotenv(instr: Instruction) -> bool:
    """Whether a COPY/ADD names a .env file (the keys) as one of its sources."""
    return any(src.rstrip("/").endswith(".env") for src in copy_sources(instr))


def env_pairs(instr: Instruction) -> list[tuple[str, str]]:
    """(name, value) pairs of an ENV or ARG instruction, in both syntaxes."""
    try:
        tokens = shlex.split(instr.args)
    except ValueError:
        tokens = instr.args.split()
    if not tokens:
        return []
    if instr.keyword == "ENV" and "=" not in tokens[0]:
        # legacy form: ENV NAME value with spaces
        return [(tokens[0], " ".join(tokens[1:]))]
    pairs = []
    for token in tokens:
        name, sep, value = token.partition("=")
        pairs.append((name, value if sep else ""))
    return pairs


def image_of(instr: Instruction) -> tuple[str, str]:
    """(repository, tag) of a FROM instruction; tag "" when none is given."""
    tokens = [t for t in instr.args.split() if not t.startswith("--")]
    if not tokens:
        return "", ""
    ref = tokens[0].split("@", 1)[0]
    if ":" in ref.rsplit("/", 1)[-1]:  # a registry host:port has its colon before a "/"
        name, tag = ref.rsplit(":", 1)
        return name, tag
    return ref, ""


_CODE_SOURCES = {".", "./", "app", "app/", "./app", "./app/", "*", "*.py"}


def copies_code(sources: list[str]) -> bool:
    """True when the sources bring the application code (the whole context or app/)."""
    return any(s in _CODE_SOURCES or s.startswith(("app/", "./app/")) for s in sources)


def dockerfile_practice_problems(text: str, expected_port: int = 8000) -> list[str]:
    """What a Dockerfile does against the course's rules (README "Docker"), as messages."""
    instrs = parse_dockerfile(text)
    problems: list[str] = []
    froms = [i for i in instrs if i.keyword == "FROM"]
    if not froms:
        return ["the Dockerfile has no FROM instruction"]
    repo, tag = image_of(froms[-1])
    if repo.rsplit("/", 1)[-1] != "python" or not re.match(r"^3\.11(\.\d+)?-slim", tag):
        problems.append(
            f"line {froms[-1].line}: FROM {froms[-1].args.split()[0]}: use the slim Python 3.11 "
            "image, python:3.11-slim (small, and the Python the course pins packages for)"
        )
    runs_pip = [i for i in instrs if i.keyword == "RUN" and re.search(r"\bpip3?\s+install\b", i.args)]
    if not runs_pip:
        problems.append("no RUN pip install: the image never installs requirements.txt")
    else:
        install = runs_pip[0]
        before = [i for i in instrs if i.keyword in ("COPY", "ADD") and i.line < install.line]
        code_first = [i for i in before if copies_code(copy_sources(i))]
        if code_first:
            problems.append(
                f"line {code_first[0].line}: {code_first[0].keyword} {code_first[0].args} copies the "
                f"code before pip install (line {install.line}), so every code change reinstalls "
                "every package: copy requirements.txt alone, install, then copy the code"
            )
        elif not any(
            any("requirements" in s for s in copy_sources(i)) for i in before
        ):
            problems.append(
                f"line {install.line}: pip install runs before requirements.txt is copied in"
            )
        no_cache = any(
            name == "PIP_NO_CACHE_DIR" and value.lower() not in ("", "0", "false", "no", "off")
            for i in instrs
            if i.keyword == "ENV"
            for name, value in env_pairs(i)
        )
        if not no_cache and not all("--no-cache-dir" in i.args for i in runs_pip):
            problems.append(
                "pip's download cache ends up in the image: set ENV PIP_NO_CACHE_DIR=1 "
                "or use pip install --no-cache-dir"
            )
    users = [i for i in instrs if i.keyword == "USER"]
    if not users:
        problems.append("no USER instruction: the server would run as root")
    elif users[-1].args.split(":")[0].strip() in ("root", "0"):
        problems.append(f"line {users[-1].line}: USER {users[-1].args}: the server would run as root")
    if not any(i.keyword == "EXPOSE" for i in instrs):
        problems.append(f"no EXPOSE: document the port the server listens on ({expected_port})")
    return problems


def exposed_ports(text: str) -> list[int]:
    ports = []
    for instr in instructions(text, "EXPOSE"):
        for token in instr.args.split():
            number = token.split("/", 1)[0]
            if number.isdigit():
                ports.append(int(number))
    return ports


@dataclass
class ServerCommand:
    """The uvicorn command a Dockerfile's CMD runs, read into its parts."""

    argv: list[str]
    app: str | None = None  # "app.main:app"
    host: str | None = None
    port: int | None = None
    problems: list[str] = field(default_factory=list)


def server_command(text: str) -> ServerCommand:
    """Read the Dockerfile's last CMD (with ENTRYPOINT, if any, in front)."""
    cmds = instructions(text, "CMD")
    entry = instructions(text, "ENTRYPOINT")
    if not cmds and not entry:
        raise StaticError("the Dockerfile has no CMD: the image would not start the server")
    argv = (command_argv(entry[-1].args) if entry else []) + (command_argv(cmds[-1].args) if cmds else [])
    cmd = ServerCommand(argv=argv)
    rest = _uvicorn_args(argv)
    if rest is None:
        cmd.problems.append(f"CMD {' '.join(argv)} does not run uvicorn")
        return cmd
    positional: list[str] = []
    i = 0
    while i < len(rest):
        token = rest[i]
        name, eq, value = token.partition("=")
        if name in ("--host", "--port") and not eq:
            value = rest[i + 1] if i + 1 < len(rest) else ""
            i += 1
        if name == "--host":
            cmd.host = value
        elif name == "--port":
            cmd.port = int(value) if value.isdigit() else None
        elif not token.startswith("-"):
            positional.append(token)
        i += 1
    cmd.app = positional[0] if positional else None
    if cmd.port is None:
        cmd.port = 8000  # uvicorn's default
    return cmd


def _uvicorn_args(argv: list[str]) -> list[str] | None:
    """The arguments after uvicorn in argv (``uvicorn ...``, ``python -m uvicorn ...``)."""
    for i, token in enumerate(argv):
        base = token.rsplit("/", 1)[-1]
        if base == "uvicorn":
            return argv[i + 1 :]
        if base.startswith("python") and argv[i + 1 : i + 3] == ["-m", "uvicorn"]:
            return argv[i + 3 :]
    return None


def native_argv(cmd: ServerCommand) -> list[str]:
    """The CMD as the grader runs it natively: this Python's uvicorn, on {host}:{port}."""
    rest = _uvicorn_args(cmd.argv) or []
    out: list[str] = [sys.executable, "-m", "uvicorn"]
    i = 0
    while i < len(rest):
        token = rest[i]
        name, eq, _ = token.partition("=")
        if name in ("--host", "--port"):
            i += 1 if eq else 2
            continue
        out.append(token)
        i += 1
    return out + ["--host", "{host}", "--port", "{port}"]



# Run as ``python -c _UNSET_ENV <NAME,NAME> -m <module> args...``: drop the named variables from
# the environment, then run the module as ``python -m`` would.
_UNSET_ENV = (
    "import os, runpy, sys\n"
    "for name in sys.argv[1].split(','):\n"
    "    os.environ.pop(name, None)\n"
    "module = sys.argv[3]\n"
    "sys.argv = [module, *sys.argv[4:]]\n"
    "runpy.run_module(module, run_name='__main__', alter_sys=True)\n"
)


def without_env(argv: list[str], names: list[str] | tuple[str, ...]) -> list[str]:
    """``argv`` (``[python, "-m", module, ...]``, as native_argv gives) run with the variables
    ``names`` removed from its environment: how the grader starts an app with a variable unset,
    to see its default (the runner can only add variables to the inherited environment)."""
    if len(argv) < 3 or argv[1] != "-m":
        raise ValueError(f"expected [python, -m, module, ...], got {argv[:3]}")
    return [argv[0], "-c", _UNSET_ENV, ",".join(names), *argv[1:]]
