"""``grader release``: build lessons/ (what learners edit) from solutions/ (written by hand).

A solution block is ``# BEGIN SOLUTION`` … ``# END SOLUTION``. Inside it, lines that start
with ``# STUB: `` (after indentation) are what learners see instead, written at the same
indentation; every other line of the block is dropped. A block without stub lines becomes
a single ``# TODO`` line. Notebooks use the same markers inside code cells, and lose their
outputs. Markdown, where ``#`` starts a heading, uses HTML comments instead:
``<!-- BEGIN SOLUTION -->``, ``<!-- STUB: text -->``, ``<!-- END SOLUTION -->``.
Everything else is copied byte for byte.
"""

from __future__ import annotations

import filecmp
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

BEGIN = re.compile(r"^(\s*)(?:#+\s*BEGIN SOLUTION|<!--\s*BEGIN SOLUTION\s*-->)\s*$")
END = re.compile(r"^\s*(?:#+\s*END SOLUTION|<!--\s*END SOLUTION\s*-->)\s*$")
STUB = re.compile(r"^(\s*)(?:#\s?STUB: ?(.*)|<!--\s?STUB: ?(.*?)\s*-->)$")
IGNORED = {"__pycache__", ".pytest_cache", ".ruff_cache", ".venv", ".ipynb_checkpoints", ".env", ".grader"}


class ReleaseError(Exception):
    pass


def strip_solutions(text: str, where: str = "<text>") -> str:
    """Replace each solution block with its stub lines (or ``# TODO``)."""
    out: list[str] = []
    block: list[str] | None = None
    indent = ""
    todo = "# TODO"
    begin_line = 0
    for n, line in enumerate(text.splitlines(keepends=True), start=1):
        if block is None:
            m = BEGIN.match(line)
            if m:
                block, indent, begin_line = [], m.group(1), n
                todo = "<!-- TODO -->" if "<!--" in line else "# TODO"
            elif END.match(line):
                raise ReleaseError(f"{where}:{n}: END SOLUTION without BEGIN SOLUTION")
            else:
                out.append(line)
            continue
        if BEGIN.match(line):
            raise ReleaseError(f"{where}:{n}: BEGIN SOLUTION inside the block opened on line {begin_line}")
        if END.match(line):
            eol = "\n"
            out.extend(block or [f"{indent}{todo}{eol}"])
            block = None
            continue
        m = STUB.match(line)
        if m:
            newline = "\n" if line.endswith("\n") else ""
            stub = m.group(2) if m.group(2) is not None else m.group(3)
            block.append(f"{m.group(1)}{stub}{newline}" if stub else newline)
    if block is not None:
        raise ReleaseError(f"{where}:{begin_line}: BEGIN SOLUTION is never closed")
    return "".join(out)


# Committed notebooks carry no outputs and only this metadata, so re-running a notebook
# and saving it does not show up as a change to review.
NOTEBOOK_METADATA = {
    "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
    "language_info": {"name": "python"},
}
# Cell metadata JupyterLab adds while running; not part of the lesson.
VOLATILE_CELL_METADATA = ("execution", "ExecuteTime", "collapsed", "scrolled")


def _render_notebook(raw: str, where: str) -> str:
    """The learner's notebook: solutions stubbed, outputs gone, stable metadata and cell ids."""
    import nbformat

    try:
        nb = nbformat.from_dict(json.loads(raw))
    except ValueError as exc:
        raise ReleaseError(f"{where}: not valid notebook JSON ({exc})") from None
    if nb.get("nbformat") != 4:
        raise ReleaseError(f"{where}: nbformat {nb.get('nbformat')} notebooks are not supported (write 4.5)")
    for i, cell in enumerate(nb.get("cells", [])):
        src = cell.get("source", "")
        text = "".join(src) if isinstance(src, list) else src
        if "SOLUTION" in text:
            text = strip_solutions(text, f"{where} cell {i}")
        cell["source"] = text
        if nb.get("nbformat_minor", 0) >= 5 and not cell.get("id"):
            cell["id"] = f"cell-{i + 1}"  # stable, unlike the random ids nbformat would add
        for key in VOLATILE_CELL_METADATA:
            cell.get("metadata", {}).pop(key, None)
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    nb["metadata"] = json.loads(json.dumps(NOTEBOOK_METADATA))
    return nbformat.writes(nb, version=4) + "\n"


def render_file(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        text = src.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        shutil.copy2(src, dst)
        return
    if src.suffix == ".ipynb":
        dst.write_text(_render_notebook(text, str(src)), encoding="utf-8")
    elif "SOLUTION" in text:
        dst.write_text(strip_solutions(text, str(src)), encoding="utf-8")
    else:
        shutil.copy2(src, dst)
        return
    shutil.copymode(src, dst)


def _sources(src_dir: Path) -> list[Path]:
    found = [
        p for p in src_dir.rglob("*")
        if p.is_file() and not (set(p.relative_to(src_dir).parts) & IGNORED)
    ]
    ignored = git_ignored(src_dir, found)
    return sorted(p for p in found if p not in ignored)


def git_ignored(folder: Path, paths: list[Path]) -> set[Path]:
    """The paths git's ignore rules exclude, when ``folder`` is in a git work tree.

    Running a notebook writes files next to it (the app a Docker lesson packages, say) that a
    .gitignore keeps out of the repo; they are no more part of the release than of a commit.
    """
    if not paths or shutil.which("git") is None or not folder.exists():
        return set()
    try:
        proc = subprocess.run(
            ["git", "-C", str(folder), "check-ignore", "--stdin", "-z"],
            input="\0".join(str(p) for p in paths), capture_output=True, text=True, timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return set()
    if proc.returncode not in (0, 1):  # 128: not a git work tree (a learner's copy, a temp dir)
        return set()
    return {Path(p) for p in proc.stdout.split("\0") if p}


def render_tree(src_dir: Path, dst_dir: Path) -> None:
    """Write the learner version of ``src_dir`` into ``dst_dir`` (which is replaced)."""
    src_dir, dst_dir = Path(src_dir), Path(dst_dir)
    files = _sources(src_dir)
    wanted = {f.relative_to(src_dir) for f in files}
    if dst_dir.exists():
        # remove what solutions/ no longer has; keep ignored local files such as a .env
        for stale in _sources(dst_dir):
            if stale.relative_to(dst_dir) not in wanted:
                stale.unlink()
    dst_dir.mkdir(parents=True, exist_ok=True)
    for f in files:
        render_file(f, dst_dir / f.relative_to(src_dir))


def diff_trees(expected: Path, actual: Path) -> list[str]:
    """Differences between two trees, as lines a person can read."""
    exp = {p.relative_to(expected) for p in _sources(expected)}
    act = {p.relative_to(actual) for p in _sources(actual)} if actual.exists() else set()
    problems = [f"missing from lessons/: {p}" for p in sorted(exp - act)]
    problems += [f"not generated from solutions/: {p}" for p in sorted(act - exp)]
    problems += [
        f"out of date: {p}"
        for p in sorted(exp & act)
        if not filecmp.cmp(expected / p, actual / p, shallow=False)
    ]
    return problems


def release(root: Path, check: bool = False) -> list[str]:
    """Build ``root/lessons`` from ``root/solutions``; with ``check``, only report differences."""
    solutions, lessons = root / "solutions", root / "lessons"
    if not solutions.is_dir():
        raise ReleaseError(f"{solutions} does not exist")
    if not check:
        render_tree(solutions, lessons)
        return []
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "lessons"
        render_tree(solutions, fresh)
        return diff_trees(fresh, lessons)
