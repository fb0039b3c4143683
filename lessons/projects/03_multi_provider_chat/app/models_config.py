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


# TODO: one ModelConfig per model in README.md's table, named the LiteLLM way.
MODELS: tuple[ModelConfig, ...] = ()

# What a request without "model" gets: the primary model.
DEFAULT_MODEL = "claude-haiku-4-5"

# TODO: for each model name, the names to try, in order, when its provider fails
# (README.md, "Fallbacks").
FALLBACKS: dict[str, list[str]] = {}

MODELS_BY_NAME: dict[str, ModelConfig] = {m.name: m for m in MODELS}
