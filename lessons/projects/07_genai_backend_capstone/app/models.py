"""The API's request and response bodies (they are also what /docs shows), and the stored records.

Every field has a description and every body an example: the OpenAPI document at
/openapi.json is generated from these classes, and it is the contract clients (and the
grader's schemathesis run) hold the API to.
"""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.models_config import DEFAULT_MODEL

# Input limits: bound everything a client controls, so one request cannot cost
# arbitrarily much (tokens are money) or take arbitrarily long.
MAX_MESSAGE_CHARS = 8000
MAX_SYSTEM_CHARS = 4000
MAX_OUTPUT_TOKENS = 4096

_MODEL_FIELD = dict(
    default=DEFAULT_MODEL,
    min_length=1,
    max_length=200,
    description="Which model answers: one of the names GET /v1/models lists. "
    "Changing it is all it takes to change provider.",
    examples=["claude-haiku-4-5", "gpt-4o-mini", "llama-3.3-70b"],
)


def _example(example: dict[str, Any]) -> ConfigDict:
    """Model config with one example body, shown in /docs and in the OpenAPI document."""
    return ConfigDict(json_schema_extra={"examples": [example]})


# -- one-shot chat -------------------------------------------------------------------------


class ChatRequest(BaseModel):
    """The body of POST /v1/chat and POST /v1/chat/stream."""

    # An unknown field is a client bug (a typo such as "modle" would otherwise be ignored
    # silently, and the default model would answer): reject it with 422.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"message": "What is FastAPI?", "model": "claude-haiku-4-5", "max_tokens": 256}]},
    )

    message: str = Field(
        min_length=1, max_length=MAX_MESSAGE_CHARS, description="The user's message.", examples=["What is FastAPI?"]
    )
    model: str = Field(**_MODEL_FIELD)
    max_tokens: int = Field(
        default=512, ge=1, le=MAX_OUTPUT_TOKENS, description="Upper bound on the length of the reply, in tokens."
    )
    # 0 to 1 is the range every provider accepts (OpenAI's goes to 2, Anthropic's stops at 1).
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
        description="Optional system prompt: instructions that frame the reply.",
    )


class Usage(BaseModel):
    """Tokens the provider counted (what it bills)."""

    model_config = _example({"input_tokens": 12, "output_tokens": 48})

    input_tokens: int = Field(default=0, ge=0, description="Tokens sent to the model.")
    output_tokens: int = Field(default=0, ge=0, description="Tokens the model wrote.")


class ChatResponse(BaseModel):
    """What POST /v1/chat answers."""

    model_config = _example(
        {
            "content": "FastAPI is a Python web framework for building APIs.",
            "model": "claude-haiku-4-5-20251001",
            "provider": "anthropic",
            "requested_model": "claude-haiku-4-5",
            "fallback": False,
            "usage": {"input_tokens": 12, "output_tokens": 48},
        }
    )

    content: str = Field(description="The model's reply text.")
    model: str = Field(description="The model that answered, as its provider names it.")
    provider: str = Field(description="The provider that answered: anthropic, openai or openrouter.")
    requested_model: str = Field(description="The model name the request asked for.")
    fallback: bool = Field(description="True when the requested model failed and a fallback model answered.")
    usage: Usage


class ModelInfo(BaseModel):
    """One entry of GET /v1/models."""

    id: str = Field(description='The name to send as "model".')
    provider: str = Field(description="Who serves it: anthropic, openai or openrouter.")
    litellm_model: str = Field(description='How LiteLLM names it: "<provider>/<model id>".')
    fallbacks: list[str] = Field(description="Models tried, in order, when this one still fails after retries.")


class ModelList(BaseModel):
    """GET /v1/models: every model this API can answer with right now."""

    model_config = _example(
        {
            "object": "list",
            "data": [
                {
                    "id": "claude-haiku-4-5",
                    "provider": "anthropic",
                    "litellm_model": "anthropic/claude-haiku-4-5",
                    "fallbacks": ["gpt-4o-mini", "llama-3.3-70b"],
                }
            ],
        }
    )

    object: Literal["list"] = Field(default="list", description='Always "list".')
    data: list[ModelInfo]


# -- streamed replies: the JSON in each SSE event's data line ------------------------------


class TokenEvent(BaseModel):
    """`event: token`: the next piece of the reply."""

    type: Literal["token"] = Field(description='Always "token".')
    content: str = Field(description="Text to append to what came before.")


class DoneEvent(BaseModel):
    """`event: done`: the reply is whole (the last event of a stream that succeeded)."""

    type: Literal["done"] = Field(description='Always "done".')
    model: str = Field(description="The model that answered, as its provider names it.")
    provider: str = Field(description="The provider that answered.")
    requested_model: str = Field(description="The model the request (or the conversation) asked for.")
    fallback: bool = Field(description="True when a fallback model answered.")
    finish_reason: str | None = Field(description='Why the reply ended: "stop", "length", ...')
    usage: Usage
    conversation_id: str | None = Field(default=None, description="Conversation streams: the conversation.")
    conversation_usage: Usage | None = Field(default=None, description="Conversation streams: its new totals.")
    context_messages: int | None = Field(default=None, description="Conversation streams: messages sent.")
    dropped_messages: int | None = Field(default=None, description="Conversation streams: messages left out.")


class ErrorEvent(BaseModel):
    """`event: error`: the provider failed part-way; the text so far is incomplete (and not stored)."""

    type: Literal["error"] = Field(description='Always "error".')
    error: "ErrorBody"


# -- conversations ---------------------------------------------------------------------------


class Message(BaseModel):
    """One stored message of a conversation."""

    role: Literal["user", "assistant"] = Field(description="Who wrote it.")
    content: str = Field(description="The text.")
    created_at: float = Field(description="Unix time, in seconds.")
    # Assistant messages only: the tokens of the call that produced this reply (the
    # provider's count), and how much of the history that call was sent.
    usage: Usage | None = Field(default=None, description="Assistant messages: the tokens of the call.")
    context_messages: int | None = Field(
        default=None,
        description="Assistant messages: how many messages (besides the system prompt) the "
        "model was sent to produce this reply.",
    )


class Conversation(BaseModel):
    """A stored conversation: who owns it, how it is set up, its messages and its token totals."""

    id: str = Field(description="The conversation's id, for the URLs below /v1/conversations/.")
    owner: str = Field(description="The user it belongs to: the `sub` of the token that created it.")
    system: str | None = Field(default=None, description="The system prompt, sent with every call.")
    model: str = Field(description="The model that answers in this conversation.")
    created_at: float = Field(description="Unix time, in seconds.")
    messages: list[Message] = Field(default_factory=list, description="Oldest first.")
    usage: Usage = Field(
        default_factory=Usage,
        description="Sum of the provider's counts over every call made for this conversation.",
    )


class CreateConversation(BaseModel):
    """The body of POST /v1/conversations (all optional: `{}` is a valid body)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"system": "You are a terse assistant.", "model": "claude-haiku-4-5"}]},
    )

    system: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_SYSTEM_CHARS,
        description="Optional system prompt, sent with every call of this conversation.",
    )
    model: str = Field(**_MODEL_FIELD)


class AddMessage(BaseModel):
    """The body of POST /v1/conversations/{id}/messages (and of its /stream twin)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"content": "And what is Starlette?"}]})

    content: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS, description="The user's message.")


class ConversationSummary(BaseModel):
    """One entry of GET /v1/conversations."""

    id: str = Field(description="The conversation's id.")
    system: str | None = Field(description="Its system prompt, if any.")
    model: str = Field(description="The model that answers in it.")
    created_at: float = Field(description="Unix time, in seconds.")
    message_count: int = Field(description="Messages stored (user and assistant).")
    usage: Usage


class ConversationList(BaseModel):
    """GET /v1/conversations: the caller's conversations, newest first."""

    model_config = _example(
        {
            "object": "list",
            "data": [
                {
                    "id": "9b1deb4d3b7d4bad9bdd2b0d7b3dcb6d",
                    "system": None,
                    "model": "claude-haiku-4-5",
                    "created_at": 1764150000.0,
                    "message_count": 2,
                    "usage": {"input_tokens": 12, "output_tokens": 48},
                }
            ],
        }
    )

    object: Literal["list"] = Field(default="list", description='Always "list".')
    data: list[ConversationSummary]


class ConversationOut(Conversation):
    """GET /v1/conversations/{id}: the conversation, with its token counts."""

    model_config = _example(
        {
            "id": "9b1deb4d3b7d4bad9bdd2b0d7b3dcb6d",
            "owner": "alice",
            "system": "You are a terse assistant.",
            "model": "claude-haiku-4-5",
            "created_at": 1764150000.0,
            "messages": [
                {"role": "user", "content": "What is FastAPI?", "created_at": 1764150001.0},
                {
                    "role": "assistant",
                    "content": "A Python web framework.",
                    "created_at": 1764150002.0,
                    "usage": {"input_tokens": 20, "output_tokens": 6},
                    "context_messages": 1,
                },
            ],
            "usage": {"input_tokens": 20, "output_tokens": 6},
            "context_tokens": 31,
        }
    )

    context_tokens: int = Field(
        description="Tokens of the whole stored history (system prompt + every message), "
        "counted with litellm.token_counter: what the next call would send without a budget."
    )


class MessageReply(BaseModel):
    """What POST /v1/conversations/{id}/messages answers: the assistant's reply."""

    model_config = _example(
        {
            "conversation_id": "9b1deb4d3b7d4bad9bdd2b0d7b3dcb6d",
            "content": "A Python web framework.",
            "model": "claude-haiku-4-5-20251001",
            "provider": "anthropic",
            "fallback": False,
            "usage": {"input_tokens": 20, "output_tokens": 6},
            "conversation_usage": {"input_tokens": 20, "output_tokens": 6},
            "context_messages": 1,
            "dropped_messages": 0,
        }
    )

    conversation_id: str = Field(description="The conversation the reply was added to.")
    content: str = Field(description="The assistant's reply (also stored in the conversation).")
    model: str = Field(description="The model that answered, as its provider names it.")
    provider: str = Field(description="The provider that answered.")
    fallback: bool = Field(description="True when the conversation's model failed and a fallback answered.")
    usage: Usage = Field(description="This call's tokens, as the provider counted them.")
    conversation_usage: Usage = Field(description="The conversation's totals, this call included.")
    context_messages: int = Field(description="Messages sent to the model (system prompt not counted).")
    dropped_messages: int = Field(description="Oldest messages left out to stay within the token budget.")


# -- the caller ------------------------------------------------------------------------------


class UsageReport(BaseModel):
    """GET /v1/usage: what the caller has used, over every endpoint that calls a model."""

    model_config = _example(
        {"user": "alice", "tier": "premium", "requests": 3, "usage": {"input_tokens": 64, "output_tokens": 210}}
    )

    user: str = Field(description="The caller: the token's `sub`.")
    tier: str = Field(description="The caller's rate limit tier: the token's `tier`.")
    requests: int = Field(ge=0, description="Model calls answered for this user.")
    usage: Usage = Field(description="Tokens over those calls, as the providers counted them.")


# -- health ----------------------------------------------------------------------------------


class Health(BaseModel):
    """GET /health."""

    model_config = _example({"status": "ok"})

    status: Literal["ok"] = Field(description='Always "ok": the process is up and answering.')


class Readiness(BaseModel):
    """GET /ready: ready for traffic, or not and why."""

    model_config = _example({"status": "ready", "checks": {"redis": "ok", "config": "ok"}})

    status: Literal["ready", "unavailable"] = Field(description="Whether to send this instance traffic.")
    checks: dict[str, str] = Field(description='Each dependency: "ok", or what is wrong with it.')


# -- errors ----------------------------------------------------------------------------------


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

    model_config = _example(
        {
            "error": {
                "type": "rate_limited",
                "message": "Rate limit exceeded (5 per 1 minute). Retry after 42 seconds.",
                "request_id": "3f9c2d0e8b7a4c1d9e6f5a4b3c2d1e0f",
            }
        }
    )

    error: ErrorBody


ErrorEvent.model_rebuild()
