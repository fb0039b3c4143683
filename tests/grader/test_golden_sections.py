"""Golden tests for notebook sections: for every built section, the solution notebook runs
clean and passes every criterion, the lessons notebook fails every criterion, and every wrong
variant fails exactly the criteria it lists.

A variant is tests/golden/sectionX.Y/<variant>/expected.json::

    {"fails": ["1.3.validators"], "why": "…",
     "messages": {"1.3.validators": "text the message must contain"},   (optional)
     "cells": [{"cell": "<cell id>", "old": "<found exactly once in that cell>", "new": "…"}]}

applied to the solution notebook. Every notebook is executed once per test (the solution's
run also proves it executes with no cell error).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from grader import exercise as ex_mod
from grader.sections import grade_notebook
from grader.targets import TARGETS

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"
SECTIONS = [n for n, t in TARGETS.items()
            if t.kind == "section" and t.built and (ROOT / "solutions" / t.rel_path).is_file()]


def solution_notebook(target: str) -> Path:
    return ROOT / "solutions" / TARGETS[target].rel_path


def variants(target: str) -> list[str]:
    folder = GOLDEN / target
    return sorted(p.name for p in folder.iterdir() if (p / "expected.json").is_file()) if folder.is_dir() else []


def declared_ids(target: str) -> list[str]:
    quiz = ex_mod.quiz_of(target)
    # a Docker check is graded only with --docker (tests/grader/test_docker_option.py)
    return [e.id for e in ex_mod.exercises(target) if not e.needs_docker] + ([quiz.id] if quiz else [])


def not_passing(result) -> dict[str, str]:
    return {c.id: f"{c.status}: {c.message}" for c in result.criteria if c.status != "pass"}


def apply_cells(nb, edits: list[dict], where: str) -> None:
    cells = {c.get("id"): c for c in nb.cells}
    for edit in edits:
        cell = cells.get(edit["cell"])
        assert cell is not None, f"{where}: no cell with id {edit['cell']!r}"
        count = cell.source.count(edit["old"])
        assert count == 1, f"{where}: {edit['old']!r} occurs {count} times in cell {edit['cell']!r}"
        cell.source = cell.source.replace(edit["old"], edit["new"])


@pytest.mark.parametrize("target", SECTIONS)
def test_every_exercise_is_checked_in_the_notebook(target):
    """Static: the notebook starts with the toolkit import and calls check()/quiz() for every criterion."""
    nb = nbformat.read(solution_notebook(target), as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    assert code and code[0].strip().startswith("from grader.lesson import"), "the first code cell imports the toolkit"
    text = "\n".join(code)
    for ex in ex_mod.exercises(target):
        assert re.search(rf"check\(\s*[\"']{re.escape(ex.id)}[\"']", text), f"no check({ex.id!r}, …) cell"
    quiz = ex_mod.quiz_of(target)
    if quiz:
        assert re.search(rf"quiz\(\s*[\"']{re.escape(quiz.section)}[\"']", text), f"no quiz({quiz.section!r}, …) cell"


@pytest.mark.slow
@pytest.mark.parametrize("target", SECTIONS)
def test_solution_runs_clean_and_passes_every_criterion(target):
    result, run = grade_notebook(TARGETS[target], solution_notebook(target))
    assert [c.id for c in result.criteria] == declared_ids(target)
    assert [p.describe() for p in run.problems] == [], "the solution notebook has failing cells"
    assert not_passing(result) == {}


@pytest.mark.slow
@pytest.mark.parametrize("target", SECTIONS)
def test_lessons_notebook_fails_every_criterion(target):
    lessons = ROOT / "lessons" / TARGETS[target].rel_path
    assert lessons.is_file(), "run `grader release`"
    result, _ = grade_notebook(TARGETS[target], lessons)
    passing = [c.id for c in result.criteria if c.status == "pass"]
    assert passing == [], f"the lessons notebook already passes {passing}"
    # "error" would mean the grader could not check; a learner's stub is a plain failure
    assert {c.status for c in result.criteria} == {"fail"}, not_passing(result)


@pytest.mark.slow
@pytest.mark.parametrize("target,variant", [(t, v) for t in SECTIONS for v in variants(t)])
def test_wrong_variant_fails_exactly_its_criteria(target, variant, tmp_path):
    spec = json.loads((GOLDEN / target / variant / "expected.json").read_text())
    solved = solution_notebook(target)
    # the notebook's folder, copied: a notebook may read files beside it
    work = tmp_path / solved.parent.name
    shutil.copytree(solved.parent, work, ignore=shutil.ignore_patterns("*.ipynb", ".ipynb_checkpoints"))
    nb = nbformat.read(solved, as_version=4)
    apply_cells(nb, spec.get("cells", []), f"{target}/{variant}")
    path = work / solved.name
    nbformat.write(nb, path)
    result, _ = grade_notebook(TARGETS[target], path)
    failing = not_passing(result)
    assert set(failing) == set(spec["fails"]), f"{spec.get('why', '')}: {failing}"
    for cid, text in spec.get("messages", {}).items():
        assert text in failing[cid], f"{cid}: {failing[cid]!r} lacks {text!r}"
