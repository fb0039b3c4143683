"""The reliability suite (`make reliability`): the production projects under faults, hostile
input and load. Each test records what it tried and whether it held with `record(...)`; the
run ends with that table (printed when the suite runs in one process, as `make reliability`
runs it).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.plugin import GradingSession
from tests.reliability.services import CAPSTONE, OwnRedis

ROWS: list[dict] = []


def pytest_collection_modifyitems(items) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.reliability)


@pytest.fixture
def record():
    """record(area, case, tried, held, figure=""): one row of the suite's table."""

    def add(area: str, case: str, tried: int | str, held: int | str | bool, figure: str = "") -> None:
        ROWS.append({"area": area, "case": case, "tried": tried, "held": held, "figure": figure})

    return add


def pytest_terminal_summary(terminalreporter) -> None:
    if not ROWS:
        return
    tr = terminalreporter
    tr.section("reliability: what was tried and what held")
    tr.write_line("| area | case | tried | held | figure |")
    tr.write_line("| --- | --- | --- | --- | --- |")
    for row in ROWS:
        held = {True: "yes", False: "NO"}.get(row["held"], row["held"]) if isinstance(row["held"], bool) else row["held"]
        tr.write_line(f"| {row['area']} | {row['case']} | {row['tried']} | {held} | {row['figure']} |")


@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    server = OwnRedis().start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def grading() -> Iterator[GradingSession]:
    """llmsim, the secrets and app starts of one grading session, over the capstone's solution."""
    with contextlib.ExitStack() as stack:
        yield GradingSession("project7", CAPSTONE, stack, needs_redis=False)


@pytest.fixture
def capstone(grading, own_redis):
    """start(env=None, name="app", project=CAPSTONE): the app (default: the capstone) running
    against llmsim and the test's own Redis, with STORE=redis."""

    def start(env: dict | None = None, name: str = "app", project: Path = CAPSTONE):
        grading.project_dir = Path(project)
        full = {"REDIS_URL": own_redis.url, "STORE": "redis", "LOG_LEVEL": "info", **(env or {})}
        return grading.new_app(full, name=name).start()

    return start
