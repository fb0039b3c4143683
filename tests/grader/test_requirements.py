"""Every project README statement is a requirement some criterion checks (grader/requirements.py)."""

from __future__ import annotations

import pytest

from grader import requirements
from grader.targets import TARGETS

PROJECTS = [n for n, t in TARGETS.items() if t.kind == "project" and t.built]


@pytest.mark.parametrize("target", PROJECTS)
def test_every_statement_of_the_readme_is_traced_to_a_criterion(target):
    assert (requirements.REQUIREMENTS_DIR / f"{target}.toml").is_file(), f"{target} has no requirement trace"
    assert requirements.problems(target) == []


def test_statements_reads_sentences_bullets_and_rows_not_code_or_headers():
    text = """# T

Intro one. Intro two; `x` three.

| Field | Rule |
|---|---|
| `a` | required |

- first bullet
  continued.
- second

```bash
curl never
```

## Skipped
Anything here.

### Nested
Also skipped.

## Kept
Last one.
"""
    got = requirements.statements(text, ("Skipped",))
    assert got == [
        "Intro one.",
        "Intro two;",
        "`x` three.",
        "| `a` | required |",
        "first bullet continued.",
        "second",
        "Last one.",
    ]


def test_problems_finds_every_kind_of_gap(tmp_path, monkeypatch):
    """The check itself can fail: each defect of a trace is reported."""
    root = tmp_path / "course"
    readme = root / "solutions" / TARGETS["project1"].rel_path / "README.md"
    readme.parent.mkdir(parents=True)
    readme.write_text("# P\n\nAnswers 200 always. Untraced rule must hold.\n")
    reqs = tmp_path / "reqs"
    reqs.mkdir()
    (reqs / "project1.toml").write_text(
        '[[requirement]]\nid = "a"\nquote = "Answers 200 always."\ncriteria = ["p1.health", "p1.nope"]\n'
        '[[requirement]]\nid = "a"\nquote = "Not in the README."\ncriteria = []\n'
    )
    monkeypatch.setattr(requirements, "REQUIREMENTS_DIR", reqs)
    found = "\n".join(requirements.problems("project1", root))
    assert "'p1.nope', which is not a criterion" in found
    assert "a: the id is used twice" in found
    assert "no longer says 'Not in the README.'" in found
    assert "no criterion checks 'Not in the README.'" in found
    assert "p1.echo: checks no requirement" in found
    assert "quoted by no requirement (nor as informative): 'Untraced rule must hold.'" in found
    assert "Answers 200 always" not in found.split("no requirement (nor")[-1]


def test_the_trace_prints_as_markdown(capsys):
    assert requirements.main(["project1"]) == 0
    out = capsys.readouterr().out
    assert "| `health.body` | Always answers `200` with exactly: | `p1.health` |" in out


