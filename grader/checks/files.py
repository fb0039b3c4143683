"""Reading a project's files without running them: the error their readers raise, and
requirements.txt against the imports of app/.

Every reader returns plain data or raises ``StaticError`` with a one-line message a learner
can act on; ``as_check`` turns that into a failed check.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path


class StaticError(Exception):
    """A file is missing or cannot be read the way the checks need; the message says which."""


def as_check(func, *args):
    """Run a reader; its StaticError is the learner's problem: a failed check."""
    try:
        return func(*args)
    except StaticError as exc:
        raise AssertionError(str(exc)) from None


# -- requirements and imports ---------------------------------------------------------------

def normalize(name: str) -> str:
    """PEP 503 name normalisation: Uvicorn_Standard.x -> uvicorn-standard-x."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Requirement:
    name: str  # normalised
    spec: str  # "==0.165.0", "" when unpinned
    line: int
    text: str


_REQ = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*?)\s*(?:;.*)?$")


def parse_requirements(text: str) -> list[Requirement]:
    out = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        match = _REQ.match(line)
        if match:
            out.append(Requirement(normalize(match.group(1)), match.group(3).replace(" ", ""), number, line))
    return out


def third_party_imports(root: Path, package: str = "app") -> dict[str, str]:
    """Top-level modules imported by the project's package that are not stdlib or local,
    mapped to the first file that imports them (relative path)."""
    local = {p.stem if p.suffix == ".py" else p.name for p in root.iterdir()} if root.is_dir() else set()
    found: dict[str, str] = {}
    for path in sorted((root / package).rglob("*.py")):
        if {"__pycache__", ".venv"} & set(path.parts):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
        except SyntaxError as exc:
            raise StaticError(f"{path.relative_to(root)} line {exc.lineno}: syntax error") from None
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".", 1)[0]
                if top in sys.stdlib_module_names or top in local or top == "__future__":
                    continue
                found.setdefault(top, str(path.relative_to(root)))
    return found


def distributions_for(module: str) -> set[str]:
    """Normalised names of the distributions that provide an importable top-level module
    (looked up in the grader's own environment, which has the course's packages)."""
    dists = metadata.packages_distributions().get(module)
    return {normalize(d) for d in dists} if dists else {normalize(module)}

