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

    # TODO: message, max_tokens, temperature and the optional system prompt,
    # with the types, defaults and limits given in README.md


class Usage(BaseModel):
    """Tokens the provider counted for one call (what it bills)."""

    # TODO: input_tokens and output_tokens (README.md)


class ChatResponse(BaseModel):
    """What POST /v1/chat answers."""

    # TODO: content, model, usage and stop_reason (README.md)


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
