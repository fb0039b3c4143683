"""README.md's "What is built so far" table, rendered from the course index and the criteria.

The suite (tests/grader/test_course.py) fails when README.md's table differs from this one,
so the table never drifts from what the grader really has.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from grader.criterion import criteria_in
from grader.targets import TARGETS

BEGIN = "<!-- BEGIN BUILT TABLE (grader.readme_table) -->"
END = "<!-- END BUILT TABLE -->"
NEEDS = {"redis": "needs Redis", "browser": "drives headless Chromium", "docker": "needs Docker"}


def status_of(name: str, root: Path) -> str:
    tgt = TARGETS[name]
    if not tgt.built:
        return "not built yet"
    parts = [p for p, base in (("solution", "solutions"), ("stub", "lessons")) if (root / base / tgt.rel_path).exists()]
    parts.append(f"{len(criteria_in(importlib.import_module(tgt.criteria_module)))} criteria")
    needs = [NEEDS[n] for n in tgt.needs]
    return ", ".join(parts) + (f" ({'; '.join(needs)})" if needs else "")


def render(root: Path) -> str:
    """The table, between its markers, in the course's recommended order."""
    rows = ["| target | folder | status |", "|---|---|---|"]
    rows += [f"| `{n}` | `{t.rel_path}` | {status_of(n, root)} |" for n, t in TARGETS.items()]
    return "\n".join([BEGIN, *rows, END])


def current(readme_text: str) -> str | None:
    """The table README.md holds now, markers included, or None when it has no markers."""
    start, end = readme_text.find(BEGIN), readme_text.find(END)
    if start < 0 or end < start:
        return None
    return readme_text[start : end + len(END)]


def update(readme: Path, root: Path) -> bool:
    """Rewrite the table in place; whether anything changed."""
    text = readme.read_text(encoding="utf-8")
    old = current(text)
    if old is None:
        raise ValueError(f"{readme.name} has no {BEGIN} … {END} markers")
    new = render(root)
    if old != new:
        readme.write_text(text.replace(old, new), encoding="utf-8")
    return old != new


if __name__ == "__main__":  # python -m grader.readme_table: refresh README.md's table
    from grader.targets import course_root

    here = course_root()
    print("README.md updated" if update(here / "README.md", here) else "README.md is up to date")
