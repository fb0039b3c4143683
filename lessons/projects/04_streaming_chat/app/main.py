"""Streaming Chat: Project 3's multi-provider chat, plus POST /v1/chat/stream (SSE) and a
test page that shows the tokens as they arrive.

Run it with `uvicorn app.main:app --env-file .env` and open http://localhost:8000/
(see README.md).
"""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import FileResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from litellm import Router

from app.config import get_settings
from app.errors import (
    RequestIdMiddleware,
    UnknownModelError,
    get_request_id,
    register_error_handlers,
)
from app.llm import answered_by, build_router, configured_models
from app.models import ChatRequest, ChatResponse, ErrorResponse, ModelInfo, ModelList, Usage
from app.models_config import FALLBACKS, ModelConfig
from app.sse import SSE_HEADERS, SSE_MEDIA_TYPE
from app.streaming import chat_events

logger = logging.getLogger("app")

STATIC_DIR = Path(__file__).parent / "static"


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
    # One Router for the process: it keeps the provider clients (and their connection
    # pools), and the retry and fallback state.
    app.state.router = build_router(settings)
    app.state.models = {m.name: m for m in models}
    logger.info("models: %s", ", ".join(f"{m.name} ({m.provider})" for m in models))
    yield


app = FastAPI(
    title="Streaming Chat",
    version="1.0.0",
    description="One chat API over Anthropic, OpenAI and OpenRouter, through LiteLLM's "
    "Router, with fallback between providers, and the reply streamed token by token as "
    "Server-Sent Events.",
    lifespan=lifespan,
)
app.add_middleware(RequestIdMiddleware)
register_error_handlers(app)


app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")


@app.get("/", include_in_schema=False)
async def test_page() -> FileResponse:
    """The streaming test page (app/static/index.html and stream.js)."""
    return FileResponse(STATIC_DIR / "index.html")


@app.get("/health", summary="Liveness check")
async def health() -> dict[str, str]:
    """The process is up. (It does not call any provider: that would cost money per probe.)"""
    return {"status": "ok"}


def get_router(request: Request) -> Router:
    """The Router the lifespan built (a dependency, so tests can swap it)."""
    return request.app.state.router


def get_models(request: Request) -> dict[str, ModelConfig]:
    """The configured models by name: those whose provider has a key."""
    return request.app.state.models


# The error statuses the chat endpoint can answer, so /docs shows their body too.
_ERROR_RESPONSES: dict[int | str, dict] = {
    status: {"model": ErrorResponse, "description": description}
    for status, description in {
        422: "Invalid request body, or a model this API does not offer",
        429: "The providers are rate limiting us; see Retry-After",
        500: "Unexpected error in this service",
        502: "Every provider tried failed, is unreachable, or rejected our credentials",
        504: "The provider did not answer in time",
    }.items()
}


@app.get("/v1/models", response_model=ModelList, summary="The models you can ask for")
async def list_models(models: Annotated[dict[str, ModelConfig], Depends(get_models)]) -> ModelList:
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


@app.post(
    "/v1/chat",
    response_model=ChatResponse,
    responses=_ERROR_RESPONSES,
    summary="Send one message to the model you name, get its reply",
)
async def chat(
    body: ChatRequest,
    router: Annotated[Router, Depends(get_router)],
    models: Annotated[dict[str, ModelConfig], Depends(get_models)],
) -> ChatResponse:
    """One user message in, one reply out, from the model named in `model`, or a fallback.

    Provider failures are not caught here: when every model the Router tried failed, it
    raises the last error, and the handlers in app/errors.py answer with the right status.
    """
    if body.model not in models:
        raise UnknownModelError(body.model, list(models))
    messages = [{"role": "user", "content": body.message}]
    if body.system is not None:
        # LiteLLM takes the OpenAI format for every provider; for Anthropic it moves a
        # "system" message into the request's top-level `system` parameter itself.
        messages.insert(0, {"role": "system", "content": body.system})
    optional = {"temperature": body.temperature} if body.temperature is not None else {}
    response = await router.acompletion(
        model=body.model,  # a model group name: the Router picks its deployment
        messages=messages,
        max_tokens=body.max_tokens,
        **optional,
    )
    answer = answered_by(response, requested=body.model)
    usage = response.usage
    return ChatResponse(
        # Every provider's reply comes back in the OpenAI shape.
        content=response.choices[0].message.content or "",
        model=answer.model,
        provider=answer.provider,
        requested_model=body.model,
        fallback=answer.fallback,
        usage=Usage(input_tokens=usage.prompt_tokens, output_tokens=usage.completion_tokens),
    )


@app.post(
    "/v1/chat/stream",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {SSE_MEDIA_TYPE: {}},
            "description": "Server-Sent Events: token events, then one done event (or an error event)",
        },
        **_ERROR_RESPONSES,
    },
    summary="Send one message, get the reply token by token (SSE)",
)
async def chat_stream(
    body: ChatRequest,
    request: Request,
    router: Annotated[Router, Depends(get_router)],
    models: Annotated[dict[str, ModelConfig], Depends(get_models)],
) -> StreamingResponse:
    """The same request as POST /v1/chat; the reply comes as `text/event-stream`.

    The provider's stream is opened before the response starts: a failure there (after the
    Router's retries and fallbacks) still gets a proper status code and the JSON error
    body. Once the first byte is sent the status is 200 for good, and a failure becomes an
    `error` event.
    """
    raise NotImplementedError("TODO: open the Router's stream and return a StreamingResponse (README.md)")
