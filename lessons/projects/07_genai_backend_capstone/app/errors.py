"""One error shape for every failure: {"error": {"type", "message", "request_id"}}.

The same shape as Project 2. What changes is where provider errors come from: LiteLLM
turns every provider's errors (Anthropic's, OpenAI's, OpenRouter's) into one family of
exception classes, modelled on the OpenAI SDK's, so one table maps them all. By the time
one reaches a handler app/resilience.py has already retried and fallen back: it is the
error of the last model tried, and every model failed.
"""

import logging
import math
import time
import uuid
from typing import Any

import litellm
import openai
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError
from slowapi.errors import RateLimitExceeded
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.auth import AuthError
from app.logs import REQUEST_ID_HEADER
from app.store import ConversationBusyError

logger = logging.getLogger(__name__)

# Seconds a client is told to wait when the provider rate-limits us without saying.
DEFAULT_RETRY_AFTER_S = 10


class UnknownModelError(Exception):
    """The request named a model this API does not offer."""

    def __init__(self, model: str, available: list[str]) -> None:
        super().__init__(model)
        self.model = model
        self.available = available


def get_request_id(request: Request) -> str:
    """This request's id, as app/logs.py's RequestContextMiddleware set it."""
    request_id = getattr(request.state, "request_id", None)
    if request_id is None:  # the middleware did not run (or has not been written yet)
        request_id = request.state.request_id = uuid.uuid4().hex
    return request_id


def error_body(
    error_type: str, message: str, request_id: str, details: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    error: dict[str, Any] = {"type": error_type, "message": message, "request_id": request_id}
    if details is not None:
        error["details"] = details
    return {"error": error}


def error_response(
    request: Request,
    status_code: int,
    error_type: str,
    message: str,
    *,
    headers: dict[str, str] | None = None,
    details: list[dict[str, Any]] | None = None,
) -> JSONResponse:
    """The one error body, with the request id in the body and in X-Request-ID."""
    request_id = get_request_id(request)
    return JSONResponse(
        error_body(error_type, message, request_id, details),
        status_code=status_code,
        headers={**(headers or {}), REQUEST_ID_HEADER: request_id},
    )


_CREDENTIALS_MESSAGE = (
    "The server's credentials for the AI provider are missing or invalid. "
    "This is a server configuration problem, not something the client can fix."
)

# (exception class, status, error type, message), tried in order: the first match wins,
# so a subclass comes before its parent (Timeout is an APIConnectionError).
_PROVIDER_ERRORS: tuple[tuple[type[Exception], int, str, str], ...] = (
    (
        litellm.RateLimitError,
        429,
        "rate_limited",
        "The AI providers are rate limiting this service. Retry after the number of seconds "
        "in the Retry-After header.",
    ),
    (litellm.Timeout, 504, "upstream_timeout", "The AI provider did not answer in time."),
    (litellm.AuthenticationError, 502, "upstream_auth_error", _CREDENTIALS_MESSAGE),
    (litellm.PermissionDeniedError, 502, "upstream_auth_error", _CREDENTIALS_MESSAGE),
    (litellm.APIConnectionError, 502, "upstream_unavailable", "Could not reach the AI providers."),
    (
        litellm.InternalServerError,  # 500, 529 overloaded, ...
        502,
        "upstream_unavailable",
        "The AI providers are unavailable or overloaded. Try again later.",
    ),
    (
        litellm.ServiceUnavailableError,  # 503
        502,
        "upstream_unavailable",
        "The AI providers are unavailable or overloaded. Try again later.",
    ),
    (
        litellm.BadGatewayError,  # 502
        502,
        "upstream_unavailable",
        "The AI providers are unavailable or overloaded. Try again later.",
    ),
)
# Anything else LiteLLM raises (a 400 about our request, an unreadable reply): still the
# provider's side of the call, and nothing the client can change.
_OTHER_PROVIDER_ERROR = (502, "upstream_error", "The AI provider could not handle the request.")

_HTTP_ERROR_TYPES = {404: "not_found", 405: "method_not_allowed"}


def classify_provider_error(exc: Exception) -> tuple[int, str, str]:
    """(HTTP status, error type, message) for an exception from a provider call."""
    for cls, status, kind, text in _PROVIDER_ERRORS:
        if isinstance(exc, cls):
            return status, kind, text
    # LiteLLM raises a bare APIError for some statuses it has no class for (OpenAI's and
    # OpenRouter's 529 "overloaded"): go by the status, as for the classes above.
    status = getattr(exc, "status_code", None)
    if status == 429:
        like: type[Exception] = litellm.RateLimitError
    elif status in (401, 403):  # OpenRouter's 403 arrives as a bare APIError too
        like = litellm.AuthenticationError
    elif isinstance(status, int) and status >= 500:
        like = litellm.InternalServerError
    else:
        return _OTHER_PROVIDER_ERROR
    return next((s, kind, text) for cls, s, kind, text in _PROVIDER_ERRORS if cls is like)


def retry_after(exc: Exception) -> str:
    """The provider's Retry-After when it is a number of seconds, else our default."""
    headers = getattr(exc, "litellm_response_headers", None)
    if headers is None:
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None) or {}
    value = str(headers.get("retry-after", "")).strip()
    return value if value.isdigit() else str(DEFAULT_RETRY_AFTER_S)


def log_provider_error(exc: Exception, request_id: str) -> None:
    # The exception's text can be long and quote the provider; it goes to the logs only.
    logger.warning(
        "provider call failed: %s (provider %s, status %s, request id %s)",
        type(exc).__name__,
        getattr(exc, "llm_provider", None) or "-",
        getattr(exc, "status_code", None) or "-",
        request_id,
    )


async def provider_error_handler(request: Request, exc: openai.APIError) -> JSONResponse:
    status_code, error_type, message = classify_provider_error(exc)
    log_provider_error(exc, get_request_id(request))
    headers = {"Retry-After": retry_after(exc)} if status_code == 429 else None
    return error_response(request, status_code, error_type, message, headers=headers)


async def unknown_model_handler(request: Request, exc: UnknownModelError) -> JSONResponse:
    return error_response(
        request,
        422,
        "unknown_model",
        f"Unknown model {exc.model!r}. Available models: {', '.join(exc.available)}.",
        details=[{"loc": ["body", "model"], "msg": "unknown model", "type": "unknown_model"}],
    )


async def validation_error_handler(request: Request, exc: RequestValidationError) -> JSONResponse:
    # Where and why, but not the rejected input itself.
    details = [
        {"loc": [str(part) for part in err["loc"]], "msg": err["msg"], "type": err["type"]}
        for err in exc.errors()
    ]
    return error_response(
        request,
        422,
        "validation_error",
        "The request is invalid: see error.details for each problem.",
        details=details,
    )


async def http_error_handler(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """404s, 405s and any HTTPException raised on purpose, in the same shape."""
    return error_response(
        request,
        exc.status_code,
        _HTTP_ERROR_TYPES.get(exc.status_code, "http_error"),
        str(exc.detail),
        headers=dict(exc.headers or {}),
    )


async def unhandled_error_handler(request: Request, exc: Exception) -> JSONResponse:
    # The server logs the traceback after this handler returns; the client gets only
    # an id to quote.
    logger.error("unhandled %s (request id %s)", type(exc).__name__, get_request_id(request))
    return error_response(
        request,
        500,
        "internal_error",
        "Something went wrong on our side. Quote the request id if you report it.",
    )


async def auth_error_handler(request: Request, exc: AuthError) -> JSONResponse:
    # RFC 6750: a 401 says which scheme to use.
    return error_response(
        request, 401, "unauthorized", exc.message, headers={"WWW-Authenticate": "Bearer"}
    )


def _seconds_until_reset(request: Request) -> int:
    """Seconds until the limit that was hit lets a request through again (at least 1)."""
    from app.ratelimit import limiter  # the app's one Limiter

    hit = getattr(request.state, "view_rate_limit", None)
    if hit is None:
        return 1
    item, args = hit
    try:
        reset_at = limiter.limiter.get_window_stats(item, *args).reset_time
    except RedisError:
        return int(item.get_expiry())
    return max(1, math.ceil(reset_at - time.time()))


async def rate_limited_handler(request: Request, exc: RateLimitExceeded) -> JSONResponse:
    wait_s = _seconds_until_reset(request)
    logger.info("rate limit exceeded: %s", exc.detail)
    return error_response(
        request,
        429,
        "rate_limited",
        f"Rate limit exceeded ({exc.detail}). Retry after {wait_s} seconds.",
        headers={"Retry-After": str(wait_s)},
    )


async def redis_error_handler(request: Request, exc: RedisError) -> JSONResponse:
    logger.error("redis unavailable: %s", type(exc).__name__)
    return error_response(
        request,
        503,
        "store_unavailable",
        "The store (Redis) is unavailable. Try again later.",
        headers={"Retry-After": "5"},
    )


async def conversation_busy_handler(request: Request, exc: ConversationBusyError) -> JSONResponse:
    return error_response(
        request,
        409,
        "conversation_busy",
        "Another message to this conversation is still being answered. Try again when it is done.",
        headers={"Retry-After": "1"},
    )


def register_error_handlers(app: FastAPI) -> None:
    """Send every kind of failure to a handler that answers with the one error shape."""
    # Every LiteLLM exception is an openai.APIError (LiteLLM builds them on the OpenAI
    # SDK's classes), whichever provider it came from.
    app.add_exception_handler(openai.APIError, provider_error_handler)
    app.add_exception_handler(UnknownModelError, unknown_model_handler)
    app.add_exception_handler(AuthError, auth_error_handler)
    app.add_exception_handler(RateLimitExceeded, rate_limited_handler)
    app.add_exception_handler(RedisError, redis_error_handler)
    app.add_exception_handler(ConversationBusyError, conversation_busy_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(Exception, unhandled_error_handler)
