"""What the OpenAPI document (and /docs) says about each endpoint's failures.

FastAPI documents the success response from `response_model` by itself; the failures it
cannot know. Every error this API answers has the one shape of app/models.ErrorResponse,
so each endpoint lists the statuses it can answer, each with that schema and an example.
The two streams' 200 (a text/event-stream of events) is described here too: `SSE_OK`.
Clients generate code from this document, and the grader holds the API to it (every
status it answers must be listed, every body must match).
"""

from typing import Any

from pydantic import BaseModel

from app.models import DoneEvent, ErrorEvent, ErrorResponse, TokenEvent
from app.sse import SSE_MEDIA_TYPE

# status: (error type in the example, when it happens)
ERRORS: dict[int, tuple[str, str]] = {
    401: ("unauthorized", "No bearer token, or one that is invalid or expired (WWW-Authenticate: Bearer)"),
    404: ("not_found", "No such conversation, or it belongs to another user"),
    409: ("conversation_busy", "Another message to this conversation is still being answered"),
    422: ("validation_error", "Invalid request (see error.details), or a model this API does not offer"),
    429: ("rate_limited", "Your tier's rate limit is used up, or the providers are rate limiting us; see Retry-After"),
    500: ("internal_error", "Unexpected error in this service; quote the request id"),
    502: ("upstream_unavailable", "Every provider tried failed (after retries and fallbacks), or rejected our credentials"),
    503: ("store_unavailable", "Redis (rate limits, conversations) is unavailable"),
    504: ("upstream_timeout", "The provider did not answer in time"),
}

# The statuses every authenticated endpoint can answer, and those of endpoints that call a model.
AUTHED = (401, 422, 500, 503)
CALLS_MODEL = (*AUTHED, 429, 502, 504)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each status with the ErrorResponse schema and an example."""
    return {}  # TODO: each status with the ErrorResponse model, a description and an example (README.md)


def _sse_item(event: str, model: type[BaseModel]) -> dict[str, Any]:
    """The schema of one SSE event: its `event:` name, and the JSON its `data:` line holds."""
    # Nested models are referenced, not repeated: Usage and ErrorBody are components already.
    data = model.model_json_schema(ref_template="#/components/schemas/{model}")
    data.pop("$defs", None)
    return {
        "type": "object",
        "required": ["event", "data"],
        "properties": {
            "event": {"const": event},
            "data": {"type": "string", "contentMediaType": "application/json", "contentSchema": data},
        },
    }


# The 200 of a streaming endpoint. `itemSchema` (OpenAPI 3.2's keyword for streams) describes
# each event rather than the body as a whole, which is one long string.
SSE_OK = {
    200: {
        "content": {
            SSE_MEDIA_TYPE: {
                "itemSchema": {
                    "oneOf": [_sse_item("token", TokenEvent), _sse_item("done", DoneEvent), _sse_item("error", ErrorEvent)]
                },
                "example": 'event: token\ndata: {"type":"token","content":"Hel"}\n\n'
                'event: token\ndata: {"type":"token","content":"lo"}\n\n'
                'event: done\ndata: {"type":"done","model":"claude-haiku-4-5-20251001","provider":"anthropic",'
                '"requested_model":"claude-haiku-4-5","fallback":false,"finish_reason":"stop",'
                '"usage":{"input_tokens":12,"output_tokens":2}}\n\n',
            }
        },
        "description": "Server-Sent Events: token events, then one done event (or an error event)",
    }
}
