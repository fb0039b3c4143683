# Shared copy: the same code in projects 06, 07 (tests/test_copies.py checks it).
"""What the model is sent: the system prompt, as much history as the token budget allows, the new message.

The rule (README.md, "Memory management"):

1. The system prompt is always sent, and the newest user message is always sent.
2. The stored history is whole turns (a user message and the assistant's reply). While
   system prompt + history + new message is over `HISTORY_TOKEN_BUDGET` tokens, the oldest
   turn (both its messages) is left out.
3. When even system prompt + new message is over the budget, they are sent alone: the
   budget limits history, never the question itself.

Tokens are counted with `litellm.token_counter`, the tokenizer LiteLLM picks for the model
(the same count the course's simulator reports; a real provider's count differs a little,
which is why the budget should stay well below the model's context window).
"""

from collections.abc import Callable

import litellm

from app.models import Message

ChatMessage = dict[str, str]


def count_tokens(messages: list[ChatMessage], model: str = "gpt-4o-mini") -> int:
    """Input tokens of a list of chat messages, by LiteLLM's tokenizer for ``model``."""
    return litellm.token_counter(model=model, messages=messages)


def to_chat(messages: list[Message]) -> list[ChatMessage]:
    """Stored messages in the OpenAI format LiteLLM takes for every provider."""
    return [{"role": m.role, "content": m.content} for m in messages]


def build_context(
    system: str | None,
    history: list[Message],
    new_message: str,
    budget: int,
    counter: Callable[[list[ChatMessage]], int] = count_tokens,
) -> tuple[list[ChatMessage], int]:
    """(messages to send, how many history messages were left out), by the rule above."""
    # TODO: the system prompt (if any), the history, the new user message; while over
    # the budget, leave out the oldest user+assistant pair (README.md, "Memory management").
    raise NotImplementedError("TODO: build_context")
