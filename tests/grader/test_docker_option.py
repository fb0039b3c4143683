"""`grader check … --docker`: checks that need a Docker engine (section 6.1's 6.1.image_serves).

Without --docker they are left out of the run and the report, which says how many were not run.
With --docker and no engine they are "skip", and a run where nothing failed but something was
skipped exits 3. These machines have no Docker engine, so the real-engine path (building and
running the learner's image) is not exercised here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from grader import exercise as ex_mod
from grader.results import FAIL, PASS, SKIP, CriterionResult, RunResult

ROOT = Path(__file__).resolve().parents[2]
NOTE = "1 Docker check not run: add --docker where a Docker engine is available"


def grader(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=240)


def test_section_6_1_declares_one_docker_check():
    docker = [e.id for e in ex_mod.exercises("6.1") if e.needs_docker]
    assert docker == ["6.1.image_serves"]


def test_check_in_the_notebook_says_skip_without_an_engine(monkeypatch):
    from grader.lesson import check

    monkeypatch.setitem(ex_mod._DOCKER, "engine", False)
    monkeypatch.delenv("GRADER_GRADING", raising=False)
    shown = check("6.1.image_serves", ROOT / "no" / "Dockerfile", "docker run hello-fastapi:0.1")
    assert shown.status == SKIP and not shown.ok
    assert repr(shown) == f"· 6.1.image_serves: {ex_mod.NO_ENGINE}"


@pytest.mark.parametrize("statuses, code", [
    ([PASS, PASS], 0),
    ([PASS, SKIP], 3),
    ([FAIL, SKIP], 1),
    ([PASS, FAIL], 1),
])
def test_exit_status(statuses, code):
    from grader.cli import exit_status

    result = RunResult("section6.1", "x", [CriterionResult(f"c{n}", "t", s) for n, s in enumerate(statuses)])
    assert exit_status([result]) == code


@pytest.mark.slow
def test_default_run_leaves_docker_checks_out_and_says_so():
    proc = grader("check", "section6.1", "--solutions")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "6.1.image_serves" not in proc.stdout
    assert NOTE in proc.stdout


@pytest.mark.slow
def test_docker_without_an_engine_skips_and_exits_3():
    if ex_mod.docker_engine_answers():
        pytest.skip("a Docker engine answers here: this test is about its absence")
    proc = grader("check", "section6.1", "--solutions", "--docker", "--format", "json")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    rows = {c["id"]: c for c in json.loads(proc.stdout)["criteria"]}
    assert rows["6.1.image_serves"]["status"] == SKIP
    assert rows["6.1.image_serves"]["message"] == ex_mod.NO_ENGINE
    assert {cid: r["status"] for cid, r in rows.items() if cid != "6.1.image_serves"} == {
        "6.1.dockerfile": PASS, "6.1.docker_run": PASS, "6.1.quiz": PASS}
