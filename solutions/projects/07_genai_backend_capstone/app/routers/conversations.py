"""Conversations: multi-turn chats stored in Redis, each owned by the user who started it."""

import time
import uuid
from contextlib import AsyncExitStack
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.responses import StreamingResponse

from app.auth import CurrentUser, User
from app.completion import complete, usage_of
from app.config import Settings
from app.dependencies import Meter, Models, RouterDep, SettingsDep, Store
from app.docs import AUTHED, CALLS_MODEL, SSE_OK, error_responses
from app.errors import UnknownModelError, get_request_id
from app.history import build_context, count_tokens, to_chat
from app.models import (
    AddMessage,
    Conversation,
    ConversationList,
    ConversationOut,
    CreateConversation,
    Message,
    MessageReply,
    Usage,
)
from app.ratelimit import CHAT_SCOPE, limit_for_key, limiter
from app.sse import SSE_HEADERS, SSE_MEDIA_TYPE
from app.store import ConversationStore
from app.streaming import ReleasingStreamingResponse, chat_events

router = APIRouter(tags=["conversations"])


async def owned_conversation(store: ConversationStore, conversation_id: str, user: User) -> Conversation:
    """The caller's conversation, or 404: someone else's answers exactly like a missing one.

    Not 403: a 403 would tell a caller that the id exists, and ids are not secrets.
    """
    # BEGIN SOLUTION
    conversation = await store.get(conversation_id)
    if conversation is None or conversation.owner != user.sub:
        raise HTTPException(404, f"No conversation {conversation_id!r}.")
    return conversation
    # STUB: conversation = await store.get(conversation_id)
    # STUB: if conversation is None:
    # STUB:     raise HTTPException(404, f"No conversation {conversation_id!r}.")
    # STUB: return conversation  # TODO: only the caller's own (README.md, "Conversations")
    # END SOLUTION


def with_counts(conversation: Conversation) -> ConversationOut:
    head = [{"role": "system", "content": conversation.system}] if conversation.system else []
    return ConversationOut(
        **conversation.model_dump(), context_tokens=count_tokens(head + to_chat(conversation.messages))
    )


@router.post(
    "/v1/conversations",
    status_code=status.HTTP_201_CREATED,
    response_model=ConversationOut,
    responses=error_responses(*AUTHED),
    summary="Start a conversation",
)
async def create_conversation(
    body: CreateConversation, user: CurrentUser, store: Store, models: Models
) -> ConversationOut:
    """A new, empty conversation owned by the caller, with an optional system prompt."""
    if body.model not in models:
        raise UnknownModelError(body.model, list(models))
    conversation = Conversation(
        id=uuid.uuid4().hex, owner=user.sub, system=body.system, model=body.model, created_at=time.time()
    )
    await store.create(conversation)
    return with_counts(conversation)


@router.get(
    "/v1/conversations",
    response_model=ConversationList,
    responses=error_responses(*AUTHED),
    summary="Your conversations, newest first",
)
async def list_conversations(user: CurrentUser, store: Store) -> ConversationList:
    """The caller's own conversations only: never another user's."""
    return ConversationList(data=await store.list_for(user.sub))


@router.get(
    "/v1/conversations/{conversation_id}",
    response_model=ConversationOut,
    responses=error_responses(*AUTHED, 404),
    summary="One conversation: its messages and token counts",
)
async def get_conversation(conversation_id: str, user: CurrentUser, store: Store) -> ConversationOut:
    """Every stored message, oldest first, with the provider's token counts."""
    return with_counts(await owned_conversation(store, conversation_id, user))


@router.delete(
    "/v1/conversations/{conversation_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={204: {"description": "Deleted"}, **error_responses(*AUTHED, 404)},
    summary="Delete a conversation and its messages",
)
async def delete_conversation(conversation_id: str, user: CurrentUser, store: Store) -> Response:
    """Gone for good: a GET afterwards answers 404."""
    await owned_conversation(store, conversation_id, user)
    await store.delete(conversation_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def open_turn(
    stack: AsyncExitStack, store: ConversationStore, conversation_id: str, user: User, content: str, settings: Settings
) -> tuple[Conversation, list[dict[str, str]], int]:
    """Lock the conversation (released when `stack` closes) and build what the model is sent.

    One turn at a time per conversation: read the history, call the model, store the pair,
    all under the lock, so no reply is generated from a history missing an earlier turn.
    """
    await owned_conversation(store, conversation_id, user)  # 404 before waiting for the lock
    await stack.enter_async_context(store.lock(conversation_id))
    conversation = await owned_conversation(store, conversation_id, user)  # deleted meanwhile?
    messages, dropped = build_context(
        conversation.system, conversation.messages, content, settings.history_token_budget
    )
    return conversation, messages, dropped


async def store_turn(
    store: ConversationStore, conversation: Conversation, content: str, reply: str, usage: Usage, sent: int, started: float
) -> Usage:
    """Store the user message and the reply as one pair; the conversation's new totals."""
    user_message = Message(role="user", content=content, created_at=started)
    assistant = Message(role="assistant", content=reply, created_at=time.time(), usage=usage, context_messages=sent)
    await store.append_turn(conversation.id, user_message, assistant, usage)
    return Usage(
        input_tokens=conversation.usage.input_tokens + usage.input_tokens,
        output_tokens=conversation.usage.output_tokens + usage.output_tokens,
    )


@router.post(
    "/v1/conversations/{conversation_id}/messages",
    response_model=MessageReply,
    responses=error_responses(*CALLS_MODEL, 404, 409),
    summary="Send a message; get the reply (both are stored)",
)
@limiter.shared_limit(limit_for_key, scope=CHAT_SCOPE)
async def add_message(
    conversation_id: str,
    body: AddMessage,
    request: Request,
    user: CurrentUser,
    store: Store,
    llm: RouterDep,
    models: Models,
    meter: Meter,
    settings: SettingsDep,
) -> MessageReply:
    """The whole conversation (within the token budget) is sent with the new message."""
    started = time.time()
    async with AsyncExitStack() as stack:
        conversation, messages, dropped = await open_turn(stack, store, conversation_id, user, body.content, settings)
        response, answer = await complete(
            request, llm, models, conversation.model, messages, max_tokens=settings.reply_max_tokens
        )
        usage = usage_of(response)
        sent = len(messages) - (1 if conversation.system else 0)
        reply = response.choices[0].message.content or ""
        totals = await store_turn(store, conversation, body.content, reply, usage, sent, started)
    await meter.record(user.sub, usage)
    return MessageReply(
        conversation_id=conversation_id,
        content=reply,
        model=answer.model,
        provider=answer.provider,
        fallback=answer.fallback,
        usage=usage,
        conversation_usage=totals,
        context_messages=sent,
        dropped_messages=dropped,
    )


@router.post(
    "/v1/conversations/{conversation_id}/messages/stream",
    response_class=StreamingResponse,
    responses={**SSE_OK, **error_responses(*CALLS_MODEL, 404, 409)},
    summary="Send a message; get the reply token by token (SSE); both are stored",
)
@limiter.shared_limit(limit_for_key, scope=CHAT_SCOPE)
async def add_message_stream(
    conversation_id: str,
    body: AddMessage,
    request: Request,
    user: CurrentUser,
    store: Store,
    llm: RouterDep,
    models: Models,
    meter: Meter,
    settings: SettingsDep,
) -> StreamingResponse:
    """As POST /v1/conversations/{id}/messages, streamed. The pair is stored once the reply is
    whole: a reply cut short (provider failure, client gone) is not stored, and neither is
    its user message, so the history stays whole turns.
    """
    started = time.time()
    stack = AsyncExitStack()
    try:
        conversation, messages, dropped = await open_turn(stack, store, conversation_id, user, body.content, settings)
        upstream, answer = await complete(
            request, llm, models, conversation.model, messages, stream=True, max_tokens=settings.reply_max_tokens
        )
    except BaseException:
        await stack.aclose()  # the lock, when the stream never starts
        raise
    sent = len(messages) - (1 if conversation.system else 0)

    async def store_reply(text: str, usage: Usage) -> dict[str, Any]:
        # BEGIN SOLUTION
        totals = await store_turn(store, conversation, body.content, text, usage, sent, started)
        await meter.record(user.sub, usage)
        return {
            "conversation_id": conversation_id,
            "conversation_usage": totals.model_dump(),
            "context_messages": sent,
            "dropped_messages": dropped,
        }
        # STUB: return {"conversation_id": conversation_id}  # TODO: store the pair, count the usage (README.md)
        # END SOLUTION

    return ReleasingStreamingResponse(
        chat_events(upstream, answer, conversation.model, get_request_id(request), on_done=store_reply),
        media_type=SSE_MEDIA_TYPE,
        headers=SSE_HEADERS,
        exit_stack=stack,
    )
