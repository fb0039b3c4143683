"""The LiteLLM Router: one deployment per configured model, and who answered.

One Router for the process. Each model name in app/models_config.py becomes a model group
with one deployment (provider, key, base URL). The Router itself neither retries nor falls
back: app/resilience.py owns both (retries with back-off on one model, then the next model
in FALLBACKS), so the whole policy is in one file and every attempt shows in the logs.
"""

from dataclasses import dataclass
from typing import Any

from litellm import Router

from app.config import Settings
from app.models_config import MODELS, MODELS_BY_NAME, ModelConfig


def configured_models(settings: Settings) -> list[ModelConfig]:
    """The models whose provider has an API key in the environment, in MODELS order."""
    return [m for m in MODELS if settings.api_key(m.provider)]


def deployment(model: ModelConfig, settings: Settings) -> dict[str, Any]:
    """One entry of the Router's model_list: the model group name and how to call it."""
    params: dict[str, Any] = {
        "model": model.litellm_model,
        "api_key": settings.api_key(model.provider),
        "max_retries": 0,  # the SDK's own retries off: app/resilience.py is the policy
    }
    base_url = {
        "anthropic": settings.anthropic_base_url,
        "openai": settings.openai_base_url,
        "openrouter": settings.openrouter_api_base,
    }[model.provider]
    if base_url:  # unset: LiteLLM's default, the provider's real API
        params["api_base"] = base_url
    if model.provider == "openrouter":
        params["extra_headers"] = provider_headers(model.name, settings)
    return {"model_name": model.name, "litellm_params": params}


def provider_headers(model_name: str, settings: Settings) -> dict[str, str]:
    """Headers every call of this model carries: OpenRouter attributes each request to an app
    by HTTP-Referer and X-Title. A call's own `extra_headers` replace the deployment's, so
    app/completion.py merges these into each call's headers."""
    if MODELS_BY_NAME[model_name].provider != "openrouter":
        return {}
    return {"HTTP-Referer": settings.openrouter_site_url, "X-Title": settings.openrouter_app_name}


def build_router(settings: Settings) -> Router:
    """The Router over every configured model, with no retries or fallbacks of its own."""
    return Router(
        model_list=[deployment(m, settings) for m in configured_models(settings)],
        num_retries=0,
        # No cooldowns: after a few failures (at once, after a 401) the Router would take a
        # deployment out of rotation for a while, and with one deployment per model every
        # call to that model would fail with "no deployments available" (a ValueError, so
        # a 500) without reaching the provider. Whether to try again is our policy's call.
        disable_cooldowns=True,
        timeout=settings.llm_timeout_s,
        stream_timeout=settings.llm_timeout_s,
    )


@dataclass(frozen=True)
class Answer:
    """Who answered a call."""

    model: str  # the provider's name for the model that answered
    model_name: str  # its name in this API (the model group)
    provider: str
    fallback: bool  # True when the requested model failed and another one answered


def answered_by(response: Any, model_name: str, requested: str) -> Answer:
    """Who answered: `model_name` is the model group app/resilience.py ended up calling.

    The model comes from the response (the provider's own name for it, a dated snapshot
    such as claude-haiku-4-5-20251001), never from the request. A stream knows it only
    once its chunks arrive, so until then it is the deployment's model id.
    """
    config = MODELS_BY_NAME[model_name]
    provider_model = config.litellm_model.partition("/")[2]
    return Answer(
        model=getattr(response, "model", None) or provider_model,
        model_name=model_name,
        provider=config.provider,
        fallback=model_name != requested,
    )
