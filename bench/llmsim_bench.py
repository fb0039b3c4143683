"""Benchmark llmsim: non-streaming requests/s and streamed events/s, one server worker.

The server runs in its own process (``python -m llmsim serve``, uvicorn with uvloop and
httptools, access log off, token delay 0). The load generator runs in this process: by
default a lean asyncio HTTP/1.1 client on uvloop with many keep-alive connections (``raw``);
``--client httpx`` uses an ``httpx.AsyncClient`` instead (heavier: it measures the client as
much as the server); ``--client wrk`` uses ``wrk`` if installed (``apt-get install wrk``).
Both processes share this machine's cores, so the figures are a floor, not a ceiling.

    .venv/bin/python bench/llmsim_bench.py                 # 5 runs of 3 s each, medians
    .venv/bin/python bench/llmsim_bench.py --runs 3 --seconds 2 --connections 32

Figures, not a test: nothing here fails on a slow machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KEY = "sk-bench"
PLAIN_BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello, benchmark!"}]}
STREAM_BODY = {**PLAIN_BODY, "stream": True,
               "messages": [{"role": "user", "content": "Stream a reply of a few dozen tokens, please. " * 3}]}


def start_server() -> tuple[subprocess.Popen, str]:
    command = [sys.executable, "-m", "llmsim", "serve", "--port", "0", "--token-delay-ms", "0",
               "--log-level", "warning"]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    line = process.stdout.readline()
    match = re.search(r"http://[\d.]+:(\d+)", line)
    if not match:
        process.kill()
        raise SystemExit(f"llmsim did not start: {line!r}")
    return process, match.group(0)


def request_bytes(host: str, port: int, body: dict) -> bytes:
    payload = json.dumps(body).encode()
    head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {KEY}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n")
    return head.encode() + payload


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    match = re.search(rb"content-length: *(\d+)", lower)
    if match:
        return status, await reader.readexactly(int(match.group(1)))
    chunks = []  # chunked transfer encoding
    while True:
        size = int((await reader.readline()).strip(), 16)
        if size == 0:
            await reader.readline()
            return status, b"".join(chunks)
        chunks.append((await reader.readexactly(size + 2))[:-2])


async def raw_worker(host, port, payload, deadline, counts):
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            writer.write(payload)
            status, body = await read_response(reader)
            if status != 200:
                counts["errors"] += 1
                continue
            counts["requests"] += 1
            counts["events"] += body.count(b"\n\n")
    finally:
        writer.close()


async def httpx_worker(client, url, body, deadline, counts):
    while time.perf_counter() < deadline:
        response = await client.post(url + "/v1/chat/completions", json=body)
        if response.status_code != 200:
            counts["errors"] += 1
            continue
        counts["requests"] += 1
        counts["events"] += response.content.count(b"\n\n")


async def one_run(kind: str, url: str, body: dict, connections: int, seconds: float) -> dict:
    host, port = url.removeprefix("http://").split(":")
    counts = {"requests": 0, "events": 0, "errors": 0}
    started = time.perf_counter()
    deadline = started + seconds
    if kind == "raw":
        payload = request_bytes(host, int(port), body)
        await asyncio.gather(*(raw_worker(host, int(port), payload, deadline, counts) for _ in range(connections)))
    else:
        import httpx

        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        async with httpx.AsyncClient(limits=limits, headers={"Authorization": f"Bearer {KEY}"}) as client:
            await asyncio.gather(*(httpx_worker(client, url, body, deadline, counts) for _ in range(connections)))
    elapsed = time.perf_counter() - started
    return {"rps": counts["requests"] / elapsed, "eps": counts["events"] / elapsed, "errors": counts["errors"]}


def wrk_run(url: str, body: dict, connections: int, seconds: float) -> dict:
    script = f"""
wrk.method = "POST"
wrk.body = {json.dumps(json.dumps(body))}
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {KEY}"
"""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        result = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "-s", handle.name,
             url + "/v1/chat/completions"], capture_output=True, text=True, check=True)
    finally:
        Path(handle.name).unlink()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", result.stdout).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", result.stdout)
    return {"rps": rps, "eps": float("nan"), "errors": int(errors.group(1)) if errors else 0}


def measure(kind, url, body, connections, seconds, runs):
    runner = (lambda: wrk_run(url, body, connections, seconds)) if kind == "wrk" else (
        lambda: asyncio.run(one_run(kind, url, body, connections, seconds)))
    runner()  # warm-up, not counted
    results = [runner() for _ in range(runs)]
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--client", choices=["raw", "httpx", "wrk"], default="raw")
    parser.add_argument("--connections", type=int, default=None,
                        help="concurrent connections (default 64; 4 for httpx, whose pool slows "
                             "down with more)")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if args.connections is None:
        args.connections = 4 if args.client == "httpx" else 64
    if args.client == "wrk" and not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk), or use --client raw")
    if args.client != "httpx":
        try:
            import uvloop

            asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        except ImportError:
            pass
    load_before = os.getloadavg()[0]
    process, url = start_server()
    try:
        plain = measure(args.client, url, PLAIN_BODY, args.connections, args.seconds, args.runs)
        stream = [] if args.client == "wrk" else measure(
            args.client, url, STREAM_BODY, args.connections, args.seconds, args.runs)
    finally:
        process.terminate()
        process.wait(10)
    print(f"llmsim benchmark: 1 server worker (own process), client={args.client}, "
          f"{args.connections} connections, {args.runs} runs x {args.seconds:g} s, {os.cpu_count()} CPUs")
    # Other work on the machine skews the figures: show how busy it was before we started.
    print(f"load average before the run: {load_before:.2f}")
    print(f"{'workload':<28}{'median':>12}{'min':>12}{'max':>12}  errors")
    rows = [("non-streaming requests/s", [r["rps"] for r in plain], sum(r["errors"] for r in plain))]
    if stream:
        rows.append(("streamed requests/s", [r["rps"] for r in stream], sum(r["errors"] for r in stream)))
        rows.append(("streamed events/s", [r["eps"] for r in stream], 0))
    for name, values, errors in rows:
        print(f"{name:<28}{statistics.median(values):>12,.0f}{min(values):>12,.0f}{max(values):>12,.0f}  {errors}")
    if stream:
        per = statistics.median(r["eps"] / r["rps"] for r in stream if r["rps"])
        print(f"(each streamed reply: {per:.0f} SSE events)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
