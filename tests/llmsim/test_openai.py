"""The real openai SDK against llmsim: completions, streams with usage, tools, JSON mode,
models, errors and retries."""

import json
import time

import openai
import pytest
from conftest import OPENAI_KEY, user

from llmsim import tokens

MODEL = "gpt-4o-mini"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
            },
            "required": ["city", "unit"],
        },
    },
}
SEARCH_TOOL = {"type": "function", "function": {"name": "search_docs", "parameters": {
    "type": "object", "properties": {"query": {"type": "string"}}}}}


def test_create(openai_client):
    messages = [{"role": "system", "content": "Be brief."}] + user("What is ASGI?")
    completion = openai_client.chat.completions.create(model=MODEL, messages=messages)
    choice = completion.choices[0]
    assert choice.message.content == 'llmsim reply to "What is ASGI?" (messages: 1, system prompt: yes)'
    assert choice.finish_reason == "stop"
    assert completion.usage.prompt_tokens == tokens.count_input(messages)
    assert completion.usage.completion_tokens == tokens.count(choice.message.content)
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    assert completion.id.startswith("chatcmpl-")


@pytest.mark.parametrize("param", ["max_tokens", "max_completion_tokens"])
def test_max_tokens_gives_finish_reason_length(openai_client, param):
    completion = openai_client.chat.completions.create(model=MODEL, messages=user("hello"), **{param: 3})
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage.completion_tokens == 3
    full = 'llmsim reply to "hello" (messages: 1, system prompt: no)'
    assert completion.choices[0].message.content == "llmsim"  # "ll", "ms", "im"
    assert full.startswith(completion.choices[0].message.content)


def test_stream_with_usage_chunk(openai_client):
    stream = openai_client.chat.completions.create(
        model=MODEL, messages=user("stream please"), stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == 'llmsim reply to "stream please" (messages: 1, system prompt: no)'
    content_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content_chunks) == tokens.count(text)  # one chunk per token
    assert chunks[-2].choices[0].finish_reason == "stop"
    usage_chunk = chunks[-1]
    assert usage_chunk.choices == [] and usage_chunk.usage.completion_tokens == len(content_chunks)
    assert all(c.usage is None for c in chunks[:-1])


def test_stream_without_usage_has_no_usage_chunk(openai_client):
    chunks = list(openai_client.chat.completions.create(model=MODEL, messages=user("x"), stream=True))
    assert all(c.choices for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_tools_give_a_schema_valid_call(openai_client):
    completion = openai_client.chat.completions.create(model=MODEL, messages=user("weather in Oslo?"),
                                                       tools=[SEARCH_TOOL, WEATHER_TOOL])
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    call = choice.message.tool_calls[0]
    # The tool named in the message is chosen; arguments fit the schema.
    assert call.function.name == "get_weather"
    arguments = json.loads(call.function.arguments)
    assert isinstance(arguments["city"], str)
    assert arguments["unit"] in ("celsius", "fahrenheit")
    assert 1 <= arguments["days"] <= 7
    # After the tool result comes a text answer.
    follow_up = user("weather in Oslo?") + [
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "12 C, rain"},
    ]
    final = openai_client.chat.completions.create(model=MODEL, messages=follow_up, tools=[WEATHER_TOOL])
    assert final.choices[0].finish_reason == "stop"
    assert final.choices[0].message.content.startswith('llmsim reply to tool result "12 C, rain"')


def test_tool_choice_none_and_forced(openai_client):
    none = openai_client.chat.completions.create(model=MODEL, messages=user("hi"), tools=[WEATHER_TOOL],
                                                 tool_choice="none")
    assert none.choices[0].finish_reason == "stop" and none.choices[0].message.tool_calls is None
    forced = openai_client.chat.completions.create(
        model=MODEL, messages=user("weather?"), tools=[WEATHER_TOOL, SEARCH_TOOL],
        tool_choice={"type": "function", "function": {"name": "search_docs"}})
    assert forced.choices[0].message.tool_calls[0].function.name == "search_docs"


def test_streamed_tool_call(openai_client):
    chunks = list(openai_client.chat.completions.create(model=MODEL, messages=user("weather?"),
                                                        tools=[WEATHER_TOOL], stream=True))
    first = chunks[0].choices[0].delta.tool_calls[0]
    assert first.function.name == "get_weather" and first.id.startswith("call_")
    arguments = "".join(c.choices[0].delta.tool_calls[0].function.arguments or ""
                        for c in chunks if c.choices[0].delta.tool_calls)
    assert json.loads(arguments)["unit"] == "celsius"
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_json_mode_object(openai_client):
    completion = openai_client.chat.completions.create(
        model=MODEL, messages=user("give me json"), response_format={"type": "json_object"})
    data = json.loads(completion.choices[0].message.content)
    assert data["last_user_message"] == "give me json" and data["messages"] == 1
    assert data["system_prompt"] is False


def test_json_mode_schema(openai_client):
    schema = {"type": "object", "properties": {
        "title": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}},
        "score": {"type": "number", "minimum": 3}}, "required": ["title", "tags", "score"]}
    completion = openai_client.chat.completions.create(
        model=MODEL, messages=user("json"),
        response_format={"type": "json_schema", "json_schema": {"name": "doc", "schema": schema}})
    data = json.loads(completion.choices[0].message.content)
    assert set(data) == {"title", "tags", "score"}
    assert isinstance(data["tags"], list) and data["score"] >= 3


def test_parse_with_pydantic_model(openai_client):
    from pydantic import BaseModel

    class Movie(BaseModel):
        title: str
        year: int

    completion = openai_client.chat.completions.parse(model=MODEL, messages=user("a movie"),
                                                      response_format=Movie)
    movie = completion.choices[0].message.parsed
    assert isinstance(movie, Movie) and isinstance(movie.year, int)


def test_models(openai_client):
    ids = [m.id for m in openai_client.models.list()]
    assert "gpt-4o-mini" in ids and "gpt-5-mini" in ids
    assert openai_client.models.retrieve("gpt-5-mini").id == "gpt-5-mini"


ERROR_CLASSES = [
    (400, openai.BadRequestError),
    (401, openai.AuthenticationError),
    (403, openai.PermissionDeniedError),
    (404, openai.NotFoundError),
    (409, openai.ConflictError),
    (422, openai.UnprocessableEntityError),
    (429, openai.RateLimitError),
    (500, openai.InternalServerError),
    (503, openai.InternalServerError),
]


@pytest.mark.parametrize(("status", "exc_class"), ERROR_CLASSES)
def test_fault_status_raises_sdk_class(openai_client, sim, status, exc_class):
    sim.client.add_fault(provider="openai", kind="http", status=status, times=1)
    with pytest.raises(exc_class) as caught:
        openai_client.chat.completions.create(model=MODEL, messages=user("hi"))
    error = caught.value
    assert error.status_code == status
    assert set(error.body) == {"message", "type", "param", "code"}  # OpenAI's error object
    assert error.request_id == sim.client.requests(provider="openai")[-1]["id"]


def test_invalid_key_and_unknown_model(sim, openai_client):
    with openai.OpenAI(api_key="invalid-123", base_url=sim.url + "/v1", max_retries=0) as bad, \
            pytest.raises(openai.AuthenticationError) as caught:
        bad.chat.completions.create(model=MODEL, messages=user("hi"))
    assert caught.value.code == "invalid_api_key"
    with pytest.raises(openai.NotFoundError) as missing:
        openai_client.chat.completions.create(model="unknown-model", messages=user("hi"))
    assert missing.value.code == "model_not_found"


def test_sdk_retries_visible_in_journal(sim):
    sim.client.add_fault(provider="openai", kind="http", status=503, times=2, retry_after=0.1)
    with openai.OpenAI(api_key=OPENAI_KEY, base_url=sim.url + "/v1", max_retries=2) as client:
        started = time.monotonic()
        completion = client.chat.completions.create(model=MODEL, messages=user("retry"))
        elapsed = time.monotonic() - started
    assert completion.choices[0].message.content.startswith('llmsim reply to "retry"')
    entries = sim.client.requests(provider="openai")
    assert [(e["status"], e["outcome"]) for e in entries] == [(503, "fault"), (503, "fault"), (200, "ok")]
    assert [e["headers"]["x-stainless-retry-count"] for e in entries] == ["0", "1", "2"]
    assert elapsed >= 0.2


def test_midstream_error_raises(openai_client, sim):
    sim.client.add_fault(provider="openai", kind="midstream", status=500, after_tokens=2, times=1)
    received = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in openai_client.chat.completions.create(model=MODEL, messages=user("hi"), stream=True):
            received.append(chunk.choices[0].delta.content)
    assert received[1:] == ["ll", "ms"]  # the role chunk, then 2 tokens
    assert "llmsim fault" in caught.value.message


def test_midstream_on_non_stream_request_acts_like_http_500(openai_client, sim):
    sim.client.add_fault(provider="openai", kind="midstream", times=1)
    with pytest.raises(openai.InternalServerError):
        openai_client.chat.completions.create(model=MODEL, messages=user("hi"))
