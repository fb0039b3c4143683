"""How a criterion is declared: a pytest test tied to a stable id and a checklist item.

Criteria live in the module ``grader/course.toml`` names for each target
(``grader/criteria/projects/project4.py``). The grader runs them with pytest
in its own process; the learner's code only ever runs in a separate process, so a
learner cannot change a criterion by editing their project.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

import pytest


@dataclass(frozen=True)
class Criterion:
    id: str
    item: str  # the checklist text it stands for, verbatim
    hint: str


class CheckError(Exception):
    """The check could not run (as opposed to: it ran and the project fell short)."""


def check(condition: object, message: str) -> None:
    """Fail the criterion with ``message`` (one line a learner can act on) unless ``condition``."""
    if not condition:
        raise AssertionError(message)


def criterion(id: str, item: str, *, hint: str) -> Callable:  # noqa: A002 - "id" is the contract's word
    """Mark a test function as the check for one checklist criterion."""

    def mark(func: Callable) -> Callable:
        func.criterion = Criterion(id=id, item=item, hint=hint)
        return pytest.mark.criterion(id)(func)

    return mark


def criteria_in(module: ModuleType) -> list[Criterion]:
    """The criteria a criteria module declares, in the order they are written, each once.

    By type, not by attribute name: a module also holds the ``criterion`` decorator itself.
    A section's quiz object carries a ``criterion`` too.
    """
    found: dict[str, Criterion] = {}
    for value in vars(module).values():
        crit = getattr(value, "criterion", None)
        if isinstance(crit, Criterion):
            found.setdefault(crit.id, crit)
    return list(found.values())
