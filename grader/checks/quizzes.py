"""The quiz criteria: a project's quiz file against the answer hashes its criteria hold.

The file is the one course.toml names for the target (``quiz.yaml``); the hashes are
``grader.quiz.answer_hash`` of each right answer, so the letters are not in plain text.
"""

from __future__ import annotations

from grader.criterion import check
from grader.quiz import QuizError, check_quiz

DEFAULT_QUIZ = "quiz.yaml"


def check_quiz_file(project, expected: dict[str, str]) -> None:
    """Fail with one line naming the unanswered or wrong questions (never the right answers)."""
    name = getattr(project, "quiz", None) or DEFAULT_QUIZ
    try:
        result = check_quiz(project.path(name), expected)
    except QuizError as exc:
        check(False, str(exc))
    check(result.ok, result.message(name))
