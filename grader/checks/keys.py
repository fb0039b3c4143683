"""Key-shaped strings in a project's files, and whether .gitignore/.dockerignore keep .env out."""

from __future__ import annotations

import re
from pathlib import Path

# Key-shaped: the provider prefix, then a long random-looking body. Real keys are
# sk-ant-api03-<95 chars>, sk-proj-<~150>, sk-or-v1-<64 hex>; placeholders such as
# "sk-ant-..." or "sk-ant-your-key-here" are too short or not random enough to match.
_KEY = re.compile(r"\bsk-(?:ant-|or-|proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}")
SKIP_SECRET_SCAN = {".env"}
_MAX_SCAN_BYTES = 1_000_000


def looks_random(body: str) -> bool:
    alnum = re.sub(r"[^A-Za-z0-9]", "", body)
    return len(alnum) >= 20 and sum(c.isdigit() for c in alnum) >= 3 and len(set(alnum)) >= 10


def key_shaped(text: str) -> list[str]:
    out = []
    for match in _KEY.finditer(text):
        token = match.group(0)
        body = re.sub(r"^sk-(ant-api\d\d-|ant-|or-v\d-|or-|proj-|svcacct-|admin-)?", "", token)
        if looks_random(body):
            out.append(token)
    return out


def mask(secret: str) -> str:
    return secret[:10] + "…" if len(secret) > 10 else "…"


def find_key_shaped(files: list[Path], root: Path) -> list[tuple[str, str]]:
    """(relative path, masked match) for key-shaped strings in text files (not .env)."""
    hits = []
    for path in files:
        rel = path.relative_to(root)
        if path.name in SKIP_SECRET_SCAN:
            continue
        try:
            if path.stat().st_size > _MAX_SCAN_BYTES:
                continue
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue  # binary or unreadable: not source
        hits.extend((str(rel), mask(token)) for token in key_shaped(text))
    return hits


def ignore_patterns(text: str | None) -> list[str]:
    """Active patterns of a .gitignore/.dockerignore (comments and blanks dropped)."""
    if not text:
        return []
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def ignores_dotenv(text: str | None) -> bool:
    """Whether an ignore file keeps `.env` out (a pattern matching it, not negated later)."""
    ignored = False
    for pattern in ignore_patterns(text):
        negated = pattern.startswith("!")
        core = pattern[1:] if negated else pattern
        core = core.lstrip("/").removeprefix("**/").rstrip("/")
        if core in (".env", ".env*", "*.env", "*", "**"):
            ignored = not negated
    return ignored

