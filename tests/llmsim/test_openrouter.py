"""OpenRouter's OpenAI-compatible API, through the openai SDK and raw HTTP."""

import openai
import pytest
from conftest import OPENROUTER_KEY, user

MODEL = "meta-llama/llama-3.3-70b-instruct"


def test_create_has_openrouter_fields(openrouter_client, http):
    completion = openrouter_client.chat.completions.create(model=MODEL, messages=user("hola"))
    assert completion.id.startswith("gen-")
    assert completion.choices[0].message.content == 'llmsim reply to "hola" (messages: 1, system prompt: no)'
    raw = http.post("/api/v1/chat/completions", json={"model": MODEL, "messages": user("hola")},
                    headers={"Authorization": f"Bearer {OPENROUTER_KEY}"}).json()
    assert raw["provider"] == "llmsim"
    assert raw["choices"][0]["native_finish_reason"] == "stop"
    # Cost from the advertised prices of a listed model.
    usage = raw["usage"]
    assert usage["cost"] == pytest.approx(usage["prompt_tokens"] * 0.00000013 + usage["completion_tokens"] * 0.0000004)


def test_attribution_headers_are_journalled(sim, openrouter_client):
    openrouter_client.chat.completions.create(
        model=MODEL, messages=user("hi"),
        extra_headers={"HTTP-Referer": "https://course.example", "X-Title": "GenAI course"})
    entry = sim.client.requests(provider="openrouter")[-1]
    assert entry["path"] == "/api/v1/chat/completions"
    assert entry["headers"]["http-referer"] == "https://course.example"
    assert entry["headers"]["x-title"] == "GenAI course"


def test_stream(openrouter_client):
    chunks = list(openrouter_client.chat.completions.create(
        model=MODEL, messages=user("hi"), stream=True, stream_options={"include_usage": True}))
    assert all(c.id.startswith("gen-") for c in chunks)
    assert chunks[-1].usage.completion_tokens > 0


def test_models_in_openrouter_shape(http):
    # OpenRouter's model list is public: no key.
    response = http.get("/api/v1/models")
    assert response.status_code == 200
    models = response.json()["data"]
    llama = next(m for m in models if m["id"] == MODEL)
    assert llama["name"] and llama["context_length"] > 0
    assert float(llama["pricing"]["prompt"]) > 0 and float(llama["pricing"]["completion"]) > 0


def test_error_shape_and_classes(sim, openrouter_client):
    sim.client.add_fault(provider="openrouter", kind="http", status=429, times=1)
    with pytest.raises(openai.RateLimitError) as caught:
        openrouter_client.chat.completions.create(model=MODEL, messages=user("hi"))
    assert caught.value.body["code"] == 429  # OpenRouter: the status as an int code
    assert caught.value.response.headers["retry-after"] == "1"
    assert caught.value.response.headers["x-request-id"] == sim.client.requests()[-1]["id"]


def test_midstream_error_chunk(sim, openrouter_client):
    sim.client.add_fault(provider="openrouter", kind="midstream", status=502, after_tokens=1)
    with pytest.raises(openai.APIError) as caught:
        list(openrouter_client.chat.completions.create(model=MODEL, messages=user("hi"), stream=True))
    assert caught.value.body["code"] == 502


def test_faults_are_per_provider(sim, openai_client, openrouter_client):
    sim.client.add_fault(provider="openrouter", kind="http", status=500)
    assert openai_client.chat.completions.create(model="gpt-4o-mini", messages=user("hi")).choices
    with pytest.raises(openai.InternalServerError):
        openrouter_client.chat.completions.create(model=MODEL, messages=user("hi"))
