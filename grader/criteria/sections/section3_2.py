"""Section 3.2, OpenAI SDK: the notebook's exercise checks and quiz.

Each check hands the learner's function an OpenAI client bound to the llmsim this kernel
uses (whatever keys are configured), then reads llmsim's journal to see what was actually
sent, and compares the returned value with what llmsim answered.
"""

import copy
import json
from typing import Any

from grader.criterion import check
from grader.exercise import exercise, section_quiz

MODEL = "gpt-4o-mini"


def _sim() -> Any:
    from grader.lesson import sim

    return sim()


def _client(s: Any) -> Any:
    """A client that talks to llmsim (never a real provider), without retries."""
    from openai import OpenAI

    return OpenAI(api_key="sk-llmsim-check", base_url=s.url + "/v1", max_retries=0, timeout=5.0)


def _call(func: Any, *args: Any) -> tuple[Any, BaseException | None]:
    """(result, None), or (None, the exception) so the journal can be read before blaming it."""
    try:
        return func(*args), None
    except Exception as exc:  # noqa: BLE001 - re-raised after the journal checks
        return None, exc


def _sent(s: Any, exc: BaseException | None, name: str) -> list[dict]:
    """The chat completion requests the learner's code sent; the learner's error if there are none."""
    entries = s.requests(provider="openai", path="/v1/chat/completions")
    if not entries and exc is not None:
        raise exc
    check(entries, f"{name} sent no request: call client.chat.completions.create(...) with the client it is given")
    return entries


def _short(value: Any, limit: int = 70) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- 3.2.stream_reply ---------------------------------------------------------------------

_STREAM_CASES = [
    [{"role": "system", "content": "Answer in one sentence."},
     {"role": "user", "content": "What is a server-sent event?"}],
    [{"role": "user", "content": "Hi"},
     {"role": "assistant", "content": "Hello! How can I help?"},
     {"role": "user", "content": "Count the tokens of this conversation, please."}],
]


@exercise("3.2.stream_reply", "Extracting delta content",
          uses=["stream_reply"],
          hint="Pass stream=True and stream_options={\"include_usage\": True}; loop over chunk.choices "
               "(empty in the last chunk), skip deltas whose content is None, and take usage from the "
               "chunk that has it.")
def stream_reply(stream_reply):
    check(callable(stream_reply), "stream_reply must be a function")
    s = _sim()
    client = _client(s)
    for messages in _STREAM_CASES:
        s.clear_requests()
        result, exc = _call(stream_reply, client, copy.deepcopy(messages))
        entries = _sent(s, exc, "stream_reply")
        check(len(entries) == 1, f"stream_reply sent {len(entries)} requests for one reply; send exactly one")
        sent = entries[0]
        check(sent["model"] == MODEL, f"the request asked for model {sent['model']!r}; use \"{MODEL}\"")
        check(sent["stream"] is True, "the request was not streamed: pass stream=True")
        options = sent["params"].get("stream_options") or {}
        check(options.get("include_usage") is True,
              "the request lacks stream_options={\"include_usage\": True}, so no chunk of the stream carries usage")
        check(sent["messages"] == messages,
              f"the messages sent were {_short(sent['messages'])}; send the messages given, unchanged")
        if isinstance(exc, IndexError):
            check(False, f"your code raised IndexError ({exc}): the last chunk, the one with the usage, has an "
                  "empty choices list; loop over chunk.choices")
        if isinstance(exc, AttributeError) and "NoneType" in str(exc):
            check(False, f"your code raised AttributeError ({exc}): usage is None on every chunk but the last; "
                  "keep the usage of the chunk where it is not None")
        if exc is not None:
            raise exc
        check(isinstance(result, dict), f"stream_reply returned {type(result).__name__}; return a dict")
        for key in ("text", "input_tokens", "output_tokens"):
            check(key in result, f"the dict stream_reply returns has no key {key!r}")
        check(result["text"] == sent["reply"],
              f"text is {_short(result['text'])}; it must be every content delta joined: {_short(sent['reply'])}")
        check(result["input_tokens"] == sent["input_tokens"],
              f"input_tokens is {result['input_tokens']!r}; the last chunk's usage.prompt_tokens is "
              f"{sent['input_tokens']}")
        check(result["output_tokens"] == sent["output_tokens"],
              f"output_tokens is {result['output_tokens']!r}; the last chunk's usage.completion_tokens is "
              f"{sent['output_tokens']}")


# -- 3.2.tool_round_trip ------------------------------------------------------------------

_QUESTIONS = ["What's the weather in Oslo right now?", "Do I need an umbrella in Lima today?"]


@exercise("3.2.tool_round_trip", "Function calling / tool use",
          uses=["answer_with_tool", "get_weather", "WEATHER_TOOL"],
          hint="Append response.choices[0].message itself, then {\"role\": \"tool\", \"tool_call_id\": call.id, "
               "\"content\": json.dumps(result)} for each call, and ask again with the same tools.")
def tool_round_trip(answer_with_tool, get_weather, WEATHER_TOOL):  # noqa: N803 - the notebook's names
    check(callable(answer_with_tool), "answer_with_tool must be a function")
    s = _sim()
    client = _client(s)
    for question in _QUESTIONS:
        s.clear_requests()
        result, exc = _call(answer_with_tool, client, question)
        entries = _sent(s, exc, "answer_with_tool")
        first = entries[0]
        check(first["model"] == MODEL, f"the first request asked for model {first['model']!r}; use \"{MODEL}\"")
        check(first["messages"] == [{"role": "user", "content": question}],
              f"the first request's messages were {_short(first['messages'])}; send only the user's question")
        check(first["tools"] == [WEATHER_TOOL], "the first request must send tools=[WEATHER_TOOL]")
        check(first["stop_reason"] == "tool_calls",
              "the model did not call the tool in the first reply: leave tool_choice at its default")
        if len(entries) < 2 and exc is not None:
            raise exc
        check(len(entries) >= 2, "only one request was sent: send the tool's result back in a second request")
        check(len(entries) == 2, f"{len(entries)} requests were sent; one tool round trip takes exactly two")
        second = entries[1]
        # The same request gives the same call id, so asking again tells which id the model used.
        again = client.chat.completions.create(model=first["model"], messages=first["messages"], tools=first["tools"])
        call = again.choices[0].message.tool_calls[0]
        check(second["model"] == MODEL, f"the second request asked for model {second['model']!r}; use \"{MODEL}\"")
        msgs = second["messages"]
        check(isinstance(msgs, list) and msgs and msgs[0] == {"role": "user", "content": question},
              "the second request must start with the same user message as the first")
        roles = [m.get("role") for m in msgs]
        check(len(msgs) >= 2 and roles[1] == "assistant",
              f"the second request's roles are {roles}: the assistant message with its tool_calls must come "
              "right after the user message")
        calls = msgs[1].get("tool_calls") or []
        check(calls, "the assistant message in the second request has no tool_calls: append "
              "response.choices[0].message as it came")
        check(calls[0].get("id") == call.id and calls[0].get("function", {}).get("name") == call.function.name,
              f"the assistant message's tool call is {_short(calls[0])}; send the model's call ({call.id}) unchanged")
        check(len(msgs) >= 3, f"the second request's roles are {roles}: the tool result message is missing")
        tool = msgs[2]
        check(tool.get("role") == "tool",
              f"the tool result was sent with role {tool.get('role')!r}; it must be role \"tool\"")
        check(tool.get("tool_call_id") == call.id,
              f"the tool message's tool_call_id is {tool.get('tool_call_id')!r}; it must be the model's call id "
              f"{call.id!r}")
        expected = get_weather(**json.loads(call.function.arguments))
        content = tool.get("content")
        check(isinstance(content, str), f"the tool message's content is {type(content).__name__}; send "
              "json.dumps(result), a string")
        try:
            got = json.loads(content)
        except ValueError:
            got = None
        check(got == expected, f"the tool message's content is {_short(content)}; it must be "
              f"json.dumps(get_weather(**arguments)) = {_short(json.dumps(expected))}")
        check(len(msgs) == 3, f"the second request's roles are {roles}; send user, assistant, tool and nothing else")
        check(second["tools"] == [WEATHER_TOOL], "the second request must send tools=[WEATHER_TOOL] again")
        check(second["stop_reason"] == "stop",
              "the second reply is another tool call: leave tool_choice at its default, so the model can answer")
        if exc is not None:
            raise exc
        check(result == second["reply"],
              f"answer_with_tool returned {_short(result)}; return the second reply's text: {_short(second['reply'])}")


# -- 3.2.json_mode ------------------------------------------------------------------------

_TEXTS = ["Ada Lovelace, born 1815 in London", "Order 42: two espressos and a croissant"]


@exercise("3.2.json_mode", "JSON mode",
          uses=["extract_json"],
          hint="response_format={\"type\": \"json_object\"}, a system message that says JSON, the text as the "
               "user message, and return json.loads(message.content).")
def json_mode(extract_json):
    check(callable(extract_json), "extract_json must be a function")
    s = _sim()
    client = _client(s)
    for text in _TEXTS:
        s.clear_requests()
        result, exc = _call(extract_json, client, text)
        entries = _sent(s, exc, "extract_json")
        check(len(entries) == 1, f"extract_json sent {len(entries)} requests; send exactly one")
        sent = entries[0]
        check(sent["model"] == MODEL, f"the request asked for model {sent['model']!r}; use \"{MODEL}\"")
        check(sent["params"].get("response_format") == {"type": "json_object"},
              f"response_format was {_short(sent['params'].get('response_format'))}; JSON mode is "
              "response_format={\"type\": \"json_object\"}")
        msgs = sent["messages"]
        roles = [m.get("role") for m in msgs]
        check(roles == ["system", "user"], f"the messages' roles are {roles}; send a system message, then the user's")
        system = msgs[0].get("content")
        check(isinstance(system, str) and "json" in system.lower(),
              f"the system message {_short(system)} does not mention JSON; the API refuses JSON mode without it")
        check(msgs[1].get("content") == text,
              f"the user message was {_short(msgs[1].get('content'))}; send the text given: {_short(text)}")
        if exc is not None:
            raise exc
        check(isinstance(result, dict), f"extract_json returned {type(result).__name__}; return the parsed dict "
              "(json.loads of the content)")
        check(result == json.loads(sent["reply"]), f"extract_json returned {_short(result)}; return "
              f"json.loads of the reply's content: {_short(sent['reply'])}")


# -- the quiz -----------------------------------------------------------------------------

QUIZ = section_quiz(
    "3.2",
    item="After completing, you can answer: How is OpenAI's message format different from Anthropic's? "
         "How do I stream tokens from GPT-4? How do I use function calling?",
    questions=[
        {
            "id": "message-format",
            "question": "Where does the system prompt go, in OpenAI's Chat Completions and in Anthropic's Messages API?",
            "choices": {
                "a": "In both, as the first message with role \"system\"",
                "b": "OpenAI: a message with role \"system\" in `messages`; Anthropic: the top-level `system` "
                     "parameter, with only user and assistant messages in `messages`",
                "c": "OpenAI: a top-level `system` parameter; Anthropic: a message with role \"system\"",
                "d": "Neither has one: put the instructions in the first user message",
            },
            "answer_hash": "b41c50c70761410bee9fb65491fdd769da4039586fe992cd1ab08df8c6578a35",
            "explanation": "OpenAI keeps every instruction in the message list (role system, or developer); "
                           "Anthropic takes it as a parameter and refuses a system role in messages. A "
                           "multi-provider backend moves it from one place to the other.",
        },
        {
            "id": "stream-tokens",
            "question": "How do you stream a GPT model's reply and still learn how many tokens it used?",
            "choices": {
                "a": "stream=True with stream_options={\"include_usage\": True}; join each chunk's "
                     "choices[0].delta.content when it is not None, and read usage from the last chunk, whose "
                     "choices list is empty",
                "b": "stream=True alone; every chunk carries the usage so far",
                "c": "stream=True with include_usage; the usage arrives in the first chunk, with the role",
                "d": "stream=True, then read response.choices[0].message.content once the loop ends",
            },
            "answer_hash": "ab5f6a77a43596c210ec337e1674a71da6df25585070ca8c3f4db2cb65cfbd6a",
            "explanation": "A plain stream carries no usage at all. With include_usage, one extra chunk after the "
                           "finish chunk has empty choices and the usage; other chunks say usage=None.",
        },
        {
            "id": "function-calling",
            "question": "The model answered with tool_calls. What do you send next?",
            "choices": {
                "a": "Nothing: the API has already run the function and the answer follows",
                "b": "A user message with the function's result in its text",
                "c": "The history plus the assistant message with its tool_calls, then one message with role "
                     "\"tool\" and the call's tool_call_id per call, with the same tools",
                "d": "Only a message with role \"tool\"; the API remembers the rest",
            },
            "answer_hash": "72e26ed5d97781b0bac4f7307cf4f9cad6b07fed3fdb5dac04e6a3315d2ecd51",
            "explanation": "The API runs nothing and remembers nothing: your code runs the function, and the next "
                           "request must show the call (assistant message) and its answer (a tool message whose "
                           "tool_call_id names the call).",
        },
        {
            "id": "max-tokens",
            "question": "Which is true of the cap on the reply's length?",
            "choices": {
                "a": "Anthropic requires max_tokens; OpenAI's max_completion_tokens (or max_tokens) is optional; a "
                     "cut reply says finish_reason \"length\" (OpenAI) or stop_reason \"max_tokens\" (Anthropic)",
                "b": "Both APIs require it, and both say finish_reason \"length\"",
                "c": "OpenAI requires it and Anthropic does not",
            },
            "answer_hash": "5b0165c12794b049c5ab6e0fdd6d709d71765baedd3e9e2250530a70e4645c27",
            "explanation": "The anthropic SDK will not even send a request without max_tokens; OpenAI lets the "
                           "model run on. Either way, check the stop reason before trusting the text.",
        },
        {
            "id": "json-mode",
            "question": "What does response_format={\"type\": \"json_object\"} give you?",
            "choices": {
                "a": "A reply that matches your Pydantic model's schema",
                "b": "A reply that is one valid JSON object (unless cut by the token cap), with no promise about "
                     "its keys; the messages must mention JSON",
                "c": "A Python dict in message.content instead of a string",
            },
            "answer_hash": "618364dbd16160e6b1dcf6a805a543290cf7b5358897d85f55a938371cdf9fea",
            "explanation": "JSON mode guarantees syntax, not shape: content is still a string to json.loads and "
                           "validate. For a fixed schema use json_schema or chat.completions.parse.",
        },
    ],
    hint="Re-read 3.2.3 (streaming, include_usage), 3.2.4 (function calling, JSON mode) and the side-by-side "
         "table.",
)
