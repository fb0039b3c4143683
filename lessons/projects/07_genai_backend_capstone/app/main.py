"""GenAI Backend (the capstone): one service with everything Projects 1 to 6 built.

    client ── JWT ──> rate limit (Redis) ──> endpoint ──> retries, fallbacks ──> LiteLLM Router ──> provider
                                              │
                                              └── conversations and usage (Redis)

This module builds the app and wires it: what the lifespan sets up, the middleware, the
error handlers, and one APIRouter per resource (app/routers/). The routes themselves are in
app/routers/, what they share in app/dependencies.py (the objects built here) and
app/completion.py (one model call).

Every request gets an id (app/logs.py) that is in every log line it causes, in its
response's X-Request-ID header and in the provider's request headers. README.md explains
each component and why it exists.

Run it with `uvicorn app.main:app --env-file .env` (see README.md), or `docker compose up`.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
import structlog
from fastapi import FastAPI

from app.config import get_settings
from app.errors import register_error_handlers
from app.llm import build_router, configured_models
from app.logs import RequestContextMiddleware, configure_logging
from app.ratelimit import limiter
from app.routers import account, chat, conversations, ops
from app.store import RedisStore, create_store
from app.usage import UsageMeter

configure_logging(get_settings().log_level)
logger = structlog.get_logger("app")

TAGS = [
    {"name": "chat", "description": "One message in, one reply out: whole, or streamed as Server-Sent Events."},
    {"name": "conversations", "description": "Multi-turn conversations, stored in Redis, owned by the caller."},
    {"name": "account", "description": "The caller's own data: models available, usage."},
    {"name": "operations", "description": "Probes for the orchestrator: liveness and readiness."},
]


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
    # One Router for the process: it keeps the provider clients and their connection pools.
    app.state.router = build_router(settings)
    app.state.models = {m.name: m for m in models}
    app.state.store = create_store(settings)
    # For /ready and the usage counts: a short timeout, so a dead Redis makes /ready answer
    # 503 quickly instead of hanging the probe.
    app.state.redis = aioredis.from_url(settings.redis_url, socket_connect_timeout=1, socket_timeout=1)
    shared = isinstance(app.state.store, RedisStore)
    app.state.usage = UsageMeter(app.state.redis if shared else None, prefix=settings.redis_key_prefix)
    logger.info("started", models=[f"{m.name} ({m.provider})" for m in models], store=settings.store_kind)
    yield
    await app.state.store.close()
    await app.state.redis.aclose()


app = FastAPI(
    title="GenAI Backend",
    version="1.0.0",
    summary="Chat and conversations over Anthropic, OpenAI and OpenRouter, for authenticated users.",
    description="One chat API over three providers through LiteLLM, with retries and fallbacks; "
    "replies whole or streamed as Server-Sent Events; conversations stored in Redis and owned "
    "by the caller; JWT bearer auth (`Authorization: Bearer <token>`, mint one with "
    "`python -m app.tokens --sub alice`); per-user tiered rate limits in Redis; JSON logs "
    "with a request id (X-Request-ID) on every line. Every error has the shape "
    '`{"error": {"type", "message", "request_id"}}`.',
    openapi_tags=TAGS,
    lifespan=lifespan,
)
app.state.limiter = limiter  # SlowAPI looks for it here
app.add_middleware(RequestContextMiddleware)
register_error_handlers(app)

# The routes, one router per resource; /openapi.json lists them in this order.
app.include_router(ops.router)
app.include_router(chat.router)
app.include_router(conversations.router)
app.include_router(account.router)
