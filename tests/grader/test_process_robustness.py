"""Apps built to misbehave with processes, output and time: the grader ends every process they
start (detached or not, whether the grader finishes, is stopped or is killed), limits them, caps
what it shows of their output, and stops a slow target with a message naming what was slow.

Linux only (the reaper, /proc); elsewhere the runner keeps to its process group."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from grader import runner
from grader.runner import AppStartError, RunningApp

pytestmark = pytest.mark.skipif(not runner.LINUX, reason="the reaper and /proc are Linux only")

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = ROOT / "solutions" / "projects" / "01_fastapi_hello"

OK_APP = """
from fastapi import FastAPI
app = FastAPI()

@app.get("/health")
def health():
    return {"status": "ok"}
"""

# Two children that leave the app's process group: one in a session of its own, one double-forked.
DETACH = """
import os as _os, pathlib as _pathlib, subprocess as _sp, sys as _sys
_sleeper = [_sys.executable, "-c", "import time; time.sleep(600)"]
_sp.Popen(_sleeper, start_new_session=True, stdin=_sp.DEVNULL, stdout=_sp.DEVNULL, stderr=_sp.DEVNULL)
if (_pid := _os.fork()) == 0:
    _os.setsid()
    if _os.fork() == 0:
        _os.execv(_sys.executable, _sleeper)  # keeps the app's stdout open, too
    _os._exit(0)
_os.waitpid(_pid, 0)
_pathlib.Path("started").write_text("yes")
"""

# 5 MB on one line, then 3 MB of lines, from a thread while the app serves.
FLOOD = """
import sys as _sys, threading as _threading
def _flood():
    _sys.stdout.write("x" * 5_000_000)
    for _i in range(60_000):
        _sys.stdout.write(f"flood line {_i} " + "y" * 40 + "\\n")
    _sys.stdout.write("LAST LINE\\n")
    _sys.stdout.flush()
_threading.Thread(target=_flood, daemon=True).start()
"""

SLOW_REQUESTS = """
import asyncio as _asyncio
@app.middleware("http")
async def _slow(request, call_next):
    await _asyncio.sleep(float(__import__("os").environ.get("SLOW_S", "30")))
    return await call_next(request)
"""


def make_app(tmp_path: Path, source: str) -> Path:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "main.py").write_text(textwrap.dedent(source))
    return tmp_path


def project1_copy(tmp_path: Path, extra: str) -> Path:
    project = tmp_path / "p1"
    shutil.copytree(SOLUTION, project)
    main = project / "app" / "main.py"
    main.write_text(main.read_text() + "\n" + textwrap.dedent(extra))
    return project


def marked(token: str, exclude: tuple[int, ...] = ()) -> list[int]:
    """Live processes whose environment holds ``TEST_MARK=token`` (zombies are not running)."""
    found = []
    needle = f"TEST_MARK={token}".encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) in (os.getpid(), *exclude):
            continue
        try:
            if needle in (proc / "environ").read_bytes().split(b"\0") and (proc / "stat").read_text().split(") ")[-1][0] != "Z":
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def wait_until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return bool(condition())


def grader_env(token: str, **extra: str) -> dict[str, str]:
    env = {**os.environ, "NO_COLOR": "1", "TEST_MARK": token, "GRADER_START_TIMEOUT_S": "60"}
    env.pop("REDIS_URL", None)
    env.update(extra)
    return env


# -- 1. every process an app starts dies with grading ------------------------------------------
def test_detached_children_end_with_the_app(tmp_path, monkeypatch):
    token = uuid.uuid4().hex
    monkeypatch.setenv("TEST_MARK", token)
    app = RunningApp(make_app(tmp_path, OK_APP + DETACH))
    with app:
        assert (tmp_path / "started").exists()
        # the app, its setsid child and its double-forked grandchild (and the reaper)
        assert len(marked(token)) >= 4, marked(token)
        assert app.get("/health").status_code == 200
    assert wait_until(lambda: not marked(token), 5), f"left running: {marked(token)}"


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name)
def test_stopping_the_grader_mid_run_leaves_nothing_behind(sig, tmp_path):
    """The issue's "done when": detached children + an output flood + the grader stopped
    (a closed terminal, `kill`, or SIGKILL) -> no process left, under 100 KB printed."""
    token = uuid.uuid4().hex
    project = project1_copy(tmp_path, DETACH + FLOOD + SLOW_REQUESTS)
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    with out.open("wb") as o, err.open("wb") as e:
        proc = subprocess.Popen(
            [sys.executable, "-m", "grader", "check", "project1", "--path", str(project)],
            cwd=ROOT, env=grader_env(token, GRADER_REQUEST_TIMEOUT_S="60"), stdout=o, stderr=e,
            start_new_session=True,
        )
        try:
            # the app is up, has detached its children and is keeping a request waiting
            assert wait_until(lambda: (project / "started").exists() and len(marked(token, (proc.pid,))) >= 4, 90), \
                err.read_text()
            time.sleep(0.5)
            os.kill(proc.pid, sig)
            proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert wait_until(lambda: not marked(token), 10), f"left running: {marked(token)}"
    printed = out.stat().st_size + err.stat().st_size
    assert printed < 100_000, printed
    if sig != signal.SIGKILL:
        assert proc.returncode == 130 and f"stopped by {sig.name}" in err.read_text(), err.read_text()


def test_redis_server_dies_when_the_grader_is_killed(tmp_path):
    if not shutil.which("redis-server"):
        pytest.skip("no redis-server on PATH")
    token = uuid.uuid4().hex
    script = "from grader.services import redis_service\nimport time\nwith redis_service() as r:\n" \
             "    print(r.url, flush=True)\n    time.sleep(600)\n"
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env=grader_env(token),
                            stdout=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("redis://127.0.0.1:")
        assert any(b"redis-server" in Path(f"/proc/{p}/cmdline").read_bytes() for p in marked(token, (proc.pid,)))
        proc.kill()
        proc.wait(5)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert wait_until(lambda: not marked(token), 5), f"left running: {marked(token)}"


def test_app_that_kills_its_reaper_is_still_swept(tmp_path):
    """The reaper is the app's parent: an app may SIGKILL it. The app then dies (its own
    parent-death signal) and its detached child, adopted by the grader, is swept at the end."""
    token = uuid.uuid4().hex
    project = project1_copy(tmp_path, DETACH + "\n_os.kill(_os.getppid(), 9)\n")
    proc = subprocess.run(
        [sys.executable, "-m", "grader", "check", "project1", "--path", str(project), "--only", "p1.health"],
        cwd=ROOT, env=grader_env(token), capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 1 and "exited during start-up" in proc.stdout, proc.stdout + proc.stderr
    assert wait_until(lambda: not marked(token), 5), f"left running: {marked(token)}"


# -- 2. resource limits ----------------------------------------------------------------------------
def test_memory_limit_stops_a_hungry_app_with_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "MEMORY_MB", 400)
    app = RunningApp(make_app(tmp_path, OK_APP + "\n_hog = bytearray(800 * 1024 * 1024)\n"))
    with pytest.raises(AppStartError) as err:
        app.start(timeout=30)
    app.close()
    assert "MemoryError" in str(err.value)
    assert "ran out of the 400 MB of memory the grader allows" in str(err.value)


def test_file_size_limit_stops_an_app_filling_the_disk(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "FILE_MB", 1)
    source = OK_APP + "\nwith open('big.bin', 'wb') as _f:\n    _f.write(b'0' * 3 * 1024 * 1024)\n"
    app = RunningApp(make_app(tmp_path, source))
    with pytest.raises(AppStartError) as err:
        app.start(timeout=30)
    app.close()
    assert "file size limit of 1 MB" in str(err.value), str(err.value)
    assert (tmp_path / "big.bin").stat().st_size <= 1024 * 1024


def test_process_limit_contains_a_fork_loop(tmp_path):
    """RLIMIT_NPROC, set by the reaper (root is exempt from it: run the app as nobody)."""
    python = "/usr/bin/python3"
    drop = []
    if os.getuid() == 0:
        if not (shutil.which("setpriv") and os.path.exists(python)):
            pytest.skip("running as root without setpriv: RLIMIT_NPROC does not apply to root")
        drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    else:
        python = sys.executable
    token = uuid.uuid4().hex
    fork_loop = textwrap.dedent("""
        import os, time
        made = 0
        for _ in range(200):
            try:
                if os.fork() == 0:
                    time.sleep(600)
                    os._exit(0)
            except OSError as exc:
                print("fork failed:", exc.strerror, flush=True)
                break
            made += 1
        print("made", made, flush=True)
    """)
    proc = subprocess.run(
        [*drop, python, "-I", str(runner.REAPER), f"--parent={os.getpid()}", "--nproc=40", "--", python, "-c", fork_loop],
        env=grader_env(token), capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )
    assert "fork failed: Resource temporarily unavailable" in proc.stdout, proc.stdout + proc.stderr
    assert int(proc.stdout.split("made")[-1]) < 40
    assert runner.explain_exit(1, "BlockingIOError: [Errno 11] Resource temporarily unavailable\nfork").startswith(
        " (it could not start another process")
    assert wait_until(lambda: not marked(token), 5), f"left running: {marked(token)}"


# -- 3. output caps ----------------------------------------------------------------------------------
def test_log_file_is_capped_and_keeps_the_newest_output(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "LOG_MAX_BYTES", 300_000)
    with RunningApp(make_app(tmp_path, OK_APP + FLOOD)) as app:
        assert wait_until(lambda: "LAST LINE" in app.logs(), 30)
        size = Path(app._log.name).stat().st_size
        text = app.logs()
    assert size <= 300_000, size
    assert "bytes of earlier app output dropped" in text
    shown = runner.tail("x" * 5_000_000 + "\nlast\n")
    assert len(shown) < 1000 and shown.endswith("last") and "(5000000 characters)" in shown


def test_flooding_app_that_cannot_start_prints_under_100_kb(tmp_path):
    """A 5 MB line without a newline, then a crash: the reason once, each line cut."""
    token = uuid.uuid4().hex
    project = project1_copy(tmp_path, "import sys\nsys.stdout.write('z' * 5_000_000)\nraise RuntimeError('broken on purpose')\n")
    proc = subprocess.run(
        [sys.executable, "-m", "grader", "check", "project1", "--path", str(project)],
        cwd=ROOT, env=grader_env(token), capture_output=True, text=True, timeout=180,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out[-3000:]
    assert len(out.encode()) < 100_000, len(out.encode())
    assert out.count("RuntimeError: broken on purpose") == 1, out[-3000:]
    assert out.count("the app's output is shown under [p1.health]") >= 3, out[-3000:]
    assert wait_until(lambda: not marked(token), 5)


# -- 4. an overall time limit for a target -----------------------------------------------------------
def test_slow_app_is_stopped_by_the_target_time_limit(tmp_path):
    token = uuid.uuid4().hex
    project = project1_copy(tmp_path, SLOW_REQUESTS)
    report = tmp_path / "report.json"
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "grader", "check", "project1", "--path", str(project),
         "--format", "json", "--output", str(report)],
        cwd=ROOT, env=grader_env(token, GRADER_TARGET_TIMEOUT_S="15", GRADER_REQUEST_TIMEOUT_S="10", SLOW_S="4"),
        capture_output=True, text=True, timeout=120,
    )
    took = time.monotonic() - started
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert took < 40, took
    messages = [c["message"] for c in json.loads(report.read_text())["criteria"]]
    ran_out = [m for m in messages if "the time limit for all of project1 (15 s, GRADER_TARGET_TIMEOUT_S) ran out during" in m]
    assert len(ran_out) == 1 and "the app had not answered " in ran_out[0], messages
    assert any(m.startswith("not run: the time limit for all of project1") for m in messages), messages
    assert wait_until(lambda: not marked(token), 5), f"left running: {marked(token)}"


# -- 5. messages ---------------------------------------------------------------------------------------
def test_app_that_signals_the_grader_is_not_an_interruption(tmp_path):
    token = uuid.uuid4().hex
    project = project1_copy(tmp_path, """
        import os as _os, signal as _signal
        for _sig in (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP):
            _os.kill(_os.getppid(), _sig)
        _signal.signal(_signal.SIGTERM, _signal.SIG_IGN)
        _os.killpg(0, _signal.SIGTERM)  # its whole process group
    """)
    proc = subprocess.run(
        [sys.executable, "-m", "grader", "check", "project1", "--path", str(project), "--only", "p1.health",
         "--only", "p1.echo"],
        cwd=ROOT, env=grader_env(token), capture_output=True, text=True, timeout=120,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "interrupted" not in out and "stopped by" not in out
    assert "2/2 passed" in out
    assert wait_until(lambda: not marked(token), 5)


def test_listening_app_with_a_slow_ready_path_is_not_called_not_listening(tmp_path):
    source = OK_APP + textwrap.dedent("""
        import time

        @app.get("/slow")
        def slow():
            time.sleep(30)
    """)
    app = RunningApp(make_app(tmp_path, source), ready_path="/slow")
    with pytest.raises(AppStartError) as err:
        app.start(timeout=4)
    app.close()
    # 4 s of waiting without CPU use; more in all when the app's start-up kept the CPU busy
    assert re.search(rf"listens on port {app.port} but did not answer GET /slow within \d+ s", str(err.value))
    assert "did not start listening" not in str(err.value)


def test_ready_path_answering_in_two_seconds_is_ready(tmp_path):
    source = OK_APP + textwrap.dedent("""
        import time

        @app.get("/slowish")
        def slowish():
            time.sleep(2)
            return {}
    """)
    app = RunningApp(make_app(tmp_path, source), ready_path="/slowish")
    try:
        app.start(timeout=20)  # the old probe gave up on a page after 1 s, whatever the start-up time
        assert app.get("/health").status_code == 200
    finally:
        app.close()


SLOW_CRITERIA = '''
import time
import pytest
from grader.criterion import criterion

@criterion("t.first", "a quick check", hint="h")
def test_first():
    time.sleep(0.5)

@pytest.mark.timeout(60)  # its own, longer per-check limit does not outlast the target's
@criterion("t.hangs", "a check that hangs", hint="h")
def test_hangs():
    time.sleep(30)

@criterion("t.later", "a check after it", hint="h")
def test_later():
    pass
'''


def test_target_time_limit_bounds_a_check_with_its_own_timeout(tmp_path, monkeypatch):
    from grader.check import run_check
    from grader.targets import Target

    crit = tmp_path / "criteria" / "fake.py"
    crit.parent.mkdir()
    crit.write_text(SLOW_CRITERIA)
    (tmp_path / "proj" / "app").mkdir(parents=True)
    monkeypatch.setenv("GRADER_TARGET_TIMEOUT_S", "2")
    started = time.monotonic()
    result = run_check(Target("fake", "project", "proj", "Fake", criteria_path=crit), path=tmp_path / "proj")
    assert time.monotonic() - started < 10
    got = {c.id: c for c in result.criteria}
    assert got["t.first"].status == "pass"
    assert got["t.hangs"].message.startswith("the time limit for all of fake (2 s, GRADER_TARGET_TIMEOUT_S) ran out during")
    assert got["t.later"].status == "error" and got["t.later"].message.startswith("not run:")


def test_an_app_started_from_a_thread_outlives_that_thread(tmp_path):
    """Linux's parent-death signal follows the forking *thread*: an app a criterion starts from a
    worker thread must keep running after that thread ends (runner.spawn forks on one long-lived
    thread)."""
    import threading

    app = RunningApp(tmp_path, argv=[sys.executable, "-m", "http.server", "{port}", "--bind", "{host}"])
    started = threading.Thread(target=app.start)
    started.start()
    started.join(30)
    try:
        time.sleep(1.0)  # the reaper would have had its SIGTERM by now
        assert app.alive, "the app died when the thread that started it ended"
        assert app.get("/").status_code == 200
    finally:
        app.close()
