"""`grader release`: solution blocks become stubs, and lessons/ matches solutions/."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from grader.release import ReleaseError, diff_trees, render_tree, strip_solutions

ROOT = Path(__file__).resolve().parents[2]


def test_block_becomes_its_stub_lines():
    src = (
        "def health():\n"
        "    # BEGIN SOLUTION\n"
        "    return {'status': 'ok'}\n"
        "    # STUB: # TODO: return the health payload\n"
        "    # STUB: raise NotImplementedError\n"
        "    # END SOLUTION\n"
        "after = 1\n"
    )
    assert strip_solutions(src) == (
        "def health():\n"
        "    # TODO: return the health payload\n"
        "    raise NotImplementedError\n"
        "after = 1\n"
    )


def test_block_without_stub_becomes_todo():
    src = "FROM x\n# BEGIN SOLUTION\nRUN pip install -r requirements.txt\n# END SOLUTION\n"
    assert strip_solutions(src) == "FROM x\n# TODO\n"


def test_markdown_blocks_use_html_comments():
    src = (
        "# Title\n"
        "<!-- BEGIN SOLUTION -->\n"
        "## Components\n"
        "The answer.\n"
        "<!-- STUB: ## Components -->\n"
        "<!-- STUB: -->\n"
        "<!-- STUB: TODO: explain each component -->\n"
        "<!-- END SOLUTION -->\n"
        "<!-- BEGIN SOLUTION -->\n"
        "secret\n"
        "<!-- END SOLUTION -->\n"
        "tail\n"
    )
    assert strip_solutions(src) == (
        "# Title\n## Components\n\nTODO: explain each component\n<!-- TODO -->\ntail\n"
    )


@pytest.mark.parametrize(
    "src, problem",
    [
        ("# BEGIN SOLUTION\nx = 1\n", "never closed"),
        ("x = 1\n# END SOLUTION\n", "without BEGIN"),
        ("# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION\n", "inside the block"),
    ],
)
def test_unbalanced_markers_are_errors_with_a_line(src, problem):
    with pytest.raises(ReleaseError, match=problem):
        strip_solutions(src, "f.py")


def test_notebooks_lose_solutions_and_outputs(tmp_path):
    nb = {
        "cells": [
            {"cell_type": "code", "metadata": {}, "execution_count": 3,
             "outputs": [{"output_type": "stream", "name": "stdout", "text": "42\n"}],
             "source": ["x = 1\n", "# BEGIN SOLUTION\n", "answer = 42\n", "# STUB: answer = ...\n", "# END SOLUTION\n"]},
        ],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    }
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    (src / "n.ipynb").write_text(json.dumps(nb))
    render_tree(src, dst)
    cell = json.loads((dst / "n.ipynb").read_text())["cells"][0]
    assert "".join(cell["source"]) == "x = 1\nanswer = ...\n"
    assert cell["outputs"] == [] and cell["execution_count"] is None


def test_render_tree_removes_stale_files_but_keeps_local_env(tmp_path):
    src, dst = tmp_path / "solutions", tmp_path / "lessons"
    (src / "p").mkdir(parents=True)
    (src / "p" / "a.py").write_text("a = 1\n")
    (dst / "p").mkdir(parents=True)
    (dst / "p" / "old.py").write_text("")
    (dst / "p" / ".env").write_text("ANTHROPIC_API_KEY=mine\n")
    render_tree(src, dst)
    assert (dst / "p" / "a.py").read_text() == "a = 1\n"
    assert not (dst / "p" / "old.py").exists()
    assert (dst / "p" / ".env").exists(), "a learner's .env must survive a release"
    assert diff_trees(dst, dst) == []
    (dst / "p" / "a.py").write_text("a = 2\n")
    assert diff_trees(src, dst) == ["out of date: p/a.py"]


def test_lessons_are_generated_from_solutions():
    """The repository's own lessons/ is exactly what `grader release` makes of solutions/."""
    if not (ROOT / "solutions").is_dir():
        pytest.fail("solutions/ is missing")
    proc = subprocess.run(
        [sys.executable, "-m", "grader", "release", "--check"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_files_git_ignores_are_not_released(tmp_path):
    # a notebook that writes an app next to itself must not put that app into lessons/
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("/solutions/lesson/generated/\n")
    src = tmp_path / "solutions" / "lesson"
    (src / "generated").mkdir(parents=True)
    (src / "generated" / "main.py").write_text("app = 1\n")
    (src / "notes.md").write_text("kept\n")
    render_tree(tmp_path / "solutions", tmp_path / "lessons")
    assert (tmp_path / "lessons" / "lesson" / "notes.md").is_file()
    assert not (tmp_path / "lessons" / "lesson" / "generated").exists()
    # and a learner's own ignored leftovers in lessons/ are not "not generated from solutions/"
    (tmp_path / ".gitignore").write_text("/solutions/lesson/generated/\n/lessons/lesson/generated/\n")
    (tmp_path / "lessons" / "lesson" / "generated").mkdir()
    (tmp_path / "lessons" / "lesson" / "generated" / "main.py").write_text("app = 2\n")
    assert diff_trees(tmp_path / "lessons", tmp_path / "lessons") == []
    fresh = tmp_path / "fresh"
    render_tree(tmp_path / "solutions", fresh)
    assert diff_trees(fresh, tmp_path / "lessons") == []
