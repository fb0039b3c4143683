"""`grader coverage`: every syllabus item is taught and checked (or the floor below holds),
and no criterion, exercise or quiz names an item the syllabus does not have."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from grader import cli
from grader.coverage import (
    TAUGHT_AS,
    coverage,
    normalise,
    parse_syllabus,
    totals,
    unknown_checks,
)
from grader.targets import TARGETS

ROOT = Path(__file__).resolve().parents[2]
SYLLABUS = ROOT / "syllabus.md"

@pytest.fixture(scope="module")
def items():
    return coverage(ROOT)


def test_syllabus_counts():
    items = parse_syllabus(SYLLABUS)
    raw = [ln for ln in SYLLABUS.read_text(encoding="utf-8").splitlines() if ln.startswith("- [ ] ")]
    assert len(items) == len(raw) == 300
    assert sum(i.target.startswith("section") for i in items) == 221
    assert sum(i.target.startswith("project") for i in items) == 79
    assert {i.target for i in items} == set(TARGETS)
    assert len({i.id for i in items}) == 300, "two items of one target have the same text"


def test_normalise():
    assert normalise("Using `Depends()` in path  operation parameters") == "using depends in path operation parameters"
    assert normalise('Can describe what makes an API "RESTful"') == "can describe what makes an api restful"


@pytest.mark.parametrize("target", list(TARGETS))
def test_every_item_is_taught_and_checked(items, target):
    """300 of 300: each item of the syllabus is taught (a heading of its notebook or README) and
    checked (a criterion, an exercise's also=, or a quiz question naming it)."""
    mine = [i for i in items if i.target == target]
    assert mine, f"{target} has no checklist item"
    assert not [i.text for i in mine if not i.taught], f"{target}: not taught"
    assert not [i.text for i in mine if not i.checked], f"{target}: not checked"


def test_the_totals_are_300_of_300(items):
    per = totals(items)
    assert sum(t["items"] for t in per.values()) == 300
    assert sum(t["taught"] for t in per.values()) == 300
    assert sum(t["checked"] for t in per.values()) == 300


def test_every_check_names_a_syllabus_item():
    assert unknown_checks(ROOT) == []


def test_alias_tables_name_syllabus_items():
    known = {(i.target, i.text) for i in parse_syllabus(SYLLABUS)}
    assert set(TAUGHT_AS) <= known


def test_learner_text_stays_in_the_repo():
    text = SYLLABUS.read_text(encoding="utf-8")
    assert not re.search(r"\bDESIGN\b", text)


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_cli_formats(capsys, fmt):
    assert cli.main(["coverage", "--format", fmt]) == 0
    out = capsys.readouterr().out
    if fmt == "json":
        data = json.loads(out)
        assert data["items"] == 300 and len(data["checklist"]) == 300
        assert set(data["targets"]) == set(TARGETS)
        assert data["taught"] == sum(t["taught"] for t in data["targets"].values())
    elif fmt == "markdown":
        assert out.startswith("# Checklist coverage") and "| item | taught in | checked by |" in out
    else:
        assert re.search(r"total: \d+ of 300 items taught, \d+ of 300 checked", out)


def test_a_check_naming_no_syllabus_item_is_reported(tmp_path):
    text = SYLLABUS.read_text(encoding="utf-8")
    dropped = "- [ ] Combining path and query parameters\n"
    assert dropped in text
    (tmp_path / "syllabus.md").write_text(text.replace(dropped, ""), encoding="utf-8")
    problems = unknown_checks(tmp_path)
    assert len(problems) == 1 and "1.2.items_api" in problems[0]
    items = coverage(tmp_path)  # no solutions/ here: nothing is taught
    assert len(items) == 299 and not any(i.taught for i in items)


def test_an_exercise_also_checks_items_of_its_section(monkeypatch):
    """``@exercise(..., also=[...])``: the further items count as checked, the reported item stays
    the primary one, and an ``also`` naming no syllabus item is reported like an unknown item."""
    import dataclasses
    import sys
    import types

    from grader.exercise import exercise

    mine = [i.text for i in parse_syllabus(SYLLABUS) if i.target == "section1.2"]
    module = types.ModuleType("grader.criteria.fake_also")

    @exercise("1.2.fake_also", mine[0], also=[mine[1], "Not an item of the syllabus"])
    def check():
        pass

    module.check = check
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(TARGETS, "section1.2", dataclasses.replace(
        TARGETS["section1.2"], criteria="fake_also", criteria_path=TARGETS["section1.2"].criteria_file))
    assert check.criterion.item == check.exercise.item == mine[0]
    assert check.exercise.also == (mine[1], "Not an item of the syllabus")
    by_text = {i.text: i.checked for i in coverage(ROOT) if i.target == "section1.2"}
    assert by_text[mine[0]] == ["1.2.fake_also"] and by_text[mine[1]] == ["1.2.fake_also"]
    assert not any(by_text[t] for t in mine[2:])
    problems = [p for p in unknown_checks(ROOT) if p.startswith("section1.2:")]
    assert len(problems) == 1 and "1.2.fake_also" in problems[0] and "Not an item" in problems[0]
