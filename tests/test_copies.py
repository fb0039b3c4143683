"""Shared copies: solution files that must stay the same code in every project that has them.

Each project is standalone, so a component carried from project to project (auth.py,
logs.py, sse.py, the Dockerfile...) is a copy. A copy is declared by its first line:

    # Shared copy: the same code in projects 05, 07 (tests/test_copies.py checks it).

This test finds every file in solutions/projects/ that starts with that line, groups them
by their path inside the project, and fails, naming the files, when the copies of a group
drift apart or the declaration does not match the copies that carry it. A fix made to one
copy must be made to every copy.

Compared: the text after the header line, without the solution markers (`# BEGIN
SOLUTION`, `# END SOLUTION` and `# STUB:` lines), because what a learner is asked to write
may differ between projects (Project 4 has you write app/sse.py; Projects 5 and 7 give it).
Files that are meant to differ (variants, such as the capstone's errors.py) carry no header.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECTS = ROOT / "solutions" / "projects"
SKIPPED = {"__pycache__", ".pytest_cache", ".ruff_cache", ".venv", ".grader"}

PREFIX = "# Shared copy:"
HEADER = re.compile(
    r"# Shared copy: the same code in projects (?P<projects>\d{2}(?:, \d{2})+) "
    r"\(tests/test_copies\.py checks it\)\."
)
MARKER = re.compile(r"^\s*(?:#+\s*(?:BEGIN|END) SOLUTION\s*|#\s?STUB:.*)$")


def project_folders() -> dict[str, Path]:
    """Each project's folder by its number: {"05": .../05_production_chat}."""
    return {p.name[:2]: p for p in sorted(PROJECTS.iterdir()) if p.is_dir() and p.name[:2].isdigit()}


def first_line(path: Path) -> str:
    try:
        with path.open(encoding="utf-8") as f:
            return f.readline().rstrip("\n")
    except (UnicodeDecodeError, OSError):
        return ""


def declared_copies() -> dict[str, dict[str, Path]]:
    """Every file whose first line starts with the prefix: {path in project: {project: file}}."""
    groups: dict[str, dict[str, Path]] = defaultdict(dict)
    for number, folder in project_folders().items():
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not SKIPPED & set(path.parts) and first_line(path).startswith(PREFIX):
                groups[path.relative_to(folder).as_posix()][number] = path
    return dict(groups)


def code(path: Path) -> list[str]:
    """The file's lines after the header, solution markers dropped."""
    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    return [line for line in lines if not MARKER.match(line)]


def rel(path: Path) -> str:
    return path.relative_to(PROJECTS).as_posix()


GROUPS = declared_copies()


def test_copies_are_declared():
    # Guards the test itself: a header format change must not make every check vanish.
    assert GROUPS, f"no file under {PROJECTS.relative_to(ROOT)} starts with {PREFIX!r}"


@pytest.mark.parametrize("name", sorted(GROUPS))
def test_header_names_every_copy(name):
    copies = GROUPS[name]
    folders = project_folders()
    for path in copies.values():
        m = HEADER.fullmatch(first_line(path))
        assert m, f"{rel(path)}: the first line must read '# Shared copy: the same code in projects NN, NN (tests/test_copies.py checks it).'"
        declared = set(m.group("projects").split(", "))
        missing = sorted(n for n in declared - set(copies) if n in folders)
        unknown = sorted(n for n in declared if n not in folders)
        undeclared = sorted(set(copies) - declared)
        assert not unknown, f"{rel(path)} names projects that do not exist: {', '.join(unknown)}"
        assert not missing, (
            f"{rel(path)} says it is shared with projects {', '.join(missing)}, "
            f"but their {name} is missing or has no Shared copy header"
        )
        assert not undeclared, f"{rel(path)} does not name projects {', '.join(undeclared)}, whose {name} says it is a copy"


@pytest.mark.parametrize("name", sorted(GROUPS))
def test_copies_are_the_same_code(name):
    copies = sorted(GROUPS[name].items())
    (_, reference), *others = copies
    expected = code(reference)
    drifted = []
    for _, path in others:
        actual = code(path)
        if actual != expected:
            diff = difflib.unified_diff(expected, actual, rel(reference), rel(path), n=0, lineterm="")
            first = next((line for line in list(diff)[3:] if line[:1] in "+-"), "")
            drifted.append(f"{rel(path)} (first difference: {first.strip()[:100]!r})")
    assert not drifted, (
        f"{name}: these copies differ from {rel(reference)}; make the same change in every copy: "
        + "; ".join(drifted)
    )
