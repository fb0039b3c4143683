"""The models each provider's model list advertises.

Any model string is accepted on a generation request (a model whose name, or whose last
``/``-separated part, starts with ``unknown`` or ``does-not-exist`` gets the provider's 404);
these lists are only what ``GET /v1/models`` and ``GET /api/v1/models`` show.
"""

from __future__ import annotations

MISSING_MODEL_PREFIXES = ("unknown", "does-not-exist")


def model_missing(model: str) -> bool:
    return model.rsplit("/", 1)[-1].lower().startswith(MISSING_MODEL_PREFIXES)


# Like the real APIs, Anthropic and OpenAI answer an alias with the dated snapshot that served
# it (ask for "gpt-4o-mini", the response says "gpt-4o-mini-2024-07-18"). So "the model that
# answered" is the response's model, never the one the client asked for. OpenRouter answers
# with the name it was given.
SNAPSHOTS = {
    "claude-haiku-4-5": "claude-haiku-4-5-20251001",
    "claude-sonnet-4-5": "claude-sonnet-4-5-20250929",
    "claude-opus-4-5": "claude-opus-4-5-20251101",
    "gpt-5": "gpt-5-2025-08-07",
    "gpt-5-mini": "gpt-5-mini-2025-08-07",
    "gpt-5-nano": "gpt-5-nano-2025-08-07",
    "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
}


def snapshot(model: str) -> str:
    """The model id Anthropic or OpenAI report for a requested model (its dated snapshot)."""
    return SNAPSHOTS.get(model, model)


# (id, display name, created_at) - current names the installed anthropic SDK does not flag
# as deprecated.
ANTHROPIC_MODELS = [
    ("claude-opus-4-7", "Claude Opus 4.7", "2026-04-16T00:00:00Z"),
    ("claude-sonnet-4-6", "Claude Sonnet 4.6", "2026-02-17T00:00:00Z"),
    ("claude-haiku-4-5", "Claude Haiku 4.5", "2025-10-15T00:00:00Z"),
]

# (id, created, owned_by)
OPENAI_MODELS = [
    ("gpt-5", 1754425777, "system"),
    ("gpt-5-mini", 1754425867, "system"),
    ("gpt-5-nano", 1754426384, "system"),
    ("gpt-4.1-mini", 1744318173, "system"),
    ("gpt-4o", 1715367049, "system"),
    ("gpt-4o-mini", 1721172741, "system"),
]

# (id, name, context_length, prompt $/token, completion $/token, tokenizer)
OPENROUTER_MODELS = [
    ("meta-llama/llama-3.3-70b-instruct", "Meta: Llama 3.3 70B Instruct", 131072, "0.00000013", "0.0000004", "Llama3"),
    ("openai/gpt-4o-mini", "OpenAI: GPT-4o-mini", 128000, "0.00000015", "0.0000006", "GPT"),
    ("openai/gpt-5-mini", "OpenAI: GPT-5 Mini", 400000, "0.00000025", "0.000002", "GPT"),
    ("anthropic/claude-haiku-4.5", "Anthropic: Claude Haiku 4.5", 200000, "0.000001", "0.000005", "Claude"),
    ("anthropic/claude-sonnet-4.6", "Anthropic: Claude Sonnet 4.6", 1000000, "0.000003", "0.000015", "Claude"),
    ("google/gemini-2.5-flash", "Google: Gemini 2.5 Flash", 1048576, "0.0000003", "0.0000025", "Gemini"),
    ("mistralai/mistral-small-3.2-24b-instruct", "Mistral: Mistral Small 3.2 24B", 131072, "0.00000005", "0.0000001", "Mistral"),
]
_OPENROUTER_CREATED = 1733506137


def anthropic_model(model_id: str, display: str | None = None, created: str | None = None) -> dict:
    return {
        "type": "model",
        "id": model_id,
        "display_name": display or model_id,
        "created_at": created or "2025-01-01T00:00:00Z",
        "lifecycle": "active",
        "deprecated_at": None,
        "retires_at": None,
        "max_input_tokens": 200000,
        "max_tokens": 64000,
    }


def anthropic_list() -> dict:
    data = [anthropic_model(*row) for row in ANTHROPIC_MODELS]
    return {"data": data, "has_more": False, "first_id": data[0]["id"], "last_id": data[-1]["id"]}


def anthropic_get(model_id: str) -> dict:
    for row in ANTHROPIC_MODELS:
        if row[0] == model_id:
            return anthropic_model(*row)
    return anthropic_model(model_id)


def openai_model(model_id: str, created: int = 1700000000, owned_by: str = "system") -> dict:
    return {"id": model_id, "object": "model", "created": created, "owned_by": owned_by}


def openai_list() -> dict:
    return {"object": "list", "data": [openai_model(*row) for row in OPENAI_MODELS]}


def openai_get(model_id: str) -> dict:
    for row in OPENAI_MODELS:
        if row[0] == model_id:
            return openai_model(*row)
    return openai_model(model_id)


def openrouter_model(row: tuple) -> dict:
    model_id, name, context, prompt, completion, tokenizer = row
    return {
        "id": model_id,
        "canonical_slug": model_id,
        "name": name,
        "created": _OPENROUTER_CREATED,
        "description": f"{name}, as simulated by llmsim.",
        "context_length": context,
        "architecture": {
            "modality": "text->text",
            "input_modalities": ["text"],
            "output_modalities": ["text"],
            "tokenizer": tokenizer,
            "instruct_type": None,
        },
        "pricing": {
            "prompt": prompt,
            "completion": completion,
            "request": "0",
            "image": "0",
            "web_search": "0",
            "internal_reasoning": "0",
        },
        "top_provider": {"context_length": context, "max_completion_tokens": 16384, "is_moderated": False},
        "per_request_limits": None,
        "supported_parameters": [
            "max_tokens", "temperature", "top_p", "stop", "tools", "tool_choice",
            "response_format", "structured_outputs", "seed",
        ],
    }


def openrouter_list() -> dict:
    return {"data": [openrouter_model(row) for row in OPENROUTER_MODELS]}


def openrouter_cost(model: str, prompt_tokens: int, completion_tokens: int) -> float:
    """The USD cost OpenRouter would report, from the advertised prices (0 if unlisted)."""
    for row in OPENROUTER_MODELS:
        if row[0] == model:
            return round(prompt_tokens * float(row[3]) + completion_tokens * float(row[4]), 10)
    return 0.0
