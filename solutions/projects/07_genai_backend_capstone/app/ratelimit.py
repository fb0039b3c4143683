# Shared copy: the same code in projects 05, 07 (tests/test_copies.py checks it).
"""Per-user, per-tier rate limits with SlowAPI, counted in Redis.

The counters live in Redis (`storage_uri=REDIS_URL`), not in the process: every process
of the service (two uvicorn workers, two containers) shares one budget per user, and a
restart forgets nothing. The key is the user (the token's `sub`), not the client's IP:
users behind one office NAT do not share a budget, and one user cannot get a fresh one
by changing networks.

SlowAPI's traps, and what this file does about them:
- Its ASGI middleware (SlowAPIASGIMiddleware) wraps every response, which breaks
  streaming responses; we use only the decorator, `@limiter.shared_limit(limit_for_key, scope="chat")`.
- With `headers_enabled=True` the decorator must find a `response: Response` parameter to
  write X-RateLimit-* headers on; we leave headers off and send Retry-After on the 429
  ourselves (app/errors.py).
- Its check is synchronous: `limiter.hit()` is a blocking Redis round trip inside the
  event loop. On a local Redis that is well under a millisecond, so we accept it; on a
  slow network it would stall every request of the process.
- A dynamic limit is a callable; SlowAPI 0.1.10 passes it the *key* (the key function's
  result) when it has a `key` parameter, never the request. So the key carries the tier:
  "premium:alice", and the callable reads the tier back from it.
"""

from fastapi import Request
from slowapi import Limiter

from app.config import get_settings

# One budget for POST /v1/chat and POST /v1/chat/stream together.
CHAT_SCOPE = "chat"


def user_key(request: Request) -> str:
    """The rate limit key: "<tier>:<user id>", from the verified token."""
    # BEGIN SOLUTION
    # app.auth.current_user (a dependency: it runs before the limit is checked) put the
    # verified caller here.
    user = request.state.user
    return f"{user.tier}:{user.sub}"
    # STUB: raise NotImplementedError("TODO: key the limit by the verified user, with the tier in it (README.md)")
    # END SOLUTION


def limit_for_key(key: str) -> str:
    """The limit for a key from user_key(): the tier's limit from the environment."""
    # BEGIN SOLUTION
    settings = get_settings()
    tier = key.partition(":")[0]
    return settings.rate_limit_premium if tier == "premium" else settings.rate_limit_free
    # STUB: raise NotImplementedError("TODO: RATE_LIMIT_FREE or RATE_LIMIT_PREMIUM by the key's tier (README.md)")
    # END SOLUTION


def build_limiter() -> Limiter:
    settings = get_settings()
    # BEGIN SOLUTION
    return Limiter(
        key_func=user_key,
        storage_uri=settings.redis_url,
        # Our keys in Redis start with this: several services can share one Redis.
        key_prefix="chat-api",
        strategy="moving-window",
        headers_enabled=False,
    )
    # STUB: # TODO: a Limiter keyed by user_key, its counters in Redis (settings.redis_url)
    # STUB: return Limiter(key_func=user_key)
    # END SOLUTION


limiter = build_limiter()
