"""Production-Ready Chat: Project 4's chat and streaming endpoints, behind JWT auth, with
per-user tiered rate limits in Redis, retries with back-off, JSON logs with request ids,
and /health and /ready.

Run it with `uvicorn app.main:app --env-file .env` (see README.md), or `docker compose up`.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import redis.asyncio as aioredis
import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from litellm import Router

from app.auth import CurrentUser
from app.config import get_settings
from app.errors import UnknownModelError, get_request_id, register_error_handlers
from app.llm import answered_by, build_router, configured_models
from app.logs import REQUEST_ID_HEADER, RequestContextMiddleware, configure_logging
from app.models import ChatRequest, ChatResponse, ErrorResponse, ModelInfo, ModelList, Usage
from app.models_config import FALLBACKS, ModelConfig
from app.ratelimit import CHAT_SCOPE, limit_for_key, limiter
from app.retry import with_retries
from app.sse import SSE_HEADERS, SSE_MEDIA_TYPE
from app.streaming import chat_events

configure_logging(get_settings().log_level)
logger = structlog.get_logger("app")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Runs once: set up before the first request, clean up after the last."""
    settings = get_settings()
    models = configured_models(settings)
    if not models:
        # Refuse to start rather than fail every request.
        raise RuntimeError(
            "no provider is configured: set at least one of ANTHROPIC_API_KEY, "
            "OPENAI_API_KEY, OPENROUTER_API_KEY"
        )
    # One Router for the process: it keeps the provider clients (and their connection
    # pools), and the retry and fallback state.
    app.state.router = build_router(settings)
    app.state.models = {m.name: m for m in models}
    # For /ready only (the limiter has its own connection): a short timeout, so a dead
    # Redis makes /ready answer 503 quickly instead of hanging the probe.
    app.state.redis = aioredis.from_url(
        settings.redis_url, socket_connect_timeout=1, socket_timeout=1
    )
    logger.info("started", models=[f"{m.name} ({m.provider})" for m in models])
    yield
    await app.state.redis.aclose()


app = FastAPI(
    title="Production-Ready Chat",
    version="1.0.0",
    description="One chat API over Anthropic, OpenAI and OpenRouter, through LiteLLM's "
    "Router, whole or streamed as Server-Sent Events; JWT bearer auth, per-user tiered "
    "rate limits in Redis, retries with exponential back-off, JSON logs with request ids.",
    lifespan=lifespan,
)
app.state.limiter = limiter  # SlowAPI looks for it here
app.add_middleware(RequestContextMiddleware)
register_error_handlers(app)


@app.get("/health", summary="Liveness check")
async def health() -> dict[str, str]:
    """The process is up: restart it if this fails. No auth, and no dependency checked."""
    return {"status": "ok"}


@app.get(
    "/ready",
    summary="Readiness check",
    responses={503: {"description": "Not ready: a dependency is down or misconfigured"}},
)
async def ready(request: Request) -> JSONResponse:
    """Ready for traffic: Redis answers and the configuration is usable. Else 503 and why.

    A load balancer stops sending requests while this fails, without restarting the process.
    (It does not call any provider: that would cost money per probe.)
    """
    # BEGIN SOLUTION
    problems: dict[str, str] = {}
    settings = get_settings()
    if settings.jwt_secret is None:
        problems["config"] = "JWT_SECRET is not set: no token can be verified"
    try:
        await request.app.state.redis.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        problems["redis"] = f"Redis is not reachable ({type(exc).__name__})"
    if problems:
        logger.warning("not ready", **problems)
        return JSONResponse(
            {"status": "unavailable", "checks": problems},
            status_code=503,
            headers={REQUEST_ID_HEADER: get_request_id(request)},
        )
    return JSONResponse({"status": "ready", "checks": {"redis": "ok", "config": "ok"}})
    # STUB: return JSONResponse({"status": "ready"})  # TODO: ping Redis, check the configuration; 503 and why
    # END SOLUTION


def get_router(request: Request) -> Router:
    """The Router the lifespan built (a dependency, so tests can swap it)."""
    return request.app.state.router


def get_models(request: Request) -> dict[str, ModelConfig]:
    """The configured models by name: those whose provider has a key."""
    return request.app.state.models


def upstream_headers(request: Request) -> dict[str, str]:
    """Headers for the provider call: our request id, so both sides can be correlated."""
    # BEGIN SOLUTION
    return {}  # wrong: the provider never sees our id
    # STUB: return {}  # TODO: pass this request's id to the provider (README.md)
    # END SOLUTION


# The error statuses the chat endpoint can answer, so /docs shows their body too.
_ERROR_RESPONSES: dict[int | str, dict] = {
    status: {"model": ErrorResponse, "description": description}
    for status, description in {
        401: "No bearer token, or one that is invalid or expired (WWW-Authenticate: Bearer)",
        422: "Invalid request body, or a model this API does not offer",
        429: "Your tier's rate limit is used up, or the providers are rate limiting us; see Retry-After",
        500: "Unexpected error in this service",
        502: "The provider failed (after our retries), is unreachable, or rejected our credentials",
        503: "The rate limit store (Redis) is unavailable",
        504: "The provider did not answer in time",
    }.items()
}


@app.get("/v1/models", response_model=ModelList, summary="The models you can ask for")
async def list_models(
    user: CurrentUser, models: Annotated[dict[str, ModelConfig], Depends(get_models)]
) -> ModelList:
    """Every configured model, with its provider, its LiteLLM name and its fallbacks."""
    return ModelList(
        data=[
            ModelInfo(
                id=m.name,
                provider=m.provider,
                litellm_model=m.litellm_model,
                fallbacks=[f for f in FALLBACKS.get(m.name, []) if f in models],
            )
            for m in models.values()
        ]
    )


@app.post(
    "/v1/chat",
    response_model=ChatResponse,
    responses=_ERROR_RESPONSES,
    summary="Send one message to the model you name, get its reply",
)
@limiter.shared_limit(limit_for_key, scope=CHAT_SCOPE)
async def chat(
    body: ChatRequest,
    request: Request,  # SlowAPI's decorator needs it
    user: CurrentUser,
    router: Annotated[Router, Depends(get_router)],
    models: Annotated[dict[str, ModelConfig], Depends(get_models)],
) -> ChatResponse:
    """One user message in, one reply out, from the model named in `model`, or a fallback.

    Provider failures are not caught here: when every attempt failed, with_retries raises
    the last error, and the handlers in app/errors.py answer with the right status.
    """
    if body.model not in models:
        raise UnknownModelError(body.model, list(models))
    messages = [{"role": "user", "content": body.message}]
    if body.system is not None:
        # LiteLLM takes the OpenAI format for every provider; for Anthropic it moves a
        # "system" message into the request's top-level `system` parameter itself.
        messages.insert(0, {"role": "system", "content": body.system})
    optional = {"temperature": body.temperature} if body.temperature is not None else {}
    response = await with_retries(
        get_settings(),
        lambda: router.acompletion(
            model=body.model,  # a model group name: the Router picks its deployment
            messages=messages,
            max_tokens=body.max_tokens,
            # The provider sees our request id: one id across both sides' logs.
            extra_headers=upstream_headers(request),
            **optional,
        ),
    )
    answer = answered_by(response, requested=body.model)
    usage = response.usage
    return ChatResponse(
        # Every provider's reply comes back in the OpenAI shape.
        content=response.choices[0].message.content or "",
        model=answer.model,
        provider=answer.provider,
        requested_model=body.model,
        fallback=answer.fallback,
        usage=Usage(input_tokens=usage.prompt_tokens, output_tokens=usage.completion_tokens),
    )


@app.post(
    "/v1/chat/stream",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {SSE_MEDIA_TYPE: {}},
            "description": "Server-Sent Events: token events, then one done event (or an error event)",
        },
        **_ERROR_RESPONSES,
    },
    summary="Send one message, get the reply token by token (SSE)",
)
@limiter.shared_limit(limit_for_key, scope=CHAT_SCOPE)
async def chat_stream(
    body: ChatRequest,
    request: Request,
    user: CurrentUser,
    router: Annotated[Router, Depends(get_router)],
    models: Annotated[dict[str, ModelConfig], Depends(get_models)],
) -> StreamingResponse:
    """The same request as POST /v1/chat; the reply comes as `text/event-stream`.

    The provider's stream is opened before the response starts: a failure there (after the
    retries) still gets a proper status code and the JSON error
    body. Once the first byte is sent the status is 200 for good, and a failure becomes an
    `error` event.
    """
    if body.model not in models:
        raise UnknownModelError(body.model, list(models))
    messages = [{"role": "user", "content": body.message}]
    if body.system is not None:
        messages.insert(0, {"role": "system", "content": body.system})
    optional = {"temperature": body.temperature} if body.temperature is not None else {}
    # Only opening the stream is retried: once tokens are sent, a retry would repeat them.
    upstream = await with_retries(
        get_settings(),
        lambda: router.acompletion(
            model=body.model,
            messages=messages,
            max_tokens=body.max_tokens,
            stream=True,
            # Ask for a last chunk with the token counts (OpenAI-style providers send usage
            # in a stream only when asked; LiteLLM passes it on for every provider).
            stream_options={"include_usage": True},
            extra_headers=upstream_headers(request),
            **optional,
        ),
    )
    return StreamingResponse(
        chat_events(upstream, requested_model=body.model, request_id=get_request_id(request)),
        media_type=SSE_MEDIA_TYPE,
        headers=SSE_HEADERS,
    )
