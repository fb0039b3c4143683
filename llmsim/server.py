"""Run the simulator: embedded in a background thread (``running``, ``Simulator``) or in the
foreground for the CLI (``serve_forever``).

Stopping is quick even while a ``hang`` fault holds requests open or streams are in flight:
as uvicorn begins to shut down, the app wakes every waiting request (hangs answer 503,
streams end with an in-stream error) and any task still running after a short grace period
is cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import threading
import time
from collections.abc import Iterator

import uvicorn
import uvicorn.config

from .app import SimApp, create_app
from .control import SimClient
from .state import SimState
from .tokens import encoding

GRACEFUL_SHUTDOWN_S = 0.5  # then uvicorn cancels whatever is still running


class _SimServer(uvicorn.Server):
    """uvicorn's server, telling the app it is closing before connections are drained."""

    def __init__(self, config: uvicorn.Config, app: SimApp, handle_signals: bool) -> None:
        super().__init__(config)
        self.sim_app = app
        self._handle_signals = handle_signals

    async def shutdown(self, sockets=None) -> None:
        self.sim_app.close()
        await super().shutdown(sockets=sockets)

    @contextlib.contextmanager
    def capture_signals(self):
        # uvicorn re-raises the captured signal after shutdown (so SIGTERM would kill the
        # process with status -15); the CLI wants a clean exit instead.
        if not self._handle_signals or threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def _config(app: SimApp, *, log_level: str, embedded: bool) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        lifespan="off",
        access_log=False,
        log_level=log_level,
        # Embedded: leave the host program's logging alone.
        log_config=None if embedded else uvicorn.config.LOGGING_CONFIG,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        timeout_keep_alive=30,
        server_header=False,
        proxy_headers=False,
    )


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


class Simulator:
    """The simulator on its own event loop in a daemon thread.

    >>> sim = Simulator(port=0).start()   # port 0: a free port
    >>> sim.url, sim.port, sim.client     # doctest: +SKIP
    >>> sim.stop()
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        token_delay_ms: float = 0,
        *,
        state: SimState | None = None,
        log_level: str = "warning",
    ) -> None:
        self.host = host
        self._requested_port = port
        self.state = state if state is not None else SimState(token_delay_ms=token_delay_ms)
        self.app = create_app(self.state)
        self._log_level = log_level
        self._server: _SimServer | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._error: BaseException | None = None
        self.port: int | None = None
        self._client: SimClient | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the simulator is not running: call start() first")
        return _url(self.host, self.port)

    @property
    def client(self) -> SimClient:
        if self._client is None:
            self._client = SimClient(self.url)
        return self._client

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = 10.0) -> Simulator:
        if self.running:
            return self
        encoding()  # load the tokenizer now, not on the first request
        self._socket = _bind(self.host, self._requested_port)
        self.port = self._socket.getsockname()[1]
        self.app.open()  # a restarted simulator is no longer closing
        config = _config(self.app, log_level=self._log_level, embedded=True)
        self._server = _SimServer(config, self.app, handle_signals=False)
        self._error = None
        self._thread = threading.Thread(target=self._run, name=f"llmsim-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if self._error is not None or not self._thread.is_alive():
                self._cleanup()
                raise RuntimeError(f"llmsim failed to start: {self._error!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"llmsim did not start within {timeout} s")
            time.sleep(0.005)
        return self

    def _run(self) -> None:
        try:
            loop_factory = self._server.config.get_loop_factory()
            with asyncio.Runner(loop_factory=loop_factory) as runner:
                runner.run(self._server.serve(sockets=[self._socket]))
        except BaseException as exc:  # reported to start(); a thread has nowhere else to raise
            self._error = exc

    def stop(self, timeout: float = 3.0) -> None:
        """Stop serving; returns within about a second even with requests held open."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():  # give up politely: the thread is a daemon
                self._server.force_exit = True
                self._thread.join(1.0)
        self._cleanup()

    def _cleanup(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        self._thread = None

    def env(self, keys: bool = True) -> dict[str, str]:
        """Environment variables that point the SDKs (and litellm) at this simulator.

        ``ANTHROPIC_BASE_URL``, ``OPENAI_BASE_URL`` and ``OPENROUTER_API_BASE``, plus - with
        ``keys`` - placeholder ``*_API_KEY`` values the simulator accepts.
        """
        env = {
            "ANTHROPIC_BASE_URL": self.url,
            "OPENAI_BASE_URL": self.url + "/v1",
            "OPENROUTER_API_BASE": self.url + "/api/v1",
        }
        if keys:
            env.update(ANTHROPIC_API_KEY="sk-ant-llmsim", OPENAI_API_KEY="sk-llmsim",
                       OPENROUTER_API_KEY="sk-or-llmsim")
        return env

    def __str__(self) -> str:
        return self.url

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self.port is not None else "not started"
        return f"<llmsim.Simulator {where}{' running' if self.running else ''}>"


@contextlib.contextmanager
def running(host: str = "127.0.0.1", port: int = 0, token_delay_ms: float = 0, **kwargs) -> Iterator[Simulator]:
    """Run a simulator for the duration of a ``with`` block; yields the ``Simulator``."""
    sim = Simulator(host=host, port=port, token_delay_ms=token_delay_ms, **kwargs)
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()


def serve_forever(host: str, port: int, token_delay_ms: float, log_level: str = "info", announce=print) -> None:
    """Serve in the foreground until SIGINT or SIGTERM (the CLI)."""
    encoding()  # fail early, with a clear message, if the tokenizer file is missing
    sock = _bind(host, port)
    actual = sock.getsockname()[1]
    app = create_app(SimState(token_delay_ms=token_delay_ms))
    server = _SimServer(_config(app, log_level=log_level, embedded=False), app, handle_signals=True)
    announce(f"llmsim serving on {_url(host, actual)} (token delay {token_delay_ms:g} ms); "
             "Ctrl-C to stop")
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
