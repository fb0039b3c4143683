"""Multi-Provider Chat: POST /v1/chat over Anthropic, OpenAI and OpenRouter, with fallback.

Run it with `uvicorn app.main:app --env-file .env` (see README.md).
"""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from litellm import Router

from app.config import get_settings
from app.errors import UnknownModelError, register_error_handlers, request_id_middleware
from app.llm import answered_by, build_router, configured_models
from app.models import ChatRequest, ChatResponse, ErrorResponse, ModelInfo, ModelList, Usage
from app.models_config import FALLBACKS, ModelConfig

logger = logging.getLogger("app")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Runs once: set up before the first request, clean up after the last."""
    settings = get_settings()
    # BEGIN SOLUTION
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
    # STUB: # TODO: build the Router (app/llm.py) and keep it, and the configured models
    # STUB: # by name, on app.state (README.md, "Configuration").
    # STUB: app.state.router = None
    # STUB: app.state.models = {}
    # END SOLUTION
    yield


app = FastAPI(
    title="Multi-Provider Chat",
    version="1.0.0",
    description="One chat API over Anthropic, OpenAI and OpenRouter, through LiteLLM's "
    "Router, with automatic fallback between providers.",
    lifespan=lifespan,
)
app.middleware("http")(request_id_middleware)
register_error_handlers(app)


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


# BEGIN SOLUTION
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
        model=models[body.model].litellm_model.split("/", 1)[1],
        provider=models[body.model].provider,
        requested_model=body.model,
        fallback=False,
        usage=Usage(input_tokens=usage.prompt_tokens, output_tokens=usage.completion_tokens),
    )
# STUB: # TODO: GET /v1/models (the configured models and their providers) and
# STUB: # POST /v1/chat through the Router, saying who answered (README.md, "API").
# END SOLUTION
