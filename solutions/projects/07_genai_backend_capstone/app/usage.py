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
        # BEGIN SOLUTION
        amounts = {"requests": 1, "input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens}
        if self._redis is None:
            totals = self._memory.setdefault(user, dict.fromkeys(FIELDS, 0))
            for field, amount in amounts.items():
                totals[field] += amount
            return
        async with self._redis.pipeline(transaction=True) as pipe:
            for field, amount in amounts.items():
                pipe.hincrby(self._key(user), field, amount)
            await pipe.execute()
        # STUB: pass  # TODO: add 1 request and the tokens to the user's totals (README.md, "Extending it")
        # END SOLUTION

    async def totals(self, user: str) -> tuple[int, Usage]:
        """(model calls, tokens) recorded for the user; zeros for a user never seen."""
        # BEGIN SOLUTION
        if self._redis is None:
            raw = self._memory.get(user, {})
        else:
            raw = {k.decode() if isinstance(k, bytes) else k: int(v) for k, v in (await self._redis.hgetall(self._key(user))).items()}
        return int(raw.get("requests", 0)), Usage(
            input_tokens=int(raw.get("input_tokens", 0)), output_tokens=int(raw.get("output_tokens", 0))
        )
        # STUB: return 0, Usage()  # TODO: read the user's totals back
        # END SOLUTION
