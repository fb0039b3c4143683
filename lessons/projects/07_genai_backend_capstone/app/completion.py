"""One model call, as every route makes it: retries, fallbacks, and our request id sent along.

The chat and conversation routes all call `complete()`; what they send differs, how they
send it does not.
"""

from typing import Any

from fastapi import Request
from litellm import Router

from app.config import get_settings
from app.errors import UnknownModelError, get_request_id
from app.llm import Answer, answered_by, provider_headers
from app.models import Usage
from app.models_config import ModelConfig
from app.resilience import complete_with_fallbacks


def upstream_headers(request: Request) -> dict[str, str]:
    """Headers for the provider call: our request id, so both sides can be correlated."""
    return {}  # TODO: pass this request's id to the provider (README.md)


async def complete(
    request: Request,
    router: Router,
    models: dict[str, ModelConfig],
    requested: str,
    messages: list[dict[str, str]],
    **params: Any,
) -> tuple[Any, Answer]:
    """One model call with retries and fallbacks (app/resilience.py); the result and who answered.

    With `stream=True` only opening the stream is retried: once tokens are sent, a retry
    would repeat them.
    """
    if requested not in models:
        raise UnknownModelError(requested, list(models))
    if params.get("stream"):
        # Ask for a last chunk with the token counts (LiteLLM passes it on for every provider).
        params["stream_options"] = {"include_usage": True}
    response, model_name = await complete_with_fallbacks(
        get_settings(),
        models,
        requested,
        lambda model_name: router.acompletion(
            model=model_name,  # a model group name: the Router calls its deployment
            messages=messages,
            # The provider sees our request id: one id across both sides' logs.
            extra_headers={**provider_headers(model_name, get_settings()), **upstream_headers(request)},
            **params,
        ),
    )
    return response, answered_by(response, model_name, requested)


def usage_of(response: Any) -> Usage:
    """The provider's token counts of a whole (not streamed) reply."""
    return Usage(input_tokens=response.usage.prompt_tokens, output_tokens=response.usage.completion_tokens)
