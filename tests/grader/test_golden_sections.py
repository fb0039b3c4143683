"""Golden tests for notebook sections: for every built section, the solution notebook runs
clean and passes every criterion, the lessons notebook fails every criterion, and every wrong
variant fails exactly the criteria it lists.

A variant is tests/golden/sectionX.Y/<variant>/expected.json::

    {"fails": ["1.3.validators"], "why": "…",
     "messages": {"1.3.validators": "text the message must contain"},   (optional)
     "cells": [{"cell": "<cell id>", "old": "<found exactly once in that cell>", "new": "…"}]}

applied to the solution notebook. The solution's run also proves it executes with no cell error.

Wrong variants are graded in batches, since one execution costs 5-20 s: variants whose
``fails`` are pairwise disjoint and that edit disjoint cells share one execution, which must
fail exactly the union of their ``fails`` (with each variant's ``messages``) and pass the rest.
Each exercise's check sees only its own objects, so that proves what one execution per variant
would; a batch that does not come out exactly so is re-run one variant at a time, so the failure
names the guilty variant. A section needs about max(variants per criterion) executions.
"""

from __future__ import annotations

import json
import re
import shutil
import warnings
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


def load_variant(target: str, variant: str) -> dict:
    return json.loads((GOLDEN / target / variant / "expected.json").read_text())


def batches(target: str) -> list[list[str]]:
    """Variants packed first-fit, the most contended criterion first, into groups that share
    no failing criterion and no edited cell."""
    specs = {v: load_variant(target, v) for v in variants(target)}
    fails = {v: set(s["fails"]) for v, s in specs.items()}
    cells = {v: {e["cell"] for e in s.get("cells", [])} for v, s in specs.items()}
    per_criterion: dict[str, int] = {}
    for v in specs:
        for cid in fails[v]:
            per_criterion[cid] = per_criterion.get(cid, 0) + 1
    order = sorted(specs, key=lambda v: (-max((per_criterion[c] for c in fails[v]), default=0), v))
    packed: list[list[str]] = []
    for v in order:
        home = next((b for b in packed
                     if all(not (fails[v] & fails[o]) and not (cells[v] & cells[o]) for o in b)), None)
        if home is None:
            packed.append([v])
        else:
            home.append(v)
    return [sorted(b) for b in packed]


def grade_variants(target: str, names: list[str], tmp_path: Path) -> dict[str, str]:
    """Apply the edits of ``names`` to the solution notebook (each exactly once) and grade it:
    the criteria that did not pass, with their messages."""
    solved = solution_notebook(target)
    # the notebook's folder, copied: a notebook may read files beside it
    work = tmp_path / "+".join(names)[:80] / solved.parent.name
    shutil.copytree(solved.parent, work, ignore=shutil.ignore_patterns("*.ipynb", ".ipynb_checkpoints"))
    nb = nbformat.read(solved, as_version=4)
    for name in names:
        apply_cells(nb, load_variant(target, name).get("cells", []), f"{target}/{name}")
    path = work / solved.name
    nbformat.write(nb, path)
    result, _ = grade_notebook(TARGETS[target], path)
    return not_passing(result)


def mismatches(spec: dict, failing: dict[str, str], where: str) -> list[str]:
    """What ``failing`` gets wrong about the criteria ``spec`` (a variant or a batch) expects."""
    problems = []
    unexpected = {cid: msg for cid, msg in failing.items() if cid not in spec["fails"]}
    passed = [cid for cid in spec["fails"] if cid not in failing]
    if unexpected or passed:
        problems.append(f"{where}: expected to fail {sorted(spec['fails'])}, "
                        f"got {failing} ({spec.get('why', '')})")
    for cid, text in spec.get("messages", {}).items():
        if cid in failing and text not in failing[cid]:
            problems.append(f"{where}: {cid}: {failing[cid]!r} lacks {text!r}")
    return problems


def batch_params():
    for target in SECTIONS:
        for names in batches(target):
            yield pytest.param(target, names, id=f"{target}-{'+'.join(names)}")


@pytest.mark.slow
@pytest.mark.parametrize("target,names", list(batch_params()))
def test_wrong_variants_fail_exactly_their_criteria(target, names, tmp_path):
    specs = {name: load_variant(target, name) for name in names}
    union = {"fails": sorted(cid for s in specs.values() for cid in s["fails"]), "why": "batch"}
    where = f"{target} batch {'+'.join(names)}"
    failing = grade_variants(target, names, tmp_path)
    # the union fails and nothing else; each variant's messages show in its own criteria
    batch_problems = mismatches(union, failing, where) + [
        p for name, spec in specs.items()
        for p in mismatches(spec, {c: m for c, m in failing.items() if c in spec["fails"]}, f"{target}/{name}")]
    if not batch_problems:
        return
    if len(names) == 1:
        pytest.fail("\n".join(mismatches(specs[names[0]], failing, f"{target}/{names[0]}")))
    # One variant at a time, so the failure names the guilty one.
    guilty = [p for name in names
              for p in mismatches(specs[name], grade_variants(target, [name], tmp_path), f"{target}/{name}")]
    if guilty:
        pytest.fail("\n".join(guilty))
    # Each variant is right alone (all that is being proven), but the batch was not: an exercise's
    # check saw another exercise's objects. Worth knowing, since it costs a run per variant.
    warnings.warn(f"{where}: the variants pass alone but not together: {'; '.join(batch_problems)}",
                  stacklevel=1)
