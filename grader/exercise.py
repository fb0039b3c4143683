"""How a notebook section's exercises and quiz are declared, found and run.

A section's checks live in ``grader/criteria/sections/sectionX_Y.py``, never in the notebook::

    from grader.exercise import exercise, section_quiz
    from grader.criterion import check

    @exercise("1.3.validators", "Custom validators with `@field_validator`",
              uses=["ChatRequest"], hint="…")
    def validators(ChatRequest):
        check(cond, "one line a learner can act on")

    QUIZ = section_quiz("1.3", item="…", questions=[...], hint="…")

The same function runs in two places: ``check("1.3.validators", ChatRequest)`` in the
learner's kernel (grader.lesson), and ``grade_namespace("section1.3", globals())`` in the
kernel ``grader check section1.3`` runs the notebook in (grader.sections). Either way a check
runs in a daemon thread with a timeout, and whatever it raises becomes one line of feedback.
"""

from __future__ import annotations

import contextlib
import fnmatch
import importlib
import importlib.util
import io
import json
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from grader.criterion import Criterion
from grader.quiz import answer_hash, normalize_answer
from grader.results import ERROR, FAIL, PASS, SKIP

SECTIONS_PACKAGE = "grader.criteria.sections"
# Tests (and only tests) point the lookup at a folder of their own section modules.
SECTIONS_DIR_ENV = "GRADER_SECTIONS_DIR"
RESULT_MARKER = "GRADER-SECTION-RESULT:"
DEFAULT_TIMEOUT_S = 10.0
_GRADER_DIR = str(Path(__file__).resolve().parent)


def check_timeout() -> float:
    return float(os.environ.get("GRADER_EXERCISE_TIMEOUT_S") or DEFAULT_TIMEOUT_S)


class UnknownExercise(LookupError):
    """No section module or no exercise by that id; the message says what exists."""


@dataclass(frozen=True)
class Exercise:
    id: str  # "1.3.validators": the criterion id in reports
    item: str  # the checklist item, verbatim from the syllabus
    uses: tuple[str, ...]  # the learner's names the check receives, in order
    hint: str
    func: Callable[..., Any]
    timeout: float | None = None
    needs_docker: bool = False  # run only by `grader check … --docker`, against a real engine
    also: tuple[str, ...] = ()  # further checklist items of the section the check really asserts

    @property
    def section(self) -> str:
        return section_key(self.id)


@dataclass(frozen=True)
class SectionQuiz:
    section: str  # "1.2"
    item: str
    questions: tuple[dict, ...]
    hint: str = ""

    @property
    def id(self) -> str:
        return f"{self.section}.quiz"

    @property
    def criterion(self) -> Criterion:
        return Criterion(id=self.id, item=self.item, hint=self.hint)

    def grade(self, answers: Mapping[str, Any] | None) -> QuizOutcome:
        answers = dict(answers or {})
        out = QuizOutcome(total=len(self.questions))
        for q in self.questions:
            qid = q["id"]
            given = normalize_answer(answers.get(qid))
            if given is None:
                out.unanswered.append(qid)
            elif given not in q["choices"]:
                out.invalid.append(qid)
                out.given[qid] = given
            elif answer_hash(qid, given) != q["answer_hash"]:
                out.wrong.append(qid)
                out.given[qid] = given
            else:
                out.right.append(qid)
                out.given[qid] = given
        out.unknown = [k for k in answers if k not in {q["id"] for q in self.questions}]
        return out


@dataclass
class QuizOutcome:
    total: int = 0
    right: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)  # not one of the choices
    unanswered: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # keys that are no question of the quiz
    given: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.total > 0 and len(self.right) == self.total

    def message(self) -> str:
        """One line: what is left to do (never the right answers)."""
        if self.ok:
            return f"all {self.total} answers are right"
        parts = []
        if self.unanswered:
            parts.append(f"{len(self.unanswered)} of {self.total} unanswered ({', '.join(self.unanswered)})")
        if self.invalid:
            parts.append(f"not one of the choices: {', '.join(self.invalid)}")
        if self.wrong:
            parts.append(f"wrong: {', '.join(self.wrong)}")
        return "; ".join(parts)


@dataclass
class Outcome:
    """What one exercise check gave: pass, fail (with the reason) or error (the grader's fault)."""

    id: str
    status: str
    message: str = ""
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == PASS


# -- declaring ----------------------------------------------------------------------------


def exercise(id: str, item: str, *, uses: Iterable[str] = (), hint: str = "",  # noqa: A002 - the contract's word
             timeout: float | None = None, needs_docker: bool = False, also: Iterable[str] = ()) -> Callable:
    """Mark ``func`` as the hidden check of exercise ``id``; it receives the ``uses`` objects.

    ``item`` is the checklist item the criterion reports; ``also`` lists further items of the same
    section (verbatim) whose behaviour the check asserts too — `grader coverage` counts them.
    """
    section_key(id)  # a malformed id fails when the module is imported, not when a learner runs it

    def mark(func: Callable) -> Callable:
        func.exercise = Exercise(id=id, item=item, uses=tuple(uses), hint=hint, func=func, timeout=timeout,
                                 needs_docker=needs_docker, also=tuple(also))
        func.criterion = Criterion(id=id, item=item, hint=hint)  # what `grader hint` lists
        return func

    return mark


def section_quiz(section: str, *, item: str, questions: list[dict], hint: str = "") -> SectionQuiz:
    """Declare a section's quiz: each question has id, question, choices, answer_hash, explanation,
    and optionally item: the checklist item of this section it asks (`grader coverage` counts it)."""
    key = section_key(section)
    seen: set[str] = set()
    for n, q in enumerate(questions, start=1):
        missing = [k for k in ("id", "question", "choices", "answer_hash") if k not in q]
        if missing:
            raise ValueError(f"quiz {key}: question {n} lacks {', '.join(missing)}")
        if q["id"] in seen:
            raise ValueError(f"quiz {key}: question id {q['id']!r} appears twice")
        seen.add(q["id"])
    quiz = SectionQuiz(section=key, item=item, questions=tuple(dict(q) for q in questions), hint=hint)
    # Registered into the declaring module too, so an unassigned call is still found.
    caller = sys._getframe(1).f_globals
    caller.setdefault("_SECTION_QUIZ", quiz)
    return quiz


# -- finding ------------------------------------------------------------------------------


def section_key(name: str) -> str:
    """``"1.3.validators"``, ``"section1.3"``, ``"1.3"``, ``"section1_3"`` -> ``"1.3"``."""
    text = str(name).strip()
    if text.startswith("section"):
        text = text[len("section"):]
    parts = text.replace("_", ".").split(".")
    if len(parts) < 2 or not parts[0].isdigit() or not parts[1].isdigit():
        raise UnknownExercise(f"{name!r} is not an exercise or section id (like \"1.3.validators\" or \"1.3\")")
    return f"{int(parts[0])}.{int(parts[1])}"


def module_name(section: str) -> str:
    return f"{SECTIONS_PACKAGE}.section{section_key(section).replace('.', '_')}"


def section_module(section: str, sections_dir: str | Path | None = None) -> ModuleType:
    key = section_key(section)
    stem = "section" + key.replace(".", "_")
    extra = sections_dir or os.environ.get(SECTIONS_DIR_ENV)
    if extra and (Path(extra) / f"{stem}.py").is_file():
        name = f"_grader_test_sections.{stem}"
        if name not in sys.modules:
            spec = importlib.util.spec_from_file_location(name, Path(extra) / f"{stem}.py")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                del sys.modules[name]
                raise
        return sys.modules[name]
    name = module_name(key)
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name in (name, SECTIONS_PACKAGE):
            raise UnknownExercise(f"section {key} has no checks yet") from None
        raise


def exercises(section: str, sections_dir: str | Path | None = None) -> list[Exercise]:
    """The section's exercises, in the order they are declared."""
    module = section_module(section, sections_dir)
    found = [getattr(v, "exercise", None) for v in vars(module).values()]
    return [e for e in found if isinstance(e, Exercise)]


def quiz_of(section: str, sections_dir: str | Path | None = None) -> SectionQuiz | None:
    module = section_module(section, sections_dir)
    for value in vars(module).values():
        if isinstance(value, SectionQuiz):
            return value
    return None


def find_exercise(exercise_id: str) -> Exercise:
    all_of = exercises(exercise_id)
    for ex in all_of:
        if ex.id == exercise_id:
            return ex
    names = ", ".join(e.id for e in all_of) or "none"
    raise UnknownExercise(f"no exercise {exercise_id!r}; section {section_key(exercise_id)} has: {names}")


def find_quiz(section: str) -> SectionQuiz:
    quiz = quiz_of(section)
    if quiz is None:
        raise UnknownExercise(f"section {section_key(section)} has no quiz")
    return quiz


# -- running ------------------------------------------------------------------------------


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _raised_by_grader(exc: BaseException) -> bool:
    """Was ``exc`` raised in the grader's own code (a check), rather than in the learner's?"""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return False
    where = str(Path(frames[-1].filename).resolve())
    extra = os.environ.get(SECTIONS_DIR_ENV)
    return where.startswith(_GRADER_DIR) or bool(extra and where.startswith(str(Path(extra).resolve())))


def selected(crit_id: str, patterns: list[str]) -> bool:
    """``1.3.validators``, ``validators`` or a glob such as ``1.3.*`` select a criterion (as --only does)."""
    return any(fnmatch.fnmatch(crit_id, p) or crit_id.endswith("." + p) for p in patterns)


def describe_exception(exc: BaseException) -> str:
    """One line about a learner's exception; NotImplementedError means a stub not done yet."""
    text = _one_line(str(exc))
    name = type(exc).__name__
    if isinstance(exc, NotImplementedError):
        return f"not done yet: {name}" + (f": {text}" if text else "") + " (replace the stub with your code)"
    return f"your code raised {name}" + (f": {text}" if text else "")


NO_ENGINE = "no Docker engine answered (`docker info`)"
_DOCKER: dict[str, bool] = {}


def docker_engine_answers() -> bool:
    """Does a Docker engine answer `docker info` here? (Asked once per process.)"""
    if "engine" not in _DOCKER:
        import shutil
        import subprocess

        try:
            _DOCKER["engine"] = bool(shutil.which("docker")) and subprocess.run(
                ["docker", "info"], capture_output=True, timeout=20).returncode == 0
        except (OSError, subprocess.SubprocessError):
            _DOCKER["engine"] = False
    return _DOCKER["engine"]


def run_exercise(ex: Exercise, objects: Iterable[Any], timeout: float | None = None) -> Outcome:
    """Run the check on the learner's objects in a daemon thread; never raises."""
    from grader.criterion import CheckError

    if ex.needs_docker and not docker_engine_answers():
        return Outcome(ex.id, SKIP, NO_ENGINE)

    limit = timeout or ex.timeout or check_timeout()
    box: dict[str, BaseException | None] = {}
    objects = list(objects)

    def target() -> None:
        try:
            ex.func(*objects)
            box["exc"] = None
        except BaseException as exc:  # noqa: BLE001 - every failure becomes feedback
            box["exc"] = exc

    started = time.monotonic()
    thread = threading.Thread(target=target, name=f"check-{ex.id}", daemon=True)
    thread.start()
    thread.join(limit)
    took = time.monotonic() - started
    if thread.is_alive():
        return Outcome(ex.id, FAIL, f"the check did not finish within {limit:.0f} s (does your code wait forever?)", took)
    exc = box.get("exc")
    if exc is None:
        return Outcome(ex.id, PASS, "", took)
    if isinstance(exc, CheckError):
        return Outcome(ex.id, ERROR, _one_line(str(exc)), took)
    if isinstance(exc, AssertionError) and _raised_by_grader(exc):
        text = str(exc).strip().split("\nassert ")[0]
        return Outcome(ex.id, FAIL, _one_line(text) or "the check failed", took)
    if isinstance(exc, (KeyboardInterrupt, SystemExit)):
        return Outcome(ex.id, FAIL, f"your code raised {type(exc).__name__}", took)
    if _raised_by_grader(exc) and not isinstance(exc, NotImplementedError):
        # e.g. a KeyError reading a response that lacks a field: about the learner's code, not ours
        text = _one_line(str(exc))
        return Outcome(ex.id, FAIL, f"the check could not use your code's result: {type(exc).__name__}"
                       + (f": {text}" if text else ""), took)
    return Outcome(ex.id, FAIL, describe_exception(exc), took)


def answers_in(section: str, namespace: Mapping[str, Any]) -> dict | None:
    """The answers the notebook gave: what ``quiz()`` last saw, else a dict named ``answers``."""
    given = sys.modules.get("grader.lesson")
    recorded = getattr(given, "QUIZ_ANSWERS", {}).get(section_key(section)) if given else None
    if recorded is not None:
        return recorded
    value = namespace.get("answers")
    return dict(value) if isinstance(value, Mapping) else None


def grade_namespace(section: str, namespace: Mapping[str, Any], *, only: list[str] | None = None,
                    timeout: float | None = None, emit: bool = True, docker: bool | None = None) -> dict:
    """Run every exercise check and the quiz of ``section`` against a kernel's globals.

    Prints one line, ``GRADER-SECTION-RESULT: {json}``, which grader.sections reads. Each
    result: id, item, hint, status, message, and ``missing`` (names the notebook lacks).
    Exercises that need a Docker engine run only with ``docker=True`` (``--docker``).
    """
    if docker is None:  # grader.sections says so through the kernel's environment
        docker = os.environ.get("GRADER_DOCKER") == "1"
    results: list[dict] = []
    try:
        all_ex = exercises(section)
        quiz = quiz_of(section)
    except Exception as exc:  # noqa: BLE001 - reported to grader.sections, never a traceback
        payload = {"section": section_key(section), "error": f"{type(exc).__name__}: {_one_line(str(exc))}"}
        if emit:
            print(RESULT_MARKER + json.dumps(payload), flush=True)
        return payload
    sink = io.StringIO()
    for ex in all_ex:
        if (only and not selected(ex.id, only)) or (ex.needs_docker and not docker):
            continue
        row = {"id": ex.id, "item": ex.item, "hint": ex.hint, "missing": []}
        missing = [n for n in ex.uses if n not in namespace]
        if missing:
            row.update(status=FAIL, missing=missing, duration_s=0.0,
                       message=f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not defined")
        else:
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                out = run_exercise(ex, [namespace[n] for n in ex.uses], timeout)
            row.update(status=out.status, message=out.message, duration_s=round(out.duration_s, 3))
        results.append(row)
    if quiz is not None and (not only or selected(quiz.id, only)):
        answers = answers_in(section, namespace)
        row = {"id": quiz.id, "item": quiz.item, "hint": quiz.hint, "missing": [], "duration_s": 0.0}
        if answers is None:
            row.update(status=FAIL, missing=["answers"],
                       message="no answers found: run the quiz cell (answers = {...}; quiz(...))")
        else:
            graded = quiz.grade(answers)
            row.update(status=PASS if graded.ok else FAIL, message="" if graded.ok else "quiz: " + graded.message())
        results.append(row)
    payload = {"section": section_key(section), "results": results}
    if emit:
        print(RESULT_MARKER + json.dumps(payload), flush=True)
    return payload
