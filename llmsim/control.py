"""SimClient: a small httpx client for the simulator's control API (``/llmsim/...``)."""

from __future__ import annotations

import time
from typing import Any

import httpx


class SimError(RuntimeError):
    """The control API refused a request; ``status`` and ``body`` say why."""

    def __init__(self, status: int, body: Any) -> None:
        message = body.get("error", {}).get("message") if isinstance(body, dict) else None
        super().__init__(f"llmsim answered {status}: {message or body}")
        self.status = status
        self.body = body


class SimClient:
    """Control a running simulator.

    >>> c = SimClient("http://127.0.0.1:8900")            # doctest: +SKIP
    >>> c.add_fault(provider="anthropic", kind="http", status=529, times=2)  # doctest: +SKIP
    """

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout)

    def _call(self, method: str, path: str, **kwargs) -> Any:
        response = self._http.request(method, path, **kwargs)
        try:
            body = response.json()
        except ValueError:
            body = response.text
        if response.status_code >= 400:
            raise SimError(response.status_code, body)
        return body

    # -- faults -------------------------------------------------------------------------
    def add_fault(
        self,
        provider: str = "*",
        kind: str = "http",
        status: int | None = None,
        times: int | None = None,
        retry_after: float | None = None,
        after_tokens: int | None = None,
        delay_s: float | None = None,
        *,
        model: str | None = None,
    ) -> dict:
        """Add a fault; returns it as stored (with its ``id``). ``times=None``: every request."""
        body = {
            "provider": provider,
            "kind": kind,
            "status": status,
            "times": times,
            "retry_after": retry_after,
            "after_tokens": after_tokens,
            "delay_s": delay_s,
            "model": model,
        }
        return self._call("POST", "/llmsim/faults", json=body)

    def faults(self) -> list[dict]:
        return self._call("GET", "/llmsim/faults")

    def clear_faults(self) -> dict:
        return self._call("DELETE", "/llmsim/faults")

    # -- journal ------------------------------------------------------------------------
    def requests(self, **filters) -> list[dict]:
        """Journal entries, oldest first; filters: provider, path, model, outcome, stream, ..."""
        params = {k: str(v).lower() if isinstance(v, bool) else v for k, v in filters.items() if v is not None}
        return self._call("GET", "/llmsim/requests", params=params)

    def wait_for(self, timeout: float = 5.0, interval: float = 0.02, **filters) -> dict:
        """The first finished journal entry matching ``filters``, polling up to ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            for entry in self.requests(**filters):
                if entry.get("ended_at") is not None:
                    return entry
            if time.monotonic() > deadline:
                raise TimeoutError(f"no finished llmsim request matching {filters} within {timeout} s")
            time.sleep(interval)

    def clear_requests(self) -> dict:
        return self._call("DELETE", "/llmsim/requests")

    # -- the rest -----------------------------------------------------------------------
    def reset(self) -> dict:
        """Clear faults and journal, and restore the startup config."""
        return self._call("POST", "/llmsim/reset")

    def health(self) -> dict:
        return self._call("GET", "/llmsim/health")

    def config(self, **changes) -> dict:
        """The config; with keyword arguments (e.g. ``token_delay_ms=20``), change it first."""
        if changes:
            return self._call("PUT", "/llmsim/config", json=changes)
        return self._call("GET", "/llmsim/config")

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SimClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<llmsim.SimClient {self.url}>"
