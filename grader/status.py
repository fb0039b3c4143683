"""Remember each target's last result, for ``grader list``."""

from __future__ import annotations

import json
import time
from pathlib import Path

from grader.results import RunResult


def _store(root: Path) -> Path:
    return root / ".grader" / "status.json"


def load(root: Path) -> dict:
    try:
        return json.loads(_store(root).read_text())
    except (OSError, ValueError):
        return {}


def save(root: Path, result: RunResult) -> None:
    data = load(root)
    data[f"{result.target}@{result.path}"] = {
        "target": result.target,
        "path": result.path,
        "passed": result.passed,
        "total": len(result.criteria),
        "when": time.strftime("%Y-%m-%d %H:%M"),
    }
    try:
        store = _store(root)
        store.parent.mkdir(exist_ok=True)
        store.write_text(json.dumps(data, indent=1))
    except OSError:
        pass  # a read-only checkout still grades; it just does not remember
