"""Queries of llmsim's journal: which provider requests the app made, and what they carried."""

from __future__ import annotations

GENERATION_PATHS = ("/v1/messages", "/v1/chat/completions", "/api/v1/chat/completions")


def generations(sim) -> list[dict]:
    """The journal's generation requests (not model lists), oldest first."""
    return sorted(
        (e for e in sim.requests() if e.get("path") in GENERATION_PATHS),
        key=lambda e: e.get("started_at") or 0,
    )


def describe(entry: dict) -> str:
    return f"{entry.get('provider')} {entry.get('model')!r} ({entry.get('outcome')}, {entry.get('status')})"


def answered(entries: list[dict]) -> dict | None:
    """The request that produced the answer: the last one that ended well."""
    ok = [e for e in entries if e.get("outcome") == "ok"]
    return ok[-1] if ok else None


def ok_generations(sim) -> list[dict]:
    return [e for e in generations(sim) if e.get("outcome") == "ok"]


def usage_matches(usage: object, entry: dict) -> bool:
    """Whether a reply's ``usage`` carries the token counts the provider reported for ``entry``."""
    return (
        isinstance(usage, dict)
        and usage.get("input_tokens") == entry.get("input_tokens")
        and usage.get("output_tokens") == entry.get("output_tokens")
    )


SYSTEM_ROLES = ("system", "developer")


def text_of(content: object) -> str:
    """A message's text, whether a string or a list of content parts (Anthropic's shape)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p.get("text", "") if isinstance(p, dict) else str(p) for p in content
        )
    return "" if content is None else str(content)


def sent_messages(entry: dict) -> list[tuple[str, str]]:
    """(role, text) of the conversation messages a provider request carried (no system)."""
    return [
        (m.get("role"), text_of(m.get("content")))
        for m in entry.get("messages") or []
        if isinstance(m, dict) and m.get("role") not in SYSTEM_ROLES
    ]


def sent_system(entry: dict) -> str:
    parts = [text_of(entry.get("system"))] if entry.get("system") else []
    parts += [
        text_of(m.get("content"))
        for m in entry.get("messages") or []
        if isinstance(m, dict) and m.get("role") in SYSTEM_ROLES
    ]
    return "\n".join(p for p in parts if p)
