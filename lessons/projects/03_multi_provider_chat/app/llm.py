# Shared copy: the same code in projects 03, 04, 06 (tests/test_copies.py checks it).
"""The LiteLLM Router: deployments from the environment, fallbacks, and who answered.

One Router for the process. Each model name in app/models_config.py becomes a model group
with one deployment (provider, key, base URL); `fallbacks` tells the Router which groups to
try when a group's call fails. The Router retries, falls back and reports what it did in
the response's hidden parameters, which `answered_by()` reads.
"""

from dataclasses import dataclass
from typing import Any

from litellm import Router

from app.config import Settings
from app.models_config import FALLBACKS, MODELS, MODELS_BY_NAME, ModelConfig


def configured_models(settings: Settings) -> list[ModelConfig]:
    """The models whose provider has an API key in the environment, in MODELS order."""
    raise NotImplementedError("TODO: the models whose provider has a key (README.md)")


def deployment(model: ModelConfig, settings: Settings) -> dict[str, Any]:
    """One entry of the Router's model_list: the model group name and how to call it."""
    raise NotImplementedError("TODO: a model_list entry for this model (README.md)")


def build_router(settings: Settings) -> Router:
    """The Router over every configured model, with fallbacks between providers."""
    raise NotImplementedError("TODO: a Router over the configured models, with fallbacks")


@dataclass(frozen=True)
class Answer:
    """Who answered a call, as the Router's response reports it."""

    model: str  # the provider's name for the model that answered
    model_name: str  # its name in this API (the model group)
    provider: str
    fallback: bool  # True when the requested model failed and another one answered


def answered_by(response: Any, requested: str) -> Answer:
    """Read who answered from a Router response (a ModelResponse, or a stream).

    Never from the request: with a fallback, the model asked for is not the one that
    answered. The Router puts the model group that answered and the number of fallbacks
    it went through in the response's `_hidden_params["additional_headers"]`.
    """
    raise NotImplementedError("TODO: read who answered from response._hidden_params")
