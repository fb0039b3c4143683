"""The API's request and response bodies (they are also what /docs shows), and the stored records."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.models_config import DEFAULT_MODEL

# Input limits: bound everything a client controls, so one request cannot cost
# arbitrarily much (tokens are money) or take arbitrarily long.
MAX_MESSAGE_CHARS = 8000
MAX_SYSTEM_CHARS = 4000


class Usage(BaseModel):
    """Tokens the provider counted (what it bills)."""

    input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)


class Message(BaseModel):
    """One stored message of a conversation."""

    role: Literal["user", "assistant"]
    content: str
    created_at: float = Field(description="Unix time, in seconds.")
    # Assistant messages only: the tokens of the call that produced this reply (the
    # provider's count), and how much of the history that call was sent.
    usage: Usage | None = None
    context_messages: int | None = Field(
        default=None,
        description="Assistant messages: how many messages (besides the system prompt) the "
        "model was sent to produce this reply.",
    )


class Conversation(BaseModel):
    """A stored conversation: who owns it, how it is set up, its messages and its token totals."""

    id: str
    owner: str
    system: str | None = None
    model: str
    created_at: float
    messages: list[Message] = Field(default_factory=list)
    usage: Usage = Field(
        default_factory=Usage,
        description="Sum of the provider's counts over every call made for this conversation.",
    )


class CreateConversation(BaseModel):
    """The body of POST /v1/conversations (all optional: `{}` is a valid body)."""

    model_config = ConfigDict(extra="forbid")

    system: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_SYSTEM_CHARS,
        description="Optional system prompt, sent with every call of this conversation.",
    )
    model: str = Field(
        default=DEFAULT_MODEL,
        min_length=1,
        max_length=200,
        description="The model that answers in this conversation: one of GET /v1/models.",
    )


class AddMessage(BaseModel):
    """The body of POST /v1/conversations/{id}/messages."""

    model_config = ConfigDict(extra="forbid")

    content: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS, description="The user's message.")


class ConversationSummary(BaseModel):
    """One entry of GET /v1/conversations."""

    id: str
    system: str | None
    model: str
    created_at: float
    message_count: int
    usage: Usage


class ConversationList(BaseModel):
    object: str = "list"
    data: list[ConversationSummary]


class ConversationOut(Conversation):
    """GET /v1/conversations/{id}: the conversation, with its token counts."""

    context_tokens: int = Field(
        description="Tokens of the whole stored history (system prompt + every message), "
        "counted with litellm.token_counter: what the next call would send without a budget."
    )


class MessageReply(BaseModel):
    """What POST /v1/conversations/{id}/messages answers: the assistant's reply."""

    conversation_id: str
    content: str = Field(description="The assistant's reply (also stored in the conversation).")
    model: str = Field(description="The model that answered, as its provider names it.")
    provider: str
    fallback: bool
    usage: Usage = Field(description="This call's tokens, as the provider counted them.")
    conversation_usage: Usage = Field(description="The conversation's totals, this call included.")
    context_messages: int = Field(description="Messages sent to the model (system prompt not counted).")
    dropped_messages: int = Field(description="Oldest messages left out to stay within the token budget.")


class ModelInfo(BaseModel):
    id: str
    provider: str


class ModelList(BaseModel):
    object: str = "list"
    data: list[ModelInfo]


class ErrorBody(BaseModel):
    """The inside of every error response."""

    type: str = Field(description="Stable, machine-readable error kind, e.g. not_found.")
    message: str = Field(description="What went wrong, for people. Never a stack trace or a secret.")
    request_id: str = Field(description="Also in the X-Request-ID header; quote it in bug reports.")
    details: list[dict[str, Any]] | None = None


class ErrorResponse(BaseModel):
    """Every error this API returns has this one shape: {"error": {...}}."""

    error: ErrorBody
