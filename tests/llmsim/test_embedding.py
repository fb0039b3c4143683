"""Embedding: start/stop in a thread (fast, even with hangs and streams), several at once,
and the ``llmsim serve`` command."""

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from conftest import OPENAI_KEY, user

import llmsim

CHAT = {"model": "gpt-4o-mini", "messages": user("a question long enough for a slow stream")}
HEADERS = {"Authorization": f"Bearer {OPENAI_KEY}"}


def _wait_in_flight(sim, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(e["ended_at"] is None for e in sim.client.requests()):
            return
        time.sleep(0.01)
    raise AssertionError("no request in flight")


def test_running_gives_url_port_client():
    with llmsim.running(port=0) as sim:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", sim.url)
        assert sim.url.endswith(str(sim.port)) and not sim.url.endswith("/")
        assert isinstance(sim.client, llmsim.SimClient)
        assert sim.client.health()["status"] == "ok"  # start() returned only once serving
    with pytest.raises(httpx.ConnectError):
        httpx.get(sim.url + "/llmsim/health", timeout=1)


def test_simulator_start_stop_restart_and_token_delay():
    sim = llmsim.Simulator(port=0, token_delay_ms=7)
    sim.start()
    try:
        assert sim.client.config() == {"token_delay_ms": 7}
        assert sim.running
    finally:
        sim.stop()
    assert not sim.running
    # Started again (on a new free port), it streams normally: the last stop is forgotten.
    with sim:
        body = dict(CHAT, stream=True)
        text = httpx.post(sim.url + "/v1/chat/completions", json=body, headers=HEADERS).text
        assert text.rstrip().endswith("data: [DONE]")
        assert sim.client.requests()[-1]["outcome"] == "ok"


@pytest.mark.timeout(15)
def test_stop_within_a_second_during_a_hang():
    sim = llmsim.Simulator(port=0).start()
    sim.client.add_fault(provider="openai", kind="hang")
    outcome = {}

    def call():
        try:
            outcome["status"] = httpx.post(sim.url + "/v1/chat/completions", json=CHAT, headers=HEADERS,
                                           timeout=10).status_code
        except httpx.HTTPError as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=call)
    thread.start()
    _wait_in_flight(sim)
    started = time.monotonic()
    sim.stop()
    assert time.monotonic() - started < 1.0
    thread.join(5)
    # The held request is answered "shutting down" (or dropped), never left hanging.
    assert outcome.get("status") == 503 or "error" in outcome


@pytest.mark.timeout(15)
def test_stop_within_a_second_during_a_slow_stream():
    sim = llmsim.Simulator(port=0, token_delay_ms=500).start()
    got_first = threading.Event()
    lines = []

    def stream():
        try:
            with httpx.stream("POST", sim.url + "/v1/chat/completions", json=dict(CHAT, stream=True),
                              headers=HEADERS, timeout=10) as response:
                for line in response.iter_lines():
                    lines.append(line)
                    got_first.set()
        except httpx.HTTPError:
            pass

    thread = threading.Thread(target=stream)
    thread.start()
    assert got_first.wait(5)
    started = time.monotonic()
    sim.stop()
    assert time.monotonic() - started < 1.0
    thread.join(5)
    assert not thread.is_alive()
    assert "data: [DONE]" not in lines  # cut short, not finished


def test_two_simulators_at_once_are_independent():
    with llmsim.running() as one, llmsim.running() as two:
        assert one.port != two.port
        one.client.add_fault(provider="openai", status=500)
        assert httpx.post(two.url + "/v1/chat/completions", json=CHAT, headers=HEADERS).status_code == 200
        assert httpx.post(one.url + "/v1/chat/completions", json=CHAT, headers=HEADERS).status_code == 500
        assert len(one.client.requests()) == 1 and len(two.client.requests()) == 1


def test_many_simulators_started_concurrently_and_sequentially():
    def cycle(_):
        with llmsim.running() as sim:
            return sim.port, httpx.post(sim.url + "/v1/chat/completions", json=CHAT, headers=HEADERS).status_code

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(cycle, range(4)))
    assert len({port for port, _ in results}) == 4 and all(status == 200 for _, status in results)
    started = time.monotonic()
    for _ in range(3):
        cycle(None)
    assert time.monotonic() - started < 3


def test_fixed_port_in_use_fails_clearly():
    with llmsim.running() as sim, pytest.raises(OSError):
        llmsim.Simulator(port=sim.port).start()


def _cli_command():
    script = Path(sys.executable).with_name("llmsim")
    return [str(script)] if script.exists() else [sys.executable, "-m", "llmsim"]


def _start_cli(*extra):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        _cli_command() + ["serve", "--port", "0", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    line = process.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:(\d+)", line)
    assert match, f"no URL in {line!r}"
    url = match.group(0)
    deadline = time.monotonic() + 10
    while True:
        try:
            if httpx.get(url + "/llmsim/health", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "llmsim serve did not answer"
        time.sleep(0.05)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_cli_serve_answers_and_exits_on_signal(sig):
    process, url = _start_cli("--token-delay-ms", "3")
    try:
        health = httpx.get(url + "/llmsim/health").json()
        assert health["status"] == "ok" and health["config"] == {"token_delay_ms": 3}
        # Hold a request open: the signal must still stop the server promptly.
        httpx.post(url + "/llmsim/faults", json={"provider": "*", "kind": "hang"})
        holder = threading.Thread(target=lambda: _quiet_post(url + "/v1/chat/completions"))
        holder.start()
        time.sleep(0.2)
        started = time.monotonic()
        process.send_signal(sig)
        assert process.wait(timeout=5) == 0
        assert time.monotonic() - started < 2
        holder.join(5)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()


def _quiet_post(url):
    with contextlib.suppress(httpx.HTTPError):  # the server may go away under it: that is the point
        httpx.post(url, json=CHAT, headers=HEADERS, timeout=5)


def test_cli_reports_a_busy_port():
    with llmsim.running() as sim:
        result = subprocess.run(_cli_command() + ["serve", "--port", str(sim.port)],
                                capture_output=True, text=True, timeout=20)
    assert result.returncode == 2 and "in use" in result.stderr


def test_console_script_is_installed():
    assert shutil.which("llmsim", path=str(Path(sys.executable).parent)), "pip install -e . provides llmsim"


def test_env_points_unconfigured_clients_at_the_simulator(sim, monkeypatch):
    import anthropic
    import litellm
    import openai

    for name in ("ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_PROFILE", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID"):
        monkeypatch.delenv(name, raising=False)
    for name, value in sim.env().items():
        monkeypatch.setenv(name, value)
    assert f"{sim}" == sim.url
    with anthropic.Anthropic(max_retries=0) as client:
        client.messages.create(model="claude-haiku-4-5", max_tokens=5, messages=user("env"))
    with openai.OpenAI(max_retries=0) as client:
        client.chat.completions.create(model="gpt-4o-mini", messages=user("env"))
    litellm.completion(model="openrouter/openai/gpt-4o-mini", messages=user("env"))
    assert [(e["provider"], e["status"]) for e in sim.client.requests()] == [
        ("anthropic", 200), ("openai", 200), ("openrouter", 200)]
