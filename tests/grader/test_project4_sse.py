"""Project 4's test page script and the strict SSE reader its criteria use."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from grader.checks import sse
from grader.release import render_tree

SOLUTION = Path(__file__).resolve().parents[2] / "solutions" / "projects" / "04_streaming_chat"


# -- the strict SSE parser the criteria read streams with ---------------------------------------

GOOD = (
    b'event: token\ndata: {"type": "token", "content": "Hel"}\n\n'
    b": keep-alive\n\n"
    b'data: {"type": "token", "content": "lo\\nthere \xc3\xa9"}\n\n'
    b'event: done\ndata: {"type": "done", "usage": {"input_tokens": 1, "output_tokens": 2}}\n\n'
)


def parse_in_pieces(raw: bytes, size: int) -> list:
    parser = sse.StrictParser()
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
    with pytest.raises(sse.SSEFormatError, match=problem):
        parse_in_pieces(raw, 5)


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
