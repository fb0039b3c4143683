"""The grading plugin: how criteria outcomes become pass / fail / error, with one-line reasons.

These use criteria of their own (written to tmp_path) so that they test the plugin itself,
not any project.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from grader.check import run_check
from grader.targets import Target

CRITERIA = '''
import time
from grader.criterion import criterion, check, CheckError

@criterion("t.pass", "a passing item", hint="nothing to do")
def test_pass(project):
    check(project.exists("app/main.py"), "no app/main.py")

@criterion("t.fail", "a failing item", hint="do the thing")
def test_fail(project):
    check(project.read("missing.txt") is not None, "missing.txt is not there")

@criterion("t.bare-assert", "a bare assert", hint="h")
def test_bare():
    x = 1
    assert x == 2, "x should be 2"

@criterion("t.crash", "a grader bug", hint="h")
def test_crash():
    {}["nope"]

@criterion("t.cannot", "cannot check", hint="h")
def test_cannot():
    raise CheckError("Redis is not reachable")

@criterion("t.slow", "a hanging check", hint="h")
def test_slow():
    time.sleep(30)

@criterion("t.app", "uses the app", hint="h")
def test_app(app):
    r = app.get("/health")
    check(r.status_code == 200, f"GET /health answered {r.status_code}")

@criterion("t.same-item", "uses the app", hint="h")
def test_app_again(app):
    check(app.get("/health").json() == {"status": "ok"}, "wrong body")
'''

GOOD_APP = """
from fastapi import FastAPI
app = FastAPI()

@app.get("/health")
def health():
    return {"status": "ok"}
"""


def make(tmp_path: Path, app_source: str) -> tuple[Target, Path]:
    crit = tmp_path / "criteria" / "fake.py"
    crit.parent.mkdir()
    crit.write_text(CRITERIA)
    proj = tmp_path / "proj"
    (proj / "app").mkdir(parents=True)
    (proj / "app" / "__init__.py").write_text("")
    (proj / "app" / "main.py").write_text(textwrap.dedent(app_source))
    return Target("fake", "project", "proj", "Fake", criteria_path=crit), proj


@pytest.fixture
def short_timeout(monkeypatch):
    monkeypatch.setenv("GRADER_CHECK_TIMEOUT_S", "8")  # an app start on a loaded 2-core machine takes 2+ s


def by_id(result):
    return {c.id: c for c in result.criteria}


def test_outcomes_and_messages(tmp_path, short_timeout):
    target, proj = make(tmp_path, GOOD_APP)
    result = run_check(target, path=proj)
    got = by_id(result)
    assert [c.id for c in result.criteria] == [
        "t.pass", "t.fail", "t.bare-assert", "t.crash", "t.cannot", "t.slow", "t.app", "t.same-item"
    ]
    assert got["t.pass"].status == "pass"
    assert (got["t.fail"].status, got["t.fail"].message) == ("fail", "missing.txt is not there")
    assert got["t.fail"].hint == "do the thing" and got["t.fail"].title == "a failing item"
    assert got["t.bare-assert"].status == "fail" and got["t.bare-assert"].message == "x should be 2"
    assert got["t.crash"].status == "error" and "KeyError" in got["t.crash"].message
    assert "Traceback" not in got["t.crash"].message
    assert (got["t.cannot"].status, got["t.cannot"].message) == ("error", "Redis is not reachable")
    assert got["t.slow"].status == "fail" and "did not finish in time" in got["t.slow"].message
    assert got["t.app"].status == "pass" and got["t.same-item"].status == "pass"
    assert (result.passed, result.failed, result.errors) == (3, 3, 2)
    assert result.duration_s < 25


def test_app_that_cannot_start_errors_every_app_criterion_with_the_reason(tmp_path, short_timeout):
    target, proj = make(tmp_path, "from fastapi import FastAPI\napp = FastAPI(\n")
    got = by_id(run_check(target, path=proj, only=["t.app", "same-item"]))
    assert set(got) == {"t.app", "t.same-item"}
    for c in got.values():
        assert c.status == "error"
        assert "exited during start-up" in c.message
    # the app's output is shown once per run, the other criteria point to it
    assert "SyntaxError" in got["t.app"].message
    assert "SyntaxError" not in got["t.same-item"].message and "[t.app]" in got["t.same-item"].message


KILLER_CRITERIA = '''
from grader.criterion import criterion, check

@criterion("k.kill", "kills the app", hint="h")
def test_kill(app):
    app.get("/die")

@criterion("k.after", "uses the app after", hint="h")
def test_after(app):
    check(app.get("/health").json() == {"status": "ok"}, "wrong body")
'''


def test_app_is_restarted_when_a_check_kills_it(tmp_path, short_timeout):
    source = GOOD_APP + textwrap.dedent("""
        import os

        @app.get("/die")
        def die():
            os._exit(1)
    """)
    target, proj = make(tmp_path, source)
    target.criteria_file.write_text(KILLER_CRITERIA)
    result = run_check(target, path=proj)
    got = by_id(result)
    assert got["k.kill"].status == "fail" and "exited" in got["k.kill"].message
    assert got["k.after"].status == "pass"
    assert any("restarted" in n for n in result.notes)


RAISING_CRITERIA = '''
from grader.criterion import criterion, check

@criterion("r.boom", "shows the learner's exception", hint="h")
def test_boom(app):
    r = app.get("/boom")
    check(r.status_code == 200, f"GET /boom answered {r.status_code}")

@criterion("r.fine", "a later check is not blamed for it", hint="h")
def test_fine(app):
    check(app.get("/health").status_code == 404, "health answered")
'''


def test_a_failing_check_shows_the_exception_the_app_raised(tmp_path):
    source = GOOD_APP + textwrap.dedent("""
        @app.get("/boom")
        def boom():
            raise NotImplementedError("TODO: write the boom endpoint")
    """)
    target, proj = make(tmp_path, source)
    target.criteria_file.write_text(RAISING_CRITERIA)
    got = by_id(run_check(target, path=proj))
    assert got["r.boom"].message == (
        "GET /boom answered 500 (your app raised NotImplementedError: TODO: write the boom endpoint)"
    )
    assert got["r.fine"].message == "health answered"
