"""Chat: one message in, one reply out, whole or streamed. Nothing is stored but the usage."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from app.auth import CurrentUser
from app.completion import complete, usage_of
from app.dependencies import Meter, Models, RouterDep
from app.docs import CALLS_MODEL, SSE_OK, error_responses
from app.errors import get_request_id
from app.models import ChatRequest, ChatResponse, Usage
from app.ratelimit import CHAT_SCOPE, limit_for_key, limiter
from app.sse import SSE_HEADERS, SSE_MEDIA_TYPE
from app.streaming import chat_events

router = APIRouter(tags=["chat"])


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


@router.post(
    "/v1/chat",
    response_model=ChatResponse,
    responses=error_responses(*CALLS_MODEL),
    summary="Send one message to the model you name, get its reply",
)
@limiter.shared_limit(limit_for_key, scope=CHAT_SCOPE)
async def chat(
    body: ChatRequest, request: Request, user: CurrentUser, llm: RouterDep, models: Models, meter: Meter
) -> ChatResponse:
    """One user message in, one reply out, from the model named in `model`, or a fallback.

    Provider failures are not caught here: when every attempt and every fallback failed,
    the last error reaches the handlers in app/errors.py, which answer with the right status.
    """
    response, answer = await complete(request, llm, models, body.model, chat_messages(body), **chat_params(body))
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


@router.post(
    "/v1/chat/stream",
    response_class=StreamingResponse,
    responses={**SSE_OK, **error_responses(*CALLS_MODEL)},
    summary="Send one message, get the reply token by token (SSE)",
)
@limiter.shared_limit(limit_for_key, scope=CHAT_SCOPE)
async def chat_stream(
    body: ChatRequest, request: Request, user: CurrentUser, llm: RouterDep, models: Models, meter: Meter
) -> StreamingResponse:
    """The same request as POST /v1/chat; the reply comes as `text/event-stream`.

    The provider's stream is opened before the response starts: a failure there (after
    retries and fallbacks) still gets a proper status code and the JSON error body. Once
    the first byte is sent the status is 200 for good, and a failure becomes an `error` event.
    """
    upstream, answer = await complete(
        request, llm, models, body.model, chat_messages(body), stream=True, **chat_params(body)
    )

    async def count(text: str, usage: Usage) -> None:
        await meter.record(user.sub, usage)

    return StreamingResponse(
        chat_events(upstream, answer, body.model, get_request_id(request), on_done=count),
        media_type=SSE_MEDIA_TYPE,
        headers=SSE_HEADERS,
    )
