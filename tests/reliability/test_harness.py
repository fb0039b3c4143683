"""The suite's own Redis does what the other tests rely on: a write survives a restart (the
append-only file), and a paused server does not answer until it is resumed."""

from __future__ import annotations

import redis


def test_own_redis_keeps_writes_across_a_restart_and_hangs_while_paused(own_redis) -> None:
    own_redis.client().set("reliability:probe", "kept")
    own_redis.restart()
    assert own_redis.client().get("reliability:probe") == "kept"
    own_redis.pause()
    try:
        assert not own_redis.ping(timeout=0.3)
    finally:
        own_redis.resume()
    assert own_redis.ping()
    own_redis.stop()
    try:
        redis.Redis.from_url(own_redis.url, socket_connect_timeout=0.3).ping()
        raise AssertionError("Redis still answers after stop()")
    except redis.ConnectionError:
        pass
