"""Broken learner submissions: each gets a clear message, the grader stays within its bounds,
and nothing it started is left running."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = ROOT / "solutions" / "projects" / "01_fastapi_hello"

HANG_EVERYWHERE = '''
import asyncio
from fastapi import FastAPI

app = FastAPI()


@app.middleware("http")
async def hang(request, call_next):
    await asyncio.sleep(3600)
'''

EXIT_ON_FIRST_REQUEST = '''
import os
from fastapi import FastAPI

app = FastAPI()


@app.middleware("http")
async def die(request, call_next):
    os._exit(7)
'''

BROKEN = {
    "syntax_error": ("from fastapi import FastAPI\napp = FastAPI(\n", "SyntaxError"),
    "import_error": ("import fastapi_helpers_that_do_not_exist\n", "ModuleNotFoundError"),
    "no_app_object": ("from fastapi import FastAPI\napplication = FastAPI()\n", 'Attribute "app" not found'),
    "never_starts": ("import time\ntime.sleep(3600)\n", "did not start listening"),
    "hangs_on_requests": (HANG_EVERYWHERE, "did not answer"),
    "exits_mid_run": (EXIT_ON_FIRST_REQUEST, "exited"),
}


def processes_in(folder: Path) -> list[int]:
    """PIDs whose working directory is inside ``folder``."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if str(Path(os.readlink(proc / "cwd"))).startswith(str(folder)):
                    pids.append(int(proc.name))
            except OSError:
                continue
    return pids


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_submission(name, tmp_path):
    source, expected = BROKEN[name]
    project = tmp_path / name
    shutil.copytree(SOLUTION, project)
    (project / "app" / "main.py").write_text(source)
    env = {**os.environ, "NO_COLOR": "1", "GRADER_START_TIMEOUT_S": "4", "GRADER_REQUEST_TIMEOUT_S": "1"}
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "grader", "check", "project1", "--path", str(project)],
        env=env, capture_output=True, text=True, timeout=180,
    )
    took = time.monotonic() - started
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert expected in out, out
    # the learner may see their own app's traceback, never the grader's
    assert "grader/plugin.py" not in out and "grader/check.py" not in out and "_pytest" not in out
    assert took < 150, f"the grader took {took:.0f} s"
    time.sleep(0.2)
    assert processes_in(project) == [], "the grader left a learner process running"
