# Shared copy: the same code in projects 03, 04 (tests/test_copies.py checks it).
"""Settings, read from the environment only (twelve-factor).

No key lives in this file or in the image: the three API keys arrive at run time as
environment variables (docker compose reads them from `.env`; without Docker,
`uvicorn app.main:app --env-file .env` does the same). Which models exist, and which
provider serves each, is not configuration: it is in app/models_config.py.
"""

from functools import lru_cache

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    # Extra attempts on the SAME model before falling back to another one. 0 is a good
    # default here: the fallbacks are the retries, and each retry waits a back-off first.
    llm_num_retries: int = Field(default=0, ge=0, le=3)

    @field_validator(
        "anthropic_api_key",
        "openai_api_key",
        "openrouter_api_key",
        "anthropic_base_url",
        "openai_base_url",
        "openrouter_api_base",
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
