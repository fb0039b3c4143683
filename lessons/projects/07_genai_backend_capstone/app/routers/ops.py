"""Operations: the probes an orchestrator calls. No auth, no rate limit, no provider call."""

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.config import get_settings
from app.errors import get_request_id
from app.logs import REQUEST_ID_HEADER
from app.models import Health, Readiness

logger = structlog.get_logger("app")

router = APIRouter(tags=["operations"])


@router.get("/health", response_model=Health, summary="Liveness check")
async def health() -> Health:
    """The process is up: restart it if this fails. No auth, and no dependency checked."""
    return Health(status="ok")


@router.get(
    "/ready",
    response_model=Readiness,
    summary="Readiness check",
    responses={503: {"model": Readiness, "description": "Not ready: a dependency is down or misconfigured"}},
)
async def ready(request: Request) -> JSONResponse:
    """Ready for traffic: Redis answers and the configuration is usable. Else 503 and why.

    A load balancer stops sending requests while this fails, without restarting the process.
    (It does not call any provider: that would cost money per probe.)
    """
    return JSONResponse({"status": "ready", "checks": {}})  # TODO: ping Redis, check the configuration; 503 and why
