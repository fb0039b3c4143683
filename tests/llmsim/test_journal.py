"""The request journal: fields, the cancelled outcome, and that no secret ever gets in."""

import json
import time

import anthropic
import httpx
import litellm
import openai
import pytest
from conftest import OPENAI_KEY, user

SECRET = "sk-live-SECRET-do-not-log-7f3a9c"


def test_entry_fields(sim, anthropic_client):
    # anthropic 2.x has no temperature argument any more; send it as an extra body field.
    anthropic_client.messages.create(model="claude-sonnet-4-6", max_tokens=77, extra_body={"temperature": 0.3},
                                     system="Be kind.", messages=user("journal me"),
                                     metadata={"user_id": "u-1"})
    entry = sim.client.requests()[-1]
    assert entry["provider"] == "anthropic" and entry["path"] == "/v1/messages"
    assert entry["model"] == "claude-sonnet-4-6" and entry["stream"] is False
    assert entry["messages"] == user("journal me") and entry["system"] == "Be kind."
    assert entry["max_tokens"] == 77 and entry["temperature"] == 0.3
    assert entry["params"] == {"metadata": {"user_id": "u-1"}}
    assert entry["status"] == 200 and entry["outcome"] == "ok"
    assert entry["started_at"] <= entry["ended_at"] <= time.time()
    assert entry["input_tokens"] > 0 and entry["output_tokens"] > 0
    assert entry["reply"].startswith('llmsim reply to "journal me"')


def test_openai_system_and_tools_in_journal(sim, openai_client):
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
    openai_client.chat.completions.create(
        model="gpt-5-mini", messages=[{"role": "developer", "content": "Rules."}] + user("x"), tools=[tool])
    entry = sim.client.requests(provider="openai")[-1]
    assert entry["system"] == "Rules." and entry["tools"] == [tool]
    assert entry["tool_call"]["name"] == "lookup" and entry["stop_reason"] == "tool_calls"


def test_filters(sim, openai_client, anthropic_client):
    openai_client.chat.completions.create(model="gpt-4o-mini", messages=user("a"))
    anthropic_client.messages.create(model="claude-haiku-4-5", max_tokens=5, messages=user("b"))
    assert [e["provider"] for e in sim.client.requests(provider="openai")] == ["openai"]
    assert [e["path"] for e in sim.client.requests(path="/v1/messages")] == ["/v1/messages"]
    assert sim.client.requests(outcome="cancelled") == []
    assert len(sim.client.requests(stream=False)) == 2


@pytest.mark.timeout(15)
def test_client_disconnect_mid_stream_is_cancelled(sim):
    sim.client.config(token_delay_ms=30)
    body = {"model": "gpt-4o-mini", "stream": True, "messages": user("a question long enough to stream a while")}
    with httpx.Client(timeout=5) as client, client.stream(
            "POST", sim.url + "/v1/chat/completions", json=body,
            headers={"Authorization": f"Bearer {OPENAI_KEY}"}) as response:
        events = []
        for line in response.iter_lines():
            if line.startswith("data: "):
                events.append(line)
            if len(events) == 2:
                break
    # The response is closed: the server must notice and stop streaming.
    entry = sim.client.wait_for(provider="openai", timeout=3)
    assert entry["outcome"] == "cancelled"
    assert 1 <= entry["tokens_streamed"] < entry["output_tokens"]
    assert entry["ended_at"] - entry["started_at"] < 2  # stopped early, not after every token


@pytest.mark.timeout(15)
def test_sdk_stream_closed_early_is_cancelled(sim, anthropic_client):
    sim.client.config(token_delay_ms=30)
    with anthropic_client.messages.stream(model="claude-haiku-4-5", max_tokens=500,
                                          messages=user("tell me a long story please")) as stream:
        for index, _ in enumerate(stream.text_stream):
            if index == 1:
                break
    entry = sim.client.wait_for(provider="anthropic", timeout=3)
    assert entry["outcome"] == "cancelled" and entry["tokens_streamed"] < entry["output_tokens"]


def test_no_api_key_ever_reaches_the_journal(sim):
    with anthropic.Anthropic(api_key=SECRET, base_url=sim.url, max_retries=0) as a:
        a.messages.create(model="claude-haiku-4-5", max_tokens=5, messages=user("hi"))
        with a.messages.stream(model="claude-haiku-4-5", max_tokens=5, messages=user("hi")) as s:
            s.get_final_message()
        a.models.list()
        a.messages.count_tokens(model="claude-haiku-4-5", messages=user("hi"))
    with openai.OpenAI(api_key=SECRET, base_url=sim.url + "/v1", max_retries=0) as o:
        o.chat.completions.create(model="gpt-4o-mini", messages=user("hi"))
    with openai.OpenAI(api_key=SECRET, base_url=sim.url + "/api/v1", max_retries=0) as r:
        r.chat.completions.create(model="x/y", messages=user("hi"))
    litellm.completion(model="anthropic/claude-haiku-4-5", api_base=sim.url, api_key=SECRET,
                       messages=user("hi"), max_tokens=5)  # sends x-api-key
    # Keys in odd places: an api-key header, a body field, another header's value.
    httpx.post(sim.url + "/v1/chat/completions", headers={"api-key": SECRET, "x-debug": f"key={SECRET}"},
               json={"model": "gpt-4o-mini", "messages": user("hi"), "api_key": SECRET,
                     "metadata": {"token": SECRET}})
    # A refused key is a secret too.
    httpx.post(sim.url + "/v1/messages", headers={"x-api-key": "invalid-" + SECRET},
               json={"model": "claude-haiku-4-5", "max_tokens": 5, "messages": user("hi")})
    entries = sim.client.requests()
    assert len(entries) == 9
    text = json.dumps(entries)
    assert SECRET not in text
    assert "SECRET" not in text
    assert all(e["headers"].get("authorization", "[redacted]") == "[redacted]" for e in entries)
    assert entries[-2]["params"]["api_key"] == "[redacted]"
    assert any(e["headers"].get("x-api-key") == "[redacted]" for e in entries)
