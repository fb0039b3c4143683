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

    # BEGIN SOLUTION
    # An unknown field is a client bug (a typo such as "modle" would otherwise be ignored
    # silently, and the default model would answer): reject it with 422.
    model_config = ConfigDict(extra="forbid")

    message: str = Field(
        min_length=1,
        max_length=MAX_MESSAGE_CHARS,
        description="The user's message.",
        examples=["What is FastAPI?"],
    )
    model: str = Field(
        default=DEFAULT_MODEL,
        min_length=1,
        max_length=200,
        description="Which model answers: one of the names GET /v1/models lists. "
        "Changing it is all it takes to change provider.",
        examples=["claude-haiku-4-5", "gpt-4o-mini", "llama-3.3-70b"],
    )
    max_tokens: int = Field(
        default=512,
        ge=1,
        le=MAX_OUTPUT_TOKENS,
        description="Upper bound on the length of the reply, in tokens.",
    )
    # Optional: left out, the model uses its own default. 0 to 1 is the range every
    # provider accepts (OpenAI's goes to 2, Anthropic's stops at 1).
    temperature: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Sampling temperature, 0.0 (most predictable) to 1.0 (most varied). "
        "Omit it to use the model's default.",
    )
    system: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_SYSTEM_CHARS,
        description="Optional system prompt: instructions that frame the whole conversation.",
    )
    # STUB: # TODO: message, model, max_tokens, temperature and the optional system prompt,
    # STUB: # with the types, defaults and limits given in README.md
    # END SOLUTION


class Usage(BaseModel):
    """Tokens the provider counted for one call (what it bills)."""

    input_tokens: int = Field(ge=0)
    output_tokens: int = Field(ge=0)


class ChatResponse(BaseModel):
    """What POST /v1/chat answers."""

    # BEGIN SOLUTION
    content: str = Field(description="The model's reply text.")
    model: str = Field(description="The model that answered, as its provider names it.")
    provider: str = Field(description="The provider that answered: anthropic, openai or openrouter.")
    requested_model: str = Field(description="The model name the request asked for.")
    fallback: bool = Field(
        description="True when the requested model failed and a fallback model answered."
    )
    usage: Usage
    # STUB: # TODO: content, model, provider, requested_model, fallback and usage (README.md)
    # END SOLUTION


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
