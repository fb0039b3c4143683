"""What an app left in Redis (Projects 6 and 7): read-only looks at keys, types and values.

The grader's Redis is the one the app was given (the ``redis_url`` fixture), so a criterion
can check the layout a README specifies instead of trusting the API alone.
"""

from __future__ import annotations

from grader.criterion import check


def connect(url: str):
    import redis

    return redis.Redis.from_url(url, decode_responses=True, socket_timeout=5)


def key_type(client, key: str) -> str:
    return client.type(key)


def hash_of(client, key: str) -> dict[str, str]:
    return client.hgetall(key)


def keys_matching(client, pattern: str, most: int = 200) -> list[str]:
    out = []
    for key in client.scan_iter(match=pattern, count=500):
        out.append(key)
        if len(out) >= most:
            break
    return out


def expect_type(client, key: str, kind: str, what: str) -> None:
    found = client.type(key)
    check(found == kind, f"Redis key {key!r} ({what}) is {'missing' if found == 'none' else 'a ' + found}; expected a {kind}")
