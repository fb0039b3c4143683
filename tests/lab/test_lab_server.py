"""`make lab` end to end: JupyterLab answers, a server-started kernel runs a lesson notebook's
cells, the embedded app answers through jupyter-server-proxy, and Ctrl-C stops everything."""

from __future__ import annotations

import re

import httpx
import pytest
from labtools import Kernel, Lab, make_lessons, pid_alive, port_open

pytestmark = pytest.mark.slow


def test_make_lab_end_to_end(tmp_path):
    lessons = make_lessons(tmp_path)
    lab = Lab(lessons)
    kernel = None
    try:
        lab.wait_ready()
        # What it said it uses, and the URL with the token
        assert lab.printed(r"JupyterLab is ready \([\d.]+ s\): (\S+)").group(1) == f"{lab.url}/lab?token={lab.token}"
        sim_port = int(lab.printed(r"llmsim \(the offline LLM provider simulator\) at http://127\.0\.0\.1:(\d+)").group(1))
        for provider in ("anthropic", "openai", "openrouter"):
            lab.printed(rf"{provider}: llmsim at http://127\.0\.0\.1:{sim_port}")
        redis_line = lab.printed(r"Redis: (.*)").group(1)
        redis_port = int(re.search(r"REDIS_URL=redis://[^:]+:(\d+)", redis_line).group(1))

        with lab.client() as c:
            # the lessons tree, through the contents API
            assert c.get("/api/status").status_code == 200
            listing = {item["name"]: item["type"] for item in c.get("/api/contents/").json()["content"]}
            assert listing.get("lab_smoke_test.ipynb") == "notebook", listing
            # a token is required
            assert httpx.get(f"{lab.url}/api/contents/").status_code == 403
            # open the notebook as JupyterLab does
            model = c.get("/api/contents/lab_smoke_test.ipynb", params={"content": 1}).json()
            cells = [cell["source"] for cell in model["content"]["cells"] if cell["cell_type"] == "code"]
            assert len(cells) == 3

        kernel = Kernel(lab, "lab_smoke_test.ipynb")
        first = kernel.execute(cells[0])
        assert first["status"] == "ok", first
        m = re.search(r"PORT=(\d+) PID=(\d+) DOCS=(\S+)", first["stdout"])
        app_port, kernel_pid, docs = int(m.group(1)), int(m.group(2)), m.group(3)
        assert docs == f"/proxy/{app_port}/docs"

        with lab.client() as c:
            # the embedded app, through the proxy, as the learner's browser reaches it
            r = c.get(f"/proxy/{app_port}/hello", params={"name": "proxy"})
            assert r.status_code == 200, r.text
            assert r.json() == {"hello": "proxy", "kernel_pid": kernel_pid}
            # /docs points the Swagger UI at the schema's URL under the proxy, and that loads
            page = c.get(f"/proxy/{app_port}/docs")
            assert page.status_code == 200
            assert f"url: '/proxy/{app_port}/openapi.json'" in page.text
            schema = c.get(f"/proxy/{app_port}/openapi.json").json()
            assert "/hello" in schema["paths"]
            assert schema["servers"] == [{"url": f"/proxy/{app_port}"}]  # "Try it out" goes through it too

        # running the cell again replaces the app cleanly, on the same port
        again = kernel.execute(cells[0])
        assert again["status"] == "ok", again
        assert f"PORT={app_port} " in again["stdout"]
        with lab.client() as c:
            assert c.get(f"/proxy/{app_port}/hello").json()["hello"] == "lab"

        # the real SDK in the kernel talks to the lab's llmsim
        sdk = kernel.execute(cells[1])
        assert sdk["status"] == "ok", sdk
        assert f"ANTHROPIC http://127.0.0.1:{sim_port} " in sdk["stdout"]
        assert "ping from the lab" in sdk["stdout"], sdk["stdout"]

        # Redis, and the grader, from the lab's environment (as in a JupyterLab terminal)
        rest = kernel.execute(cells[2], timeout=150)
        assert rest["status"] == "ok", rest
        assert "REDIS True" in rest["stdout"] and "GRADER 0 True" in rest["stdout"], rest
    finally:
        if kernel is not None:
            kernel.ws.close()  # the session is left to the server's shutdown, as a learner's would be
        code = lab.ctrl_c()

    # Ctrl-C stopped everything make lab started: server, kernel (and its app), llmsim, Redis
    assert "stopped everything `make lab` started" in lab.output, lab.output
    assert code in (0, 2, 130, -2), lab.output  # make reports the interrupt its own way
    assert not port_open(lab.port), "JupyterLab still listens"
    assert not pid_alive(kernel_pid), "the kernel outlived the lab"
    assert not port_open(app_port), "the embedded app outlived the lab"
    assert not port_open(sim_port), "llmsim outlived the lab"
    if not redis_line.startswith("Redis at REDIS_URL"):  # one it started (redis-server or fakeredis)
        assert not port_open(redis_port), "the lab's redis-server outlived it"
