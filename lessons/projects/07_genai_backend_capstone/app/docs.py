"""What the OpenAPI document (and /docs) says about each endpoint's failures.

FastAPI documents the success response from `response_model` by itself; the failures it
cannot know. Every error this API answers has the one shape of app/models.ErrorResponse,
so each endpoint lists the statuses it can answer, each with that schema and an example.
Clients generate code from this document, and the grader holds the API to it (every
status it answers must be listed, every body must match).
"""

from typing import Any

from app.models import ErrorResponse

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
