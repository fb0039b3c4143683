"""A project's docker-compose file, read without Docker: services, ports, env files."""

from __future__ import annotations

from pathlib import Path

import yaml

from grader.checks.files import StaticError

COMPOSE_NAMES = ("docker-compose.yml", "docker-compose.yaml", "compose.yaml", "compose.yml")


def load_compose(root: Path) -> tuple[str, dict]:
    """(file name, parsed mapping) of the project's compose file."""
    for name in COMPOSE_NAMES:
        path = root / name
        if path.is_file():
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8", errors="replace"))
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None)
                where = f" (line {mark.line + 1})" if mark is not None else ""
                raise StaticError(f"{name} is not valid YAML{where}") from None
            if data is None:
                raise StaticError(f"{name} is empty: it defines no service yet")
            if not isinstance(data, dict):
                raise StaticError(f"{name} must be a mapping with a services: key")
            services = data.get("services")
            if not isinstance(services, dict) or not services:
                raise StaticError(f"{name} has no services: section with a service in it")
            return name, data
    raise StaticError("there is no docker-compose.yml")


def build_context(service: dict) -> str | None:
    build = service.get("build")
    if isinstance(build, str):
        return build
    if isinstance(build, dict):
        context = build.get("context", ".")
        return context if isinstance(context, str) else None
    return None


def built_here(service: dict) -> bool:
    context = build_context(service)
    return context is not None and context.rstrip("/") in (".", "")


def port_mappings(service: dict) -> list[tuple[int | None, int]]:
    """(published host port or None, container port) for each ports: entry."""
    out: list[tuple[int | None, int]] = []
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            target, published = entry.get("target"), entry.get("published")
            if str(target).isdigit():
                out.append((int(published) if str(published).isdigit() else None, int(target)))
            continue
        text = str(entry).split("/", 1)[0]
        parts = text.rsplit(":", 2)
        container = parts[-1]
        host = parts[-2] if len(parts) >= 2 else None
        if container.isdigit():
            out.append((int(host) if host and host.isdigit() else None, int(container)))
    return out


def env_files(service: dict) -> list[str]:
    value = service.get("env_file")
    items = value if isinstance(value, list) else [value] if value is not None else []
    out = []
    for item in items:
        path = item.get("path") if isinstance(item, dict) else item
        if isinstance(path, str):
            out.append(path)
    return out


def environment(service: dict) -> dict[str, str | None]:
    value = service.get("environment")
    if isinstance(value, dict):
        return {str(k): None if v is None else str(v) for k, v in value.items()}
    out: dict[str, str | None] = {}
    if isinstance(value, list):
        for item in value:
            name, sep, val = str(item).partition("=")
            out[name] = val if sep else None
    return out
