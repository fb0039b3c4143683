"""The lab service of docker-compose.yml, played natively (there is no Docker engine here).

The image's command (docker/Dockerfile CMD) runs with the image's ENV and the compose file's
environment for `lab`, the `llmsim` service's own command serves the simulator, REDIS_URL
stands in for the redis service (service host names mapped to 127.0.0.1), and a `.env` with
one real key sits at the course root. Then SIGTERM, as `docker stop` sends.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml
from labtools import ROOT, Kernel, Lab, free_port, make_lessons, port_open

pytestmark = pytest.mark.slow

REAL_LOOKING_KEY = "sk-ant-api03-from-dotenv"


def image_env() -> dict[str, str]:
    """The ENV instructions of docker/Dockerfile."""
    text = (ROOT / "docker" / "Dockerfile").read_text().replace("\\\n", " ")
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            env.update(dict(pair.split("=", 1) for pair in line[4:].split()))
    return env


def image_cmd() -> list[str]:
    (cmd,) = re.findall(r"^CMD\s+(\[.*\])\s*$", (ROOT / "docker" / "Dockerfile").read_text(), re.MULTILINE)
    return json.loads(cmd)


def interpolate(value: str, dotenv: dict[str, str]) -> str:
    """Compose's ${VAR:-default}, with .env and the shell as compose would read them."""
    return re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: dotenv.get(m.group(1)) or m.group(2), str(value))


@pytest.fixture
def llmsim_service():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    argv = list(compose["services"]["llmsim"]["command"])
    port = free_port()
    argv[argv.index("--port") + 1] = str(port)
    argv[0] = str(Path(sys.executable).parent / argv[0])  # the console script, as on the image's PATH
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/llmsim/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "llmsim serve did not come up"
            time.sleep(0.2)
        yield compose, port
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_the_image_command_with_the_compose_environment(tmp_path, llmsim_service):
    from grader.services import redis_service

    compose, sim_port = llmsim_service
    # A course root like the mounted repo: lessons/, docker/ (the server config), and .env
    course = tmp_path / "course"
    make_lessons(course)
    shutil.copytree(ROOT / "docker", course / "docker")
    dotenv = {"ANTHROPIC_API_KEY": REAL_LOOKING_KEY, "OPENAI_API_KEY": "", "JWT_SECRET": "from-dotenv"}
    (course / ".env").write_text("".join(f"{k}={v}\n" for k, v in dotenv.items()))

    with redis_service() as redis:
        sim = f"http://127.0.0.1:{sim_port}"
        # compose: the image's ENV, then env_file (.env), then `environment`, which wins
        env = {**image_env(), "COURSE_ROOT": str(course), "LAB_LESSONS_DIR": ""}
        env.update({"ANTHROPIC_API_KEY": "", "OPENAI_API_KEY": "", "OPENROUTER_API_KEY": ""})  # not the shell's
        env.update({k: v for k, v in dotenv.items() if v})
        for key, value in compose["services"]["lab"]["environment"].items():
            value = interpolate(value, dotenv)
            env[key] = value.replace("http://llmsim:8900", sim).replace("redis://redis:6379/0", redis.url)
        argv = [sys.executable if image_cmd()[0] == "python" else image_cmd()[0], *image_cmd()[1:]]
        lab = Lab(course / "lessons", env=env, argv=argv)
        kernel = None
        try:
            lab.wait_ready()
            lab.printed(rf"llmsim at LLMSIM_URL \({re.escape(sim)}\)")
            lab.printed(r"anthropic: real key configured, using the real provider")
            lab.printed(rf"openai: llmsim at {re.escape(sim)}/v1")
            lab.printed(rf"openrouter: llmsim at {re.escape(sim)}/api/v1")
            lab.printed(r"Redis: Redis at REDIS_URL")
            # the URL printed is the host's (compose maps LAB_PORT on the host to 8888 inside)
            lab.printed(rf"JupyterLab is ready \([\d.]+ s\): http://127\.0\.0\.1:8888/lab\?token={lab.token}")

            with lab.client() as c:  # JupyterLab opened <course>/lessons, the image's default
                names = {i["name"] for i in c.get("/api/contents/").json()["content"]}
                assert "lab_smoke_test.ipynb" in names

            kernel = Kernel(lab, "lab_smoke_test.ipynb")
            out = kernel.execute(
                "import json, os, openai\n"
                "keys = ['ANTHROPIC_API_KEY', 'ANTHROPIC_BASE_URL', 'OPENAI_BASE_URL', 'JWT_SECRET',"
                " 'REDIS_URL', 'LAB_PROXY_BASE', 'LLMSIM_URL']\n"
                "print(json.dumps({k: os.environ.get(k) for k in keys}))\n"
                "r = openai.OpenAI().chat.completions.create(model='gpt-4o-mini',"
                " messages=[{'role': 'user', 'content': 'hello from the container'}], max_tokens=20)\n"
                "print('OPENAI', r.choices[0].message.content.replace(chr(10), ' '))\n"
            )
            assert out["status"] == "ok", out
            seen = json.loads(out["stdout"].splitlines()[0])
            assert seen == {
                "ANTHROPIC_API_KEY": REAL_LOOKING_KEY,  # .env's real key wins for anthropic...
                "ANTHROPIC_BASE_URL": None,  # ...so the SDK goes to the real provider
                "OPENAI_BASE_URL": sim + "/v1",  # the others stay on the llmsim service
                "JWT_SECRET": "from-dotenv",
                "REDIS_URL": redis.url,
                "LAB_PROXY_BASE": "/proxy/",
                "LLMSIM_URL": sim,
            }
            assert "hello from the container" in out["stdout"]
        finally:
            if kernel is not None:
                kernel.ws.close()
            code = lab.stop(signal.SIGTERM)  # docker stop

        assert code == 0, lab.output
        assert "stopped everything `make lab` started" in lab.output
        assert not port_open(lab.port)
        # the llmsim service is not the lab's to stop
        assert httpx.get(sim + "/llmsim/health", timeout=2).status_code == 200
