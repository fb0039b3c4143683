"""Reading the app's OpenAPI document: operations, $ref lookups, schemas and examples."""

from __future__ import annotations

import re

from grader.checks.http import json_or_none, short
from grader.criterion import check


def openapi(app, timeout: float = 20) -> dict:
    """The app's /openapi.json; a failed check unless it is an OpenAPI document."""
    r = app.get("/openapi.json", timeout=timeout)
    check(r.status_code == 200, f"GET /openapi.json answered {r.status_code}: {short(r.text)}")
    data = json_or_none(r)
    check(isinstance(data, dict) and isinstance(data.get("paths"), dict), "GET /openapi.json is not an OpenAPI document")
    return data


def deref(doc: dict, node: object) -> dict:
    """``node`` with its ``$ref`` (and theirs) followed; {} when it leads nowhere."""
    for _ in range(10):
        if not isinstance(node, dict) or "$ref" not in node:
            break
        ref = node["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#/"):
            return {}
        target: object = doc
        for part in ref[2:].split("/"):
            target = target.get(part) if isinstance(target, dict) else None
        node = target
    return node if isinstance(node, dict) else {}


def model_schema(doc: dict, media: object) -> tuple[str | None, dict | None]:
    """(model name, schema) behind a media type object whose schema is a Pydantic model's $ref."""
    schema = (media or {}).get("schema") if isinstance(media, dict) else None
    ref = schema.get("$ref") if isinstance(schema, dict) else None
    if not isinstance(ref, str) or not ref.startswith("#/components/schemas/"):
        return None, None
    return ref.rsplit("/", 1)[-1], deref(doc, schema) or None


def schema_has_error_shape(doc: dict, schema: object) -> bool:
    """Whether a response schema is the one error body: an object with an ``error`` object."""
    schema = deref(doc, schema)
    error = deref(doc, (schema.get("properties") or {}).get("error"))
    props = error.get("properties") or {}
    return all(k in props for k in ("type", "message", "request_id"))


def example_of(doc: dict, media: object) -> bool:
    """Whether a media type object shows an example (its own, or its schema's)."""
    if not isinstance(media, dict):
        return False
    if media.get("example") is not None or media.get("examples"):
        return True
    schema = deref(doc, media.get("schema"))
    return bool(schema.get("example") is not None or schema.get("examples"))


def same_route(a: str, b: str) -> bool:
    """Paths equal up to the names of their parameters (``{id}`` == ``{conversation_id}``)."""
    return re.sub(r"\{[^}]*\}", "{}", a) == re.sub(r"\{[^}]*\}", "{}", b)


def operation(doc: dict, method: str, path: str) -> dict | None:
    for p, item in doc["paths"].items():
        if same_route(p, path) and isinstance(item, dict) and isinstance(item.get(method.lower()), dict):
            return item[method.lower()]
    return None


def bearer_schemes(doc: dict) -> set[str]:
    schemes = (doc.get("components") or {}).get("securitySchemes") or {}
    return {
        name for name, s in schemes.items()
        if isinstance(s, dict) and s.get("type") == "http" and str(s.get("scheme", "")).lower() == "bearer"
    }
