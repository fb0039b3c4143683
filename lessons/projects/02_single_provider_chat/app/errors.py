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
    raise NotImplementedError("TODO: build the error body described in README.md")


# TODO: exception handlers that answer with error_response(): one for the SDK's
# errors (anthropic.APIError and its subclasses), one for RequestValidationError,
# one for HTTPException (404, 405) and one for any other Exception. README.md,
# "Errors", gives the status code, error type and headers of each case.


def register_error_handlers(app: FastAPI) -> None:
    """Send every kind of failure to a handler that answers with the one error shape."""
    # TODO: register exception handlers (README.md, "Errors")
