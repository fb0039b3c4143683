# Shared copy: the same code in projects 04, 05 (tests/test_copies.py checks it).
"""The token stream: a Router stream in, SSE events out.

`chat_events()` is an async generator: StreamingResponse iterates it and sends each string
it yields to the client as soon as it is yielded. Nothing is collected: a token goes out
the moment the provider sends it.

    token  token  token ... done          the reply arrived whole
    token  token  error                   the provider failed part-way: the client keeps
                                          what it got and learns why it stopped
"""

import logging
from collections.abc import AsyncIterator
from typing import Any

from app.errors import classify_provider_error, error_body, log_provider_error
from app.llm import answered_by
from app.sse import sse_event

logger = logging.getLogger(__name__)


async def chat_events(upstream: Any, requested_model: str, request_id: str) -> AsyncIterator[str]:
    """SSE events for one streamed reply.

    `upstream` is what `await router.acompletion(..., stream=True)` returned: an async
    iterator of chunks in the OpenAI shape, whatever the provider (each chunk's
    `choices[0].delta.content` is the next piece of text; with
    `stream_options={"include_usage": True}` a last chunk carries `usage`).
    """
    # BEGIN SOLUTION
    answer = answered_by(upstream, requested=requested_model)
    model = answer.model
    usage: dict[str, int] = {"input_tokens": 0, "output_tokens": 0}
    finish_reason = None
    try:
        async for chunk in upstream:
            # The provider's own name for the model, once its chunks arrive.
            model = getattr(chunk, "model", None) or model
            chunk_usage = getattr(chunk, "usage", None)
            if chunk_usage:
                usage = {
                    "input_tokens": chunk_usage.prompt_tokens or 0,
                    "output_tokens": chunk_usage.completion_tokens or 0,
                }
            if not chunk.choices:
                continue
            choice = chunk.choices[0]
            finish_reason = choice.finish_reason or finish_reason
            text = choice.delta.content
            if text:
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
    yield sse_event(
        {
            "type": "done",
            "model": model,
            "provider": answer.provider,
            "requested_model": requested_model,
            "fallback": answer.fallback,
            "finish_reason": finish_reason,
            "usage": usage,
        },
        event="done",
    )
    # STUB: raise NotImplementedError("TODO: yield a token event per piece of text, then a done event (README.md)")
    # STUB: yield  # (makes this function an async generator)
    # END SOLUTION
