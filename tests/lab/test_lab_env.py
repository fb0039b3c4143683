"""grader.lab in pieces (the kernels' environment, settings, ports) and grader.lesson.serve() for notebooks."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from grader import lab, lesson

SIM = "http://127.0.0.1:8900"


def test_offline_by_default_every_provider_points_at_llmsim():
    env, said = lab.lab_env(SIM + "/", {"PATH": "/bin"})
    assert env["ANTHROPIC_BASE_URL"] == SIM
    assert env["OPENAI_BASE_URL"] == SIM + "/v1"
    assert env["OPENROUTER_API_BASE"] == SIM + "/api/v1"
    assert env["LLMSIM_URL"] == SIM
    for key in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "OPENROUTER_API_KEY"):
        assert env[key].startswith("sk-llmsim-")
    assert env["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"
    assert env["HF_HUB_OFFLINE"] == "1"  # LiteLLM would try to download a Llama tokenizer
    assert said == [
        f"anthropic: llmsim at {SIM}",
        f"openai: llmsim at {SIM}/v1",
        f"openrouter: llmsim at {SIM}/api/v1",
    ]


def test_a_real_key_wins_for_its_provider_only():
    # as in the container: compose points every base URL at llmsim, .env has one real key
    base = {
        "ANTHROPIC_API_KEY": "sk-ant-api03-realkey",
        "ANTHROPIC_BASE_URL": "http://llmsim:8900",
        "OPENAI_BASE_URL": "http://llmsim:8900/v1",
    }
    env, said = lab.lab_env("http://llmsim:8900", base)
    assert env["ANTHROPIC_API_KEY"] == "sk-ant-api03-realkey"
    assert "ANTHROPIC_BASE_URL" not in env  # the SDK's default: the real provider
    assert env["OPENAI_BASE_URL"] == "http://llmsim:8900/v1"
    assert env["OPENAI_API_KEY"].startswith("sk-llmsim-")
    assert said[0] == "anthropic: real key configured, using the real provider"


def test_a_base_url_of_the_learners_own_is_kept_with_a_real_key():
    base = {"OPENAI_API_KEY": "sk-proj-real", "OPENAI_BASE_URL": "https://gateway.example/v1"}
    env, said = lab.lab_env(SIM, base)
    assert env["OPENAI_BASE_URL"] == "https://gateway.example/v1"
    assert "openai: real key configured, using https://gateway.example/v1" in said


@pytest.mark.parametrize("value", ["", "sk-llmsim-x", "sk-ant-llmsim-0a1b", "your-key-here", "sk-ant-...", "<your key>", "changeme"])
def test_placeholders_are_not_real_keys(value):
    assert not lab.is_real_key(value)
    env, _ = lab.lab_env(SIM, {"ANTHROPIC_API_KEY": value})
    assert env["ANTHROPIC_BASE_URL"] == SIM


def test_read_dotenv_skips_empty_values(tmp_path):
    (tmp_path / ".env").write_text("ANTHROPIC_API_KEY=sk-ant-real\nOPENAI_API_KEY=\n# comment\nJWT_SECRET='s p'\n")
    assert lab.read_dotenv(tmp_path / ".env") == {"ANTHROPIC_API_KEY": "sk-ant-real", "JWT_SECRET": "s p"}
    assert lab.read_dotenv(tmp_path / "missing") == {}


def test_settings_from_environment_and_flags(monkeypatch):
    for k in ("LAB_PORT", "LAB_IP", "LAB_TOKEN", "JUPYTER_TOKEN", "LAB_LESSONS_DIR", "LAB_BROWSER"):
        monkeypatch.delenv(k, raising=False)
    s = lab.parse_args([])
    assert (s.port, s.ip, s.token, s.lessons, s.browser) == (None, "127.0.0.1", None, None, False)
    monkeypatch.setenv("LAB_PORT", "9001")
    monkeypatch.setenv("LAB_TOKEN", "t")
    monkeypatch.setenv("LAB_LESSONS_DIR", "/x")
    monkeypatch.setenv("LAB_BROWSER", "1")
    s = lab.parse_args([])
    assert (s.port, s.token, s.lessons, s.browser) == (9001, "t", "/x", True)
    s = lab.parse_args(["--port", "9002", "--no-browser", "--ip", "0.0.0.0"])
    assert (s.port, s.browser, s.ip) == (9002, False, "0.0.0.0")


@pytest.fixture
def busy_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def test_a_busy_port_that_was_asked_for_is_an_error_that_says_what_to_do(busy_port):
    with pytest.raises(lab.LabError, match=rf"port {busy_port} is already in use.*LAB_PORT="):
        lab.choose_port("127.0.0.1", busy_port)


def test_a_busy_default_port_moves_to_a_free_one(monkeypatch, busy_port):
    monkeypatch.setattr(lab, "DEFAULT_PORT", busy_port)
    port, note = lab.choose_port("127.0.0.1", None)
    assert port != busy_port and note == f"port {busy_port} is in use, so JupyterLab uses port {port}"


def test_main_says_why_it_cannot_start(tmp_path, capsys, busy_port):
    assert lab.main(["--lessons", str(tmp_path / "nope"), "--port", "0"]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "lessons").mkdir()
    assert lab.main(["--lessons", str(tmp_path / "lessons"), "--port", str(busy_port)]) == 2
    assert "already in use" in capsys.readouterr().err


def test_jupyter_command(tmp_path):
    s = lab.parse_args(["--ip", "0.0.0.0", "--no-browser"])
    argv = lab.jupyter_argv(s, tmp_path, tmp_path / "lessons", 9000)
    assert argv[1:4] == ["-m", "jupyter", "lab"]
    assert f"--config={tmp_path / 'docker' / 'jupyter_server_config.py'}" in argv
    assert {"--ServerApp.ip=0.0.0.0", "--ServerApp.port=9000", "--ServerApp.port_retries=0", "--no-browser"} <= set(argv)
    assert not any("token" in a.lower() for a in argv), "the token stays off the command line"


# -- serve(): embedded apps ------------------------------------------------------------------


def _app():
    from fastapi import FastAPI

    app = FastAPI(title="t")

    @app.get("/items/{n}")
    def item(n: int):
        return {"n": n}

    return app


def test_serve_outside_jupyterlab_has_no_prefix(monkeypatch):
    monkeypatch.delenv("LAB_PROXY_BASE", raising=False)
    monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX", raising=False)
    running = lesson.serve(_app(), name="t-plain")
    try:
        assert running.docs_url == f"http://127.0.0.1:{running.port}/docs"
        assert httpx.get(running.url + "/items/3").json() == {"n": 3}
        assert "url: '/openapi.json'" in httpx.get(running.url + "/docs").text
        assert "servers" not in httpx.get(running.url + "/openapi.json").json()
    finally:
        running.stop()
    assert running.port not in _listening()


def test_serve_under_jupyterlab_sets_the_proxy_root_path(monkeypatch):
    monkeypatch.setenv("LAB_PROXY_BASE", "/proxy/")
    running = lesson.serve(_app(), name="t-proxy")
    try:
        prefix = f"/proxy/{running.port}"
        assert running.docs_url == prefix + "/docs"
        assert prefix in running._repr_html_()
        # the kernel's own calls still work, straight at the port
        assert httpx.get(running.url + "/items/4").json() == {"n": 4}
        # what the proxy forwards (the prefix stripped) gets docs pointing back through it
        assert f"url: '{prefix}/openapi.json'" in httpx.get(running.url + "/docs").text
        assert httpx.get(running.url + "/openapi.json").json()["servers"] == [{"url": prefix}]
    finally:
        running.stop()


def test_jupyterhub_prefix(monkeypatch):
    monkeypatch.delenv("LAB_PROXY_BASE", raising=False)
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/ada/")
    assert lesson.proxy_prefix(8000) == "/user/ada/proxy/8000"


def test_running_it_again_replaces_it_on_the_same_port(monkeypatch):
    monkeypatch.delenv("LAB_PROXY_BASE", raising=False)
    first = lesson.serve(_app(), name="t-again")
    second = lesson.serve(_app(), name="t-again")
    try:
        assert second.port == first.port
        assert not first.thread.is_alive()
        assert httpx.get(second.url + "/items/5").json() == {"n": 5}
    finally:
        lesson.stop_all()
    assert not second.thread.is_alive()


def test_serve_on_a_busy_port_says_so(busy_port):
    with pytest.raises(RuntimeError, match=f"cannot listen on 127.0.0.1:{busy_port}"):
        lesson.serve(_app(), name="t-busy", port=busy_port)


def test_an_app_that_fails_to_start_is_reported(monkeypatch):
    from fastapi import FastAPI

    async def lifespan(app):
        raise RuntimeError("boom at startup")
        yield

    with pytest.raises(RuntimeError, match="did not start"):
        lesson.serve(FastAPI(lifespan=lifespan), name="t-fails")


def _listening() -> set[int]:
    ports = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        if parts[3] == "0A":  # LISTEN
            ports.add(int(parts[1].split(":")[1], 16))
    return ports


def test_a_redis_url_that_does_not_answer_stops_the_lab(tmp_path, capsys, monkeypatch):
    (tmp_path / "lessons").mkdir()
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{_closed_port()}/0")
    monkeypatch.setenv("LLMSIM_URL", "")
    assert lab.main(["--lessons", str(tmp_path / "lessons"), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "REDIS_URL=redis://127.0.0.1:" in err and "does not answer" in err


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_lab_settings_may_come_from_dotenv(tmp_path, monkeypatch):
    (tmp_path / "lessons").mkdir()
    (tmp_path / ".env").write_text("LAB_TOKEN=from-dotenv\nLAB_PORT=9123\nOTHER=x\n")
    monkeypatch.setenv("COURSE_ROOT", str(tmp_path))
    monkeypatch.delenv("LAB_TOKEN", raising=False)
    monkeypatch.setenv("LAB_PORT", "9124")  # the environment wins
    env = lab.settings_env()
    assert (env["LAB_TOKEN"], env["LAB_PORT"]) == ("from-dotenv", "9124")
    assert "OTHER" not in env or env["OTHER"] != "x"
    s = lab.parse_args([], env)
    assert (s.token, s.port) == ("from-dotenv", 9124)
