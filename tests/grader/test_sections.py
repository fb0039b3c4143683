"""Notebook sections: grader.exercise, the grader.lesson toolkit, and `grader check sectionX.Y`.

The kernel-running tests use a tiny section of the tests' own (tests/grader/sections_demo:
section 9.1 and its notebook), so they do not depend on the course's notebooks.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest
from sections_demo import demo_notebook as demo

from grader import exercise as ex_mod
from grader import lesson
from grader.check import run_check
from grader.release import NOTEBOOK_METADATA
from grader.targets import Target, TargetError

ROOT = Path(__file__).resolve().parents[2]
DEMO = Target("section9.1", "section", "demo/9.1_demo.ipynb", "Demo section",
              criteria_path=demo.SECTIONS_DIR / "section9_1.py")
DEMO_IDS = ["9.1.add", "9.1.hello", "9.1.reply", "9.1.wait", "9.1.quiz"]
# No SDK import in the synthetic notebooks below: they test the grader, not the notebook.
LIGHT = {"c07": 'reply = "hello"'}


@pytest.fixture
def demo_sections(monkeypatch):
    monkeypatch.setenv(ex_mod.SECTIONS_DIR_ENV, str(demo.SECTIONS_DIR))
    monkeypatch.delenv(lesson.GRADING_ENV, raising=False)


def kernel_children() -> list[int]:
    """ipykernel processes this test process started that are still alive."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat[1]) == os.getpid() and stat[0] != "Z" and b"ipykernel" in cmdline:
            found.append(int(proc.name))
    return found


@pytest.fixture
def no_kernel_left():
    yield
    assert kernel_children() == [], "a kernel process was left behind"


def grade(path: Path, **kwargs):
    return run_check(DEMO, path=path, **kwargs)


def by_id(result) -> dict:
    return {c.id: c for c in result.criteria}


# -- grader.exercise and grader.lesson, in this process -------------------------------------------


def test_section_keys():
    assert ex_mod.section_key("1.3.validators") == ex_mod.section_key("section1.3") == "1.3"
    assert ex_mod.section_key("section1_3") == "1.3"
    assert ex_mod.module_name("1.3.validators") == "grader.criteria.sections.section1_3"
    with pytest.raises(ex_mod.UnknownExercise, match="not an exercise or section id"):
        ex_mod.section_key("validators")


def test_exercises_are_found_in_declaration_order(demo_sections):
    assert [e.id for e in ex_mod.exercises("9.1")] == DEMO_IDS[:-1]
    assert ex_mod.find_quiz("section9.1").id == "9.1.quiz"
    assert ex_mod.find_exercise("9.1.add").uses == ("add",)


def test_check_passes_and_fails_with_reason_and_hint(demo_sections):
    ok = lesson.check("9.1.add", lambda a, b: a + b)
    assert ok.ok and repr(ok).startswith("✓ 9.1.add") and "✓" in ok._repr_html_()
    bad = lesson.check("9.1.add", lambda a, b: a - b)
    assert not bad.ok
    assert "add(2, 3) returned -1, not 5" in repr(bad) and "hint: return the sum" in repr(bad)
    assert "✗" in bad._repr_html_() and "hint" in bad._repr_html_()


def test_check_never_raises_into_the_notebook(demo_sections):
    def stub(a, b):
        raise NotImplementedError("write add")

    assert lesson.check("9.1.add", stub).message.startswith("not done yet: NotImplementedError: write add")

    def broken(a, b):
        return {}["x"]

    assert lesson.check("9.1.add", broken).message == "your code raised KeyError: 'x'"
    assert "no exercise '9.1.nope'" in lesson.check("9.1.nope", 1).message
    assert "has no checks yet" in lesson.check("8.8.x", 1).message
    assert "takes add (1 object), got 2" in lesson.check("9.1.add", 1, 2).message


def test_a_check_that_hangs_is_cut_off(demo_sections):
    import time

    started = time.monotonic()
    result = lesson.check("9.1.wait", lambda: time.sleep(30))
    assert time.monotonic() - started < 5
    assert result.message == "the check did not finish within 2 s (does your code wait forever?)"


def test_check_is_left_to_the_grading_cell_while_grading(demo_sections, monkeypatch):
    monkeypatch.setenv(lesson.GRADING_ENV, "1")
    assert lesson.check("9.1.add", lambda a, b: 0).status == "skipped"


def test_quiz_shows_questions_and_explanations_of_answered_ones_only(demo_sections):
    view = lesson.quiz("9.1", {"two-plus-two": "B)", "http-get": None})
    text = repr(view)
    assert "1 of 2 right, 1 unanswered" in text
    assert "✓ [two-plus-two] 2 + 2?" in text and "right: Four." in text
    assert "· [http-get]" in text and "GET reads" not in text  # unanswered: no explanation yet
    assert "<ol>" in view._repr_html_() and not view.ok
    wrong = repr(lesson.quiz("9.1", {"two-plus-two": "a", "http-get": "a"}))
    assert "✗ [two-plus-two]" in wrong and "not a: Four." in wrong
    assert lesson.quiz("9.1", {"two-plus-two": "b", "http-get": "a"}).ok
    assert lesson.QUIZ_ANSWERS["9.1"] == {"two-plus-two": "b", "http-get": "a"}
    assert "has no checks yet" in repr(lesson.quiz("8.8", {}))


def test_grade_namespace_prints_one_json_line(demo_sections, capsys):
    lesson.QUIZ_ANSWERS.pop("9.1", None)
    payload = ex_mod.grade_namespace("section9.1", {"add": lambda a, b: a + b}, only=["add", "9.1.quiz"])
    line = capsys.readouterr().out.strip()
    assert line.startswith(ex_mod.RESULT_MARKER) and json.loads(line[len(ex_mod.RESULT_MARKER):]) == payload
    rows = {r["id"]: r for r in payload["results"]}
    assert rows["9.1.add"]["status"] == "pass"
    assert rows["9.1.quiz"]["missing"] == ["answers"]


def test_sim_uses_the_labs_llmsim_when_set(monkeypatch):
    monkeypatch.setitem(lesson._SIM, "client", None)
    lesson._SIM.pop("client")
    monkeypatch.setenv("LLMSIM_URL", "http://127.0.0.1:9/")
    client = lesson.sim()
    try:
        assert client.url == "http://127.0.0.1:9" and not client.private
    finally:
        lesson._stop_sim()


def test_sim_starts_a_private_llmsim_and_points_unset_sdk_variables_at_it(monkeypatch):
    lesson._stop_sim()
    for var in ("LLMSIM_URL", "ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://my-gateway.example/v1")  # set: left alone
    client = lesson.sim()
    try:
        assert client.private and client.health()["status"] == "ok"
        assert os.environ["ANTHROPIC_BASE_URL"] == client.url
        assert os.environ["OPENAI_BASE_URL"] == "http://my-gateway.example/v1"
        assert lesson.sim() is client  # one per kernel
    finally:
        lesson._stop_sim()
        for var in ("LLMSIM_URL", "ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY", "OPENAI_API_KEY",
                    "OPENROUTER_API_BASE", "OPENROUTER_API_KEY"):
            os.environ.pop(var, None)


# -- committed notebooks --------------------------------------------------------------------------


def committed_notebooks() -> list[Path]:
    return sorted(p for folder in ("solutions", "lessons") for p in (ROOT / folder).rglob("*.ipynb")
                  if ".ipynb_checkpoints" not in p.parts)


@pytest.mark.parametrize("path", committed_notebooks(), ids=lambda p: str(p.relative_to(ROOT)))
def test_committed_notebooks_have_no_outputs_and_stable_metadata(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert (nb.nbformat, nb.nbformat_minor) >= (4, 5)
    assert nb.metadata == NOTEBOOK_METADATA
    for cell in nb.cells:
        assert cell.get("id"), f"a cell without an id in {path.name}"
        assert not {"execution", "ExecuteTime"} & set(cell.metadata)
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"cell {cell.id} has outputs"


# -- grader check sectionX.Y ------------------------------------------------------------------------


def test_a_notebook_that_is_not_json_is_one_line_exit_2(tmp_path, demo_sections):
    bad = tmp_path / "9.1_demo.ipynb"
    bad.write_text('{"cells": [')
    with pytest.raises(TargetError, match=r"^9.1_demo.ipynb is not a valid notebook: not JSON") as err:
        grade(bad)
    assert "\n" not in str(err.value)


@pytest.fixture(scope="module")
def demo_runs(tmp_path_factory):
    """The demo's solution and lessons notebooks, each graded once."""
    folder = tmp_path_factory.mktemp("demo")
    solved = demo.write(demo.solution(), folder / "solutions" / "9.1_demo.ipynb")
    stubbed = demo.lessons_version(solved, folder / "lessons" / "9.1_demo.ipynb")
    return grade(solved, verbose=True), grade(stubbed)


@pytest.mark.slow
def test_the_solution_passes_every_criterion(demo_runs, no_kernel_left):
    solved, _ = demo_runs
    assert [c.id for c in solved.criteria] == DEMO_IDS
    assert {c.id: c.message for c in solved.criteria if c.status != "pass"} == {}
    assert not [n for n in solved.notes if "raised" in n]  # no cell raised


@pytest.mark.slow
def test_the_lessons_version_fails_every_criterion_saying_why(demo_runs):
    _, stubbed = demo_runs
    got = {c.id: c.message for c in stubbed.criteria}
    assert all(c.status == "fail" for c in stubbed.criteria), got
    assert got["9.1.add"].startswith("not done yet: NotImplementedError: write add")
    assert got["9.1.reply"] == ("not done yet: cell 7 (`import anthropic`) raised NotImplementedError: "
                                "ask the model, so reply is not defined")
    assert got["9.1.wait"].startswith("the check did not finish within 2 s")
    assert got["9.1.quiz"] == "quiz: 2 of 2 unanswered (two-plus-two, http-get)"


@pytest.mark.slow
def test_an_earlier_cell_that_raises_is_named(tmp_path, no_kernel_left):
    edits = {**LIGHT, "c03": "import math\nraise ValueError('boom')"}
    path = demo.write(demo.solution(edits), tmp_path / "9.1_demo.ipynb")
    got = by_id(grade(path, only=["9.1.add", "9.1.hello"]))
    assert list(got) == ["9.1.add", "9.1.hello"]
    assert got["9.1.add"].message == "cell 3 (`import math`) raised ValueError: boom, so add is not defined"
    assert got["9.1.hello"].status == "pass"


@pytest.mark.slow
def test_a_cell_that_hangs_is_interrupted_and_named(tmp_path, monkeypatch, no_kernel_left):
    monkeypatch.setenv("GRADER_CELL_TIMEOUT_S", "3")
    edits = {**LIGHT, "c03": "import time\nwhile True:\n    time.sleep(0.05)\ndef add(a, b):\n    return a + b"}
    path = demo.write(demo.solution(edits), tmp_path / "9.1_demo.ipynb")
    result = grade(path, only=["9.1.add", "9.1.hello"])
    got = by_id(result)
    assert got["9.1.add"].message == (
        "cell 3 (`import time`) did not finish within 3 s (an endless loop, or waiting on something "
        "that never answers?), so add is not defined")
    assert got["9.1.hello"].status == "pass"  # the kernel went on after the interrupt
    assert any("cell 3 (`import time`) did not finish" in n for n in result.notes)


@pytest.mark.slow
def test_a_kernel_that_dies_fails_every_criterion_and_is_gone(tmp_path, no_kernel_left):
    edits = {**LIGHT, "c05": "import os\nos._exit(1)"}
    path = demo.write(demo.solution(edits), tmp_path / "9.1_demo.ipynb")
    result = grade(path)
    assert [c.status for c in result.criteria] == ["fail"] * 5
    assert result.criteria[0].message == (
        "the kernel died while running cell 5 (`import os`) (os._exit, a crash, or out of memory?); "
        "nothing after it ran")


@pytest.mark.slow
def test_ctrl_c_shuts_the_kernel_down(tmp_path, monkeypatch, no_kernel_left):
    from nbclient import NotebookClient

    def interrupted(self, cell, index, **kwargs):
        assert kernel_children(), "the kernel should be running by now"
        raise KeyboardInterrupt

    monkeypatch.setattr(NotebookClient, "execute_cell", interrupted)
    path = demo.write(demo.solution(LIGHT), tmp_path / "9.1_demo.ipynb")
    with pytest.raises(KeyboardInterrupt):
        grade(path)


@pytest.mark.slow
def test_json_output_and_only_through_the_cli(tmp_path, monkeypatch, capsys, no_kernel_left):
    from grader import cli, status, targets

    monkeypatch.setitem(targets.TARGETS, "section9.1", DEMO)
    monkeypatch.setattr(status, "save", lambda *a, **k: None)
    edits = {**LIGHT, "c03": "def add(a, b):\n    return a * b"}
    path = demo.write(demo.solution(edits), tmp_path / "9.1_demo.ipynb")
    code = cli.main(["check", "section9.1", "--path", str(path), "--only", "9.1.add", "--only", "quiz",
                     "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    assert out["target"] == "section9.1" and (out["passed"], out["failed"]) == (1, 1)
    add = out["criteria"][0]
    assert add["id"] == "9.1.add" and add["status"] == "fail"
    assert add["message"] == "add(2, 3) returned 6, not 5" and add["hint"] == "return the sum of a and b"
    assert out["criteria"][1]["id"] == "9.1.quiz" and out["criteria"][1]["status"] == "pass"


@pytest.mark.slow
def test_a_kernel_with_an_app_and_a_private_llmsim_shuts_down_promptly(no_kernel_left):
    """serve() and sim() leave nothing that holds a kernel up when it is asked to stop."""
    import time

    from jupyter_client.utils import run_sync

    from grader.sections import _kernel_manager

    km = _kernel_manager()
    env = {k: v for k, v in os.environ.items() if k not in ("LLMSIM_URL", "LAB_PROXY_BASE")}
    run_sync(km.start_kernel)(env=env)
    kc = km.blocking_client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        code = """from grader.lesson import serve, sim
from fastapi import FastAPI
import httpx
app = FastAPI()
server = serve(app)
keep = httpx.Client()                      # a keep-alive connection left open
keep.get(server.url + "/openapi.json")
print(sim().health()["status"], server.port)"""
        reply = kc.execute_interactive(code, timeout=60, output_hook=lambda msg: None)
        assert reply["content"]["status"] == "ok"
        started = time.monotonic()
        run_sync(km.shutdown_kernel)(now=False)
        took = time.monotonic() - started
        assert took < 4, f"shutdown took {took:.1f} s (the kernel was killed, not stopped)"
    finally:
        kc.stop_channels()
        if run_sync(km.is_alive)():
            run_sync(km.shutdown_kernel)(now=True)
