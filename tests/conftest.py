"""Suite-wide set-up: offline LiteLLM, and the Redis rule for CI."""

import os

# LiteLLM would otherwise fetch its model cost map from the internet at import time.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")

import pytest  # noqa: E402

CI_REDIS_URL = "redis://127.0.0.1:6379/15"


def pytest_configure(config):
    if os.environ.get("CI") == "true":
        # CI runs against the machine's real Redis and must say so loudly if it is missing.
        os.environ.setdefault("REDIS_URL", CI_REDIS_URL)
        import redis

        try:
            redis.Redis.from_url(os.environ["REDIS_URL"], socket_connect_timeout=2).ping()
        except Exception as exc:
            pytest.exit(f"CI=true but Redis at {os.environ['REDIS_URL']} does not answer: {exc}", returncode=3)
