"""Running a project's own command-line tool (``python -m app.tokens``, say) once, to its end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from grader.runner import free_port  # noqa: F401 - for criteria that need a port nothing listens on


def run_module(root: Path, module: str, args: list[str], env: dict[str, str], timeout: float = 30.0) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``python -m module args`` in the project folder, with ``env``
    on top of a minimal environment (the grader's own variables are not passed)."""
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "SYSTEMROOT", "TMPDIR")}
    full = {**base, "PYTHONPATH": str(root), **env}
    try:
        done = subprocess.run(
            [sys.executable, "-m", module, *args], cwd=root, env=full, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return -1, "", f"python -m {module} did not finish within {timeout:g} s"
    return done.returncode, done.stdout, done.stderr


def spawn(root: Path, args: list[str], env: dict[str, str]) -> subprocess.Popen:
    """Start ``python args...`` in the project folder with ``env`` (the app's environment), its
    output collected; ``outcome()`` waits for it. For checks that run while others go on."""
    full = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))}
    return subprocess.Popen(
        [sys.executable, *args], cwd=root, env=full, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )


def outcome(proc: subprocess.Popen, timeout: float) -> tuple[int | None, str]:
    """(exit code, output) once ``proc`` ends; (None, output so far) if it is still running after
    ``timeout`` seconds (it is then stopped)."""
    try:
        out, _ = proc.communicate(timeout=timeout)
        return proc.returncode, out or ""
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        return None, out or ""
