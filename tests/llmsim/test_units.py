"""The tokenizer (offline), the reply template and schema examples, without a server."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from llmsim import replies, tokens


def test_tokenizer_loads_with_no_network_and_empty_tiktoken_cache(tmp_path):
    # Any socket use fails, and tiktoken's own cache is empty: a download attempt would fail.
    script = textwrap.dedent("""
        import socket
        def refuse(*args, **kwargs):
            raise OSError("network disabled for this test")
        socket.socket.connect = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse
        from llmsim import tokens
        print(tokens.count("hello world"), tokens.encoding().name)
    """)
    env = dict(os.environ, TIKTOKEN_CACHE_DIR=str(tmp_path))
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["2", "cl100k_base"]
    assert list(tmp_path.iterdir()) == []  # nothing was fetched into the cache


def test_tokenizer_missing_file_is_a_clear_error(tmp_path):
    script = "import llmsim.tokens as t; t.candidate_paths = lambda: []; t.count('x')"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "will not download" in result.stderr


def test_counts_match_tiktoken_cl100k():
    # Where tiktoken's own cl100k_base is available offline (litellm's bundled copy), they agree.
    import litellm.litellm_core_utils.default_encoding  # noqa: F401  (points tiktoken at the copy)
    import tiktoken

    reference = tiktoken.get_encoding("cl100k_base")
    text = "Streaming tokens from FastAPI: naïve café, 東京, emoji 🎉."
    assert tokens.count(text) == len(reference.encode(text))


def test_pieces_rebuild_the_text_and_respect_limits():
    text = "Hello 世界 🎉 done"
    pieces, used, truncated = tokens.pieces(text)
    assert "".join(pieces) == text and used == tokens.count(text) and not truncated
    cut, used, truncated = tokens.pieces(text, 3)
    assert truncated and used == 3 and text.startswith("".join(cut))
    assert tokens.pieces("", 5) == ([], 0, False)


def test_count_input_rule():
    messages = [{"role": "user", "content": "hi"}]
    assert tokens.count_input(messages) == 3 + 3 + tokens.count("user") + tokens.count("hi")
    with_system = tokens.count_input(messages, system="be brief")
    assert with_system == tokens.count_input(messages) + 3 + tokens.count("system") + tokens.count("be brief")
    named = [{"role": "user", "content": "hi", "name": "ann"}]
    assert tokens.count_input(named) == tokens.count_input(messages) + 1 + tokens.count("ann")


def test_reply_template():
    messages = [{"role": "system", "content": "s"}, {"role": "user", "content": "one"},
                {"role": "assistant", "content": "two"}, {"role": "user", "content": [
                    {"type": "text", "text": "three "}, {"type": "text", "text": "parts"}]}]
    reply = replies.build(model="m", messages=messages)
    assert reply.text == 'llmsim reply to "three parts" (messages: 3, system prompt: yes)'
    assert replies.build(model="m", messages=messages[1:]).text.endswith("system prompt: no)")
    assert replies.build(model="m", messages=messages[1:], system="x").text.endswith("system prompt: yes)")


def test_long_user_messages_are_quoted_short():
    reply = replies.build(model="m", messages=[{"role": "user", "content": "y" * 2000}])
    assert '"' + "y" * replies.QUOTE_LIMIT + '..."' in reply.text


def test_replies_are_deterministic():
    tools = [{"name": "f", "schema": {"type": "object", "properties": {"a": {"type": "string"}}}}]
    one = replies.build(model="m", messages=[{"role": "user", "content": "x"}], tools=tools)
    two = replies.build(model="m", messages=[{"role": "user", "content": "x"}], tools=tools)
    assert one == two and one.tool_call_id.startswith("call_")


@pytest.mark.parametrize(("schema", "check"), [
    ({"type": "string", "enum": ["b", "a"]}, lambda v: v == "b"),
    ({"type": "integer", "minimum": 5, "maximum": 9}, lambda v: v == 5),
    ({"type": "integer", "maximum": 0}, lambda v: v == 0),
    ({"type": "number", "exclusiveMinimum": 10}, lambda v: v > 10),
    ({"type": "string", "minLength": 30}, lambda v: len(v) >= 30),
    ({"type": "string", "maxLength": 3}, lambda v: len(v) <= 3),
    ({"type": "string", "format": "date"}, lambda v: v == "2025-01-01"),
    ({"type": ["null", "boolean"]}, lambda v: v is True),
    ({"type": "array", "items": {"type": "integer"}, "minItems": 2}, lambda v: v == [1, 1]),
    ({"anyOf": [{"type": "null"}, {"type": "string"}]}, lambda v: isinstance(v, str)),
    ({"$defs": {"P": {"type": "object", "properties": {"x": {"type": "integer"}}}},
      "type": "object", "properties": {"p": {"$ref": "#/$defs/P"}}}, lambda v: v == {"p": {"x": 1}}),
])
def test_example_from_schema(schema, check):
    value = replies.example_from_schema(schema)
    assert check(value), value
    json.dumps(value)


def test_truncate_agrees_with_pieces():
    text = "Hello 世界 🎉 done, and some more words"
    for limit in (None, 1, 2, 3, 4, 5, 50):
        pieces, used, truncated = tokens.pieces(text, limit)
        assert tokens.truncate(text, limit) == ("".join(pieces), used, truncated)
