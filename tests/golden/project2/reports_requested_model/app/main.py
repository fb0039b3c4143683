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
    # BEGIN SOLUTION
    # One client for the whole process: it keeps a pool of connections to the provider,
    # so requests reuse them instead of opening a new TLS connection each time.
    client = AsyncAnthropic(
        api_key=settings.anthropic_api_key.get_secret_value(),
        base_url=settings.anthropic_base_url,  # None: the SDK's default (the real API)
        timeout=settings.anthropic_timeout_s,
        max_retries=settings.anthropic_max_retries,
    )
    app.state.anthropic = client
    try:
        yield
    finally:
        await client.close()
    # STUB: # TODO: create one AsyncAnthropic client for the app from `settings` (key,
    # STUB: # base URL, timeout, retries), keep it on app.state, close it on shutdown.
    # STUB: yield
    # END SOLUTION


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


# BEGIN SOLUTION
def get_anthropic(request: Request) -> AsyncAnthropic:
    """The client the lifespan created (a dependency, so tests can swap it)."""
    return request.app.state.anthropic


# The error statuses this endpoint can answer, so /docs shows their body too.
_ERROR_RESPONSES: dict[int | str, dict] = {
    status: {"model": ErrorResponse, "description": description}
    for status, description in {
        422: "Invalid request body",
        429: "The provider is rate limiting us; see Retry-After",
        500: "Unexpected error in this service",
        502: "The provider failed, is unreachable, or rejected our credentials",
        504: "The provider did not answer in time",
    }.items()
}


@app.post(
    "/v1/chat",
    response_model=ChatResponse,
    responses=_ERROR_RESPONSES,
    summary="Send one message, get the model's reply",
)
async def chat(
    body: ChatRequest,
    client: Annotated[AsyncAnthropic, Depends(get_anthropic)],
    settings: Annotated[Settings, Depends(get_settings)],
) -> ChatResponse:
    """One user message in, one reply out.

    Provider failures are not caught here: the SDK raises typed exceptions, and the
    handlers in app/errors.py turn each into the right status and error body.
    """
    # The SDK (1.0 and later) has no `temperature` argument; the API still takes the
    # field, so it goes in extra_body, merged into the JSON as is. Only when given.
    sampling = {"temperature": body.temperature} if body.temperature is not None else None
    message = await client.messages.create(
        model=settings.anthropic_model,
        max_tokens=body.max_tokens,
        # `system` is a top-level parameter in the Messages API, not a message role.
        system=body.system if body.system is not None else omit,
        messages=[{"role": "user", "content": body.message}],
        extra_body=sampling,
    )
    return ChatResponse(
        # The reply is a list of content blocks; a plain chat gets text blocks.
        content="".join(block.text for block in message.content if block.type == "text"),
        model=settings.anthropic_model,
        usage=Usage(
            input_tokens=message.usage.input_tokens,
            output_tokens=message.usage.output_tokens,
        ),
        stop_reason=message.stop_reason,
    )
# STUB: # TODO: POST /v1/chat: take a ChatRequest, call the Messages API with the client
# STUB: # the lifespan created, answer with a ChatResponse (README.md, "API").
# END SOLUTION
