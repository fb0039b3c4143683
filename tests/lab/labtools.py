"""Start the lab as `make lab` does, and talk to its Jupyter server like JupyterLab does.

`Lab` runs `make lab` (new session, so Ctrl-C can be sent to it as a terminal would) on a
free port, with a token and a lessons folder of the test's own. `Kernel` is a minimal client
of the server's own kernel API: a kernel started by the server (REST), code run over its
websocket channel (the Jupyter messaging protocol, JSON frames).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import httpx
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 120


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purposes
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


SMOKE_CELLS = [
    # 1: an embedded FastAPI app, as the lessons start theirs
    '''import os
from fastapi import FastAPI
from grader.lesson import serve

app = FastAPI(title="Lab smoke test")


@app.get("/hello")
def hello(name: str = "lab"):
    return {"hello": name, "kernel_pid": os.getpid()}


running = serve(app, name="smoke")
print(f"PORT={running.port} PID={os.getpid()} DOCS={running.docs_url}")''',
    # 2: the real SDK, pointed at llmsim by the lab's environment
    '''import anthropic

reply = anthropic.Anthropic().messages.create(
    model="claude-haiku-4-5", max_tokens=32, messages=[{"role": "user", "content": "ping from the lab"}]
)
print("ANTHROPIC", os.environ["ANTHROPIC_BASE_URL"], reply.content[0].text[:200].replace(chr(10), " "))''',
    # 3: Redis by the storage rule, and the grader in the lab's environment
    '''import subprocess, redis

print("REDIS", redis.Redis.from_url(os.environ["REDIS_URL"]).ping())
done = subprocess.run(["grader", "list"], capture_output=True, text=True, timeout=120)
print("GRADER", done.returncode, "project1" in done.stdout)''',
]


def make_lessons(tmp: Path) -> Path:
    """A copy of lessons/ (when the repo has one) plus the smoke-test notebook."""
    lessons = tmp / "lessons"
    if (ROOT / "lessons").is_dir():
        shutil.copytree(ROOT / "lessons", lessons, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    else:
        (lessons / "01_fastapi_fundamentals").mkdir(parents=True)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Lab smoke test")] + [nbformat.v4.new_code_cell(c) for c in SMOKE_CELLS]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, lessons / "lab_smoke_test.ipynb")
    return lessons


class Lab:
    """`make lab` by default; ``argv``/``env`` run it another way (the image's command)."""

    def __init__(self, lessons: Path, env: dict[str, str] | None = None, argv: list[str] | None = None):
        self.port = free_port()
        self.token = uuid.uuid4().hex
        self.lessons = lessons
        self.url = f"http://127.0.0.1:{self.port}"
        self.lines: list[str] = []
        self.ready = threading.Event()
        full_env = dict(os.environ)
        for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):  # run as from a terminal, not nested in make test
            full_env.pop(k, None)
        full_env.update(LAB_TOKEN=self.token, LAB_LESSONS_DIR=str(lessons))
        full_env.update(env or {})
        full_env["LAB_PORT"] = str(self.port)
        self.proc = subprocess.Popen(
            argv or ["make", "--no-print-directory", "lab"],
            cwd=ROOT, env=full_env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            if "JupyterLab is ready" in line:
                self.ready.set()

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT_S) -> float:
        t0 = time.monotonic()
        while not self.ready.wait(0.2):
            if self.proc.poll() is not None:
                self._reader.join(2)
                pytest.fail(f"make lab exited with {self.proc.returncode}:\n{self.output}")
            if time.monotonic() - t0 > timeout:
                pytest.fail(f"make lab did not say it was ready within {timeout} s:\n{self.output}")
        return time.monotonic() - t0

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"token {self.token}"}, timeout=30)

    def ctrl_c(self, timeout: float = 60) -> int:
        """What a learner's Ctrl-C does: SIGINT to the terminal's foreground process group."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            pytest.fail(f"make lab did not stop within {timeout} s of Ctrl-C:\n{self.output}")
        self._reader.join(5)
        return code

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        """What `docker stop` does: SIGTERM to the container's main process."""
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            pytest.fail(f"the lab did not stop within {timeout} s of {signal.Signals(sig).name}:\n{self.output}")
        self._reader.join(5)
        return code

    def kill(self) -> None:
        """Last resort in a fixture's teardown: end whatever is left."""
        if self.proc.poll() is None:
            self.ctrl_c()

    def printed(self, pattern: str) -> re.Match:
        m = re.search(pattern, self.output)
        assert m, f"make lab did not print {pattern!r}:\n{self.output}"
        return m


class Kernel:
    """A kernel the Jupyter server started for a notebook session, driven over its websocket."""

    def __init__(self, lab: Lab, notebook_path: str):
        import websocket  # websocket-client, a dependency of jupyter_server

        self.lab = lab
        with lab.client() as c:
            r = c.post("/api/sessions", json={"path": notebook_path, "type": "notebook", "name": "", "kernel": {"name": "python3"}})
            assert r.status_code == 201, r.text
            self.session = r.json()
        self.kernel_id = self.session["kernel"]["id"]
        self.client_session = uuid.uuid4().hex
        ws_url = f"ws://127.0.0.1:{lab.port}/api/kernels/{self.kernel_id}/channels?session_id={self.client_session}"
        self.ws = websocket.create_connection(ws_url, header=[f"Authorization: token {lab.token}"], timeout=60)

    def execute(self, code: str, timeout: float = 90) -> dict:
        """Run code; return {"status", "stdout", "stderr", "error"}."""
        msg_id = uuid.uuid4().hex
        self.ws.send(json.dumps({
            "header": {"msg_id": msg_id, "username": "test", "session": self.client_session,
                       "msg_type": "execute_request", "version": "5.3", "date": ""},
            "parent_header": {}, "metadata": {}, "buffers": [], "channel": "shell",
            "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True},
        }))
        out = {"status": None, "stdout": "", "stderr": "", "error": None}
        idle = False
        deadline = time.monotonic() + timeout
        while out["status"] is None or not idle:
            self.ws.settimeout(max(0.1, deadline - time.monotonic()))
            msg = json.loads(self.ws.recv())
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                out[content["name"]] += content["text"]
            elif kind == "error":
                out["error"] = f"{content['ename']}: {content['evalue']}"
            elif kind == "execute_reply":
                out["status"] = content["status"]
            elif kind == "status" and content["execution_state"] == "idle":
                idle = True
        return out

    def close(self) -> None:
        try:
            self.ws.close()
        finally:
            with self.lab.client() as c:
                c.delete(f"/api/sessions/{self.session['id']}")


def chromium_path() -> str:
    """Debian's chromium, which the browser tests drive; a clear skip (or failure in CI) if absent."""
    path = "/usr/bin/chromium"
    if Path(path).exists():
        return path
    if os.environ.get("CI") == "true":
        pytest.fail("CI=true and /usr/bin/chromium is missing: .ci/run must `apt-get install -y chromium`")
    pytest.skip("Debian's chromium is not installed (apt-get install -y chromium); CI runs these tests")


CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
