"""Grader benchmark: wall time of `grader check` on the solutions, and the grader's own overhead.

Figures, not a timed test. For each built project target, over N runs (median):
  total      wall time of `grader check TARGET --solutions` as a learner runs it
  checks     time spent inside the criteria (starting the app, requests, waits), summed
             from an in-process run of the same check
  overhead   total - checks: the grader's own cost (imports, pytest, llmsim, report)
  cold       `python -c "import app.main"` in the project folder (the app's own cold start)
Run: .venv/bin/python bench/grader_bench.py [--runs 5] [targets...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.check import run_check  # noqa: E402
from grader.targets import TARGETS  # noqa: E402


def timed(argv: list[str], cwd: Path, env: dict) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    return time.perf_counter() - start, proc


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("targets", nargs="*")
    args = ap.parse_args()
    names = args.targets or [n for n, t in TARGETS.items() if t.kind == "project" and t.built]
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "PYTHONDONTWRITEBYTECODE": "1"}
    rows = []
    for name in names:
        folder = ROOT / "solutions" / TARGETS[name].rel_path
        totals, checks, colds = [], [], []
        for _ in range(args.runs):
            total, proc = timed([sys.executable, "-m", "grader", "check", name, "--solutions"], ROOT, env)
            if proc.returncode != 0:
                sys.exit(f"{name}: grader exited {proc.returncode}: {proc.stdout[-800:]}{proc.stderr[-500:]}")
            result = run_check(name, solutions=True)
            totals.append(total)
            checks.append(sum(c.duration_s for c in result.criteria))
            cold, _ = timed([sys.executable, "-c", "import app.main"], folder, {**env, "PYTHONPATH": str(folder)})
            colds.append(cold)
        med = statistics.median
        rows.append((name, med(totals), med(checks), med(totals) - med(checks), med(colds)))
    print(f"{'target':<10} {'total s':>8} {'criteria s':>12} {'outside s':>10} {'app cold s':>11}  (medians of {args.runs})")
    for name, total, check, outside, cold in rows:
        print(f"{name:<10} {total:8.2f} {check:12.2f} {outside:10.2f} {cold:11.2f}")


if __name__ == "__main__":
    main()
