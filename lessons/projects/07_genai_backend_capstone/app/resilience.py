"""Resilience for provider calls: retries with back-off on one model, then fallbacks.

    claude-haiku-4-5: attempt 1 (529) -> wait ~base -> attempt 2 (529) -> wait ~2*base -> attempt 3 (529)
    gpt-4o-mini:      attempt 1 -> 200                  (the first fallback, same retry policy)

Retries first, because most provider failures are brief (an overloaded moment, one
dropped connection) and the requested model is the one the client chose. Fallbacks next,
because a provider can also be down for minutes, and another provider's model is a better
answer than a 502.

Retried: the provider rate-limits us (429), is down or overloaded (5xx, 529), times out,
or cannot be reached. Never retried: 400, 401, 403, 404, 422: the same request would fail
the same way, and every attempt costs time (and, at a real provider, money).

LiteLLM's and the SDKs' own retries and fallbacks are off (app/llm.py), so this is the only
policy: one place to read, and every attempt is visible in the logs (and in llmsim's
journal).

Streams: only *opening* the stream is retried. Once tokens have gone to the client, a
retry would send the reply twice; a failure then is an SSE error event (app/streaming.py).
"""

from collections.abc import Awaitable, Callable, Collection
from typing import TypeVar

import litellm
import structlog
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from app.config import Settings
from app.models_config import FALLBACKS

log = structlog.get_logger(__name__)

T = TypeVar("T")

# LiteLLM's exception classes for failures that may go away on their own.
_TRANSIENT = (
    litellm.RateLimitError,  # 429
    litellm.Timeout,
    litellm.APIConnectionError,
    litellm.InternalServerError,  # 500, 529 overloaded
    litellm.ServiceUnavailableError,  # 503
    litellm.BadGatewayError,  # 502
)
# Statuses that say "your request is wrong": never worth a second try.
_PERMANENT_STATUSES = {400, 401, 403, 404, 409, 413, 422}


def is_transient(exc: BaseException) -> bool:
    """Whether a provider error is worth retrying."""
    raise NotImplementedError("TODO: True for 429, 5xx, overload, timeouts, connection errors (README.md)")


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    log.warning(
        "provider call failed, retrying",
        attempt=state.attempt_number,
        error=type(exc).__name__,
        status=getattr(exc, "status_code", None),
        wait_s=round(state.next_action.sleep, 3) if state.next_action else None,
    )


async def with_retries(settings: Settings, call: Callable[[], Awaitable[T]]) -> T:
    """`await call()`, retried by the policy above; the last error when every attempt fails."""
    return await call()  # TODO: retry transient errors with exponential back-off (README.md)


def should_fall_back(exc: BaseException) -> bool:
    """Whether another provider might succeed where this model failed (after its retries).

    Yes for transient errors and for a provider that rejects our credentials (401/403:
    that key is wrong, another provider's may be fine). No for a 400 about the request
    itself (it would be as wrong elsewhere), and never for a bug in our own code.
    """
    return is_transient(exc) or getattr(exc, "status_code", None) in (401, 403)


async def complete_with_fallbacks(
    settings: Settings,
    available: Collection[str],
    requested: str,
    call: Callable[[str], Awaitable[T]],
) -> tuple[T, str]:
    """`await call(model_name)` with retries, on `requested`, then on each configured fallback.

    Returns the result and the model name that produced it. When every model fails, the
    last model's error is raised, for the error handlers (app/errors.py).
    """
    # TODO: retries on `requested`, then each model of FALLBACKS[requested] (README.md)
    return await with_retries(settings, lambda: call(requested)), requested
