"""The real anthropic SDK against llmsim: messages, streams, tokens, models, errors, retries."""

import time

import anthropic
import pytest
from conftest import ANTHROPIC_KEY, user

from llmsim import tokens

MODEL = "claude-haiku-4-5"


def test_create_reflects_what_the_model_saw(anthropic_client, sim):
    conversation = [
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": "What is FastAPI?"},
    ]
    message = anthropic_client.messages.create(model=MODEL, max_tokens=200, messages=conversation)
    text = message.content[0].text
    assert text == 'llmsim reply to "What is FastAPI?" (messages: 3, system prompt: no)'
    assert message.stop_reason == "end_turn"
    assert message.model == "claude-haiku-4-5-20251001"  # the snapshot behind the alias
    assert message.usage.output_tokens == tokens.count(text)
    assert message.usage.input_tokens == tokens.count_input(conversation)
    assert message.id.startswith("msg_")


def test_system_prompt_is_visible(anthropic_client):
    message = anthropic_client.messages.create(
        model=MODEL, max_tokens=200, system="You are terse.", messages=user("hi")
    )
    assert "system prompt: yes" in message.content[0].text


def test_max_tokens_truncates_with_stop_reason(anthropic_client):
    full = anthropic_client.messages.create(model=MODEL, max_tokens=500, messages=user("a long question"))
    cut = anthropic_client.messages.create(model=MODEL, max_tokens=4, messages=user("a long question"))
    assert cut.stop_reason == "max_tokens"
    assert cut.usage.output_tokens == 4
    assert full.content[0].text.startswith(cut.content[0].text)
    assert len(cut.content[0].text) < len(full.content[0].text)


def test_stream_text_and_final_message(anthropic_client, sim):
    with anthropic_client.messages.stream(model=MODEL, max_tokens=200, messages=user("stream me")) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    text = "".join(pieces)
    assert text == 'llmsim reply to "stream me" (messages: 1, system prompt: no)'
    # One event per token.
    assert len(pieces) == tokens.count(text) == final.usage.output_tokens
    assert final.content[0].text == text
    assert final.stop_reason == "end_turn"
    entry = sim.client.requests(path="/v1/messages")[-1]
    assert entry["stream"] is True and entry["tokens_streamed"] == len(pieces) and entry["outcome"] == "ok"


def test_stream_raw_event_sequence(anthropic_client):
    events = [e.type for e in anthropic_client.messages.create(
        model=MODEL, max_tokens=3, messages=user("events"), stream=True)]
    assert events == [
        "message_start", "content_block_start",
        "content_block_delta", "content_block_delta", "content_block_delta",
        "content_block_stop", "message_delta", "message_stop",
    ]  # the SDK drops the ping


def test_count_tokens(anthropic_client):
    messages = user("count these words, please")
    counted = anthropic_client.messages.count_tokens(model=MODEL, messages=messages, system="sys")
    assert counted.input_tokens == tokens.count_input(messages, "sys")
    created = anthropic_client.messages.create(model=MODEL, max_tokens=5, messages=messages, system="sys")
    assert created.usage.input_tokens == counted.input_tokens


def test_models_list(anthropic_client):
    models = list(anthropic_client.models.list())
    ids = [m.id for m in models]
    assert "claude-haiku-4-5" in ids and "claude-sonnet-4-6" in ids
    assert all(m.type == "model" and m.display_name for m in models)
    assert anthropic_client.models.retrieve("claude-sonnet-4-6").display_name == "Claude Sonnet 4.6"
    with pytest.raises(anthropic.NotFoundError):
        anthropic_client.models.retrieve("unknown-model")


def test_tool_use(anthropic_client):
    tools = [{
        "name": "get_weather",
        "description": "Weather for a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"},
                                                          "days": {"type": "integer", "minimum": 2}},
                         "required": ["city"]},
    }]
    message = anthropic_client.messages.create(model=MODEL, max_tokens=200, tools=tools,
                                               messages=user("weather in Paris?"))
    assert message.stop_reason == "tool_use"
    block = message.content[0]
    assert block.type == "tool_use" and block.name == "get_weather"
    assert isinstance(block.input["city"], str) and block.input["days"] >= 2
    # Answer the tool: the model then replies in text, so an agent loop ends.
    follow_up = user("weather in Paris?") + [
        {"role": "assistant", "content": [block.model_dump(include={"type", "id", "name", "input"})]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": block.id, "content": "sunny"}]},
    ]
    final = anthropic_client.messages.create(model=MODEL, max_tokens=200, tools=tools, messages=follow_up)
    assert final.stop_reason == "end_turn"
    assert final.content[0].text.startswith('llmsim reply to tool result "sunny"')
    # Streamed tool use accumulates to the same input.
    with anthropic_client.messages.stream(model=MODEL, max_tokens=200, tools=tools,
                                          messages=user("weather in Paris?")) as stream:
        streamed = stream.get_final_message()
    assert streamed.content[0].input == block.input


ERROR_CLASSES = [
    (400, anthropic.BadRequestError, "invalid_request_error"),
    (401, anthropic.AuthenticationError, "authentication_error"),
    (403, anthropic.PermissionDeniedError, "permission_error"),
    (404, anthropic.NotFoundError, "not_found_error"),
    (413, anthropic.ContentTooLargeError, "request_too_large"),
    (429, anthropic.RateLimitError, "rate_limit_error"),
    (500, anthropic.InternalServerError, "api_error"),
    (529, anthropic.OverloadedError, "overloaded_error"),
]


@pytest.mark.parametrize(("status", "exc_class", "error_type"), ERROR_CLASSES)
def test_fault_status_raises_sdk_class(anthropic_client, sim, status, exc_class, error_type):
    sim.client.add_fault(provider="anthropic", kind="http", status=status, times=1)
    with pytest.raises(exc_class) as caught:
        anthropic_client.messages.create(model=MODEL, max_tokens=10, messages=user("hi"))
    error = caught.value
    assert error.status_code == status
    assert error.body["type"] == "error" and error.body["error"]["type"] == error_type
    entry = sim.client.requests(provider="anthropic")[-1]
    assert error.request_id == entry["id"]
    assert entry["outcome"] == "fault" and entry["status"] == status
    # times=1: the next request is answered.
    assert anthropic_client.messages.create(model=MODEL, max_tokens=10, messages=user("hi")).content


def test_overloaded_is_an_internal_server_error_subclass():
    # Code that catches InternalServerError also catches the 529.
    assert issubclass(anthropic.OverloadedError, anthropic.InternalServerError)


def test_invalid_key_and_unknown_model(sim):
    with anthropic.Anthropic(api_key="invalid-key", base_url=sim.url, max_retries=0) as bad, \
            pytest.raises(anthropic.AuthenticationError):
        bad.messages.create(model=MODEL, max_tokens=10, messages=user("hi"))
    with anthropic.Anthropic(api_key=ANTHROPIC_KEY, base_url=sim.url, max_retries=0) as good, \
            pytest.raises(anthropic.NotFoundError) as caught:
        good.messages.create(model="does-not-exist-1", max_tokens=10, messages=user("hi"))
    assert caught.value.body["error"]["type"] == "not_found_error"


def test_sdk_retries_429_honouring_retry_after(sim):
    sim.client.add_fault(provider="anthropic", kind="http", status=429, times=2, retry_after=0.2)
    with anthropic.Anthropic(api_key=ANTHROPIC_KEY, base_url=sim.url, max_retries=2) as client:
        started = time.monotonic()
        message = client.messages.create(model=MODEL, max_tokens=10, messages=user("retry me"))
        elapsed = time.monotonic() - started
    assert message.content[0].text.startswith('llmsim reply to "retry me"')
    entries = sim.client.requests(provider="anthropic")
    assert [e["outcome"] for e in entries] == ["fault", "fault", "ok"]
    assert [e["status"] for e in entries] == [429, 429, 200]
    assert [e["headers"].get("x-stainless-retry-count") for e in entries] == ["0", "1", "2"]
    assert elapsed >= 0.4  # two waits of retry-after 0.2 s
    assert entries[1]["started_at"] - entries[0]["ended_at"] >= 0.19


def test_midstream_error_raises(anthropic_client, sim):
    sim.client.add_fault(provider="anthropic", kind="midstream", status=529, after_tokens=3, times=1)
    received = []
    with pytest.raises(anthropic.APIStatusError) as caught:  # noqa: SIM117
        with anthropic_client.messages.stream(model=MODEL, max_tokens=200, messages=user("hi")) as stream:
            for text in stream.text_stream:
                received.append(text)
    assert len(received) == 3
    assert caught.value.body["error"]["type"] == "overloaded_error"
    entry = sim.client.requests(provider="anthropic")[-1]
    assert entry["outcome"] == "fault" and entry["tokens_streamed"] == 3


@pytest.mark.timeout(20)
def test_hang_ends_in_client_timeout_and_server_stays_healthy(sim):
    sim.client.add_fault(provider="anthropic", kind="hang", times=1)
    with anthropic.Anthropic(api_key=ANTHROPIC_KEY, base_url=sim.url, max_retries=0, timeout=0.5) as client:
        started = time.monotonic()
        with pytest.raises(anthropic.APITimeoutError):
            client.messages.create(model=MODEL, max_tokens=10, messages=user("hello?"))
        assert time.monotonic() - started < 3
        entry = sim.client.wait_for(provider="anthropic", timeout=3)
        assert entry["outcome"] == "cancelled" and entry["status"] is None and entry["fault"]
        assert sim.client.health()["status"] == "ok"
        assert client.messages.create(model=MODEL, max_tokens=10, messages=user("again")).content
