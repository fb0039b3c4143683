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
    # BEGIN SOLUTION
    problems: dict[str, str] = {}
    settings = get_settings()
    if settings.jwt_secret is None:
        problems["config"] = "JWT_SECRET is not set: no token can be verified"
    try:
        await request.app.state.redis.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        problems["redis"] = f"Redis is not reachable ({type(exc).__name__})"
    if problems:
        logger.warning("not ready", **problems)
        return JSONResponse(
            {"status": "unavailable", "checks": problems},
            status_code=503,
            headers={REQUEST_ID_HEADER: get_request_id(request)},
        )
    return JSONResponse({"status": "ready", "checks": {"redis": "ok", "config": "ok"}})
    # STUB: return JSONResponse({"status": "ready", "checks": {}})  # TODO: ping Redis, check the configuration; 503 and why
    # END SOLUTION
