"""Single Provider Chat: POST /v1/chat answered by Anthropic's Messages API.

Run it with `uvicorn app.main:app --env-file .env` (see README.md).
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from anthropic import AsyncAnthropic, omit
from fastapi import Depends, FastAPI, Request

from app.config import Settings, get_settings
from app.errors import register_error_handlers, request_id_middleware
from app.models import ChatRequest, ChatResponse, ErrorResponse, Usage


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Runs once: set up before the first request, clean up after the last."""
    settings = get_settings()  # fails start-up, clearly, when ANTHROPIC_API_KEY is missing
    # TODO: create one AsyncAnthropic client for the app from `settings` (key,
    # base URL, timeout, retries), keep it on app.state, close it on shutdown.
    yield


app = FastAPI(
    title="Single Provider Chat",
    version="1.0.0",
    description="A chat endpoint backed by Anthropic's Messages API.",
    lifespan=lifespan,
)
app.middleware("http")(request_id_middleware)
register_error_handlers(app)


@app.get("/health", summary="Liveness check")
async def health() -> dict[str, str]:
    """The process is up. (It does not call the provider: that would cost money per probe.)"""
    return {"status": "ok"}


# TODO: POST /v1/chat: take a ChatRequest, call the Messages API with the client
# the lifespan created, answer with a ChatResponse (README.md, "API").
