"""What a rate limiter left in Redis: the keys of one user and their time to live (Project 5)."""

from __future__ import annotations

import redis


def keys_with_ttl(url: str, fragment: str) -> list[tuple[str, int]]:
    """(key, TTL in seconds) of every key whose name contains ``fragment``.

    A TTL of -1 means the key never expires. Glob characters in ``fragment`` are escaped.
    """
    escaped = "".join("\\" + c if c in "*?[]\\" else c for c in fragment)
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        found = [k.decode("utf-8", "replace") for k in client.scan_iter(match=f"*{escaped}*", count=1000)]
        return [(k, int(client.ttl(k))) for k in found]
    finally:
        client.close()
