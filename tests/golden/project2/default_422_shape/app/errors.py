"""One error shape for every failure: {"error": {"type", "message", "request_id"}}.

Exception handlers turn what went wrong (invalid input, the provider failing, a bug in
this service) into that shape with the right status code. Details go to the logs,
never to clients: no stack traces, no provider internals, no secrets.
"""

import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import anthropic
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
# A caller's X-Request-ID (from a gateway, say) is reused only when it looks like an id:
# anything else could smuggle text into our logs.
_REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Seconds a client is told to wait when the provider rate-limits us without saying.
DEFAULT_RETRY_AFTER_S = 10


def get_request_id(request: Request) -> str:
    """This request's id: the caller's X-Request-ID when usable, else a new one."""
    request_id = getattr(request.state, "request_id", None)
    if request_id is None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = incoming if _REQUEST_ID_PATTERN.fullmatch(incoming) else uuid.uuid4().hex
        request.state.request_id = request_id
    return request_id


async def request_id_middleware(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """Give every request an id and send it back in X-Request-ID, error or not."""
    request_id = get_request_id(request)
    response = await call_next(request)
    response.headers[REQUEST_ID_HEADER] = request_id
    return response


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
    error: dict[str, Any] = {"type": error_type, "message": message, "request_id": request_id}
    if details is not None:
        error["details"] = details
    return JSONResponse(
        {"error": error},
        status_code=status_code,
        headers={**(headers or {}), REQUEST_ID_HEADER: request_id},
    )


_CREDENTIALS_MESSAGE = (
    "The server's credentials for the AI provider are missing or invalid. "
    "This is a server configuration problem, not something the client can fix."
)

# (exception class, status, error type, message), tried in order: the first match wins,
# so a subclass comes before its parent (APITimeoutError is an APIConnectionError,
# RateLimitError and InternalServerError are APIStatusErrors).
_PROVIDER_ERRORS: tuple[tuple[type[anthropic.APIError], int, str, str], ...] = (
    (
        anthropic.RateLimitError,
        429,
        "rate_limited",
        "The AI provider is rate limiting this service. Retry after the number of seconds "
        "in the Retry-After header.",
    ),
    (anthropic.APITimeoutError, 504, "upstream_timeout", "The AI provider did not answer in time."),
    (anthropic.AuthenticationError, 502, "upstream_auth_error", _CREDENTIALS_MESSAGE),
    (anthropic.PermissionDeniedError, 502, "upstream_auth_error", _CREDENTIALS_MESSAGE),
    (anthropic.APIConnectionError, 502, "upstream_unavailable", "Could not reach the AI provider."),
    (
        anthropic.InternalServerError,  # 500, 503, 529 overloaded, ...
        502,
        "upstream_unavailable",
        "The AI provider is unavailable or overloaded. Try again later.",
    ),
)
# Anything else the SDK raises (a 400 or 404 about our request, an unreadable reply):
# still the provider's side of the call, and nothing the client can change.
_OTHER_PROVIDER_ERROR = (502, "upstream_error", "The AI provider could not handle the request.")

_HTTP_ERROR_TYPES = {404: "not_found", 405: "method_not_allowed"}


def _retry_after(exc: anthropic.RateLimitError) -> str:
    """The provider's Retry-After when it is a number of seconds, else our default."""
    value = exc.response.headers.get("retry-after", "").strip()
    return value if value.isdigit() else str(DEFAULT_RETRY_AFTER_S)


async def provider_error_handler(request: Request, exc: anthropic.APIError) -> JSONResponse:
    status_code, error_type, message = next(
        (
            (status, kind, text)
            for cls, status, kind, text in _PROVIDER_ERRORS
            if isinstance(exc, cls)
        ),
        _OTHER_PROVIDER_ERROR,
    )
    # The provider's request id lets its support find the call; ours ties it to the client.
    logger.warning(
        "provider call failed: %s (provider status %s, provider request id %s, request id %s)",
        type(exc).__name__,
        getattr(exc, "status_code", "-"),
        getattr(exc, "request_id", None) or "-",
        get_request_id(request),
    )
    headers = (
        {"Retry-After": _retry_after(exc)} if isinstance(exc, anthropic.RateLimitError) else None
    )
    return error_response(request, status_code, error_type, message, headers=headers)


async def validation_error_handler(request: Request, exc: RequestValidationError) -> JSONResponse:
    # Where and why, but not the rejected input itself: clients already have it, and
    # logs or proxies should not keep copies of user text.
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
    logger.error(
        "unhandled %s (request id %s)", type(exc).__name__, get_request_id(request)
    )
    return error_response(
        request,
        500,
        "internal_error",
        "Something went wrong on our side. Quote the request id if you report it.",
    )


def register_error_handlers(app: FastAPI) -> None:
    """Send every kind of failure to a handler that answers with the one error shape."""
    app.add_exception_handler(anthropic.APIError, provider_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(Exception, unhandled_error_handler)
