"""Settings, read from the environment only (twelve-factor).

Nothing secret lives in this file or in the image: the API key arrives at run time as
the ANTHROPIC_API_KEY environment variable (docker compose reads it from `.env`; without
Docker, `uvicorn app.main:app --env-file .env` does the same).
"""

from functools import lru_cache

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The one place that names a model. Override it with ANTHROPIC_MODEL.
DEFAULT_MODEL = "claude-haiku-4-5"


class Settings(BaseSettings):
    """Each field is read from the environment variable of the same name, upper-cased."""

    # Environment variables only (no .env parsing here), and never echo values back in
    # validation errors: one of them is a secret.
    model_config = SettingsConfigDict(frozen=True, hide_input_in_errors=True)

    # Required: the app refuses to start without it rather than failing on every request.
    # SecretStr keeps it out of reprs and logs; call .get_secret_value() where it is used.
    anthropic_api_key: SecretStr = Field(min_length=1)
    # Unset means the real API. The course's provider simulator is e.g. http://localhost:8900.
    anthropic_base_url: str | None = None
    anthropic_model: str = DEFAULT_MODEL
    # Seconds to wait for the provider before answering 504.
    anthropic_timeout_s: float = Field(default=30.0, gt=0)
    # Extra attempts the SDK makes on connection errors, 408/409/429 and 5xx. Keep it
    # small: each retry adds to the time a client waits for an answer.
    anthropic_max_retries: int = Field(default=1, ge=0, le=5)

    @field_validator("anthropic_base_url", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # `ANTHROPIC_BASE_URL=` in a .env file means "not set", not "an empty URL".
        return None if isinstance(value, str) and not value.strip() else value


@lru_cache
def get_settings() -> Settings:
    """The settings, read once per process (a FastAPI dependency, overridable in tests)."""
    return Settings()
