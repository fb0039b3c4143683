"""The one result contract (``grader check --format json``; README.md, "The grader")."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

PASS, FAIL, ERROR, SKIP = "pass", "fail", "error", "skip"  # skip: needs a Docker engine that is not there


@dataclass
class CriterionResult:
    id: str
    title: str
    status: str  # pass | fail | error | skip
    message: str = ""
    hint: str = ""
    duration_s: float = 0.0


@dataclass
class RunResult:
    target: str
    path: str
    criteria: list[CriterionResult] = field(default_factory=list)
    duration_s: float = 0.0
    notes: list[str] = field(default_factory=list)  # e.g. which Redis was used

    @property
    def passed(self) -> int:
        return sum(c.status == PASS for c in self.criteria)

    @property
    def failed(self) -> int:
        return sum(c.status == FAIL for c in self.criteria)

    @property
    def errors(self) -> int:
        return sum(c.status == ERROR for c in self.criteria)

    @property
    def skipped(self) -> int:
        return sum(c.status == SKIP for c in self.criteria)

    @property
    def ok(self) -> bool:
        return bool(self.criteria) and self.passed == len(self.criteria)

    def to_dict(self) -> dict:
        skipped = {"skipped": self.skipped} if self.skipped else {}  # only runs with --docker skip
        return {
            "target": self.target,
            "path": self.path,
            "passed": self.passed,
            "failed": self.failed,
            "errors": self.errors,
            **skipped,
            "duration_s": round(self.duration_s, 3),
            "criteria": [
                {k: v for k, v in asdict(c).items() if k != "duration_s"} for c in self.criteria
            ],
        }
