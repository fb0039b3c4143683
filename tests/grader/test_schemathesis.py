"""grader.checks.fuzzing.fuzz_api: no problem on the project 5 solution, each problem
of a deliberately broken app named with its method and path, and an error (never an
exception, never a hang) when there is nothing to fuzz."""

from __future__ import annotations

import base64
import contextlib
import socket
import textwrap
import threading
import time
import uuid
from pathlib import Path

import jwt
import pytest

from grader.checks.fuzzing import _curl, _problems, fuzz_api
from grader.plugin import GradingSession
from grader.runner import RunningApp, free_port

REPO = Path(__file__).resolve().parents[2]
P5 = REPO / "solutions" / "projects" / "05_production_chat"
SECRET = "s3cret-token-" + uuid.uuid4().hex

BROKEN_APP = f'''
import asyncio
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

app = FastAPI()
bearer = HTTPBearer(auto_error=False)


def user(creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> str:
    if creds is None or creds.credentials != "{SECRET}":
        raise HTTPException(401, "who are you?")
    return "ok"


class Item(BaseModel):
    name: str
    qty: int


class Thing(BaseModel):
    id: int
    name: str


@app.post("/items")
def create_item(item: Item, _: Annotated[str, Depends(user)]) -> Item:
    if not item.name:
        raise RuntimeError("empty name")  # 500
    return item


@app.get("/things/{{thing_id}}", response_model=Thing)
def get_thing(thing_id: int, _: Annotated[str, Depends(user)]):
    return JSONResponse({{"id": thing_id}})  # no "name": not the documented schema


@app.get("/users/{{user_id}}")
def get_user(user_id: int) -> dict[str, int]:
    raise HTTPException(404, "no such user")  # 404 is not documented


@app.get("/slow")
async def slow() -> dict[str, str]:
    await asyncio.sleep(600)
    return {{}}


@app.get("/excluded")
def excluded() -> dict[str, str]:
    raise RuntimeError("never fuzzed")


@app.get("/ok")
def ok(_: Annotated[str, Depends(user)]) -> dict[str, str]:
    return {{"status": "ok"}}


@app.get("/events", responses={{200: {{"content": {{"text/event-stream": {{}}}}}}}})
async def events():
    async def forever():
        while True:
            yield "data: tick\\n\\n"
            await asyncio.sleep(0.01)

    return StreamingResponse(forever(), media_type="text/event-stream")
'''


@pytest.mark.slow
def test_project5_solution_has_no_problems():
    with contextlib.ExitStack() as stack:
        session = GradingSession("project5", P5, stack, needs_redis=True)
        app = session.new_app(env={"RATE_LIMIT_FREE": "10000/minute"}).start()
        token = jwt.encode(
            {"sub": f"fuzz-{uuid.uuid4().hex[:8]}", "tier": "free", "exp": int(time.time()) + 600},
            session.secrets["JWT_SECRET"],
            algorithm="HS256",
        )
        # /v1/chat/stream included: SSE must not hang the run
        report = fuzz_api(app.url, {"Authorization": f"Bearer {token}"}, max_examples=25, seed=7)
    assert report.error is None and report.problems == [], report
    assert report.operations == 5 and report.cases > 100, report
    leftovers = {".hypothesis", ".schemathesis", "schemathesis-report"} & {p.name for p in P5.iterdir()}
    assert not leftovers, f"fuzzing wrote {leftovers} into the project folder"


@pytest.mark.slow
def test_broken_app_problems_name_method_and_path(tmp_path):
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "main.py").write_text(textwrap.dedent(BROKEN_APP))
    with RunningApp(tmp_path) as app:
        report = fuzz_api(
            app.url,
            {"Authorization": f"Bearer {SECRET}"},
            exclude_paths=["/excluded"],
            request_timeout_s=1,
            seed=7,
        )
    problems = "\n".join(report.problems)
    assert report.error is None, report
    assert report.operations == 6, report  # 7 routes, one excluded
    for prefix in ("POST /items:", "GET /things/{thing_id}:", "GET /users/{user_id}:"):
        assert sum(p.startswith(prefix) for p in report.problems) == 1, problems  # merged

    def line(prefix: str) -> str:
        return next((p for p in report.problems if p.startswith(prefix)), f"no line for {prefix}")

    assert "answered 500" in line("POST /items:"), problems
    assert 'curl -X POST -H "Authorization: Bearer $TOKEN"' in line("POST /items:"), problems
    assert "does not match the documented schema" in line("GET /things/{thing_id}:"), problems
    assert "'name' is a required property" in line("GET /things/{thing_id}:").replace('"', "'")
    assert "answered 404, a status its OpenAPI does not document" in line("GET /users/{user_id}:")
    assert line("GET /slow did not answer within 1 s") == "GET /slow did not answer within 1 s"
    assert "/ok" not in problems and "/events" not in problems and "/excluded" not in problems
    assert SECRET not in problems
    assert all(len(p) <= 300 for p in report.problems)


def test_unreachable_server_is_an_error():
    url = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    report = fuzz_api(url, {}, timeout_s=30)
    assert report.error and "Connection" in report.error and url in report.error, report
    assert report.problems == [] and time.monotonic() - started < 15


@pytest.mark.slow
def test_hanging_server_is_an_error_within_the_timeout():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        held: list[socket.socket] = []
        threading.Thread(target=lambda: held.append(server.accept()[0]), daemon=True).start()
        started = time.monotonic()
        report = fuzz_api(f"http://127.0.0.1:{server.getsockname()[1]}", {}, timeout_s=3)
        elapsed = time.monotonic() - started
        for conn in held:
            conn.close()
    assert report.error and "did not finish within 3 s" in report.error, report
    assert elapsed < 6, elapsed


def test_curl_keeps_tokens_out_and_binary_bodies_intact():
    request = {
        "method": "POST",
        "uri": "http://127.0.0.1:1/v1/chat",
        "headers": {"Authorization": ["Bearer abc.def.ghi"], "Content-Type": ["application/json"]},
        "body": {"$base64": "E16KuvA="},  # not UTF-8
    }
    curl = _curl(request, {"Authorization": "Bearer abc.def.ghi"})
    assert curl == (
        "curl -X POST -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' "
        "--data-binary $'\\x13^\\x8a\\xba\\xf0' http://127.0.0.1:1/v1/chat"
    )


def test_a_request_too_long_for_curl_is_summarised_without_the_token():
    server_error = {"name": "not_a_server_error", "status": "failure"}
    case = {"method": "POST", "path": "/v1/chat", "meta": {"generation": {"mode": "positive"}}}
    body = b'{"echo": "abc.def.ghi", "message": "' + b"x" * 400 + b'"}'
    request = {"method": "POST", "uri": "http://127.0.0.1:1/v1/chat", "body": {"$base64": base64.b64encode(body).decode()}}
    interaction = {"request": request, "response": {"status_code": 500}}
    [(line, _)] = _problems([server_error], case, interaction, {"Authorization": "Bearer abc.def.ghi"})
    assert line.startswith('POST /v1/chat: answered 500 (server error); sent /v1/chat with body {"echo": "$TOKEN"')
    assert len(line) == 300 and line.endswith("…")
