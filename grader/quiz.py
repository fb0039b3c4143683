"""Short multiple-choice quizzes, answered in a project's ``quiz.yaml``.

The file::

    questions:
      - id: dockerfile-expose
        question: What does `EXPOSE 8000` do?
        choices: {a: ..., b: ..., c: ..., d: ...}
        answer: c          # null in lessons/: the learner fills it in

The grader knows only sha256 hashes of ``f"{id}:{answer}"`` (``answer_hash``), kept in the
criteria module, so the right letters are not sitting in plain text next to the
questions. Feedback names the questions that are unanswered or wrong, never the right
answer. A missing or malformed file gives a one-line reason, never a traceback.

Authors: ``python -m grader.quiz path/to/quiz.yaml`` prints the hashes of a solved quiz.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml


class QuizError(Exception):
    """The quiz file is missing or malformed; the message says what to fix."""


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    choices: dict[str, str]
    answer: str | None  # normalised ("b"), None when unanswered


def answer_hash(question_id: str, answer: str) -> str:
    return hashlib.sha256(f"{question_id}:{answer}".encode()).hexdigest()


def normalize_answer(value: object) -> str | None:
    """``"B"``, ``" b "``, ``"b)"`` -> ``"b"``; None/empty -> None."""
    if value is None:
        return None
    text = str(value).strip().lower().rstrip(").").strip()
    return text or None


def load_quiz(path: Path | str) -> list[Question]:
    path = path if isinstance(path, Path) else Path(path)  # a LearnerPath keeps its size cap
    name = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise QuizError(f"{name} is missing") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise QuizError(f"{name} cannot be read: {exc.__class__.__name__}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise QuizError(f"{name} is not valid YAML{where}: {problem}") from None
    if not isinstance(data, dict) or not isinstance(data.get("questions"), list):
        raise QuizError(f"{name} must have a top-level `questions:` list")
    questions: list[Question] = []
    seen: set[str] = set()
    for n, item in enumerate(data["questions"], start=1):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
            raise QuizError(f"{name}: question {n} has no `id:`")
        qid = item["id"]
        if qid in seen:
            raise QuizError(f"{name}: question id {qid!r} appears twice")
        seen.add(qid)
        choices = item.get("choices")
        if not isinstance(choices, dict) or not choices:
            raise QuizError(f"{name}: question {qid!r} has no `choices:` mapping")
        choices = {str(k).strip().lower(): str(v) for k, v in choices.items()}
        if "answer" not in item:
            raise QuizError(f"{name}: question {qid!r} has no `answer:` line (use `answer: null` until you know)")
        questions.append(Question(qid, str(item.get("question") or ""), choices, normalize_answer(item["answer"])))
    return questions


@dataclass
class QuizResult:
    missing: list[str] = field(default_factory=list)  # expected question ids not in the file
    unanswered: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)  # an answer that is not one of the choices
    wrong: list[str] = field(default_factory=list)
    total: int = 0

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unanswered or self.invalid or self.wrong)

    def message(self, name: str = "quiz.yaml") -> str:
        """One line: what is left to do (never the right answers)."""
        parts = []
        if self.missing:
            parts.append(f"questions removed from the file: {', '.join(self.missing)}")
        if self.unanswered:
            parts.append(f"unanswered: {', '.join(self.unanswered)}")
        if self.invalid:
            parts.append(f"not one of the choices: {', '.join(self.invalid)}")
        if self.wrong:
            parts.append(f"wrong: {', '.join(self.wrong)}")
        if not parts:
            return f"{name}: all {self.total} answers are right"
        return f"{name}: " + "; ".join(parts)


def grade(questions: Iterable[Question], expected: Mapping[str, str]) -> QuizResult:
    """Compare answers with ``expected`` (question id -> answer_hash), in the expected order."""
    by_id = {q.id: q for q in questions}
    result = QuizResult(total=len(expected))
    for qid, digest in expected.items():
        question = by_id.get(qid)
        if question is None:
            result.missing.append(qid)
        elif question.answer is None:
            result.unanswered.append(qid)
        elif question.answer not in question.choices:
            result.invalid.append(qid)
        elif answer_hash(qid, question.answer) != digest:
            result.wrong.append(qid)
    return result


def check_quiz(path: Path | str, expected: Mapping[str, str]) -> QuizResult:
    """Load and grade; raises QuizError for a missing or malformed file."""
    return grade(load_quiz(path), expected)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m grader.quiz path/to/quiz.yaml", file=sys.stderr)
        return 2
    try:
        questions = load_quiz(args[0])
    except QuizError as exc:
        print(exc, file=sys.stderr)
        return 1
    for q in questions:
        if q.answer is None:
            print(f"# {q.id}: unanswered", file=sys.stderr)
            continue
        print(f'    "{q.id}": "{answer_hash(q.id, q.answer)}",')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
