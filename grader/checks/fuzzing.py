"""Fuzz a running app from its own OpenAPI schema with schemathesis; no pytest here.

``fuzz_api(base_url, headers)`` runs ``schemathesis run {base_url}/openapi.json`` in a child
process and returns a ``FuzzReport``: how many operations and requests, and one short line
per distinct problem a learner can act on (with a curl command to reproduce it).

Why it is built this way:

- A subprocess, in its own process group, in a temporary folder, killed at ``timeout_s``:
  the grader never hangs, hypothesis' state never leaks into the grader's own pytest run,
  and nothing (``.hypothesis``, ``.schemathesis``, reports) lands in the learner's folder.
- The headers (a bearer token) reach schemathesis through the environment, referenced from
  its config file as ``${NAME}``: not on the command line, where ``ps`` shows them.
- We read schemathesis' NDJSON event stream, not its coloured text, and build the curl line
  ourselves from the recorded request: its own output sanitizer hides every field whose
  name contains "token", so ``max_tokens`` would read ``[Filtered]``. Header values we were
  given never appear in a problem: the curl says ``Bearer $TOKEN``.

Checks: ``not_a_server_error`` (no 5xx), ``status_code_conformance``,
``content_type_conformance``, ``response_schema_conformance`` and
``response_headers_conformance``. Schemathesis generates both valid ("positive") and
invalid ("negative") requests; an undocumented status is reported only for a valid
request. A correct FastAPI app answers invalid requests with statuses it never documents:
400 "There was an error parsing the body" for a body that is not UTF-8, and 401/403 when
schemathesis drops the Authorization header. A 5xx, or a documented status whose body or
content type breaks the schema, is reported whatever the request.
Left out, because they fail on correct FastAPI apps: ``negative_data_rejection``
(pydantic's lax mode accepts ``false`` for a float or ``"1"`` for an int) and
``positive_data_acceptance`` (a schema-valid request can still be refused by a business
rule, e.g. an unknown model name gets 422); the auth and stateful-resource checks need
set-up a generic grader does not have.

Phases are schemathesis' own: examples, coverage (boundary values, a fixed ~100 requests for a
chat endpoint), fuzzing (``max_examples`` per operation), and stateful when it can chain
operations (POST /v1/conversations, then GET /v1/conversations/{id} with the new id).

Streaming endpoints do not hang a run: schemathesis reads at most 20 SSE events, and every
request has ``request_timeout_s``; a request that times out is reported as a problem.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
)
MAX_PROBLEMS = 8
MAX_CHARS = 300


@dataclass
class FuzzReport:
    operations: int = 0  # API operations tested
    cases: int = 0  # requests sent
    problems: list[str] = field(default_factory=list)  # one line per distinct failure
    error: str | None = None  # schemathesis could not run (or not to the end)

    @property
    def ok(self) -> bool:
        return self.error is None and not self.problems


def fuzz_api(
    base_url: str,
    headers: dict[str, str],
    *,
    max_examples: int = 10,
    timeout_s: float = 90,
    exclude_paths: list[str] | tuple[str, ...] = (),
    seed: int | None = None,
    request_timeout_s: float = 5.0,
) -> FuzzReport:
    """Run schemathesis against ``{base_url}/openapi.json``; never raises, never hangs."""
    schema_url = base_url.rstrip("/") + "/openapi.json"
    with tempfile.TemporaryDirectory(prefix="grader-schemathesis-") as tmp:
        tmpdir = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SCHEMATHESIS_", "HYPOTHESIS_"))}
        lines = ["[cache]", "enabled = false", "[headers]"]  # cache: no crash files to replay
        for i, (name, value) in enumerate(headers.items()):
            env[f"GRADER_ST_HEADER_{i}"] = value
            lines.append(f"{json.dumps(name)} = \"${{GRADER_ST_HEADER_{i}}}\"")
        # Our own config file: none from the folders above the temporary one is picked up.
        config = tmpdir / "schemathesis.toml"
        config.write_text("\n".join(lines) + "\n")
        events = tmpdir / "events.ndjson"
        argv = [
            sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "--no-color",
            "run", schema_url,
            "--checks", ",".join(CHECKS),
            "--max-examples", str(max_examples),
            "--request-timeout", str(request_timeout_s),
            "--continue-on-failure",  # one negative-only failure must not hide the next one
            "--generation-database", "none",
            "--suppress-health-check", "all",  # about data generation, not the learner's app
            "--workers", "1",  # one request at a time: a learner's app on a 2-core machine
            "--output-sanitize", "false",  # see the module docstring; we scrub the headers
            "--warnings", "off",
            "--report", "ndjson", "--report-ndjson-path", str(events),
        ]
        for path in exclude_paths:
            argv += ["--exclude-path", path]
        if seed is not None:
            argv += ["--seed", str(seed)]
        log = tmpdir / "output.txt"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                argv, cwd=tmpdir, env=env, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )
            timed_out = False
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)  # the whole group, on every path
                proc.wait()
        report, finished = _parse(events, schema_url, headers, request_timeout_s)
        if timed_out:
            report.error = f"schemathesis did not finish within {timeout_s:g} s (against {schema_url})"
        elif report.error is None and not finished:  # it crashed, or could not even start
            tail = " ".join(log.read_text(errors="replace").strip().splitlines()[-3:])
            report.error = f"schemathesis stopped early (exit code {proc.returncode}): {tail}"[:MAX_CHARS]
        elif report.error is None and report.operations == 0:
            report.error = f"{schema_url} has no API operation to test (or all are excluded)"
        return report


def _parse(
    events: Path, schema_url: str, headers: dict[str, str], request_timeout_s: float
) -> tuple[FuzzReport, bool]:
    """The report, and whether the run got to its end."""
    report = FuzzReport()
    seen: set[tuple] = set()
    problems: list[str] = []
    finished = False
    try:
        text = events.read_text(errors="replace")
    except OSError:
        text = ""
    for raw in text.splitlines():
        try:
            (kind, event), *_ = json.loads(raw).items()
        except (ValueError, AttributeError):
            continue  # a line cut short by a kill
        if kind == "EngineFinished":
            finished = True
        elif kind == "LoadingFinished":
            report.operations = event["statistic"]["operations"]["selected"]
        elif kind == "FatalError":
            exc = event.get("exception") or {}
            report.error = f"schemathesis could not run against {schema_url}: {exc.get('message') or exc.get('type')}"
        elif kind == "NonFatalError":
            label, exc = event.get("label", "?"), event.get("value") or {}
            key = (label, exc.get("type"))
            if key not in seen:
                seen.add(key)
                exc_type = str(exc.get("type"))
                if "Timeout" in exc_type:
                    problems.append(f"{label} did not answer within {request_timeout_s:g} s")
                elif "Connection" in exc_type:  # the app dropped the connection, or is gone
                    problems.append(f"{label}: the connection failed (did the app crash?): {exc.get('message')}")
                else:  # e.g. a schema no request can satisfy
                    problems.append(f"{label} could not be tested: {exc_type}: {exc.get('message')}")
        elif kind == "ScenarioFinished":
            recorder = event.get("recorder") or {}
            interactions = recorder.get("interactions") or {}
            report.cases += len(interactions)
            for case_id, checks in (recorder.get("checks") or {}).items():
                case = (recorder.get("cases") or {}).get(case_id, {}).get("value", {})
                interaction = interactions.get(case_id) or {}
                for line, key in _problems(checks, case, interaction, headers):
                    if key not in seen:
                        seen.add(key)
                        problems.append(line)
    problems = [_scrub(p, headers)[:MAX_CHARS] for p in problems]
    if len(problems) > MAX_PROBLEMS:
        problems[MAX_PROBLEMS - 1 :] = [f"... and {len(problems) - MAX_PROBLEMS + 1} more problems"]
    report.problems = problems
    return report, finished


def _problems(checks: list[dict], case: dict, interaction: dict, headers: dict[str, str]):
    """(line, dedup key) for each failed check of one test case worth telling the learner."""
    response = interaction.get("response") or {}
    status = response.get("status_code")
    label = f"{case.get('method', '?')} {case.get('path', '?')}"
    negative = ((case.get("meta") or {}).get("generation") or {}).get("mode") == "negative"
    failed = [c for c in checks if c.get("status") == "failure"]
    server_error = any(c["name"] == "not_a_server_error" for c in failed)
    for check in failed:
        name = check["name"]
        failure = (check.get("failure_info") or {}).get("failure") or {}
        if name == "status_code_conformance" and (negative or server_error):
            continue  # see the module docstring; a 5xx is reported once, as a server error
        first = (failure.get("message") or "").strip().splitlines()
        detail = first[0] if first else failure.get("title", name)
        if name == "not_a_server_error":
            what = f"answered {status} (server error)"
        elif name == "status_code_conformance":
            documented = next((x for x in first if x.startswith("Documented:")), "")
            what = f"answered {status}, a status its OpenAPI does not document ({documented.lower()})"
        elif name == "response_schema_conformance":
            what = f"a {status} response does not match the documented schema: {detail}"
        else:
            what = f"{failure.get('title', name)} ({status}): {detail}"
        line = _scrub(f"{label}: {what}", headers)  # before any cut: a cut token is not found
        request = interaction.get("request") or {}
        curl = _curl(request, headers)
        if curl and len(line) + len(curl) + 14 <= MAX_CHARS:
            line += f"; reproduce: {curl}"
        elif request.get("uri"):  # too long for a curl line: say at least what was sent
            path = "/" + request["uri"].split("://", 1)[-1].partition("/")[2]
            body = _body(request)
            line += _scrub(f"; sent {path}" + (f" with body {body[0]}" if body else ""), headers)
            line = line if len(line) <= MAX_CHARS else line[: MAX_CHARS - 1] + "…"
        yield line, (label, name, status)


def _curl(request: dict, headers: dict[str, str]) -> str | None:
    """A curl command for a recorded request; our own headers as shell variables."""
    if not request.get("uri"):
        return None
    ours = {name.lower() for name in headers}
    method = request.get("method", "GET")
    parts = ["curl"] if method == "GET" else ["curl", "-X", method]
    for name, values in (request.get("headers") or {}).items():
        if name.lower() in ours:
            parts.append(f'-H "{name}: {_placeholder(name, headers)}"')
        else:
            parts += ["-H", shlex.quote(f"{name}: {values[0] if isinstance(values, list) else values}")]
    body = _body(request)
    if body:
        quoted = _quote(body[1])
        parts += ["--data-binary" if quoted.startswith("$'") else "-d", quoted]
    parts.append(shlex.quote(request["uri"]))
    return " ".join(parts)


def _body(request: dict) -> tuple[str, bytes] | None:
    """A recorded request body as (text to show, bytes sent), or None."""
    body = request.get("body")
    if isinstance(body, dict) and "$base64" in body:
        data = base64.b64decode(body["$base64"])
    elif isinstance(body, str):
        data = body.encode()
    else:
        return None
    return data.decode(errors="replace"), data


def _quote(data: bytes) -> str:
    """Shell quoting; bash's $'...' when control characters or invalid UTF-8 must survive."""
    with contextlib.suppress(UnicodeDecodeError):
        if (text := data.decode()).isprintable():
            return shlex.quote(text)
    out = "".join(chr(b) if 32 <= b < 127 and b not in b"\\'" else f"\\x{b:02x}" for b in data)
    return f"$'{out}'"


def _placeholder(name: str, headers: dict[str, str]) -> str:
    value = next(v for k, v in headers.items() if k.lower() == name.lower())
    scheme = value.split(" ", 1)[0] if " " in value else ""
    return f"{scheme} $TOKEN" if scheme else "$" + name.upper().replace("-", "_")


def _scrub(text: str, headers: dict[str, str]) -> str:
    """Defence in depth: no header value we were given (a token) survives in a problem line."""
    for name, value in headers.items():
        credential = value.split(" ", 1)[-1]  # "Bearer <jwt>": the JWT alone may be echoed, too
        if len(credential) >= 8:  # short values ("1", "json") are no secrets, and are everywhere
            text = text.replace(value, _placeholder(name, headers)).replace(credential, "$TOKEN")
    return text
