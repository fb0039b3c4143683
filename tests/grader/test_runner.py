"""The app runner: broken apps give clear messages, and nothing is ever left running."""

from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path

import pytest

from grader.runner import AppStartError, RunningApp

OK_APP = """
from fastapi import FastAPI
app = FastAPI()

@app.get("/health")
def health():
    return {"status": "ok"}
"""


def make_app(tmp_path: Path, source: str) -> Path:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "main.py").write_text(textwrap.dedent(source))
    return tmp_path


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # a zombie still answers kill(0); it is not running
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


def test_good_app_starts_answers_and_stops(tmp_path):
    app = RunningApp(make_app(tmp_path, OK_APP))
    with app:
        assert app.get("/health").json() == {"status": "ok"}
        pid = app.proc.pid
    assert gone(pid)
    assert not list(tmp_path.rglob("__pycache__")), "the runner must not litter the learner's folder"


def test_syntax_error_is_reported_with_the_line(tmp_path):
    app = RunningApp(make_app(tmp_path, "from fastapi import FastAPI\napp = FastAPI(\n"))
    with pytest.raises(AppStartError) as err:
        app.start(timeout=10)
    assert "exited during start-up" in str(err.value)
    assert "SyntaxError" in str(err.value)
    app.close()


def test_import_error_is_reported(tmp_path):
    app = RunningApp(make_app(tmp_path, "import not_a_module_anyone_has\n"))
    with pytest.raises(AppStartError) as err:
        app.start(timeout=10)
    assert "not_a_module_anyone_has" in str(err.value)
    app.close()


def test_app_that_never_listens_times_out_and_is_killed(tmp_path):
    app = RunningApp(make_app(tmp_path, "import time\nprint('warming up', flush=True)\ntime.sleep(600)\n"))
    started = time.monotonic()
    with pytest.raises(AppStartError) as err:
        app.start(timeout=2)
    assert time.monotonic() - started < 8
    assert "did not start listening" in str(err.value) and "warming up" in str(err.value)
    assert gone(app.proc.pid)
    app.close()


def test_hanging_request_fails_within_the_timeout(tmp_path):
    source = OK_APP + textwrap.dedent("""
        import asyncio

        @app.get("/hang")
        async def hang():
            await asyncio.sleep(600)
    """)
    with RunningApp(make_app(tmp_path, source)) as app:
        started = time.monotonic()
        with pytest.raises(AssertionError, match="did not answer GET /hang within 1 s"):
            app.get("/hang", timeout=1)
        assert time.monotonic() - started < 3
        assert app.get("/health").status_code == 200


def test_app_that_exits_mid_run_is_reported(tmp_path):
    source = OK_APP + textwrap.dedent("""
        import os

        @app.get("/die")
        def die():
            os._exit(3)
    """)
    with RunningApp(make_app(tmp_path, source)) as app:
        with pytest.raises(AssertionError, match="process has exited"):
            app.get("/die")
        assert not app.alive


def test_stop_ends_children_and_sigterm_ignorers(tmp_path):
    source = OK_APP + textwrap.dedent("""
        import signal, subprocess, sys
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a stubborn app
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        open("child.pid", "w").write(str(child.pid))
    """)
    app = RunningApp(make_app(tmp_path, source))
    with app:
        child_pid = int((tmp_path / "child.pid").read_text())
        parent = app.proc.pid
    assert gone(parent)
    deadline = time.monotonic() + 3
    while not gone(child_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(child_pid), "a child process of the app outlived the grader's stop"


BUSY_THEN_READY = """
import time
_end = time.process_time() + 4.0  # four CPU seconds of start-up, as a big import on a busy machine
while time.process_time() < _end:
    pass
from fastapi import FastAPI
app = FastAPI()
"""


def test_an_app_busy_starting_gets_more_time_than_an_idle_one(tmp_path):
    """The start timeout counts idle time: an app still using the CPU (importing) is waited for,
    up to GRADER_START_MAX_S; one that sleeps is given up after the timeout."""
    (tmp_path / "busy").mkdir()
    (tmp_path / "idle").mkdir()
    busy = RunningApp(make_app(tmp_path / "busy", BUSY_THEN_READY))
    started = time.monotonic()
    with busy.start(timeout=2):  # 2 s of idleness allowed; the app needs 4 s of CPU
        assert time.monotonic() - started > 2
        assert busy.get("/docs").status_code == 200
    idle = RunningApp(make_app(tmp_path / "idle", "import time\ntime.sleep(60)\n"))
    started = time.monotonic()
    with pytest.raises(AppStartError, match="did not start listening"):
        idle.start(timeout=2)
    assert time.monotonic() - started < 15
    idle.close()
