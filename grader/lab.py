"""``make lab``: JupyterLab on lessons/, with the provider simulator and Redis ready.

``python -m grader.lab`` is what ``make lab`` runs natively and what the learner image runs as
its command (docker/Dockerfile), so the two behave alike:

- llmsim: an embedded one on a free port, or the one at ``LLMSIM_URL`` when that is set (the
  compose file's llmsim service).
- Every kernel and terminal inherits an environment that points the real SDKs at llmsim,
  unless a real key for that provider is configured (in the environment or in ``.env`` at the
  course root), which then wins for that provider.
- Redis, by the grader's rule (grader.services): ``REDIS_URL`` when set; otherwise a ``redis-server`` on PATH on
  a free port; otherwise fakeredis's TCP server. Kernels get ``REDIS_URL``.
- It says what it uses, prints JupyterLab's URL once the server answers, and Ctrl-C (or
  SIGTERM, as ``docker stop`` sends) stops everything it started.

Settings, as flags or environment variables (flags win; ``LAB_*`` may also be in ``.env``)::

    --port / LAB_PORT          8888; when the default is busy another free port is used
    --ip / LAB_IP              127.0.0.1 (the image sets 0.0.0.0)
    --token / LAB_TOKEN        a random token unless given
    --lessons / LAB_LESSONS_DIR  the folder JupyterLab opens (default: <course>/lessons)
    --browser / LAB_BROWSER=1  open a web browser (off by default)
    LLMSIM_URL                 use that llmsim instead of starting one
    LAB_PUBLIC_PORT            the port to print in the URL (compose maps the host's port)

Notebooks start their embedded apps with ``grader.lesson.serve``, which makes
``/proxy/PORT/docs`` work inside JupyterLab (see its docstring).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PROVIDERS = {
    # provider: (key variable, base-URL variable, suffix of the simulator's URL)
    "anthropic": ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", ""),
    "openai": ("OPENAI_API_KEY", "OPENAI_BASE_URL", "/v1"),
    "openrouter": ("OPENROUTER_API_KEY", "OPENROUTER_API_BASE", "/api/v1"),
}
DEFAULT_PORT = 8888
READY_TIMEOUT_S = float(os.environ.get("LAB_READY_TIMEOUT_S", "180"))
STOP_TIMEOUT_S = 20.0
# The placeholders .env.example files carry are not keys.
_PLACEHOLDERS = ("your", "changeme", "change-me", "xxx", "...", "<", "replace")


class LabError(Exception):
    """The lab cannot start; the message says why and what to do."""


# -- the kernels' environment -------------------------------------------------------------


def read_dotenv(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    from dotenv import dotenv_values

    return {k: v for k, v in dotenv_values(path).items() if v}


def is_real_key(value: str | None) -> bool:
    if not value or "llmsim" in value:  # ours (sk-llmsim-…) and the grader's (sk-ant-llmsim-…)
        return False
    low = value.lower()
    return not any(p in low for p in _PLACEHOLDERS)


def lab_env(sim_url: str, base: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """The kernels' environment, and one line per provider saying where it points.

    A provider with a real key talks to the real provider: its base-URL variable is kept only
    when it points somewhere other than llmsim (a gateway of the learner's own).
    """
    env = dict(base)
    said = []
    sim_url = sim_url.rstrip("/")
    for name, (key_var, url_var, suffix) in PROVIDERS.items():
        if is_real_key(env.get(key_var)):
            current = env.get(url_var, "")
            if current and not current.startswith(sim_url) and "llmsim" not in current:
                said.append(f"{name}: real key configured, using {current}")
            else:
                env.pop(url_var, None)
                said.append(f"{name}: real key configured, using the real provider")
            continue
        env[key_var] = f"sk-llmsim-{name}-offline"
        env[url_var] = sim_url + suffix
        said.append(f"{name}: llmsim at {sim_url + suffix}")
    env.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    # LiteLLM fetches some tokenizers (Llama's) from Hugging Face and retries for 20+ s offline
    env.setdefault("HF_HUB_OFFLINE", "1")
    env["LLMSIM_URL"] = sim_url
    return env, said


# -- settings -----------------------------------------------------------------------------


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host if host not in ("", "*") else "0.0.0.0", port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def parse_args(argv: list[str] | None = None, env: dict[str, str] | None = None) -> argparse.Namespace:
    env = dict(os.environ) if env is None else env
    p = argparse.ArgumentParser(
        prog="python -m grader.lab",
        description="JupyterLab on the course's lessons, with llmsim and Redis ready.",
    )
    p.add_argument("--port", type=int, default=int(env["LAB_PORT"]) if env.get("LAB_PORT") else None,
                   help=f"port to listen on (LAB_PORT; default {DEFAULT_PORT}, or a free one if that is busy)")
    p.add_argument("--ip", default=env.get("LAB_IP", "127.0.0.1"), help="address to listen on (LAB_IP)")
    p.add_argument("--token", default=env.get("LAB_TOKEN") or env.get("JUPYTER_TOKEN"),
                   help="access token (LAB_TOKEN); a random one by default")
    p.add_argument("--lessons", default=env.get("LAB_LESSONS_DIR"),
                   help="folder JupyterLab opens (LAB_LESSONS_DIR; default <course>/lessons)")
    p.add_argument("--browser", dest="browser", action="store_true",
                   default=env.get("LAB_BROWSER", "0").lower() in ("1", "true", "yes"),
                   help="open a web browser (LAB_BROWSER=1)")
    p.add_argument("--no-browser", dest="browser", action="store_false", help="do not open a browser (the default)")
    return p.parse_args(argv)


def choose_port(ip: str, requested: int | None) -> tuple[int, str | None]:
    """The port to use, and a note when it is not the default."""
    if requested is not None:
        if requested and not _port_free(ip, requested):
            raise LabError(
                f"port {requested} is already in use (another JupyterLab?). Stop that, or pick "
                f"another port: make lab LAB_PORT={requested + 1}"
            )
        return requested or free_port(), None
    if _port_free(ip, DEFAULT_PORT):
        return DEFAULT_PORT, None
    port = free_port()
    return port, f"port {DEFAULT_PORT} is in use, so JupyterLab uses port {port}"


# -- the services -------------------------------------------------------------------------


def _get(url: str, timeout: float = 2.0) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def llmsim_service(external: str | None) -> Iterator[tuple[str, str]]:
    """(url, what it is): the llmsim at ``external``, or an embedded one of our own."""
    if external:
        url = external.rstrip("/")
        deadline = time.monotonic() + 30
        while _get(url + "/llmsim/health") != 200:
            if time.monotonic() > deadline:
                raise LabError(f"LLMSIM_URL={url} does not answer at /llmsim/health")
            time.sleep(0.5)
        yield url, f"llmsim at LLMSIM_URL ({url})"
        return
    import llmsim

    with llmsim.running(host="127.0.0.1", port=0) as sim:
        yield sim.url.rstrip("/"), f"llmsim (the offline LLM provider simulator) at {sim.url}"


def jupyter_argv(settings: argparse.Namespace, root: Path, lessons: Path, port: int) -> list[str]:
    argv = [
        sys.executable, "-m", "jupyter", "lab",
        f"--config={root / 'docker' / 'jupyter_server_config.py'}",
        f"--ServerApp.root_dir={lessons}",
        f"--ServerApp.ip={settings.ip}",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.log_level={os.environ.get('LAB_LOG_LEVEL', 'WARN')}",
    ]
    argv.append("--ServerApp.open_browser=True" if settings.browser else "--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        argv.append("--allow-root")  # CI machines and some containers run as root; the image does not
    return argv


START_PAGE = "00_start_here.ipynb"


def seed_start_page(lessons: Path, env: dict[str, str]) -> Path | None:
    """On the first start, have JupyterLab open the start page; return the file written.

    "First" means JupyterLab has no saved layout yet: its default workspace file does not
    exist. We then write one with the start page open and the file browser showing lessons/.
    From then on JupyterLab saves the learner's own layout there and restores it instead.
    """
    if not (lessons / START_PAGE).is_file():
        return None
    from jupyter_core.paths import jupyter_config_dir

    # where JupyterLab keeps workspaces (jupyterlab.commands.get_workspaces_dir), for its environment
    config_dir = env.get("JUPYTER_CONFIG_DIR") or jupyter_config_dir()
    folder = Path(env.get("JUPYTERLAB_WORKSPACES_DIR") or Path(config_dir) / "lab" / "workspaces")
    # jupyterlab_server's file name for the workspace "default": slug + short sha256 signature
    path = folder / f"default-{hashlib.sha256(b'default').hexdigest()[:4]}.jupyterlab-workspace"
    if path.exists():
        return None
    widget = f"notebook:{START_PAGE}"
    workspace = {
        "data": {
            "layout-restorer:data": {
                "main": {"dock": {"type": "tab-area", "currentIndex": 0, "widgets": [widget]}, "current": widget},
                "left": {"collapsed": False, "visible": True, "current": "filebrowser", "widgets": ["filebrowser"]},
            },
            widget: {"data": {"path": START_PAGE, "factory": "Notebook"}},
        },
        "metadata": {"id": "default"},
    }
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(workspace), encoding="utf-8")
    except OSError:
        return None  # a read-only home: JupyterLab then simply opens on the file browser
    return path


def _browser_host(ip: str) -> str:
    return "127.0.0.1" if ip in ("", "*", "0.0.0.0", "::") else ip


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM, as Jupyter expects (it then shuts its kernels down); SIGKILL if it hangs."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


class _Stop(Exception):
    pass


def _on_signal(signum: int, frame: Any) -> None:
    raise _Stop(signal.Signals(signum).name)


def run(settings: argparse.Namespace) -> int:
    from grader.services import ServiceError, redis_service
    from grader.targets import course_root

    t0 = time.monotonic()
    root = course_root()
    lessons = Path(settings.lessons).resolve() if settings.lessons else root / "lessons"
    if not lessons.is_dir():
        raise LabError(f"{lessons} does not exist (course authors: `grader release` writes lessons/)")
    port, note = choose_port(settings.ip, settings.port)
    token = settings.token or secrets.token_hex(24)

    # The environment wins over .env, except where it is empty.
    base = dict(os.environ)
    for key, value in read_dotenv(root / ".env").items():
        if not base.get(key):
            base[key] = value
    stack = contextlib.ExitStack()
    with stack:
        try:
            sim_url, sim_said = stack.enter_context(llmsim_service(base.get("LLMSIM_URL")))
            redis = stack.enter_context(redis_service())
        except ServiceError as exc:
            raise LabError(str(exc)) from None
        env, said = lab_env(sim_url, base)
        env["REDIS_URL"] = redis.url
        env["COURSE_ROOT"] = str(root)
        env["LAB_PROXY_BASE"] = "/proxy/"  # grader.lesson.serve() gives embedded apps this root path
        env["LAB_TOKEN"] = token  # read by docker/jupyter_server_config.py (kept off the command line)
        env.pop("JUPYTER_TOKEN", None)
        env.setdefault("PYTHONUNBUFFERED", "1")
        # `grader` and `llmsim` in JupyterLab's terminals: the environment's bin/ first on PATH.
        bin_dir = str(Path(sys.executable).parent)
        if bin_dir not in env.get("PATH", "").split(os.pathsep):
            env["PATH"] = os.pathsep.join(filter(None, [bin_dir, env.get("PATH")]))
        if sys.prefix != sys.base_prefix:
            env["VIRTUAL_ENV"] = sys.prefix

        print(sim_said)
        for line in said:
            print("  ", line)
        print("Redis:", redis.description, f"(REDIS_URL={redis.url})")
        if note:
            print(note)
        print(f"Starting JupyterLab on {lessons} …", flush=True)
        seed_start_page(lessons, env)

        proc = subprocess.Popen(
            jupyter_argv(settings, root, lessons, port),
            env=env, cwd=root, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        stack.callback(_stop, proc)
        # Ctrl-C (even where SIGINT was ignored, as for `make lab &`), docker stop, a closed terminal
        old = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        stack.callback(lambda: [signal.signal(s, h) for s, h in old.items()])
        try:
            probe = f"http://{_browser_host(settings.ip)}:{port}/api"
            deadline = time.monotonic() + READY_TIMEOUT_S
            while _get(probe, 1.0) != 200:
                if proc.poll() is not None:
                    print(f"JupyterLab exited (status {proc.returncode}) before it answered", file=sys.stderr)
                    return proc.returncode or 1
                if time.monotonic() > deadline:
                    print(f"JupyterLab did not answer within {READY_TIMEOUT_S:.0f} s", file=sys.stderr)
                    return 1
                time.sleep(0.2)
            public_port = os.environ.get("LAB_PUBLIC_PORT") or port
            url = f"http://{_browser_host(settings.ip)}:{public_port}/lab?token={token}"
            print(f"\nJupyterLab is ready ({time.monotonic() - t0:.1f} s): {url}", flush=True)
            print("Ctrl-C stops JupyterLab and what was started for it.\n", flush=True)
            code = proc.wait()
            print(f"JupyterLab exited (status {code})", file=sys.stderr)
            return code
        except (KeyboardInterrupt, _Stop):
            print("\nstopping JupyterLab …", flush=True)
            _stop(proc)
            return 0


def settings_env() -> dict[str, str]:
    """The environment, and the LAB_* settings of .env where the environment has none."""
    from grader.targets import TargetError, course_root

    env = dict(os.environ)
    try:
        dotenv = read_dotenv(course_root() / ".env")
    except TargetError:
        dotenv = {}
    for key, value in dotenv.items():
        if key.startswith("LAB_") and not env.get(key):
            env[key] = value
    return env


def main(argv: list[str] | None = None) -> int:
    settings = parse_args(argv, settings_env())
    try:
        code = run(settings)
    except LabError as exc:
        print(f"make lab: {exc}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, _Stop):
        code = 0
    print("stopped everything `make lab` started", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
