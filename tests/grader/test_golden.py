"""Golden tests: every project criterion passes on the solution, fails on the stub, and fails
on at least one realistic wrong implementation.

A wrong implementation is an overlay in tests/golden/<target>/<variant>/: the files that
differ from the solution, and expected.json = {"fails": [ids that must not pass], "why": "...",
optional "messages": {id: "text the message must contain"}, optional "delete": [paths removed
from the copy], optional "replace": [{"file", "old", "new"}]: edits to the copy, each `old`
found exactly once, so a one-line mistake is one line here rather than a copy of the file}. Every criterion not listed must pass, so a variant also proves the others are
not fooled. Overlay files may say @@FAKE_ANTHROPIC_KEY@@ where a learner would paste a key:
the test puts a key-shaped fake there, so no key-shaped string is ever committed.
"""

from __future__ import annotations

import importlib
import json
import shutil
from pathlib import Path

import pytest

from grader.check import run_check
from grader.criterion import criteria_in
from grader.plugin import LEAK_ID
from grader.release import render_tree
from grader.targets import TARGETS

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"
PROJECTS = [n for n, t in TARGETS.items() if t.kind == "project" and t.built]
COPY_IGNORE = shutil.ignore_patterns("__pycache__", ".venv", ".env", ".pytest_cache", ".ruff_cache")
# Key-shaped (prefix, long mixed body) yet plainly fake; built here so no file holds one.
FAKE_KEY = "sk-ant-" + "api03-" + "Fake0Key1For2Grader3Tests4Only5NotReal6" + "x" * 8
# Projects whose criteria drive Debian's Chromium (CI installs it): course.toml says so.
BROWSER = {n for n in PROJECTS if "browser" in TARGETS[n].needs}


def marks(target: str) -> list:
    return [pytest.mark.slow] + ([pytest.mark.browser] if target in BROWSER else [])


def solution_dir(target: str) -> Path:
    return ROOT / "solutions" / TARGETS[target].rel_path


def variants(target: str) -> list[str]:
    folder = GOLDEN / target
    return sorted(p.name for p in folder.iterdir() if (p / "expected.json").is_file()) if folder.is_dir() else []


def criterion_ids(target: str) -> set[str]:
    return {c.id for c in criteria_in(importlib.import_module(TARGETS[target].criteria_module))}


def not_passing(result) -> dict[str, str]:
    return {c.id: f"{c.status}: {c.message}" for c in result.criteria if c.status != "pass"}


def expected_of(target: str, variant: str) -> dict:
    return json.loads((GOLDEN / target / variant / "expected.json").read_text())


def copy_with_overlay(target: str, variant: str, dst: Path) -> Path:
    shutil.copytree(solution_dir(target), dst, ignore=COPY_IGNORE)
    src = GOLDEN / target / variant
    for path in src.rglob("*"):
        if path.is_file() and path.name != "expected.json":
            out = dst / path.relative_to(src)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(path.read_bytes().replace(b"@@FAKE_ANTHROPIC_KEY@@", FAKE_KEY.encode()))
    expected = expected_of(target, variant)
    for rel in expected.get("delete", []):
        (dst / rel).unlink()
    for edit in expected.get("replace", []):
        path = dst / edit["file"]
        text = path.read_text(encoding="utf-8")
        found = text.count(edit["old"])
        assert found == 1, f"{variant}: {edit['file']} has {found} copies of {edit['old'][:60]!r}; expected exactly 1"
        path.write_text(text.replace(edit["old"], edit["new"]), encoding="utf-8")
    return dst


@pytest.mark.parametrize("target", [pytest.param(t, marks=marks(t)) for t in PROJECTS])
def test_solution_passes_every_criterion(target):
    result = run_check(target, solutions=True)
    assert not_passing(result) == {}
    assert {c.id for c in result.criteria} == criterion_ids(target)


@pytest.mark.parametrize("target", [pytest.param(t, marks=marks(t)) for t in PROJECTS])
def test_stub_fails_every_criterion(target, tmp_path):
    stub = tmp_path / "lessons"
    render_tree(solution_dir(target), stub)
    result = run_check(target, path=stub)
    passing = {c.id for c in result.criteria if c.status == "pass"}
    assert passing == set(), f"criteria that pass on the untouched stub: {sorted(passing)}"
    # Fail, not error: the stub imports and starts, so each check ran and found work to do.
    errors = {c.id: c.message for c in result.criteria if c.status == "error"}
    assert errors == {}
    for c in result.criteria:  # what a learner sees first: one actionable line, and a hint
        assert c.title and c.hint, c.id
        assert c.message and "\n" not in c.message and len(c.message) < 500, (c.id, c.message)


@pytest.mark.parametrize(
    "target, variant",
    [pytest.param(t, v, marks=marks(t), id=f"{t}-{v}") for t in PROJECTS for v in variants(t)],
)
def test_wrong_implementation(target, variant, tmp_path):
    expected = expected_of(target, variant)
    result = run_check(target, path=copy_with_overlay(target, variant, tmp_path / variant))
    problems = not_passing(result)
    assert set(problems) == set(expected["fails"]), (
        f"{variant} ({expected['why']}): criteria that did not pass: {problems}"
    )
    for cid, text in expected.get("messages", {}).items():
        assert text in problems[cid], f"{cid} said {problems[cid]!r}; expected it to mention {text!r}"
    for message in problems.values():
        assert "Traceback" not in message and "\n" not in message, message


@pytest.mark.parametrize("target", PROJECTS)
def test_every_criterion_fails_on_some_wrong_implementation(target):
    known = criterion_ids(target)
    covered = {cid for v in variants(target) for cid in expected_of(target, v)["fails"]}
    run_level = {LEAK_ID}  # not a declared criterion: added to a run when the app leaks a secret
    assert covered <= known | run_level, f"expected.json names unknown criteria: {sorted(covered - known)}"
    assert known - covered == set(), f"no wrong implementation fails: {sorted(known - covered)}"
