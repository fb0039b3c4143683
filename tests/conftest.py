"""Suite-wide set-up: offline LiteLLM, and the Redis rule for CI."""

import os

# LiteLLM would otherwise fetch its model cost map from the internet at import time.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")

import pytest  # noqa: E402

CI_REDIS_URL = "redis://127.0.0.1:6379/15"


def _worker_index() -> int:
    """0 without pytest-xdist; N for its worker gwN."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(worker[2:]) if worker[2:].isdigit() else 0


def pytest_configure(config):
    if os.environ.get("CI") == "true":
        # CI runs against the machine's real Redis and must say so loudly if it is missing.
        # Each xdist worker gets a database of its own (15, 14, ...): two graded apps at once
        # must not share rate-limit counters or conversations.
        os.environ.setdefault("REDIS_URL", CI_REDIS_URL.rsplit("/", 1)[0] + f"/{15 - _worker_index()}")
        import redis

        try:
            redis.Redis.from_url(os.environ["REDIS_URL"], socket_connect_timeout=2).ping()
        except Exception as exc:
            pytest.exit(f"CI=true but Redis at {os.environ['REDIS_URL']} does not answer: {exc}", returncode=3)


def pytest_collection_modifyitems(config, items):
    # The JupyterLab tests share the user's ~/.jupyter: one xdist worker runs them all.
    for item in items:
        if "/tests/lab/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.xdist_group("lab"))
