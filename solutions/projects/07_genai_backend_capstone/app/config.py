"""Settings, read from the environment only (twelve-factor).

No key lives in this file or in the image: the three API keys arrive at run time as
environment variables (docker compose reads them from `.env`; without Docker,
`uvicorn app.main:app --env-file .env` does the same). Which models exist, and which
provider serves each, is not configuration: it is in app/models_config.py.
"""

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.models_config import FALLBACKS


class Settings(BaseSettings):
    """Each field is read from the environment variable of the same name, upper-cased."""

    # Environment variables only, and never echo values back in validation errors: some
    # of them are secrets.
    model_config = SettingsConfigDict(frozen=True, hide_input_in_errors=True)

    # One key per provider. A provider whose key is unset or empty is left out: its models
    # are not offered (GET /v1/models) and are never called. SecretStr keeps the keys out
    # of reprs and logs; .get_secret_value() where they are used.
    anthropic_api_key: SecretStr | None = None
    openai_api_key: SecretStr | None = None
    openrouter_api_key: SecretStr | None = None

    # Where each provider's requests go. Unset means the real API; the course's provider
    # simulator is e.g. http://localhost:8900 (Anthropic), http://localhost:8900/v1
    # (OpenAI) and http://localhost:8900/api/v1 (OpenRouter).
    anthropic_base_url: str | None = None
    openai_base_url: str | None = None
    openrouter_api_base: str | None = None

    # OpenRouter's attribution headers: HTTP-Referer (your site) and X-Title (your app's
    # name) say which app sends the request, for its rankings and your dashboard.
    openrouter_site_url: str = "http://localhost:8000"
    openrouter_app_name: str = "FastAPI GenAI course: multi-provider chat"

    # Seconds to wait for one provider call before giving up on it (then: fallback).
    llm_timeout_s: float = Field(default=30.0, gt=0)
    # The retry policy is ours (app/resilience.py), so LiteLLM's and the SDKs' own
    # retries are off. Attempts in all (1 = no retry), and the first back-off in seconds:
    # the waits are base, 2*base, 4*base, ... (capped at retry_max_s), with a little jitter.
    retry_attempts: int = Field(default=3, ge=1, le=10)
    retry_base_s: float = Field(default=0.5, gt=0)
    retry_max_s: float = Field(default=8.0, gt=0)

    # JWT: the HS256 signing secret, shared with whoever mints tokens (app/tokens.py).
    # No default: without it no token can be verified, and /ready says so.
    jwt_secret: SecretStr | None = None
    # Lifetime of the tokens app/tokens.py mints.
    jwt_ttl_s: int = Field(default=3600, gt=0)

    # Redis: the rate limit counters and the conversations live there, shared by every
    # process of the service.
    redis_url: str = "redis://localhost:6379/0"
    # Requests per user per window, by tier (the `tier` claim of the token), in the
    # `limits` notation: "5/minute", "100/hour", "10 per 30 seconds".
    rate_limit_free: str = "5/minute"
    rate_limit_premium: str = "20/minute"

    # -- conversations -------------------------------------------------------------------
    # Where conversations live: "redis" (the default: shared by every process, survives a
    # restart) or "memory" (this process only, lost when it stops: for a quick experiment).
    store: Literal["redis", "memory"] = "redis"
    # Every conversation key this app writes in Redis starts with this (README.md, "Redis").
    redis_key_prefix: str = "chat:"
    # The most tokens of history (system prompt + earlier turns + the new message) sent
    # to the model in one call. Above it, the oldest turns are left out (app/history.py).
    history_token_budget: int = Field(default=4000, ge=1)
    # Upper bound on the length of each conversation reply, in tokens.
    reply_max_tokens: int = Field(default=512, ge=1, le=4096)
    # Seconds a request waits for another request to the same conversation to finish.
    conversation_lock_wait_s: float = Field(default=60.0, gt=0)

    log_level: str = "info"

    @property
    def store_kind(self) -> str:
        return self.store

    @property
    def longest_turn_s(self) -> float:
        """An upper bound on one conversation turn: every attempt on every model timing out,
        plus every back-off. A conversation's Redis lock must not expire before it (app/store.py).
        """
        models = 1 + max(len(chain) for chain in FALLBACKS.values())  # the requested model and its fallbacks
        attempts = self.retry_attempts * models
        return attempts * (self.llm_timeout_s + self.retry_max_s)

    @field_validator(
        "anthropic_api_key",
        "openai_api_key",
        "openrouter_api_key",
        "anthropic_base_url",
        "openai_base_url",
        "openrouter_api_base",
        "jwt_secret",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # `OPENAI_API_KEY=` in a .env file means "not set", not "an empty key".
        return None if isinstance(value, str) and not value.strip() else value

    def api_key(self, provider: str) -> str | None:
        """The key for one provider ("anthropic", "openai", "openrouter"), or None."""
        secret: SecretStr | None = getattr(self, f"{provider}_api_key")
        return secret.get_secret_value() if secret is not None else None


@lru_cache
def get_settings() -> Settings:
    """The settings, read once per process (a FastAPI dependency, overridable in tests)."""
    return Settings()
