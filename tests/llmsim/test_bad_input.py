"""Bad requests get the provider's 400/401/404 shapes, and the server keeps serving."""

import pytest
from conftest import ANTHROPIC_KEY, OPENAI_KEY, OPENROUTER_KEY, user

ROUTES = {
    "anthropic": ("/v1/messages", {"x-api-key": ANTHROPIC_KEY, "anthropic-version": "2023-06-01"},
                  {"model": "claude-haiku-4-5", "max_tokens": 10, "messages": user("hi")}),
    "openai": ("/v1/chat/completions", {"Authorization": f"Bearer {OPENAI_KEY}"},
               {"model": "gpt-4o-mini", "messages": user("hi")}),
    "openrouter": ("/api/v1/chat/completions", {"Authorization": f"Bearer {OPENROUTER_KEY}"},
                   {"model": "openai/gpt-4o-mini", "messages": user("hi")}),
}


def error_of(provider, response):
    """The provider's error object, checking the envelope has the provider's shape."""
    body = response.json()
    if provider == "anthropic":
        assert body["type"] == "error" and body["request_id"] == response.headers["request-id"]
        return body["error"]
    assert response.headers["x-request-id"]
    if provider == "openai":
        assert set(body["error"]) == {"message", "type", "param", "code"}
    else:
        assert body["error"]["code"] == response.status_code
    return body["error"]


def without(body, key):
    return {k: v for k, v in body.items() if k != key}


BAD_BODIES = [
    ("malformed json", b"{\"model\": ", "valid JSON"),
    ("not an object", b"[1, 2]", "JSON object"),
    ("missing model", None, "model"),
    ("missing messages", None, "messages"),
    ("messages not a list", None, "messages"),
    ("empty messages", None, "messages"),
    ("bad role", None, "role"),
    ("max_tokens wrong type", None, "max_tokens"),
    ("stream wrong type", None, "stream"),
]


def bad_body(name, good):
    return {
        "missing model": without(good, "model"),
        "missing messages": without(good, "messages"),
        "messages not a list": dict(good, messages="hi"),
        "empty messages": dict(good, messages=[]),
        "bad role": dict(good, messages=[{"role": "wizard", "content": "hi"}]),
        "max_tokens wrong type": dict(good, max_tokens="ten"),
        "stream wrong type": dict(good, stream="yes"),
    }[name]


@pytest.mark.parametrize("provider", list(ROUTES))
@pytest.mark.parametrize(("name", "raw", "words"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
def test_bad_bodies_get_400_in_provider_shape(http, sim, provider, name, raw, words):
    path, headers, good = ROUTES[provider]
    if raw is not None:
        response = http.post(path, content=raw, headers=dict(headers, **{"content-type": "application/json"}))
    else:
        response = http.post(path, json=bad_body(name, good), headers=headers)
    assert response.status_code == 400, response.text
    error = error_of(provider, response)
    assert words in error["message"]
    if provider == "anthropic":
        assert error["type"] == "invalid_request_error"
    entry = sim.client.requests()[-1]
    assert entry["status"] == 400 and entry["outcome"] == "error"
    assert http.post(path, json=good, headers=headers).status_code == 200  # still serving


def test_anthropic_requires_max_tokens(http):
    path, headers, good = ROUTES["anthropic"]
    response = http.post(path, json=without(good, "max_tokens"), headers=headers)
    assert response.status_code == 400 and "max_tokens" in response.json()["error"]["message"]


@pytest.mark.parametrize("provider", list(ROUTES))
def test_missing_or_invalid_key_is_401(http, provider):
    path, _, good = ROUTES[provider]
    missing = http.post(path, json=good)
    invalid = http.post(path, json=good, headers={"Authorization": "Bearer invalid-key"})
    for response in (missing, invalid):
        assert response.status_code == 401
        error = error_of(provider, response)
        if provider == "anthropic":
            assert error["type"] == "authentication_error"


@pytest.mark.parametrize("provider", list(ROUTES))
@pytest.mark.parametrize("model", ["unknown-model", "does-not-exist", "vendor/unknown-thing"])
def test_unknown_model_is_404(http, provider, model):
    path, headers, good = ROUTES[provider]
    response = http.post(path, json=dict(good, model=model), headers=headers)
    assert response.status_code == 404
    error = error_of(provider, response)
    if provider == "anthropic":
        assert error["type"] == "not_found_error"


def test_any_other_model_name_is_accepted(http):
    path, headers, good = ROUTES["openai"]
    for model in ("my-fine-tune:v2", "claude-sonnet-4-6"):
        assert http.post(path, json=dict(good, model=model), headers=headers).json()["model"] == model


@pytest.mark.parametrize(
    "provider, asked, answered",
    [
        ("anthropic", "claude-haiku-4-5", "claude-haiku-4-5-20251001"),
        ("openai", "gpt-4o-mini", "gpt-4o-mini-2024-07-18"),
        ("openai", "gpt-4o-mini-2024-07-18", "gpt-4o-mini-2024-07-18"),
        ("openrouter", "openai/gpt-4o-mini", "openai/gpt-4o-mini"),
    ],
)
def test_aliases_are_answered_by_their_snapshot(http, sim, provider, asked, answered):
    """As on the real APIs, the response names the snapshot that answered, not the alias."""
    path, headers, good = ROUTES[provider]
    sim.client.clear_requests()
    assert http.post(path, json=dict(good, model=asked), headers=headers).json()["model"] == answered
    entry = sim.client.requests()[-1]
    assert (entry["model"], entry["answered_model"]) == (asked, answered)


def test_both_key_headers_are_accepted(http):
    path, _, good = ROUTES["anthropic"]
    assert http.post(path, json=good, headers={"x-api-key": ANTHROPIC_KEY}).status_code == 200
    assert http.post(path, json=good, headers={"Authorization": f"Bearer {ANTHROPIC_KEY}"}).status_code == 200


def test_unknown_paths_and_methods(http):
    response = http.get("/nowhere")
    assert response.status_code == 404 and "/llmsim/health" in response.json()["error"]["message"]
    response = http.post("/v1/embeddings", json={}, headers={"Authorization": "Bearer k"})
    assert response.status_code == 404 and response.json()["error"]["type"] == "invalid_request_error"
    assert response.headers["x-request-id"].startswith("req_")
    response = http.post("/v1/complete", json={}, headers={"x-api-key": "k", "anthropic-version": "2023-06-01"})
    assert response.status_code == 404 and response.json()["error"]["type"] == "not_found_error"
    assert response.headers["request-id"] == response.json()["request_id"]
    response = http.get("/v1/chat/completions")
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    response = http.delete("/llmsim/health")
    assert response.status_code == 405
    assert http.get("/llmsim/health").status_code == 200


def test_stream_options_need_stream(http):
    path, headers, good = ROUTES["openai"]
    response = http.post(path, json=dict(good, stream_options={"include_usage": True}), headers=headers)
    assert response.status_code == 400 and response.json()["error"]["param"] == "stream_options"


def test_oversized_body_is_413(http):
    path, headers, good = ROUTES["anthropic"]
    huge = dict(good, messages=user("x" * (33 * 1024 * 1024)))
    response = http.post(path, json=huge, headers=headers)
    assert response.status_code == 413 and response.json()["error"]["type"] == "request_too_large"
