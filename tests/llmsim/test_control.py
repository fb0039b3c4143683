"""The control API: faults (validation, order, times, kinds), config, reset, health."""

import threading
import time

import httpx
import pytest
from conftest import ANTHROPIC_KEY, OPENAI_KEY, user

import llmsim

MESSAGES_BODY = {"model": "claude-haiku-4-5", "max_tokens": 50, "messages": user("hi")}
CHAT_BODY = {"model": "gpt-4o-mini", "messages": user("hi")}
A_HEADERS = {"x-api-key": ANTHROPIC_KEY, "anthropic-version": "2023-06-01"}
O_HEADERS = {"Authorization": f"Bearer {OPENAI_KEY}"}


def test_add_fault_returns_stored_fault(sim):
    fault = sim.client.add_fault(provider="anthropic", kind="http", status=529, times=2, retry_after=3)
    assert fault["id"].startswith("fault_")
    assert (fault["provider"], fault["kind"], fault["status"], fault["times"], fault["remaining"]) == (
        "anthropic", "http", 529, 2, 2)
    assert sim.client.faults() == [fault]


@pytest.mark.parametrize(("body", "words"), [
    ({"provider": "azure"}, "provider"),
    ({"kind": "explode"}, "kind"),
    ({"status": 200}, "status"),
    ({"status": 600}, "status"),
    ({"status": "529"}, "status"),
    ({"times": 0}, "times"),
    ({"times": -1}, "times"),
    ({"times": 1.5}, "times"),
    ({"retry_after": -1}, "retry_after"),
    ({"after_tokens": -2}, "after_tokens"),
    ({"delay_s": -0.5}, "delay_s"),
    ({"kind": "slow"}, "delay_s"),
    ({"statuz": 500}, "statuz"),
    ([1, 2], "JSON object"),
])
def test_bad_faults_get_422_with_a_clear_message(http, sim, body, words):
    response = http.post("/llmsim/faults", json=body)
    assert response.status_code == 422
    message = response.json()["error"]["message"]
    assert words in message
    assert sim.client.faults() == []


def test_bad_control_json_and_config(http):
    response = http.post("/llmsim/faults", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400 and "not valid JSON" in response.json()["error"]["message"]
    for body in ({"token_delay_ms": -1}, {"token_delay_ms": "fast"}, {"colour": "red"}):
        response = http.put("/llmsim/config", json=body)
        assert response.status_code == 422, body
    assert http.get("/llmsim/requests", params={"colour": "red"}).status_code == 400
    assert http.get("/llmsim/health").json()["status"] == "ok"


def test_faults_apply_in_order_and_times_run_out(sim, http):
    sim.client.add_fault(provider="anthropic", kind="http", status=429, times=1)
    sim.client.add_fault(provider="*", kind="http", status=500, times=2)
    statuses = [http.post("/v1/messages", json=MESSAGES_BODY, headers=A_HEADERS).status_code for _ in range(4)]
    assert statuses == [429, 500, 500, 200]
    assert [f["remaining"] for f in sim.client.faults()] == [0, 0]
    assert [f["hits"] for f in sim.client.faults()] == [1, 2]


def test_times_null_means_every_request_until_cleared(sim, http):
    sim.client.add_fault(provider="openai", kind="http", status=503, times=None)
    assert [http.post("/v1/chat/completions", json=CHAT_BODY, headers=O_HEADERS).status_code
            for _ in range(3)] == [503, 503, 503]
    sim.client.clear_faults()
    assert http.post("/v1/chat/completions", json=CHAT_BODY, headers=O_HEADERS).status_code == 200


def test_fault_model_filter(sim, http):
    sim.client.add_fault(provider="openai", kind="http", status=500, model="gpt-5-mini")
    assert http.post("/v1/chat/completions", json=CHAT_BODY, headers=O_HEADERS).status_code == 200
    body = dict(CHAT_BODY, model="gpt-5-mini")
    assert http.post("/v1/chat/completions", json=body, headers=O_HEADERS).status_code == 500


def test_http_fault_retry_after_header(sim, http):
    sim.client.add_fault(provider="anthropic", status=429, retry_after=7, times=1)
    response = http.post("/v1/messages", json=MESSAGES_BODY, headers=A_HEADERS)
    assert response.status_code == 429 and response.headers["retry-after"] == "7"
    assert response.json()["error"]["type"] == "rate_limit_error"
    assert response.headers["request-id"] == response.json()["request_id"]


def test_model_lists_and_count_tokens_are_never_faulted(sim, http):
    sim.client.add_fault(provider="*", kind="http", status=500)
    assert http.get("/v1/models", headers=O_HEADERS).status_code == 200
    assert http.post("/v1/messages/count_tokens", json={"model": "m", "messages": user("x")},
                     headers=A_HEADERS).status_code == 200


def test_slow_fault_delays_then_answers(sim, http):
    sim.client.add_fault(provider="openai", kind="slow", delay_s=0.3, times=1)
    started = time.monotonic()
    response = http.post("/v1/chat/completions", json=CHAT_BODY, headers=O_HEADERS)
    assert response.status_code == 200 and time.monotonic() - started >= 0.3
    entry = sim.client.requests()[-1]
    assert entry["outcome"] == "ok" and entry["fault"] == "fault_1"


def test_slow_stream_waits_before_first_byte(sim, http):
    sim.client.add_fault(provider="openai", kind="slow", delay_s=0.3, times=1)
    started = time.monotonic()
    with http.stream("POST", "/v1/chat/completions", json=dict(CHAT_BODY, stream=True), headers=O_HEADERS) as r:
        lines = r.iter_lines()
        first = next(lines)
        waited = time.monotonic() - started
        rest = [line for line in lines if line]
    assert waited >= 0.3 and first.startswith("data: ")
    assert rest[-1] == "data: [DONE]"


@pytest.mark.timeout(10)
def test_bounded_hang_answers_with_status(sim, http):
    sim.client.add_fault(provider="anthropic", kind="hang", delay_s=0.3, times=1)
    started = time.monotonic()
    response = http.post("/v1/messages", json=MESSAGES_BODY, headers=A_HEADERS)
    assert time.monotonic() - started >= 0.3
    assert response.status_code == 504 and response.json()["error"]["type"] == "timeout_error"


@pytest.mark.timeout(10)
def test_hang_is_visible_in_flight_and_does_not_block_others(sim, http):
    sim.client.add_fault(provider="openai", kind="hang", times=1)
    errors = []

    def hung_call():
        try:
            httpx.post(sim.url + "/v1/chat/completions", json=CHAT_BODY, headers=O_HEADERS, timeout=1.0)
        except httpx.TimeoutException as exc:
            errors.append(exc)

    thread = threading.Thread(target=hung_call)
    thread.start()
    deadline = time.monotonic() + 2
    while not sim.client.requests(provider="openai") and time.monotonic() < deadline:
        time.sleep(0.01)
    in_flight = sim.client.requests(provider="openai")[0]
    assert in_flight["ended_at"] is None and in_flight["outcome"] is None
    # Another request is served while the first hangs.
    assert http.post("/v1/chat/completions", json=CHAT_BODY, headers=O_HEADERS).status_code == 200
    thread.join(5)
    assert errors, "the hung request should have timed out on the client"
    assert sim.client.wait_for(outcome="cancelled", timeout=3)["fault"] == "fault_1"


def test_config_and_reset(sim, http):
    assert sim.client.config() == {"token_delay_ms": 0}
    assert sim.client.config(token_delay_ms=15) == {"token_delay_ms": 15}
    sim.client.add_fault(provider="openai")
    http.post("/v1/chat/completions", json=CHAT_BODY, headers=O_HEADERS)
    assert sim.client.requests() and sim.client.faults()
    sim.client.reset()
    assert sim.client.requests() == [] and sim.client.faults() == []
    assert sim.client.config() == {"token_delay_ms": 0}  # back to the startup config


def test_token_delay_paces_the_stream(sim, http):
    sim.client.config(token_delay_ms=20)
    started = time.monotonic()
    with http.stream("POST", "/v1/chat/completions", json=dict(CHAT_BODY, stream=True), headers=O_HEADERS) as r:
        lines = [line for line in r.iter_lines() if line.startswith("data: ") and '"content":"' in line]
    elapsed = time.monotonic() - started
    tokens_sent = sim.client.requests()[-1]["tokens_streamed"]
    assert tokens_sent >= 10 and elapsed >= tokens_sent * 0.02 * 0.9
    assert len(lines) >= tokens_sent


def test_health(sim):
    health = sim.client.health()
    assert health["status"] == "ok" and health["version"] == llmsim.__version__
    assert "POST /v1/messages" in health["endpoints"]


def test_clear_requests(sim, http):
    http.post("/v1/chat/completions", json=CHAT_BODY, headers=O_HEADERS)
    assert sim.client.clear_requests() == {"cleared": 1}
    assert sim.client.requests() == []


def test_simclient_raises_clear_error(sim):
    with pytest.raises(llmsim.SimError) as caught:
        sim.client.add_fault(provider="nobody")
    assert caught.value.status == 422 and "provider" in str(caught.value)
