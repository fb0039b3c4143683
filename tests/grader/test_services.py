"""DESIGN's storage rule, last resort: fakeredis must run what the projects need of Redis."""

from __future__ import annotations

import threading

import redis
from fakeredis import TcpFakeServer
from limits import parse, strategies
from limits.storage import storage_from_string

from grader.runner import free_port


def test_fakeredis_fallback_runs_the_rate_limiters_lua_scripts():
    """SlowAPI's Redis storage (the `limits` library) uses EVALSHA: fakeredis needs lupa."""
    port = free_port()
    server = TcpFakeServer(("127.0.0.1", port), server_type="redis")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"redis://127.0.0.1:{port}/0"
        assert redis.Redis.from_url(url).ping()
        for strategy in (strategies.MovingWindowRateLimiter, strategies.FixedWindowRateLimiter):
            limiter = strategy(storage_from_string(url))
            key = f"user-{strategy.__name__}"
            assert [limiter.hit(parse("2/minute"), key) for _ in range(3)] == [True, True, False]
    finally:
        server.shutdown()
        server.server_close()
