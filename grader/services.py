"""The services a graded app is wired to: an llmsim of the run's own, and Redis.

Storage rule (README.md, "The grader"): ``REDIS_URL`` when set; otherwise a ``redis-server`` on PATH started
on a free port; otherwise fakeredis's TCP server. Whatever is used is said in the output.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

from grader.runner import free_port, spawn, wrapped


class ServiceError(Exception):
    pass


@dataclass
class RedisService:
    url: str
    description: str


def _ping(url: str, timeout: float = 1.0) -> str | None:
    """None when Redis answers at ``url``, else the reason it does not."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        try:
            client.ping()
        finally:
            client.close()
        return None
    except Exception as exc:  # any failure to reach Redis is reported, not raised
        return f"{exc.__class__.__name__}: {exc}"


@contextlib.contextmanager
def redis_service() -> Iterator[RedisService]:
    url = os.environ.get("REDIS_URL")
    if url:
        problem = _ping(url)
        if problem:
            raise ServiceError(f"REDIS_URL={url} does not answer ({problem})")
        yield RedisService(url, f"Redis at REDIS_URL ({url})")
        return
    server = shutil.which("redis-server")
    if server:
        port = free_port()
        # under the reaper: it ends with us even when we are killed (SIGKILL, a closed terminal)
        proc = spawn(
            wrapped([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        url = f"redis://127.0.0.1:{port}/0"
        try:
            deadline = time.monotonic() + 5
            while _ping(url, 0.2) and time.monotonic() < deadline:
                time.sleep(0.05)
            yield RedisService(url, f"redis-server started by the grader on port {port}")
        finally:
            proc.terminate()
            try:
                proc.wait(3)
            except subprocess.TimeoutExpired:
                proc.kill()
        return
    from fakeredis import TcpFakeServer

    port = free_port()
    server_obj = TcpFakeServer(("127.0.0.1", port), server_type="redis")
    import threading

    thread = threading.Thread(target=server_obj.serve_forever, daemon=True)
    thread.start()
    try:
        yield RedisService(f"redis://127.0.0.1:{port}/0", f"fakeredis TCP server on port {port}")
    finally:
        server_obj.shutdown()
        server_obj.server_close()
