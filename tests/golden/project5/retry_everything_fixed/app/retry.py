"""Our retry policy for provider calls: tenacity, exponential back-off, transient errors only.

    attempt 1 -> fails (529) -> wait ~base -> attempt 2 -> fails -> wait ~2*base -> attempt 3

Retried: the provider rate-limits us (429), is down or overloaded (5xx, 529), times out,
or cannot be reached. Never retried: 400, 401, 403, 404, 422: the same request would fail
the same way, and every attempt costs time (and, at a real provider, money).

LiteLLM's and the SDKs' own retries are off (app/llm.py), so this is the only policy: one
place to read, and every attempt is visible in the logs (and in llmsim's journal).

Streams: only *opening* the stream is retried. Once tokens have gone to the client, a
retry would send the reply twice; a failure then is an SSE error event (app/streaming.py).
"""

from collections.abc import Awaitable, Callable
from typing import TypeVar

import litellm
import structlog
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_fixed,
    wait_exponential_jitter,
)

from app.config import Settings

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
    # BEGIN SOLUTION
    status = getattr(exc, "status_code", None)
    if status in _PERMANENT_STATUSES:
        return False
    if isinstance(exc, _TRANSIENT):
        return True
    return isinstance(status, int) and (status == 429 or status >= 500)
    # STUB: raise NotImplementedError("TODO: True for 429, 5xx, overload, timeouts, connection errors (README.md)")
    # END SOLUTION


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
    # BEGIN SOLUTION
    retrying = AsyncRetrying(
        stop=stop_after_attempt(settings.retry_attempts),
        # base, 2*base, 4*base ... capped, plus up to 10% of base of jitter so that many
        # clients failing together do not all come back at the same instant.
        wait=wait_fixed(settings.retry_base_s),  # wrong: the same wait every time
        retry=retry_if_exception(lambda exc: True),  # wrong: a 400 is retried too
        before_sleep=_log_retry,
        reraise=True,  # the provider's own exception, for the error handlers
    )
    async for attempt in retrying:
        with attempt:
            return await call()
    raise AssertionError("unreachable: tenacity re-raises the last error")  # for type checkers
    # STUB: return await call()  # TODO: retry transient errors with exponential back-off (README.md)
    # END SOLUTION
