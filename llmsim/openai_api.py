"""OpenAI Chat Completions wire format, and OpenRouter's variant of it.

OpenAI routes: ``POST /v1/chat/completions``, ``GET /v1/models``, ``GET /v1/models/{id}``.
OpenRouter routes: ``POST /api/v1/chat/completions``, ``GET /api/v1/models``.

Streams are ``data: <chat.completion.chunk JSON>\\n\\n`` lines: a first chunk with the role
(and, for a tool call, the call's id and name), one chunk per token (content, or a piece of
the tool call's arguments), a chunk with ``finish_reason``, then - when
``stream_options.include_usage`` is true (or OpenRouter's ``usage.include``) - a chunk with
empty ``choices`` and the usage, then ``data: [DONE]``. A mid-stream failure is a
``data: {"error": {...}}`` chunk, after which the stream closes (no ``[DONE]``).

OpenRouter differs in: ids start with ``gen-``; replies carry ``provider`` and
``native_finish_reason``; usage carries ``cost`` (from the advertised prices); errors are
``{"error": {"code": <status>, "message", "metadata"}}``; its model list needs no key.
"""

from __future__ import annotations

import time

from . import catalog
from .asgi import dumps
from .generation import Answer, InvalidRequest, Parsed, Provider

ROLES = ("system", "developer", "user", "assistant", "tool", "function")
FINISH = {"end": "stop", "max_tokens": "length", "stop_sequence": "stop", "tool": "tool_calls"}
ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("invalid_request_error", "model_not_found"),
    408: ("timeout", None),
    413: ("invalid_request_error", "request_too_large"),
    429: ("requests", "rate_limit_exceeded"),
}
MESSAGES = {
    400: "Invalid request",
    401: "Incorrect API key provided",
    403: "You are not allowed to sample from this model",
    404: "The model does not exist or you do not have access to it.",
    408: "Request timed out",
    413: "Request too large",
    429: "Rate limit reached for requests",
    500: "The server had an error while processing your request. Sorry about that!",
    502: "Bad gateway",
    503: "The engine is currently overloaded, please try again later",
    504: "Gateway timeout",
}


def _number(body: dict, key: str, low: float, high: float) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise InvalidRequest(f"Invalid '{key}': expected a number from {low:g} to {high:g}, got {value!r}.",
                             param=key, code="invalid_value")
    return value


class OpenAIProvider(Provider):
    name = "openai"
    id_header = b"x-request-id"
    id_prefix = "chatcmpl-"
    messages = MESSAGES

    def error_body(self, status, message, request_id, *, code=None, param=None) -> dict:
        kind, default_code = ERROR_TYPES.get(status, ("server_error" if status >= 500 else "invalid_request_error", None))
        return {"error": {"message": message, "type": kind, "param": param, "code": code or default_code}}

    def default_message(self, status: int) -> str:
        return self.messages.get(status, "Server error" if status >= 500 else "Invalid request")

    def stop_reason(self, finish: str) -> str:
        return FINISH[finish]

    def completion_id(self, request_id: str) -> str:
        return self.id_prefix + request_id.removeprefix("req_")

    def parse(self, body: dict) -> Parsed:
        model = body.get("model")
        if model is None:
            raise InvalidRequest("you must provide a model parameter", param="model", code="missing_required_parameter")
        if not isinstance(model, str) or not model:
            raise InvalidRequest("Invalid 'model': expected a non-empty string.", param="model", code="invalid_type")
        messages = body.get("messages")
        if messages is None:
            raise InvalidRequest("Missing required parameter: 'messages'.", param="messages",
                                 code="missing_required_parameter")
        if not isinstance(messages, list) or not messages:
            raise InvalidRequest("Invalid 'messages': expected a non-empty array of messages.", param="messages",
                                 code="invalid_type")
        for i, message in enumerate(messages):
            where = f"messages[{i}]"
            if not isinstance(message, dict):
                raise InvalidRequest(f"Invalid '{where}': expected an object.", param=where, code="invalid_type")
            role = message.get("role")
            if role not in ROLES:
                raise InvalidRequest(f"Invalid value for '{where}.role': expected one of {', '.join(ROLES)}.",
                                     param=f"{where}.role", code="invalid_value")
            content = message.get("content")
            if content is None and role != "assistant":
                raise InvalidRequest(f"Missing required parameter: '{where}.content'.", param=f"{where}.content",
                                     code="missing_required_parameter")
            if content is not None and not isinstance(content, str | list):
                raise InvalidRequest(f"Invalid type for '{where}.content': expected a string or an array.",
                                     param=f"{where}.content", code="invalid_type")
            if role == "tool" and not isinstance(message.get("tool_call_id"), str):
                raise InvalidRequest(f"Missing required parameter: '{where}.tool_call_id'.",
                                     param=f"{where}.tool_call_id", code="missing_required_parameter")
        max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
        if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int)
                                       or max_tokens < 1):
            raise InvalidRequest("Invalid 'max_tokens': expected an integer >= 1.", param="max_tokens",
                                 code="invalid_value")
        temperature = _number(body, "temperature", 0, 2)
        stream = body.get("stream")
        if stream is not None and not isinstance(stream, bool):
            raise InvalidRequest("Invalid type for 'stream': expected a boolean.", param="stream", code="invalid_type")
        stream_options = body.get("stream_options")
        if stream_options is not None and not stream:
            raise InvalidRequest("The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                                 param="stream_options", code="invalid_value")
        if stream_options is not None and not isinstance(stream_options, dict):
            raise InvalidRequest("Invalid type for 'stream_options': expected an object.", param="stream_options")
        stop = body.get("stop")
        stop = [stop] if isinstance(stop, str) else (stop or [])
        if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
            raise InvalidRequest("Invalid 'stop': expected a string or an array of strings.", param="stop")
        parsed = Parsed(model=model, messages=messages, max_tokens=max_tokens, temperature=temperature,
                        stream=bool(stream), stop=stop)
        parsed.include_usage = bool((stream_options or {}).get("include_usage"))
        self._parse_tools(body, parsed)
        self._parse_format(body, parsed)
        return parsed

    @staticmethod
    def _parse_tools(body: dict, parsed: Parsed) -> None:
        tools = body.get("tools")
        if tools is None:
            return
        if not isinstance(tools, list):
            raise InvalidRequest("Invalid type for 'tools': expected an array.", param="tools", code="invalid_type")
        for i, tool in enumerate(tools):
            function = tool.get("function") if isinstance(tool, dict) else None
            if not isinstance(function, dict) or not isinstance(function.get("name"), str):
                raise InvalidRequest(f"Missing required parameter: 'tools[{i}].function.name'.",
                                     param=f"tools[{i}].function.name", code="missing_required_parameter")
            parsed.tools.append({"name": function["name"], "schema": function.get("parameters") or {}})
        parsed.raw_tools = tools
        choice = body.get("tool_choice")
        if choice in (None, "auto"):
            return
        if choice in ("none", "required"):
            parsed.tool_choice = choice
            return
        name = ((choice or {}).get("function") or {}).get("name") if isinstance(choice, dict) else None
        if not isinstance(name, str):
            raise InvalidRequest("Invalid 'tool_choice': expected 'none', 'auto', 'required' or "
                                 '{"type": "function", "function": {"name": ...}}.', param="tool_choice")
        if not any(t["name"] == name for t in parsed.tools):
            raise InvalidRequest(f"Invalid 'tool_choice': no function named {name!r} in 'tools'.",
                                 param="tool_choice")
        parsed.forced_tool = name

    @staticmethod
    def _parse_format(body: dict, parsed: Parsed) -> None:
        fmt = body.get("response_format")
        if fmt is None:
            return
        kind = fmt.get("type") if isinstance(fmt, dict) else None
        if kind == "json_object":
            parsed.json_mode = "object"
        elif kind == "json_schema":
            spec = fmt.get("json_schema")
            if not isinstance(spec, dict) or not isinstance(spec.get("schema", {}), dict):
                raise InvalidRequest("Missing required parameter: 'response_format.json_schema'.",
                                     param="response_format.json_schema", code="missing_required_parameter")
            parsed.json_mode, parsed.json_schema = "schema", spec.get("schema") or {}
        elif kind != "text":
            raise InvalidRequest("Invalid 'response_format.type': expected 'text', 'json_object' or 'json_schema'.",
                                 param="response_format.type", code="invalid_value")

    # -- replies ------------------------------------------------------------------------
    def usage(self, parsed: Parsed, answer: Answer) -> dict:
        return {
            "prompt_tokens": answer.input_tokens,
            "completion_tokens": answer.output_tokens,
            "total_tokens": answer.input_tokens + answer.output_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                          "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
        }

    def extra_fields(self, parsed: Parsed) -> dict:
        return {"service_tier": "default", "system_fingerprint": "fp_llmsim"}

    def choice_extra(self, finish: str | None) -> dict:
        return {}

    def _message(self, answer: Answer) -> dict:
        reply = answer.reply
        if reply.is_tool_call:
            return {"role": "assistant", "content": None, "refusal": None, "annotations": [],
                    "tool_calls": [{"id": reply.tool_call_id, "type": "function",
                                    "function": {"name": reply.tool_name, "arguments": answer.text}}]}
        return {"role": "assistant", "content": answer.text, "refusal": None, "annotations": []}

    def response(self, parsed: Parsed, answer: Answer, request_id: str) -> dict:
        finish = FINISH[answer.finish]
        return {
            "id": self.completion_id(request_id),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.answered_model(parsed.model),
            "choices": [{"index": 0, "message": self._message(answer), "logprobs": None,
                         "finish_reason": finish, **self.choice_extra(finish)}],
            "usage": self.usage(parsed, answer),
            **self.extra_fields(parsed),
        }

    def _chunk(self, answer: Answer, choices: list, usage=None) -> bytes:
        base = dict(answer.wire["base"])
        base["choices"] = choices
        if answer.wire["include_usage"]:
            base["usage"] = usage
        return b"data: " + dumps(base) + b"\n\n"

    def stream_head(self, parsed: Parsed, answer: Answer, request_id: str) -> bytes:
        base = {"id": self.completion_id(request_id), "object": "chat.completion.chunk",
                "created": int(time.time()), "model": self.answered_model(parsed.model), **self.extra_fields(parsed)}
        answer.wire["base"] = base
        answer.wire["include_usage"] = parsed.include_usage
        # Everything up to the token, so each token costs one small JSON string encoding.
        head = dumps(base)[:-1] + b',"choices":[{"index":0,"delta":'
        if answer.reply.is_tool_call:
            answer.wire["prefix"] = b"data: " + head + b'{"tool_calls":[{"index":0,"function":{"arguments":'
            answer.wire["suffix"] = b'}}]},"logprobs":null,"finish_reason":null}]'
        else:
            answer.wire["prefix"] = b"data: " + head + b'{"content":'
            answer.wire["suffix"] = b'},"logprobs":null,"finish_reason":null}]'
        answer.wire["suffix"] += (b',"usage":null}\n\n' if parsed.include_usage else b"}\n\n")
        reply = answer.reply
        if reply.is_tool_call:
            delta = {"role": "assistant", "content": None, "tool_calls": [
                {"index": 0, "id": reply.tool_call_id, "type": "function",
                 "function": {"name": reply.tool_name, "arguments": ""}}]}
        else:
            delta = {"role": "assistant", "content": "", "refusal": None}
        return self._chunk(answer, [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}])

    def stream_token(self, parsed: Parsed, answer: Answer, piece: str) -> bytes:
        return answer.wire["prefix"] + dumps(piece) + answer.wire["suffix"]

    def stream_tail(self, parsed, answer, finish, tokens_sent) -> bytes:
        reason = FINISH[finish]
        out = self._chunk(answer, [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": reason,
                                    **self.choice_extra(reason)}])
        if answer.wire["include_usage"]:
            out += self._chunk(answer, [], self.usage(parsed, answer))
        return out + b"data: [DONE]\n\n"

    def stream_error(self, status: int, message: str, request_id: str) -> bytes:
        return b"data: " + dumps(self.error_body(status, message, request_id)) + b"\n\n"


OR_MESSAGES = {
    400: "Bad Request",
    401: "No auth credentials found",
    402: "Insufficient credits",
    403: "Input was flagged by moderation",
    404: "No endpoints found for this model",
    408: "Request timed out",
    429: "Rate limit exceeded",
    500: "Internal Server Error",
    502: "Provider returned error",
    503: "No available model provider that meets your routing requirements",
}


class OpenRouterProvider(OpenAIProvider):
    name = "openrouter"

    def answered_model(self, requested: str) -> str:
        return requested  # OpenRouter reports the name it was asked for
    messages = OR_MESSAGES

    def completion_id(self, request_id: str) -> str:
        return f"gen-{int(time.time())}-{request_id.removeprefix('req_')[:20]}"

    def error_body(self, status, message, request_id, *, code=None, param=None) -> dict:
        metadata = {"provider_name": "llmsim"}
        if code:
            metadata["reason"] = code
        return {"error": {"code": status, "message": message, "metadata": metadata}}

    def parse(self, body: dict) -> Parsed:
        parsed = super().parse(body)
        usage = body.get("usage")
        if isinstance(usage, dict) and usage.get("include"):
            parsed.include_usage = bool(parsed.stream)
        return parsed

    def usage(self, parsed: Parsed, answer: Answer) -> dict:
        usage = super().usage(parsed, answer)
        usage["cost"] = catalog.openrouter_cost(parsed.model, answer.input_tokens, answer.output_tokens)
        return usage

    def extra_fields(self, parsed: Parsed) -> dict:
        return {"provider": "llmsim", "system_fingerprint": None}

    def choice_extra(self, finish: str | None) -> dict:
        return {"native_finish_reason": finish}

    def stream_error(self, status: int, message: str, request_id: str) -> bytes:
        body = self.error_body(status, message, request_id)
        body["choices"] = [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}]
        return b"data: " + dumps(body) + b"\n\n"


OPENAI = OpenAIProvider()
OPENROUTER = OpenRouterProvider()


def openai_models(_body) -> dict:
    return catalog.openai_list()


def openai_model(model_id: str):
    def answer(_body) -> dict:
        if catalog.model_missing(model_id):
            raise InvalidRequest(f"The model '{model_id}' does not exist", status=404, param="model",
                                 code="model_not_found")
        return catalog.openai_get(model_id)

    return answer


def openrouter_models(_body) -> dict:
    return catalog.openrouter_list()
