"""The course's chat models (each project README's table) and how a reply names them."""

from __future__ import annotations

from llmsim.catalog import snapshot

# The spec (README.md): model name -> (provider, the provider's model id).
MODELS = {
    "claude-haiku-4-5": ("anthropic", "claude-haiku-4-5"),
    "gpt-4o-mini": ("openai", "gpt-4o-mini"),
    "llama-3.3-70b": ("openrouter", "meta-llama/llama-3.3-70b-instruct"),
}


NAME_OF = {provider: name for name, (provider, _) in MODELS.items()}


DEFAULT_MODEL = "claude-haiku-4-5"


def matches_model(reported: object, name: str) -> bool:
    """Whether a reported model names the model ``name`` (its name, provider id or LiteLLM id)."""
    provider, model_id = MODELS[name]
    answered = snapshot(model_id)  # the dated id the provider's response names
    return isinstance(reported, str) and reported in {
        name, model_id, f"{provider}/{model_id}", answered, f"{provider}/{answered}"
    }


def name_of_entry(entry: dict) -> str | None:
    for name, (provider, model_id) in MODELS.items():
        if entry.get("provider") == provider and entry.get("model") == model_id:
            return name
    return NAME_OF.get(entry.get("provider"))
