"""Anthropic Messages API wire format: requests, replies, SSE events and errors.

Routes: ``POST /v1/messages`` (plain and ``stream: true``), ``POST /v1/messages/count_tokens``,
``GET /v1/models`` and ``GET /v1/models/{id}`` (when the request looks like Anthropic's:
an ``anthropic-version`` or ``x-api-key`` header).

Stream event sequence: ``message_start``, ``content_block_start``, ``ping``, one
``content_block_delta`` per token (``text_delta``, or ``input_json_delta`` for a tool call),
``content_block_stop``, ``message_delta`` (stop_reason, usage.output_tokens),
``message_stop``. Each is an ``event:`` line plus a ``data:`` line. A mid-stream failure is
``event: error`` with an error body.
"""

from __future__ import annotations

import json

from . import catalog, tokens
from .asgi import dumps
from .generation import Answer, InvalidRequest, Parsed, Provider

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    409: "conflict_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
MESSAGES = {
    400: "Invalid request",
    401: "invalid x-api-key",
    403: "Your API key does not have permission to use the specified resource.",
    404: "Not found",
    413: "Request exceeds the maximum allowed number of bytes.",
    429: "Number of request tokens has exceeded your per-minute rate limit",
    500: "Internal server error",
    503: "Service unavailable",
    504: "Request timed out",
    529: "Overloaded",
}
STOP_REASONS = {"end": "end_turn", "max_tokens": "max_tokens", "stop_sequence": "stop_sequence", "tool": "tool_use"}


def error_type(status: int) -> str:
    return ERROR_TYPES.get(status) or ("api_error" if status >= 500 else "invalid_request_error")


def _event(name: str, data: dict) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + dumps(data) + b"\n\n"


def _message_id(request_id: str) -> str:
    return "msg_" + request_id.removeprefix("req_")


def _check_content(content: object, where: str) -> None:
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise InvalidRequest(f"{where}: Input should be a valid string or a list of content blocks")
    for j, block in enumerate(content):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise InvalidRequest(f"{where}.{j}: a content block must be an object with a 'type'")
        if block["type"] == "text" and not isinstance(block.get("text"), str):
            raise InvalidRequest(f"{where}.{j}.text: Field required (a string)")


class AnthropicProvider(Provider):
    name = "anthropic"
    id_header = b"request-id"

    def error_body(self, status, message, request_id, *, code=None, param=None) -> dict:
        return {"type": "error", "error": {"type": error_type(status), "message": message},
                "request_id": request_id}

    def default_message(self, status: int) -> str:
        return MESSAGES.get(status, "Internal server error" if status >= 500 else "Invalid request")

    def stop_reason(self, finish: str) -> str:
        return STOP_REASONS[finish]

    @staticmethod
    def parse_common(body: dict) -> tuple[str, list, object, list | None]:
        """model, messages, system and tools: shared by messages and count_tokens."""
        model = body.get("model")
        if model is None:
            raise InvalidRequest("model: Field required", param="model")
        if not isinstance(model, str) or not model:
            raise InvalidRequest("model: Input should be a non-empty string", param="model")
        messages = body.get("messages")
        if messages is None:
            raise InvalidRequest("messages: Field required", param="messages")
        if not isinstance(messages, list) or not messages:
            raise InvalidRequest("messages: Input should be a non-empty list of messages", param="messages")
        for i, message in enumerate(messages):
            if not isinstance(message, dict):
                raise InvalidRequest(f"messages.{i}: Input should be an object with role and content")
            role = message.get("role")
            if role not in ("user", "assistant"):
                hint = " (put a system prompt in the top-level 'system' field)" if role == "system" else ""
                raise InvalidRequest(f"messages.{i}.role: Input should be 'user' or 'assistant'{hint}")
            if "content" not in message:
                raise InvalidRequest(f"messages.{i}.content: Field required")
            _check_content(message["content"], f"messages.{i}.content")
        system = body.get("system")
        if system is not None:
            if isinstance(system, list):
                _check_content(system, "system")
            elif not isinstance(system, str):
                raise InvalidRequest("system: Input should be a string or a list of text blocks")
        tools = body.get("tools")
        if tools is not None:
            if not isinstance(tools, list):
                raise InvalidRequest("tools: Input should be a list")
            for i, tool in enumerate(tools):
                if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
                    raise InvalidRequest(f"tools.{i}.name: Field required")
                if tool.get("type") in (None, "custom") and not isinstance(tool.get("input_schema"), dict):
                    raise InvalidRequest(f"tools.{i}.input_schema: Field required")
        return model, messages, system, tools

    def parse(self, body: dict) -> Parsed:
        model, messages, system, tools = self.parse_common(body)
        max_tokens = body.get("max_tokens")
        if max_tokens is None:
            raise InvalidRequest("max_tokens: Field required", param="max_tokens")
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise InvalidRequest("max_tokens: Input should be an integer >= 1", param="max_tokens")
        temperature = body.get("temperature")
        if temperature is not None and (
            isinstance(temperature, bool) or not isinstance(temperature, int | float) or not 0 <= temperature <= 1
        ):
            raise InvalidRequest("temperature: Input should be a number from 0 to 1", param="temperature")
        stream = body.get("stream")
        if stream is not None and not isinstance(stream, bool):
            raise InvalidRequest("stream: Input should be a valid boolean", param="stream")
        stop = body.get("stop_sequences") or []
        if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
            raise InvalidRequest("stop_sequences: Input should be a list of strings")
        parsed = Parsed(model=model, messages=messages, system=system, max_tokens=max_tokens,
                        temperature=temperature, stream=bool(stream), stop=stop, raw_tools=tools)
        if tools:
            parsed.tools = [
                {"name": t["name"], "schema": t.get("input_schema") or {}}
                for t in tools
                if t.get("type") in (None, "custom")
            ]
        choice = body.get("tool_choice")
        if choice is not None:
            if not isinstance(choice, dict) or choice.get("type") not in ("auto", "any", "tool", "none"):
                raise InvalidRequest("tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'")
            if choice["type"] == "none":
                parsed.tool_choice = "none"
            elif choice["type"] == "any":
                parsed.tool_choice = "required"
            elif choice["type"] == "tool":
                if not any(t["name"] == choice.get("name") for t in parsed.tools):
                    raise InvalidRequest(f"tool_choice.name: no tool named {choice.get('name')!r}")
                parsed.forced_tool = choice["name"]
        output_format = (body.get("output_config") or {}).get("format") if isinstance(
            body.get("output_config"), dict) else None
        if isinstance(output_format, dict) and output_format.get("type") == "json_schema":
            parsed.json_mode, parsed.json_schema = "schema", output_format.get("schema") or {}
        return parsed

    # -- replies ------------------------------------------------------------------------
    def _usage(self, answer: Answer) -> dict:
        return {
            "input_tokens": answer.input_tokens,
            "output_tokens": answer.output_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "service_tier": "standard",
        }

    def _tool_input(self, answer: Answer) -> dict:
        try:
            value = json.loads(answer.text)
        except ValueError:
            return {}  # cut by max_tokens: the arguments are incomplete
        return value if isinstance(value, dict) else {}

    def response(self, parsed: Parsed, answer: Answer, request_id: str) -> dict:
        reply = answer.reply
        if reply.is_tool_call:
            content = [{"type": "tool_use", "id": reply.tool_call_id, "name": reply.tool_name,
                        "input": self._tool_input(answer)}]
        else:
            content = [{"type": "text", "text": answer.text}]
        return {
            "id": _message_id(request_id),
            "type": "message",
            "role": "assistant",
            "model": self.answered_model(parsed.model),
            "content": content,
            "stop_reason": STOP_REASONS[answer.finish],
            "stop_sequence": answer.stop_sequence,
            "usage": self._usage(answer),
        }

    def stream_head(self, parsed: Parsed, answer: Answer, request_id: str) -> bytes:
        usage = self._usage(answer)
        usage["output_tokens"] = 1
        message = {
            "id": _message_id(request_id), "type": "message", "role": "assistant", "model": self.answered_model(parsed.model),
            "content": [], "stop_reason": None, "stop_sequence": None, "usage": usage,
        }
        reply = answer.reply
        if reply.is_tool_call:
            block = {"type": "tool_use", "id": reply.tool_call_id, "name": reply.tool_name, "input": {}}
        else:
            block = {"type": "text", "text": ""}
        return (
            _event("message_start", {"type": "message_start", "message": message})
            + _event("content_block_start", {"type": "content_block_start", "index": 0, "content_block": block})
            + _event("ping", {"type": "ping"})
        )

    _TEXT_PREFIX = (b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
                    b'"delta":{"type":"text_delta","text":')
    _JSON_PREFIX = (b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
                    b'"delta":{"type":"input_json_delta","partial_json":')

    def stream_token(self, parsed: Parsed, answer: Answer, piece: str) -> bytes:
        prefix = self._JSON_PREFIX if answer.reply.is_tool_call else self._TEXT_PREFIX
        return prefix + dumps(piece) + b"}}\n\n"

    def stream_tail(self, parsed, answer, finish, tokens_sent) -> bytes:
        return (
            _event("content_block_stop", {"type": "content_block_stop", "index": 0})
            + _event("message_delta", {
                "type": "message_delta",
                "delta": {"stop_reason": STOP_REASONS[finish], "stop_sequence": answer.stop_sequence},
                "usage": {"output_tokens": answer.output_tokens},
            })
            + _event("message_stop", {"type": "message_stop"})
        )

    def stream_error(self, status: int, message: str, request_id: str) -> bytes:
        return _event("error", self.error_body(status, message, request_id))


PROVIDER = AnthropicProvider()


def count_tokens(body: dict) -> dict:
    """``POST /v1/messages/count_tokens``: the input-token rule of ``llmsim.tokens``."""
    _, messages, system, tools = AnthropicProvider.parse_common(body)
    return {"input_tokens": tokens.count_input(messages, system, tools)}


def list_models(_body) -> dict:
    return catalog.anthropic_list()


def get_model(model_id: str):
    def answer(_body) -> dict:
        if catalog.model_missing(model_id):
            raise InvalidRequest(f"model: {model_id}", status=404)
        return catalog.anthropic_get(model_id)

    return answer
