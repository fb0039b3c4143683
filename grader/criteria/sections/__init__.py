"""The hidden checks and quiz of each notebook section: sectionX_Y.py, declared with
grader.exercise (``@exercise(...)`` and ``section_quiz(...)``)."""
