"""Chat with History: conversations that remember, stored in Redis (or memory).

Run it with `uvicorn app.main:app --env-file .env` (see README.md).
"""

import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Header, HTTPException, Request, Response, status
from fastapi.responses import JSONResponse
from litellm import Router

from app.config import Settings, get_settings
from app.errors import (
    UnknownModelError,
    error_response,
    register_error_handlers,
    request_id_middleware,
)
from app.history import build_context, count_tokens, to_chat
from app.llm import answered_by, build_router, configured_models
from app.models import (
    AddMessage,
    Conversation,
    ConversationList,
    ConversationOut,
    CreateConversation,
    ErrorResponse,
    Message,
    MessageReply,
    ModelInfo,
    ModelList,
    Usage,
)
from app.models_config import ModelConfig
from app.store import ConversationBusyError, ConversationStore, create_store

logger = logging.getLogger("app")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Runs once: set up before the first request, clean up after the last."""
    settings = get_settings()
    models = configured_models(settings)
    if not models:
        raise RuntimeError(
            "no provider is configured: set at least one of ANTHROPIC_API_KEY, "
            "OPENAI_API_KEY, OPENROUTER_API_KEY"
        )
    app.state.router = build_router(settings)
    app.state.models = {m.name: m for m in models}
    app.state.store = create_store(settings)
    logger.info("conversation store: %s", settings.store_kind)
    yield
    await app.state.store.close()


app = FastAPI(
    title="Chat with History",
    version="1.0.0",
    description="Multi-turn conversations over Anthropic, OpenAI and OpenRouter (LiteLLM's "
    "Router), stored in Redis, with the history kept within a token budget.",
    lifespan=lifespan,
)
app.middleware("http")(request_id_middleware)
register_error_handlers(app)


async def conversation_busy_handler(request: Request, exc: ConversationBusyError) -> JSONResponse:
    return error_response(
        request, 409, "conversation_busy", "Another message to this conversation is still being answered."
    )


app.add_exception_handler(ConversationBusyError, conversation_busy_handler)


@app.get("/health", summary="Liveness check")
async def health() -> dict[str, str]:
    return {"status": "ok"}


def get_router(request: Request) -> Router:
    return request.app.state.router


def get_models(request: Request) -> dict[str, ModelConfig]:
    return request.app.state.models


def get_store(request: Request) -> ConversationStore:
    """The store the lifespan chose (a dependency, so tests can swap it)."""
    return request.app.state.store


_USER_ID = re.compile(r"[A-Za-z0-9._@-]{1,128}")


def get_user_id(x_user_id: Annotated[str | None, Header()] = None) -> str:
    """Who is calling. A STAND-IN for authentication: any client can send any X-User-ID.

    Project 7 replaces this dependency with one that reads the `sub` claim of a verified
    JWT; the endpoints do not change.
    """
    if x_user_id is None or not _USER_ID.fullmatch(x_user_id):
        raise HTTPException(401, "Send your user id in the X-User-ID header (letters, digits, . _ @ -).")
    return x_user_id


@app.get("/v1/models", response_model=ModelList, summary="The models a conversation can use")
async def list_models(models: Annotated[dict[str, ModelConfig], Depends(get_models)]) -> ModelList:
    return ModelList(data=[ModelInfo(id=m.name, provider=m.provider) for m in models.values()])


_ERRORS: dict[int | str, dict] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in {
        401: "No (valid) X-User-ID header",
        404: "No such conversation (or not yours)",
        422: "Invalid request body, or a model this API does not offer",
    }.items()
}
_CHAT_ERRORS: dict[int | str, dict] = {
    **_ERRORS,
    **{
        code: {"model": ErrorResponse, "description": text}
        for code, text in {
            409: "Another message to this conversation is still being answered (waited too long)",
            429: "The providers are rate limiting us; see Retry-After",
            502: "Every provider tried failed, is unreachable, or rejected our credentials",
            504: "The provider did not answer in time",
        }.items()
    },
}

Store = Annotated[ConversationStore, Depends(get_store)]
UserId = Annotated[str, Depends(get_user_id)]


# TODO: the five conversation endpoints (README.md, "API"), with get_store, get_user_id
# and build_context: POST/GET /v1/conversations, GET/DELETE /v1/conversations/{id},
# POST /v1/conversations/{id}/messages.
