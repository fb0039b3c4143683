"""``grader check sectionX.Y``: run the notebook in a fresh kernel, then grade inside it.

As otter-grader does: the notebook runs top to bottom in one kernel subprocess (nbclient; cwd
= the notebook's folder; errors do not stop it), and one extra cell then runs every exercise's
hidden checks and the quiz against that kernel's globals
(``grader.exercise.grade_namespace``), printing one JSON line read back here. One kernel,
one execution per section.

The kernel talks to an llmsim of the grader's own (the SDK variables point at it, whatever
keys are configured), gets ``REDIS_URL`` only for targets that need Redis, and is always
shut down: after the run, on Ctrl-C, and (through ipykernel's parent watch) if the grader
itself is killed. A learner sees one line per problem, never a traceback of the grader.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader import exercise as ex_mod
from grader.learner_files import LearnerFileError, check_readable
from grader.results import ERROR, FAIL, PASS, CriterionResult, RunResult
from grader.targets import Target, TargetError

DEFAULT_CELL_TIMEOUT_S = 60
STARTUP_TIMEOUT_S = 60
# Variables of the learner's JupyterLab that must not leak into the graded kernel.
_DROP_ENV = ("LAB_PROXY_BASE", "JUPYTERHUB_SERVICE_PREFIX", "JPY_PARENT_PID", "JPY_SESSION_NAME",
             "JUPYTER_TOKEN", "LAB_TOKEN", "MPLBACKEND")


def cell_timeout() -> int:
    return int(float(os.environ.get("GRADER_CELL_TIMEOUT_S") or DEFAULT_CELL_TIMEOUT_S))


@dataclass
class CellProblem:
    index: int  # 1-based over all cells, as a learner counts them
    first_line: str
    kind: str  # error | timeout | died
    ename: str = ""
    evalue: str = ""

    def where(self) -> str:
        return f"cell {self.index} (`{self.first_line}`)" if self.first_line else f"cell {self.index}"

    def describe(self) -> str:
        if self.kind == "timeout":
            return f"{self.where()} did not finish within {cell_timeout()} s (an endless loop, or waiting on something that never answers?)"
        if self.kind == "died":
            return f"the kernel died while running {self.where()} (os._exit, a crash, or out of memory?)"
        detail = f"{self.ename}: {_one_line(self.evalue)}" if self.evalue else self.ename
        if self.ename == "NotImplementedError":
            return f"not done yet: {self.where()} raised {detail}"
        return f"{self.where()} raised {detail}"


@dataclass
class Execution:
    problems: list[CellProblem] = field(default_factory=list)
    payload: dict | None = None  # what the grading cell printed
    died: CellProblem | None = None
    stuck: CellProblem | None = None  # a cell hung and the kernel stayed busy
    grading_error: str = ""
    kernel_start_s: float = 0.0
    run_s: float = 0.0


def _one_line(text: str, limit: int = 200) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _first_line(source: str) -> str:
    for line in source.splitlines():
        if line.strip():
            return _one_line(line.strip(), 60)
    return ""


# -- reading ----------------------------------------------------------------------------------


def _nbformat():
    """nbformat, without the 3-4 s jsonschema spends at import building an IRI grammar
    (rfc3987_syntax) that notebook validation never uses."""
    if "jsonschema" not in sys.modules and "rfc3987_syntax" not in sys.modules:
        sys.modules["rfc3987_syntax"] = None  # jsonschema then skips the "iri" format
        try:
            import nbformat
        finally:
            del sys.modules["rfc3987_syntax"]
    import nbformat

    return nbformat


def read_notebook(path: Path) -> Any:
    nbformat = _nbformat()

    try:
        check_readable(path, path.name)  # parsed in the grader's process: a capped size
        text = path.read_text(encoding="utf-8")
    except LearnerFileError as exc:
        raise TargetError(str(exc)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TargetError(f"{path.name} cannot be read: {exc.__class__.__name__}") from None
    try:
        json.loads(text)
    except ValueError as exc:
        raise TargetError(f"{path.name} is not a valid notebook: not JSON ({exc}); "
                          "restore it from lessons/ or your editor's history") from None
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as exc:  # noqa: BLE001 - nbformat raises several kinds
        raise TargetError(f"{path.name} is not a valid notebook: {_one_line(str(exc), 160)}") from None
    return nb


# -- the kernel -------------------------------------------------------------------------------


def _kernel_manager():
    """A kernel manager that always starts this Python's ipykernel (not some other kernelspec)."""
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    class _ThisPython(KernelSpecManager):
        def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
            return KernelSpec(
                argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                display_name="Python 3", language="python", resource_dir=str(Path(__file__).parent),
            )

    return AsyncKernelManager(kernel_name="python3", kernel_spec_manager=_ThisPython())


def kernel_env(sim_url: str, redis_url: str | None, sections_dir: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _DROP_ENV}
    sim_url = sim_url.rstrip("/")
    # Graded offline, always: the SDKs talk to the grader's llmsim whatever keys are configured.
    env.update(
        ANTHROPIC_BASE_URL=sim_url, OPENAI_BASE_URL=sim_url + "/v1", OPENROUTER_API_BASE=sim_url + "/api/v1",
        ANTHROPIC_API_KEY="sk-ant-llmsim-grader", OPENAI_API_KEY="sk-llmsim-grader",
        OPENROUTER_API_KEY="sk-or-llmsim-grader", LLMSIM_URL=sim_url, LITELLM_LOCAL_MODEL_COST_MAP="True",
        HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1", PYDEVD_DISABLE_FILE_VALIDATION="1",
    )
    env[ex_mod.SECTIONS_DIR_ENV] = str(sections_dir) if sections_dir else ""
    env["GRADER_GRADING"] = "1"
    if redis_url:
        env["REDIS_URL"] = redis_url
    else:
        env.pop("REDIS_URL", None)
    return env


def _kill_group(pid: int | None) -> None:
    """The kernel runs in its own session: end it and anything it started."""
    if not pid or not hasattr(os, "killpg"):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _grading_source(section: str, only: list[str] | None) -> str:
    args = f"{section!r}, globals()" + (f", only={only!r}" if only else "")
    # __import__: the learner may have rebound the name `grader`
    return f"__import__('grader.exercise', fromlist=['grade_namespace']).grade_namespace({args})"


def execute(nb: Any, folder: Path, env: dict[str, str], section: str, only: list[str] | None,
            grading_timeout: int, before_cells: Callable[[], None] | None = None) -> Execution:
    """Run every code cell, then the grading cell; the kernel is always gone afterwards.
    ``before_cells`` runs once the kernel is up (waits for what the cells will need)."""
    nbformat = _nbformat()
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    run = Execution()
    timeout = cell_timeout()
    km = _kernel_manager()
    client = NotebookClient(
        nb, km=km, timeout=timeout, allow_errors=True, interrupt_on_timeout=True,
        error_on_timeout={"ename": "CellTimeout", "evalue": f"did not finish within {timeout} s"},
        startup_timeout=STARTUP_TIMEOUT_S, iopub_timeout=4, record_timing=False,
        shutdown_kernel="immediate",  # the kernel is killed with its process group anyway
        resources={"metadata": {"path": str(folder)}},
    )
    pid = None
    started = time.monotonic()
    try:
        # The kernel's own stderr (ipykernel's start-up warnings) is not the learner's business.
        with client.setup_kernel(cleanup_kc=True, env=env, cwd=str(folder), stderr=subprocess.DEVNULL):
            process = getattr(getattr(km, "provisioner", None), "process", None)
            pid = getattr(process, "pid", None)
            run.kernel_start_s = time.monotonic() - started
            if before_cells is not None:
                before_cells()
            code_cells = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
            last_timed_out = False
            for index, cell in code_cells:
                problem_base = (index + 1, _first_line(cell.source))
                t0 = time.monotonic()
                try:
                    client.execute_cell(cell, index)
                except DeadKernelError:
                    run.died = CellProblem(*problem_base, kind="died")
                    return run
                timed_out = time.monotonic() - t0 >= timeout
                error = next((o for o in cell.get("outputs", []) if o.get("output_type") == "error"), None)
                if timed_out:
                    run.problems.append(CellProblem(*problem_base, kind="timeout"))
                    if last_timed_out:  # interrupting did not free the kernel: stop here
                        run.stuck = run.problems[-1]
                        return run
                elif error is not None:
                    run.problems.append(CellProblem(*problem_base, kind="error",
                                                    ename=error.get("ename", ""), evalue=error.get("evalue", "")))
                last_timed_out = timed_out
            grading = nbformat.v4.new_code_cell(_grading_source(section, only))
            nb.cells.append(grading)
            client.timeout = grading_timeout
            try:
                client.execute_cell(grading, len(nb.cells) - 1)
            except DeadKernelError:  # the learner's code, called by a check, ended the process
                run.died = CellProblem(len(nb.cells), "", kind="died")
                run.grading_error = ("the kernel died while the exercises were checked "
                                     "(does your code call os._exit or crash the interpreter?)")
                return run
            run.payload, run.grading_error = _read_payload(grading)
    finally:
        run.run_s = time.monotonic() - started
        _kill_group(pid)
    return run


def _read_payload(cell: Any) -> tuple[dict | None, str]:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            for line in out.get("text", "").splitlines():
                if line.startswith(ex_mod.RESULT_MARKER):
                    try:
                        return json.loads(line[len(ex_mod.RESULT_MARKER):]), ""
                    except ValueError:
                        return None, "the grading cell's result could not be read"
    error = next((o for o in cell.get("outputs", []) if o.get("output_type") == "error"), None)
    if error is not None:
        return None, f"the exercises could not be checked: {error.get('ename')}: {_one_line(error.get('evalue', ''))}"
    return None, "the exercises could not be checked (the grading cell printed nothing; did it time out?)"


# -- explaining what is missing ----------------------------------------------------------------


def _defines(source: str, name: str) -> bool:
    n = re.escape(name)
    return bool(re.search(rf"^\s*(?:async\s+def|def|class)\s+{n}\b|^\s*{n}\s*(?::[^=]*)?=(?!=)|"
                          rf"^\s*(?:from\s+\S+\s+)?import\s+.*\b{n}\b|^\s*for\s+{n}\b|\bas\s+{n}\b", source, re.M))


def explain_missing(names: list[str], nb: Any, problems: list[CellProblem], exercise_id: str = "") -> str:
    """Why the notebook lacks ``names``: the cell that should define them failed, or one before."""
    missing = f"{', '.join(names)} {'is' if len(names) == 1 else 'are'} not defined"
    by_index = {p.index: p for p in problems}
    for name in names:
        for i, cell in enumerate(nb.cells, start=1):
            if cell.cell_type == "code" and _defines(cell.source, name) and i in by_index:
                return f"{by_index[i].describe()}, so {missing}"
    # The nearest failing cell before the exercise's check() cell is the likely culprit.
    checked_at = next((i for i, c in enumerate(nb.cells, start=1)
                       if c.cell_type == "code" and exercise_id and f"{exercise_id}" in c.source), None)
    earlier = [p for p in problems if checked_at is None or p.index < checked_at]
    if earlier:
        return f"{earlier[-1].describe()}, so {missing}"
    return f"{missing} in the notebook (was it renamed or deleted, or its cell not run?)"


# -- grading ------------------------------------------------------------------------------------


def run_section(tgt: Target, notebook: Path, *, only: list[str] | None = None, verbose: bool = False,
                docker: bool = False) -> RunResult:
    """Grade one section notebook. Raises TargetError when the grader cannot run (exit 2)."""
    return grade_notebook(tgt, notebook, only=only, verbose=verbose, docker=docker)[0]


def grade_notebook(tgt: Target, notebook: Path, *, only: list[str] | None = None,
                   verbose: bool = False, docker: bool = False) -> tuple[RunResult, Execution]:
    """The result, and how the notebook ran (which cells failed): tests want both.
    Exercises that need a Docker engine are left out unless ``docker`` (``--docker``)."""
    from grader.exercise import selected

    started = time.monotonic()
    nb = read_notebook(notebook)
    sections_dir = tgt.criteria_path.parent if tgt.criteria_path is not None else None
    try:
        exercises = ex_mod.exercises(tgt.name, sections_dir)
        quiz = ex_mod.quiz_of(tgt.name, sections_dir)
    except Exception as exc:  # noqa: BLE001
        raise TargetError(f"{tgt.name}: the grader's checks could not be loaded: {type(exc).__name__}: {exc}") from None
    left_out = [e for e in exercises if e.needs_docker and not docker]
    exercises = [e for e in exercises if e not in left_out]
    declared = [(e.id, e.item, e.hint) for e in exercises] + ([(quiz.id, quiz.item, quiz.hint)] if quiz else [])
    if only:
        declared = [d for d in declared if selected(d[0], only)]
    if not declared:
        raise TargetError(f"{tgt.name}: no criteria match {', '.join(only)}" if only else f"{tgt.name}: no criteria are declared")
    limits = [e.timeout or ex_mod.check_timeout() for e in exercises]
    grading_timeout = int(sum(limits) + 30)

    result = RunResult(target=tgt.name, path=str(notebook))
    with contextlib.ExitStack() as stack:
        sim_url, sim_ready = _start_llmsim(stack)
        redis_url = None
        if tgt.needs_redis:
            from grader.services import ServiceError, redis_service

            try:
                redis = stack.enter_context(redis_service())
            except ServiceError as exc:
                raise TargetError(str(exc)) from None
            redis_url = redis.url
            result.notes.append(f"Redis: {redis.description}")
        env = kernel_env(sim_url, redis_url, sections_dir)
        env["GRADER_DOCKER"] = "1" if docker else ""  # grade_namespace runs the Docker checks
        try:
            run = execute(nb, notebook.parent, env, tgt.name, only, grading_timeout, before_cells=sim_ready)
        except RuntimeError as exc:  # the kernel did not start
            raise TargetError(f"{tgt.name}: the notebook's kernel did not start: {_one_line(str(exc))}") from None

    result.criteria = _criteria(declared, run, nb)
    if left_out:
        result.notes.append(f"{len(left_out)} Docker check{'s' if len(left_out) != 1 else ''} not run: "
                            "add --docker where a Docker engine is available")
    for p in run.problems:
        if p.kind == "timeout":
            result.notes.append(p.describe())
    if verbose:
        result.notes.append(f"kernel started in {run.kernel_start_s:.1f} s; notebook and checks ran in "
                            f"{run.run_s - run.kernel_start_s:.1f} s")
        result.notes.extend(f"{p.describe()}" for p in run.problems if p.kind != "timeout")
    result.duration_s = time.monotonic() - started
    return result, run


def _start_llmsim(stack: contextlib.ExitStack) -> tuple[str, Callable[[], None]]:
    """The grader's llmsim: its URL now (for the kernel's env), and a function that waits until
    it serves. Importing llmsim and loading its tokenizer take about a second, so on Linux that
    happens in a thread while the kernel process starts. The port is reserved first by a socket
    bound (not listening) with SO_REUSEADDR: Linux lets the simulator bind it too, and no one
    else gets it meanwhile. Elsewhere the simulator simply starts before the kernel."""
    host = "127.0.0.1"
    if not sys.platform.startswith("linux"):
        import llmsim

        sim = stack.enter_context(llmsim.running(host=host, port=0))
        return sim.url, lambda: None

    import socket

    reserved = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    reserved.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    reserved.bind((host, 0))
    port = reserved.getsockname()[1]
    box: dict[str, Any] = {}

    def start() -> None:
        try:
            import llmsim

            box["sim"] = llmsim.Simulator(host=host, port=port).start()
        except BaseException as exc:  # noqa: BLE001 - reported by ready()
            box["error"] = exc
        finally:
            reserved.close()  # the simulator listens on the port now (or never will)

    thread = threading.Thread(target=start, name="grader-llmsim", daemon=True)
    thread.start()

    def stop() -> None:
        thread.join()
        if "sim" in box:
            box["sim"].stop()

    stack.callback(stop)

    def ready() -> None:
        thread.join()
        if "error" in box:
            raise TargetError(f"the grader's LLM simulator did not start: {_one_line(str(box['error']))}")

    # (not llmsim's own helper: importing it here would wait for the thread's import)
    return f"http://{host}:{port}", ready


def _criteria(declared: list[tuple[str, str, str]], run: Execution, nb: Any) -> list[CriterionResult]:
    if run.died is not None or run.stuck is not None or run.payload is None:
        if run.grading_error and run.died is not None:
            why = run.grading_error
        elif run.died is not None:
            why = run.died.describe() + "; nothing after it ran"
        elif run.stuck is not None:
            why = run.stuck.describe() + "; the kernel stayed busy, so nothing could be checked"
        else:
            why = run.grading_error
        status = ERROR if run.payload is None and run.died is None and run.stuck is None else FAIL
        return [CriterionResult(cid, item, status, why, hint) for cid, item, hint in declared]
    if "error" in run.payload:
        raise TargetError(f"the grader's checks could not be loaded in the notebook's kernel: {run.payload['error']}")
    rows = {r["id"]: r for r in run.payload.get("results", [])}
    out = []
    for cid, item, hint in declared:
        row = rows.get(cid)
        if row is None:
            out.append(CriterionResult(cid, item, ERROR, "the check did not report", hint))
            continue
        message = row.get("message", "")
        if row.get("missing") and row["id"].endswith(".quiz"):
            message = _quiz_missing(nb, run.problems) or message
        elif row.get("missing"):
            message = explain_missing(row["missing"], nb, run.problems, cid)
        status = row.get("status", ERROR)
        out.append(CriterionResult(cid, item, status if status in (PASS, FAIL, ERROR, ex_mod.SKIP) else ERROR,
                                   message, hint, float(row.get("duration_s") or 0.0)))
    return out


def _quiz_missing(nb: Any, problems: list[CellProblem]) -> str:
    by_index = {p.index: p for p in problems}
    for i, cell in enumerate(nb.cells, start=1):
        if cell.cell_type == "code" and re.search(r"\bquiz\s*\(", cell.source) and i in by_index:
            return "no answers found: " + by_index[i].describe()
    return ""
