"""Hostile learner input: oversized files, bytes that are not UTF-8 in names, a project that
shadows the grader's modules, symlink loops and FIFOs, a closed stdout, and an app that leaks
the secrets it is given. Each case is a small project built to misbehave that way."""

from __future__ import annotations

import base64
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest

from grader.leaks import LeakWatch, summary
from grader.learner_files import LearnerFileError
from grader.plugin import ProjectFiles

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = ROOT / "solutions" / "projects" / "01_fastapi_hello"
ENV = {**os.environ, "NO_COLOR": "1", "GRADER_START_TIMEOUT_S": "30", "PYTHONPATH": str(ROOT)}
# what the grader hands the app: "sk-llmsim-<32 hex>", "sk-ant-llmsim-…", JWT_SECRET = 64 hex
SECRET_SHAPED = re.compile(r"sk-(?:ant-|or-)?llmsim-[0-9a-f]{32}|\b[0-9a-f]{64}\b")


def grader(*args: str, cwd: Path = ROOT, **kwargs) -> subprocess.CompletedProcess:
    kwargs.setdefault("capture_output", True)
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=cwd, env=ENV, timeout=120, **kwargs)


def project_copy(where: Path) -> Path:
    shutil.copytree(SOLUTION, where)
    return where


def no_grader_traceback(out: str) -> None:
    assert "Traceback" not in out and "grader failed" not in out and "could not run" not in out, out


# -- 1. learner files over a size cap are not parsed in the grader's process ------------------

# VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over fork and exec, so a probe
# started by a 400 MB pytest worker reported the worker's size (CI, 2026-12-01)
RSS_PROBE = """
import re, sys
from grader.cli import main
code = main(sys.argv[1:])
status = open("/proc/self/status").read()
print("peak-rss-kb", re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1), file=sys.stderr)
sys.exit(code)
"""


def test_a_4mb_source_file_is_refused_by_name_and_the_grader_stays_small(tmp_path):
    project = project_copy(tmp_path / "big")
    # 4 MB of ordinary Python; ast.parse of it alone holds over a gigabyte
    line = "value_{0} = {{'a': [{0}, {0} + 1, 'text'], 'b': call(x, y)}}\n"
    (project / "app" / "constants.py").write_text("".join(line.format(i) for i in range(70_000)))
    proc = subprocess.run([sys.executable, "-c", RSS_PROBE, "check", "project1", "--path", str(project),
                           "--only", "p1.requirements"], env=ENV, capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "app/constants.py is 4.", out
    assert "over the grader's 256 KB limit for one file" in out
    no_grader_traceback(out)
    peak_mb = int(re.search(r"peak-rss-kb (\d+)", out).group(1)) / 1024
    assert peak_mb < 300, f"the grader's peak memory was {peak_mb:.0f} MB"


def test_every_reader_of_the_project_folder_is_capped(tmp_path):
    project = project_copy(tmp_path / "p")
    (project / "README.md").write_text("x" * 1_000_001)
    (project / "docker-compose.yml").write_text("services: {}\n" + "#" * 1_000_001)
    files = ProjectFiles(project)
    with pytest.raises(AssertionError, match=r"README.md is 1.0 MB, over the grader's 1.0 MB limit"):
        files.read("README.md")
    from grader.checks import compose

    with pytest.raises(LearnerFileError, match="docker-compose.yml is 1.0 MB"):
        compose.load_compose(files.root)  # derived paths are capped too
    (project / "quiz.yaml").write_text("questions: []\n" + "#" * 1_000_001)
    from grader.checks.quizzes import check_quiz_file

    with pytest.raises(AssertionError, match="quiz.yaml is 1.0 MB"):
        check_quiz_file(files, {})
    assert files.read("requirements.txt")  # small files read as before
    assert files.read("no-such-file") is None


def test_an_oversized_notebook_is_one_line(tmp_path, monkeypatch):
    from grader import learner_files
    from grader.sections import read_notebook
    from grader.targets import TargetError

    notebook = tmp_path / "1.1_http_rest_basics.ipynb"
    notebook.write_text(json.dumps({"cells": [], "pad": "x" * 2000}))
    monkeypatch.setattr(learner_files, "MAX_NOTEBOOK_BYTES", 1000)
    with pytest.raises(TargetError, match=r"1.1_http_rest_basics.ipynb is 2 KB, over the grader's 1 KB limit for one file: clear its outputs"):
        read_notebook(notebook)


# -- 2. reports are written whatever the bytes in file names --------------------------------


@pytest.mark.parametrize("fmt", ["text", "json", "junit", "markdown"])
def test_a_non_utf8_file_name_never_loses_the_report(tmp_path, fmt):
    folder = os.fsdecode(os.fsencode(str(tmp_path)) + b"/proj\xff")
    project = project_copy(Path(folder))
    # a file whose name is not UTF-8, that a criterion names in its message (a syntax error)
    with open(os.fsencode(str(project / "app")) + b"/\xff\x1b[2J.py", "w") as f:
        f.write("def broken(:\n")
    report = tmp_path / f"report.{fmt}"
    proc = grader("check", "project1", "--path", folder, "--only", "p1.requirements", "--format", fmt,
                  "--output", str(report), text=True)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    no_grader_traceback(out)
    text = report.read_text(encoding="utf-8")  # valid UTF-8
    assert "\x1b" not in text
    if fmt == "json":
        data = json.loads(text)
        text = data["path"] + "\n" + data["criteria"][0]["message"]
    if fmt == "junit":
        text = ET.fromstring(text.encode()).find(".//failure").get("message")
    else:
        assert "proj\\xff" in text, text
    assert "app/\\xff\\x1b[2J.py line 1: syntax error" in text, text


# -- 3. python -m grader never imports from the current folder -------------------------------

SHADOW = 'open({marker!r}, "a").write(__name__ + "\\n")\n'


def test_python_m_grader_does_not_import_the_projects_modules(tmp_path):
    marker = tmp_path / "imported"
    project = project_copy(tmp_path / "shadowing")
    for name in ("secrets", "json", "argparse", "httpx"):
        (project / f"{name}.py").write_text(SHADOW.format(marker=str(marker)))
    # the fixture works: Python run there does import them
    subprocess.run([sys.executable, "-c", "import json"], cwd=project, env=ENV, check=True)
    assert marker.read_text() == "json\n"
    marker.unlink()

    listed = grader("list", cwd=project, text=True)
    checked = grader("check", "project1", "--path", ".", "--only", "p1.requirements", cwd=project, text=True)
    assert listed.returncode == 0, listed.stderr
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert not marker.exists(), f"the grader imported the project's {marker.read_text().split()}"


# -- 4. symlink loops, links out of the folder, FIFOs: the learner's problem ----------------


def test_symlink_loops_and_fifos_are_one_line_each(tmp_path):
    project = project_copy(tmp_path / "links")
    (project / "README.md").unlink()
    (project / "README.md").symlink_to("README.md")  # a loop
    (project / "Dockerfile").unlink()
    os.mkfifo(project / "Dockerfile")  # reading it would block for ever
    (project / "requirements.txt").unlink()
    (project / "requirements.txt").symlink_to("/etc/hostname")  # outside the folder
    (project / "app" / "again").symlink_to(".")  # a directory loop
    (project / "app" / "gone.py").symlink_to("nowhere.py")  # dangling
    proc = grader("check", "project1", "--path", str(project), "--only", "p1.readme", "--only",
                  "p1.dockerfile-practice", "--only", "p1.requirements", text=True)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    no_grader_traceback(out)
    assert "README.md is a symbolic link that loops" in out
    assert "Dockerfile is a FIFO (named pipe), not a file" in out
    assert "requirements.txt is a link to /etc/hostname, outside the project folder" in out


def test_a_path_that_loops_is_exit_2_with_one_line(tmp_path):
    (tmp_path / "loop").symlink_to("loop")
    proc = grader("check", "project1", "--path", str(tmp_path / "loop"), text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"grader: --path {tmp_path / 'loop'}: a symbolic link that loops "
                                                "(it points back to itself)"]


# -- 5. a closed stdout ends quietly ------------------------------------------------------------


@pytest.mark.parametrize("args, code", [(["list"], 141), (["hint", "project1"], 141),
                                        (["check", "project1", "--solutions", "--only", "p1.requirements"], 0)])
def test_a_reader_that_went_away_gets_no_traceback(args, code):
    read, write = os.pipe()
    os.close(read)  # like `| head -1` that has already exited: every write is EPIPE
    try:
        proc = grader(*args, stdout=write, stderr=subprocess.PIPE, capture_output=False, text=True)
    finally:
        os.close(write)
    assert proc.stderr == "", proc.stderr
    assert proc.returncode == code


def test_grader_list_into_head_is_quiet():
    proc = subprocess.run(f"{sys.executable} -m grader list | head -1", shell=True, cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=60)
    assert proc.stdout.startswith("section1.1") and proc.stdout.count("\n") == 1
    assert proc.stderr == ""


# -- 6. secrets in any response or log line, however encoded ------------------------------------

KEY = "sk-llmsim-" + "0123456789abcdef" * 2
JWT = "f" * 8 + "0123456789abcdef" * 3 + "e" * 8


def _watch() -> LeakWatch:
    return LeakWatch({"OPENAI_API_KEY": KEY, "JWT_SECRET": JWT, "EMPTY": ""})


def _b64(text: str, urlsafe: bool = False) -> bytes:
    return (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(text.encode())


@pytest.mark.parametrize("body, encoding", [
    (f'{{"key": "{KEY}"}}'.encode(), "as is"),
    (_b64(KEY), "base64"),
    (_b64("x" + KEY), "base64"),  # not at the start: another alignment
    (_b64("xy=" + KEY + "?>"), "base64"),
    (_b64("\xff\xfe?" * 3 + JWT, urlsafe=True), "base64"),  # its part of the key has no + or /
    (KEY.encode().hex().encode(), "hex"),
    (json.dumps({"k": KEY}, ensure_ascii=True).replace("sk", "\\u0073k").encode(), "JSON-escaped"),
    (json.dumps({"log": json.dumps({"k": KEY})}).encode(), "as is"),
    # a key streamed a few characters per server-sent event
    ("".join(f'data: {{"delta": "{KEY[i:i + 5]}"}}\n\n' for i in range(0, len(KEY), 5)).encode(),
     "split over JSON strings"),
])
def test_leak_watch_finds_a_secret_however_encoded(body, encoding):
    assert _watch().match(body) in (("OPENAI_API_KEY", encoding), ("JWT_SECRET", encoding))


def test_leak_watch_is_quiet_about_ordinary_bodies():
    import jwt

    watch = _watch()
    token = jwt.encode({"sub": "ann"}, JWT, algorithm="HS256")  # signed with it, not showing it
    for body in (token.encode(), b'{"detail": "sk-llmsim-...", "id": "0123456789abcdef"}', KEY[:20].encode()):
        assert watch.match(body) is None


def _serve(body: bytes, headers: dict | None = None) -> httpx.Client:
    def handler(request):  # a stream, as a real transport gives: content= would be read at once
        return httpx.Response(200, headers=headers, stream=httpx.ByteStream(body))

    return httpx.Client(transport=httpx.MockTransport(handler), base_url="http://app")


def test_leak_watch_sees_streamed_compressed_and_header_leaks():
    watch = _watch()
    client = _serve(gzip.compress(b"x" * 100_000 + _b64(JWT) + b"y" * 10), {"content-encoding": "gzip"})
    client.event_hooks = {"response": [watch.response]}
    with client.stream("GET", "/big") as r:
        for _ in r.iter_bytes(4096):
            pass
    client = _serve(b"ok", {"x-debug": KEY.encode().hex()})
    client.event_hooks = {"response": [watch.response]}
    client.post("/echo")
    assert [f.describe() for f in watch.findings] == [
        "JWT_SECRET (base64) in the body of its answer to GET /big (200)",
        "OPENAI_API_KEY (hex) in a header of its answer to POST /echo (200)",
    ]
    assert KEY not in summary(watch.findings) and JWT not in summary(watch.findings)
    # base64's last partial group is not the secret's alone: a few characters stay
    assert watch.redact(f"boom {KEY} {_b64(JWT).decode()}").startswith("boom [OPENAI_API_KEY] [JWT_SECRET]")


def test_leak_watch_reads_the_whole_log(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(b"INFO started\n" * 1000 + b'{"settings": "' + KEY.encode().hex().encode() + b'"}\n'
                    + b"x" * 3_000_000 + b"\n")
    watch = _watch()
    watch.log(str(log), "app")
    watch.log(str(log), "app")  # once per file
    assert [f.describe() for f in watch.findings] == ["OPENAI_API_KEY (hex) in line 1001 of the app log"]


LEAKY_APP = '''

import base64 as _b64
import os as _os

print("settings:", _os.environ["JWT_SECRET"].encode().hex(), flush=True)


@app.middleware("http")
async def _trace(request, call_next):
    response = await call_next(request)
    response.headers["X-Trace"] = _b64.b64encode(("k=" + _os.environ["OPENAI_API_KEY"]).encode()).decode()
    return response
'''


def test_an_app_that_leaks_fails_the_check_without_showing_the_secret(tmp_path):
    project = project_copy(tmp_path / "leaky")
    with open(project / "app" / "main.py", "a") as f:
        f.write(LEAKY_APP)
    proc = grader("check", "project1", "--path", str(project), "--only", "p1.health", "--format", "json",
                  text=True)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    criteria = {c["id"]: c for c in json.loads(proc.stdout)["criteria"]}
    assert criteria["p1.health"]["status"] == "pass"
    leak = criteria["run.no-secret-leak"]
    assert leak["status"] == "fail"
    assert "OPENAI_API_KEY (base64) in a header of its answer to GET /health (200), while checking p1.health" \
        in leak["message"]
    assert "JWT_SECRET (hex) in line 1 of the app log" in leak["message"]
    assert not SECRET_SHAPED.search(proc.stdout + proc.stderr)


def test_a_secret_in_a_start_up_log_is_redacted_from_the_report(tmp_path):
    project = project_copy(tmp_path / "crashes")
    (project / "app" / "main.py").write_text(
        'import os\nprint("key is", os.environ["OPENAI_API_KEY"], flush=True)\nraise SystemExit(3)\n')
    proc = grader("check", "project1", "--path", str(project), "--only", "p1.health", text=True)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "key is [OPENAI_API_KEY]" in out  # the log tail is shown, the key is not
    assert "run.no-secret-leak" in out
    assert not SECRET_SHAPED.search(out)
