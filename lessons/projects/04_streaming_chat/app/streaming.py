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
    raise NotImplementedError("TODO: yield a token event per piece of text, then a done event (README.md)")
    yield  # (makes this function an async generator)
