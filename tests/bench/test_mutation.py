"""The mutation harness (bench/mutation.py) counts and reports killed and surviving mutants.

A stand-in for cosmic-ray's command line (init, dump, apply) keeps this fast and independent of
the benchmark's own venv: the real tool is only run by `make mutation`.
"""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("mutation_bench", ROOT / "bench" / "mutation.py")
mutation = importlib.util.module_from_spec(spec)
sys.modules["mutation_bench"] = mutation
spec.loader.exec_module(mutation)

# Two mutations of app/calc.py: `>` to `>=` (the test below notices) and `+ 1` to `- 1` on a
# line the test never reaches (it survives).
FAKE_CR = textwrap.dedent('''\
    #!{python}
    import json, sys
    from pathlib import Path
    MUTANTS = [
        ("j1", "app/calc.py", "core/ReplaceComparisonOperator_Gt_GtE", 0, 2, ">", ">="),
        ("j2", "app/calc.py", "core/ReplaceBinaryOperator_Add_Sub", 0, 5, "+ 1", "- 1"),
    ]
    cmd = sys.argv[1]
    if cmd == "init":
        Path(sys.argv[3]).write_text("session")
    elif cmd == "dump":
        for job, path, op, occ, line, _old, _new in MUTANTS:
            item = {{"job_id": job, "mutations": [{{"module_path": path, "operator_name": op,
                     "occurrence": occ, "start_pos": [line, 0], "end_pos": [line, 1]}}]}}
            print(json.dumps([item, None]))
    elif cmd == "apply":
        for job, path, op, occ, line, old, new in MUTANTS:
            if (path, op, int(sys.argv[4])) == (sys.argv[2], sys.argv[3], occ):
                lines = Path(path).read_text().splitlines(True)
                lines[line - 1] = lines[line - 1].replace(old, new, 1)
                Path(path).write_text("".join(lines))
''')

CALC = "def big(x):\n    return x > 10\n\ndef unused(x):\n    return x + 1\n"


def make_project(tmp_path: Path) -> tuple[Path, Path]:
    project = tmp_path / "proj"
    (project / "app").mkdir(parents=True)
    (project / "app" / "__init__.py").write_text("")
    (project / "app" / "calc.py").write_text(CALC)
    cr = tmp_path / "cosmic-ray"
    cr.write_text(FAKE_CR.format(python=sys.executable))
    cr.chmod(0o755)
    return project, cr


def fake_grader(_project: str, copy: Path) -> list[str]:
    """The stand-in for `grader check`: exit 1 when big(10) is wrong, as a failing criterion would."""
    code = "import sys; sys.path.insert(0, sys.argv[1]); from app.calc import big; sys.exit(0 if big(10) is False else 1)"
    return [sys.executable, "-c", code, str(copy)]


def test_killed_and_surviving_mutants_are_counted_and_the_project_is_untouched(tmp_path):
    project, cr = make_project(tmp_path)
    result = mutation.mutate_project("project1", cr=cr, sample=10, seed=1, budget_s=60, timeout=30,
                                     test_command=fake_grader, project_dir=project, equivalent={},
                                     log=lambda *_: None)
    by_line = {o.mutant.line: o for o in result.outcomes}
    assert result.total_mutants == 2
    assert by_line[2].status == "killed"
    assert by_line[5].status == "survived"
    assert "-    return x + 1" in by_line[5].diff and "+    return x - 1" in by_line[5].diff
    assert result.score == 0.5
    assert (project / "app" / "calc.py").read_text() == CALC  # only copies were mutated

    text = mutation.report([result], seed=1, sample=10)
    assert "| project1 | 2 | 2 | 1 | 1 | 0 | 0 | 0 | 50% |" in text
    assert "### survived: `app/calc.py:5` core/ReplaceBinaryOperator_Add_Sub" in text
    assert "### survived: `app/calc.py:2`" not in text


def test_declared_equivalent_mutants_leave_the_score(tmp_path):
    project, cr = make_project(tmp_path)
    equivalent = {("project1", "app/calc.py", "core/ReplaceBinaryOperator_Add_Sub", 5): "unused() is never called"}
    result = mutation.mutate_project("project1", cr=cr, sample=10, seed=1, budget_s=60, timeout=30,
                                     test_command=fake_grader, project_dir=project,
                                     equivalent=equivalent, log=lambda *_: None)
    assert result.count("equivalent") == 1 and result.score == 1.0


def test_a_hanging_test_is_a_timeout_not_a_verdict(tmp_path):
    status, detail = mutation.run_test([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5)
    assert status == "timeout" and "within" in detail
    assert mutation.run_test([sys.executable, "-c", "raise SystemExit(2)"], timeout=10)[0] == "error"


def test_the_budget_stops_a_project_early(tmp_path):
    project, cr = make_project(tmp_path)
    result = mutation.mutate_project("project1", cr=cr, sample=10, seed=1, budget_s=0, timeout=30,
                                     test_command=fake_grader, project_dir=project, equivalent={},
                                     log=lambda *_: None)
    assert result.budget_hit and result.outcomes == []
