"""Section 3.2, OpenAI SDK: the notebook's exercise checks and quiz.

Each check hands the learner's function an OpenAI client bound to the llmsim this kernel
uses (whatever keys are configured), then reads llmsim's journal to see what was actually
sent, and compares the returned value with what llmsim answered.
"""

import copy
import json
from typing import Any

from grader.checks.pins import also_allowed, installed_version, pin_problem
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


# -- 3.2.setup ---------------------------------------------------------------------------

PROBE_KEY = "sk-llmsim-setup-check"


def _requirement_problem(line: Any) -> str | None:
    """Why `line` is not a requirements.txt line that keeps the installed openai's major version."""
    problem = pin_problem(line, "openai")
    if problem:
        return problem
    installed = installed_version("openai")
    newer = also_allowed(line, [f"{installed.major + 1}.0.0", f"{installed.major + 2}.0.0"])
    if newer:
        return (f"REQUIREMENT {line!r} allows openai {newer[0]}, a new major version: "
                f"keep it below {installed.major + 1}")
    if installed.major and also_allowed(line, [f"{installed.major - 1}.99.0"]):
        return f"REQUIREMENT {line!r} allows an older major version ({installed.major - 1}.x); start at {installed.major}"
    return None


@exercise("3.2.setup", "Creating a client instance",
          also=["API key configuration", "Installing `openai` package"],
          uses=["make_client", "REQUIREMENT"],
          hint="REQUIREMENT = \"openai>=3,<4\" (the installed major); make_client() returns "
               "OpenAI(timeout=20.0, max_retries=2): no api_key= or base_url=, the SDK reads OPENAI_API_KEY "
               "and OPENAI_BASE_URL.")
def setup(make_client, REQUIREMENT):  # noqa: N803 - the notebook's name
    import os

    import openai

    problem = _requirement_problem(REQUIREMENT)
    check(problem is None, problem or "")
    check(callable(make_client), "make_client must be a function: def make_client() -> OpenAI")
    s = _sim()
    names = ("OPENAI_API_KEY", "OPENAI_BASE_URL")
    saved = {k: os.environ.get(k) for k in names}
    try:
        os.environ.update({"OPENAI_API_KEY": PROBE_KEY, "OPENAI_BASE_URL": s.url + "/v1"})
        client = make_client()
        check(isinstance(client, openai.OpenAI),
              f"make_client() returned {type(client).__name__}; return an openai.OpenAI client")
        check(client.api_key == PROBE_KEY,
              "make_client()'s client does not use the key in OPENAI_API_KEY: never write a key in code, "
              "let the SDK read it from the environment")
        check(str(client.base_url).rstrip("/") == s.url + "/v1",
              f"make_client()'s client sends requests to {str(client.base_url)!r}, not to OPENAI_BASE_URL: "
              "do not write a URL in code")
        timeout = client.timeout
        read = getattr(timeout, "read", timeout)
        check(read == 20.0, f"make_client()'s client waits {read!r} s for an answer; set timeout=20.0")
        check(client.max_retries == 2, f"make_client()'s client retries {client.max_retries} times; set max_retries=2")
        s.clear_requests()
        models = [m.id for m in client.models.list()]
        check(MODEL in models and s.requests(provider="openai", path="/v1/models"),
              "make_client()'s client could not list the models of the server in OPENAI_BASE_URL")
        os.environ.pop("OPENAI_API_KEY")
        try:
            keyless = make_client()
        except openai.OpenAIError:
            keyless = None
        check(keyless is None or keyless.api_key in (None, ""),
              "with OPENAI_API_KEY unset, make_client() still built a client with a key: the key must come "
              "from the environment only")
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# -- 3.2.complete --------------------------------------------------------------------------


def _sent_param(entry: dict, name: str) -> Any:
    if name == "max_tokens":
        return entry.get("max_tokens")
    if name == "temperature":
        return entry.get("temperature")
    return entry["params"].get(name)


@exercise("3.2.complete", "Parameters (max_tokens, temperature, top_p)",
          also=["Model selection (gpt-4, gpt-4-turbo, gpt-3.5-turbo)"],
          uses=["complete"],
          hint="Build the keyword arguments: model=model always, max_completion_tokens / temperature / top_p "
               "only when they are not None (test `is not None`: 0.0 is a temperature); return "
               "choices[0].message.content, response.model and choices[0].finish_reason.")
def complete(complete):
    check(callable(complete), "complete must be a function")
    s = _sim()
    client = _client(s)
    messages = [{"role": "user", "content": "Explain HTTP keep-alive in detail."}]
    cases = [
        ({}, MODEL, {"max_tokens": None, "temperature": None, "top_p": None}),
        ({"model": "gpt-4.1-mini", "max_tokens": 3, "temperature": 0.2, "top_p": 0.9}, "gpt-4.1-mini",
         {"max_tokens": 3, "temperature": 0.2, "top_p": 0.9}),
        ({"model": "gpt-5-mini", "temperature": 0.0}, "gpt-5-mini",
         {"max_tokens": None, "temperature": 0.0, "top_p": None}),
        ({"top_p": 0.5, "max_tokens": 40}, MODEL, {"max_tokens": 40, "temperature": None, "top_p": 0.5}),
    ]
    for kwargs, model, params in cases:
        call = "complete(client, messages" + "".join(f", {k}={v!r}" for k, v in kwargs.items()) + ")"
        s.clear_requests()
        result, exc = _call(lambda kw=kwargs: complete(client, copy.deepcopy(messages), **kw))
        entries = _sent(s, exc, call)
        check(len(entries) == 1, f"{call} sent {len(entries)} requests; send exactly one")
        sent = entries[0]
        check(sent["model"] == model, f"{call} asked for model {sent['model']!r}; send {model!r}")
        check(sent["messages"] == messages, f"{call} sent messages {_short(sent['messages'])}; send them unchanged")
        for name, want in params.items():
            got = _sent_param(sent, name)
            if want is None:
                check(got is None, f"{call} sent {name}={got!r}; leave it out when it is None (the API's default)")
            else:
                check(got == want, f"{call} sent {name}={got!r}; send {name}={want!r}"
                      + (" (0.0 is a temperature: test `is not None`)" if want == 0.0 else ""))
        if exc is not None:
            raise exc
        check(isinstance(result, dict) and set(result) == {"text", "model", "finish_reason"},
              f"{call} returned {_short(result)}; return a dict with exactly text, model and finish_reason")
        check(result["text"] == sent["reply"], f"{call}: text is {_short(result['text'])}; return the reply's text")
        check(result["model"] == sent["answered_model"],
              f"{call}: model is {result['model']!r}; return the model the response names (response.model): "
              f"{sent['answered_model']!r}")
        want_finish = "length" if params["max_tokens"] == 3 else "stop"
        check(result["finish_reason"] == want_finish,
              f"{call}: finish_reason is {result['finish_reason']!r}; the response said {want_finish!r}")


# -- 3.2.stream_reply ---------------------------------------------------------------------

_STREAM_CASES = [
    [{"role": "system", "content": "Answer in one sentence."},
     {"role": "user", "content": "What is a server-sent event?"}],
    [{"role": "user", "content": "Hi"},
     {"role": "assistant", "content": "Hello! How can I help?"},
     {"role": "user", "content": "Count the tokens of this conversation, please."}],
]


@exercise("3.2.stream_reply", "Extracting delta content",
          also=["Using `stream=True` parameter", "Iterating over chunks"],
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


# -- 3.2.vision ---------------------------------------------------------------------------


def _png(rgb: tuple, size: int = 3) -> bytes:
    import struct
    import zlib

    def part(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + bytes(rgb) * size for _ in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + part(b"IHDR", header) + part(b"IDAT", zlib.compress(rows)) + part(b"IEND", b"")


@exercise("3.2.vision", "Vision (image inputs)",
          uses=["ask_about_image"],
          hint="content=[{\"type\": \"text\", \"text\": question}, {\"type\": \"image_url\", \"image_url\": "
               "{\"url\": \"data:image/png;base64,\" + base64.b64encode(png).decode()}}] in one user message.")
def vision(ask_about_image):
    import base64
    import binascii

    check(callable(ask_about_image), "ask_about_image must be a function")
    s = _sim()
    client = _client(s)
    for question, png in (("What colour is this image?", _png((200, 20, 20))),
                          ("Is this square blue?", _png((10, 10, 230), size=5))):
        s.clear_requests()
        result, exc = _call(ask_about_image, client, png, question)
        entries = _sent(s, exc, "ask_about_image")
        check(len(entries) == 1, f"ask_about_image sent {len(entries)} requests; send exactly one")
        sent = entries[0]
        check(sent["model"] == MODEL, f"the request asked for model {sent['model']!r}; use \"{MODEL}\"")
        msgs = sent["messages"]
        check(len(msgs) == 1 and msgs[0].get("role") == "user",
              f"the request's roles are {[m.get('role') for m in msgs]}; send one user message")
        parts = msgs[0].get("content")
        check(isinstance(parts, list), "the user message's content is a string: an image needs a list of parts "
              "(a text part and an image_url part)")
        kinds = [p.get("type") for p in parts if isinstance(p, dict)]
        check(kinds == ["text", "image_url"], f"the message's parts are {kinds}; send a text part, then an image_url part")
        check(parts[0].get("text") == question,
              f"the text part is {_short(parts[0].get('text'))}; send the question given: {question!r}")
        url = (parts[1].get("image_url") or {}).get("url")
        prefix = "data:image/png;base64,"
        check(isinstance(url, str) and url.startswith(prefix),
              f"the image's url starts {_short(url, 40)}; send the PNG as a data URL: {prefix}<base64>")
        try:
            sent_bytes = base64.b64decode(url[len(prefix):], validate=True)
        except (binascii.Error, ValueError):
            sent_bytes = None
        check(sent_bytes == png, "the data URL does not decode to the PNG's bytes: base64-encode the bytes given")
        if exc is not None:
            raise exc
        check(result == sent["reply"], f"ask_about_image returned {_short(result)}; return the reply's text")


# -- 3.2.json_mode ------------------------------------------------------------------------

_TEXTS = ["Ada Lovelace, born 1815 in London", "Order 42: two espressos and a croissant"]


@exercise("3.2.json_mode", "JSON mode",
          also=["Message format (role: system/user/assistant)"],
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
