"""What the reliability suite runs the capstone against: a Redis of its own that a test can
stop, pause and restart, and the capstone (or Project 5/6) started against llmsim and it.

A helper module (the tests import it); fixtures live in conftest.py.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from grader.runner import free_port, spawn, wrapped

ROOT = Path(__file__).resolve().parents[2]
PROJECTS = ROOT / "solutions" / "projects"
CAPSTONE = PROJECTS / "07_genai_backend_capstone"


class OwnRedis:
    """A redis-server on a free port with an append-only file, so "nothing lost" can be proven.

    stop() ends it (SIGTERM), pause()/resume() freeze it (SIGSTOP/SIGCONT: a hung Redis that
    still holds its connections open), restart() stops it and starts it again on the same
    port and data folder.
    """

    def __init__(self) -> None:
        server = shutil.which("redis-server")
        if server is None:
            raise RuntimeError("the reliability suite needs redis-server on PATH")
        self.server = server
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.dir = Path(tempfile.mkdtemp(prefix="reliability-redis-"))
        self.proc: subprocess.Popen | None = None
        self.paused = False

    def start(self) -> OwnRedis:
        argv = [self.server, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
                "--save", "", "--appendonly", "yes", "--appendfsync", "always"]
        self.proc = spawn(wrapped(argv), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          start_new_session=True)
        deadline = time.monotonic() + 10
        while not self.ping():
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server on port {self.port} did not answer within 10 s")
            time.sleep(0.05)
        return self

    def ping(self, timeout: float = 0.3) -> bool:
        try:
            client = redis.Redis.from_url(self.url, socket_connect_timeout=timeout, socket_timeout=timeout)
            try:
                return bool(client.ping())
            finally:
                client.close()
        except redis.RedisError:
            return False

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, decode_responses=True, socket_timeout=5)

    def _signal(self, sig: int) -> None:
        assert self.proc is not None
        # wrapped() puts redis-server under the reaper: signal the whole group it leads
        os.killpg(self.proc.pid, sig)

    def pause(self) -> None:
        self._signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        self._signal(signal.SIGCONT)
        self.paused = False

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.paused:
            self.resume()
        self._signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self.proc.wait(5)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
