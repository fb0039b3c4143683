"""Per-user usage: model calls and tokens, over every endpoint that calls a model.

The extension exercise of the capstone (README.md, "Extending it"): a new feature that
touches auth (whose usage), the store (Redis, so every process adds to one count) and
each model-calling endpoint (sync, stream, conversations), without changing any of them
beyond one call. Billing, quotas and dashboards start from numbers like these.

Redis layout: one hash per user, `<prefix>usage:<sub>`, fields requests, input_tokens,
output_tokens, each added to with HINCRBY (atomic: concurrent requests never lose a count).
"""

import redis.asyncio as aioredis

from app.models import Usage

FIELDS = ("requests", "input_tokens", "output_tokens")


class UsageMeter:
    """Counts in Redis, or in this process's memory when `redis` is None (STORE=memory)."""

    def __init__(self, redis: aioredis.Redis | None, prefix: str = "chat:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._memory: dict[str, dict[str, int]] = {}

    def _key(self, user: str) -> str:
        return f"{self._prefix}usage:{user}"

    async def record(self, user: str, usage: Usage) -> None:
        """Add one answered model call and its tokens to the user's totals."""
        pass  # TODO: add 1 request and the tokens to the user's totals (README.md, "Extending it")

    async def totals(self, user: str) -> tuple[int, Usage]:
        """(model calls, tokens) recorded for the user; zeros for a user never seen."""
        return 0, Usage()  # TODO: read the user's totals back
