"""The storage rule's last resort (grader.services): fakeredis must run what the projects need of Redis.

Each check runs in a fresh interpreter: fakeredis's threaded server is then what a laptop
without Redis gets, free of whatever the rest of the suite left in this process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

LIMITER_SCRIPT = textwrap.dedent("""
    import threading
    from fakeredis import TcpFakeServer
    from limits import parse, strategies
    from limits.storage import storage_from_string
    from grader.runner import free_port

    port = free_port()
    server = TcpFakeServer(("127.0.0.1", port), server_type="redis")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"redis://127.0.0.1:{port}/0"
    for strategy in (strategies.MovingWindowRateLimiter, strategies.FixedWindowRateLimiter):
        limiter = strategy(storage_from_string(url))
        hits = [limiter.hit(parse("2/minute"), "user-" + strategy.__name__) for _ in range(3)]
        assert hits == [True, True, False], (strategy.__name__, hits)
    server.shutdown()
    print("ok")
""")


@pytest.mark.xfail(
    strict=False,
    reason="fakeredis 2.40's TCP server intermittently drops the connection or errors on the limiter's "
    "EVAL (21 of 40 fresh runs failed on 2026-11-26): the fakeredis fallback is unreliable for rate "
    "limits; the grader's own fallback run below is what must pass",
)
def test_fakeredis_fallback_runs_the_rate_limiters_lua_scripts():
    """SlowAPI's Redis storage (the `limits` library) uses EVALSHA: fakeredis needs lupa."""
    proc = subprocess.run([sys.executable, "-c", LIMITER_SCRIPT], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stdout + proc.stderr


@pytest.mark.slow
def test_grader_falls_back_to_fakeredis_when_there_is_no_redis():
    """No REDIS_URL and no redis-server on PATH: project 5 still grades, on fakeredis."""
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env["PATH"] = str(Path(sys.executable).parent)  # the venv only: no redis-server
    env["NO_COLOR"] = "1"
    proc = subprocess.run(
        [sys.executable, "-m", "grader", "check", "project5", "--solutions"],
        env=env, capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert "storage: fakeredis TCP server" in proc.stdout, proc.stdout + proc.stderr
    assert proc.returncode == 0, proc.stdout + proc.stderr
