"""The ``grader`` command line: list, check, hint, release, coverage.

Exit status: 0 every criterion passed; 1 some failed; 2 the grader could not run; 3 nothing
failed but some checks were skipped (--docker where no Docker engine answers).
Learners never see the grader's own traceback: every failure is one line.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import signal
import sys
from pathlib import Path

from grader import status
from grader.criterion import criteria_in
from grader.targets import TARGETS, TargetError, course_root, get_target

FORMATS = ("text", "json", "junit", "markdown")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="grader", description="Check your course work against the checklist.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("list", help="targets in the recommended order, and their last status")

    c = sub.add_parser("check", help="grade a project or section")
    c.add_argument("target", help="project1 … project7, section1.1 … section6.2, or all")
    where = c.add_mutually_exclusive_group()
    where.add_argument("--solutions", action="store_true", help="grade solutions/ instead of lessons/")
    where.add_argument("--path", metavar="DIR", help="grade a copy elsewhere (a learner's folder)")
    c.add_argument("--format", choices=FORMATS, default="text")
    c.add_argument("--output", metavar="FILE", help="write the report to FILE instead of the terminal")
    c.add_argument("--only", metavar="ID", action="append", help="only this criterion (id, short id or glob); repeatable")
    c.add_argument("--verbose", action="store_true", help="also show the criteria's own pytest output")
    c.add_argument("--docker", action="store_true",
                   help="also run the checks that need a Docker engine (build and run your image)")

    h = sub.add_parser("hint", help="show the hints for a target, or for one criterion")
    h.add_argument("target")
    h.add_argument("criterion", nargs="?")

    v = sub.add_parser("coverage", help="(course authors) where each syllabus item is taught and checked")
    v.add_argument("--format", choices=("text", "markdown", "json"), default="text")

    r = sub.add_parser("release", help="(course authors) regenerate lessons/ from solutions/")
    r.add_argument("--check", action="store_true", help="fail if lessons/ is out of date; change nothing")
    return p


def criteria_of(target_name: str):
    tgt = get_target(target_name)
    if not tgt.built:
        raise TargetError(f"{tgt.name} ({tgt.title}) has no grader criteria yet; it is not built")
    return tgt, criteria_in(importlib.import_module(tgt.criteria_module))


def cmd_list(args) -> int:
    root = course_root()
    last = status.load(root)
    for name, tgt in TARGETS.items():
        if not tgt.built:
            state = "not built yet"
        else:
            runs = [v for v in last.values() if v["target"] == name and "/lessons/" in v["path"] + "/"]
            state = f"last: {runs[-1]['passed']}/{runs[-1]['total']} passed ({runs[-1]['when']})" if runs else "not checked yet"
        print(f"{name:<13} {tgt.title:<42} {state}")
    return 0


def cmd_check(args) -> int:
    from grader.check import run_check
    from grader.report import clean, render

    names = [n for n, t in TARGETS.items() if t.built] if args.target == "all" else [args.target]
    if not names:
        raise TargetError("no target is built yet")
    if args.target != "all":
        get_target(args.target)  # unknown target: exit 2 before any work
    results = []
    for name in names:
        result = run_check(name, path=args.path, solutions=args.solutions, only=args.only, verbose=args.verbose,
                           docker=args.docker)
        results.append(result)
        with contextlib.suppress(TargetError):
            status.save(course_root(), result)
    colour = args.output is None and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    if args.format == "json" and len(results) > 1:
        text = json.dumps([clean(r).to_dict() for r in results], indent=2, ensure_ascii=False)
    else:
        text = "\n\n".join(render(r, args.format, colour) for r in results)
    if args.output:
        # backslashreplace: the report is escaped already (report.clean); this is a last guard
        Path(args.output).write_text(text + "\n", encoding="utf-8", errors="backslashreplace")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        try:
            print(text)
        except BrokenPipeError:  # `grader check … | head`: the verdict is still the exit status
            _quiet_stdout()
    return exit_status(results)


def exit_status(results) -> int:
    """0 all passed; 1 something failed (or could not be checked); 3 nothing failed but some
    checks were skipped (--docker without an engine), so a skip never reads as a pass."""
    if all(r.ok for r in results):
        return 0
    if all(r.criteria and r.passed + r.skipped == len(r.criteria) for r in results):
        return 3
    return 1


def cmd_hint(args) -> int:
    tgt, crits = criteria_of(args.target)
    if args.criterion:
        crits = [c for c in crits if c.id == args.criterion or c.id.endswith("." + args.criterion)]
        if not crits:
            raise TargetError(f"{tgt.name} has no criterion {args.criterion!r}; `grader hint {tgt.name}` lists them")
    for c in crits:
        print(f"[{c.id}] {c.item}\n    hint: {c.hint}")
    return 0


def cmd_release(args) -> int:
    from grader.release import ReleaseError, release

    root = course_root()
    try:
        problems = release(root, check=args.check)
    except ReleaseError as exc:
        raise TargetError(str(exc)) from None
    if args.check:
        if problems:
            print("lessons/ is out of date with solutions/ (run `grader release`):")
            print("\n".join("  " + p for p in problems[:50]))
            return 1
        print("lessons/ is up to date with solutions/")
    else:
        print(f"wrote {root / 'lessons'} from {root / 'solutions'}")
    return 0


def cmd_coverage(args) -> int:
    from grader.coverage import coverage, render

    print(render(coverage(course_root()), args.format), end="")
    return 0


_stopped_by: list[str] = []


def _terminate(signum, frame):
    # a closed terminal (SIGHUP) or `kill` (SIGTERM): the same clean-up as Ctrl-C, once; a second
    # signal must not cut the clean-up short (the reaper's parent-death signal is the backstop)
    _stopped_by.append(signal.Signals(signum).name)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    raise KeyboardInterrupt


def _become_subreaper() -> None:
    """Linux: orphans of processes we started (an app whose reaper was killed) come to us, not
    to init, so the last sweep can still end them. Elsewhere a no-op."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def _say(text: str) -> None:
    with contextlib.suppress(OSError, ValueError):  # after SIGHUP the terminal may be gone
        print(text, file=sys.stderr)


def _quiet_stdout() -> None:
    """The reader of our stdout has gone (`grader list | head -1`): send the rest, and the
    flush at exit, to /dev/null, so Python prints no BrokenPipeError of its own."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):  # a terminal that cannot show ✓ gets \u2713, not an error
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="backslashreplace")
    args = _parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    _stopped_by.clear()
    if args.command == "check":
        _become_subreaper()
    commands = {"list": cmd_list, "check": cmd_check, "hint": cmd_hint, "release": cmd_release,
                "coverage": cmd_coverage}
    try:
        return commands[args.command](args)
    except TargetError as exc:
        _say(f"grader: {exc}")
        return 2
    except BrokenPipeError:
        _quiet_stdout()
        return 141  # what a shell reports for a command ended by SIGPIPE
    except KeyboardInterrupt:
        how = f"stopped by {_stopped_by[0]}" if _stopped_by else "interrupted"
        _say(f"grader: {how}; every process it started has been stopped")
        return 130
    except Exception as exc:  # the grader never shows its own traceback to a learner
        _say(f"grader: could not run: {exc.__class__.__name__}: {exc}")
        return 2
    finally:
        if "grader.runner" in sys.modules:  # any app process left, wherever it went
            sys.modules["grader.runner"].stop_all()


if __name__ == "__main__":
    sys.exit(main())
