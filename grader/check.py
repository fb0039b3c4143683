"""``grader check``: run one target's criteria against a project folder and collect results."""

from __future__ import annotations

import contextlib
import io
import os
import time
from pathlib import Path

from grader.results import RunResult
from grader.targets import CRITERIA_DIR, Target, TargetError, get_target, resolve_path

DEFAULT_CHECK_TIMEOUT_S = 60
# The whole of one project's criteria (GRADER_TARGET_TIMEOUT_S overrides). The reference solutions
# take 3-21 s (Projects 1-4), 30-35 s (5-6) and about 65 s (7) on a 2-core machine, up to 4 times
# that when the machine is busy: the limits leave room for that, and still stop an app that
# answers each request in 9 s rather than keeping a learner waiting for minutes.
DEFAULT_TARGET_TIMEOUT_S = {"project5": 300, "project6": 300, "project7": 600}
DEFAULT_PROJECT_TIMEOUT_S = 120


def target_time_limit(tgt: Target) -> float:
    value = os.environ.get("GRADER_TARGET_TIMEOUT_S")
    if value:
        try:
            return float(value)
        except ValueError:
            raise TargetError(f"GRADER_TARGET_TIMEOUT_S={value!r} is not a number of seconds") from None
    return DEFAULT_TARGET_TIMEOUT_S.get(tgt.name, DEFAULT_PROJECT_TIMEOUT_S)


def run_check(
    target: str | Target,
    *,
    path: str | Path | None = None,
    solutions: bool = False,
    only: list[str] | None = None,
    verbose: bool = False,
    docker: bool = False,
) -> RunResult:
    """Grade one target. Raises TargetError when the grader cannot run (exit status 2)."""
    tgt = get_target(target) if isinstance(target, str) else target
    if not tgt.built:
        raise TargetError(f"{tgt.name} ({tgt.title}) has no grader criteria yet; it is not built")
    folder = resolve_path(tgt, solutions=solutions, path=path)
    if tgt.kind == "section":
        from grader.sections import run_section

        return run_section(tgt, folder, only=only, verbose=verbose, docker=docker)
    return _run_project(tgt, folder, only=only, verbose=verbose)


def _run_project(tgt: Target, folder: Path, *, only: list[str] | None, verbose: bool) -> RunResult:
    import pytest

    from grader.plugin import GraderPlugin, GradingSession

    started = time.monotonic()
    result = RunResult(target=tgt.name, path=str(folder))
    module_file = tgt.criteria_file
    args = [
        str(module_file),
        "-c", str(CRITERIA_DIR / "pytest.ini"),
        "--rootdir", str(CRITERIA_DIR),
        "--confcutdir", str(CRITERIA_DIR),
        "-p", "no:cacheprovider",
        "--import-mode=importlib",
        "-p", "pytest_timeout",
        "-o", f"timeout={os.environ.get('GRADER_CHECK_TIMEOUT_S', DEFAULT_CHECK_TIMEOUT_S)}",
        "-o", "timeout_method=signal",
        "-q",
    ]
    out = io.StringIO()
    saved_autoload = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # only what the grader asks for
    try:
        with contextlib.ExitStack() as stack:
            session = GradingSession(tgt.name, folder, stack, needs_redis=tgt.needs_redis, quiz=tgt.quiz)
            session.time_limit_s = target_time_limit(tgt)
            session.deadline = started + session.time_limit_s
            plugin = GraderPlugin(session, only=only)
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                code = pytest.main(args, plugins=[plugin])
            result.notes = list(session.notes)
    finally:
        if saved_autoload is None:
            os.environ.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
        else:
            os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = saved_autoload
    if plugin.collect_errors:
        raise TargetError(f"{tgt.name}: the grader's criteria could not be loaded:\n{plugin.collect_errors[0]}")
    if code == pytest.ExitCode.INTERRUPTED:
        raise KeyboardInterrupt
    if code == pytest.ExitCode.USAGE_ERROR or (code == pytest.ExitCode.INTERNAL_ERROR and not plugin.results):
        raise TargetError(f"{tgt.name}: the grader's criteria could not be loaded:\n{out.getvalue()[-2000:]}")
    if not plugin.results:
        raise TargetError(f"{tgt.name}: no criteria match {', '.join(only)}" if only else f"{tgt.name}: no criteria were collected")
    result.criteria = [plugin.results[i] for i in plugin.order]
    if verbose:
        result.notes.append("pytest output:\n" + out.getvalue())
    result.duration_s = time.monotonic() - started
    return result

