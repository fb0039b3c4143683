"""litellm against llmsim: each provider prefix reaches its route; Router fallbacks; streams."""

import asyncio

import litellm
import pytest
from conftest import ANTHROPIC_KEY, OPENAI_KEY, OPENROUTER_KEY, user

from llmsim import tokens


def _routes(sim):
    return {
        "anthropic": dict(model="anthropic/claude-haiku-4-5", api_base=sim.url, api_key=ANTHROPIC_KEY),
        "openai": dict(model="openai/gpt-4o-mini", api_base=sim.url + "/v1", api_key=OPENAI_KEY),
        "openrouter": dict(model="openrouter/meta-llama/llama-3.3-70b-instruct", api_base=sim.url + "/api/v1",
                           api_key=OPENROUTER_KEY),
    }


PATHS = {"anthropic": "/v1/messages", "openai": "/v1/chat/completions", "openrouter": "/api/v1/chat/completions"}


@pytest.mark.parametrize("provider", ["anthropic", "openai", "openrouter"])
def test_completion_reaches_the_right_route(sim, provider):
    response = litellm.completion(messages=user(f"via {provider}"), max_tokens=100, **_routes(sim)[provider])
    assert response.choices[0].message.content == f'llmsim reply to "via {provider}" (messages: 1, system prompt: no)'
    entries = sim.client.requests()
    assert [(e["provider"], e["path"]) for e in entries] == [(provider, PATHS[provider])]
    assert response.usage.completion_tokens == entries[0]["output_tokens"]


@pytest.mark.parametrize("provider", ["anthropic", "openai", "openrouter"])
def test_acompletion_and_streaming(sim, provider):
    route = _routes(sim)[provider]

    async def run():
        plain = await litellm.acompletion(messages=user("async"), max_tokens=100, **route)
        stream = await litellm.acompletion(messages=user("async"), max_tokens=100, stream=True, **route)
        pieces = [chunk.choices[0].delta.content async for chunk in stream]
        return plain, pieces

    plain, pieces = asyncio.run(run())
    streamed = "".join(p for p in pieces if p)
    assert streamed == plain.choices[0].message.content
    assert sum(1 for p in pieces if p) == tokens.count(streamed)
    assert [e["stream"] for e in sim.client.requests(provider=provider)] == [False, True]


def test_router_falls_back_from_faulted_anthropic_to_openai(sim):
    sim.client.add_fault(provider="anthropic", kind="http", status=529)
    router = litellm.Router(
        model_list=[
            {"model_name": "primary", "litellm_params": _routes(sim)["anthropic"]},
            {"model_name": "backup", "litellm_params": _routes(sim)["openai"]},
        ],
        fallbacks=[{"primary": ["backup"]}],
        num_retries=0,
    )
    response = router.completion(model="primary", messages=user("fallback please"), max_tokens=50)
    assert response.choices[0].message.content.startswith('llmsim reply to "fallback please"')
    entries = sim.client.requests()
    assert [(e["provider"], e["status"], e["outcome"]) for e in entries] == [
        ("anthropic", 529, "fault"), ("openai", 200, "ok")]


def test_token_counter_agrees_with_usage(sim):
    messages = [{"role": "system", "content": "You are helpful."},
                {"role": "user", "content": "How many tokens is this sentence?"}]
    response = litellm.completion(messages=messages, **_routes(sim)["openai"])
    counted = litellm.token_counter(model="gpt-3.5-turbo", messages=messages)
    assert counted == response.usage.prompt_tokens == tokens.count_input(messages)


def test_litellm_error_classes(sim):
    sim.client.add_fault(provider="anthropic", kind="http", status=429, times=1)
    with pytest.raises(litellm.RateLimitError):
        litellm.completion(messages=user("hi"), max_tokens=10, num_retries=0, **_routes(sim)["anthropic"])
    sim.client.add_fault(provider="openai", kind="http", status=401, times=1)
    with pytest.raises(litellm.AuthenticationError):
        litellm.completion(messages=user("hi"), num_retries=0, **_routes(sim)["openai"])
