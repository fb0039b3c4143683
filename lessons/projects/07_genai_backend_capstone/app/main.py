"""GenAI Backend (the capstone): one service with everything Projects 1 to 6 built.

    client ── JWT ──> rate limit (Redis) ──> endpoint ──> retries, fallbacks ──> LiteLLM Router ──> provider
                                              │
                                              └── conversations and usage (Redis)

Every request gets an id (app/logs.py) that is in every log line it causes, in its
response's X-Request-ID header and in the provider's request headers. README.md explains
each component and why it exists.

Run it with `uvicorn app.main:app --env-file .env` (see README.md), or `docker compose up`.
"""

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Annotated, Any

import redis.asyncio as aioredis
import structlog
from fastapi import Depends, FastAPI, HTTPException, Request, Response, status
from fastapi.responses import JSONResponse, StreamingResponse
from litellm import Router
from pydantic import BaseModel
from starlette.types import Receive, Scope, Send

from app.auth import CurrentUser, User
from app.config import Settings, get_settings
from app.docs import AUTHED, CALLS_MODEL, error_responses
from app.errors import UnknownModelError, get_request_id, register_error_handlers
from app.history import build_context, count_tokens, to_chat
from app.llm import Answer, answered_by, build_router, configured_models
from app.logs import REQUEST_ID_HEADER, RequestContextMiddleware, configure_logging
from app.models import (
    AddMessage,
    ChatRequest,
    ChatResponse,
    Conversation,
    ConversationList,
    ConversationOut,
    CreateConversation,
    DoneEvent,
    ErrorEvent,
    Health,
    Message,
    MessageReply,
    ModelInfo,
    ModelList,
    Readiness,
    TokenEvent,
    Usage,
    UsageReport,
)
from app.models_config import FALLBACKS, ModelConfig
from app.ratelimit import CHAT_SCOPE, limit_for_key, limiter
from app.resilience import complete_with_fallbacks
from app.sse import SSE_HEADERS, SSE_MEDIA_TYPE
from app.store import ConversationStore, RedisStore, create_store
from app.streaming import chat_events
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


# -- operations ------------------------------------------------------------------------------


@app.get("/health", response_model=Health, tags=["operations"], summary="Liveness check")
async def health() -> Health:
    """The process is up: restart it if this fails. No auth, and no dependency checked."""
    return Health(status="ok")


@app.get(
    "/ready",
    response_model=Readiness,
    tags=["operations"],
    summary="Readiness check",
    responses={503: {"model": Readiness, "description": "Not ready: a dependency is down or misconfigured"}},
)
async def ready(request: Request) -> JSONResponse:
    """Ready for traffic: Redis answers and the configuration is usable. Else 503 and why.

    A load balancer stops sending requests while this fails, without restarting the process.
    (It does not call any provider: that would cost money per probe.)
    """
    return JSONResponse({"status": "ready", "checks": {}})  # TODO: ping Redis, check the configuration; 503 and why


# -- dependencies ----------------------------------------------------------------------------


def get_router(request: Request) -> Router:
    """The Router the lifespan built (a dependency, so tests can swap it)."""
    return request.app.state.router


def get_models(request: Request) -> dict[str, ModelConfig]:
    """The configured models by name: those whose provider has a key."""
    return request.app.state.models


def get_store(request: Request) -> ConversationStore:
    return request.app.state.store


def get_usage(request: Request) -> UsageMeter:
    return request.app.state.usage


Models = Annotated[dict[str, ModelConfig], Depends(get_models)]
Store = Annotated[ConversationStore, Depends(get_store)]
Meter = Annotated[UsageMeter, Depends(get_usage)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
RouterDep = Annotated[Router, Depends(get_router)]


def upstream_headers(request: Request) -> dict[str, str]:
    """Headers for the provider call: our request id, so both sides can be correlated."""
    return {}  # TODO: pass this request's id to the provider (README.md)


async def complete(
    request: Request,
    router: Router,
    models: dict[str, ModelConfig],
    requested: str,
    messages: list[dict[str, str]],
    **params: Any,
) -> tuple[Any, Answer]:
    """One model call with retries and fallbacks (app/resilience.py); the result and who answered.

    With `stream=True` only opening the stream is retried: once tokens are sent, a retry
    would repeat them.
    """
    if requested not in models:
        raise UnknownModelError(requested, list(models))
    if params.get("stream"):
        # Ask for a last chunk with the token counts (LiteLLM passes it on for every provider).
        params["stream_options"] = {"include_usage": True}
    response, model_name = await complete_with_fallbacks(
        get_settings(),
        models,
        requested,
        lambda model_name: router.acompletion(
            model=model_name,  # a model group name: the Router calls its deployment
            messages=messages,
            # The provider sees our request id: one id across both sides' logs.
            extra_headers=upstream_headers(request),
            **params,
        ),
    )
    return response, answered_by(response, model_name, requested)


def usage_of(response: Any) -> Usage:
    return Usage(input_tokens=response.usage.prompt_tokens, output_tokens=response.usage.completion_tokens)


class ReleasingStreamingResponse(StreamingResponse):
    """A StreamingResponse that closes `exit_stack` when it ends, however it ends.

    A conversation's lock must be held until its streamed reply is stored, and released
    even when the client disconnects before the first byte (when the body's generator may
    never start, and so never reach its own `finally`).
    """

    def __init__(self, *args: Any, exit_stack: AsyncExitStack, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.exit_stack = exit_stack

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.exit_stack.aclose()


# -- chat ------------------------------------------------------------------------------------

def _sse_item(event: str, model: type[BaseModel]) -> dict[str, Any]:
    """The schema of one SSE event: its `event:` name, and the JSON its `data:` line holds."""
    # Nested models are referenced, not repeated: Usage and ErrorBody are components already.
    data = model.model_json_schema(ref_template="#/components/schemas/{model}")
    data.pop("$defs", None)
    return {
        "type": "object",
        "required": ["event", "data"],
        "properties": {
            "event": {"const": event},
            "data": {"type": "string", "contentMediaType": "application/json", "contentSchema": data},
        },
    }


# The 200 of a streaming endpoint. `itemSchema` (OpenAPI 3.2's keyword for streams) describes
# each event rather than the body as a whole, which is one long string.
_SSE_OK = {
    200: {
        "content": {
            SSE_MEDIA_TYPE: {
                "itemSchema": {
                    "oneOf": [_sse_item("token", TokenEvent), _sse_item("done", DoneEvent), _sse_item("error", ErrorEvent)]
                },
                "example": 'event: token\ndata: {"type":"token","content":"Hel"}\n\n'
                'event: token\ndata: {"type":"token","content":"lo"}\n\n'
                'event: done\ndata: {"type":"done","model":"claude-haiku-4-5-20251001","provider":"anthropic",'
                '"requested_model":"claude-haiku-4-5","fallback":false,"finish_reason":"stop",'
                '"usage":{"input_tokens":12,"output_tokens":2}}\n\n',
            }
        },
        "description": "Server-Sent Events: token events, then one done event (or an error event)",
    }
}


def chat_messages(body: ChatRequest) -> list[dict[str, str]]:
    messages = [{"role": "user", "content": body.message}]
    if body.system is not None:
        # LiteLLM takes the OpenAI format for every provider; for Anthropic it moves a
        # "system" message into the request's top-level `system` parameter itself.
        messages.insert(0, {"role": "system", "content": body.system})
    return messages


def chat_params(body: ChatRequest) -> dict[str, Any]:
    optional = {"temperature": body.temperature} if body.temperature is not None else {}
    return {"max_tokens": body.max_tokens, **optional}


@app.post(
    "/v1/chat",
    response_model=ChatResponse,
    responses=error_responses(*CALLS_MODEL),
    tags=["chat"],
    summary="Send one message to the model you name, get its reply",
)
@limiter.shared_limit(limit_for_key, scope=CHAT_SCOPE)
async def chat(
    body: ChatRequest, request: Request, user: CurrentUser, router: RouterDep, models: Models, meter: Meter
) -> ChatResponse:
    """One user message in, one reply out, from the model named in `model`, or a fallback.

    Provider failures are not caught here: when every attempt and every fallback failed,
    the last error reaches the handlers in app/errors.py, which answer with the right status.
    """
    response, answer = await complete(request, router, models, body.model, chat_messages(body), **chat_params(body))
    usage = usage_of(response)
    await meter.record(user.sub, usage)
    return ChatResponse(
        # Every provider's reply comes back in the OpenAI shape.
        content=response.choices[0].message.content or "",
        model=answer.model,
        provider=answer.provider,
        requested_model=body.model,
        fallback=answer.fallback,
        usage=usage,
    )


@app.post(
    "/v1/chat/stream",
    response_class=StreamingResponse,
    responses={**_SSE_OK, **error_responses(*CALLS_MODEL)},
    tags=["chat"],
    summary="Send one message, get the reply token by token (SSE)",
)
@limiter.shared_limit(limit_for_key, scope=CHAT_SCOPE)
async def chat_stream(
    body: ChatRequest, request: Request, user: CurrentUser, router: RouterDep, models: Models, meter: Meter
) -> StreamingResponse:
    """The same request as POST /v1/chat; the reply comes as `text/event-stream`.

    The provider's stream is opened before the response starts: a failure there (after
    retries and fallbacks) still gets a proper status code and the JSON error body. Once
    the first byte is sent the status is 200 for good, and a failure becomes an `error` event.
    """
    upstream, answer = await complete(
        request, router, models, body.model, chat_messages(body), stream=True, **chat_params(body)
    )

    async def count(text: str, usage: Usage) -> None:
        await meter.record(user.sub, usage)

    return StreamingResponse(
        chat_events(upstream, answer, body.model, get_request_id(request), on_done=count),
        media_type=SSE_MEDIA_TYPE,
        headers=SSE_HEADERS,
    )


# -- conversations ---------------------------------------------------------------------------


async def owned_conversation(store: ConversationStore, conversation_id: str, user: User) -> Conversation:
    """The caller's conversation, or 404: someone else's answers exactly like a missing one.

    Not 403: a 403 would tell a caller that the id exists, and ids are not secrets.
    """
    conversation = await store.get(conversation_id)
    if conversation is None:
        raise HTTPException(404, f"No conversation {conversation_id!r}.")
    return conversation  # TODO: only the caller's own (README.md, "Conversations")


def with_counts(conversation: Conversation) -> ConversationOut:
    head = [{"role": "system", "content": conversation.system}] if conversation.system else []
    return ConversationOut(
        **conversation.model_dump(), context_tokens=count_tokens(head + to_chat(conversation.messages))
    )


@app.post(
    "/v1/conversations",
    status_code=status.HTTP_201_CREATED,
    response_model=ConversationOut,
    responses=error_responses(*AUTHED),
    tags=["conversations"],
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


@app.get(
    "/v1/conversations",
    response_model=ConversationList,
    responses=error_responses(*AUTHED),
    tags=["conversations"],
    summary="Your conversations, newest first",
)
async def list_conversations(user: CurrentUser, store: Store) -> ConversationList:
    """The caller's own conversations only: never another user's."""
    return ConversationList(data=await store.list_for(user.sub))


@app.get(
    "/v1/conversations/{conversation_id}",
    response_model=ConversationOut,
    responses=error_responses(*AUTHED, 404),
    tags=["conversations"],
    summary="One conversation: its messages and token counts",
)
async def get_conversation(conversation_id: str, user: CurrentUser, store: Store) -> ConversationOut:
    """Every stored message, oldest first, with the provider's token counts."""
    return with_counts(await owned_conversation(store, conversation_id, user))


@app.delete(
    "/v1/conversations/{conversation_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={204: {"description": "Deleted"}, **error_responses(*AUTHED, 404)},
    tags=["conversations"],
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


@app.post(
    "/v1/conversations/{conversation_id}/messages",
    response_model=MessageReply,
    responses=error_responses(*CALLS_MODEL, 404, 409),
    tags=["conversations"],
    summary="Send a message; get the reply (both are stored)",
)
@limiter.shared_limit(limit_for_key, scope=CHAT_SCOPE)
async def add_message(
    conversation_id: str,
    body: AddMessage,
    request: Request,
    user: CurrentUser,
    store: Store,
    router: RouterDep,
    models: Models,
    meter: Meter,
    settings: SettingsDep,
) -> MessageReply:
    """The whole conversation (within the token budget) is sent with the new message."""
    started = time.time()
    async with AsyncExitStack() as stack:
        conversation, messages, dropped = await open_turn(stack, store, conversation_id, user, body.content, settings)
        response, answer = await complete(
            request, router, models, conversation.model, messages, max_tokens=settings.reply_max_tokens
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


@app.post(
    "/v1/conversations/{conversation_id}/messages/stream",
    response_class=StreamingResponse,
    responses={**_SSE_OK, **error_responses(*CALLS_MODEL, 404, 409)},
    tags=["conversations"],
    summary="Send a message; get the reply token by token (SSE); both are stored",
)
@limiter.shared_limit(limit_for_key, scope=CHAT_SCOPE)
async def add_message_stream(
    conversation_id: str,
    body: AddMessage,
    request: Request,
    user: CurrentUser,
    store: Store,
    router: RouterDep,
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
            request, router, models, conversation.model, messages, stream=True, max_tokens=settings.reply_max_tokens
        )
    except BaseException:
        await stack.aclose()  # the lock, when the stream never starts
        raise
    sent = len(messages) - (1 if conversation.system else 0)

    async def store_reply(text: str, usage: Usage) -> dict[str, Any]:
        return {"conversation_id": conversation_id}  # TODO: store the pair, count the usage (README.md)

    return ReleasingStreamingResponse(
        chat_events(upstream, answer, conversation.model, get_request_id(request), on_done=store_reply),
        media_type=SSE_MEDIA_TYPE,
        headers=SSE_HEADERS,
        exit_stack=stack,
    )


# -- account ---------------------------------------------------------------------------------


@app.get(
    "/v1/models",
    response_model=ModelList,
    responses=error_responses(*AUTHED),
    tags=["account"],
    summary="The models you can ask for",
)
async def list_models(user: CurrentUser, models: Models) -> ModelList:
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


@app.get(
    "/v1/usage",
    response_model=UsageReport,
    responses=error_responses(*AUTHED),
    tags=["account"],
    summary="Your model calls and tokens so far",
)
async def usage(user: CurrentUser, meter: Meter) -> UsageReport:
    """Totals over POST /v1/chat, /v1/chat/stream and conversation messages, in every process."""
    requests, tokens = await meter.totals(user.sub)
    return UsageReport(user=user.sub, tier=user.tier, requests=requests, usage=tokens)
