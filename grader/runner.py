"""Start a learner's app in its own process, talk to it over HTTP, and always end it.

Learner code never runs inside the grader: it runs as ``uvicorn app.main:app`` in a child
process (its own session, so the whole process group can be ended), with stdout and stderr
captured to a file we can show when something goes wrong.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import weakref
from pathlib import Path

import httpx

START_TIMEOUT_S = float(os.environ.get("GRADER_START_TIMEOUT_S", "20"))
REQUEST_TIMEOUT_S = float(os.environ.get("GRADER_REQUEST_TIMEOUT_S", "10"))

_live: weakref.WeakSet[RunningApp] = weakref.WeakSet()


class AppStartError(Exception):
    """The app did not come up; the message says why, with its last log lines."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(text: str, lines: int = 12) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


class RunningApp:
    """One learner app process and an HTTP client pointed at it."""

    def __init__(
        self,
        cwd: Path,
        argv: list[str] | None = None,
        env: dict[str, str] | None = None,
        secrets: list[str] | None = None,
        name: str = "app",
        ready_path: str | None = None,
    ) -> None:
        self.cwd = Path(cwd)
        self.name = name
        self.port = free_port()
        self.host = "127.0.0.1"
        self.url = f"http://{self.host}:{self.port}"
        argv = argv or [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "{host}", "--port", "{port}"]
        self.argv = [a.replace("{port}", str(self.port)).replace("{host}", self.host) for a in argv]
        self.env = dict(env or {})
        self.secrets = [s for s in (secrets or []) if s]
        self.ready_path = ready_path
        # the log outlives this call on purpose: close() removes it
        self._log = tempfile.NamedTemporaryFile(prefix=f"grader-{name}-", suffix=".log", delete=False)  # noqa: SIM115
        self.proc: subprocess.Popen | None = None
        self.client = httpx.Client(base_url=self.url, timeout=REQUEST_TIMEOUT_S)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, timeout: float = START_TIMEOUT_S) -> RunningApp:
        env = {**os.environ, **self.env}
        env.setdefault("PYTHONUNBUFFERED", "1")
        env["PYTHONDONTWRITEBYTECODE"] = "1"  # leave no __pycache__ in a learner's folder
        if self.argv[0] == sys.executable:
            # the project folder first on the path, as `uvicorn app.main:app` run there would
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(self.cwd), env.get("PYTHONPATH")]))
        try:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            raise AppStartError(f"could not run {' '.join(self.argv)}: {exc}") from None
        _live.add(self)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AppStartError(
                    f"the app exited during start-up (exit code {self.proc.returncode}):\n"
                    + tail(self.logs())
                )
            if self._accepting() and (self.ready_path is None or self._answers(self.ready_path)):
                return self
            time.sleep(0.05)
        self.stop()
        raise AppStartError(
            f"the app did not start listening on port {self.port} within {timeout:.0f} s:\n"
            + tail(self.logs())
        )

    def _accepting(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def _answers(self, path: str) -> bool:
        try:
            return self.client.get(path, timeout=1).status_code < 500
        except httpx.HTTPError:
            return False

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, grace: float = 3.0) -> None:
        """End the whole process group: SIGTERM, then SIGKILL after ``grace`` seconds."""
        proc = self.proc
        if proc is not None and proc.poll() is None:
            for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 2.0)):
                try:
                    os.killpg(proc.pid, sig)
                except (ProcessLookupError, PermissionError):
                    break
                try:
                    proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if proc is not None:
            # children that outlived their parent (a learner's app may spawn some)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        self.client.close()
        _live.discard(self)

    def close(self) -> None:
        self.stop()
        with contextlib.suppress(OSError):
            os.unlink(self._log.name)

    def __enter__(self) -> RunningApp:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- observing ---------------------------------------------------------------------------
    def logs(self) -> str:
        self._log.flush()
        return Path(self._log.name).read_text(errors="replace")

    # -- HTTP ----------------------------------------------------------------------------------
    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        timeout = kwargs.pop("timeout", REQUEST_TIMEOUT_S)
        try:
            return self.client.request(method, path, timeout=timeout, **kwargs)
        except httpx.TimeoutException:
            raise AssertionError(
                f"the app did not answer {method} {path} within {timeout:g} s"
            ) from None
        except httpx.TransportError as exc:
            try:  # a dropped connection often means the process is on its way out
                if self.proc is not None:
                    self.proc.wait(1)
            except subprocess.TimeoutExpired:
                pass
            detail = "" if self.alive else f" (the app process has exited with code {self.proc.returncode})"
            raise AssertionError(f"{method} {path} failed: {exc.__class__.__name__}{detail}") from None

    def get(self, path: str, **kwargs) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def delete(self, path: str, **kwargs) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)

    def stream(self, method: str, path: str, **kwargs):
        """httpx streaming context manager (``with app.stream("POST", ...) as r:``)."""
        kwargs.setdefault("timeout", REQUEST_TIMEOUT_S)
        return self.client.stream(method, path, **kwargs)


def stop_all() -> None:
    for app in list(_live):
        app.stop(grace=1.0)


atexit.register(stop_all)
