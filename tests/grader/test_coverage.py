"""`grader coverage`: every syllabus item is taught and checked (or the floor below holds),
and no criterion, exercise or quiz names an item the syllabus does not have."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import pytest

from grader import cli
from grader.coverage import (
    QUIZ_QUESTIONS,
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

# What is covered today; a number here may only rise (full coverage is the number of items).
# Sections teach every item; their exercises check only some: the rest are not checked yet.
# Project 4's README does not teach "Knows difference between SSE and WebSocket" (section 4.1
# does; the project's quiz checks it).
TAUGHT_FLOOR = {**{name: None for name in TARGETS}, "project4": 10}  # None: every item of the target
CHECKED_FLOOR = {
    "section1.1": None, "section1.2": 2, "section1.3": 3, "section1.4": 2, "section2.1": 2,
    "section2.2": 2, "section2.3": 3, "section3.1": 4, "section3.2": 3, "section3.3": 3,
    "section3.4": 3, "section4.1": 2, "section4.2": 2, "section4.3": 2, "section5.1": 2,
    "section5.2": 2, "section5.3": 2, "section5.4": 2, "section6.1": 3, "section6.2": 3,
    **{f"project{n}": None for n in range(1, 8)},
}


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
def test_taught(items, target):
    mine = [i for i in items if i.target == target]
    missing = [i.text for i in mine if not i.taught]
    floor = TAUGHT_FLOOR[target]
    if floor is None:
        assert not missing, f"{target}: not taught: {missing}"
    else:
        taught = len(mine) - len(missing)
        assert taught >= floor, f"{target}: fewer items taught than before: {missing}"
        assert taught < len(mine), f"{target}: every item is taught now; set its TAUGHT_FLOOR to None"


@pytest.mark.parametrize("target", list(TARGETS))
def test_checked(items, target):
    mine = [i for i in items if i.target == target]
    missing = [i.text for i in mine if not i.checked]
    floor = CHECKED_FLOOR[target]
    if floor is None:
        assert not missing, f"{target}: not checked: {missing}"
    else:
        checked = len(mine) - len(missing)
        assert checked >= floor, f"{target}: fewer items checked than before ({checked} < {floor})"
        assert checked < len(mine), f"{target}: every item is checked now; set its CHECKED_FLOOR to None"


def test_floors_only_name_partial_targets(items):
    per = totals(items)
    for name, floor in CHECKED_FLOOR.items():
        if floor is not None:
            assert floor <= per[name]["checked"] < per[name]["items"], name


def test_every_check_names_a_syllabus_item():
    assert unknown_checks(ROOT) == []


def test_alias_tables_name_syllabus_items():
    known = {(i.target, i.text) for i in parse_syllabus(SYLLABUS)}
    assert set(TAUGHT_AS) <= known
    texts = {i.text for i in parse_syllabus(SYLLABUS)}
    assert set(QUIZ_QUESTIONS.values()) <= texts
    asked = set()
    for tgt in TARGETS.values():
        quiz = getattr(importlib.import_module(tgt.criteria_module), "_SECTION_QUIZ", None)
        asked |= {q["id"] for q in quiz.questions} if quiz is not None else set()
    assert set(QUIZ_QUESTIONS) <= asked, "QUIZ_QUESTIONS names a question no section quiz asks"


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
