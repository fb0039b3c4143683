"""The quiz criteria: a project's quiz.yaml against the answer hashes its criteria hold."""

from __future__ import annotations

from grader.criterion import check
from grader.quiz import QuizError, check_quiz


def check_quiz_file(project, expected: dict) -> None:
    try:
        result = check_quiz(project.path("quiz.yaml"), expected)
    except QuizError as exc:
        check(False, str(exc))
    check(result.ok, result.message())
