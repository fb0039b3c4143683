"""The grader's command line: exit statuses, formats, --path, hints. One-line errors only."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from grader.targets import TARGETS

ROOT = Path(__file__).resolve().parents[2]


def grader(*args: str, cwd: Path = ROOT, timeout: float = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "grader", *args], cwd=cwd, env=env,
        capture_output=True, text=True, timeout=timeout,
    )


@pytest.mark.parametrize(
    "args, says",
    [
        (["check", "project9"], "unknown target 'project9'"),
        (["check", "section9.9"], "unknown target"),
        (["check", "project1", "--path", "/nonexistent/learner"], "no such folder"),
        (["check", "project1", "--path", "/tmp"], "no project found"),
        (["hint", "project1", "p1.no-such-criterion"], "has no criterion"),
    ],
)
def test_cannot_run_is_exit_2_with_one_line(args, says):
    proc = grader(*args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert says in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert len(proc.stderr.strip().splitlines()) == 1


def test_unbuilt_targets_say_so():
    unbuilt = [name for name, target in TARGETS.items() if not target.built]
    if not unbuilt:
        pytest.skip("every target of course.toml is built")
    proc = grader("check", unbuilt[0])
    assert proc.returncode == 2
    assert "not built" in proc.stderr


def test_list_names_every_target():
    proc = grader("list")
    assert proc.returncode == 0, proc.stderr
    names = [line.split()[0] for line in proc.stdout.splitlines()]
    # the syllabus's recommended order: Section 1, Project 1, Section 6, 3.1, Project 2, ...
    assert names[:9] == [*(f"section1.{n}" for n in range(1, 5)), "project1", "section6.1", "section6.2", "section3.1", "project2"]
    assert [n for n in names if n.startswith("project")] == [f"project{n}" for n in range(1, 8)]
    assert len(names) == 27 and names[-1] == "project7"


def test_hint_lists_criteria_without_running_anything():
    proc = grader("hint", "project1")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("hint:") >= 5
    one = grader("hint", "project1", "p1.health")
    assert one.returncode == 0 and one.stdout.count("hint:") == 1


@pytest.fixture(scope="module")
def solution_copy(tmp_path_factory) -> Path:
    dst = tmp_path_factory.mktemp("learner") / "01_fastapi_hello"
    shutil.copytree(ROOT / "solutions" / "projects" / "01_fastapi_hello", dst)
    return dst


def test_json_and_junit_reports_parse_and_agree(solution_copy, tmp_path):
    out_json, out_xml = tmp_path / "r.json", tmp_path / "r.xml"
    pj = grader("check", "project1", "--path", str(solution_copy), "--format", "json", "--output", str(out_json))
    assert pj.returncode == 0, pj.stdout + pj.stderr
    data = json.loads(out_json.read_text())
    assert set(data) == {"target", "path", "passed", "failed", "errors", "duration_s", "criteria"}
    assert data["target"] == "project1" and data["failed"] == 0 and data["errors"] == 0
    assert data["passed"] == len(data["criteria"]) > 5
    for c in data["criteria"]:
        assert set(c) == {"id", "title", "status", "message", "hint"}
    px = grader("check", "project1", "--path", str(solution_copy), "--format", "junit", "--output", str(out_xml))
    assert px.returncode == 0
    suite = ET.parse(out_xml).getroot().find("testsuite")
    assert int(suite.get("tests")) == data["passed"] and suite.get("failures") == "0"
    assert {c.get("name") for c in suite.iter("testcase")} == {c["id"] for c in data["criteria"]}


def test_broken_copy_exits_1_with_reasons_in_every_format(solution_copy, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(solution_copy, broken)
    main = broken / "app" / "main.py"
    main.write_text(main.read_text().replace('"ok"', '"fine"'))
    proc = grader("check", "project1", "--path", str(broken))
    assert proc.returncode == 1
    assert "✗" in proc.stdout and "hint:" in proc.stdout and "[p1.health]" in proc.stdout
    md = grader("check", "project1", "--path", str(broken), "--format", "markdown")
    assert md.returncode == 1 and "❌" in md.stdout and "`p1.health`" in md.stdout
