"""The token stream: a Router stream in, SSE events out.

`chat_events()` is an async generator: StreamingResponse iterates it and sends each string
it yields to the client as soon as it is yielded. A token goes out the moment the provider
sends it; the text is also collected, for `on_done`, which stores a conversation's reply
and counts the user's usage once the reply is whole.

    token  token  token ... done          the reply arrived whole: on_done ran
    token  token  error                   the provider failed part-way: the client keeps
                                          what it got and learns why it stopped; nothing
                                          is stored
"""

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from app.errors import classify_provider_error, error_body, log_provider_error
from app.llm import Answer
from app.models import Usage
from app.sse import sse_event

logger = logging.getLogger(__name__)

# Called with the whole reply text and the provider's token counts, before the done event.
OnDone = Callable[[str, Usage], Awaitable[dict[str, Any] | None]]


async def chat_events(
    upstream: Any,
    answer: Answer,
    requested_model: str,
    request_id: str,
    on_done: OnDone | None = None,
) -> AsyncIterator[str]:
    """SSE events for one streamed reply.

    `upstream` is what `await router.acompletion(..., stream=True)` returned: an async
    iterator of chunks in the OpenAI shape, whatever the provider (each chunk's
    `choices[0].delta.content` is the next piece of text; with
    `stream_options={"include_usage": True}` a last chunk carries `usage`). `on_done` may
    return extra fields for the done event.
    """
    model = answer.model
    usage = Usage()
    finish_reason = None
    parts: list[str] = []
    try:
        async for chunk in upstream:
            # The provider's own name for the model, once its chunks arrive.
            model = getattr(chunk, "model", None) or model
            chunk_usage = getattr(chunk, "usage", None)
            if chunk_usage:
                usage = Usage(
                    input_tokens=chunk_usage.prompt_tokens or 0,
                    output_tokens=chunk_usage.completion_tokens or 0,
                )
            if not chunk.choices:
                continue
            choice = chunk.choices[0]
            finish_reason = choice.finish_reason or finish_reason
            text = choice.delta.content
            if text:
                parts.append(text)
                yield sse_event({"type": "token", "content": text}, event="token")
    except Exception as exc:
        # The status line (200) and some tokens are already sent: an HTTP error status is no
        # longer possible. Say what went wrong in-band, then end the stream normally, so the
        # client keeps the partial reply and knows it is partial.
        log_provider_error(exc, request_id)
        _, error_type, _ = classify_provider_error(exc)
        message = "The AI provider failed part-way through the reply: the text so far is incomplete."
        yield sse_event({"type": "error", **error_body(error_type, message, request_id)}, event="error")
        return
    finally:
        # Runs also when the client disconnects (the generator is cancelled at its current
        # await): close the provider's stream, so we stop reading tokens nobody will see
        # (and stop paying for them).
        await upstream.aclose()
    try:
        extra = await on_done("".join(parts), usage) if on_done is not None else None
    except Exception as exc:
        # The reply reached the client but could not be stored (Redis down, say): say so,
        # rather than end the stream without a done event and leave the client guessing.
        logger.error("reply not stored: %s (request id %s)", type(exc).__name__, request_id)
        message = "The reply was sent but could not be saved. Send the message again."
        yield sse_event({"type": "error", **error_body("store_unavailable", message, request_id)}, event="error")
        return
    yield sse_event(
        {
            "type": "done",
            "model": model,
            "provider": answer.provider,
            "requested_model": requested_model,
            "fallback": answer.fallback,
            "finish_reason": finish_reason,
            "usage": usage.model_dump(),
            **(extra or {}),
        },
        event="done",
    )


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
