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


# BEGIN SOLUTION
async def owned_conversation(store: ConversationStore, conversation_id: str, user_id: str) -> Conversation:
    """The caller's conversation, or 404: someone else's answers exactly like a missing one."""
    conversation = await store.get(conversation_id)
    if conversation is None or conversation.owner != user_id:
        raise HTTPException(404, f"No conversation {conversation_id!r}.")
    return conversation


def with_counts(conversation: Conversation) -> ConversationOut:
    head = [{"role": "system", "content": conversation.system}] if conversation.system else []
    return ConversationOut(
        **conversation.model_dump(),
        context_tokens=count_tokens(head + to_chat(conversation.messages)),
    )


@app.post(
    "/v1/conversations",
    status_code=status.HTTP_201_CREATED,
    response_model=ConversationOut,
    responses=_ERRORS,
    summary="Start a conversation",
)
async def create_conversation(
    body: CreateConversation,
    store: Store,
    user_id: UserId,
    models: Annotated[dict[str, ModelConfig], Depends(get_models)],
) -> ConversationOut:
    if body.model not in models:
        raise UnknownModelError(body.model, list(models))
    conversation = Conversation(
        id=uuid.uuid4().hex,
        owner=user_id,
        system=body.system,
        model=body.model,
        created_at=time.time(),
    )
    await store.create(conversation)
    return with_counts(conversation)


@app.get("/v1/conversations", response_model=ConversationList, responses=_ERRORS, summary="Your conversations")
async def list_conversations(store: Store, user_id: UserId) -> ConversationList:
    return ConversationList(data=await store.list_for(user_id))


@app.get(
    "/v1/conversations/{conversation_id}",
    response_model=ConversationOut,
    responses=_ERRORS,
    summary="One conversation: its messages and token counts",
)
async def get_conversation(conversation_id: str, store: Store, user_id: UserId) -> ConversationOut:
    return with_counts(await owned_conversation(store, conversation_id, user_id))


@app.delete(
    "/v1/conversations/{conversation_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=_ERRORS,
    summary="Delete a conversation and its messages",
)
async def delete_conversation(conversation_id: str, store: Store, user_id: UserId) -> Response:
    await owned_conversation(store, conversation_id, user_id)
    await store.delete(conversation_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@app.post(
    "/v1/conversations/{conversation_id}/messages",
    response_model=MessageReply,
    responses=_CHAT_ERRORS,
    summary="Send a message; get the reply (both are stored)",
)
async def add_message(
    conversation_id: str,
    body: AddMessage,
    store: Store,
    user_id: UserId,
    router: Annotated[Router, Depends(get_router)],
    settings: Annotated[Settings, Depends(get_settings)],
) -> MessageReply:
    await owned_conversation(store, conversation_id, user_id)  # 404 before waiting for the lock
    # One turn at a time per conversation: read, call the model, store the pair.
    async with store.lock(conversation_id):
        conversation = await owned_conversation(store, conversation_id, user_id)
        messages, dropped = build_context(
            conversation.system, conversation.messages, body.content, settings.history_token_budget
        )
        user_message = Message(role="user", content=body.content, created_at=time.time())
        response = await router.acompletion(
            model=conversation.model, messages=messages, max_tokens=settings.reply_max_tokens
        )
        answer = answered_by(response, requested=conversation.model)
        usage = Usage(
            input_tokens=count_tokens(messages),
            output_tokens=len((response.choices[0].message.content or '').split()),
        )
        sent = len(messages) - (1 if conversation.system else 0)
        reply = Message(
            role="assistant",
            content=response.choices[0].message.content or "",
            created_at=time.time(),
            usage=usage,
            context_messages=sent,
        )
        await store.append_turn(conversation_id, user_message, reply, usage)
    return MessageReply(
        conversation_id=conversation_id,
        content=reply.content,
        model=answer.model,
        provider=answer.provider,
        fallback=answer.fallback,
        usage=usage,
        conversation_usage=Usage(
            input_tokens=conversation.usage.input_tokens + usage.input_tokens,
            output_tokens=conversation.usage.output_tokens + usage.output_tokens,
        ),
        context_messages=sent,
        dropped_messages=dropped,
    )
# STUB: # TODO: the five conversation endpoints (README.md, "API"), with get_store, get_user_id
# STUB: # and build_context: POST/GET /v1/conversations, GET/DELETE /v1/conversations/{id},
# STUB: # POST /v1/conversations/{id}/messages.
# END SOLUTION
