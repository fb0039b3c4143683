"""Multi-Provider Chat: POST /v1/chat over Anthropic, OpenAI and OpenRouter, with fallback.

Run it with `uvicorn app.main:app --env-file .env` (see README.md).
"""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from litellm import Router

from app.config import get_settings
from app.errors import UnknownModelError, register_error_handlers, request_id_middleware
from app.llm import answered_by, build_router, configured_models
from app.models import ChatRequest, ChatResponse, ErrorResponse, ModelInfo, ModelList, Usage
from app.models_config import FALLBACKS, ModelConfig

logger = logging.getLogger("app")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Runs once: set up before the first request, clean up after the last."""
    settings = get_settings()
    # TODO: build the Router (app/llm.py) and keep it, and the configured models
    # by name, on app.state (README.md, "Configuration").
    app.state.router = None
    app.state.models = {}
    yield


app = FastAPI(
    title="Multi-Provider Chat",
    version="1.0.0",
    description="One chat API over Anthropic, OpenAI and OpenRouter, through LiteLLM's "
    "Router, with automatic fallback between providers.",
    lifespan=lifespan,
)
app.middleware("http")(request_id_middleware)
register_error_handlers(app)


@app.get("/health", summary="Liveness check")
async def health() -> dict[str, str]:
    """The process is up. (It does not call any provider: that would cost money per probe.)"""
    return {"status": "ok"}


def get_router(request: Request) -> Router:
    """The Router the lifespan built (a dependency, so tests can swap it)."""
    return request.app.state.router


def get_models(request: Request) -> dict[str, ModelConfig]:
    """The configured models by name: those whose provider has a key."""
    return request.app.state.models


# The error statuses the chat endpoint can answer, so /docs shows their body too.
_ERROR_RESPONSES: dict[int | str, dict] = {
    status: {"model": ErrorResponse, "description": description}
    for status, description in {
        422: "Invalid request body, or a model this API does not offer",
        429: "The providers are rate limiting us; see Retry-After",
        500: "Unexpected error in this service",
        502: "Every provider tried failed, is unreachable, or rejected our credentials",
        504: "The provider did not answer in time",
    }.items()
}


# TODO: GET /v1/models (the configured models and their providers) and
# POST /v1/chat through the Router, saying who answered (README.md, "API").
