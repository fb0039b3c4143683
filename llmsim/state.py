"""SimState: the simulator's config, fault list and request journal, safe across threads.

The control API runs on the server's event loop, but embedding code may also call these
methods directly from other threads, so every read and write holds one lock.
"""

from __future__ import annotations

import copy
import math
import os
import threading
from collections import deque

from . import faults as faults_mod

JOURNAL_LIMIT = 10_000  # most recent entries kept; older ones are dropped
CONFIG_KEYS = ("token_delay_ms",)


class ConfigError(ValueError):
    """A config update that cannot be applied; the message says why."""


def new_id(prefix: str) -> str:
    return prefix + os.urandom(12).hex()


class SimState:
    def __init__(self, token_delay_ms: float = 0, journal_limit: int = JOURNAL_LIMIT) -> None:
        self._lock = threading.Lock()
        self._initial = self._check_config({"token_delay_ms": token_delay_ms})
        self._config = dict(self._initial)
        self._faults: list[faults_mod.Fault] = []
        self._fault_seq = 0
        self._journal: deque[dict] = deque(maxlen=journal_limit)

    # -- config ------------------------------------------------------------------------
    @staticmethod
    def _check_config(update: object) -> dict:
        if not isinstance(update, dict):
            raise ConfigError('config must be a JSON object, e.g. {"token_delay_ms": 20}')
        unknown = sorted(set(update) - set(CONFIG_KEYS))
        if unknown:
            raise ConfigError(f"unknown config key(s) {', '.join(unknown)}; allowed: {', '.join(CONFIG_KEYS)}")
        out = {}
        if "token_delay_ms" in update:
            value = update["token_delay_ms"]
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or not 0 <= value <= 60_000
            ):
                raise ConfigError(f"token_delay_ms must be a number from 0 to 60000, got {value!r}")
            out["token_delay_ms"] = value
        return out

    @property
    def token_delay_s(self) -> float:
        return self._config["token_delay_ms"] / 1000.0  # one dict read: no lock needed

    def config(self) -> dict:
        with self._lock:
            return dict(self._config)

    def update_config(self, update: object) -> dict:
        checked = self._check_config(update)
        with self._lock:
            self._config.update(checked)
            return dict(self._config)

    # -- faults ------------------------------------------------------------------------
    def add_fault(self, body: object) -> dict:
        with self._lock:
            fault = faults_mod.parse(body, f"fault_{self._fault_seq + 1}")
            self._fault_seq += 1
            self._faults.append(fault)
            return fault.to_dict()

    def faults(self) -> list[dict]:
        with self._lock:
            return [f.to_dict() for f in self._faults]

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def take_fault(self, provider: str, model: str | None) -> faults_mod.Fault | None:
        """Use up one request of the first matching fault (faults apply in order)."""
        if not self._faults:  # fast path for the common case; checked again under the lock
            return None
        with self._lock:
            for fault in self._faults:
                if fault.matches(provider, model):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                    fault.hits += 1
                    return copy.copy(fault)
        return None

    # -- journal -----------------------------------------------------------------------
    def record(self, entry: dict) -> dict:
        with self._lock:
            self._journal.append(entry)
        return entry

    def finish(self, entry: dict, **fields) -> None:
        with self._lock:
            entry.update(fields)

    def requests(self, **filters) -> list[dict]:
        """Journal entries, oldest first; filters compare fields for equality."""
        filters = {k: v for k, v in filters.items() if v is not None}
        with self._lock:
            entries = [
                copy.deepcopy(e)
                for e in self._journal
                if all(_matches(e.get(k), v) for k, v in filters.items())
            ]
        return entries

    def clear_requests(self) -> None:
        with self._lock:
            self._journal.clear()

    def reset(self) -> None:
        """Clear faults and journal and restore the config the simulator started with."""
        with self._lock:
            self._faults.clear()
            self._fault_seq = 0  # fault ids start again at fault_1
            self._journal.clear()
            self._config = dict(self._initial)


def _matches(value: object, wanted: object) -> bool:
    if isinstance(value, bool) or isinstance(wanted, bool):
        return str(value).lower() == str(wanted).lower()
    return value == wanted or str(value) == str(wanted)
