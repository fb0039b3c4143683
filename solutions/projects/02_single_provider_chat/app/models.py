"""The API's request and response bodies (they are also what /docs shows)."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# Input limits: bound everything a client controls, so one request cannot cost
# arbitrarily much (tokens are money) or take arbitrarily long.
MAX_MESSAGE_CHARS = 8000
MAX_SYSTEM_CHARS = 4000
MAX_OUTPUT_TOKENS = 4096


class ChatRequest(BaseModel):
    """The body of POST /v1/chat."""

    # BEGIN SOLUTION
    # An unknown field is a client bug (a typo such as "max_token" would otherwise be
    # ignored silently): reject it with 422.
    model_config = ConfigDict(extra="forbid")

    message: str = Field(
        min_length=1,
        max_length=MAX_MESSAGE_CHARS,
        description="The user's message.",
        examples=["What is FastAPI?"],
    )
    max_tokens: int = Field(
        default=512,
        ge=1,
        le=MAX_OUTPUT_TOKENS,
        description="Upper bound on the length of the reply, in tokens.",
    )
    # Optional: left out, the model uses its own default. Models newer than Claude Opus 4.6
    # accept only that default, so a value is sent only when the client chose one.
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
    # STUB: # TODO: message, max_tokens, temperature and the optional system prompt,
    # STUB: # with the types, defaults and limits given in README.md
    # END SOLUTION


class Usage(BaseModel):
    """Tokens the provider counted for one call (what it bills)."""

    # BEGIN SOLUTION
    input_tokens: int = Field(ge=0)
    output_tokens: int = Field(ge=0)
    # STUB: # TODO: input_tokens and output_tokens (README.md)
    # END SOLUTION


class ChatResponse(BaseModel):
    """What POST /v1/chat answers."""

    # BEGIN SOLUTION
    content: str = Field(description="The model's reply text.")
    model: str = Field(description="The model that answered, as the provider reported it.")
    usage: Usage
    stop_reason: str | None = Field(
        default=None,
        description='Why generation stopped: "end_turn", or "max_tokens" when the reply was cut.',
    )
    # STUB: # TODO: content, model, usage and stop_reason (README.md)
    # END SOLUTION


class ErrorBody(BaseModel):
    """The inside of every error response."""

    type: str = Field(description="Stable, machine-readable error kind, e.g. upstream_timeout.")
    message: str = Field(description="What went wrong, for people. Never a stack trace or a secret.")
    request_id: str = Field(description="Also in the X-Request-ID header; quote it in bug reports.")
    details: list[dict[str, Any]] | None = Field(
        default=None, description="For validation errors: which fields are wrong and why."
    )


class ErrorResponse(BaseModel):
    """Every error this API returns has this one shape: {"error": {...}}."""

    error: ErrorBody
