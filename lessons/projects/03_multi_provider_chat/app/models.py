# Shared copy: the same code in projects 03, 04, 05 (tests/test_copies.py checks it).
"""The API's request and response bodies (they are also what /docs shows)."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.models_config import DEFAULT_MODEL

# Input limits: bound everything a client controls, so one request cannot cost
# arbitrarily much (tokens are money) or take arbitrarily long.
MAX_MESSAGE_CHARS = 8000
MAX_SYSTEM_CHARS = 4000
MAX_OUTPUT_TOKENS = 4096


class ChatRequest(BaseModel):
    """The body of POST /v1/chat."""

    # TODO: message, model, max_tokens, temperature and the optional system prompt,
    # with the types, defaults and limits given in README.md


class Usage(BaseModel):
    """Tokens the provider counted for one call (what it bills)."""

    input_tokens: int = Field(ge=0)
    output_tokens: int = Field(ge=0)


class ChatResponse(BaseModel):
    """What POST /v1/chat answers."""

    # TODO: content, model, provider, requested_model, fallback and usage (README.md)


class ModelInfo(BaseModel):
    """One entry of GET /v1/models."""

    id: str = Field(description='The name to send as "model".')
    provider: str = Field(description="Who serves it: anthropic, openai or openrouter.")
    litellm_model: str = Field(description='How LiteLLM names it: "<provider>/<model id>".')
    fallbacks: list[str] = Field(description="Models tried, in order, when this one fails.")


class ModelList(BaseModel):
    """GET /v1/models: every model this API can answer with right now."""

    object: str = "list"
    data: list[ModelInfo]


class ErrorBody(BaseModel):
    """The inside of every error response."""

    type: str = Field(description="Stable, machine-readable error kind, e.g. upstream_unavailable.")
    message: str = Field(description="What went wrong, for people. Never a stack trace or a secret.")
    request_id: str = Field(description="Also in the X-Request-ID header; quote it in bug reports.")
    details: list[dict[str, Any]] | None = Field(
        default=None, description="For validation errors: which fields are wrong and why."
    )


class ErrorResponse(BaseModel):
    """Every error this API returns has this one shape: {"error": {...}}."""

    error: ErrorBody
