"""Mutation testing of the grader: how many plausible bugs in a solution does `grader check` catch?

For each project, cosmic-ray (pinned in bench/requirements-mutation.txt, installed into its own
venv, ``.venv-mutation``, by ``make mutation``) lists every mutation of the solution's ``app/``
(a comparison flipped, a number changed, a condition negated, a decorator removed ...). A seeded
sample of them is applied one at a time, each to a fresh copy of the project in a temporary
folder (never to the repository's files), and graded with
``grader check projectN --path COPY``: a failing criterion (exit 1) kills the mutant; a mutant
every criterion passes (exit 0) survives. The score per project is killed / (killed + survived),
leaving out the mutants declared equivalent in bench/mutation_equivalent.toml (a mutant that
changes no behaviour the README specifies, with the reason).

    make mutation                                         # every project, 12 mutants each
    .venv/bin/python bench/mutation.py --projects project1 project2 --sample 30 --budget-minutes 10

The report (Markdown, with each survivor's diff) is written to .grader/mutation/report.md.
Figures, not a test: nothing here runs in CI (tests/bench/test_mutation.py tests the harness).

Why cosmic-ray: it takes any test command and can apply one mutation by its (operator,
occurrence) address, so the grader, which runs the app in its own process, is the test. mutmut 3
only drives pytest in-process.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EQUIVALENT_FILE = ROOT / "bench" / "mutation_equivalent.toml"
REPORT_DIR = ROOT / ".grader" / "mutation"
COPY_IGNORE = shutil.ignore_patterns("__pycache__", ".venv", ".env", ".pytest_cache", ".ruff_cache")
CONFIG = """[cosmic-ray]
module-path = "app"
timeout = 60.0
excluded-modules = []
test-command = "true"

[cosmic-ray.distributor]
name = "local"
"""


@dataclass(frozen=True)
class Mutant:
    job_id: str
    path: str  # relative to the project folder
    operator: str
    occurrence: int
    line: int


@dataclass
class Outcome:
    mutant: Mutant
    status: str  # killed | survived | timeout | error | equivalent
    seconds: float
    diff: str = ""
    detail: str = ""


@dataclass
class ProjectResult:
    project: str
    total_mutants: int
    outcomes: list[Outcome] = field(default_factory=list)
    budget_hit: bool = False

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def score(self) -> float | None:
        killed, survived = self.count("killed"), self.count("survived")
        return killed / (killed + survived) if killed + survived else None


def cosmic_ray_bin(venv: Path) -> Path:
    return venv / "bin" / "cosmic-ray"


def project_folder(project: str) -> Path:
    sys.path.insert(0, str(ROOT))
    from grader.targets import TARGETS  # the course index names each project's folder

    return ROOT / "solutions" / TARGETS[project].rel_path


def list_mutants(cr: Path, project_dir: Path, work: Path) -> list[Mutant]:
    """Every mutation cosmic-ray can make in the project's app/, by (file, operator, occurrence)."""
    base = work / "base"
    shutil.copytree(project_dir, base, ignore=COPY_IGNORE)
    (work / "cr.toml").write_text(CONFIG)
    session = work / "session.sqlite"
    subprocess.run([str(cr), "init", str(work / "cr.toml"), str(session)], cwd=base, check=True,
                   capture_output=True, text=True)
    dump = subprocess.run([str(cr), "dump", str(session)], cwd=base, check=True,
                          capture_output=True, text=True).stdout
    mutants = []
    for line in dump.splitlines():
        item, _result = json.loads(line)
        for m in item["mutations"]:
            mutants.append(Mutant(item["job_id"], m["module_path"], m["operator_name"],
                                  int(m["occurrence"]), int(m["start_pos"][0])))
    return mutants


def load_equivalent(path: Path = EQUIVALENT_FILE) -> dict[tuple[str, str, str, int], str]:
    """(project, file, operator, line) -> why the mutant changes no specified behaviour."""
    if not path.is_file():
        return {}
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return {(e["project"], e["file"], e["operator"], int(e["line"])): e["why"] for e in data.get("equivalent", [])}


def apply_mutant(cr: Path, base: Path, mutant: Mutant, dst: Path) -> str:
    """A fresh copy of the project with one mutation applied; returns the unified diff."""
    shutil.copytree(base, dst)
    before = (dst / mutant.path).read_text(encoding="utf-8")
    subprocess.run([str(cr), "apply", mutant.path, mutant.operator, str(mutant.occurrence)],
                   cwd=dst, check=True, capture_output=True, text=True)
    after = (dst / mutant.path).read_text(encoding="utf-8")
    return "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True),
                                        f"a/{mutant.path}", f"b/{mutant.path}", n=2))


def run_test(command: list[str], timeout: float) -> tuple[str, str]:
    """killed (exit 1), survived (exit 0), timeout, or error (anything else), with a detail line."""
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              start_new_session=True)
    except subprocess.TimeoutExpired:
        return "timeout", f"no verdict within {timeout:.0f} s"
    if proc.returncode == 1:
        return "killed", _failed_criteria(proc.stdout)
    if proc.returncode == 0:
        return "survived", ""
    said = (proc.stderr or proc.stdout).strip().splitlines()
    return "error", f"exit {proc.returncode}: {said[-1] if said else 'no output'}"


def _failed_criteria(stdout: str) -> str:
    try:
        data = json.loads(stdout)
    except ValueError:
        return ""
    return ", ".join(c["id"] for c in data.get("criteria", []) if c.get("status") not in ("pass",))


def grader_command(project: str, copy: Path) -> list[str]:
    return [sys.executable, "-m", "grader", "check", project, "--path", str(copy), "--format", "json"]


def mutate_project(project: str, *, cr: Path, sample: int, seed: int, budget_s: float, timeout: float,
                   test_command=grader_command, project_dir: Path | None = None,
                   equivalent: dict | None = None, log=print) -> ProjectResult:
    project_dir = project_dir or project_folder(project)
    equivalent = load_equivalent() if equivalent is None else equivalent
    with tempfile.TemporaryDirectory(prefix=f"mutation-{project}-") as tmp:
        work = Path(tmp)
        mutants = list_mutants(cr, project_dir, work)
        chosen = random.Random(f"{seed}:{project}").sample(mutants, min(sample, len(mutants)))
        chosen.sort(key=lambda m: (m.path, m.line, m.operator, m.occurrence))
        result = ProjectResult(project, len(mutants))
        deadline = time.monotonic() + budget_s
        for i, mutant in enumerate(chosen):
            if time.monotonic() > deadline:
                result.budget_hit = True
                break
            copy = work / f"m{i}" / project_dir.name
            start = time.monotonic()
            diff = apply_mutant(cr, work / "base", mutant, copy)
            why = equivalent.get((project, mutant.path, mutant.operator, mutant.line))
            if why is not None:
                status, detail = "equivalent", why
            elif not diff:
                status, detail = "equivalent", "the mutation left the source text unchanged"
            else:
                status, detail = run_test(test_command(project, copy), timeout)
            shutil.rmtree(copy.parent, ignore_errors=True)
            outcome = Outcome(mutant, status, time.monotonic() - start, diff, detail)
            result.outcomes.append(outcome)
            log(f"  {project} {i + 1}/{len(chosen)} {status:<10} {outcome.seconds:5.1f} s  "
                f"{mutant.path}:{mutant.line} {mutant.operator}")
    return result


def report(results: list[ProjectResult], seed: int, sample: int) -> str:
    lines = ["# Mutation score of the grader", "",
             f"Seeded sample of {sample} mutants per project (seed {seed}), each graded with "
             "`grader check projectN --path COPY`.", "",
             "| project | mutants | sampled | killed | survived | equivalent | timeout | error | score | median s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        secs = sorted(o.seconds for o in r.outcomes if o.status not in ("equivalent",))
        median = f"{secs[len(secs) // 2]:.1f}" if secs else "-"
        score = f"{r.score:.0%}" if r.score is not None else "-"
        lines.append(f"| {r.project} | {r.total_mutants} | {len(r.outcomes)}{' (budget)' if r.budget_hit else ''} | "
                     f"{r.count('killed')} | {r.count('survived')} | {r.count('equivalent')} | "
                     f"{r.count('timeout')} | {r.count('error')} | {score} | {median} |")
    for r in results:
        rest = [o for o in r.outcomes if o.status in ("survived", "timeout", "error")]
        if not rest:
            continue
        lines += ["", f"## {r.project}: survivors and other outcomes", ""]
        for o in rest:
            m = o.mutant
            lines += [f"### {o.status}: `{m.path}:{m.line}` {m.operator} (occurrence {m.occurrence})", ""]
            if o.detail:
                lines += [o.detail, ""]
            lines += ["```diff", o.diff.rstrip(), "```", ""]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--projects", nargs="+", default=[f"project{n}" for n in range(1, 8)])
    parser.add_argument("--sample", type=int, default=12, help="mutants per project (seeded)")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--budget-minutes", type=float, default=15.0, help="per project")
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds per mutant's grading")
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv-mutation")
    parser.add_argument("--output", type=Path, default=REPORT_DIR / "report.md")
    args = parser.parse_args(argv)
    cr = cosmic_ray_bin(args.venv)
    if not cr.is_file():
        print(f"cosmic-ray is not installed in {args.venv}: run `make mutation`", file=sys.stderr)
        return 2
    os.environ.setdefault("GRADER_START_TIMEOUT_S", "60")  # a loaded machine starts apps slowly
    results = []
    for project in args.projects:
        print(f"{project}:", flush=True)
        results.append(mutate_project(project, cr=cr, sample=args.sample, seed=args.seed,
                                      budget_s=args.budget_minutes * 60, timeout=args.timeout))
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(report(results, args.seed, args.sample), encoding="utf-8")  # after each project
    text = report(results, args.seed, args.sample)
    print("\n".join(text.splitlines()[:6 + len(results)]))
    print(f"\nreport: {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
