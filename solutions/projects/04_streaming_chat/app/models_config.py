# Shared copy: the same code in projects 03, 04, 06 (tests/test_copies.py checks it).
"""The one place that names models: what clients may ask for, and who serves it.

A client sends a *model name* (`"model": "gpt-4o-mini"`); the Router knows each name as a
*model group* and calls the *deployment* behind it, named the LiteLLM way:
`<provider>/<the provider's own model id>`. The prefix picks the provider's API (and its
request format, key and base URL); the rest is passed to that API unchanged, slashes and
all, which is why an OpenRouter model reads `openrouter/meta-llama/llama-3.3-70b-instruct`.

Changing provider is changing the name a client sends; adding a model is one line here.
"""

from dataclasses import dataclass

PROVIDERS = ("anthropic", "openai", "openrouter")


@dataclass(frozen=True)
class ModelConfig:
    name: str  # what clients send in "model", and the Router's model group name
    provider: str  # one of PROVIDERS
    litellm_model: str  # "<provider>/<provider's model id>", what LiteLLM calls


MODELS: tuple[ModelConfig, ...] = (
    ModelConfig("claude-haiku-4-5", "anthropic", "anthropic/claude-haiku-4-5"),
    ModelConfig("gpt-4o-mini", "openai", "openai/gpt-4o-mini"),
    ModelConfig("llama-3.3-70b", "openrouter", "openrouter/meta-llama/llama-3.3-70b-instruct"),
)

# What a request without "model" gets: the primary model.
DEFAULT_MODEL = "claude-haiku-4-5"

# When a model's provider fails, the Router tries these, in order. Every model falls back
# to the other providers, so one provider's outage never takes the API down.
FALLBACKS: dict[str, list[str]] = {
    "claude-haiku-4-5": ["gpt-4o-mini", "llama-3.3-70b"],
    "gpt-4o-mini": ["claude-haiku-4-5", "llama-3.3-70b"],
    "llama-3.3-70b": ["gpt-4o-mini", "claude-haiku-4-5"],
}

MODELS_BY_NAME: dict[str, ModelConfig] = {m.name: m for m in MODELS}
