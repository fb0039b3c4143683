# Shared copy: the same code in projects 05, 07 (tests/test_copies.py checks it).
"""Structured logs: one JSON object per line on stdout, each with the request's id.

    {"event": "request", "method": "POST", "path": "/v1/chat", "status": 200,
     "duration_ms": 41.2, "request_id": "3f9c...", "user": "alice", "level": "info", ...}

structlog renders every line, ours and the libraries' (uvicorn, LiteLLM: the standard
`logging` records go through the same processors), so a log shipper reads one format.
The request id is bound in a context variable by RequestContextMiddleware when a request
arrives: every line logged while that request is handled carries it, without passing it
around. Grep for one id and you have the request's whole story.
"""

import logging
import re
import sys
import time
import uuid

import structlog
import structlog.tracebacks
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "X-Request-ID"
# A caller's X-Request-ID (from a gateway, say) is reused only when it looks like an id:
# anything else could smuggle text into our logs.
_REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")

log = structlog.get_logger("app.access")


def configure_logging(level: str = "info") -> None:
    """JSON lines on stdout for structlog and for the standard library's loggers."""
    shared = [
        structlog.contextvars.merge_contextvars,  # request_id, user
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                # An exception's traceback as one JSON field, never as extra lines; without
                # the frames' local variables, which can hold secrets.
                structlog.processors.ExceptionRenderer(
                    structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
                ),
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn and LiteLLM bring handlers of their own: send their records to ours.
    for name in ("uvicorn", "uvicorn.error", "LiteLLM", "LiteLLM Router", "LiteLLM Proxy"):
        lib = logging.getLogger(name)
        lib.handlers[:] = []
        lib.propagate = True
    for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "httpx"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # Our own access line (below) replaces uvicorn's, which has no request id.
    logging.getLogger("uvicorn.access").disabled = True


def new_request_id(incoming: str | None) -> str:
    """The caller's X-Request-ID when it looks like an id, else a new one."""
    # BEGIN SOLUTION
    if incoming and _REQUEST_ID_PATTERN.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex
    # STUB: return uuid.uuid4().hex  # TODO: reuse the caller's X-Request-ID when it is usable
    # END SOLUTION


class RequestContextMiddleware:
    """Give every request an id: bound for the logs, in request.state, in the response.

    A pure ASGI middleware: it adds a header to the response's first message and passes
    everything else through untouched, so streaming responses still stream (and see a
    client disconnect). When the response is done it logs one access line.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # BEGIN SOLUTION
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(REQUEST_ID_HEADER.lower().encode(), b"").decode("latin-1")
        request_id = new_request_id(incoming)
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_request_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
        finally:
            log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
            )
        # STUB: await self.app(scope, receive, send)  # TODO: request id, X-Request-ID header, access line
        # END SOLUTION
