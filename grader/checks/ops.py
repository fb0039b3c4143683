"""What operations rely on (Projects 5 and 7): /health and /ready, and the compose file's Redis."""

from __future__ import annotations

import re

from grader.checks import compose
from grader.checks.files import StaticError
from grader.checks.http import short
from grader.criterion import check

DEAD_REDIS = "redis://127.0.0.1:1/0"


def check_health_ready(app, start_app):
    for path in ("/health", "/ready"):
        r = app.get(path)
        check(r.status_code == 200, f"GET {path} answered {r.status_code} with Redis up: {short(r.text, 100)}")
    dead = start_app(env={"REDIS_URL": DEAD_REDIS}, name="dead-redis")
    r = dead.get("/health", timeout=5)
    check(r.status_code == 200, f"with Redis down GET /health answered {r.status_code}; the process is up, so 200")
    r = dead.get("/ready", timeout=5)
    check(
        r.status_code == 503,
        f"with REDIS_URL pointing at a dead Redis GET /ready answered {r.status_code}; expected 503: ping Redis",
    )
    check(len(r.text.strip()) > 2, "the 503 from /ready does not say why")


def check_compose_redis(project):
    try:
        name, data = compose.load_compose(project.root)
    except StaticError as exc:
        check(False, str(exc))
    services = data["services"]
    redis = [
        (n, s) for n, s in services.items()
        if isinstance(s, dict) and str(s.get("image", "")).split("/")[-1].startswith(("redis", "valkey"))
    ]
    check(redis, f"{name} has no redis service (image: redis:7-alpine, say)")
    redis_name, redis_service = redis[0]
    health = redis_service.get("healthcheck") or {}
    check(
        isinstance(health, dict) and health.get("test"),
        f"the {redis_name} service has no healthcheck: add one (test: [\"CMD\", \"redis-cli\", \"ping\"])",
    )
    apps = [(n, s) for n, s in services.items() if isinstance(s, dict) and compose.built_here(s)]
    check(apps, f"{name} has no service built from this folder (build: .)")
    app_name, app_service = apps[0]
    check(".env" in compose.env_files(app_service), f"the {app_name} service does not read env_file: .env")
    url = compose.environment(app_service).get("REDIS_URL") or ""
    check(
        re.match(rf"rediss?://{re.escape(redis_name)}(:\d+)?(/\d+)?$", url),
        f"the {app_name} service's REDIS_URL is {url or '(unset)'!r}; point it at the {redis_name} service "
        f"(redis://{redis_name}:6379/0)",
    )
    depends = app_service.get("depends_on") or {}
    condition = depends.get(redis_name, {}).get("condition") if isinstance(depends, dict) else None
    check(
        condition == "service_healthy",
        f"the {app_name} service does not wait for {redis_name} to be healthy: "
        f"depends_on: {redis_name}: condition: service_healthy",
    )
    example = project.read(".env.example") or ""
    names = set(re.findall(r"^\s*#?\s*([A-Z][A-Z0-9_]*)=", example, re.M))
    missing = [v for v in ("JWT_SECRET", "REDIS_URL", "RATE_LIMIT_FREE", "RATE_LIMIT_PREMIUM", "RETRY_ATTEMPTS", "RETRY_BASE_S") if v not in names]
    check(not missing, f".env.example does not list {', '.join(missing)}")
