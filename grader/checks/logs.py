"""The app's log: one JSON object per line, request ids, access lines (Projects 5 and 7)."""

from __future__ import annotations

import json
import re
import secrets
import time

from grader.checks import sse
from grader.checks.auth import CHAT, TIMEOUT_S, AuthedApp, chat, mint
from grader.checks.http import nonce, short
from grader.checks.journal import generations
from grader.checks.waiting import wait_until
from grader.criterion import check

STREAM = "/v1/chat/stream"


def log_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def json_line(line: str) -> dict | None:
    try:
        data = json.loads(line)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def has_value(data: object, value: str) -> bool:
    if isinstance(data, dict):
        return any(has_value(v, value) for v in data.values())
    if isinstance(data, list):
        return any(has_value(v, value) for v in data)
    return data == value


_DURATION_KEY = re.compile(r"duration|latency|elapsed|took|response_time|time_ms", re.I)


def is_access_line(data: dict, method: str, path: str, status: int) -> bool:
    values = list(data.values())
    return (
        method in values
        and any(v == path or (isinstance(v, str) and v.startswith(path + "?")) for v in values)
        and any(v == status or v == str(status) for v in values)
        and any(_DURATION_KEY.search(k) and isinstance(v, int | float) for k, v in data.items())
    )


def request_window(app, send) -> tuple[object, list[str]]:
    """Send one request; the response and the log lines the app wrote while handling it."""
    time.sleep(0.1)  # the previous request's access line is written just after its response
    mark = len(app.logs())
    r = send()
    rid = r.headers.get("x-request-id", "")

    def settled():
        text = app.logs()[mark:]
        return text if (rid and rid in text and '"' + CHAT in text) or not rid else None

    wait_until(settled, timeout=1.0)
    time.sleep(0.1)  # an access line is written just after the response is sent
    return r, log_lines(app.logs()[mark:])


def check_request_id_logs(app, sim):
    token = mint(app)
    rid = "trace-" + secrets.token_hex(8)
    # one transient failure: the request logs more than its access line
    sim.add_fault(provider="*", kind="http", status=529, times=1)
    r, lines = request_window(app, lambda: chat(app, token, headers={"X-Request-ID": rid}))
    sim.clear_faults()
    check(r.status_code == 200, f"POST {CHAT} answered {r.status_code}: {short(r.text, 100)}")
    check(
        r.headers.get("x-request-id") == rid,
        f"a request sent with X-Request-ID {rid} came back with X-Request-ID {r.headers.get('x-request-id')!r}; return the caller's id",
    )
    check(lines, "the app wrote no log line while handling a request")
    for line in lines:
        data = json_line(line)
        check(data is not None, f"a log line is not one JSON object: {short(line, 120)}")
        check(has_value(data, rid), f"a log line of request {rid} does not carry its id: {short(line, 160)}")
    check(
        len(lines) >= 2,
        "a request that was retried once logged a single line: log each retry (tenacity's before_sleep) too",
    )
    check(
        any(is_access_line(json_line(line), "POST", CHAT, 200) for line in lines),
        "no log line of the request has its method, path, status and duration (e.g. duration_ms)",
    )
    r, lines = request_window(app, lambda: chat(app, token))
    generated = r.headers.get("x-request-id", "")
    check(generated and generated != rid, f"a request without X-Request-ID came back with {generated!r}; generate one")
    check(
        lines and all(has_value(json_line(line) or {}, generated) for line in lines),
        f"the log lines of a request without X-Request-ID do not all carry the generated id {generated}",
    )
    leaked = [s for s in app.secrets if s in app.logs()]
    check(not leaked, "a secret (an API key or JWT_SECRET) appears in the app's log")


def check_request_id_upstream(app, sim):
    token = mint(app)
    rid = "trace-" + secrets.token_hex(8)
    sim.clear_requests()
    r = chat(app, token, headers={"X-Request-ID": rid})
    check(r.status_code == 200, f"POST {CHAT} answered {r.status_code}: {short(r.text, 100)}")
    entries = generations(sim)
    check(entries, f"POST {CHAT} did not reach the provider")
    seen = {k.lower(): v for k, v in (entries[-1].get("headers") or {}).items()}
    check(
        seen.get("x-request-id") == rid,
        f"the provider request carried x-request-id {seen.get('x-request-id')!r}; expected this request's id {rid}",
    )
    sim.clear_requests()
    result = sse.read_stream(AuthedApp(app, token), STREAM, {"message": f"trace {nonce()}"}, timeout=TIMEOUT_S)
    generated = result.headers.get("x-request-id", "")
    entries = generations(sim)
    seen = {k.lower(): v for k, v in ((entries[-1].get("headers") or {}) if entries else {}).items()}
    check(
        generated and seen.get("x-request-id") == generated,
        f"the streamed request's id is {generated!r} but its provider request carried {seen.get('x-request-id')!r}",
    )
