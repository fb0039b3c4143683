"""What the routes are given: the objects the lifespan built, as FastAPI dependencies.

Each one reads `request.app.state`, so a test can swap any of them with
`app.dependency_overrides` without touching a route.
"""

from typing import Annotated

from fastapi import Depends, Request
from litellm import Router

from app.config import Settings, get_settings
from app.models_config import ModelConfig
from app.store import ConversationStore
from app.usage import UsageMeter


def get_router(request: Request) -> Router:
    """The Router the lifespan built (a dependency, so tests can swap it)."""
    return request.app.state.router


def get_models(request: Request) -> dict[str, ModelConfig]:
    """The configured models by name: those whose provider has a key."""
    return request.app.state.models


def get_store(request: Request) -> ConversationStore:
    return request.app.state.store


def get_usage(request: Request) -> UsageMeter:
    return request.app.state.usage


Models = Annotated[dict[str, ModelConfig], Depends(get_models)]
Store = Annotated[ConversationStore, Depends(get_store)]
Meter = Annotated[UsageMeter, Depends(get_usage)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
RouterDep = Annotated[Router, Depends(get_router)]
