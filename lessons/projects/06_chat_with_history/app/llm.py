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
    return [m for m in MODELS if settings.api_key(m.provider)]


def deployment(model: ModelConfig, settings: Settings) -> dict[str, Any]:
    """One entry of the Router's model_list: the model group name and how to call it."""
    params: dict[str, Any] = {
        "model": model.litellm_model,
        "api_key": settings.api_key(model.provider),
    }
    base_url = {
        "anthropic": settings.anthropic_base_url,
        "openai": settings.openai_base_url,
        "openrouter": settings.openrouter_api_base,
    }[model.provider]
    if base_url:  # unset: LiteLLM's default, the provider's real API
        params["api_base"] = base_url
    if model.provider == "openrouter":
        # OpenRouter attributes each request to an app by these two headers.
        params["extra_headers"] = {
            "HTTP-Referer": settings.openrouter_site_url,
            "X-Title": settings.openrouter_app_name,
        }
    return {"model_name": model.name, "litellm_params": params}


def build_router(settings: Settings) -> Router:
    """The Router over every configured model, with fallbacks between providers."""
    models = configured_models(settings)
    names = {m.name for m in models}
    # Fallbacks only to models that are configured (a provider without a key is left out).
    fallbacks = [
        {name: [f for f in FALLBACKS.get(name, []) if f in names]}
        for name in sorted(names)
        if any(f in names for f in FALLBACKS.get(name, []))
    ]
    return Router(
        model_list=[deployment(m, settings) for m in models],
        fallbacks=fallbacks,
        num_retries=settings.llm_num_retries,
        timeout=settings.llm_timeout_s,
        stream_timeout=settings.llm_timeout_s,
    )


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
    hidden = getattr(response, "_hidden_params", None) or {}
    headers = hidden.get("additional_headers") or {}
    group = headers.get("x-litellm-model-group") or requested
    attempted_fallbacks = int(headers.get("x-litellm-attempted-fallbacks") or 0)
    config = MODELS_BY_NAME.get(group)
    # "openai/gpt-4o-mini" -> provider "openai", model "gpt-4o-mini"
    litellm_model = hidden.get("litellm_model_name") or (config.litellm_model if config else group)
    provider, _, provider_model = litellm_model.partition("/")
    if config is not None:
        provider = config.provider
    # A full response names the model the provider says answered; a stream knows it only
    # once its chunks arrive, so it reports the deployment's model id.
    model = getattr(response, "model", None) or provider_model or group
    return Answer(
        model=model,
        model_name=group,
        provider=provider,
        fallback=attempted_fallbacks > 0 or group != requested,
    )
