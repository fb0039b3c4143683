"""The course's layout: one index, criteria modules as leaves, and no learner-facing text
that points outside the course."""

from __future__ import annotations

import ast
import importlib
import io
import re
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from grader import cli, readme_table
from grader.criterion import criteria_in
from grader.targets import COURSE_INDEX, CRITERIA_DIR, TARGETS

ROOT = Path(__file__).resolve().parents[2]
BUILT = [n for n, t in TARGETS.items() if t.built]
# Files outside the course repository that learner-facing text must not send anyone to.
OUTSIDE = re.compile(r"\bDESIGN\b")


def test_index_is_in_the_recommended_order():
    names = list(TARGETS)
    assert len(names) == 27 and names.count("project1") == 1
    first = ["section1.1", "section1.2", "section1.3", "section1.4", "project1", "section6.1", "section6.2", "section3.1", "project2"]
    assert names[: len(first)] == first
    projects = [n for n in names if n.startswith("project")]
    assert projects == [f"project{n}" for n in range(1, 8)]
    for tgt in TARGETS.values():
        assert tgt.criteria_file.parent.parent == CRITERIA_DIR, tgt.name
        assert tgt.prepares_for is None or tgt.prepares_for in TARGETS, tgt.name
        assert (tgt.quiz is not None) == (tgt.kind == "project"), tgt.name
    assert all(TARGETS[f"project{n}"].built for n in range(1, 8))


def test_grader_list_follows_the_index(capsys):
    assert cli.main(["list"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert listed == list(TARGETS)


@pytest.mark.parametrize("target", BUILT)
def test_hint_lists_every_criterion(target):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main(["hint", target])
    assert code == 0, err.getvalue()
    criteria = criteria_in(importlib.import_module(TARGETS[target].criteria_module))
    assert criteria and out.getvalue().count("hint:") == len(criteria)
    assert len({c.id for c in criteria}) == len(criteria), "two criteria share an id"


@pytest.mark.parametrize("target", BUILT)
def test_only_selects_by_short_id(target):
    """--only takes an id or its last part; every criterion can be selected alone."""
    from grader.plugin import _selected

    ids = [c.id for c in criteria_in(importlib.import_module(TARGETS[target].criteria_module))]
    for cid in ids:
        assert [i for i in ids if _selected(i, [cid])] == [cid]
        assert cid in [i for i in ids if _selected(i, [cid.split(".", 1)[1]])]


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # a relative import reaches a sibling module
                found.append("." * node.level + (node.module or ""))
            elif node.module == "grader":
                found += [f"grader.{a.name}" for a in node.names]
            else:
                found.append(node.module or "")
    return found


def test_criteria_modules_are_leaves():
    """A criteria module imports shared helpers (grader.checks), never another criteria module."""
    modules = sorted(p for p in CRITERIA_DIR.rglob("*.py") if p.name != "__init__.py")
    assert modules
    bad = {
        str(p.relative_to(ROOT)): name
        for p in modules
        for name in _imports(p)
        if name.startswith(".") or name == "grader.criteria" or name.startswith("grader.criteria.")
        or name == "grader.plugin"
    }
    assert bad == {}, "move what is shared into grader/checks/"


def test_helpers_do_not_import_criteria():
    for p in sorted((ROOT / "grader" / "checks").glob("*.py")):
        names = [n for n in _imports(p) if n.startswith("grader.criteria")]
        assert names == [], p.name


def _strings(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [(n.lineno, n.value) for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def test_no_learner_text_names_a_file_outside_the_course():
    """Hints, checklist items and failure messages (every string in a criteria or helper
    module) and the learner-facing docs say what they need themselves."""
    sources = [*CRITERIA_DIR.rglob("*.py"), *(ROOT / "grader" / "checks").glob("*.py")]
    found = [f"{p.relative_to(ROOT)}:{line}" for p in sources for line, text in _strings(p) if OUTSIDE.search(text)]
    for tgt in TARGETS.values():
        if tgt.built:
            for c in criteria_in(importlib.import_module(tgt.criteria_module)):
                if OUTSIDE.search(c.hint + c.item):
                    found.append(c.id)
    docs = [ROOT / "README.md", *ROOT.glob("solutions/**/README.md"), *ROOT.glob("lessons/**/README.md")]
    found += [str(p.relative_to(ROOT)) for p in docs if OUTSIDE.search(p.read_text(encoding="utf-8"))]
    assert found == []


def test_readme_table_matches_the_index_and_the_criteria():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme_table.current(readme) == readme_table.render(ROOT), (
        "README.md's built table is stale: run `.venv/bin/python -m grader.readme_table`"
    )


def test_course_index_is_packaged():
    """pyproject's package data carries the index (and the criteria's pytest.ini)."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert COURSE_INDEX.suffix == ".toml" and '"**/*.toml"' in text and '"**/*.ini"' in text
