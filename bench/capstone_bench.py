"""Capstone benchmark: POST /v1/chat requests/s and latency with everything on, one worker.

The chat backend runs as it would in production, minus the network: JWT auth, per-user rate
limits in Redis (limits set huge, so every request is counted but none is refused), JSON
logs at LOG_LEVEL=info, one uvicorn worker. Three processes, each in its own process group:

  llmsim    ``python -m llmsim serve --token-delay-ms 0``: the providers, answering at once
  app       ``python -m uvicorn app.main:app --workers 1 --no-access-log``, cwd = the project;
            provider env as the grader sets it (grader/plugin.py), Redis db 14, stdout
            (the JSON logs) to a temporary file
  loadgen   this script with ``--loadgen``: a lean asyncio HTTP/1.1 client on uvloop, N
            keep-alive connections, each sending its next request as soon as the last one is
            answered (closed loop). ``wrk`` is not used: it is rarely installed, and this
            client also counts every status code and keeps a sample body per status.

All of them, and Redis, share this machine's cores: the figures are for this machine.

    .venv/bin/python bench/capstone_bench.py              # 5 runs x 10 s per endpoint, medians
    .venv/bin/python bench/capstone_bench.py --quick      # 1 run x 3 s: does it work?
    .venv/bin/python bench/capstone_bench.py --project solutions/projects/05_production_chat
    .venv/bin/python bench/capstone_bench.py --diagnose   # adds a LOG_LEVEL=warning app

Needs Redis at 127.0.0.1:6379 (db 14; only this run's keys are deleted afterwards).
The default project is 07_genai_backend_capstone when it exists, else 05_production_chat
(the same POST /v1/chat contract).

Endpoints, each measured with the same load generator and connections; the runs are
interleaved (run 1 of every endpoint, then run 2, ...) so a busy spell on the machine
hits all of them alike:
  llmsim POST /v1/messages     the provider floor: what the app calls, called directly
  app GET /health              the framework floor: uvicorn + FastAPI + the logging
                               middleware; no auth, no limiter, no LLM call
  app POST /v1/chat, N users   the real thing, the tokens of N users round-robin
  app POST /v1/chat, 1 user    every request on one user's rate-limit key: the limiter's
                               worst case
  ..., warn (--diagnose)       N users again, on a second app started with LOG_LEVEL=warning
                               (no access lines): what the info logs cost

Figures, each the median over the runs:
  req/s          200 answers received per second in the measured window (after the warm-up)
  p50/p95/p99    latency in ms of those answers, seen by the client (includes queueing:
                 with N connections on one worker, p50 is about N / (req/s))
  vs llmsim, vs /health   req/s as a fraction of the two floors
  errors         non-200 answers and broken connections, summed over runs (should be 0)
  log lines/req  JSON lines the app wrote per answered request (a sanity check that logging
                 is on: expect one access line per request)
  CPU ms/req     CPU time per answered request of each process, all its threads (from /proc
                 schedstat; Redis's from its INFO, which counts every client of that Redis).
                 Under contention this is steadier than req/s.
  event loop     the app's main thread, as % of the window: on CPU; runq = runnable but the
                 CPU was another process's (someone else's load on the machine shows here);
                 other = blocked (the GIL held by LiteLLM's threads, the limiter's synchronous
                 Redis call, log writes) or idle. "machine": the four processes' CPU / all cores
Before the load, the per-request costs the app pays synchronously are timed in isolation in
this process: a Redis PING, a moving-window limiter hit like SlowAPI's, and a jwt.decode.
Alone they are cheap. Under load the limiter's hit is not: it blocks the event loop for a
Redis round trip that now includes waiting for Redis, then the app, to get a CPU (and the GIL
back from LiteLLM's executor threads). A sampling profiler of the app (py-spy --idle) shows
that; these figures do not.

Figures, not a test: nothing here fails on a slow machine. The exit status is 1 when any
answer was not a 200, because then the figures do not measure the chat path.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROJECTS = ROOT / "solutions" / "projects"
CAPSTONE, FALLBACK_PROJECT = "07_genai_backend_capstone", "05_production_chat"
REDIS_URL = "redis://127.0.0.1:6379/14"  # db 14: away from the course's and the tests' data
HUGE_LIMIT = "1000000/minute"  # counted on every request, never reached
MODEL = "claude-haiku-4-5"
MESSAGE = "Hello, benchmark!"
MAX_TOKENS = 64
TIERS = ("free", "premium")
READY_TIMEOUT_S = 60.0


# -- processes ------------------------------------------------------------------------------


class Processes:
    """Every child started, each in its own session: stopping it reaches its children too."""

    def __init__(self) -> None:
        self.children: list[subprocess.Popen] = []

    def start(self, argv: list[str], **kwargs) -> subprocess.Popen:
        child = subprocess.Popen(argv, start_new_session=True, **kwargs)
        self.children.append(child)
        return child

    def stop(self, child: subprocess.Popen) -> None:
        for sig, wait_s in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            try:
                os.killpg(child.pid, sig)  # the session's group id is the child's pid
            except ProcessLookupError:
                break
            try:
                child.wait(wait_s)
                break
            except subprocess.TimeoutExpired:
                continue
        with contextlib.suppress(ProcessLookupError):  # whatever of the group outlived its leader
            os.killpg(child.pid, signal.SIGKILL)
        if child in self.children:
            self.children.remove(child)

    def close(self) -> None:
        for child in reversed(list(self.children)):
            self.stop(child)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_llmsim(procs: Processes) -> str:
    argv = [sys.executable, "-m", "llmsim", "serve", "--port", "0", "--token-delay-ms", "0",
            "--log-level", "warning"]
    child = procs.start(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                        env=dict(os.environ, PYTHONUNBUFFERED="1"))
    line = child.stdout.readline()  # "llmsim serving on http://127.0.0.1:PORT (token delay 0 ms); ..."
    match = re.search(r"http://[\d.]+:\d+", line)
    if not match:
        raise SystemExit(f"llmsim did not start: {line!r}")
    return match.group(0)


def app_env(sim_url: str, jwt_secret: str, key_prefix: str, log_level: str, extra: dict[str, str]) -> dict:
    """The environment grader/plugin.py gives an app, plus auth, limits and Redis."""
    return {
        **os.environ,
        "ANTHROPIC_API_KEY": "sk-ant-llmsim-" + secrets.token_hex(16),
        "OPENAI_API_KEY": "sk-llmsim-" + secrets.token_hex(16),
        "OPENROUTER_API_KEY": "sk-or-llmsim-" + secrets.token_hex(16),
        "ANTHROPIC_BASE_URL": sim_url,
        "OPENAI_BASE_URL": sim_url + "/v1",
        "OPENROUTER_API_BASE": sim_url + "/api/v1",
        "ANTHROPIC_TIMEOUT_S": "2",
        "ANTHROPIC_MAX_RETRIES": "0",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_OFFLINE_MODE": "true",
        "LOG_LEVEL": log_level,
        "JWT_SECRET": jwt_secret,
        "REDIS_URL": REDIS_URL,
        "REDIS_KEY_PREFIX": key_prefix,  # the capstone's own keys (history, usage); 05 ignores it
        "RATE_LIMIT_FREE": HUGE_LIMIT,
        "RATE_LIMIT_PREMIUM": HUGE_LIMIT,
        "PYTHONDONTWRITEBYTECODE": "1",  # leave no __pycache__ in the solutions folder
        **extra,
    }


@dataclass
class App:
    child: subprocess.Popen
    port: int
    log_path: Path
    err_path: Path


def start_app(procs: Processes, project: Path, env: dict, workdir: Path, name: str) -> App:
    port = free_port()
    log_path, err_path = workdir / f"{name}.stdout.jsonl", workdir / f"{name}.stderr.txt"
    argv = [sys.executable, "-m", "uvicorn", "app.main:app", "--workers", "1",
            "--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    with open(log_path, "wb") as out, open(err_path, "wb") as err:
        child = procs.start(argv, cwd=project, env=env, stdout=out, stderr=err)
    return App(child, port, log_path, err_path)


def wait_ready(app: App) -> float:
    """Poll GET /health until 200 (the app imports LiteLLM: seconds); the wait in s."""
    started = time.monotonic()
    while time.monotonic() - started < READY_TIMEOUT_S:
        if app.child.poll() is not None:
            raise SystemExit(f"the app exited with {app.child.returncode}:\n{tail(app)}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{app.port}/health", timeout=2) as r:
                if r.status == 200:
                    return time.monotonic() - started
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.1)
    raise SystemExit(f"GET /health did not answer 200 within {READY_TIMEOUT_S:.0f} s:\n{tail(app)}")


def tail(app: App, chars: int = 2000) -> str:
    text = app.log_path.read_text(errors="replace") + app.err_path.read_text(errors="replace")
    return text[-chars:]


def group_sched_s(pgid: int) -> tuple[float, float, float]:
    """Seconds on a CPU of a process group's threads (LiteLLM runs its callbacks in a thread
    pool), of its main threads alone (the event loops), and seconds those main threads were
    runnable but waited for a CPU another process held: contention. From /proc schedstat.
    """
    on_cpu = loop_cpu = loop_wait = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rpartition(")")[2].split()  # after "(comm)", which may hold spaces
            if int(fields[2]) != pgid:  # fields[0] is the state: the pgrp is fields[2]
                continue
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/schedstat") as handle:
                    run_ns, wait_ns, _ = map(int, handle.read().split())
                on_cpu += run_ns
                if tid == pid:
                    loop_cpu, loop_wait = loop_cpu + run_ns, loop_wait + wait_ns
        except (OSError, ValueError):
            continue  # the process or thread ended meanwhile
    return on_cpu / 1e9, loop_cpu / 1e9, loop_wait / 1e9


# -- requests ---------------------------------------------------------------------------------


def http_request(method: str, path: str, port: int, headers: dict, body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}",
             *(f"{k}: {v}" for k, v in headers.items())]
    if body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def mint_tokens(jwt_secret: str, subs: list[str]) -> list[str]:
    import jwt

    exp = int(time.time()) + 6 * 3600  # outlives any run
    return [jwt.encode({"sub": sub, "tier": TIERS[i % 2], "exp": exp}, jwt_secret, algorithm="HS256")
            for i, sub in enumerate(subs)]


def chat_requests(port: int, tokens: list[str]) -> list[bytes]:
    body = json.dumps({"message": MESSAGE, "model": MODEL, "max_tokens": MAX_TOKENS}).encode()
    return [http_request("POST", "/v1/chat", port, {"Authorization": f"Bearer {t}"}, body)
            for t in tokens]


def llmsim_requests(sim_url: str) -> list[bytes]:
    # What LiteLLM sends for claude-haiku-4-5: the Anthropic Messages API.
    body = json.dumps({"model": MODEL, "max_tokens": MAX_TOKENS,
                       "messages": [{"role": "user", "content": MESSAGE}]}).encode()
    headers = {"x-api-key": "sk-ant-llmsim-bench", "anthropic-version": "2023-06-01"}
    return [http_request("POST", "/v1/messages", int(sim_url.rsplit(":", 1)[1]), headers, body)]


# -- load generator (its own process: python capstone_bench.py --loadgen < spec) ---------------


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """Status, body, and whether the server will close the connection."""
    head = (await reader.readuntil(b"\r\n\r\n")).lower()
    status = int(head[9:12])
    close = b"\r\nconnection: close" in head
    start = head.find(b"\r\ncontent-length:")
    if start >= 0:
        length = int(head[start + 17:head.index(b"\r\n", start + 2)])
        return status, await reader.readexactly(length), close
    chunks = []  # chunked transfer encoding
    while size := int((await reader.readline()).split(b";")[0], 16):
        chunks.append((await reader.readexactly(size + 2))[:-2])
    await reader.readline()
    return status, b"".join(chunks), close


@dataclass
class LoadState:
    requests: list[bytes]
    turn: itertools.count = field(default_factory=itertools.count)  # round-robin over users
    stop: bool = False
    samples: list[tuple[float, float, int]] = field(default_factory=list)  # (sent, answered, status)
    failures: dict[str, int] = field(default_factory=dict)
    examples: dict[str, str] = field(default_factory=dict)  # one body per status


async def connection(port: int, state: LoadState) -> None:
    """One keep-alive connection, sending the next request as soon as one is answered."""
    writer = None
    while not state.stop:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            payload = state.requests[next(state.turn) % len(state.requests)]
            sent = time.perf_counter()
            writer.write(payload)
            status, body, close = await read_response(reader)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            kind = type(exc).__name__
            state.failures[kind] = state.failures.get(kind, 0) + 1
            if writer is not None:
                writer.close()
            writer = None
            await asyncio.sleep(0.01)  # a dead server must not turn this into a busy loop
            continue
        state.samples.append((sent, time.perf_counter(), status))
        state.examples.setdefault(str(status), body[:300].decode("utf-8", "replace"))
        if close:
            writer.close()
            writer = None
    if writer is not None:
        writer.close()


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return math.nan
    return sorted_values[min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))]


def cpu_s() -> float:
    usage = os.times()
    return usage.user + usage.system


async def drive(spec: dict) -> dict:
    """Warm up, then measure: the answers that arrive inside the window count.

    (Counting only requests also *sent* inside it would drop the N in flight at its start.)
    """
    state = LoadState([r.encode("latin-1") for r in spec["requests"]])
    tasks = [asyncio.create_task(connection(spec["port"], state)) for _ in range(spec["connections"])]
    await asyncio.sleep(spec["warmup"])
    start, cpu_start = time.perf_counter(), cpu_s()
    print("measuring", flush=True)  # the parent samples the servers' CPU now...
    await asyncio.sleep(spec["seconds"])
    end, cpu_end = time.perf_counter(), cpu_s()
    print("done", flush=True)  # ...and now
    state.stop = True
    await asyncio.wait(tasks, timeout=30)
    window = [(a - s, st) for s, a, st in state.samples if start <= a <= end]
    ok = sorted(lat for lat, st in window if st == 200)
    statuses: dict[str, int] = {}
    for _, status in window:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    return {
        "seconds": end - start, "ok": len(ok), "rps": len(ok) / (end - start),
        "p50": percentile(ok, 0.50) * 1000, "p95": percentile(ok, 0.95) * 1000,
        "p99": percentile(ok, 0.99) * 1000, "statuses": statuses, "failures": state.failures,
        "answered_total": len(state.samples), "examples": state.examples,
        "loadgen_cpu_s": cpu_end - cpu_start,
    }


def loadgen_main() -> int:
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:
        pass
    spec = json.loads(sys.stdin.readline())
    print(json.dumps(asyncio.run(drive(spec))), flush=True)
    return 0


# -- one measured run -------------------------------------------------------------------------


@dataclass
class Endpoint:
    name: str
    port: int
    requests: list[bytes]
    app: App | None = None  # None: not the app (llmsim); no log lines to count
    groups: dict[str, int] = field(default_factory=dict)  # process groups whose CPU to sample
    runs: list[dict] = field(default_factory=list)


class RedisCpu:
    """Redis's own CPU seconds (INFO cpu): the whole server, every client of it."""

    def __init__(self) -> None:
        import redis

        self.client = redis.Redis.from_url(REDIS_URL)

    def seconds(self) -> float:
        info = self.client.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def one_run(procs: Processes, endpoint: Endpoint, redis_cpu: RedisCpu,
            args: argparse.Namespace) -> dict:
    """One load generator process against one endpoint; CPU sampled around its window."""
    spec = {"port": endpoint.port, "requests": [r.decode("latin-1") for r in endpoint.requests],
            "connections": args.connections, "warmup": args.warmup, "seconds": args.seconds}
    log_offset = endpoint.app.log_path.stat().st_size if endpoint.app else 0
    child = procs.start([sys.executable, str(Path(__file__).resolve()), "--loadgen"],
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    child.stdin.write(json.dumps(spec) + "\n")
    child.stdin.flush()
    samples = {}
    for mark in ("measuring", "done"):
        line = child.stdout.readline().strip()
        if line != mark:
            raise SystemExit(f"the load generator said {line!r}, expected {mark!r}")
        samples[mark] = {name: group_sched_s(pgid) for name, pgid in endpoint.groups.items()}
        samples[mark]["redis"] = (redis_cpu.seconds(), 0.0, 0.0)
    result = json.loads(child.stdout.readline())
    procs.stop(child)
    start, end = samples["measuring"], samples["done"]
    result["cpu_s"] = {name: end[name][0] - start[name][0] for name in end}
    result["cpu_s"]["loadgen"] = result["loadgen_cpu_s"]
    result["loop_cpu_s"] = end["app"][1] - start["app"][1]
    result["loop_runq_s"] = end["app"][2] - start["app"][2]
    if endpoint.app:
        result["log"] = count_log_lines(endpoint.app.log_path, log_offset)
    return result


def count_log_lines(path: Path, offset: int) -> dict:
    """Lines the app wrote since offset, and how many of them are not one JSON object."""
    with open(path, "rb") as handle:
        handle.seek(offset)
        lines = handle.read().splitlines()
    bad = 0
    for line in lines:
        try:
            bad += not isinstance(json.loads(line), dict)
        except ValueError:
            bad += 1
    return {"lines": len(lines), "not_json": bad}


# -- isolated per-request costs ---------------------------------------------------------------


def time_us(call, repeat: int = 2000) -> float:
    """Median wall time of one call in microseconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e6


def isolated_costs(run_id: str, jwt_secret: str, token: str) -> dict[str, float]:
    """What the app does synchronously per chat request, timed alone in this process."""
    import jwt
    import redis
    from limits import parse
    from limits.storage import RedisStorage
    from limits.strategies import MovingWindowRateLimiter

    client = redis.Redis.from_url(REDIS_URL)
    # SlowAPI's Limiter(strategy="moving-window", storage_uri=REDIS_URL) does exactly this hit.
    limiter = MovingWindowRateLimiter(RedisStorage(REDIS_URL))
    limit, key = parse(HUGE_LIMIT), f"bench-{run_id}-isolated"
    return {
        "Redis PING": time_us(client.ping),
        "moving-window limiter hit": time_us(lambda: limiter.hit(limit, key)),
        "jwt.decode (HS256)": time_us(lambda: jwt.decode(token, jwt_secret, algorithms=["HS256"])),
    }


def delete_own_keys(run_id: str) -> int:
    """Only this run's keys: the users' and the isolated limiter's names carry the run id."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"*bench-{run_id}-*", count=1000))
    if keys:
        client.delete(*keys)
    return len(keys)


# -- report -----------------------------------------------------------------------------------


def errors_of(run: dict) -> int:
    return sum(n for s, n in run["statuses"].items() if s != "200") + sum(run["failures"].values())


def print_run(index: int, total: int, endpoint: Endpoint, run: dict) -> None:
    print(f"run {index}/{total}  {endpoint.name:<30}{run['rps']:>9,.0f} req/s  p50 {run['p50']:6.1f}  "
          f"p95 {run['p95']:6.1f}  p99 {run['p99']:6.1f} ms  errors {errors_of(run)}", flush=True)


def median_of(endpoint: Endpoint, key: str) -> float:
    return statistics.median(run[key] for run in endpoint.runs)


def print_table(endpoints: list[Endpoint]) -> None:
    sim, health = endpoints[0], endpoints[1]
    floors = (median_of(sim, "rps"), median_of(health, "rps"))
    print(f"\n{'endpoint':<32}{'req/s':>8}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}"
          f"{'vs llmsim':>11}{'vs /health':>11}{'errors':>8}{'log lines/req':>15}")
    for e in endpoints:
        rps = median_of(e, "rps")
        errors = sum(errors_of(run) for run in e.runs)
        logs = ""
        if e.app:
            lines = sum(run["log"]["lines"] for run in e.runs)
            logs = f"{lines / max(1, sum(run['answered_total'] for run in e.runs)):.2f}"
        vs_health = f"{rps / floors[1]:.3f}" if e is not sim else "-"
        print(f"{e.name:<32}{rps:>8,.0f}{median_of(e, 'p50'):>8.1f}{median_of(e, 'p95'):>8.1f}"
              f"{median_of(e, 'p99'):>8.1f}{rps / floors[0]:>11.3f}{vs_health:>11}{errors:>8}{logs:>15}")


def print_cpu_table(endpoints: list[Endpoint]) -> None:
    names = ["app", "llmsim", "loadgen", "redis"]
    print(f"\nCPU ms per answered request (medians), {os.cpu_count()} CPUs shared by all:")
    print(f"{'':<68}{'app event loop, % of wall':>30}")
    print(f"{'endpoint':<32}" + "".join(f"{n:>9}" for n in names)
          + f"{'total':>9}{'on CPU':>10}{'runq':>8}{'other':>8}{'machine':>9}")
    for e in endpoints:
        per_req = {n: statistics.median(r["cpu_s"].get(n, 0) / max(1, r["ok"]) * 1000 for r in e.runs)
                   for n in names}
        loop_cpu = statistics.median(r["loop_cpu_s"] / r["seconds"] for r in e.runs)
        loop_runq = statistics.median(r["loop_runq_s"] / r["seconds"] for r in e.runs)
        machine = statistics.median(sum(r["cpu_s"][n] for n in names) / r["seconds"] for r in e.runs)
        cells = "".join(f"{per_req[n]:>9.2f}" for n in names)
        other = max(0.0, 1 - loop_cpu - loop_runq)
        print(f"{e.name:<32}{cells}{sum(per_req.values()):>9.2f}{loop_cpu:>10.0%}{loop_runq:>8.0%}"
              f"{other:>8.0%}{machine / os.cpu_count():>9.0%}")
    print("app: every thread of the app; redis: the whole Redis server, every client of it.\n"
          "event loop (the app's main thread): on CPU; runq = runnable, but another process had "
          "the CPU; other = blocked\n(the GIL held by LiteLLM's threads, the limiter's synchronous "
          "Redis call, log writes) or idle. machine: the four processes' CPU / all cores.")


# -- main -------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = PROJECTS / CAPSTONE if (PROJECTS / CAPSTONE).is_dir() else PROJECTS / FALLBACK_PROJECT
    parser.add_argument("--project", type=Path, default=default,
                        help=f"the app's folder (default: {CAPSTONE} if it exists, else {FALLBACK_PROJECT})")
    parser.add_argument("--connections", type=int, default=16, help="concurrent keep-alive clients")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured window per run")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each run")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--users", type=int, default=50, help="tokens sent round-robin")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 run of 3 s, 1 s warm-up")
    parser.add_argument("--diagnose", action="store_true",
                        help="also a second app with LOG_LEVEL=warning: the cost of the info logs")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="extra environment for the app (repeatable)")
    parser.add_argument("--keep-logs", action="store_true", help="keep the app's stdout files")
    parser.add_argument("--loadgen", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.runs, args.seconds, args.warmup = 1, 3.0, 1.0
    args.project = args.project.resolve()
    if not (args.project / "app" / "main.py").is_file():
        parser.error(f"{args.project} has no app/main.py")
    args.extra_env = dict(item.split("=", 1) for item in args.env)
    return args


def check_redis() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        raise SystemExit(f"Redis is needed at {REDIS_URL} ({exc}); start redis-server") from None


def build_endpoints(procs: Processes, args, sim_url: str, sim_pid: int, jwt_secret: str, run_id: str,
                    workdir: Path) -> list[Endpoint]:
    """Start the app(s), wait until ready, and list what to measure."""
    prefix = f"bench-{run_id}-chat:"  # delete_own_keys() finds it
    apps = {"app": start_app(procs, args.project, app_env(sim_url, jwt_secret, prefix, "info", args.extra_env),
                             workdir, "app")}
    if args.diagnose:
        env = app_env(sim_url, jwt_secret, prefix, "warning", args.extra_env)
        apps["app, LOG_LEVEL=warning"] = start_app(procs, args.project, env, workdir, "app-warning")
    for name, app in apps.items():
        print(f"{name}: ready in {wait_ready(app):.1f} s (GET /health on port {app.port})", flush=True)
    app = apps["app"]
    users = mint_tokens(jwt_secret, [f"bench-{run_id}-{i}" for i in range(args.users)])
    solo = mint_tokens(jwt_secret, [f"bench-{run_id}-solo"])
    endpoints = [
        Endpoint("llmsim POST /v1/messages", int(sim_url.rsplit(":", 1)[1]), llmsim_requests(sim_url)),
        Endpoint("app GET /health", app.port, [http_request("GET", "/health", app.port, {})], app),
        Endpoint(f"app POST /v1/chat, {args.users} users", app.port, chat_requests(app.port, users), app),
        Endpoint("app POST /v1/chat, 1 user", app.port, chat_requests(app.port, solo), app),
    ]
    if args.diagnose:
        quiet = apps["app, LOG_LEVEL=warning"]
        endpoints.append(Endpoint(f"app POST /v1/chat, {args.users} u, warn", quiet.port,
                                  chat_requests(quiet.port, users), quiet))
    for endpoint in endpoints:  # llmsim's row samples the idle app: about 0
        endpoint.groups = {"llmsim": sim_pid, "app": (endpoint.app or app).child.pid}
    return endpoints


def report(endpoints: list[Endpoint], costs: dict[str, float], args, load_before) -> int:
    print_table(endpoints)
    print_cpu_table(endpoints)
    print("\nper-request costs timed alone in this process (median): "
          + ", ".join(f"{name} {us:,.0f} µs" for name, us in costs.items()))
    logs = [run["log"] for e in endpoints if e.app for run in e.runs]
    print(f"app logs: {sum(x['lines'] for x in logs):,} lines written under load, "
          f"{sum(x['not_json'] for x in logs)} of them not a JSON object")
    chat = endpoints[2].runs[-1]["examples"].get("200", "")
    if "llmsim" not in chat:
        print(f"warning: a chat answer does not look like llmsim's: {chat[:200]!r}")
    errors = sum(errors_of(run) for e in endpoints for run in e.runs)
    if errors:
        for e in endpoints:
            for run in e.runs:
                if errors_of(run):
                    print(f"{e.name}: statuses {run['statuses']}, failures {run['failures']}, "
                          f"examples {json.dumps(run['examples'])[:600]}")
    load_after = os.getloadavg()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in load_before)}; "
          f"after: {' '.join(f'{x:.2f}' for x in load_after)}")
    return 1 if errors else 0


def run_benchmark(procs: Processes, args: argparse.Namespace, workdir: Path, run_id: str) -> int:
    jwt_secret = secrets.token_hex(32)
    load_before = os.getloadavg()
    costs = isolated_costs(run_id, jwt_secret, mint_tokens(jwt_secret, ["isolated"])[0])
    sim_url = start_llmsim(procs)
    endpoints = build_endpoints(procs, args, sim_url, procs.children[0].pid, jwt_secret, run_id, workdir)
    print(f"capstone benchmark: {args.project.relative_to(ROOT) if args.project.is_relative_to(ROOT) else args.project}, "
          f"1 uvicorn worker, llmsim at {sim_url} (token delay 0), Redis db 14, LOG_LEVEL=info")
    print(f"load generator: asyncio HTTP/1.1 on uvloop in its own process, {args.connections} "
          f"keep-alive connections, {args.runs} run(s) x {args.seconds:g} s after {args.warmup:g} s "
          f"warm-up; {os.cpu_count()} CPUs", flush=True)
    redis_cpu = RedisCpu()
    for index in range(1, args.runs + 1):
        for endpoint in endpoints:  # interleaved: drift on the machine hits every endpoint alike
            run = one_run(procs, endpoint, redis_cpu, args)
            endpoint.runs.append(run)
            print_run(index, args.runs, endpoint, run)
    return report(endpoints, costs, args, load_before)


def main() -> int:
    if "--loadgen" in sys.argv[1:]:
        return loadgen_main()
    args = parse_args()
    check_redis()
    # SIGTERM and SIGHUP end the run like Ctrl-C does: through the finally below. SIGINT too,
    # even when started in the background (a shell without job control ignores it there).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, frame: sys.exit(128 + signum))
    procs, run_id = Processes(), secrets.token_hex(4)
    workdir = Path(tempfile.mkdtemp(prefix="capstone-bench-"))
    try:
        return run_benchmark(procs, args, workdir, run_id)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        procs.close()
        deleted = delete_own_keys(run_id)
        print(f"cleanup: every process stopped, {deleted} Redis keys of this run deleted from db 14",
              file=sys.stderr)
        if args.keep_logs:
            print(f"app logs kept in {workdir}", file=sys.stderr)
        else:
            for path in workdir.iterdir():
                path.unlink()
            workdir.rmdir()


if __name__ == "__main__":
    sys.exit(main())
