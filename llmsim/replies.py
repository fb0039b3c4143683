"""Deterministic replies: what llmsim "answers", built only from what the request carried.

Text reply template (the same for every provider)::

    llmsim reply to "<last user message>" (messages: <N>, system prompt: <yes|no>)

- ``<last user message>``: the text of the last message whose role is ``user`` (a content
  string, or the text parts of a content list joined with no separator), cut to 500
  characters plus ``...`` when longer. Empty quotes when there is no user message.
- ``<N>``: the number of conversation messages, i.e. entries of ``messages`` whose role is
  not ``system`` or ``developer`` (so the same conversation gives the same N on every
  provider).
- ``system prompt``: ``yes`` when Anthropic's ``system`` is non-empty or an OpenAI-style
  message has role ``system``/``developer``.

When the last message is a tool result (OpenAI role ``tool``; Anthropic a user message with
``tool_result`` blocks) the reply is::

    llmsim reply to tool result "<result text>" (messages: <N>, system prompt: <yes|no>)

Tools: when tools are given and tool choice is not ``none``, the reply is one tool call
instead of text, unless the last message is already a tool result (so an agent loop ends
after one round). A forced choice (OpenAI ``required`` or a named function; Anthropic
``any`` or ``tool``) always calls a tool. The tool is the named one, else the first tool
whose name appears in the last user message (case-insensitive), else the first tool with a
name part (the name split at ``_``, ``-`` or ``.``; 4 letters or more) that is a word of that
message (``get_weather`` for "weather in Oslo?"), else the first tool. Its
arguments are an example instance of the tool's JSON schema (see ``example_from_schema``).

JSON mode: OpenAI ``response_format`` ``json_object`` gives the object
``{"reply": <text reply>, "last_user_message": ..., "messages": N, "system_prompt": bool}``;
``json_schema`` (OpenAI) or ``output_config.format`` (Anthropic) gives an example instance
of the schema.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field

QUOTE_LIMIT = 500
_SYSTEM_ROLES = ("system", "developer")


@dataclass
class Seen:
    """What the model saw in the request."""

    last_user_text: str = ""
    tool_result_text: str | None = None  # set when the last message is a tool result
    messages: int = 0
    system: bool = False


@dataclass
class Reply:
    """A reply before it is cut to max_tokens and put into a provider's wire format."""

    text: str = ""
    tool_name: str | None = None
    tool_arguments: str = ""  # compact JSON text
    tool_call_id: str = ""
    seen: Seen = field(default_factory=Seen)

    @property
    def is_tool_call(self) -> bool:
        return self.tool_name is not None

    @property
    def output(self) -> str:
        """The text that is tokenized and streamed: the reply or the tool's arguments."""
        return self.tool_arguments if self.is_tool_call else self.text


def _text_of(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p["text"]
            for p in content
            if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
        )
    return ""


def _tool_result_text(content: object) -> str:
    """Text of an Anthropic tool_result block's content (a string or text blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return _text_of(content)
    return "" if content is None else json.dumps(content, ensure_ascii=False)


def _quote(text: str) -> str:
    return text if len(text) <= QUOTE_LIMIT else text[:QUOTE_LIMIT] + "..."


def seen_in(messages: list, system: object = None) -> Seen:
    """Summarise a request's messages (both providers' shapes)."""
    seen = Seen(system=bool(system))
    for message in messages:
        role = message.get("role")
        if role in _SYSTEM_ROLES:
            seen.system = seen.system or bool(_text_of(message.get("content")) or message.get("content"))
            continue
        seen.messages += 1
        if role == "user":
            seen.last_user_text = _text_of(message.get("content"))
    if messages:
        last = messages[-1]
        content = last.get("content")
        if last.get("role") == "tool":
            seen.tool_result_text = _text_of(content)
        elif last.get("role") == "user" and isinstance(content, list):
            results = [
                _tool_result_text(p.get("content"))
                for p in content
                if isinstance(p, dict) and p.get("type") == "tool_result"
            ]
            if results:
                seen.tool_result_text = " ".join(results)
    return seen


def text_reply(seen: Seen) -> str:
    tail = f'(messages: {seen.messages}, system prompt: {"yes" if seen.system else "no"})'
    if seen.tool_result_text is not None:
        return f'llmsim reply to tool result "{_quote(seen.tool_result_text)}" {tail}'
    return f'llmsim reply to "{_quote(seen.last_user_text)}" {tail}'


def json_object_reply(seen: Seen) -> str:
    return _dumps(
        {
            "reply": text_reply(seen),
            "last_user_message": seen.last_user_text,
            "messages": seen.messages,
            "system_prompt": seen.system,
        }
    )


def pick_tool(tools: list[dict], seen: Seen, named: str | None) -> dict | None:
    """The tool to call (see module docstring); ``tools`` are ``{"name", "schema"}`` dicts."""
    if not tools:
        return None
    if named:
        for tool in tools:
            if tool["name"] == named:
                return tool
        return None
    text = seen.last_user_text.lower()
    for tool in tools:
        if tool["name"] and tool["name"].lower() in text:
            return tool
    words = set(re.findall(r"[a-z0-9]+", text))
    for tool in tools:
        parts = re.split(r"[_\-\s.]+", tool["name"].lower())
        if any(len(part) >= 4 and part in words for part in parts):
            return tool
    return tools[0]


def tool_call_id(prefix: str, *parts: object) -> str:
    """A deterministic id: the same request gives the same id."""
    digest = hashlib.sha256(_dumps(parts).encode()).hexdigest()[:24]
    return prefix + digest


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def dumps(value: object) -> str:
    """Compact JSON text, as llmsim writes tool arguments and JSON-mode content."""
    return _dumps(value)


_STRING_FORMATS = {
    "date": "2025-01-01",
    "date-time": "2025-01-01T00:00:00Z",
    "time": "12:00:00",
    "email": "user@example.com",
    "uri": "https://example.com",
    "url": "https://example.com",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


def example_from_schema(schema: object, name: str = "", root: object = None, depth: int = 0):
    """An instance that satisfies common JSON Schema keywords, chosen deterministically.

    Rules, in order: ``const``; ``default``; first of ``enum``; first of ``examples``;
    ``$ref`` into ``$defs``/``definitions``; first non-null option of ``anyOf``/``oneOf``;
    then by type - object: every property, recursively; array: ``max(1, minItems)`` items;
    string: a ``format`` example or ``"example <name>"`` fitted to min/maxLength; integer:
    ``minimum`` (or 1) kept under ``maximum``; number: the same with 1.5; boolean: true;
    null: null.
    """
    root = schema if root is None else root
    if not isinstance(schema, dict) or depth > 8:
        return "example"
    if "const" in schema:
        return schema["const"]
    if "default" in schema:
        return schema["default"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    if isinstance(schema.get("examples"), list) and schema["examples"]:
        return schema["examples"][0]
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target = root
        for key in ref[2:].split("/"):
            target = target.get(key) if isinstance(target, dict) else None
        return example_from_schema(target, name, root, depth + 1)
    for key in ("anyOf", "oneOf", "allOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            usable = [o for o in options if not (isinstance(o, dict) and o.get("type") == "null")]
            return example_from_schema((usable or options)[0], name, root, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
    if kind == "object":
        props = schema.get("properties") or {}
        return {
            key: example_from_schema(sub, key, root, depth + 1)
            for key, sub in props.items()
            if isinstance(key, str)
        }
    if kind == "array":
        count = max(1, int(schema.get("minItems", 1) or 1))
        if schema.get("maxItems") == 0:
            return []
        item = example_from_schema(schema.get("items", {}), name, root, depth + 1)
        return [item] * count
    if kind == "string":
        text = _STRING_FORMATS.get(schema.get("format", ""), f"example {name}".strip())
        low, high = schema.get("minLength"), schema.get("maxLength")
        if isinstance(low, int) and len(text) < low:
            text = text + "x" * (low - len(text))
        if isinstance(high, int) and len(text) > high:
            text = text[:high]
        return text
    if kind in ("integer", "number"):
        value = 1 if kind == "integer" else 1.5
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        high = schema.get("maximum", schema.get("exclusiveMaximum"))
        if isinstance(low, int | float) and value <= low:
            value = low + (1 if "exclusiveMinimum" in schema and "minimum" not in schema else 0)
        if isinstance(high, int | float) and value >= high:
            value = high - (1 if "exclusiveMaximum" in schema and "maximum" not in schema else 0)
        return int(value) if kind == "integer" else value
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return "example"


def build(
    *,
    model: str,
    messages: list,
    system: object = None,
    tools: list[dict] | None = None,
    tool_choice: str | None = "auto",
    forced_tool: str | None = None,
    json_mode: str | None = None,
    json_schema: object = None,
    id_prefix: str = "call_",
) -> Reply:
    """The reply for a request.

    ``tools`` are normalised ``{"name", "schema"}`` dicts; ``tool_choice`` is ``"auto"``,
    ``"none"`` or ``"required"``; ``forced_tool`` names a specific tool; ``json_mode`` is
    ``None``, ``"object"`` or ``"schema"`` (with ``json_schema``).
    """
    seen = seen_in(messages, system)
    if tools and tool_choice != "none":
        forced = tool_choice == "required" or forced_tool is not None
        if forced or seen.tool_result_text is None:
            tool = pick_tool(tools, seen, forced_tool)
            if tool is not None:
                arguments = example_from_schema(tool.get("schema") or {}, tool["name"])
                if not isinstance(arguments, dict):
                    arguments = {}
                return Reply(
                    tool_name=tool["name"],
                    tool_arguments=_dumps(arguments),
                    tool_call_id=tool_call_id(id_prefix, model, messages, tool["name"]),
                    seen=seen,
                )
    if json_mode == "schema":
        return Reply(text=_dumps(example_from_schema(json_schema or {})), seen=seen)
    if json_mode == "object":
        return Reply(text=json_object_reply(seen), seen=seen)
    return Reply(text=text_reply(seen), seen=seen)
